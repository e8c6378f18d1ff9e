"""Peer baseline: the seed plan's naive pipeline on the same landing files, for "our time / peer time".

Each landing file is read whole with pandas and appended with `DataFrame.to_sql` into staging
tables of a fresh PostgreSQL database (same names and columns our dbt models read; values cast
with `errors="coerce"`, no validation, no quarantine), then our dbt project rebuilds the star and
cubes there with `dbt build --full-refresh`.

Run: `uv run python -m bench.peer --landing DIR --work DIR --out peer.json`.
`peer_baseline()` runs that command under `run_measured` so the peak RSS covers the dbt subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
from sqlalchemy import Date, Integer, Numeric, Text, create_engine, text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.types import TypeEngine

from aca_warehouse.assets.dbt import DATA_QUALITY_MODELS
from aca_warehouse.contract.dictionary import Feed, load_dictionary
from aca_warehouse.settings import load_settings, parse_pg_dsn
from bench.measure import run_measured

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt"
PEER_DB = "aca_bench_peer"
DBT_COMMAND = "build"  # `dbt build`: the models and their tests, as our own load runs them
# The session options our Dagster dbt asset sets on PostgreSQL (aca_warehouse/assets/dbt.py):
# without them the JIT compiles every model query and the rebuild measures compilation.
PGOPTIONS = "-c jit=off"
_DATE_IN_NAME = re.compile(r"_(\d{4}-\d{2}-\d{2})\.[a-z]+$")


def peer_dsn() -> str:
    """ACA_PG_DSN (or its default) pointed at the scratch database `aca_bench_peer`."""
    return urlparse(load_settings().pg_dsn)._replace(scheme="postgresql", path=f"/{PEER_DB}").geturl()


def _sql_types(feed: Feed) -> dict[str, TypeEngine]:
    by_type = {
        "text": Text(),
        "int": Integer(),
        "decimal": Numeric(18, 2),
        "date": Date(),
        "timestamp": TIMESTAMP(timezone=True),
    }
    types = {c.name: by_type[c.type] for c in feed.columns}
    types.update(
        _load_date=Date(),
        _load_id=Text(),
        _loaded_at=TIMESTAMP(timezone=True),
        _source_file=Text(),
        _source_line=Integer(),
    )
    return types


def _read(path: Path, feed: Feed, landing: Path) -> pd.DataFrame:
    """One whole file as a DataFrame with the contract's columns, crudely cast, plus load metadata."""
    if feed.is_jsonl:
        df = pd.read_json(path, lines=True, dtype=False)
        first_line = 1
    else:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")  # str: keep the IDs' leading zeros
        first_line = 2
    df = df.reindex(columns=feed.column_names)  # contract order; extra columns dropped
    for col in feed.columns:
        if col.type == "int":
            df[col.name] = pd.to_numeric(df[col.name], errors="coerce").astype("Int64")
        elif col.type == "decimal":
            df[col.name] = pd.to_numeric(df[col.name], errors="coerce")
        elif col.type == "date":
            df[col.name] = pd.to_datetime(df[col.name], format="%Y-%m-%d", errors="coerce").dt.date
        elif col.type == "timestamp":
            df[col.name] = pd.to_datetime(df[col.name], format="ISO8601", utc=True, errors="coerce")
        else:
            df[col.name] = df[col.name].astype(object).where(df[col.name].notna(), None)
    load_date = date.fromisoformat(_DATE_IN_NAME.search(path.name).group(1))
    source = path.relative_to(landing).as_posix()
    df["_load_date"] = load_date
    df["_load_id"] = f"peer:{source}"
    df["_loaded_at"] = datetime.now(UTC)
    df["_source_file"] = source
    df["_source_line"] = range(first_line, first_line + len(df))
    return df


def recreate_database(dsn: str) -> None:
    """Drop and create the peer database (through the server's `postgres` database)."""
    admin = create_engine(urlparse(dsn)._replace(path="/postgres").geturl(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"drop database if exists {PEER_DB} with (force)"))
        conn.execute(text(f"create database {PEER_DB}"))
    admin.dispose()


def load_files(landing: Path, dsn: str, method: str | None, chunksize: int) -> dict[str, int]:
    """Every landing file of every feed, whole-file pandas read + to_sql append; rows per feed."""
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as conn:
        conn.execute(text("create schema if not exists staging"))
    rows: dict[str, int] = {}
    for feed in load_dictionary().feeds.values():
        files = sorted((landing / feed.directory).glob(f"{feed.file_prefix}_????-??-??.{feed.extension}"))
        started = time.perf_counter()
        rows[feed.name] = 0
        for path in files:
            df = _read(path, feed, landing)
            df.to_sql(
                feed.name,
                engine,
                schema="staging",
                if_exists="append",
                index=False,
                dtype=_sql_types(feed),
                method=method,
                chunksize=chunksize,
            )
            rows[feed.name] += len(df)
        print(
            f"   peer load {feed.name}: {len(files)} files, {rows[feed.name]:,} rows "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
    engine.dispose()
    return rows


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_env(dsn: str) -> dict[str, str]:
    """What our Dagster dbt asset gives dbt for a PostgreSQL warehouse at `dsn` (WarehouseResource.dbt_env)."""
    from aca_warehouse.resources.warehouse import WarehouseResource  # imports Dagster (about 1.5 s)

    return WarehouseResource(kind="postgres", pg_dsn=dsn).dbt_env()


def _dbt_env_given(dsn: str) -> bool:
    """True when the environment already holds dbt_env(dsn) (peer_baseline passes it in)."""
    pg = parse_pg_dsn(dsn)
    return os.environ.get("ACA_DBT_TARGET") == "postgres" and os.environ.get("ACA_PG_DBNAME") == pg.dbname


def rebuild(dsn: str, work: Path, dbt_dir: Path) -> int:
    """`dbt <DBT_COMMAND> --full-refresh` of our project on the peer database; its exit code."""
    env = {**os.environ, **({} if _dbt_env_given(dsn) else dbt_env(dsn))}
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {PGOPTIONS}".strip()  # keeps the member-key secret
    cmd = [
        _dbt_executable(),
        DBT_COMMAND,
        "--full-refresh",
        # The star and the marts; the data-quality models read Dagster's check results, which a
        # hand-rolled load does not have. Unit tests test code, not the load.
        "--exclude",
        DATA_QUALITY_MODELS,
        "--exclude-resource-type",
        "unit_test",
        "--project-dir",
        str(dbt_dir),
        "--profiles-dir",
        str(dbt_dir),
        "--target-path",
        str(work / "peer_dbt_target"),
        "--log-path",
        str(work / "peer_dbt_logs"),
    ]
    with (work / "peer_dbt.log").open("w") as log:
        return subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def built_rows(dsn: str) -> dict[str, int]:
    """Row counts of every table dbt built in `core` and `marts` of the peer database (no partitions)."""
    engine = create_engine(dsn)
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "select n.nspname || '.' || c.relname from pg_class as c "
                "join pg_namespace as n on n.oid = c.relnamespace "
                "where n.nspname in ('core', 'marts') and c.relkind in ('r', 'p') and not c.relispartition "
                "order by 1"
            )
        ).scalars()
        counts = {t: conn.execute(text(f"select count(*) from {t}")).scalar() for t in list(tables)}
    engine.dispose()
    return counts


def run_peer(
    landing: Path,
    work: Path,
    dsn: str,
    *,
    dbt_dir: Path = DBT_DIR,
    method: str | None = None,
    chunksize: int = 10_000,
) -> dict:
    """Recreate the database, load, rebuild; the phase timings and what was built."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    recreate_database(dsn)
    setup = time.perf_counter() - started
    rows = load_files(landing, dsn, method, chunksize)
    load = time.perf_counter() - started - setup
    print(f"   peer load {sum(rows.values()):,} rows in {load:.1f}s", flush=True)
    code = rebuild(dsn, work, dbt_dir)
    rebuilt = time.perf_counter() - started - setup - load
    print(f"   peer dbt {DBT_COMMAND} --full-refresh: exit {code} in {rebuilt:.1f}s", flush=True)
    return {
        "database": PEER_DB,
        "setup_seconds": setup,
        "load_seconds": load,
        "rebuild_seconds": rebuilt,
        "rows_loaded": sum(rows.values()),
        "rows_by_feed": rows,
        "to_sql": {"method": method or "default", "chunksize": chunksize},
        "dbt_command": f"dbt {DBT_COMMAND} --full-refresh",
        "dbt_project": str(dbt_dir),
        "dbt_returncode": code,
        "built_rows": built_rows(dsn),
    }


def peer_baseline(landing: Path, work: Path, dbt_dir: Path | None = None) -> dict:
    """Run the peer CLI as a measured subprocess: its phases plus total seconds and peak RSS.

    The dbt environment is built here, so the measured process does not pay for importing Dagster.
    """
    out, log, dsn = work / "peer.json", work / "peer.log", peer_dsn()
    cmd = [sys.executable, "-m", "bench.peer", "--landing", str(landing), "--work", str(work)]
    cmd += ["--out", str(out), "--dsn", dsn, "--dbt-dir", str(dbt_dir or DBT_DIR)]
    print("   peer baseline (pandas + to_sql into PostgreSQL + dbt full refresh) ...", flush=True)
    measured = run_measured(cmd, {"PYTHONUNBUFFERED": "1", **dbt_env(dsn)}, log, cwd=ROOT)
    if measured.returncode != 0 or not out.exists():
        raise RuntimeError(f"peer baseline failed; see {log} and {work / 'peer_dbt.log'}")
    result = {**json.loads(out.read_text()), **asdict(measured)}
    print(
        f"   peer total {result['seconds']:.1f}s (load {result['load_seconds']:.1f}s, "
        f"rebuild {result['rebuild_seconds']:.1f}s, peak {result['peak_rss_mb']:.0f} MB)",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True, help="landing root")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (dbt target, logs)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the phase timings")
    parser.add_argument("--dsn", help=f"PostgreSQL DSN (default: ACA_PG_DSN's server, database {PEER_DB})")
    parser.add_argument("--dbt-dir", type=Path, default=DBT_DIR, help="dbt project (default: ./dbt)")
    parser.add_argument("--method", choices=["default", "multi"], default="default", help="to_sql method")
    parser.add_argument("--chunksize", type=int, default=10_000, help="to_sql chunksize")
    args = parser.parse_args(argv)
    dsn = args.dsn or peer_dsn()
    if urlparse(dsn).path.lstrip("/") != PEER_DB:
        parser.error(f"the peer database must be {PEER_DB} (it is dropped and recreated)")
    result = run_peer(
        args.landing.resolve(),
        args.work.resolve(),
        dsn,
        dbt_dir=args.dbt_dir.resolve(),
        method=None if args.method == "default" else args.method,
        chunksize=args.chunksize,
    )
    args.out.write_text(json.dumps(result, indent=2))
    return 0 if result["dbt_returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
