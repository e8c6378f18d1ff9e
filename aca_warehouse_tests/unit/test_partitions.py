"""Where the daily partitions start, and the sensor's word on a file dated before the first one."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey

from aca_warehouse.partitions import first_partition_date
from aca_warehouse.sensors.landing import plan_landing_runs
from aca_warehouse.settings import load_settings
from aca_warehouse.staging import LandingDirResource

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
DAILY_FEEDS = ["claims", "premiums", "enrollment_events"]


def _touch(root: Path, relative: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")


def test_partitions_start_at_the_setting_else_the_earliest_landing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    monkeypatch.setenv("ACA_LANDING_DIR", str(landing))
    monkeypatch.setenv("ACA_PARTITION_START", "")
    # no landing files: January 1 of last year
    assert first_partition_date(load_settings()) == date(datetime.now(UTC).year - 1, 1, 1)
    # the earliest load date of any feed (names only; a misnamed or future file does not count)
    _touch(landing, "claims_system/claims/claims_2025-03-04.csv")
    _touch(landing, "exchange/enrollment_events/events_2025-02-27.jsonl")
    _touch(landing, "claims_system/claims/claims_2019-13-01.csv")
    _touch(landing, "claims_system/claims/notes_2018-01-01.csv")
    _touch(landing, f"claims_system/claims/claims_{date.today() + timedelta(days=400)}.csv")
    assert first_partition_date(load_settings()) == date(2025, 2, 27)
    # the setting wins
    monkeypatch.setenv("ACA_PARTITION_START", "2024-06-01")
    assert first_partition_date(load_settings()) == date(2024, 6, 1)


def test_the_sensor_names_a_file_dated_before_the_first_partition(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(HANDMADE, landing)  # snapshots dated 2025-03-01, daily feeds 2025-03-03
    selection = {
        feed: [AssetKey(["staging", feed])]
        for feed in [*DAILY_FEEDS, "members", "plans", "products", "providers"]
    }
    requests, cursor, notes = plan_landing_runs(
        LandingDirResource(landing_dir=str(landing)),
        None,
        selection,
        settle_seconds=0,
        first_partition=date(2025, 3, 2),
    )
    early = "exchange/members/members_2025-03-01.csv"
    assert any(
        n.startswith(f"ignored {early}: load date 2025-03-01 is before the first partition 2025-03-02")
        for n in notes
    ), notes
    assert early not in cursor  # seen again once the partitions reach back to it
    assert [r.partition_key for r in requests] == ["2025-03-03"]
    assert "members" not in requests[0].tags["aca/feeds"]
