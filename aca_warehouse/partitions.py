"""The one daily partitioning by load date, shared by every daily asset."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from aca_warehouse.settings import load_settings


def load_date_partitions() -> DailyPartitionsDefinition:
    """Daily partitions keyed by a landing file's load date; `end_offset=1` makes today exist."""
    start = load_settings().partition_start
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, fmt="%Y-%m-%d")


daily_partitions = load_date_partitions()
