"""The embedded instance (deploy/dagster.dev.yaml): SQLite event log with batched range writes."""

from __future__ import annotations

import inspect
import shutil
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    MaterializeResult,
    Output,
    asset,
    materialize,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.test_utils import instance_for_test

from aca_warehouse.dagster_storage import BatchedSqliteEventLogStorage

DEV_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "dagster.dev.yaml"
daily = DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)


@asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
def upstream_days() -> MaterializeResult:
    return MaterializeResult(metadata={"rows": 3})


@asset(
    partitions_def=daily,
    backfill_policy=BackfillPolicy.single_run(),
    deps=[upstream_days],
    check_specs=[AssetCheckSpec("rows_positive", asset="downstream_days")],
)
def downstream_days() -> MaterializeResult:
    return MaterializeResult(
        metadata={"rows": 5}, check_results=[AssetCheckResult(check_name="rows_positive", passed=True)]
    )


@pytest.fixture
def dev_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEV_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    return home


def test_range_run_records_every_partition_through_batched_sqlite(
    dev_home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with DagsterInstance.from_config(str(dev_home)) as instance:
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        result = materialize(
            [upstream_days, downstream_days],
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2024-01-01",
                "dagster/asset_partition_range_end": "2024-02-29",
            },
        )
        assert result.success
        run_id = result.run_id
    # Dagster falls back to one-by-one writes when a batch write raises; that must not happen.
    assert "Exception while storing event batch" not in capfd.readouterr().err
    # The files are where Dagster's default SQLite instance keeps them ...
    assert (dev_home / "history" / "runs" / f"{run_id}.db").exists()
    assert (dev_home / "history" / "runs" / "index.db").exists()
    # ... and a second process reading them (the webserver, the daemon) sees every partition.
    with DagsterInstance.from_config(str(dev_home)) as reader:
        for key in (AssetKey("upstream_days"), AssetKey("downstream_days")):
            assert len(reader.get_materialized_partitions(key)) == 60
            latest = reader.get_latest_materialization_event(key)
            assert latest is not None and latest.dagster_event.partition == "2024-02-29"
        records = reader.fetch_materializations(AssetKey("downstream_days"), limit=100).records
        assert len(records) == 60
        assert {r.partition_key for r in records} == {
            f"2024-{m:02d}-{d:02d}" for m, days in ((1, 31), (2, 29)) for d in range(1, days + 1)
        }
        assert records[0].asset_materialization.metadata["rows"].value == 5
        run_events = reader.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        assert len(run_events) == 120
        # The check was planned for every partition of the range (one row each, written at once),
        # and its result for the range is recorded once, as Dagster's own storage does.
        history = reader.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("downstream_days"), "rows_positive"), limit=100
        )
        assert {h.run_id for h in history} == {run_id}
        planned = [h for h in history if h.status == AssetCheckExecutionRecordStatus.PLANNED]
        assert sorted(h.partition for h in planned) == sorted(r.partition_key for r in records)
        assert [h.status for h in history if h.partition is None] == [
            AssetCheckExecutionRecordStatus.SUCCEEDED
        ]
        assert planned[0].event.dagster_event.event_specific_data.check_name == "rows_positive"


def test_single_partition_runs_store_events_one_by_one(dev_home: Path) -> None:
    with DagsterInstance.from_config(str(dev_home)) as instance:
        for day in ("2024-03-01", "2024-03-02"):
            assert materialize([upstream_days], instance=instance, partition_key=day).success
        assert instance.get_materialized_partitions(AssetKey("upstream_days")) == {"2024-03-01", "2024-03-02"}


@asset(
    partitions_def=daily,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec("day_ok", asset="checked_days", blocking=True),
        AssetCheckSpec("day_quiet", asset="checked_days"),
    ],
)
def checked_days(context) -> Iterator[MaterializeResult | AssetCheckEvaluation | Output]:  # noqa: ANN001
    """One check result per partition and check, as the staging assets report them."""
    for key in context.partition_keys:
        context.add_asset_metadata({"day": key}, partition_key=key)
    yield MaterializeResult()
    for spec in context.assets_def.check_specs:
        for key in context.partition_keys:
            yield AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=spec.name == "day_ok" or not key.endswith("-15"),
                metadata={"day": key},
                partition=key,
                blocking=spec.blocking,
                severity=AssetCheckSeverity.ERROR if spec.blocking else AssetCheckSeverity.WARN,
            )
        yield Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(spec.key))


def test_per_partition_check_results_are_stored_for_every_partition(dev_home: Path) -> None:
    """The results go through the pooled writer connections; a second reader finds one per partition
    and check, none left "planned" (the UI's "Skipped")."""
    with DagsterInstance.from_config(str(dev_home)) as instance:
        first = materialize([checked_days], instance=instance, tags=_range("2024-01-01", "2024-01-31"))
        second = materialize([checked_days], instance=instance, tags=_range("2024-02-01", "2024-02-10"))
        assert first.success and second.success
        assert instance.get_materialized_partitions(AssetKey("checked_days")) >= {"2024-01-15", "2024-02-10"}
    with DagsterInstance.from_config(str(dev_home)) as reader:
        storage = reader.event_log_storage
        ok = storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("checked_days"), "day_ok"), limit=100
        )
        quiet = storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("checked_days"), "day_quiet"), limit=100
        )
        assert sorted(h.partition for h in ok) == sorted(
            [f"2024-01-{d:02d}" for d in range(1, 32)] + [f"2024-02-{d:02d}" for d in range(1, 11)]
        )
        assert {h.status for h in ok} == {AssetCheckExecutionRecordStatus.SUCCEEDED}
        failed = [h.partition for h in quiet if h.status == AssetCheckExecutionRecordStatus.FAILED]
        assert failed == ["2024-01-15"] and len(quiet) == 41
        logged = reader.all_logs(first.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        assert len(logged) == 62  # in the run's own file too
    # The writers sync at checkpoints, not at each commit (`synchronous=NORMAL`), which keeps a file
    # consistent only in WAL mode: Dagster creates every event-log file in WAL mode.
    files = sorted((dev_home / "history" / "runs").glob("*.db"))
    assert len(files) == 3  # the index and the two runs
    for path in files:
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("pragma journal_mode").fetchone()[0] == "wal", path.name


def _range(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


# -- what dagster_storage.py relies on in Dagster (1.13.27 when measured) ---------------------------
#
# BatchedSqliteEventLogStorage is worth keeping only while Dagster (a) hands a range run's
# materializations to the storage in one `store_event_batch` call, which Dagster's own SQLite storage
# (b) still writes one by one with new connections, and (c) stores each check result, and (d) each
# partition's "planned" row, through new connections; and while (e) the private methods it calls keep
# their signatures. Measured with bench/dagster_storage_cost.py (docs/BENCHMARKS.md). When one of the
# tests below fails, Dagster has changed under it: re-measure, and remove dagster_storage.py if
# Dagster's own storage now costs about the same.


class CountingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's own SQLite event log, unchanged, counting the connections it opens per stored event."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self.connections = 0
        self.batches: list[tuple[list[DagsterEventType], int]] = []  # event types, connections opened
        self.single: list[tuple[DagsterEventType, int]] = []
        self.planned: list[Any] = []
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: Any, config_value: Mapping[str, Any]
    ) -> CountingSqliteEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value))

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        self.connections += 1
        with super()._connect(shard) as conn:
            yield conn

    def store_event_batch(self, events: Sequence[Any]) -> None:
        before = self.connections
        super().store_event_batch(events)
        self.batches.append(([e.dagster_event_type for e in events], self.connections - before))

    def store_event(self, event: Any) -> None:
        before = self.connections
        super().store_event(event)
        if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            self.planned.append(event.dagster_event.event_specific_data)
        self.single.append((event.dagster_event_type, self.connections - before))


def test_dagster_still_batches_and_its_sqlite_storage_still_writes_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    monkeypatch.setenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    storage = {
        "module": __name__,
        "class": "CountingSqliteEventLogStorage",
        "config": {"base_dir": str(tmp_path)},
    }
    with instance_for_test(overrides={"event_log_storage": storage}) as instance:
        counting = instance.event_log_storage
        assert type(counting) is CountingSqliteEventLogStorage
        assert materialize([checked_days], instance=instance, tags=_range("2024-01-01", "2024-01-10")).success
    # (a) the range's materializations reach the storage as one batch ...
    materializations = [
        opened for types, opened in counting.batches if set(types) == {DagsterEventType.ASSET_MATERIALIZATION}
    ]
    assert materializations, counting.batches
    batch_size = len(next(t for t, _ in counting.batches if DagsterEventType.ASSET_MATERIALIZATION in t))
    assert batch_size == 10
    # (b) ... which Dagster's SQLite storage writes event by event: the run's file and the index each
    # time (BatchedSqliteEventLogStorage: one statement per file for the batch).
    assert materializations[0] >= 2 * batch_size
    # (c) check results come one at a time, three new connections each (ours: two kept ones).
    results = [opened for kind, opened in counting.single if kind == DagsterEventType.ASSET_CHECK_EVALUATION]
    assert len(results) == 2 * 10 and min(results) >= 3
    # (d) one "planned" event per check lists the range's partitions; Dagster's storage writes one row
    # per partition, serializing the event again for each (ours: once).
    assert len(counting.planned) == 2
    assert all(len(p.partitions_subset.get_partition_keys()) == 10 for p in counting.planned)


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("store_event_batch", ["self", "events"]),
        ("store_event", ["self", "event"]),
        ("prepare_insert_event", ["self", "event"]),
        ("prepare_insert_event_batch", ["self", "events"]),
        ("run_connection", ["self", "run_id"]),
        ("index_connection", ["self"]),
        ("index_transaction", ["self"]),
        ("_store_asset_event_tags", ["self", "conn", "events", "event_ids"]),
        ("_store_asset_event", ["self", "conn", "event", "event_id"]),
        ("store_asset_check_event", ["self", "event", "event_id"]),
        ("_store_asset_check_evaluation_planned", ["self", "event", "event_id"]),
        ("_event_insert_timestamp", ["self", "event"]),
        ("conn_string_for_shard", ["self", "shard_name"]),
        ("_initdb", ["self", "engine", "for_index_shard"]),
        ("wipe", ["self"]),
        ("delete_events", ["self", "run_id"]),
        ("dispose", ["self"]),
    ],
)
def test_the_private_dagster_methods_it_uses_keep_their_signatures(
    method: str, parameters: list[str]
) -> None:
    assert list(inspect.signature(getattr(SqliteEventLogStorage, method)).parameters) == parameters


def test_the_check_tables_are_looked_up_once_where_dagster_looks_each_time(
    dev_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's SQLite storage asks SQLite whether the asset-check tables exist for every check result
    it stores (`supports_asset_checks` -> `has_table`, a new engine each time); ours asks once. When
    Dagster stops asking, the override (dagster_storage.py, `supports_asset_checks`) can go."""
    lookups: list[str] = []
    original = SqliteEventLogStorage.has_table

    def counted(self: SqliteEventLogStorage, table_name: str) -> bool:
        lookups.append(table_name)
        return original(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counted)
    with DagsterInstance.from_config(str(dev_home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, BatchedSqliteEventLogStorage)
        lookups.clear()  # whatever creating the storage asked
        assert storage.supports_asset_checks and storage.supports_asset_checks
        assert len(lookups) == 1
        assert SqliteEventLogStorage.supports_asset_checks.fget(storage) is True  # the parent asks again
        assert len(lookups) == 2
