"""Where the partitions start (the landing data, not years of empty dates) and freshness on data time."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster import AssetCheckSeverity, AssetKey, AssetSelection, DagsterInstance, materialize

from aca_warehouse.checks.freshness import DAILY_LAG_DAYS, build_freshness_checks, data_time
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import LandingDirResource
from aca_warehouse_tests.integration.test_staging_assets import HANDMADE, staging_asset, write_clean_claims

DAILY_FEEDS = ["claims", "premiums", "enrollment_events"]


def test_freshness_is_judged_on_the_newest_load_date_not_the_run_time(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    """A run today of data from months ago is stale; loading today's file makes it fresh."""
    warehouse = make_warehouse("duckdb")
    landing = tmp_path / "landing"
    shutil.copytree(HANDMADE, landing)
    old_day = "2025-03-03"
    resources = {"warehouse": warehouse, "landing": LandingDirResource(landing_dir=str(landing))}
    instance = DagsterInstance.ephemeral()
    assets = [staging_asset(feed) for feed in DAILY_FEEDS]
    claims = AssetKey(["staging", "claims"])
    checks = [c for c in build_freshness_checks() if any(k.asset_key == claims for k in c.check_keys)]
    assert len(checks) == 1

    def claims_freshness():
        result = materialize(
            [*assets, *checks],
            selection=AssetSelection.checks(*checks),
            instance=instance,
            resources=resources,
        )
        (evaluation,) = [
            e for e in result.get_asset_check_evaluations() if e.asset_key == AssetKey(["staging", "claims"])
        ]
        return evaluation

    result = materialize(
        [staging_asset("claims")], partition_key=old_day, instance=instance, resources=resources
    )
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["data_as_of"].value == old_day
    assert metadata["dagster/last_updated_timestamp"].value == data_time(date(2025, 3, 3)).timestamp()
    stale = claims_freshness()
    assert not stale.passed and stale.severity == AssetCheckSeverity.WARN
    assert stale.metadata["dagster/last_updated_timestamp"].value == data_time(date(2025, 3, 3)).timestamp()

    today = datetime.now(UTC).date()
    write_clean_claims(landing, today, 3)
    materialize(
        [staging_asset("claims")], partition_key=today.isoformat(), instance=instance, resources=resources
    )
    fresh = claims_freshness()
    assert fresh.passed, fresh.description
    fresh_until = fresh.metadata["dagster/fresh_until_timestamp"].value
    assert fresh_until == (data_time(today) + timedelta(days=DAILY_LAG_DAYS)).timestamp()


def test_a_landing_range_run_records_each_partitions_own_file(tmp_path: Path) -> None:
    """Each partition of a range run shows its own file (or "no file"), not the range's totals."""
    from aca_warehouse.assets.landing import build_landing_assets
    from aca_warehouse_tests.pipeline import partitions_for_tests

    landing_assets = build_landing_assets(partitions_for_tests())
    landing = tmp_path / "landing"
    shutil.copytree(HANDMADE, landing)  # claims on 2025-03-03 only
    claims = next(a for a in landing_assets if a.key == AssetKey(["landing", "claims"]))
    result = materialize(
        [claims],
        resources={"landing": LandingDirResource(landing_dir=str(landing))},
        tags={
            "dagster/asset_partition_range_start": "2025-03-02",
            "dagster/asset_partition_range_end": "2025-03-04",
        },
    )
    by_partition = {
        e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    assert set(by_partition) == {"2025-03-02", "2025-03-03", "2025-03-04"}
    source = HANDMADE / "claims_system/claims/claims_2025-03-03.csv"
    day = by_partition["2025-03-03"]
    assert day["file"] == "claims_system/claims/claims_2025-03-03.csv"
    assert (day["bytes"], day["lines"]) == (source.stat().st_size, len(source.read_bytes().splitlines()))
    assert by_partition["2025-03-02"]["file"] == by_partition["2025-03-04"]["file"] == "no file"
    assert by_partition["2025-03-02"]["lines"] == 0
