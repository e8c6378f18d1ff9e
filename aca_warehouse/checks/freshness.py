"""Freshness on data time: how far the newest load date in the warehouse lags the calendar.

A freshness policy on run time says "Passing" for a warehouse that was re-run today on data nine
months old. What an analyst needs to know is the as-of date of the data. So every staging
materialization records its feed's data time, the end of the newest load date the warehouse holds
(`dagster/last_updated_timestamp`, read from `staging.load_audit`), and Dagster's last-update
freshness checks judge that timestamp, not the run's:

- daily feeds (claims, premiums, enrollment events): warn when the newest load date loaded ended
  more than `DAILY_LAG_DAYS` days ago (a missed day or more);
- snapshot feeds (members, plans, products, providers): warn after `SNAPSHOT_LAG_DAYS` days.

The checks are WARN (a stale feed is news, not a reason to stop loading) and non-blocking. The
`freshness_checks_sensor` re-evaluates them when their state can change (Dagster computes when a
fresh asset goes stale), so they turn red on the calendar even when nothing runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetChecksDefinition,
    AssetKey,
    MetadataValue,
    SensorDefinition,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
)

from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.tables import AUDIT_TABLE

DAILY_LAG_DAYS = 2
SNAPSHOT_LAG_DAYS = 40
LAST_UPDATED_KEY = "dagster/last_updated_timestamp"


def lag_days_allowed(feed: Feed) -> int:
    return SNAPSHOT_LAG_DAYS if feed.is_snapshot else DAILY_LAG_DAYS


def newest_loaded_date(conn: WarehouseConnection, feed_name: str) -> date | None:
    """The newest load date whose file the warehouse holds (a successful load in the audit)."""
    row = conn.fetchone(
        f"select max(load_date) from {AUDIT_TABLE} where feed = %s and status = 'loaded'", [feed_name]
    )
    value = row[0] if row else None
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def data_time(load_date: date) -> datetime:
    """A load date's data is complete at the end of that day (UTC)."""
    return datetime(load_date.year, load_date.month, load_date.day, tzinfo=UTC) + timedelta(days=1)


def data_time_metadata(conn: WarehouseConnection, feed_name: str) -> dict[str, object]:
    """Materialization metadata: the feed's data time, for the freshness checks and the UI."""
    newest = newest_loaded_date(conn, feed_name)
    if newest is None:
        return {"data_as_of": "no load yet"}
    return {
        LAST_UPDATED_KEY: MetadataValue.timestamp(data_time(newest)),
        "data_as_of": newest.isoformat(),
    }


def build_freshness_checks(dictionary: Dictionary | None = None) -> list[AssetChecksDefinition]:
    """One last-update freshness check per staging asset, judged on data time."""
    dictionary = dictionary or load_dictionary()
    checks: list[AssetChecksDefinition] = []
    for snapshot in (False, True):
        keys: Sequence[AssetKey] = [
            AssetKey(["staging", feed.name])
            for feed in dictionary.feeds.values()
            if feed.is_snapshot == snapshot
        ]
        if not keys:
            continue
        days = SNAPSHOT_LAG_DAYS if snapshot else DAILY_LAG_DAYS
        with warnings.catch_warnings():  # "superseded" by run-time FreshnessPolicy, which is not data time
            warnings.simplefilter("ignore")
            checks.extend(
                build_last_update_freshness_checks(assets=keys, lower_bound_delta=timedelta(days=days))
            )
    return checks


def build_freshness_sensor(checks: Sequence[AssetChecksDefinition], default_status) -> SensorDefinition:
    """Runs the freshness checks when their state can change (and at most every 10 minutes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_sensor_for_freshness_checks(
            freshness_checks=checks, minimum_interval_seconds=600, default_status=default_status
        )
