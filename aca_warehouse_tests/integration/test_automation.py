"""Sensor-driven loads, really executed: new file, identical re-delivery, corrected file, late file, ranges."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from aca_warehouse.assets.dbt import PARTIAL_PARSE_FILE, parse_cache_dir

from ..conftest import DEMO_START
from ..pipeline import (
    copy_landing,
    definitions_for,
    landing_sensor_tick,
    marts_snapshot,
    run_range,
    run_request,
    table_rows,
)

pytestmark = pytest.mark.duckdb

FIRST = date.fromisoformat(DEMO_START)


def _age_files(root: Path, seconds: float = 120) -> None:
    """Landing files older than the sensor's settle time (as if they had landed a while ago)."""
    past = time.time() - seconds
    for path in root.rglob("*.*"):
        os.utime(path, (past, past))


def _claims_paid_by_month(warehouse) -> dict:  # noqa: ANN001
    with warehouse.connect() as conn:
        rows = conn.fetchall("select month, sum(claims_paid) from marts.plan_month group by month")
    return {str(m)[:10]: v for m, v in rows}


def test_sensor_loads_new_corrected_and_late_files(
    tmp_path: Path, demo_landing: Path, make_warehouse
) -> None:
    warehouse = make_warehouse("duckdb")
    landing = tmp_path / "landing"
    late_day = FIRST + timedelta(days=3)
    late_claims = f"claims_system/claims/claims_{late_day.isoformat()}.csv"
    initial_last = FIRST + timedelta(days=9)
    copy_landing(demo_landing, landing, until=initial_last, skip=[late_claims])
    _age_files(landing)
    defs = definitions_for(warehouse, landing)

    with DagsterInstance.ephemeral() as instance:
        # History loaded through the sensor's first tick: files for ten load dates at once are a
        # catch-up, requested as ONE range run over those dates (not ten runs).
        first_tick = landing_sensor_tick(defs, instance, landing, None)
        assert len(first_tick.run_requests) == 1
        catch_up = first_tick.run_requests[0]
        assert catch_up.partition_key is None
        assert (
            catch_up.tags["dagster/asset_partition_range_start"],
            catch_up.tags["dagster/asset_partition_range_end"],
        ) == (
            FIRST.isoformat(),
            initial_last.isoformat(),
        )
        assert run_request(defs, instance, catch_up).success
        with warehouse.connect() as conn:
            assert (
                conn.scalar("select count(distinct _load_date) from staging.claims") == 9
            )  # late day held back
        cursor = first_tick.cursor
        before = _claims_paid_by_month(warehouse)

        # 1. A new day's files -> exactly one run, for that date, and the marts show the day.
        new_day = initial_last + timedelta(days=1)
        copy_landing(demo_landing, landing, until=new_day, skip=[late_claims])
        _age_files(landing)
        tick = landing_sensor_tick(defs, instance, landing, cursor)
        assert [r.partition_key for r in tick.run_requests] == [new_day.isoformat()]
        result = run_request(defs, instance, tick.run_requests[0])
        assert result.success
        cursor = tick.cursor
        with warehouse.connect() as conn:
            staged_new = conn.scalar("select count(*) from staging.claims where _load_date = %s", [new_day])
            in_fact = conn.scalar(
                "select count(*) from core.fct_claim_line_versions where adjudicated_date = %s", [new_day]
            )
        assert staged_new > 0 and in_fact == staged_new
        after_new_day = _claims_paid_by_month(warehouse)
        assert sum(after_new_day.values()) > sum(before.values())

        # 2. The same file again (rewritten byte for byte) -> no run.
        new_claims = landing / f"claims_system/claims/claims_{new_day.isoformat()}.csv"
        new_claims.write_bytes(new_claims.read_bytes())
        _age_files(landing)
        tick = landing_sensor_tick(defs, instance, landing, cursor)
        assert tick.run_requests == [] or not tick.run_requests
        cursor = tick.cursor

        # 3. A corrected file (last line withdrawn) -> a new run; the partition is replaced, not added to.
        lines = new_claims.read_text().splitlines(keepends=True)
        new_claims.write_text("".join(lines[:-1]))
        _age_files(landing)
        tick = landing_sensor_tick(defs, instance, landing, cursor)
        assert [r.partition_key for r in tick.run_requests] == [new_day.isoformat()]
        assert run_request(defs, instance, tick.run_requests[0]).success
        cursor = tick.cursor
        with warehouse.connect() as conn:
            staged_again = conn.scalar("select count(*) from staging.claims where _load_date = %s", [new_day])
        assert staged_again == staged_new - 1

        # 4. A late file for an older day -> a run for that day, and its months are corrected.
        copy_landing(demo_landing, landing, until=late_day)
        _age_files(landing)
        tick = landing_sensor_tick(defs, instance, landing, cursor)
        assert [r.partition_key for r in tick.run_requests] == [late_day.isoformat()]
        assert run_request(defs, instance, tick.run_requests[0]).success

    # The result equals loading the same files in one go into a fresh warehouse.
    reference = make_warehouse("duckdb")
    reference_defs = definitions_for(reference, landing)
    with DagsterInstance.ephemeral() as instance:
        assert run_range(reference_defs, instance, FIRST.isoformat(), new_day.isoformat()).success
    assert _claims_paid_by_month(warehouse) == _claims_paid_by_month(reference)
    assert table_rows(warehouse, "core.fct_claim_lines") == table_rows(reference, "core.fct_claim_lines")


def test_range_run_equals_day_by_day_runs(tmp_path: Path, demo_landing: Path, make_warehouse) -> None:
    landing = tmp_path / "landing"
    days = 3  # the first build on an empty warehouse, then two incremental ones
    last = FIRST + timedelta(days=days - 1)
    copy_landing(demo_landing, landing, until=last)

    one_run = make_warehouse("duckdb")
    with DagsterInstance.ephemeral() as instance:
        one_run_defs = definitions_for(one_run, landing)
        result = run_range(one_run_defs, instance, FIRST.isoformat(), last.isoformat())
        assert result.success
        assert len({r.run_id for r in instance.get_runs()}) == 1
        # The sensor starting afterwards (no cursor yet, as after `make run` -> `make ui`) learns
        # from the load audit that these files are loaded: no runs. A file it has not seen is.
        _age_files(landing)
        tick = landing_sensor_tick(one_run_defs, instance, landing, None)
        assert not tick.run_requests
        copy_landing(demo_landing, landing, until=last + timedelta(days=1))
        _age_files(landing)
        tick = landing_sensor_tick(one_run_defs, instance, landing, tick.cursor)
        assert [r.partition_key for r in tick.run_requests] == [(last + timedelta(days=1)).isoformat()]
        shutil.rmtree(landing)
        copy_landing(demo_landing, landing, until=last)

    daily = make_warehouse("duckdb")
    defs = definitions_for(daily, landing)
    with DagsterInstance.ephemeral() as instance:
        for offset in range(days):
            day = (FIRST + timedelta(days=offset)).isoformat()
            assert run_range(defs, instance, day, day).success

    assert marts_snapshot(one_run) == marts_snapshot(daily)
    # dbt takes no load-date window (no --vars), so these runs kept dbt's parse state.
    assert (parse_cache_dir(daily) / PARTIAL_PARSE_FILE).stat().st_size > 0
