"""The landing sensor: one run per load date with new or corrected files, through every layer."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from aca_warehouse.contract import load_dictionary
from aca_warehouse.errors import WarehouseUnreachableError
from aca_warehouse.landing import FileDigest, LandingFile, file_digest, remember_digest, scan_feed
from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.settings import SENSOR_SETTLE_SECONDS_DEFAULT
from aca_warehouse.staging.loader import loaded_files

CURSOR_MAX_FILES = 5000
SETTLE_SECONDS_DEFAULT = SENSOR_SETTLE_SECONDS_DEFAULT
# More load dates than this with new files in one tick is a catch-up (the sensor's first look at a
# full landing directory, files delivered after an outage): one range run, as a backfill would be,
# instead of one run per date each paying a run's and dbt's fixed cost (~20 s here).
CATCH_UP_DATES = 3


@dataclass(frozen=True)
class FileState:
    """What the sensor remembers of a file: a cheap fingerprint, the content hash behind it and the
    line count (the landing asset of the run it requests reuses the hash and count: see
    reuse_sensor_digests; None in states written before it was kept)."""

    fingerprint: str
    sha256: str
    lines: int | None = None


# The per-file state lives in the Dagster instance's key-value store, one entry per state, named by
# the digest of its content; the cursor only points at it. The UI's sensor page then shows a one-line
# cursor ("270 files known, newest load date 2026-01-14, state 3f9a...") instead of a page of JSON.
# Content-addressed, so a tick that fails after storing its state (Dagster keeps the old cursor then)
# leaves the state the old cursor points at intact; the state a cursor moved away from is emptied
# by the next tick (a small row stays: the store has no delete).
STATE_KEY_PREFIX = "aca/landing_files_sensor/state/"
_CURSOR_STATE = re.compile(r"state ([0-9a-f]{16,64})")
# The run tag naming the state a run was requested with: its landing assets take the files' hashes
# from it instead of hashing the files again (for files whose fingerprint is still the same).
STATE_RUN_TAG = "aca/landing_sensor_state"
_REUSED_STATES: set[str] = set()


def _encode_state(files: Mapping[str, FileState]) -> str:
    # Bounded: keep the newest entries (file names carry the load date, so sorting by name is by date).
    kept = sorted(files.items(), key=lambda kv: kv[0].rsplit("_", 1)[-1])[-CURSOR_MAX_FILES:]
    return json.dumps(
        {k: [v.fingerprint, v.sha256] + ([v.lines] if v.lines is not None else []) for k, v in sorted(kept)},
        sort_keys=True,
    )


def _decode_state(raw: str) -> dict[str, FileState]:
    return {path: FileState(*value) for path, value in json.loads(raw).items()} if raw else {}


def load_sensor_state(instance: DagsterInstance, cursor: str | None) -> dict[str, FileState]:
    """The files the sensor knows, from the state its cursor names (an older full-JSON cursor is read
    as is); and the state the previous cursor named, no longer needed, is emptied."""
    if not cursor:
        return {}
    if cursor.lstrip().startswith("{"):  # a cursor written before the state moved out of it
        return {p: FileState(*v) for p, v in json.loads(cursor).get("files", {}).items()}
    match = _CURSOR_STATE.search(cursor)
    if not match:
        return {}
    key = STATE_KEY_PREFIX + match.group(1)
    stored = instance.run_storage.get_cursor_values({key}).get(key)
    if not stored:  # the instance's storage was reset: start over (the warehouse's load audit helps)
        return {}
    entry = json.loads(stored)
    parent = entry.get("parent")
    if parent and parent != match.group(1):  # the cursor moved on from it: a read per tick, one write
        parent_key = STATE_KEY_PREFIX + parent
        if instance.run_storage.get_cursor_values({parent_key}).get(parent_key):
            instance.run_storage.set_cursor_values({parent_key: ""})
    return _decode_state(entry["files"])


def reuse_sensor_digests(instance: DagsterInstance, run_tags: Mapping[str, str], landing_root: Path) -> int:
    """In a run the sensor requested (STATE_RUN_TAG): keep the sensor's digests of the files that
    still have the fingerprint the sensor saw, so the landing asset and the staging loader do not hash
    them again. Read only (the sensor prunes its states); a state already pruned or a file changed
    since means the file is hashed as usual. How many digests were taken."""
    digest = run_tags.get(STATE_RUN_TAG)
    if not digest or not re.fullmatch(r"[0-9a-f]{16,64}", digest) or digest in _REUSED_STATES:
        return 0  # no state, or this process took it already (one landing asset per feed asks)
    _REUSED_STATES.add(digest)
    key = STATE_KEY_PREFIX + digest
    stored = instance.run_storage.get_cursor_values({key}).get(key)
    if not stored:
        return 0
    reused = 0
    for relative, state in _decode_state(json.loads(stored)["files"]).items():
        if state.lines is None:
            continue
        path = landing_root / relative
        remember_digest(
            path,
            FileDigest(state.fingerprint, state.sha256, int(state.fingerprint.split("-", 1)[0]), state.lines),
        )
        reused += 1
    return reused


def save_sensor_state(instance: DagsterInstance, cursor: str | None, files: Mapping[str, FileState]) -> str:
    """Store the state (if new) and return the compact cursor that names it."""
    encoded = _encode_state(files)
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:32]
    previous = _CURSOR_STATE.search(cursor or "")
    if not previous or previous.group(1) != digest:
        entry = {"parent": previous.group(1) if previous else None, "files": encoded}
        instance.run_storage.set_cursor_values({STATE_KEY_PREFIX + digest: json.dumps(entry)})
    dates = [path.rsplit("_", 1)[-1].split(".", 1)[0] for path in files]
    newest = f", newest load date {max(dates)}" if dates else ""
    return f"{len(files)} files known{newest}, state {digest}"


def _is_settled(landing_file: LandingFile, settle_seconds: float, now: float) -> bool:
    """A file still being written (modified in the last few seconds) is left for the next tick."""
    return now - landing_file.path.stat().st_mtime >= settle_seconds


def plan_landing_runs(
    landing: LandingDirResource,
    known: Mapping[str, FileState] | None,
    feed_selection: Mapping[str, Sequence[AssetKey]],
    settle_seconds: float = SETTLE_SECONDS_DEFAULT,
    now: float | None = None,
    already_loaded: Mapping[str, str] | None = None,
    first_partition: date | None = None,
) -> tuple[list[RunRequest], dict[str, FileState], list[str]]:
    """Compare the landing directory with the files the sensor knows (`known`, path -> state); a
    RunRequest per load date that changed (or one range run for a catch-up, see `_run_requests`).

    An identical re-delivery requests nothing and a corrected file requests a new run. `already_loaded`
    (path -> sha256 from the warehouse's load audit) covers files the cursor does not know yet:
    those loaded with the same bytes need no run. A file dated before `first_partition` has no
    partition to load into: it is reported (and stays out of the state, so a reload picks it up).
    Returns the requests, the updated file states and notes for the tick's log.
    """
    already_loaded = already_loaded or {}
    now = time.time() if now is None else now
    known = dict(known or {})
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
            digest = file_digest(landing_file)  # one pass: hash and lines (for the run it may request)
            sha = digest.sha256
            updated[landing_file.relative_path] = FileState(digest.fingerprint, sha, digest.lines)
            if previous and previous.sha256 == sha:
                continue  # rewritten with identical bytes: nothing to load
            if previous is None and already_loaded.get(landing_file.relative_path) == sha:
                continue  # loaded before the sensor knew it (a CLI run or a backfill)
            changed_by_date.setdefault(landing_file.partition_key, []).append((landing_file, sha))
    return _run_requests(changed_by_date, feed_selection), updated, notes


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
                    "aca/files": str(len(changed)),
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
                tags={
                    "aca/trigger": "landing_sensor",
                    "aca/feeds": ",".join(feeds),
                    "aca/files": str(len(changed)),
                },
            )
        )
    return requests


def skip_message(files: Mapping[str, FileState], notes: Sequence[str]) -> str:
    """What a tick without runs saw, e.g. "no new or changed files (270 known); 1 still being written, ..."."""
    message = f"no new or changed files ({len(files)} known)"
    settling = sum(1 for n in notes if n.startswith("waiting for "))
    ignored = sum(1 for n in notes if n.startswith("ignored "))
    if settling:
        message += f"; {settling} still being written, left for the next tick"
    if ignored:
        message += f"; {ignored} names ignored (not landing files; named in the tick's log)"
    return message


def requested_message(requests: Sequence[RunRequest]) -> str:
    """What a tick with runs saw, e.g. "45 new or changed files for 2025-12-01..2026-01-14: one range
    run requested (catch-up)" or "3 new or changed files for 2025-12-02: one run requested"."""
    n_files = sum(int(r.tags.get("aca/files", 0)) for r in requests)
    dates = [r.partition_key for r in requests if r.partition_key] + [
        d
        for r in requests
        for d in (
            r.tags.get("dagster/asset_partition_range_start"),
            r.tags.get("dagster/asset_partition_range_end"),
        )
        if d
    ]
    span = min(dates) if min(dates) == max(dates) else f"{min(dates)}..{max(dates)}"
    if len(requests) == 1 and not requests[0].partition_key:
        what = "one range run requested (catch-up)"
    else:
        what = (
            "one run requested"
            if len(requests) == 1
            else f"{len(requests)} runs requested, one per load date"
        )
    return f"{n_files} new or changed file{'s' if n_files != 1 else ''} for {span}: {what}"


def warehouse_loaded_files(warehouse: WarehouseResource) -> dict[str, str]:
    """Files the warehouse has loaded (path -> sha256); nothing if the DuckDB file does not exist yet."""
    if warehouse.engine == "duckdb" and not Path(warehouse.duckdb_path).exists():
        return {}
    with warehouse.connect() as conn:
        return loaded_files(conn)


def default_sensor_status(status: str = "running") -> DefaultSensorStatus:
    """The sensors' default status from the setting (ACA_SENSOR_DEFAULT_STATUS: `running`, or `stopped`
    e.g. to backfill history by hand first). Dagster applies it to a sensor nobody has started or
    stopped yet; the UI's toggle wins after."""
    return DefaultSensorStatus.STOPPED if status.strip().lower() == "stopped" else DefaultSensorStatus.RUNNING


def build_landing_sensor(
    job: Any,
    feed_selection: Mapping[str, Sequence[AssetKey]],
    *,
    first_partition: date,
    settle_seconds: float = SETTLE_SECONDS_DEFAULT,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """The sensor over every feed of the landing directory (claims, premiums, events and snapshots).
    `first_partition`: the partitions' first load date (older files are reported, not loaded);
    `settle_seconds`: how long a file must be unmodified before it is loaded."""

    @sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=15,
        default_status=default_status,
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
        known = load_sensor_state(context.instance, context.cursor)
        already_loaded: dict[str, str] = {}
        if not known:  # first tick (or a reset cursor): learn what the warehouse holds
            try:
                already_loaded = warehouse_loaded_files(warehouse)
            except WarehouseUnreachableError as exc:
                return SensorResult(skip_reason=SkipReason(f"waiting for the warehouse's load audit: {exc}"))
        requests, files, notes = plan_landing_runs(
            landing,
            known,
            feed_selection,
            settle_seconds,
            already_loaded=already_loaded,
            first_partition=first_partition,
        )
        for note in notes[:20]:
            (context.log.warning if note.startswith("ignored ") else context.log.info)(note)
        if len(notes) > 20:
            context.log.info(f"... and {len(notes) - 20} more")
        cursor = save_sensor_state(context.instance, context.cursor, files)
        if not requests:
            return SensorResult(skip_reason=SkipReason(skip_message(files, notes)), cursor=cursor)
        context.log.info(requested_message(requests))
        # The runs take the files' hashes from the state this tick stored (hashed once, here).
        state = cursor.rsplit("state ", 1)[1]
        requests = [r.with_replaced_attrs(tags={**r.tags, STATE_RUN_TAG: state}) for r in requests]
        return SensorResult(run_requests=requests, cursor=cursor)

    return landing_files_sensor
