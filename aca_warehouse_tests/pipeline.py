"""Test helpers that drive the real pipeline: definitions bound to a test warehouse, runs, mart snapshots."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from dagster import (
    AssetsDefinition,
    AssetSelection,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    RunRequest,
    build_sensor_context,
)

from aca_warehouse.partitions import load_date_partitions
from aca_warehouse.resources import LandingDirResource, WarehouseResource
from aca_warehouse.settings import Settings

MARTS_CONTRACT_TABLES = (
    "plan_month",
    "mlr_plan_year",
    "claims_daily",
    "claims_cube",
    "member_value",
    "plan_performance",
)


# Test data spans several years: every test's partitions start here.
TEST_PARTITION_START = date(2020, 1, 1)


def partitions_for_tests() -> DailyPartitionsDefinition:
    """The load-date partitions of the tests' assets (the code location builds its own from settings)."""
    return load_date_partitions(TEST_PARTITION_START)


@cache
def dbt_models() -> AssetsDefinition:
    """The dbt assets over the test partitions (built once: building them reads the manifest)."""
    from aca_warehouse.assets.dbt import build_dbt_assets

    return build_dbt_assets(partitions_for_tests())


def data_quality_models() -> AssetSelection:
    """The data-quality dbt models (dbt tag `data_quality`, part of the dbt asset): a selection for
    `materialize(..., selection=...)`, which dagster-dbt turns into a `dbt build --select` of them."""
    return AssetSelection.tag("data_quality", "") & AssetSelection.assets(dbt_models())


@cache
def staging_assets() -> tuple[AssetsDefinition, ...]:
    """The staging asset of every feed over the test partitions."""
    from aca_warehouse.assets.staging import build_staging_assets

    return tuple(build_staging_assets(partitions_for_tests()))


def settings_for(warehouse: WarehouseResource, landing: Path, **changes: Any) -> Settings:
    """Settings naming a test warehouse and landing dir, without reading or changing the environment."""
    # Charts of this warehouse in a folder of their own: tests sharing a worker must not overwrite them.
    name = (
        Path(warehouse.duckdb_path).stem
        if warehouse.engine == "duckdb"
        else warehouse.pg_dsn.rsplit("/", 1)[1]
    )
    values: dict[str, Any] = {
        "warehouse": warehouse.kind,
        "duckdb_path": Path(warehouse.duckdb_path),
        "pg_dsn": warehouse.pg_dsn,
        "landing_dir": landing,
        "partition_start": TEST_PARTITION_START,
        "duckdb_memory_limit": warehouse.duckdb_memory_limit,
        "reports_dir": landing.parent / f"reports-{warehouse.kind}-{name}",
        "lake_dir": warehouse.lake_dir,
        "spark_dir": Path(warehouse.spark_dir),
        "spark_target": warehouse.spark_target,
    }
    return Settings(**{**values, **changes})


def definitions_for(warehouse: WarehouseResource, landing: Path, **changes: Any) -> Definitions:
    """The project's Definitions with resources pointing at a test warehouse and landing dir (the
    resources are injected; the environment is neither read nor changed). `changes`: other settings."""
    from aca_warehouse.definitions import build_definitions

    return build_definitions(
        settings_for(warehouse, landing, **changes),
        warehouse=warehouse,
        landing=LandingDirResource(landing_dir=str(landing)),
    )


def run_range(
    defs: Definitions, instance: DagsterInstance, start: str, end: str, *, full_refresh: bool = False
) -> Any:
    """One run of every asset over load dates [start, end] (a single-run backfill)."""
    job = defs.resolve_job_def("load_everything")
    return job.execute_in_process(
        instance=instance,
        run_config={"ops": {"aca_dbt_models": {"config": {"full_refresh": True}}}} if full_refresh else None,
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        raise_on_error=False,
    )


def run_request(defs: Definitions, instance: DagsterInstance, request: RunRequest) -> Any:
    """Execute what a sensor asked for: its partition and asset selection, in the sensor's job."""
    job = defs.resolve_job_def("load_everything")
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=list(request.asset_selection or []),
        tags=dict(request.tags),
        raise_on_error=False,
    )


def copy_landing(source: Path, target: Path, *, until: date, skip: Iterable[str] = ()) -> None:
    """Copy the landing files with load date <= until (except the relative paths in skip)."""
    skipped = set(skip)
    for path in sorted(source.rglob("*_????-??-??.*")):
        rel = path.relative_to(source).as_posix()
        load_date = date.fromisoformat(path.stem.rsplit("_", 1)[1])
        if load_date <= until and rel not in skipped:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / rel)


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.000001")) if value.as_tuple().exponent < -6 else value
    return value


def table_rows(warehouse: WarehouseResource, table: str) -> list[tuple]:
    """All rows of a table without load metadata (`_*` columns), sorted, floats rounded."""
    schema, name = table.split(".")
    with warehouse.connect() as conn:
        columns = [c for c in conn.columns(schema, name) if not c.startswith("_")]
        rows = conn.fetchall(f"select {', '.join(columns)} from {table}")
    normalised = [tuple(_normalise(v) for v in row) for row in rows]
    return sorted(normalised, key=lambda r: tuple((v is None, str(v)) for v in r))


def marts_snapshot(warehouse: WarehouseResource) -> dict[str, list[tuple]]:
    return {t: table_rows(warehouse, f"marts.{t}") for t in MARTS_CONTRACT_TABLES}


def landing_sensor_tick(
    defs: Definitions, instance: DagsterInstance, landing: Path, cursor: str | None
) -> Any:
    """One evaluation of the landing sensor over `landing`, against a real Dagster instance."""
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={**defs.resources, "landing": LandingDirResource(landing_dir=str(landing))},
    )
    return sensor(context)
