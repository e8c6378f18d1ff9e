"""The quality asset copies the staging checks' per-partition results into the warehouse, and the dbt
data-quality models keep them by load date (history and KPI mart)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from aca_warehouse.assets.quality import (
    CHECK_RESULTS_TABLE,
    COPIED_RESULTS_TABLE,
    COPY_CURSORS_TABLE,
    KPI_TABLE,
    build_quality_asset,
)
from aca_warehouse.assets.staging import build_staging_asset
from aca_warehouse.checks.staging import CHECK_NAMES
from aca_warehouse.contract.dictionary import MAX_DEFECT_RATE_ENV, load_dictionary
from aca_warehouse.resources.dbt import dbt_resource
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import LandingDirResource
from aca_warehouse_tests.integration.test_staging_assets import (
    DEFECTIVE_DAY,
    PHI_MEMBER,
    RANGE_DAYS,
    range_tags,
    write_range_with_defects,
)
from aca_warehouse_tests.pipeline import data_quality_models, dbt_models, partitions_for_tests

ClaimsAndCopy = tuple[Any, Any, WarehouseResource, dict[str, Any]]


@pytest.fixture
def claims_and_copy(
    make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ClaimsAndCopy:
    """The claims staging asset over a landing range with a defective day, the check-results copy after
    it, a fresh DuckDB warehouse, and the resources for them and the dbt asset."""
    monkeypatch.delenv(MAX_DEFECT_RATE_ENV, raising=False)
    root = tmp_path / "landing"
    write_range_with_defects(root)
    dictionary = load_dictionary()
    staging = build_staging_asset(dictionary.feeds["claims"], dictionary, partitions_for_tests())
    quality = build_quality_asset([AssetKey(["staging", "claims"])], partitions_for_tests())
    warehouse = make_warehouse("duckdb")
    resources = {
        "warehouse": warehouse,
        "landing": LandingDirResource(landing_dir=str(root)),
        "dbt": dbt_resource(),
    }
    return staging, quality, warehouse, resources


@pytest.mark.duckdb
def test_per_partition_check_results_land_on_their_load_date(claims_and_copy: ClaimsAndCopy) -> None:
    staging, quality, warehouse, resources = claims_and_copy
    with DagsterInstance.ephemeral() as instance:
        quality_models = data_quality_models().resolve([dbt_models()])
        result = materialize(
            [staging, quality, dbt_models()],
            selection=AssetSelection.assets(staging, quality) | data_quality_models(),
            instance=instance,
            tags=range_tags(RANGE_DAYS[0].isoformat(), RANGE_DAYS[-1].isoformat()),
            resources=resources,
        )
        assert result.success  # the defect-rate warning does not stop the quality asset downstream
        # The data-quality models' own dbt tests run after the copy: the next run's copy adds them
        # (the first run was copied before it ended), without counting the first run's other results twice.
        quality_model_checks = [
            e for e in result.get_asset_check_evaluations() if e.asset_key in quality_models
        ]
        assert quality_model_checks
        with warehouse.connect() as conn:
            first_copy, first_copied_at = conn.fetchone(
                f"select count(*), max(copied_at) from {CHECK_RESULTS_TABLE} where run_id = %s",
                [result.run_id],
            )
        assert first_copy == len(result.get_asset_check_evaluations()) - len(quality_model_checks)
        again = materialize(
            [quality, dbt_models()], selection=AssetSelection.assets(quality) | data_quality_models(),
            instance=instance, partition_key=RANGE_DAYS[-1].isoformat(), resources=resources,
        )  # fmt: skip
        assert again.success
    with warehouse.connect() as conn:
        topped_up = conn.scalar(
            f"select count(*) from {CHECK_RESULTS_TABLE} where run_id = %s", [result.run_id]
        )
    assert topped_up == len(result.get_asset_check_evaluations())
    with warehouse.connect() as conn:  # the top-up appended the dbt tests' results, nothing copied again
        kept = conn.scalar(
            f"select count(*) from {COPIED_RESULTS_TABLE} where run_id = %s and copied_at = %s",
            [result.run_id, first_copied_at],
        )
    assert kept == first_copy
    with warehouse.connect() as conn:
        rows = conn.fetchall(
            f"select check_name, partition_start, partition_end, passed, severity, status, metric_value, "
            f"metadata_json from {CHECK_RESULTS_TABLE} where asset_key = 'staging/claims' and run_id = %s",
            [result.run_id],
        )
        kpis = {
            str(d): (evaluated, not_passed)
            for d, evaluated, not_passed in conn.fetchall(
                f"select load_date, checks_evaluated, checks_not_passed from {KPI_TABLE} where feed = 'claims'"
            )
        }
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (n, d.isoformat()) for n in CHECK_NAMES for d in RANGE_DAYS
    )
    assert all(start == end for _, start, end, *_ in rows)
    not_passed = [(r[0], r[1], r[4], r[5]) for r in rows if not r[3]]
    assert not_passed == [("defect_rate", DEFECTIVE_DAY.isoformat(), "WARN", "warned")]
    [warning] = [json.loads(r[7]) for r in rows if not r[3]]
    assert warning["file"] == f"claims_system/claims/claims_{DEFECTIVE_DAY}.csv"
    assert [row["_source_line"] for row in warning["sample"]] == [8, 9]  # the sample, as row objects
    assert all(PHI_MEMBER not in r[7] for r in rows)
    assert kpis == {d.isoformat(): (len(CHECK_NAMES), 1 if d == DEFECTIVE_DAY else 0) for d in RANGE_DAYS}


@pytest.mark.duckdb
def test_a_run_copied_before_cursors_were_kept_is_replaced_not_doubled(
    claims_and_copy: ClaimsAndCopy,
) -> None:
    """A warehouse whose copy predates `staging.check_results_cursors` holds runs' rows without a
    cursor: the next copy reads such a run whole and replaces its rows (no result counted twice), and
    keeps its cursor from then on."""
    staging, quality, warehouse, resources = claims_and_copy
    day = RANGE_DAYS[0].isoformat()
    with DagsterInstance.ephemeral() as instance:
        first = materialize([staging, quality], instance=instance, partition_key=day, resources=resources)
        with warehouse.connect() as conn:
            conn.execute(f"delete from {COPY_CURSORS_TABLE}")  # as a copy before cursors left it
        assert materialize([quality], instance=instance, partition_key=day, resources=resources).success
    evaluations = len(first.get_asset_check_evaluations())
    with warehouse.connect() as conn:
        copied = conn.scalar(f"select count(*) from {COPIED_RESULTS_TABLE} where run_id = %s", [first.run_id])
        cursors = conn.scalar(f"select count(*) from {COPY_CURSORS_TABLE} where run_id = %s", [first.run_id])
    assert evaluations > 0 and copied == evaluations and cursors == 1
