"""PostgreSQL claim facts: partitioned by service month vs plain tables, measured on the same data.

    uv run --frozen python -m bench.pg_partitioning --members 20000 --days 365

Generates landing files, loads them into a fresh PostgreSQL database through the real pipeline
(`aca-warehouse run`), then for each layout (dbt var `pg_partition_claims` true / false):
rebuilds the claim facts with --full-refresh, times analyst-style queries on them, and runs one
incremental load day. Model times come from dbt's run_results.json (dbt start-up excluded).
Sessions use the pipeline's PostgreSQL options (`jit=off`: JIT compilation cost seconds per
statement here, more than the statements themselves).
Figures go to bench/results/pg_partitioning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from aca_warehouse.assets.dbt import POSTGRES_SESSION_OPTIONS
from aca_warehouse.resources import WarehouseResource
from bench.measure import run_measured
from bench.run import CLI, RESULTS, ROOT

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLAIM_MODELS = ["int_claim_lines_touched", "fct_claim_line_versions", "fct_claim_lines"]


def _queries(month: date, member_key: str) -> dict[str, str]:
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    window = f"service_from_date >= '{month}' and service_from_date < '{next_month}'"
    return {
        "one service month by plan": (
            f"select plan_key, count(*), sum(paid_amount) from core.fct_claim_lines where {window} group by plan_key"
        ),
        "one member's claim lines": (
            f"select claim_id, line_number, paid_amount from core.fct_claim_lines where member_key = '{member_key}'"
        ),
        "all months, paid by month": (
            "select date_trunc('month', service_from_date), sum(paid_amount) "
            "from core.fct_claim_lines group by 1 order by 1"
        ),
    }


def _dbt(warehouse: WarehouseResource, args: list[str], target: Path) -> dict[str, float]:
    """Run dbt against the warehouse; execution seconds of the claim models (touched lines, both facts)."""
    env = {
        **os.environ,
        **warehouse.dbt_env(),
        "PGOPTIONS": f"{warehouse.dbt_env()['PGOPTIONS']} {POSTGRES_SESSION_OPTIONS}",  # secret + JIT off
    }  # as the pipeline runs dbt
    cmd = [str(Path(sys.executable).parent / "dbt"), *args, "--target-path", str(target)]
    cmd += ["--project-dir", str(ROOT / "dbt"), "--profiles-dir", str(ROOT / "dbt")]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    results = json.loads((target / "run_results.json").read_text())["results"]
    times = {r["unique_id"].rsplit(".", 1)[-1]: round(r["execution_time"], 2) for r in results}
    return {name: times[name] for name in CLAIM_MODELS if name in times}


def _latency(dsn: str, sql: str, repeats: int) -> float:
    with psycopg.connect(dsn, options=POSTGRES_SESSION_OPTIONS) as conn:
        conn.execute(sql).fetchall()  # warm the cache once
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            conn.execute(sql).fetchall()
            runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left")
    args = parser.parse_args(argv)

    from aca_warehouse.generator import generate

    start = date(2025, 1, 1)
    work = Path(tempfile.mkdtemp(prefix="aca_bench_pgpart_"))
    dbname = "aca_bench_partitioning"
    dsn = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
    try:
        load_seconds = None
        if not args.reuse:
            landing = work / "landing"
            print(f"generating {args.members:,} members x {args.days} days", flush=True)
            generate(landing, members=args.members, start=start, days=args.days, seed=42, progress=False)
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{dbname}" with (force)')
            (work / "home").mkdir()
            env = {"ACA_WAREHOUSE": "postgres", "ACA_PG_DSN": dsn, "DAGSTER_HOME": str(work / "home")}
            print("loading through the pipeline (partitioned layout)", flush=True)
            load = run_measured([*CLI, "run", "--quiet", "--landing", str(landing)], env, work / "load.log")
            if load.returncode:
                raise SystemExit(f"load failed, see {work / 'load.log'}")
            load_seconds = round(load.seconds, 1)
        warehouse = WarehouseResource(kind="postgres", pg_dsn=dsn)
        with warehouse.connect() as conn:
            claim_lines = conn.scalar("select count(*) from core.fct_claim_lines")
            member_key = conn.scalar(
                "select member_key from core.fct_claim_lines group by 1 order by count(*) desc limit 1"
            )
        month = date(start.year, 6, 1)
        results: dict[str, dict] = {}
        for partitioned in (True, False):
            layout = "partitioned" if partitioned else "plain"
            flag = str(partitioned).lower()
            print(f"{layout}: full refresh of the claim facts", flush=True)
            full = _dbt(
                warehouse,
                [
                    "run",
                    "--full-refresh",
                    "--select",
                    *CLAIM_MODELS,
                    "--vars",
                    f"{{pg_partition_claims: {flag}}}",
                ],
                work / f"target_{layout}_full",
            )
            latency = {
                name: _latency(dsn, sql, args.repeats) for name, sql in _queries(month, member_key).items()
            }
            # dbt takes no load-date window (docs/ARCHITECTURE.md, "The load-date window"): an
            # incremental run processes what staging changed since the last build.
            day = _dbt(
                warehouse,
                ["run", "--select", *CLAIM_MODELS, "--vars", f"{{pg_partition_claims: {flag}}}"],
                work / f"target_{layout}_day",
            )
            results[layout] = {
                "full_refresh_s": round(sum(full.values()), 2),
                "one_day_s": round(sum(day.values()), 2),
                "one_day_by_model_s": day,
                "query_p50_ms": {name: round(ms, 2) for name, ms in latency.items()},
            }
            print(f"  {json.dumps(results[layout])}", flush=True)
        payload = {
            "date": time.strftime("%Y-%m-%d"),
            "members": args.members,
            "days": args.days,
            "claim_lines": claim_lines,
            "pipeline_load_s": load_seconds,
            "layouts": results,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "pg_partitioning.json").write_text(json.dumps(payload, indent=2))
        print(json.dumps(payload, indent=2))
    finally:
        if args.keep:
            print(f"kept {work} and database {dbname}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'drop database if exists "{dbname}" with (force)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
