"""Seconds of the dbt step of a one-day run, each run in a fresh process (as a sensor's or the CLI's run).

    python -m bench.dbt_step setup --root /tmp/dbt-step        # demo landing + a warehouse of 40 days
    python -m bench.dbt_step run --root /tmp/dbt-step [--stock-resource] [--fresh-parse-state]

`setup` generates the 150-member demo set of the tests (seed 7, 45 days from 2025-12-01), loads its
first 40 days in one range run and keeps that warehouse file as the base. Each `run` copies the base
back to the same path and runs day 41 (landing, staging, dbt build, quality, reports) in this new
process, then prints the `aca_dbt_models` step's seconds (STEP_START to STEP_SUCCESS in the Dagster
event log) and the whole run's. `--stock-resource` swaps in dagster-dbt's own `DbtCliResource`;
`--fresh-parse-state` gives `ACA_DBT_PARSE_CACHE` an empty directory (if the code still keeps one).
The machine is shared and noisy: repeat a run several times and take the median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

FIRST = date(2025, 12, 1)
DAYS = 45
BASE_DAYS = 40
SECRET = "bench-member-key-secret-0123456789abcdef"


def _environment(root: Path) -> Path:
    warehouse = root / "wh" / "warehouse.duckdb"
    os.environ.update(
        {
            "ACA_WAREHOUSE": "duckdb",
            "ACA_DUCKDB_PATH": str(warehouse),
            "ACA_LANDING_DIR": str(root / "landing"),
            "ACA_MEMBER_KEY_SECRET": SECRET,
            "ACA_REPORTS_DIR": str(root / "reports"),
            "ACA_PARTITION_START": FIRST.isoformat(),
        }
    )
    os.environ.setdefault("ACA_DBT_PARSE_CACHE", str(root / "parse-cache"))
    os.environ.setdefault("DAGSTER_HOME", str(root / "dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return warehouse


def _run(first: date, last: date) -> tuple[float, float]:
    from dagster import DagsterEventType, DagsterInstance

    from aca_warehouse.definitions import build_definitions

    job = build_definitions().resolve_job_def("load_everything")
    began = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
            raise_on_error=False,
        )
        total = time.perf_counter() - began
        if not result.success:
            sys.exit(f"run failed: {[e.message for e in result.get_step_failure_events()]}")
        stamps = {
            e.dagster_event.event_type: e.timestamp
            for e in instance.all_logs(result.run_id)
            if e.dagster_event and e.step_key == "aca_dbt_models"
        }
    dbt = stamps[DagsterEventType.STEP_SUCCESS] - stamps[DagsterEventType.STEP_START]
    return dbt, total


def setup(root: Path) -> None:
    from aca_warehouse.generator import generate

    warehouse = _environment(root)
    generate(root / "landing", members=150, start=FIRST, days=DAYS, seed=7, progress=False)
    dbt, total = _run(FIRST, FIRST + timedelta(days=BASE_DAYS - 1))
    shutil.copyfile(warehouse, root / "base.duckdb")
    print(f"setup: {BASE_DAYS} days loaded, dbt step {dbt:.1f} s, run {total:.1f} s")


def run(root: Path, *, stock_resource: bool, fresh_parse_state: bool) -> None:
    if fresh_parse_state:
        os.environ["ACA_DBT_PARSE_CACHE"] = tempfile.mkdtemp(prefix="aca-bench-parse-")
    warehouse = _environment(root)
    shutil.copyfile(root / "base.duckdb", warehouse)
    if stock_resource:
        from dagster_dbt import DbtCliResource

        import aca_warehouse.resources.dbt as dbt_module

        def stock() -> DbtCliResource:
            return DbtCliResource(
                project_dir=dbt_module.dbt_project,
                profiles_dir=os.fspath(dbt_module.DBT_PROJECT_DIR),
                dbt_executable=dbt_module.dbt_executable(),
            )

        dbt_module.dbt_resource = stock  # before definitions.py imports it
    day = FIRST + timedelta(days=BASE_DAYS)
    dbt, total = _run(day, day)
    print(f"dbt_step_seconds={dbt:.2f} run_seconds={total:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup", "run"])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--stock-resource", action="store_true")
    parser.add_argument("--fresh-parse-state", action="store_true")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.command == "setup":
        setup(args.root)
    else:
        run(args.root, stock_resource=args.stock_resource, fresh_parse_state=args.fresh_parse_state)


if __name__ == "__main__":
    main()
