"""Shared fixtures: real warehouses (a DuckDB file, a fresh PostgreSQL database) and a Dagster instance."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aca_warehouse.resources.warehouse import WarehouseResource

from .shared import (
    RecordedRun,
    SharedWarehouses,
    build_once,
    drop_shared_databases,
    session_root,
    worker_copy,
)

# Test data spans several years: a fixed first partition for the code location's own settings (the
# start derived from landing files has its own tests; definitions_for() passes TEST_PARTITION_START).
os.environ.setdefault("ACA_PARTITION_START", "2020-01-01")
PG_ADMIN_DSN = os.environ.get("ACA_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
WAREHOUSE_KINDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
# A fresh member-key secret per test session: nothing shipped, and the leak scans can look for it.
# Set in the environment when the controller loads this file, so every xdist worker (started after,
# with that environment) has the same one: warehouses built once per session are keyed with it.
TEST_MEMBER_KEY_SECRET = os.environ.setdefault(
    "ACA_TEST_SESSION_MEMBER_KEY_SECRET", "test-" + secrets.token_urlsafe(24)
)
UNIT_DIR = Path(__file__).resolve().parent / "unit"


def pg_dsn_for(dbname: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + dbname


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The `unit` marker is the folder: every test in unit/ has it, and no other test may claim it.
    Postgres tests run when the server answers; in CI an unreachable server is a failure."""
    for item in items:
        in_unit = UNIT_DIR in Path(str(item.path)).resolve().parents
        if in_unit:
            item.add_marker(pytest.mark.unit)
        elif item.get_closest_marker("unit"):
            raise pytest.UsageError(
                f"{item.nodeid} is marked unit outside aca_warehouse_tests/unit/: move it there "
                "(no warehouse, no dbt, no Dagster run) or drop the marker"
            )
    # Under xdist (--dist loadgroup) a worker takes the next test (or xdist group) in this order when it
    # is free: the slow ones first, the seconds-long unit tests last, so they fill in at the end rather
    # than a minutes-long test starting when everything else is done. (xdist puts groups of many tests
    # first anyway.) A stable sort: the order within each class stays the collection order.
    items.sort(
        key=lambda item: 0 if item.get_closest_marker("slow") else 2 if item.get_closest_marker("unit") else 1
    )
    _keep_xdist_groups(config, items)
    if not any("postgres" in item.keywords for item in items):
        return
    if postgres_available():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            f"CI is set but PostgreSQL does not answer at {PG_ADMIN_DSN}; start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)"
        )
    skip = pytest.mark.skip(reason=f"PostgreSQL not reachable at {PG_ADMIN_DSN}")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep tests away from the developer's own data/ and .env: every path points into a temp dir."""
    root = tmp_path_factory.mktemp("aca_env")
    saved = dict(os.environ)
    os.environ["ACA_WAREHOUSE"] = "duckdb"
    os.environ["ACA_DUCKDB_PATH"] = str(root / "default.duckdb")
    os.environ["ACA_LANDING_DIR"] = str(root / "landing")
    os.environ["ACA_MEMBER_KEY_SECRET"] = TEST_MEMBER_KEY_SECRET
    os.environ.pop("ACA_DEMO_SECRET", None)
    os.environ["ACA_DBT_PARSE_CACHE"] = str(root / "dbt-parse-cache")
    os.environ["ACA_REPORTS_DIR"] = str(root / "reports")
    os.environ.setdefault("DAGSTER_HOME", str(root / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def make_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], WarehouseResource]]:
    """Factory of empty warehouses: a new DuckDB file, or a new PostgreSQL database (dropped at the end)."""
    created_pg: list[str] = []

    def factory(kind: str) -> WarehouseResource:
        name = f"aca_test_{uuid.uuid4().hex[:10]}"
        if kind == "duckdb":
            path = tmp_path_factory.mktemp("wh") / f"{name}.duckdb"
            return WarehouseResource(
                kind="duckdb", duckdb_path=str(path), member_key_secret=TEST_MEMBER_KEY_SECRET
            )
        if kind == "postgres":
            created_pg.append(name)
            return WarehouseResource(
                kind="postgres", pg_dsn=pg_dsn_for(name), member_key_secret=TEST_MEMBER_KEY_SECRET
            )
        raise ValueError(kind)

    yield factory
    if created_pg:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            for name in created_pg:
                admin.execute(f'drop database if exists "{name}" with (force)')


DEMO_START = "2025-12-01"
DEMO_DAYS = 45


def _keep_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `xdist_group` work again. pytest-xdist 3.8 puts a test in its group by appending `@group` to
    `item._nodeid`, but pytest 9.2 reads a node's id from `item._id`: the suffix was lost and every test
    of a group was scheduled on its own (both workers started their own `dagster dev` for the webserver
    group, and each built the demo). Set the id pytest reads, as xdist means to."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or not config.getoption("loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        marks = item.iter_markers("xdist_group")
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        if names and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The controller (or the only process) drops the PostgreSQL databases the workers shared."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or factory._basetemp is None:  # nothing was built
        return
    try:
        drop_shared_databases(session_root(factory), PG_ADMIN_DSN)
    except Exception as exc:  # the server went away: say so, do not hide the test outcome
        print(f"could not drop the shared test databases: {exc}")


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small clean landing set from the project's generator (crosses a plan-year boundary); generated once
    per session, shared by the workers: read it, copy it to change it."""
    from datetime import date

    from aca_warehouse.generator import generate

    def build(folder: Path) -> Path:
        out = folder / "landing"
        generate(
            out, members=150, start=date.fromisoformat(DEMO_START), days=DEMO_DAYS, seed=7, progress=False
        )
        return out

    return build_once(tmp_path_factory, "demo_landing", build)


@pytest.fixture(scope="session")
def demo_landing_first_date() -> str:
    return DEMO_START


def _load_demo(
    kind: str, tmp_path_factory: pytest.TempPathFactory, demo_landing: Path
) -> tuple[WarehouseResource, RecordedRun]:
    """The demo loaded once per session (whichever worker asks first); each worker gets its own copy
    of a DuckDB file, and the PostgreSQL database is shared: its users only read it."""

    def build(folder: Path) -> tuple[WarehouseResource, RecordedRun]:
        from datetime import date, timedelta

        from dagster import DagsterInstance

        from .pipeline import definitions_for, run_range

        warehouse = SharedWarehouses(tmp_path_factory, folder, pg_dsn_for)(kind)
        defs = definitions_for(warehouse, demo_landing)
        last = (date.fromisoformat(DEMO_START) + timedelta(days=DEMO_DAYS - 1)).isoformat()
        with DagsterInstance.ephemeral() as instance:
            result = run_range(defs, instance, DEMO_START, last)
        assert result.success, [e.message for e in result.get_step_failure_events()]
        return warehouse, RecordedRun(result)

    warehouse, result = build_once(tmp_path_factory, f"demo_{kind}", build)
    return worker_copy(warehouse, tmp_path_factory), result


@pytest.fixture(scope="session")
def loaded_duckdb_demo(tmp_path_factory: pytest.TempPathFactory, demo_landing: Path):  # noqa: ANN201
    """The demo landing set loaded through every layer into a DuckDB warehouse (one range run)."""
    return _load_demo("duckdb", tmp_path_factory, demo_landing)


@pytest.fixture(scope="session")
def loaded_postgres_demo(tmp_path_factory: pytest.TempPathFactory, demo_landing: Path):  # noqa: ANN201
    """The same demo landing set loaded into a PostgreSQL database (read-only for its users)."""
    return _load_demo("postgres", tmp_path_factory, demo_landing)


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory, demo_landing: Path):  # noqa: ANN201
    """One `dagster dev` (webserver + daemon, the running landing sensor) on the demo landing set, shared
    by the modules of xdist_group "webserver" (the group keeps them on one worker; see dagster_ui.py)."""
    import shutil

    from .dagster_ui import dagster_dev_running

    workdir = tmp_path_factory.mktemp("dagster_dev")
    landing = workdir / "landing"  # a copy: tests drop files into it for the sensor
    shutil.copytree(demo_landing, landing)
    with dagster_dev_running(workdir, landing) as dev:
        yield dev
