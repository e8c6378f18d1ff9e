"""Expensive fixtures built ONCE per test session and shared by every pytest-xdist worker.

Under xdist every worker is its own process with its own session fixtures, so a session fixture
alone is built once per worker. `build_once` builds under a file lock in the folder all workers of
a session share (the parent of a worker's base temp; the base temp itself without xdist): the
first worker to ask builds and pickles the value, the others wait for the lock and unpickle it.

What may be shared:
- PostgreSQL databases made by `SharedWarehouses` are read by several workers; they are dropped by
  the controller when the whole session ends (`drop_shared_databases`), never by a worker.
- A DuckDB file allows one process at a time: `worker_copy` gives each worker its own copy.
- A Dagster run result is not picklable; `RecordedRun` keeps its events (Dagster serdes) and
  answers the ExecutionResult questions the tests ask (events, materializations, checks, success).
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dagster import ConfigurableResource, DagsterEvent
from dagster._core.execution.execution_result import ExecutionResult
from dagster._serdes import deserialize_value, serialize_value
from filelock import FileLock

from aca_warehouse.resources.warehouse import WarehouseResource

T = TypeVar("T")
SHARED_DATABASES_FILE = "shared-pg-databases.txt"


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every worker of this test session sees (the controller's base temp)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """`build(folder)` run once per session whatever the number of workers; its value pickled for the rest.

    A build that raised is not retried by the next worker (it would fail the same way, minutes later):
    the next worker fails at once and names the first failure.
    """
    root = session_root(tmp_path_factory)
    folder = root / f"shared-{name}"
    value_file, failed_file = folder / "value.pickle", folder / "FAILED"
    with FileLock(str(root / f"shared-{name}.lock")):
        if value_file.exists():
            return pickle.loads(value_file.read_bytes())
        if failed_file.exists():
            raise RuntimeError(
                f"building the shared fixture {name!r} failed earlier in this session:\n"
                + failed_file.read_text()
            )
        folder.mkdir(parents=True, exist_ok=True)
        try:
            value = build(folder)
        except Exception:
            failed_file.write_text(
                f"worker {os.environ.get('PYTEST_XDIST_WORKER', 'master')}:\n" + traceback.format_exc()
            )
            raise
        value_file.write_bytes(_dumps(value))
    # The builder, too, gets the value back from the file: every worker sees the same thing.
    return pickle.loads(value_file.read_bytes())


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer).dump(value)
    return buffer.getvalue()


class _Pickler(pickle.Pickler):
    """Pickles Dagster resources by their field values (their own pickling drags in config schema
    objects that do not unpickle)."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, ConfigurableResource):
            return _rebuild_resource, (type(obj), obj.model_dump())
        return NotImplemented


def _rebuild_resource(cls: type[ConfigurableResource], fields: dict[str, Any]) -> ConfigurableResource:
    return cls(**fields)


class SharedWarehouses:
    """Factory of empty warehouses for `build_once`: DuckDB files in the build's folder, PostgreSQL
    databases recorded for the controller to drop at the end of the session."""

    def __init__(
        self, tmp_path_factory: pytest.TempPathFactory, folder: Path, pg_dsn_for: Callable[[str], str]
    ):
        self.root = session_root(tmp_path_factory)
        self.folder = folder
        self.pg_dsn_for = pg_dsn_for

    def __call__(self, kind: str) -> WarehouseResource:
        name = f"aca_test_shared_{uuid.uuid4().hex[:10]}"
        if kind == "duckdb":
            return WarehouseResource(
                kind="duckdb",
                duckdb_path=str(self.folder / f"{name}.duckdb"),
                member_key_secret=session_member_key_secret(),
            )
        if kind == "postgres":
            with (
                FileLock(str(self.root / f"{SHARED_DATABASES_FILE}.lock")),
                (self.root / SHARED_DATABASES_FILE).open("a") as listing,
            ):
                listing.write(name + "\n")
            return WarehouseResource(
                kind="postgres", pg_dsn=self.pg_dsn_for(name), member_key_secret=session_member_key_secret()
            )
        raise ValueError(kind)


def drop_shared_databases(root: Path, admin_dsn: str) -> None:
    """Drop the session's shared PostgreSQL databases (the controller, once every worker is done)."""
    listing = root / SHARED_DATABASES_FILE
    if not listing.exists():
        return
    import psycopg

    names = [n for n in listing.read_text().split() if n]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(f'drop database if exists "{name}" with (force)')
    listing.unlink()


def session_member_key_secret() -> str:
    """The test session's member-key secret (conftest.py sets it before the workers start)."""
    return os.environ["ACA_TEST_SESSION_MEMBER_KEY_SECRET"]


def worker_copy(warehouse: WarehouseResource, tmp_path_factory: pytest.TempPathFactory) -> WarehouseResource:
    """A DuckDB warehouse copied into this worker's temp (one writer per file); PostgreSQL as it is."""
    if warehouse.kind != "duckdb":
        return warehouse
    source = Path(warehouse.duckdb_path)
    target = tmp_path_factory.mktemp("wh_copy") / source.name
    shutil.copy2(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, target.with_name(target.name + ".wal"))
    # A new resource, not model_copy(update=...): Dagster reads a resource's config from its
    # constructor arguments, which model_copy leaves as they were.
    return WarehouseResource(
        kind="duckdb", duckdb_path=str(target), member_key_secret=warehouse.member_key_secret
    )


class RecordedRun(ExecutionResult):
    """A finished Dagster run as a test reads it, kept as its events (Dagster serdes) so that it pickles.

    Dagster's own ExecutionResult methods answer from the events (`get_asset_materialization_events()`,
    `asset_materializations_for_node(...)`, `get_asset_check_evaluations()`, `get_step_failure_events()`
    ...); only what needs the job definition (outputs) is not available.
    """

    def __init__(self, result: ExecutionResult) -> None:
        self._run_id = result.run_id
        self._success = result.success
        self._events = serialize_value(list(result.all_events))

    @property
    def all_events(self) -> Sequence[DagsterEvent]:
        return deserialize_value(self._events, as_type=list)

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def success(self) -> bool:
        return self._success

    @property
    def job_def(self) -> Any:
        raise NotImplementedError("a recorded run keeps its events, not its job")

    @property
    def dagster_run(self) -> Any:
        raise NotImplementedError("a recorded run keeps its events, not its DagsterRun")

    def _get_output_for_handle(self, handle: Any, output_name: str) -> object:
        raise NotImplementedError("a recorded run keeps its events, not its outputs")
