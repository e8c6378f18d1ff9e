"""Dagster's own event log for the embedded setup: SQLite, with a partition range's events written at once.

A range run (a backfill, `aca-warehouse run`) records one materialization per asset and load
date: 44 assets x 365 days = 16,000 events for a year. Dagster's `SqliteEventLogStorage` writes
each one with a new engine, a new connection and two commits (the run's file and the cross-run
index), about 20 ms apiece here, so a year's bookkeeping cost five minutes while the data work
took one. Dagster already hands such events over in batches when `DAGSTER_EVENT_BATCH_SIZE` is
set (dagster-postgres writes them in one statement); the SQLite storage just loops. This
subclass writes a batch of materializations (or observations) of one run with one statement
per database, the way `PostgresEventLogStorage.store_event_batch` does, and leaves every other
event to the parent. Same files, same schema, same reads: the webserver and daemon read what
it writes like any SQLite instance's.

Asset-check results are not batched by Dagster; the staging checks report one per partition and
check, so `store_event` writes them through pooled connections (see there).

Used by `deploy/dagster.dev.yaml` (`make ui`, `aca-warehouse run`); the production shape keeps
Dagster's state in PostgreSQL (`deploy/dagster.yaml`), which batches on its own.

It builds on Dagster's private storage internals, so it stays only while it pays: measured with
`python -m bench.dagster_storage_cost` (a staging-shaped asset, 5 checks, one 365-day range run; the
run's wall time is all bookkeeping) on dagster 1.13.27, 2026-12-07, 2 heavily shared cores: Dagster's
`SqliteEventLogStorage` 251.6 / 279.9 / 299.3 s, this one 69.3 / 82.3 / 93.4 s, medians 279.9 s vs
82.3 s (3.4x). aca_warehouse_tests/integration/test_dagster_storage.py pins the Dagster behaviour the gain comes
from (materializations handed over in one batch that the stock storage writes one by one, check
results and planned rows through new connections) and the signatures of the private methods used:
when one fails, re-measure, and remove this module if Dagster's own storage costs about the same.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from dagster import Field, StringSource
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy import create_engine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Connection, Engine

_BATCHED_TYPES = (
    frozenset({DagsterEventType.ASSET_MATERIALIZATION}),
    frozenset({DagsterEventType.ASSET_OBSERVATION}),
)


def _no_sync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    """`synchronous=NORMAL` on the pooled writers' connections: Dagster creates every event-log file in
    WAL mode, where NORMAL syncs at checkpoints instead of at every commit. The files stay consistent
    whatever happens; a power cut (not a killed process) may lose the last check results written,
    as it loses the run that wrote them. Each check result is two commits: a 365-day x 5-check range
    run's bookkeeping 5.2 -> 3.6 s wall (medians of 3, 2026-12-07, shared machine)."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def default_base_dir() -> str:
    """Where Dagster's default SQLite instance keeps its event logs: `$DAGSTER_HOME/history/runs/`."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError("DAGSTER_HOME is not set: it locates the SQLite event log")
    return os.path.join(os.path.abspath(home), "history", "runs", "")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` whose `store_event_batch` writes a batch in one transaction per file."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None) -> None:
        self._writer_engines: dict[str, Engine] = {}  # the index and the current run's shard, pooled
        self._writer_lock = threading.RLock()
        self._writing = threading.local()  # the index connection of the check result being stored
        self._has_check_tables = False  # see supports_asset_checks
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)  # reads the index

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        events = [e for e in events if not e.get_dagster_event().is_asset_failed_to_materialize]
        if not events:
            return
        types = frozenset(e.get_dagster_event().event_type for e in events)
        run_ids = {e.run_id for e in events}
        if types not in _BATCHED_TYPES or len(run_ids) != 1:
            super().store_event_batch(events)
            return
        insert = self.prepare_insert_event_batch(events)
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(insert)
        # The cross-run index holds a copy of every asset event; its ids key the asset tables.
        with self.index_transaction() as conn:
            rows = conn.execute(insert.returning(SqlEventLogStorageTable.c.id)).fetchall()
            event_ids = [int(row[0]) for row in rows]
            self._store_asset_event_tags(conn, events, event_ids)
            # A batch is one asset's partitions: the asset's row takes the latest event, as in
            # dagster-postgres.
            self._store_asset_event(conn, events[-1], event_ids[-1])

    def store_event(self, event: EventLogEntry) -> None:
        """An asset-check result of a run written through two pooled connections; any other event
        as the parent writes it.

        The staging checks report one result per partition: a year's range run of one feed stores
        1,825 of them one by one (Dagster batches only materializations and observations). The parent
        opens three new SQLite connections for each (the run's file, the index twice), and opening
        and closing a connection cost ~25 ms here against well under a millisecond for the writes:
        a year of one feed spent two and a half minutes on it. Here the run's shard and the index keep
        one pooled connection each while the run writes, and the index row and the check's execution
        row go in one transaction (two commits per result instead of three). Same statements, same
        files: readers (the webserver, the daemon) see what they would see.
        """
        dagster_event = event.dagster_event
        if (
            dagster_event is None
            or dagster_event.event_type != DagsterEventType.ASSET_CHECK_EVALUATION
            or not event.run_id
        ):
            super().store_event(event)
            return
        insert = self.prepare_insert_event(event)
        with self._writer_lock:
            with self._pooled_connection(event.run_id) as conn:
                conn.execute(insert)
            with self._pooled_connection(INDEX_SHARD_NAME) as conn:
                event_id = conn.execute(insert).inserted_primary_key[0]
                self._writing.index = conn
                try:
                    self.store_asset_check_event(event, event_id)  # its index_connection() is `conn`
                finally:
                    self._writing.index = None

    @property
    def supports_asset_checks(self) -> bool:
        """Whether the index has the asset-check tables, asked once: the parent asks SQLite for every
        check result it stores, each time through a new engine and connection (~1 ms; 4.4 of 26 s
        of profiled bookkeeping for 3,650 results of one staging step over 730 days). The tables,
        once there, stay until `wipe()`."""
        if not self._has_check_tables:
            self._has_check_tables = bool(super().supports_asset_checks)
        return self._has_check_tables

    def index_connection(self) -> Any:
        shared = getattr(self._writing, "index", None)
        return nullcontext(shared) if shared is not None else super().index_connection()

    @contextmanager
    def _pooled_connection(self, shard: str) -> Iterator[Connection]:
        """A transaction on a kept connection to `shard`: the index, or the run being written (the
        previous run's engine is disposed when another run writes)."""
        engine = self._writer_engines.get(shard)
        if engine is None:
            if shard != INDEX_SHARD_NAME:  # one run's shard at a time
                for run_shard in [s for s in self._writer_engines if s != INDEX_SHARD_NAME]:
                    self._writer_engines.pop(run_shard).dispose()
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            sqlalchemy_event.listen(engine, "connect", _no_sync_per_commit)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._writer_engines[shard] = engine
        with engine.connect() as conn, conn.begin():
            yield conn

    def _dispose_writer_engines(self) -> None:
        with self._writer_lock:
            for engine in self._writer_engines.values():
                engine.dispose()
            self._writer_engines.clear()

    def wipe(self) -> None:
        self._dispose_writer_engines()
        self._has_check_tables = False
        super().wipe()

    def delete_events(self, run_id: str) -> None:
        self._dispose_writer_engines()
        super().delete_events(run_id)

    def dispose(self) -> None:
        self._dispose_writer_engines()
        super().dispose()

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """One "check planned" row per partition, as the parent writes, but serialized once.

        A range run plans every asset check for every partition of the range. The parent builds
        one multi-row INSERT whose every row serializes the same event again (and the event itself
        lists the range's partitions): for our 100-odd checks over 730 load dates that was most of the
        minute and a half a two-year run spent before its first step. Here the event is serialized
        once and the rows go in as one executemany of a statement compiled once.
        """
        planned = event.get_dagster_event().event_specific_data
        subset = getattr(planned, "partitions_subset", None)
        partition_keys = subset.get_partition_keys() if subset else [None]
        common = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(), [{**common, "partition": key} for key in partition_keys]
            )
