"""The landing sensor's decisions: new file -> run for its date, identical re-delivery -> nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions

from aca_warehouse.resources import WarehouseResource
from aca_warehouse_tests.pipeline import definitions_for, landing_sensor_tick

pytestmark = pytest.mark.unit


@pytest.fixture
def defs(tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]) -> Definitions:
    """The project's definitions over tmp_path. Files count as settled after 10 minutes here: a loaded
    CI machine can take seconds between writing a "still growing" file and evaluating the sensor."""
    return definitions_for(make_warehouse("duckdb"), tmp_path, sensor_settle_seconds=600)


def _write(root: Path, rel: str, text: str, age_seconds: float = 3600) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


@pytest.fixture
def instance():  # noqa: ANN201
    """One Dagster instance for a test's ticks, as in production: the cursor names a state the
    sensor keeps in the instance's key-value store."""
    with DagsterInstance.ephemeral() as instance:
        yield instance


def test_new_file_requests_one_run_for_its_date_and_identical_redelivery_none(
    tmp_path: Path, instance: DagsterInstance, defs: Definitions
) -> None:
    header = "claim_id,line_number\n"
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,1\n")
    _write(tmp_path, "claims_system/premiums/premiums_2025-11-03.csv", "payment_id\nP1\n")
    _write(tmp_path, "claims_system/claims/claims_2025-11-04.csv.part", header)  # partial upload
    _write(tmp_path, "claims_system/claims/claims_2025-11-05.csv", header, age_seconds=0)  # still growing

    result = landing_sensor_tick(defs, instance, tmp_path, None)
    assert [r.partition_key for r in result.run_requests] == ["2025-11-03"]
    request = result.run_requests[0]
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {"landing/claims", "landing/premiums"} <= selected
    assert "landing/members" not in selected

    # The cursor is one line naming the state (the UI shows it on the sensor's page).
    assert result.cursor.startswith("2 files known, newest load date 2025-11-03, state "), result.cursor
    assert len(result.cursor) < 100

    # The same bytes written again (new mtime) request nothing, and the tick says what it saw.
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,1\n", age_seconds=1800)
    again = landing_sensor_tick(defs, instance, tmp_path, result.cursor)
    assert not again.run_requests
    assert again.skip_reason.skip_message.startswith(
        "no new or changed files (2 known); 1 still being written"
    )

    # A corrected file requests a new run for the same date, with a different run key.
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,2\n", age_seconds=900)
    corrected = landing_sensor_tick(defs, instance, tmp_path, again.cursor)
    assert [r.partition_key for r in corrected.run_requests] == ["2025-11-03"]
    assert corrected.run_requests[0].run_key != request.run_key
    assert {k.to_user_string() for k in corrected.run_requests[0].asset_selection} >= {"landing/claims"}


def test_files_for_many_dates_at_once_are_one_catch_up_range_run(
    tmp_path: Path, instance: DagsterInstance, defs: Definitions
) -> None:
    from aca_warehouse.sensors.landing import CATCH_UP_DATES, requested_message

    header = "claim_id,line_number\n"
    days = [f"2025-11-{d:02d}" for d in range(3, 3 + CATCH_UP_DATES + 2)]
    for day in days:
        _write(tmp_path, f"claims_system/claims/claims_{day}.csv", header + f"C{day},1\n")
    _write(tmp_path, f"exchange/members/members_{days[1]}.csv", "member_id\nM1\n")

    result = landing_sensor_tick(defs, instance, tmp_path, None)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key is None
    assert request.tags["dagster/asset_partition_range_start"] == days[0]
    assert request.tags["dagster/asset_partition_range_end"] == days[-1]
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {"landing/claims", "landing/members", "staging/claims", "marts/plan_month"} <= selected
    assert "landing/premiums" not in selected
    assert requested_message(result.run_requests) == (
        f"{len(days) + 1} new or changed files for {days[0]}..{days[-1]}: one range run requested (catch-up)"
    )
    # Evaluated again from scratch, the same files give the same run key (Dagster dedupes on it).
    assert landing_sensor_tick(defs, instance, tmp_path, None).run_requests[0].run_key == request.run_key

    # Afterwards, one new day is an ordinary run for its partition.
    _write(tmp_path, "claims_system/claims/claims_2025-11-20.csv", header + "C9,1\n")
    next_tick = landing_sensor_tick(defs, instance, tmp_path, result.cursor)
    assert [r.partition_key for r in next_tick.run_requests] == ["2025-11-20"]
    assert (
        requested_message(next_tick.run_requests) == "1 new or changed file for 2025-11-20: one run requested"
    )


def test_a_few_dates_at_once_stay_one_run_per_date(
    tmp_path: Path, instance: DagsterInstance, defs: Definitions
) -> None:
    header = "claim_id,line_number\n"
    for day in ("2025-10-01", "2025-11-03"):  # a late file for an old day and today's file
        _write(tmp_path, f"claims_system/claims/claims_{day}.csv", header + "C1,1\n")
    result = landing_sensor_tick(defs, instance, tmp_path, None)
    assert [r.partition_key for r in result.run_requests] == ["2025-10-01", "2025-11-03"]


def test_sensor_default_status_follows_the_setting(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    from dagster import DefaultSensorStatus

    from aca_warehouse.errors import ConfigurationError
    from aca_warehouse.settings import load_settings

    assert load_settings({}).sensor_default_status == "running"
    assert load_settings({"ACA_SENSOR_DEFAULT_STATUS": "Stopped"}).sensor_default_status == "stopped"
    with pytest.raises(ConfigurationError, match="running or stopped"):
        load_settings({"ACA_SENSOR_DEFAULT_STATUS": "paused"})
    with pytest.raises(ConfigurationError, match="ACA_SENSOR_SETTLE_SECONDS"):
        load_settings({"ACA_SENSOR_SETTLE_SECONDS": "soon"})
    # both sensors of the code location take it
    warehouse = make_warehouse("duckdb")
    for setting, status in (
        ("running", DefaultSensorStatus.RUNNING),
        ("stopped", DefaultSensorStatus.STOPPED),
    ):
        defs = definitions_for(warehouse, tmp_path, sensor_default_status=setting)
        sensors = list(defs.sensors or [])
        assert len(sensors) == 2 and {s.default_status for s in sensors} == {status}


def test_the_state_behind_the_cursor_is_kept_once_and_an_old_json_cursor_still_reads(
    tmp_path: Path, instance: DagsterInstance, defs: Definitions
) -> None:
    """The state a cursor moved away from is emptied on the next tick; a cursor of the older format
    (the whole file map as JSON) is understood, so an upgrade does not reload every file."""
    import json

    from aca_warehouse.sensors.landing import STATE_KEY_PREFIX

    def stored(cursor: str) -> str | None:
        key = STATE_KEY_PREFIX + cursor.rsplit("state ", 1)[1]
        return instance.run_storage.get_cursor_values({key}).get(key)

    header = "claim_id,line_number\n"
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,1\n")
    first = landing_sensor_tick(defs, instance, tmp_path, None)
    _write(tmp_path, "claims_system/claims/claims_2025-11-04.csv", header + "C2,1\n")
    second = landing_sensor_tick(defs, instance, tmp_path, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["2025-11-04"]
    assert stored(first.cursor) and stored(second.cursor)
    third = landing_sensor_tick(
        defs, instance, tmp_path, second.cursor
    )  # nothing new: same state, same cursor
    assert not third.run_requests and third.cursor == second.cursor
    assert stored(first.cursor) == "" and json.loads(stored(second.cursor))["files"]

    state = json.loads(json.loads(stored(second.cursor))["files"])
    legacy = json.dumps({"files": state})
    upgraded = landing_sensor_tick(defs, instance, tmp_path, legacy)
    assert not upgraded.run_requests
    assert upgraded.cursor == second.cursor
