"""The same dbt project on Apache Spark (lake mode, ACA_WAREHOUSE=spark), compared with DuckDB cell for cell.

The hand-made core scenario (fixtures/core/scenario.py) runs through the real Dagster assets into a
lake-mode warehouse: the staging loader validates into its DuckDB store and publishes Parquet to the
lake, dbt builds core and marts on a local Spark session (pyspark + Java 17), and the DuckDB file
reads Spark's tables back through views. Two dbt runs on Spark, as a warehouse would see them:

1. the files up to 2024-12-10 (the first build of an empty warehouse);
2. the rest, the older member snapshot staged late, 2024-12-01 staged again (a replay) and the
   corrected re-delivery of claims_2024-12-10: one incremental dbt run for all of it (the claim
   facts overwrite only the service months it touches, macros/spark_storage.sql).

Each is compared with the DuckDB scenario's checkpoint after the same files (step1, step3), every
core and mart table, every cell. A tiny generated set (the project's generator: claim versions,
reversals, snapshots) is loaded in one range run on both engines and compared too. Then the dialect cases a silent difference would break: day of
week, a quoted holiday name, ratios to 10 decimals, and a PHI test that really checks text columns.
Spark costs about a minute per build here (its per-statement overhead): the scenario is tiny.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aca_warehouse.lake import lake_tables, lake_vars
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse_tests.fixtures.core.pipeline import (
    CORE_TABLES,
    FIRST_LOAD,
    LAST_LOAD,
    MART_TABLES,
    STEP_ONE_UNTIL,
    DbtRun,
    deliver,
    ensure_dbt_manifest,
    run_assets,
    scenario_result,
    snapshot_tables,
    stage,
)
from aca_warehouse_tests.fixtures.core.scenario import build_scenario, corrected_claims_2024_12_10

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

D = date.fromisoformat
TABLES = (*CORE_TABLES, "core.dim_date", *MART_TABLES)


def require_spark() -> None:
    """Java and pyspark present; in CI their absence is a failure (.ci/run installs Java), else a skip."""
    missing = []
    if shutil.which("java") is None:
        missing.append("java (apt-get install openjdk-17-jre-headless)")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark (uv sync: the `spark` dependency group)")
    if missing:
        message = "the Spark parity tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class SparkScenario:
    warehouse: WarehouseResource
    duckdb: WarehouseResource  # the DuckDB scenario's incremental warehouse (after step 3)
    duckdb_checkpoints: dict[str, dict[str, list[dict[str, Any]]]]
    runs: dict[str, DbtRun] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def spark_scenario(tmp_path_factory: pytest.TempPathFactory) -> SparkScenario:
    require_spark()
    ensure_dbt_manifest()
    duck = scenario_result("duckdb", tmp_path_factory)
    with duck.incremental.connect() as conn:  # dim_date is not in the scenario's checkpoints
        from aca_warehouse_tests.fixtures.core.pipeline import fetch_rows

        duck_dim_date = fetch_rows(conn, "core.dim_date")
    checkpoints = {name: dict(tables) for name, tables in duck.checkpoints.items()}
    checkpoints["step3"]["core.dim_date"] = duck_dim_date
    checkpoints["step1"]["core.dim_date"] = duck_dim_date

    root = tmp_path_factory.mktemp("spark_scenario")
    warehouse = WarehouseResource(
        kind="spark",
        duckdb_path=str(root / "staging_store.duckdb"),
        lake_dir=str(root / "lake"),
        spark_dir=str(root / "spark"),
        member_key_secret=duck.incremental.member_key_secret,
    )
    result = SparkScenario(warehouse, duck.incremental, checkpoints)
    scenario = build_scenario()
    final, arriving = root / "final", root / "arriving"
    older_snapshot = ("members", D("2024-11-01"))

    # 1: the files up to 2024-12-10 but the older member snapshot; the first (full) build on Spark.
    scenario.write(final)
    step_one = [k for k in scenario.file_keys(until=STEP_ONE_UNTIL) if k != older_snapshot]
    deliver(scenario, final, arriving, step_one)
    stage(warehouse, arriving, FIRST_LOAD, STEP_ONE_UNTIL)
    result.runs["step1"] = run_assets(warehouse, arriving, STEP_ONE_UNTIL, STEP_ONE_UNTIL)
    result.checkpoints["step1"] = snapshot_tables(warehouse, TABLES)

    # 2: everything else, staged as it arrives (late snapshot, replay, corrected claims), one dbt run.
    rest = [k for k in scenario.file_keys() if k not in step_one and k != older_snapshot]
    deliver(scenario, final, arriving, rest)
    stage(warehouse, arriving, STEP_ONE_UNTIL + timedelta(days=1), LAST_LOAD)
    deliver(scenario, final, arriving, [older_snapshot])
    stage(warehouse, arriving, older_snapshot[1], older_snapshot[1])
    stage(warehouse, arriving, D("2024-12-01"), D("2024-12-01"))
    late = ("claims", STEP_ONE_UNTIL)
    scenario.replace(*late, corrected_claims_2024_12_10(scenario))
    scenario.write_file(final, *late)
    deliver(scenario, final, arriving, [late])
    stage(warehouse, arriving, STEP_ONE_UNTIL, STEP_ONE_UNTIL)
    result.runs["step3"] = run_assets(warehouse, arriving, LAST_LOAD, LAST_LOAD)
    result.checkpoints["step3"] = snapshot_tables(warehouse, TABLES)
    return result


def assert_tables_equal(spark: dict[str, list[dict]], duck: dict[str, list[dict]]) -> None:
    for table in TABLES:
        s_rows, d_rows = spark[table], duck[table]
        assert len(s_rows) == len(d_rows), f"{table}: {len(s_rows)} rows on Spark, {len(d_rows)} on DuckDB"
        for i, (s_row, d_row) in enumerate(zip(s_rows, d_rows, strict=True)):
            assert s_row.keys() == d_row.keys(), f"{table}: columns {list(s_row)} vs {list(d_row)}"
            different = {c: (s_row[c], d_row[c]) for c in s_row if s_row[c] != d_row[c]}
            assert not different, f"{table} row {i}: (Spark, DuckDB) {different}"


@pytest.mark.parametrize("step", ["step1", "step3"])
def test_spark_builds_every_core_and_mart_table_cell_for_cell_like_duckdb(
    spark_scenario: SparkScenario, step: str
) -> None:
    run = spark_scenario.runs[step]
    assert run.success and not run.failed_checks, run
    spark, duck = spark_scenario.checkpoints[step], spark_scenario.duckdb_checkpoints[step]
    assert len(spark["core.fct_claim_lines"]) > 0 and len(spark["marts.plan_month"]) > 0
    assert_tables_equal(spark, duck)


def test_the_incremental_run_overwrote_only_claim_months_by_partition(spark_scenario: SparkScenario) -> None:
    """The claim facts are Parquet directories per service month; no work table is left behind."""
    table_dir = Path(spark_scenario.warehouse.spark_dir) / "warehouse" / "core.db" / "fct_claim_lines"
    months = sorted(p.name for p in table_dir.iterdir() if p.name.startswith("service_month="))
    with spark_scenario.warehouse.connect() as conn:
        expected = [
            f"service_month={m.isoformat()}"
            for (m,) in conn.fetchall("select distinct service_month from core.fct_claim_lines order by 1")
        ]
    assert months == expected and len(months) >= 3
    leftovers = [p.name for p in table_dir.parent.iterdir() if "__dbt_" in p.name]
    assert leftovers == []


def test_dialect_cases_day_of_week_quotes_and_ratio_precision(spark_scenario: SparkScenario) -> None:
    with spark_scenario.warehouse.connect() as conn:
        days = dict(
            conn.fetchall(
                "select date_day, day_of_week from core.dim_date "
                "where date_day between date '2025-01-04' and date '2025-01-06'"
            )
        )
        holidays = dict(
            conn.fetchall(
                "select date_day, holiday_name from core.dim_date "
                "where date_day in (date '2025-01-01', date '2025-02-17')"
            )
        )
        ratios = [r for (r,) in conn.fetchall("select loss_ratio from marts.plan_month") if r is not None]
    # Spark's dayofweek() is 1 for Sunday; the warehouse's day_of_week is 0 for Sunday everywhere
    assert days == {D("2025-01-04"): 6, D("2025-01-05"): 0, D("2025-01-06"): 1}
    # 'New Year''s Day' would lose its quote on Spark (adjacent literals are joined)
    assert holidays == {D("2025-01-01"): "New Year's Day", D("2025-02-17"): "Washington's Birthday"}
    # ratios keep 10 decimals (Spark's decimal division keeps 6): at least one has digits past the 6th
    assert ratios and any(r != r.quantize(Decimal("1e-6")) for r in ratios), ratios


def test_no_phi_values_checks_the_text_columns_on_spark(
    spark_scenario: SparkScenario, tmp_path: Path
) -> None:
    """A mart row holding an SSN-shaped value fails the PHI test on Spark (dbt-spark's Column.is_string()
    does not know `string`: a test that relied on it would pass while checking nothing)."""
    from aca_warehouse.resources.dbt import dbt_executable, dbt_project

    warehouse = spark_scenario.warehouse
    mart_dir = Path(warehouse.spark_dir) / "warehouse" / "marts.db" / "member_value"
    planted = mart_dir / "part-planted-phi.parquet"
    with warehouse.connect() as conn:
        conn.execute(
            f"copy (select * replace ('123-45-6789' as member_key) from marts.member_value limit 1) "
            f"to '{planted}' (format parquet)"
        )
        tables = lake_tables(conn, warehouse.lake_dir)
    try:
        completed = subprocess.run(
            [
                dbt_executable(),
                "test",
                "--select",
                "member_value,test_name:no_phi_values",
                "--vars",
                lake_vars(tables),
                "--profiles-dir",
                str(dbt_project.project_dir),
                "--project-dir",
                str(dbt_project.project_dir),
                "--target-path",
                str(tmp_path / "target"),
                "--log-path",
                str(tmp_path / "logs"),
            ],
            cwd=dbt_project.project_dir,
            env={**os.environ, **warehouse.dbt_env()},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        planted.unlink(missing_ok=True)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]
    assert "FAIL 1 no_phi_values_member_value" in output, output[-3000:]
    compiled = next((tmp_path / "target").rglob("no_phi_values_member_value*.sql")).read_text()
    assert "rlike" in compiled and "member_key" in compiled, compiled
    assert json.loads(lake_vars(tables))  # the vars the dbt asset passes are JSON


GENERATED_START = date(2025, 12, 20)
GENERATED_DAYS = 16


def test_a_tiny_generated_set_loads_to_the_same_tables_on_spark_and_duckdb(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Generated data crossing a plan year (claim versions and reversals, snapshots), one range run on
    each engine; every core and mart table equal. (The incremental path: the core scenario above.)"""
    from dagster import DagsterInstance

    from aca_warehouse.generator import generate
    from aca_warehouse_tests.pipeline import definitions_for, run_range
    from aca_warehouse_tests.shared import session_member_key_secret

    root = tmp_path_factory.mktemp("spark_generated")
    landing = root / "landing"
    generate(landing, members=40, start=GENERATED_START, days=GENERATED_DAYS, seed=11, progress=False)
    last = GENERATED_START + timedelta(days=GENERATED_DAYS - 1)
    require_spark()
    ensure_dbt_manifest()
    secret = session_member_key_secret()
    warehouses = {
        "duckdb": WarehouseResource(
            kind="duckdb", duckdb_path=str(root / "duck.duckdb"), member_key_secret=secret
        ),
        "spark": WarehouseResource(
            kind="spark",
            duckdb_path=str(root / "spark_store.duckdb"),
            lake_dir=str(root / "lake"),
            spark_dir=str(root / "spark"),
            member_key_secret=secret,
        ),
    }
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind, warehouse in warehouses.items():
        defs = definitions_for(warehouse, landing)
        with DagsterInstance.ephemeral() as instance:
            result = run_range(defs, instance, GENERATED_START.isoformat(), last.isoformat())
            assert result.success, (kind, [e.message for e in result.get_step_failure_events()])
        tables[kind] = snapshot_tables(warehouse, TABLES)
    assert len(tables["duckdb"]["core.fct_claim_lines"]) >= 20
    assert len(tables["duckdb"]["marts.plan_month"]) > 0
    assert_tables_equal(tables["spark"], tables["duckdb"])
