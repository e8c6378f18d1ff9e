"""Least privilege on PostgreSQL: the analyst reads marts (now and future tables) and nothing else."""

from __future__ import annotations

import psycopg
import pytest

from aca_warehouse.postgres_roles import ANALYST_ROLE, setup_roles
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


def test_pipeline_runs_as_the_loader_and_the_analyst_reads_only_its_marts(
    make_warehouse, demo_landing, tmp_path
) -> None:  # noqa: ANN001
    """The least-privilege path for real: after `pg-roles`, the pipeline runs as `aca_loader` (it owns
    every table it creates) and `aca_analyst` reads the marts dbt built, but no staging PHI or core."""
    from datetime import date, timedelta

    from dagster import DagsterInstance

    from aca_warehouse.postgres_roles import LOADER_ROLE
    from aca_warehouse.resources import WarehouseResource

    from ..conftest import DEMO_START
    from ..pipeline import copy_landing, definitions_for, run_range

    admin = make_warehouse("postgres")
    with admin.connect():
        pass  # creates the database
    setup_roles(admin)
    params = parse_pg_dsn(admin.pg_dsn)
    loader = WarehouseResource(
        kind="postgres",
        pg_dsn=f"postgresql://{LOADER_ROLE}@{params.host}:{params.port}/{params.dbname}",
        member_key_secret=admin.member_key_secret,
    )
    landing = tmp_path / "landing"
    first = date.fromisoformat(DEMO_START)
    copy_landing(demo_landing, landing, until=first + timedelta(days=2))
    defs = definitions_for(loader, landing)
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance, first.isoformat(), (first + timedelta(days=2)).isoformat())
    assert result.success, [e.message for e in result.get_step_failure_events()]

    with psycopg.connect(admin.pg_dsn) as conn:
        owners = dict(
            conn.execute(
                "select tableowner, count(*) from pg_tables "
                "where schemaname in ('staging', 'core', 'marts') group by tableowner"
            ).fetchall()
        )
    assert set(owners) == {LOADER_ROLE}, owners

    analyst_dsn = f"postgresql://{ANALYST_ROLE}@{params.host}:{params.port}/{params.dbname}"
    with psycopg.connect(analyst_dsn, autocommit=True) as analyst:
        assert analyst.execute("select count(*) from marts.plan_month").fetchone()[0] > 0
        assert analyst.execute("select count(*) from marts.member_value").fetchone()[0] > 0
        for table in ("staging.members", "staging.claims", "core.dim_member", "core.fct_claim_lines"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                analyst.execute(f"select * from {table} limit 1")
