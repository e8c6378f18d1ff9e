"""PostgreSQL physical design: claim facts partitioned by service month, indexes on facts, statistics."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from aca_warehouse.resources import WarehouseResource

from ..conftest import DEMO_DAYS, DEMO_START
from ..pipeline import definitions_for, marts_snapshot, run_range, table_rows

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("demo")]

CLAIM_FACTS = ("fct_claim_lines", "fct_claim_line_versions")


def partitions(warehouse: WarehouseResource, table: str) -> dict[str, int]:
    """Partition name -> row count for a partitioned table in `core`."""
    with warehouse.connect() as conn:
        names = [
            r[0]
            for r in conn.fetchall(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = to_regclass(%s) order by 1",
                (f"core.{table}",),
            )
        ]
        return {n: conn.scalar(f'select count(*) from core."{n}"') for n in names}


def indexed_columns(warehouse: WarehouseResource, table: str) -> set[str]:
    with warehouse.connect() as conn:
        rows = conn.fetchall(
            "select a.attname from pg_index x join pg_attribute a "
            "on a.attrelid = x.indrelid and a.attnum = any(x.indkey) "
            "where x.indrelid = to_regclass(%s)",
            (f"core.{table}",),
        )
    return {r[0] for r in rows}


def assert_partitioned_by_service_month(warehouse: WarehouseResource, table: str) -> None:
    parts = partitions(warehouse, table)
    with warehouse.connect() as conn:
        kind = conn.scalar("select relkind from pg_class where oid = to_regclass(%s)", (f"core.{table}",))
        months = {
            r[0].strftime("%Y%m")
            for r in conn.fetchall(
                f"select distinct date_trunc('month', service_from_date) from core.{table}"
            )
        }
        total = conn.scalar(f"select count(*) from core.{table}")
    assert kind == "p", f"core.{table} is not a partitioned table"
    assert all(re.fullmatch(rf"{table}_(\d{{6}}|default)", name) for name in parts), sorted(parts)
    assert parts.pop(f"{table}_default") == 0, "rows without a partition of their month"
    assert {name.rsplit("_", 1)[1] for name in parts} == months
    assert all(count > 0 for count in parts.values())
    assert sum(parts.values()) == total > 0


def test_claim_facts_are_partitioned_by_service_month_and_indexed(loaded_postgres_demo) -> None:  # noqa: ANN001
    warehouse, _ = loaded_postgres_demo
    for table in CLAIM_FACTS:
        assert_partitioned_by_service_month(warehouse, table)
        assert {"claim_line_key", "member_key", "plan_key", "adjudicated_date"} <= indexed_columns(
            warehouse, table
        )
    assert {"member_key", "plan_key", "coverage_month"} <= indexed_columns(warehouse, "fct_premiums")
    assert {"member_key", "plan_key", "month"} <= indexed_columns(warehouse, "fct_member_months")
    with warehouse.connect() as conn:  # ANALYZE ran after the build: the partitions have statistics
        unanalyzed = conn.fetchall(
            "select relname from pg_stat_user_tables where schemaname = 'core' "
            "and relname ~ '^fct_claim_lines_[0-9]{6}$' and last_analyze is null"
        )
    assert unanalyzed == []


def test_incremental_loads_add_partitions_and_full_refresh_keeps_them_tidy(
    tmp_path: Path,
    demo_landing: Path,
    make_warehouse,  # noqa: ANN001
    loaded_postgres_demo,  # noqa: ANN001
) -> None:
    """Two incremental runs, then a full refresh: same facts and marts as one range load."""
    reference, _ = loaded_postgres_demo
    warehouse = make_warehouse("postgres")
    defs = definitions_for(warehouse, demo_landing)
    first = date.fromisoformat(DEMO_START)
    split = first + timedelta(days=20)
    last = first + timedelta(days=DEMO_DAYS - 1)
    with DagsterInstance.ephemeral() as instance:
        assert run_range(defs, instance, first.isoformat(), split.isoformat()).success
        before = set(partitions(warehouse, "fct_claim_lines"))
        assert run_range(defs, instance, (split + timedelta(days=1)).isoformat(), last.isoformat()).success
        after = set(partitions(warehouse, "fct_claim_lines"))
        assert before < after, "later loads with new service months add partitions"
        for table in CLAIM_FACTS:
            assert_partitioned_by_service_month(warehouse, table)
        assert table_rows(warehouse, "core.fct_claim_lines") == table_rows(reference, "core.fct_claim_lines")

        assert run_range(defs, instance, first.isoformat(), last.isoformat(), full_refresh=True).success
    for table in CLAIM_FACTS:
        assert_partitioned_by_service_month(warehouse, table)
    with warehouse.connect() as conn:
        leftovers = conn.fetchall(
            "select table_name from information_schema.tables where table_schema = 'core' "
            "and table_name ~ '__dbt_|_replaced$'"
        )
    assert leftovers == []
    assert marts_snapshot(warehouse) == marts_snapshot(reference)
