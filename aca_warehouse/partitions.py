"""The one daily partitioning by load date, shared by every daily asset, and the build pool."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from aca_warehouse.settings import load_settings


def load_date_partitions() -> DailyPartitionsDefinition:
    """Daily partitions keyed by a landing file's load date; `end_offset=1` makes today exist."""
    start = load_settings().partition_start
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, fmt="%Y-%m-%d")


daily_partitions = load_date_partitions()


# The steps that rebuild shared tables whatever their partition (the dbt build: dimensions and marts
# are rebuilt, claim facts replaced; the quality history) share one Dagster concurrency pool.
# `deploy/dagster.yaml` limits every pool to 1, so on PostgreSQL, where several runs may proceed
# (their staging loads in parallel, one partition at a time each), two dbt builds never overlap.
WAREHOUSE_BUILD_POOL = "warehouse_build"
