"""The landing sensor: one run per load date with new or corrected files, through every layer."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from aca_warehouse.contract import load_dictionary
from aca_warehouse.errors import ConfigurationError, WarehouseUnreachableError
from aca_warehouse.landing import LandingFile, file_sha256, scan_feed
from aca_warehouse.partitions import daily_partitions
from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging.loader import loaded_files

CURSOR_MAX_FILES = 5000
SETTLE_SECONDS_DEFAULT = 5.0
# More load dates than this with new files in one tick is a catch-up (the sensor's first look at a
# full landing directory, files delivered after an outage): one range run, as a backfill would be,
# instead of one run per date each paying a run's and dbt's fixed cost (~20 s here).
CATCH_UP_DATES = 3


@dataclass(frozen=True)
class FileState:
    """What the sensor remembers of a file: a cheap fingerprint and the content hash behind it."""

    fingerprint: str
    sha256: str


def _load_cursor(raw: str | None) -> dict[str, FileState]:
    if not raw:
        return {}
    data = json.loads(raw)
    return {path: FileState(*value) for path, value in data.get("files", {}).items()}


def _dump_cursor(files: Mapping[str, FileState]) -> str:
    # Bounded: keep the newest entries (file names carry the load date, so sorting by name is by date).
    kept = sorted(files.items(), key=lambda kv: kv[0].rsplit("_", 1)[-1])[-CURSOR_MAX_FILES:]
    return json.dumps({"files": {k: [v.fingerprint, v.sha256] for k, v in sorted(kept)}}, sort_keys=True)


def _is_settled(landing_file: LandingFile, settle_seconds: float, now: float) -> bool:
    """A file still being written (modified in the last few seconds) is left for the next tick."""
    return now - landing_file.path.stat().st_mtime >= settle_seconds


def plan_landing_runs(
    landing: LandingDirResource,
    cursor: str | None,
    feed_selection: Mapping[str, Sequence[AssetKey]],
    settle_seconds: float = SETTLE_SECONDS_DEFAULT,
    now: float | None = None,
    already_loaded: Mapping[str, str] | None = None,
    first_partition: date | None = None,
) -> tuple[list[RunRequest], str, list[str]]:
    """Compare the landing directory with the cursor; a RunRequest per load date that changed (or one
    range run for a catch-up, see `_run_requests`).

    An identical re-delivery requests nothing and a corrected file requests a new run. `already_loaded`
    (path -> sha256 from the warehouse's load audit) covers files the cursor does not know yet:
    those loaded with the same bytes need no run. A file dated before `first_partition` has no
    partition to load into: it is reported (and stays out of the cursor, so a reload picks it up).
    """
    already_loaded = already_loaded or {}
    now = time.time() if now is None else now
    known = _load_cursor(cursor)
    changed_by_date: dict[str, list[tuple[LandingFile, str]]] = {}
    notes: list[str] = []
    updated = dict(known)
    for feed in load_dictionary().feeds.values():
        files, ignored = scan_feed(landing.root, feed)
        for problem in ignored:  # not landing files (or not yet): named, with why; never loaded
            if not problem.is_hidden:
                notes.append(f"ignored {problem}")
        for landing_file in files:
            if first_partition is not None and landing_file.load_date < first_partition:
                notes.append(
                    f"ignored {landing_file.relative_path}: load date {landing_file.load_date} is before the "
                    f"first partition {first_partition}; set ACA_PARTITION_START to {landing_file.load_date} "
                    "or earlier and reload the code location"
                )
                continue
            if not _is_settled(landing_file, settle_seconds, now):
                notes.append(f"waiting for {landing_file.relative_path} to settle")
                continue
            fingerprint = landing_file.fingerprint()
            previous = known.get(landing_file.relative_path)
            if previous and previous.fingerprint == fingerprint:
                continue
            sha = file_sha256(landing_file.path)
            updated[landing_file.relative_path] = FileState(fingerprint, sha)
            if previous and previous.sha256 == sha:
                continue  # rewritten with identical bytes: nothing to load
            if previous is None and already_loaded.get(landing_file.relative_path) == sha:
                continue  # loaded before the sensor knew it (a CLI run or a backfill)
            changed_by_date.setdefault(landing_file.partition_key, []).append((landing_file, sha))
    return _run_requests(changed_by_date, feed_selection), _dump_cursor(updated), notes


def _selection_for(feeds: Sequence[str], feed_selection: Mapping[str, Sequence[AssetKey]]) -> list[AssetKey]:
    """The assets a change to these feeds must refresh: each feed's landing asset and everything downstream."""
    selection: list[AssetKey] = []
    for feed in feeds:
        selection.extend(k for k in feed_selection[feed] if k not in selection)
    return selection


def _content_key(changed: Sequence[tuple[LandingFile, str]]) -> str:
    return ",".join(
        f"{f.relative_path}@{sha[:16]}" for f, sha in sorted(changed, key=lambda c: c[0].relative_path)
    )


def _run_requests(
    changed_by_date: Mapping[str, list[tuple[LandingFile, str]]],
    feed_selection: Mapping[str, Sequence[AssetKey]],
) -> list[RunRequest]:
    """One run per changed load date; a catch-up (more than CATCH_UP_DATES dates at once) is one range run.

    The run key names the changed files and their content hashes, so the same bytes never start a
    second run and a corrected file always does.
    """
    if len(changed_by_date) > CATCH_UP_DATES:
        first, last = min(changed_by_date), max(changed_by_date)
        changed = [c for date_changes in changed_by_date.values() for c in date_changes]
        feeds = sorted({f.feed for f, _ in changed})
        digest = hashlib.sha256(_content_key(changed).encode()).hexdigest()[:32]
        return [
            RunRequest(
                run_key=f"{first}..{last}|{len(changed)} files|{digest}",
                asset_selection=_selection_for(feeds, feed_selection),
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                    "aca/trigger": "landing_sensor_catch_up",
                    "aca/feeds": ",".join(feeds),
                    "aca/load_dates": str(len(changed_by_date)),
                },
            )
        ]
    requests: list[RunRequest] = []
    for partition_key, changed in sorted(changed_by_date.items()):
        feeds = sorted({f.feed for f, _ in changed})
        requests.append(
            RunRequest(
                run_key=f"{partition_key}|{_content_key(changed)}",
                partition_key=partition_key,
                asset_selection=_selection_for(feeds, feed_selection),
                tags={"aca/trigger": "landing_sensor", "aca/feeds": ",".join(feeds)},
            )
        )
    return requests


def warehouse_loaded_files(warehouse: WarehouseResource) -> dict[str, str]:
    """Files the warehouse has loaded (path -> sha256); nothing if the DuckDB file does not exist yet."""
    if warehouse.kind == "duckdb" and not Path(warehouse.duckdb_path).exists():
        return {}
    with warehouse.connect() as conn:
        return loaded_files(conn)


def default_sensor_status() -> DefaultSensorStatus:
    """RUNNING unless `ACA_SENSOR_DEFAULT_STATUS=stopped` (e.g. to backfill history by hand first).
    Dagster applies it to a sensor nobody has started or stopped yet; the UI's toggle wins after."""
    value = os.environ.get("ACA_SENSOR_DEFAULT_STATUS", "running").strip().lower()
    if value not in ("running", "stopped"):
        raise ConfigurationError(f"ACA_SENSOR_DEFAULT_STATUS must be running or stopped, got {value!r}")
    return DefaultSensorStatus.RUNNING if value == "running" else DefaultSensorStatus.STOPPED


def build_landing_sensor(job: Any, feed_selection: Mapping[str, Sequence[AssetKey]]) -> SensorDefinition:
    """The sensor over every feed of the landing directory (claims, premiums, events and snapshots)."""

    @sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=15,
        default_status=default_sensor_status(),
        description=(
            "Watches every feed folder of the landing directory. A new or corrected file requests one run "
            "for its load-date partition (files of the same date share a run) through staging, core and "
            "marts; files for more than three load dates at once (a catch-up) make one range run; an "
            "identical re-delivery requests nothing; files modified in the last few seconds are left "
            "until they stop growing; names that are not landing files are ignored."
        ),
    )
    def landing_files_sensor(
        context: SensorEvaluationContext, landing: LandingDirResource, warehouse: WarehouseResource
    ):
        settle = float(os.environ.get("ACA_SENSOR_SETTLE_SECONDS", SETTLE_SECONDS_DEFAULT))
        already_loaded: dict[str, str] = {}
        if not context.cursor:  # first tick (or a reset cursor): learn what the warehouse holds
            try:
                already_loaded = warehouse_loaded_files(warehouse)
            except WarehouseUnreachableError as exc:
                return SensorResult(skip_reason=SkipReason(f"waiting for the warehouse's load audit: {exc}"))
        requests, cursor, notes = plan_landing_runs(
            landing,
            context.cursor,
            feed_selection,
            settle,
            already_loaded=already_loaded,
            first_partition=daily_partitions.start.date(),
        )
        for note in notes[:20]:
            (context.log.warning if note.startswith("ignored ") else context.log.info)(note)
        if len(notes) > 20:
            context.log.info(f"... and {len(notes) - 20} more")
        if not requests:
            return SensorResult(skip_reason=SkipReason("no new or changed landing files"), cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return landing_files_sensor
