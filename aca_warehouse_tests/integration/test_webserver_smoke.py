"""Smoke test of the real UI stack: `dagster dev` (webserver + daemon) on 127.0.0.1.

One `dagster dev` (the session's `dagster_dev` fixture, shared with test_ui_browser.py) serves the
module's tests in order, as a user would meet it: the running sensor catches up on a landing
directory full of files with one range run, and the webserver lists every layer. (Runs launched from
the UI are test_ui_browser.py's: a clicked range backfill and the sensor's run of a dropped file.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ..conftest import DEMO_DAYS
from ..dagster_ui import DagsterDev, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webserver")]


def test_sensor_catches_up_on_a_full_landing_directory_with_one_run(
    dagster_dev: DagsterDev, demo_landing_first_date: str
) -> None:
    """The sensor is on by default; its first tick finds 45 days of files and requests ONE range run."""
    first = date.fromisoformat(demo_landing_first_date)
    last = first + timedelta(days=DEMO_DAYS - 1)

    def catch_up_runs() -> list[dict]:  # (the browser test later drops one more file)
        return [
            r for r in dagster_dev.sensor_runs() if r["tags"].get("aca/trigger") == "landing_sensor_catch_up"
        ]

    wait_for(lambda: bool(catch_up_runs()), 180, "the landing sensor to request a run")
    runs = catch_up_runs()
    assert len(runs) == 1, runs
    tags = runs[0]["tags"]
    assert tags["aca/trigger"] == "landing_sensor_catch_up"
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        first.isoformat(),
        last.isoformat(),
    )
    dagster_dev.wait_for_run(runs[0]["runId"], 420)


def test_partitions_start_where_the_landing_data_starts(
    dagster_dev: DagsterDev, demo_landing_first_date: str
) -> None:
    """With ACA_PARTITION_START unset, the first partition is the earliest landing file's load date, so
    the UI's partition bar and "missing" counts describe the data (not years of empty dates)."""
    node = dagster_dev.graphql(
        '{ assetNodeOrError(assetKey: {path: ["staging", "claims"]}) { ... on AssetNode { partitionKeys } } }'
    )["assetNodeOrError"]
    keys = node["partitionKeys"]
    assert keys[0] == demo_landing_first_date, keys[:3]
    assert keys[-1] == datetime.now(UTC).date().isoformat()


def test_webserver_lists_every_layer_with_descriptions(dagster_dev: DagsterDev) -> None:
    """(Runs launched from the UI are test_ui_browser.py's: the clicked range backfill and the sensor's
    run of a dropped file; a GraphQL launch of one partition here repeated them, ~30 s.)"""
    nodes = dagster_dev.graphql("{ assetNodes { assetKey { path } groupName description } }")["assetNodes"]
    assert {"landing", "staging", "intermediate", "core", "marts", "quality", "reports"} <= {
        n["groupName"] for n in nodes
    }
    assert all(n["description"] for n in nodes)
