"""Dagster's bookkeeping of a range run on the embedded SQLite instance: stock storage vs ours.

    python -m bench.dagster_storage_cost [--days 365] [--repeats 3]

One asset shaped like a staging asset (five checks, one result per check and partition, per-partition
metadata) is materialized over `--days` load dates in one single-run backfill, on a fresh instance
with Dagster's own `SqliteEventLogStorage` and on one with `aca_warehouse.dagster_storage`
(`deploy/dagster.dev.yaml`), both with the settings the CLI and `make ui` use
(`DAGSTER_EVENT_BATCH_SIZE=1000`, `DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true`). The asset
does no work, so the run's wall time is the bookkeeping. Runs alternate between the two storages;
the median of `--repeats` is printed (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    MaterializeResult,
    Output,
    asset,
    materialize,
)

CHECKS = ("reconciliation", "key_unique_within_load", "required_not_null", "accepted_values", "defect_rate")
START = date(2024, 1, 1)
DEV_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "dagster.dev.yaml"
daily = DailyPartitionsDefinition(start_date=START.isoformat(), end_offset=1)


@asset(
    key=["staging", "claims"],
    partitions_def=daily,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[
        AssetCheckSpec(name, asset=["staging", "claims"], blocking=name != "defect_rate") for name in CHECKS
    ],
)
def staged_days(context) -> Iterator[MaterializeResult | AssetCheckEvaluation | Output]:  # noqa: ANN001
    for key in context.partition_keys:
        context.add_asset_metadata({"file": f"claims_{key}.csv", "rows": 100}, partition_key=key)
    yield MaterializeResult(metadata={"load_dates": len(context.partition_keys)})
    for spec in context.assets_def.check_specs:
        for key in context.partition_keys:
            yield AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=True,
                metadata={"file": f"claims_{key}.csv", "metric_value": 0},
                partition=key,
                blocking=spec.blocking,
                severity=AssetCheckSeverity.ERROR if spec.blocking else AssetCheckSeverity.WARN,
            )
        yield Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(spec.key))


def one_run(batched: bool, days: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="aca-bench-storage-"))
    try:
        if batched:
            shutil.copy(DEV_CONFIG, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
        last = START + timedelta(days=days - 1)
        with DagsterInstance.from_config(str(home)) as instance:
            began = time.perf_counter()
            result = materialize(
                [staged_days],
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": START.isoformat(),
                    "dagster/asset_partition_range_end": last.isoformat(),
                },
            )
            seconds = time.perf_counter() - began
            assert result.success
            kind = type(instance.event_log_storage).__name__
        print(f"  {kind}: {seconds:.1f} s", flush=True)
        return seconds
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = "1000"
    os.environ["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "true"
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for batched in (False, True):
            times[batched].append(one_run(batched, args.days))
    stock, ours = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"{args.days} days x {len(CHECKS)} checks: stock SqliteEventLogStorage {stock:.1f} s, "
        f"BatchedSqliteEventLogStorage {ours:.1f} s (median of {args.repeats}; {stock / ours:.1f}x)"
    )


if __name__ == "__main__":
    main()
