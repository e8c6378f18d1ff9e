"""The same small load on the three warehouses, one after the other: DuckDB, PostgreSQL, Spark (lake mode).

    uv run python -m bench.engines [--members 150] [--days 45] [--kinds duckdb,postgres,spark]

For each warehouse, from nothing: `aca-warehouse run` over every load date but the last (the full
build), then `aca-warehouse run --from <last> --to <last>` (one more day, incremental), each the
CLI's own process, timed by wall clock. Figures go to bench/results/engines.json; docs/SPARK.md
("Measured timings") quotes them. Runs on the machine's PostgreSQL (ACA_BENCH_PG_ADMIN_DSN, default
postgresql://postgres@127.0.0.1:5432/postgres) in a database it creates and drops.
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
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "engines.json"
CLI = [sys.executable, "-m", "aca_warehouse.cli"]
SECRET = "bench-engines-member-key-secret-0123456789"
START = date(2025, 12, 1)


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def _timed_cli(args: list[str], env: dict[str, str], log: Path) -> float:
    began = time.monotonic()
    with log.open("a") as out:
        completed = subprocess.run([*CLI, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - began
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed (exit {completed.returncode}); see {log}")
    return round(seconds, 1)


def measure(kind: str, landing: Path, work: Path, days: int) -> dict[str, float]:
    import psycopg

    admin_dsn = os.environ.get("ACA_BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    dbname = f"aca_bench_engines_{os.getpid()}"
    folder = work / kind
    folder.mkdir()
    env = {
        **os.environ,
        "ACA_WAREHOUSE": kind,
        "ACA_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "ACA_LAKE_DIR": str(folder / "lake"),
        "ACA_SPARK_DIR": str(folder / "spark"),
        "ACA_PG_DSN": admin_dsn.rsplit("/", 1)[0] + f"/{dbname}",
        "ACA_MEMBER_KEY_SECRET": SECRET,
        "ACA_REPORTS_DIR": str(folder / "reports"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    last = (START + timedelta(days=days - 1)).isoformat()
    before_last = (START + timedelta(days=days - 2)).isoformat()
    log = folder / "run.log"
    try:
        full = _timed_cli(["run", "--landing", str(landing), "--to", before_last, "--quiet"], env, log)
        one_day = _timed_cli(
            ["run", "--landing", str(landing), "--from", last, "--to", last, "--quiet"], env, log
        )
    finally:
        if kind == "postgres":
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{dbname}" with (force)')
    return {"full_build_s": full, "one_day_s": one_day}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--kinds", default="duckdb,postgres,spark")
    args = parser.parse_args()
    from aca_warehouse.generator import generate

    with tempfile.TemporaryDirectory(prefix="aca_bench_engines_") as tmp:
        work = Path(tmp)
        landing = work / "landing"
        generate(landing, members=args.members, start=START, days=args.days, seed=7, progress=False)
        figures = {}
        for kind in args.kinds.split(","):
            print(f"{kind}: full build of {args.days - 1} load dates, then one more day", flush=True)
            figures[kind] = measure(kind, landing, work, args.days)
            print(f"  {figures[kind]}", flush=True)
    result = {
        "commit": _commit(),
        "measured": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "members": args.members,
        "days": args.days,
        "seconds": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
