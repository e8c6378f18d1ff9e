"""The one daily partitioning by load date, shared by every daily asset, and the build pool.

The partitioning is built by the Definitions assembly from the settings (`build_definitions`) and
passed to every asset factory and the landing sensor: nothing here reads the environment."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dagster import DailyPartitionsDefinition

from aca_warehouse.landing import earliest_load_date
from aca_warehouse.settings import Settings


def first_partition_date(settings: Settings) -> date:
    """Where the partitions start, so the UI's partition bar, backfill dialog and "missing" counts
    describe real data:

    1. `ACA_PARTITION_START` when set (production: set it to the first load date you will ever load);
    2. otherwise the earliest load date among the landing files when the code location loads;
    3. with no landing files yet, January 1 of last year (UTC).

    A file dated before the start is not loadable until the code location reloads (the landing sensor
    says so, naming the file): set ACA_PARTITION_START before backfilling older history."""
    if settings.partition_start is not None:
        return settings.partition_start
    earliest = earliest_load_date(settings.landing_dir)
    if earliest is not None:
        return earliest
    return date(datetime.now(UTC).year - 1, 1, 1)


def load_date_partitions(start: date) -> DailyPartitionsDefinition:
    """Daily partitions keyed by a landing file's load date from `start` (first_partition_date() in the
    code location); `end_offset=1` makes today exist."""
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, fmt="%Y-%m-%d")


# The steps that rebuild shared tables whatever their partition (the dbt build: dimensions and marts
# are rebuilt, claim facts replaced; the quality history) share one Dagster concurrency pool.
# `deploy/dagster.yaml` limits every pool to 1, so on PostgreSQL, where several runs may proceed
# (their staging loads in parallel, one partition at a time each), two dbt builds never overlap.
WAREHOUSE_BUILD_POOL = "warehouse_build"
