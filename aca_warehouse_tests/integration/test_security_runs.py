"""Runs that share a machine: the quality history keeps only its own warehouse's check results, and a
DuckDB warehouse held by another process says so and keeps dbt's log (issue: security and robustness)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from aca_warehouse.contract import load_dictionary
from aca_warehouse.resources import LandingDirResource, WarehouseResource
from aca_warehouse.resources.dbt import dbt_resource

pytestmark = pytest.mark.duckdb

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
PARTITION = "2025-03-01"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    source = HANDMADE / "claims_system" / "providers" / "providers_2025-03-01.csv"
    (root / "claims_system" / "providers").mkdir(parents=True)
    shutil.copy(source, root / "claims_system" / "providers" / source.name)
    return root


def _staging_and_quality_assets() -> tuple[Any, Any, Any]:
    """A staging asset, the check-results copy after it, and the dbt asset (its data-quality models
    are selected in the run)."""
    from aca_warehouse.assets.quality import build_quality_asset
    from aca_warehouse.assets.staging import build_staging_asset
    from aca_warehouse_tests.pipeline import dbt_models, partitions_for_tests

    dictionary = load_dictionary()
    partitions = partitions_for_tests()
    staging = build_staging_asset(dictionary.feeds["providers"], dictionary, partitions)
    quality = build_quality_asset([AssetKey(["staging", "providers"])], partitions)
    return staging, quality, dbt_models()


def test_the_quality_history_records_only_this_warehouses_runs(
    make_warehouse: Callable[[str], WarehouseResource], landing: Path
) -> None:
    """Two warehouses share one Dagster instance (one Dagster home): each one's `core.fct_data_quality`
    holds the check results of its own runs only."""
    from aca_warehouse_tests.pipeline import data_quality_models

    staging, quality, dbt_asset = _staging_and_quality_assets()
    selection = AssetSelection.assets(staging, quality) | data_quality_models()
    other, mine = make_warehouse("duckdb"), make_warehouse("duckdb")
    landing_resource = LandingDirResource(landing_dir=str(landing))
    with DagsterInstance.ephemeral() as instance:
        elsewhere = materialize(
            [staging], instance=instance, partition_key=PARTITION,
            resources={"warehouse": other, "landing": landing_resource},
        )  # fmt: skip
        here = materialize(
            [staging, quality, dbt_asset], selection=selection, instance=instance, partition_key=PARTITION,
            resources={"warehouse": mine, "landing": landing_resource, "dbt": dbt_resource()},
        )  # fmt: skip
        tags = {run.run_id: run.tags.get("aca/warehouse") for run in instance.get_runs()}
    assert elsewhere.success and here.success
    with mine.connect() as conn:
        runs = {row[0] for row in conn.fetchall("select distinct run_id from core.fct_data_quality")}
        checks = conn.scalar("select count(*) from core.fct_data_quality")
    assert runs == {here.run_id}
    # every check evaluated before the copy; the data-quality models' own tests run after it (the
    # next run's copy adds them: test_quality_history.py)
    after_copy = [e for e in here.get_asset_check_evaluations() if e.asset_key in dbt_asset.keys]
    assert checks == len(here.get_asset_check_evaluations()) - len(after_copy) > 0
    assert tags == {elsewhere.run_id: other.identity, here.run_id: mine.identity}
    assert mine.identity == f"duckdb:{Path(mine.duckdb_path).resolve()}"


@pytest.fixture
def held_warehouse(make_warehouse: Callable[[str], WarehouseResource]) -> Iterator[WarehouseResource]:
    """A DuckDB warehouse whose write lock another process holds (as a concurrent run would)."""
    warehouse = make_warehouse("duckdb")
    with warehouse.connect():
        pass  # create the file
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()",
         warehouse.duckdb_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield warehouse
    finally:
        holder.kill()
        holder.wait()


def test_a_held_duckdb_file_says_another_run_holds_the_warehouse(held_warehouse: WarehouseResource) -> None:
    from aca_warehouse.errors import WarehouseBusyError

    waiting = held_warehouse.model_copy(update={"duckdb_lock_wait_seconds": 0.0})
    with (
        pytest.raises(WarehouseBusyError, match="another run holds the warehouse") as raised,
        waiting.connect(),
    ):
        pass
    assert held_warehouse.duckdb_path in str(raised.value)


def test_dbt_on_a_held_duckdb_file_says_another_run_holds_the_warehouse(
    held_warehouse: WarehouseResource,
) -> None:
    from aca_warehouse.resources.dbt import dbt_resource
    from aca_warehouse_tests.pipeline import dbt_models

    aca_dbt_models = dbt_models()
    impatient = WarehouseResource(
        kind="duckdb",
        duckdb_path=held_warehouse.duckdb_path,
        duckdb_lock_wait_seconds=0,
        member_key_secret=held_warehouse.member_key_secret,
    )
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [aca_dbt_models], instance=instance, partition_key=PARTITION, raise_on_error=False,
            resources={"dbt": dbt_resource(), "warehouse": impatient},
        )  # fmt: skip
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert f"another run holds the warehouse {held_warehouse.duckdb_path}" in error.to_string()


def test_a_failed_dbt_build_keeps_its_log_masked_and_names_it(
    make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt fails (here: an empty warehouse, no staging tables); the error names where its log is kept,
    and the log is there, private, without the secret."""
    import os

    from aca_warehouse.resources.dbt import dbt_resource
    from aca_warehouse_tests.pipeline import dbt_models

    aca_dbt_models = dbt_models()
    monkeypatch.setenv("DBT_FAIL_FAST", "true")  # stop at the first failed node: the test needs one
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [aca_dbt_models], instance=instance, partition_key=PARTITION, raise_on_error=False,
            resources={"dbt": dbt_resource(), "warehouse": make_warehouse("duckdb")},
        )  # fmt: skip
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    message = error.to_string()  # the step error and its cause: ours, DbtBuildError
    assert "dbt build failed on DuckDB file" in message
    kept = Path(message.split("is kept at ")[1].split()[0].rstrip(";,."))
    assert kept.parent == tmp_path / "dagster_home" / "logs" / "dbt"
    assert kept.exists() and kept.stat().st_mode & 0o077 == 0
    text = kept.read_text()
    assert "staging" in text and os.environ["ACA_MEMBER_KEY_SECRET"] not in text


def test_dbt_failing_on_duckdbs_lock_is_reported_as_another_run(tmp_path: Path) -> None:
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from aca_warehouse.assets.dbt import dbt_failure

    warehouse = WarehouseResource(kind="duckdb", duckdb_path=str(tmp_path / "w.duckdb"))
    raised = DagsterDbtCliRuntimeError(
        description='Errors parsed from dbt logs:\nIO Error: Could not set lock on file "w.duckdb": '
        "Conflicting lock is held in /usr/bin/python3 (PID 4242)"
    )
    error = dbt_failure(raised, warehouse, tmp_path, tmp_path / "kept.log")
    assert str(error).startswith(
        f"dbt could not open the warehouse: another run holds the warehouse {tmp_path}"
    )
    assert str(tmp_path / "kept.log") in str(error)
