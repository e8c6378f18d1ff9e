"""Least privilege on PostgreSQL: the analyst reads marts (now and future tables) and nothing else."""

from __future__ import annotations

import psycopg
import pytest

from aca_warehouse.resources.postgres_roles import ANALYST_ROLE, setup_roles
from aca_warehouse.settings import parse_pg_dsn

pytestmark = pytest.mark.postgres


def test_analyst_reads_marts_and_is_refused_on_staging_and_core(make_warehouse) -> None:
    warehouse = make_warehouse("postgres")
    with warehouse.connect() as conn:
        conn.execute("create table staging.members (member_id text, ssn text)")
        conn.execute("insert into staging.members values ('M1', '123-45-6789')")
        conn.execute("create table core.dim_member (member_key text)")
        conn.execute("create table marts.plan_month (hios_plan_id text, member_months int)")
        conn.execute("insert into marts.plan_month values ('12345TX0010001-01', 3)")
    setup_roles(warehouse)
    setup_roles(warehouse)  # idempotent
    with warehouse.connect() as conn:  # a table created after the grants, as the pipeline would
        conn.execute("create table marts.mlr_plan_year (issuer_id text)")
        conn.execute("insert into marts.mlr_plan_year values ('12345')")

    params = parse_pg_dsn(warehouse.pg_dsn)
    analyst_dsn = f"postgresql://{ANALYST_ROLE}@{params.host}:{params.port}/{params.dbname}"
    with psycopg.connect(analyst_dsn, autocommit=True) as analyst:
        assert analyst.execute("select member_months from marts.plan_month").fetchone() == (3,)
        assert analyst.execute("select issuer_id from marts.mlr_plan_year").fetchone() == ("12345",)
        for table in ("staging.members", "core.dim_member"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                analyst.execute(f"select * from {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("create table marts.mine (x int)")
