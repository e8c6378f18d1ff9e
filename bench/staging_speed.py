"""Staging speed: rows/s per feed and reader, wall time and peak RSS of staging a landing set.

`load_cpu_seconds` is the CPU time of the staging process (DuckDB's threads included) while it
loads, `server_cpu_seconds` that of the session's PostgreSQL backend (read from /proc: a local
server): on a shared machine they say more than the wall time.

Each feed is staged by `load_feed_window` in a fresh process on a fresh DuckDB file (or a fresh
PostgreSQL database with `--postgres`), with the code of `--code` (default: this checkout), so
that the commit before a change can be measured side by side with the same script:

    git worktree add /tmp/engine-base a501c82
    uv run python -m bench.staging_speed --landing DIR --label after
    uv run python -m bench.staging_speed --landing DIR --label before --code /tmp/engine-base

The landing set is made with `--generate MEMBERS` (the project's generator, one year from
2025-01-01) and `--copies K` (`bench/replicate.py`), or given with `--landing`. Results are
merged into `bench/results/staging_speed.json` under the label.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from bench.measure import run_measured

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "staging_speed.json"
FEEDS = ("claims", "enrollment_events")

# Runs in the child process with the code under test first on sys.path; prints one JSON line.
_CHILD = """
import json, os, resource, sys, time
from datetime import date
from pathlib import Path
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging.loader import load_feed_window
kind, target, feed, landing = sys.argv[1:5]
if kind == "duckdb":
    warehouse = WarehouseResource(kind="duckdb", duckdb_path=target)
else:
    warehouse = WarehouseResource(kind="postgres", pg_dsn=target)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
def server_cpu(pid):
    if pid is None:
        return 0.0
    try:  # the PostgreSQL backend of this session, when it runs on this machine
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
with warehouse.connect() as conn:
    backend = None if kind == "duckdb" else conn.scalar("select pg_backend_pid()")
    started, started_cpu, started_server = time.perf_counter(), cpu(), server_cpu(backend)
    report = load_feed_window(conn, feed, Path(landing), date(2000, 1, 1), date(2100, 1, 1))
    seconds, cpu_seconds = time.perf_counter() - started, cpu() - started_cpu
    server_seconds = server_cpu(backend) - started_server
    columns = [c for c in conn.columns("staging", "load_audit")]
    reader = "reader" if "reader" in columns else "'python'"
    by_reader = conn.fetchall(
        f"select {reader}, count(*), sum(rows_read), sum(duration_seconds) from staging.load_audit "
        "where feed = %s and status = 'loaded' group by 1 order by 1", [feed]
    )
steps = {}
for result in report.results:
    for step, value in result.step_seconds.items():
        steps[step] = steps.get(step, 0.0) + value
print(json.dumps({
    "feed": feed,
    "files": len(report.results),
    "errors": len(report.errors),
    "rows_read": sum(r.rows_read for r in report.results),
    "rows_staged": sum(r.rows_staged for r in report.results),
    "rows_quarantined": sum(r.rows_quarantined for r in report.results),
    "load_seconds": seconds,
    "load_cpu_seconds": round(cpu_seconds, 2),
    "server_cpu_seconds": None if kind == "duckdb" else round(server_seconds, 2),
    "step_seconds": {k: round(v, 2) for k, v in steps.items()},
    "by_reader": [{"reader": r, "files": int(f), "rows": int(n), "seconds": float(s)} for r, f, n, s in by_reader],
}))
"""


def make_landing(members: int, copies: int, days: int, work: Path) -> Path:
    """Generate (and replicate) a clean landing set under `work`; its path."""
    from aca_warehouse.generator import generate

    base = work / f"base_{members}"
    if not base.exists():
        generate(base, members=members, start=date(2025, 1, 1), days=days, seed=11, progress=False)
    if copies <= 1:
        return base
    from bench.replicate import replicate

    out = work / f"rep_{members}x{copies}"
    if not out.exists():
        replicate(base, out, copies)
    return out


def _pg_database(admin_dsn: str) -> tuple[str, str]:
    import psycopg

    name = f"aca_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return name, admin_dsn.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(admin_dsn: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


def stage_feed(code: Path, kind: str, feed: str, landing: Path, work: Path, admin_dsn: str) -> dict:
    """Stage one feed in a child process; its figures, wall time and peak RSS of the process tree."""
    pg_name = None
    if kind == "duckdb":
        target = str(work / f"{feed}_{uuid.uuid4().hex[:6]}.duckdb")
    else:
        pg_name, target = _pg_database(admin_dsn)
    log = work / f"{feed}_{kind}.log"
    env = {"PYTHONPATH": str(code), "ACA_MEMBER_KEY_SECRET": "bench"}
    try:
        measured = run_measured(
            [sys.executable, "-c", _CHILD, kind, target, feed, str(landing)], env, log, cwd=code
        )
        output = log.read_text()
        if measured.returncode != 0:
            raise RuntimeError(f"staging {feed} failed:\n{output[-3000:]}")
        figures = json.loads(output.strip().splitlines()[-1])
    finally:
        if kind == "duckdb":
            for suffix in ("", ".wal"):
                Path(target + suffix).unlink(missing_ok=True)
        elif pg_name:
            _drop_pg_database(admin_dsn, pg_name)
    figures["wall_seconds"] = round(measured.seconds, 2)
    figures["peak_rss_mb"] = round(measured.peak_rss_mb, 1)
    figures["rows_per_second"] = round(figures["rows_read"] / figures["load_seconds"])
    for group in figures["by_reader"]:
        group["rows_per_second"] = round(group["rows"] / group["seconds"]) if group["seconds"] else None
    return figures


def _commit(code: Path) -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, help="an existing landing directory")
    parser.add_argument("--generate", type=int, default=10_000, help="members of the base population")
    parser.add_argument("--copies", type=int, default=10, help="replicas of the base population")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aca_staging_speed")
    parser.add_argument("--code", type=Path, default=REPO, help="checkout whose aca_warehouse is measured")
    parser.add_argument("--label", required=True, help="name of this measurement in the results file")
    parser.add_argument("--feeds", nargs="+", default=list(FEEDS))
    parser.add_argument("--postgres", action="store_true", help="also stage on a fresh PostgreSQL database")
    parser.add_argument("--engines", nargs="+", choices=["duckdb", "postgres"], help="only these engines")
    parser.add_argument(
        "--pg-admin-dsn",
        default=os.environ.get("ACA_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    landing = args.landing or make_landing(args.generate, args.copies, args.days, args.work)
    kinds = args.engines or (["duckdb", "postgres"] if args.postgres else ["duckdb"])
    measured: dict[str, dict] = {}
    for kind in kinds:
        for feed in args.feeds:
            started = time.perf_counter()
            figures = stage_feed(args.code.resolve(), kind, feed, landing, args.work, args.pg_admin_dsn)
            measured.setdefault(kind, {})[feed] = figures
            print(
                f"{args.label} {kind} {feed}: {figures['rows_read']} rows in {figures['load_seconds']:.1f}s "
                f"({figures['rows_per_second']} rows/s, CPU s {figures.get('load_cpu_seconds')} "
                f"+ server {figures.get('server_cpu_seconds')}), "
                f"peak {figures['peak_rss_mb']} MB, "
                f"readers {figures['by_reader']} [{time.perf_counter() - started:.0f}s]",
                flush=True,
            )
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("machine", {"cpus": os.cpu_count(), "python": platform.python_version()})
    results.setdefault("runs", {})[args.label] = {
        "commit": _commit(args.code),
        "landing": str(landing),
        "members": None if args.landing else args.generate * args.copies,
        "engines": measured,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
