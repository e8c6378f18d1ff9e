"""`staging.load_audit` for the loader: the partitions' last successful loads, and new audit rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.results import LOADED, FileLoadResult
from aca_warehouse.staging.tables import AUDIT_COLUMNS, AUDIT_TABLE

_ROWS_PER_STATEMENT = 1000


@dataclass(frozen=True)
class PreviousLoad:
    """The last successful load of a partition, as the audit recorded it."""

    load_id: str
    file_checksum: str
    rules_version: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    reason_code_counts: dict[str, int]


def last_successful_loads(
    conn: WarehouseConnection, feed: str, load_dates: Sequence[date]
) -> dict[date, PreviousLoad]:
    """The last successful load of each of the partitions `load_dates`, in one query."""
    if not load_dates:
        return {}
    wanted = set(load_dates)
    rows = conn.fetchall(
        f"select load_date, load_id, file_checksum, rules_version, rows_read, rows_staged, rows_quarantined, "
        f"reason_code_counts from {AUDIT_TABLE} where feed = %s and status = %s "
        f"and load_date >= %s and load_date < %s order by load_date, finished_at, load_id",
        [feed, LOADED, min(wanted), max(wanted) + timedelta(days=1)],
    )
    latest: dict[date, PreviousLoad] = {}
    for load_date, load_id, checksum, rules_version, read, staged, quarantined, counts in rows:
        if load_date in wanted:  # later loads of a partition overwrite earlier ones
            latest[load_date] = PreviousLoad(
                load_id, checksum, rules_version, int(read), int(staged), int(quarantined),
                json.loads(counts or "{}"),
            )  # fmt: skip
    return latest


def insert_audit_rows(
    conn: WarehouseConnection,
    results: Sequence[FileLoadResult],
    *,
    asset_key: str,
    rules_version: str,
    run_id: str | None,
) -> None:
    """One audit row per result, finished now (a statement per 1,000 rows: PostgreSQL binds at
    most 65,535 parameters)."""
    finished = datetime.now(UTC)
    names = [name for name, _, _ in AUDIT_COLUMNS]
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    for first in range(0, len(results), _ROWS_PER_STATEMENT):
        chunk = results[first : first + _ROWS_PER_STATEMENT]
        params: list[object] = []
        for result in chunk:
            values = {
                "load_id": result.load_id,
                "asset_key": asset_key,
                "feed": result.feed,
                "load_date": result.load_date,
                "source_file": result.source_file,
                "file_checksum": result.file_checksum or None,
                "file_bytes": result.file_bytes,
                "rules_version": rules_version,
                "status": result.status,
                "rows_read": result.rows_read,
                "rows_staged": result.rows_staged,
                "rows_quarantined": result.rows_quarantined,
                "reason_code_counts": json.dumps(result.reason_code_counts, sort_keys=True),
                "message": result.message,
                "started_at": result.started_at or finished,
                "finished_at": finished,
                "duration_seconds": result.duration_seconds,
                "dagster_run_id": run_id,
                "reader": result.reader,
            }
            params.extend(values[name] for name in names)
        conn.execute(
            f"insert into {AUDIT_TABLE} ({', '.join(names)}) values {', '.join([row] * len(chunk))}", params
        )
