"""The quality asset copies the staging checks' per-partition results into the warehouse by load date."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from aca_warehouse.assets.quality import CHECK_RESULTS_TABLE, KPI_TABLE, build_quality_asset
from aca_warehouse.assets.staging import build_staging_asset
from aca_warehouse.checks.staging import CHECK_NAMES
from aca_warehouse.contract.dictionary import MAX_DEFECT_RATE_ENV, load_dictionary
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import LandingDirResource
from aca_warehouse_tests.integration.test_staging_assets import (
    DEFECTIVE_DAY,
    PHI_MEMBER,
    RANGE_DAYS,
    range_tags,
    write_range_with_defects,
)


@pytest.mark.duckdb
def test_per_partition_check_results_land_on_their_load_date(
    make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MAX_DEFECT_RATE_ENV, raising=False)
    root = tmp_path / "landing"
    write_range_with_defects(root)
    dictionary = load_dictionary()
    staging = build_staging_asset(dictionary.feeds["claims"], dictionary)
    quality = build_quality_asset([AssetKey(["staging", "claims"])])
    warehouse = make_warehouse("duckdb")
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [staging, quality],
            instance=instance,
            tags=range_tags(RANGE_DAYS[0].isoformat(), RANGE_DAYS[-1].isoformat()),
            resources={"warehouse": warehouse, "landing": LandingDirResource(landing_dir=str(root))},
        )
    assert result.success  # the defect-rate warning does not stop the quality asset downstream
    with warehouse.connect() as conn:
        rows = conn.fetchall(
            f"select check_name, partition_start, partition_end, passed, severity, status, metric_value, "
            f"metadata_json from {CHECK_RESULTS_TABLE} where asset_key = 'staging/claims'"
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
