"""Killed loads: `aca-warehouse run` killed with SIGKILL while staging, while dbt builds and while the quality
history is written, then run again, ends with the marts of an uninterrupted load; nothing a killed run
leaves behind (temp folder, Dagster home, logs) holds the member-key secret or a PHI value. On PostgreSQL
the chain follows the README's least-privilege path: a full run as postgres, `pg-roles`, then runs as
aca_loader. Both chains use the hand-made landing set plus files that must be ignored and reported."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from aca_warehouse.resources import WarehouseResource
from aca_warehouse.settings import parse_pg_dsn

from ..pipeline import table_rows

pytestmark = pytest.mark.slow

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
FEEDS = ("plans", "members", "enrollment_events", "products", "providers", "claims", "premiums")
# When to kill (a line of the run's console log, DEBUG level)
AT_STAGING = r" - staging__\w+ - loaded: "  # a feed is staged, the others are not yet
AT_DBT = r" - aca_dbt_models - .*ASSET_MATERIALIZATION"  # dbt has built its first models, not the rest
AT_QUALITY = r" - quality__data_quality - STEP_START"
RUN_TIMEOUT = 600


def landing_set(root: Path) -> Path:
    """The hand-made files, plus a misnamed, an impossible, a future and a linked-from-outside file."""
    shutil.copytree(HANDMADE, root)
    (root / "expected.yaml").unlink()
    claims = root / "claims_system" / "claims"
    source = claims / "claims_2025-03-03.csv"
    shutil.copy(source, claims / "claims_2025-13-01.csv")
    shutil.copy(source, claims / "claims_２０２５-03-04.csv")
    future = datetime.now(UTC).date() + timedelta(days=40)
    shutil.copy(source, claims / f"claims_{future}.csv")
    outside = root.parent / f"{root.name}-outside.csv"
    shutil.copy(source, outside)
    (claims / "claims_2025-03-02.csv").symlink_to(outside)
    return root


def ignored_names() -> list[str]:
    return ["claims_2025-13-01.csv", "claims_２０２５-03-04.csv", "claims_2025-03-02.csv"]


def phi_values() -> list[str]:
    """PHI of the hand-made member snapshot: values that must stay in restricted staging."""
    path = HANDMADE / "exchange" / "members" / "members_2025-03-01.csv"
    values: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            for column in ("ssn", "email", "phone", "address_line1"):
                value = (row.get(column) or "").strip()
                if len(value) >= 7 and not value.isspace():
                    values.add(value)
    assert len(values) >= 5
    return sorted(values)


@dataclass
class Chain:
    """One warehouse's runs: the environment they share and what each printed."""

    root: Path
    env: dict[str, str]
    landing: Path
    outputs: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def scanned(self) -> list[Path]:
        """Where a run may leave files: its temp folder, the Dagster home, dbt's parse cache."""
        return [
            Path(self.env["TMPDIR"]),
            Path(self.env["DAGSTER_HOME"]),
            Path(self.env["ACA_DBT_PARSE_CACHE"]),
        ]

    def run(self, *args: str, kill_at: str | None = None, **env: str) -> tuple[int, str]:
        """`aca-warehouse <args>` as a separate process group; with `kill_at`, SIGKILL the whole group
        (dbt included) when a console line matches it."""
        clock = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "aca_warehouse.cli", *args],
            env={**self.env, **env}, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        watchdog = threading.Timer(RUN_TIMEOUT, lambda: os.killpg(process.pid, signal.SIGKILL))
        watchdog.start()
        lines: list[str] = []
        killed = False
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if kill_at and re.search(kill_at, line):
                os.killpg(process.pid, signal.SIGKILL)
                killed = True
                break
        process.stdout.close()
        code = process.wait()
        watchdog.cancel()
        output = "".join(lines)
        self.outputs.append(output)
        self.seconds.append(round(time.monotonic() - clock, 1))
        print(f"aca-warehouse {' '.join(args[:1])} (kill at {kill_at}): {self.seconds[-1]} s", flush=True)
        if kill_at:
            assert killed, f"the run ended before {kill_at!r}:\n{output[-3000:]}"
        return code, output

    def load(self, kill_at: str | None = None, **env: str) -> str:
        code, output = self.run("run", "--landing", str(self.landing), "--quiet", kill_at=kill_at, **env)
        if kill_at is None:
            assert code == 0, output[-5000:]
            assert "STEP_FAILURE" not in output and "Asset checks:" in output
        else:
            assert code == -signal.SIGKILL
        return output

    def leaks(self, secret: str, phi: list[str], *, allow_phi_in: tuple[str, ...] = ()) -> list[str]:
        """Every file or output that holds the secret or a PHI value (PHI allowed only under `allow_phi_in`)."""
        found: list[str] = []
        for number, output in enumerate(self.outputs):
            found += [f"output of run {number}: {what}" for what in _hits(output.encode(), secret, phi)]
        for root in self.scanned:
            for path in sorted(root.rglob("*")) if root.exists() else []:
                if path.is_symlink() or not path.is_file():
                    continue
                hits = _hits(path.read_bytes(), secret, phi)
                if any(part.startswith(allow_phi_in) for part in path.parts) if allow_phi_in else False:
                    hits = [h for h in hits if h == "the secret"]
                found += [f"{path}: {what}" for what in hits]
        return found


def _hits(data: bytes, secret: str, phi: list[str]) -> list[str]:
    hits = ["the secret"] if secret.encode() in data else []
    return hits + [f"PHI {value[:3]}..." for value in phi if value.encode() in data]


def new_chain(root: Path, **env: str) -> Chain:
    root.mkdir(parents=True)
    for name in ("tmp", "dagster_home"):
        (root / name).mkdir()
    landing = landing_set(root / "landing")
    base = {
        **os.environ,
        "TMPDIR": str(root / "tmp"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "ACA_DBT_PARSE_CACHE": str(root / "dbt-parse-cache"),
        "ACA_LANDING_DIR": str(landing),
        "ACA_LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
    }
    return Chain(root, {**base, **env}, landing)


def warehouse_state(warehouse: WarehouseResource) -> dict[str, object]:
    """What must be the same after any number of killed runs as after one uninterrupted load: every mart
    (but the KPI mart's durations and times), staged and quarantined rows per feed, the core facts."""
    with warehouse.connect() as conn:
        marts = [r[0] for r in conn.fetchall(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        )]  # fmt: skip
        counts = {
            feed: (
                conn.scalar(f"select count(*) from staging.{feed}"),
                conn.scalar("select count(*) from staging.quarantine where feed = %s", [feed]),
            )
            for feed in FEEDS
        }
        reconciled = conn.scalar(
            "select count(*) from staging.load_audit where status = 'loaded' "
            "and rows_read <> rows_staged + rows_quarantined"
        )
    state: dict[str, object] = {"staging": counts, "unreconciled loads": reconciled}
    for table in marts:
        if table != "data_quality_kpis":
            state[f"marts.{table}"] = table_rows(warehouse, f"marts.{table}")
    for table in ("core.fct_claim_lines", "core.fct_premiums", "core.dim_member", "core.fct_coverage_spans"):
        state[table] = table_rows(warehouse, table)
    return state


@pytest.fixture(scope="module")
def secret() -> str:
    return os.environ["ACA_MEMBER_KEY_SECRET"]


@pytest.mark.duckdb
@pytest.mark.xdist_group("kill_duckdb")  # the two chains take minutes each: let two workers share them
def test_duckdb_loads_killed_at_staging_dbt_and_quality_recover_and_leave_no_secret_or_phi(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource], secret: str
) -> None:
    from dagster import DagsterInstance

    from ..pipeline import definitions_for, run_range

    chain = new_chain(tmp_path / "chain", ACA_WAREHOUSE="duckdb", ACA_DUCKDB_PATH=str(tmp_path / "wh.duckdb"))
    warehouse = WarehouseResource(kind="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    # An uninterrupted load of the same files into another warehouse: what the killed chain must reach.
    uninterrupted = make_warehouse("duckdb")
    with DagsterInstance.ephemeral() as instance:
        result = run_range(
            definitions_for(uninterrupted, chain.landing), instance, "2025-03-01", "2025-03-03"
        )
    assert result.success
    expected = warehouse_state(uninterrupted)

    chain.load(kill_at=AT_STAGING)
    stale = sorted(p.name for p in Path(chain.env["TMPDIR"]).iterdir())
    # right after a kill: no secret anywhere; PHI only in the dead run's private staging scratch
    assert chain.leaks(secret, phi_values(), allow_phi_in=("aca_staging_",)) == []
    chain.load(kill_at=AT_DBT)
    # dbt's scratch (compiled SQL, run results, its log) outlives the killed run: it holds no secret
    assert any(p.name.startswith("aca-dbt-") for p in Path(chain.env["TMPDIR"]).iterdir())
    assert chain.leaks(secret, phi_values(), allow_phi_in=("aca_staging_",)) == []
    chain.load(kill_at=AT_QUALITY)
    final = chain.load()

    assert warehouse_state(warehouse) == expected
    for name in ignored_names():
        assert re.search(rf"ignored claims_system/claims/{re.escape(name)}: \S", final), name
    assert re.search(
        r"ignored claims_system/claims/claims_\d{4}-\d\d-\d\d\.csv: load date .* is in the future", final
    )
    assert not any(n.startswith(("aca_staging_", "aca-dbt-")) for n in os.listdir(chain.env["TMPDIR"])), stale
    assert chain.leaks(secret, phi_values()) == []


@pytest.mark.postgres
@pytest.mark.xdist_group("kill_postgres")
def test_postgres_readme_path_with_killed_loads_as_the_loader_recovers(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource], secret: str
) -> None:
    """README: `make run` as postgres, `aca-warehouse pg-roles`, then every run as aca_loader; here those
    runs are killed while staging and while dbt builds, and the last one must equal the first."""
    from aca_warehouse.postgres_roles import ANALYST_ROLE, LOADER_ROLE

    admin = make_warehouse("postgres")
    params = parse_pg_dsn(admin.pg_dsn)
    loader_dsn = f"postgresql://{LOADER_ROLE}@{params.host}:{params.port}/{params.dbname}"
    chain = new_chain(tmp_path / "chain", ACA_WAREHOUSE="postgres", ACA_PG_DSN=admin.pg_dsn)

    chain.load()  # 1. the first full load, as the server's superuser (creates the database)
    expected = warehouse_state(admin)
    code, output = chain.run("pg-roles")  # 2. the least-privilege roles take over
    assert code == 0 and "existing object(s) handed over" in output, output
    for path in chain.landing.rglob("*_2025-03-0?.*"):  # re-delivered (same rows): staging reloads them
        if not path.is_symlink():
            path.write_bytes(path.read_bytes() + b"\n")
    as_loader = {"ACA_PG_DSN": loader_dsn}  # 3. from now on the pipeline runs as aca_loader
    chain.load(kill_at=AT_STAGING, **as_loader)
    chain.load(kill_at=AT_DBT, **as_loader)
    chain.load(**as_loader)

    assert warehouse_state(admin) == expected
    with psycopg.connect(admin.pg_dsn) as conn:
        owners = dict(conn.execute(
            "select tableowner, count(*) from pg_tables where schemaname in ('staging', 'core', 'marts') "
            "group by tableowner"
        ).fetchall())  # fmt: skip
    assert set(owners) == {LOADER_ROLE}, owners
    analyst = f"postgresql://{ANALYST_ROLE}@{params.host}:{params.port}/{params.dbname}"
    with psycopg.connect(analyst, autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.plan_month").fetchone()[0] > 0
        for table in ("staging.members", "staging.quarantine", "core.dim_member", "core.fct_data_quality"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select * from {table} limit 1")
    assert chain.leaks(secret, phi_values()) == []
