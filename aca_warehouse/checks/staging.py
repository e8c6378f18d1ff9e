"""Staging quality checks, generated from the dictionary and evaluated over the partitions of a run.

The checks are declared as `check_specs` on each staging asset and evaluated by the asset right
after it loads (same connection, same partition window): in a single-run backfill they run once
for the whole range. They read only the warehouse (tables and `staging.load_audit`), so they also
cover partitions whose file was unchanged and skipped. `staging_checks` stays empty on purpose:
there is no separate `@asset_check` to register (registering the specs twice would clash).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.dialect import sql_literal, sql_string
from aca_warehouse.staging.tables import AUDIT_TABLE, QUARANTINE_TABLE, staging_table

RECONCILIATION = "reconciliation"
KEY_UNIQUE = "key_unique_within_load"
REQUIRED_NOT_NULL = "required_not_null"
ACCEPTED_VALUES = "accepted_values"
DEFECT_RATE = "defect_rate"
CHECK_NAMES = (RECONCILIATION, KEY_UNIQUE, REQUIRED_NOT_NULL, ACCEPTED_VALUES, DEFECT_RATE)
_MAX_LISTED = 20

# Asset checks defined outside the staging assets; see the module docstring.
staging_checks: list[Any] = []


def staging_asset_key(feed_name: str) -> AssetKey:
    return AssetKey(["staging", feed_name])


def staging_check_specs(feed_name: str, dictionary: Dictionary | None = None) -> list[AssetCheckSpec]:
    """The check specs of one staging asset (names, blocking flags and descriptions from the dictionary)."""
    dictionary = dictionary or load_dictionary()
    specs = []
    for name in CHECK_NAMES:
        spec = dictionary.checks[name]
        description = spec.description
        if name == DEFECT_RATE:
            description += (
                f" Default threshold {dictionary.default_max_defect_rate:.0%} (env ACA_MAX_DEFECT_RATE)."
            )
        specs.append(
            AssetCheckSpec(
                name, asset=staging_asset_key(feed_name), blocking=spec.blocking, description=description
            )
        )
    return specs


def _current_loads(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> list[dict[str, Any]]:
    """The latest successful load of every partition in [start, end) (what the partition holds)."""
    rows = conn.fetchall(
        f"select load_date, load_id, source_file, rows_read, rows_staged, rows_quarantined, finished_at "
        f"from {AUDIT_TABLE} where feed = %s and status = 'loaded' and load_date >= %s and load_date < %s "
        f"order by load_date, finished_at, load_id",
        [feed.name, start, end],
    )
    latest: dict[date, dict[str, Any]] = {}
    for load_date, load_id, source_file, read, staged, quarantined, _ in rows:
        latest[load_date] = {
            "load_date": load_date,
            "load_id": load_id,
            "source_file": source_file,
            "rows_read": int(read),
            "rows_staged": int(staged),
            "rows_quarantined": int(quarantined),
        }
    return [latest[d] for d in sorted(latest)]


def _counts_by_load(conn: WarehouseConnection, sql: str, params: list[Any]) -> dict[date, dict[str, int]]:
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for load_date, load_id, count in conn.fetchall(sql, params):
        counts[load_date][load_id] = int(count)
    return counts


def reconciliation_result(
    conn: WarehouseConnection, feed: Feed, start: date, end: date, loads: list[dict[str, Any]]
) -> AssetCheckResult:
    staged = _counts_by_load(
        conn,
        f"select _load_date, _load_id, count(*) from {staging_table(feed)} "
        f"where _load_date >= %s and _load_date < %s group by _load_date, _load_id",
        [start, end],
    )
    quarantined = _counts_by_load(
        conn,
        f"select _load_date, _load_id, count(*) from {QUARANTINE_TABLE} "
        f"where feed = %s and _load_date >= %s and _load_date < %s group by _load_date, _load_id",
        [feed.name, start, end],
    )
    problems: list[str] = []
    by_date = {load["load_date"]: load for load in loads}
    for load_date in sorted(set(by_date) | set(staged) | set(quarantined)):
        load = by_date.get(load_date)
        staged_here, quarantined_here = staged.get(load_date, {}), quarantined.get(load_date, {})
        if load is None:
            problems.append(f"{load_date}: rows without a successful load in the audit")
            continue
        current_staged = staged_here.get(load["load_id"], 0)
        current_quarantined = quarantined_here.get(load["load_id"], 0)
        stale = (
            sum(staged_here.values()) + sum(quarantined_here.values()) - current_staged - current_quarantined
        )
        if load["rows_read"] != current_staged + current_quarantined:
            problems.append(
                f"{load['source_file']}: read {load['rows_read']} != staged {current_staged} "
                f"+ quarantined {current_quarantined}"
            )
        if (current_staged, current_quarantined) != (load["rows_staged"], load["rows_quarantined"]):
            problems.append(f"{load['source_file']}: table counts differ from the load audit")
        if stale:
            problems.append(f"{load_date}: {stale} rows of an older load remain")
    return AssetCheckResult(
        check_name=RECONCILIATION,
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "metric_value": len(problems),
            "threshold": 0,
            "partitions_checked": len(loads),
            "rows_read": sum(load["rows_read"] for load in loads),
            "rows_staged": sum(load["rows_staged"] for load in loads),
            "rows_quarantined": sum(load["rows_quarantined"] for load in loads),
            "problems": problems[:_MAX_LISTED],
        },
    )


def key_unique_result(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> AssetCheckResult:
    key = ", ".join(feed.key)
    rows = conn.fetchall(
        f"select _load_date, count(*) from (select _load_date, {key} from {staging_table(feed)} "
        f"where _load_date >= %s and _load_date < %s group by _load_date, {key} having count(*) > 1) d "
        f"group by _load_date order by _load_date",
        [start, end],
    )
    duplicates = sum(int(n) for _, n in rows)
    return AssetCheckResult(
        check_name=KEY_UNIQUE,
        passed=duplicates == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "metric_value": duplicates,
            "threshold": 0,
            "key": key,
            "partitions_with_duplicates": [d.isoformat() for d, _ in rows][:_MAX_LISTED],
        },
    )


def required_not_null_result(
    conn: WarehouseConnection, feed: Feed, start: date, end: date
) -> AssetCheckResult:
    conditions = {col: f"{col} is null" for col in feed.required_columns}
    if feed.variants is not None:
        disc = feed.variants.discriminator
        for type_name, col in feed.conditionally_required():
            conditions[f"{col} ({type_name})"] = f"{disc} = {sql_string(type_name)} and {col} is null"
    names = list(conditions)
    sums = ", ".join(f"coalesce(sum(case when {conditions[n]} then 1 else 0 end), 0)" for n in names)
    row = conn.fetchone(
        f"select {sums} from {staging_table(feed)} where _load_date >= %s and _load_date < %s", [start, end]
    )
    nulls = {n: int(v) for n, v in zip(names, row or [0] * len(names), strict=True) if v}
    return AssetCheckResult(
        check_name=REQUIRED_NOT_NULL,
        passed=not nulls,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "metric_value": sum(nulls.values()),
            "threshold": 0,
            "null_counts": nulls,
            "columns_checked": len(names),
        },  # fmt: skip
    )


def accepted_values_result(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> AssetCheckResult:
    columns = [c for c in feed.columns if c.accepted_values is not None]
    outside: dict[str, int] = {}
    if columns:
        sums = ", ".join(
            f"coalesce(sum(case when {c.name} not in ({', '.join(sql_literal(v) for v in c.accepted_values or ())}) "
            f"then 1 else 0 end), 0)"
            for c in columns
        )
        row = conn.fetchone(
            f"select {sums} from {staging_table(feed)} where _load_date >= %s and _load_date < %s",
            [start, end],
        )
        outside = {c.name: int(v) for c, v in zip(columns, row or [0] * len(columns), strict=True) if v}
    return AssetCheckResult(
        check_name=ACCEPTED_VALUES,
        passed=not outside,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "metric_value": sum(outside.values()),
            "threshold": 0,
            "outside_counts": outside,
            "columns_checked": [c.name for c in columns],
        },  # fmt: skip
    )


def defect_rate_result(loads: list[dict[str, Any]], threshold: float) -> AssetCheckResult:
    rates = [
        (load["rows_quarantined"] / load["rows_read"] if load["rows_read"] else 0.0, load["source_file"])
        for load in loads
    ]
    worst_rate, worst_file = max(rates, default=(0.0, None))
    failing = [f"{file}: {rate:.2%}" for rate, file in rates if rate > threshold]
    return AssetCheckResult(
        check_name=DEFECT_RATE,
        passed=not failing,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "metric_value": round(worst_rate, 6),
            "threshold": threshold,
            "worst_file": worst_file or "",
            "files_checked": len(loads),
            "files_over_threshold": failing[:_MAX_LISTED],
        },
    )


def evaluate_staging_checks(
    conn: WarehouseConnection,
    feed_name: str,
    start: date,
    end: date,
    *,
    max_defect_rate: float | None = None,
    dictionary: Dictionary | None = None,
) -> list[AssetCheckResult]:
    """Every staging check of the feed over the load dates [start, end), in CHECK_NAMES order."""
    dictionary = dictionary or load_dictionary()
    feed = dictionary.feeds[feed_name]
    threshold = dictionary.max_defect_rate() if max_defect_rate is None else max_defect_rate
    loads = _current_loads(conn, feed, start, end)
    return [
        reconciliation_result(conn, feed, start, end, loads),
        key_unique_result(conn, feed, start, end),
        required_not_null_result(conn, feed, start, end),
        accepted_values_result(conn, feed, start, end),
        defect_rate_result(loads, threshold),
    ]
