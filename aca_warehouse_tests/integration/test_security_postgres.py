"""PostgreSQL robustness: pg-roles hands over what already exists, two runs may create the database at once,
and a DSN that cannot work fails once, fast, masked (issue: security and robustness, item 3 and after)."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from aca_warehouse.resources import WarehouseResource
from aca_warehouse.settings import parse_pg_dsn
from aca_warehouse_tests.conftest import PG_ADMIN_DSN, pg_dsn_for

pytestmark = pytest.mark.postgres

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"


def test_pg_roles_hands_over_tables_partitions_views_and_sequences_already_there(
    make_warehouse: Callable[[str], WarehouseResource],
) -> None:
    """What a first `make run` as postgres left behind changes owner, so the loader can rebuild it."""
    from aca_warehouse.postgres_roles import ANALYST_ROLE, LOADER_ROLE, setup_roles

    warehouse = make_warehouse("postgres")
    with warehouse.connect() as conn:
        conn.execute("create table staging.members (member_id text, ssn text)")
        conn.execute("create table staging.numbered (id integer generated always as identity, x text)")
        conn.execute("create sequence core.free_standing")
        conn.execute(
            "create table core.fct_claim_lines (service_month date, paid numeric) partition by range (service_month)"
        )
        conn.execute(
            "create table core.fct_claim_lines_202503 partition of core.fct_claim_lines "
            "for values from ('2025-03-01') to ('2025-04-01')"
        )
        conn.execute("create table marts.plan_month (hios_plan_id text, member_months int)")
        conn.execute("insert into marts.plan_month values ('12345TX0010001-01', 3)")
        conn.execute("create view marts.plan_month_view as select * from marts.plan_month")
    setup_roles(warehouse)

    with psycopg.connect(warehouse.pg_dsn) as conn:
        owners = conn.execute(
            "select c.relname, pg_get_userbyid(c.relowner) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('staging', 'core', 'marts') and c.relkind in ('r', 'p', 'v', 'S') order by 1"
        ).fetchall()
    assert {owner for _, owner in owners} == {LOADER_ROLE}, owners
    assert len(owners) == 8  # the identity column's sequence included
    params = parse_pg_dsn(warehouse.pg_dsn)
    loader = f"postgresql://{LOADER_ROLE}@{params.host}:{params.port}/{params.dbname}"
    with psycopg.connect(loader, autocommit=True) as conn:  # the loader may now rebuild and re-index
        conn.execute("create index if not exists members_id on staging.members (member_id)")
        conn.execute("insert into staging.numbered (x) values ('a')")
        conn.execute("drop view marts.plan_month_view")
        conn.execute("alter table core.fct_claim_lines_202503 rename to fct_claim_lines_202503_old")
    analyst = f"postgresql://{ANALYST_ROLE}@{params.host}:{params.port}/{params.dbname}"
    with psycopg.connect(analyst, autocommit=True) as conn:
        assert conn.execute("select member_months from marts.plan_month").fetchone() == (3,)


def test_two_runs_starting_on_a_new_database_both_succeed() -> None:
    """Several connections open a database that does not exist yet at the same moment: one creates it,
    the others find it (no unique violation on pg_database, nor on pg_namespace for the schemas)."""
    names = [f"aca_test_race_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    try:
        for name in names:
            warehouses = [WarehouseResource(kind="postgres", pg_dsn=pg_dsn_for(name)) for _ in range(4)]
            barrier = threading.Barrier(len(warehouses))
            errors: list[BaseException] = []

            def open_once(
                warehouse: WarehouseResource,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                barrier.wait()
                try:
                    with warehouse.connect() as conn:
                        conn.scalar("select 1")
                except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                    errors.append(exc)

            threads = [threading.Thread(target=open_once, args=(w,)) for w in warehouses]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == [], [str(e) for e in errors]
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            for name in names:
                admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def landing(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "landing"
    shutil.copytree(HANDMADE, root)
    (root / "expected.yaml").unlink()
    yield root


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        ("postgresql://loader:pw-Secret-123@127.0.0.1:not-a-port/aca", "ACA_PG_DSN has an invalid port"),
        ("postgresql://loader:pw-Secret-123@no-such-host.invalid:5432/aca", "check the host name"),
        ("postgresql://no_such_role:pw-Secret-123@127.0.0.1:5432/aca", "check the user and password"),
    ],
    ids=["malformed", "unknown host", "unknown role"],
)
def test_a_dsn_that_cannot_work_fails_once_fast_and_masked(
    dsn: str,
    says: str,
    landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aca_warehouse.cli import main

    monkeypatch.setenv("ACA_WAREHOUSE", "postgres")
    monkeypatch.setenv("ACA_PG_DSN", dsn)
    clock = time.monotonic()
    code = main(["run", "--landing", str(landing), "--quiet"])
    seconds = time.monotonic() - clock
    out, err = capsys.readouterr()
    assert code == 1
    text = out + err
    assert "pw-Secret-123" not in text
    assert "Traceback" not in text and "STEP_FAILURE" not in text  # the run never started
    errors = [line for line in err.splitlines() if line.startswith("aca-warehouse: error:")]
    assert len(errors) == 1 and says in err, err
    causes = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(causes) <= 2 and len(err.splitlines()) <= 4, err  # one line per cause
    assert seconds < 10, seconds
