"""The landing sensor: one run per load date with new or corrected files, through every layer."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from aca_warehouse.landing import LandingFile, file_sha256, scan_feed
from aca_warehouse.resources.landing import LandingDirResource

CURSOR_MAX_FILES = 5000
SETTLE_SECONDS_DEFAULT = 5.0


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
) -> tuple[list[RunRequest], str, list[str]]:
    """Compare the landing directory with the cursor; one RunRequest per load date that changed.

    The run key carries the content hashes of the date's changed files, so an identical
    re-delivery requests nothing and a corrected file requests a new run.
    """
    now = time.time() if now is None else now
    known = _load_cursor(cursor)
    changed_by_date: dict[str, list[tuple[LandingFile, str]]] = {}
    notes: list[str] = []
    updated = dict(known)
    for feed in load_dictionary().feeds.values():
        files, ignored = scan_feed(landing.root, feed)
        for problem in ignored:
            if not problem.path.name.startswith("."):
                notes.append(f"ignored {problem.path.name}: {problem.reason}")
        for landing_file in files:
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
            changed_by_date.setdefault(landing_file.partition_key, []).append((landing_file, sha))
    requests: list[RunRequest] = []
    for partition_key, changed in sorted(changed_by_date.items()):
        feeds = sorted({f.feed for f, _ in changed})
        selection: list[AssetKey] = []
        for feed in feeds:
            selection.extend(k for k in feed_selection[feed] if k not in selection)
        content = ",".join(
            f"{f.relative_path}@{sha[:16]}" for f, sha in sorted(changed, key=lambda c: c[0].relative_path)
        )
        requests.append(
            RunRequest(
                run_key=f"{partition_key}|{content}",
                partition_key=partition_key,
                asset_selection=selection,
                tags={"aca/trigger": "landing_sensor", "aca/feeds": ",".join(feeds)},
            )
        )
    return requests, _dump_cursor(updated), notes


def build_landing_sensor(job: Any, feed_selection: Mapping[str, Sequence[AssetKey]]) -> SensorDefinition:
    """The sensor over every feed of the landing directory (claims, premiums, events and snapshots)."""

    @sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=15,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Watches every feed folder of the landing directory. A new or corrected file requests one run "
            "for its load-date partition (files of the same date share a run) through staging, core and "
            "marts; an identical re-delivery requests nothing; files modified in the last few seconds are "
            "left until they stop growing; names that are not landing files are ignored."
        ),
    )
    def landing_files_sensor(context: SensorEvaluationContext, landing: LandingDirResource):
        settle = float(os.environ.get("ACA_SENSOR_SETTLE_SECONDS", SETTLE_SECONDS_DEFAULT))
        requests, cursor, notes = plan_landing_runs(landing, context.cursor, feed_selection, settle)
        for note in notes[:20]:
            context.log.info(note)
        if not requests:
            return SensorResult(skip_reason=SkipReason("no new or changed landing files"), cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return landing_files_sensor
