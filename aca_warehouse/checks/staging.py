"""Staging quality checks, generated from the dictionary and evaluated per partition (load date).

The checks are declared as `check_specs` on each staging asset and evaluated by the asset right
after it loads (same connection, same partition window). A range run (single-run backfill) runs
each check's SQL once for the whole window, grouped by `_load_date`, and reports ONE evaluation per
partition of the window: each names the file its partition holds and, when it fails, carries a
small sample of the offending rows (source line, key and offending values; PHI columns masked).
The checks read only the warehouse (tables and `staging.load_audit`), so they also cover partitions
whose file was unchanged and skipped. There is no separate `@asset_check` to register: the specs
belong to the staging assets (aca_warehouse/assets/staging.py), which the Definitions hold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)

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
# The defect-rate check is a source-quality alarm: a WARN that never stops the run or downstream assets.
WARN_CHECKS = frozenset({DEFECT_RATE})
SAMPLE_ROWS = 5  # offending rows shown in a failing evaluation's metadata, per partition
PHI_MASK = "***"
NO_FILE = "(no file)"


def staging_asset_key(feed_name: str) -> AssetKey:
    return AssetKey(["staging", feed_name])


def check_severity(name: str) -> AssetCheckSeverity:
    return AssetCheckSeverity.WARN if name in WARN_CHECKS else AssetCheckSeverity.ERROR


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


# -- what a partition holds --------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLoad:
    """The load a partition holds now: its latest successful (`loaded`) row in `staging.load_audit`."""

    load_date: date
    load_id: str
    source_file: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    reason_code_counts: dict[str, int] = field(default_factory=dict)
    reader: str | None = None


def current_loads(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> dict[date, PartitionLoad]:
    """The load every partition of [start, end) holds (partitions never loaded are absent)."""
    rows = conn.fetchall(
        f"select load_date, load_id, source_file, rows_read, rows_staged, rows_quarantined, "
        f"reason_code_counts, reader from {AUDIT_TABLE} where feed = %s and status = 'loaded' "
        f"and load_date >= %s and load_date < %s order by load_date, finished_at, load_id",
        [feed.name, start, end],
    )
    latest: dict[date, PartitionLoad] = {}
    for load_date, load_id, source_file, read, staged, quarantined, counts, reader in rows:
        latest[load_date] = PartitionLoad(  # later loads of a partition overwrite earlier ones
            load_date, load_id, source_file, int(read), int(staged), int(quarantined),
            json.loads(counts or "{}"), reader,
        )  # fmt: skip
    return latest


# -- PHI-safe samples --------------------------------------------------------------------------


def phi_names(dictionary: Dictionary) -> frozenset[str]:
    """Every column name that is PHI in any feed (an unknown extra column of that name is masked too)."""
    return frozenset(name for feed in dictionary.feeds.values() for name in feed.phi_columns)


def masked_raw_values(raw: str | None, phi: frozenset[str]) -> str:
    """A quarantined row's raw record (JSON text) with the values of PHI columns replaced by PHI_MASK.

    A record that is not a JSON object (a wrong field count, a line that is not a JSON object) cannot
    be told apart by column: it is masked whole."""
    if raw is None:
        return ""
    try:
        record = json.loads(raw)
    except ValueError:
        return PHI_MASK
    if not isinstance(record, dict):
        return PHI_MASK
    masked = {k: (PHI_MASK if str(k).strip() in phi and v is not None else v) for k, v in record.items()}
    return json.dumps(masked, ensure_ascii=False)


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def sample_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> MetadataValue:
    """Offending rows as a metadata table (every cell a plain value)."""
    schema = TableSchema(columns=[TableColumn(name=c, type="text") for c in columns])
    return MetadataValue.table(
        records=[TableRecord({c: _cell(row.get(c)) for c in columns}) for row in rows], schema=schema
    )


def _row_number_limited(select_sql: str, order: str = "_source_line") -> str:
    """`select_sql` (which must select `_load_date`) limited to SAMPLE_ROWS rows per load date."""
    return (
        f"select * from (select s.*, row_number() over (partition by _load_date order by {order}) as _rn "
        f"from ({select_sql}) s) n where _rn <= {SAMPLE_ROWS} order by _load_date, {order}"
    )


def _sample_by_date(
    conn: WarehouseConnection, sql: str, params: list[Any], columns: list[str]
) -> dict[date, list[dict[str, Any]]]:
    """Rows of `sql` (selecting `_load_date` then `columns`) by load date."""
    rows: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for values in conn.fetchall(sql, params):
        rows[values[0]].append(dict(zip(columns, values[1 : len(columns) + 1], strict=True)))
    return rows


def _visible_keys(feed: Feed) -> list[str]:
    """The key columns shown in a sample: PHI key columns are left out (the source line identifies the row)."""
    return [c for c in feed.key if c not in feed.phi_columns]


# -- one check, every partition of the window --------------------------------------------------


@dataclass
class Outcome:
    """A check's verdict on one partition."""

    passed: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    summary: str = ""  # what failed, in a sentence (the evaluation's description)


Outcomes = dict[date, Outcome]
_WINDOW = "_load_date >= %s and _load_date < %s"


def _counts_by_load(conn: WarehouseConnection, sql: str, params: list[Any]) -> dict[date, dict[str, int]]:
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for load_date, load_id, count in conn.fetchall(sql, params):
        counts[load_date][load_id] = int(count)
    return counts


def reconciliation_outcomes(
    conn: WarehouseConnection, feed: Feed, start: date, end: date, loads: dict[date, PartitionLoad]
) -> Outcomes:
    staged = _counts_by_load(
        conn,
        f"select _load_date, _load_id, count(*) from {staging_table(feed)} where {_WINDOW} "
        f"group by _load_date, _load_id",
        [start, end],
    )
    quarantined = _counts_by_load(
        conn,
        f"select _load_date, _load_id, count(*) from {QUARANTINE_TABLE} where feed = %s and {_WINDOW} "
        f"group by _load_date, _load_id",
        [feed.name, start, end],
    )
    outcomes: Outcomes = {}
    for load_date in sorted(set(loads) | set(staged) | set(quarantined)):
        load = loads.get(load_date)
        staged_here, quarantined_here = staged.get(load_date, {}), quarantined.get(load_date, {})
        if load is None:
            rows = sum(staged_here.values()) + sum(quarantined_here.values())
            problem = f"{rows} rows without a successful load in the audit"
            outcomes[load_date] = Outcome(False, {"problems": [problem]}, problem)
            continue
        current_staged = staged_here.get(load.load_id, 0)
        current_quarantined = quarantined_here.get(load.load_id, 0)
        stale = (
            sum(staged_here.values()) + sum(quarantined_here.values()) - current_staged - current_quarantined
        )
        problems = []
        if load.rows_read != current_staged + current_quarantined:
            problems.append(
                f"read {load.rows_read} != staged {current_staged} + quarantined {current_quarantined}"
            )
        if (current_staged, current_quarantined) != (load.rows_staged, load.rows_quarantined):
            problems.append(
                f"table counts (staged {current_staged}, quarantined {current_quarantined}) differ from the "
                f"load audit (staged {load.rows_staged}, quarantined {load.rows_quarantined})"
            )
        if stale:
            problems.append(f"{stale} rows of an older load remain")
        outcomes[load_date] = Outcome(
            not problems,
            {
                "rows_read": load.rows_read,
                "rows_staged": current_staged,
                "rows_quarantined": current_quarantined,
                **({"problems": problems} if problems else {}),
            },
            "; ".join(problems),
        )
    for outcome in outcomes.values():
        outcome.metadata["metric_value"] = len(outcome.metadata.get("problems", []))
    return outcomes


def key_unique_outcomes(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> Outcomes:
    key = ", ".join(feed.key)
    shown = _visible_keys(feed)
    duplicates_sql = (
        f"select _load_date, {key}, count(*) as copies, min(_source_line) as first_line, "
        f"max(_source_line) as last_line, count(*) over (partition by _load_date) as duplicate_keys "
        f"from {staging_table(feed)} where {_WINDOW} group by _load_date, {key} having count(*) > 1"
    )
    columns = [*shown, "copies", "first_line", "last_line", "duplicate_keys"]
    sql = _row_number_limited(
        f"select _load_date, {', '.join(columns)} from ({duplicates_sql}) d", order="first_line"
    )
    outcomes: Outcomes = {}
    for load_date, rows in _sample_by_date(conn, sql, [start, end], columns).items():
        sample_columns = [*shown, "copies", "first_line", "last_line"]
        duplicates = int(rows[0]["duplicate_keys"])
        outcomes[load_date] = Outcome(
            False,
            {"metric_value": duplicates, "key": key, "sample": sample_table(sample_columns, rows)},
            f"{duplicates} key value(s) of ({key}) staged more than once",
        )
    return outcomes


def _column_outcomes(
    conn: WarehouseConnection,
    feed: Feed,
    start: date,
    end: date,
    conditions: dict[str, str],
    counts_key: str,
    describe: Callable[[str, dict[str, Any]], str],
    value_columns: dict[str, str],
    what: str,
) -> Outcomes:
    """Per load date, how many staged rows meet each named condition, and a sample of such rows.

    `value_columns` (label -> column) are selected for the sample and passed to `describe`, which
    says what is wrong with a row for one condition (PHI values are masked before that)."""
    if not conditions:
        return {}
    names = list(conditions)
    sums = ", ".join(f"sum(case when {conditions[n]} then 1 else 0 end)" for n in names)
    counts: dict[date, dict[str, int]] = {}
    for load_date, *values in conn.fetchall(
        f"select _load_date, {sums} from {staging_table(feed)} where {_WINDOW} group by _load_date",
        [start, end],
    ):
        found = {n: int(v) for n, v in zip(names, values, strict=True) if v}
        if found:
            counts[load_date] = found
    if not counts:
        return {}
    shown = _visible_keys(feed)
    flags = [f"case when {conditions[n]} then 1 else 0 end as _f{i}" for i, n in enumerate(names)]
    values = [f"{col} as _v{i}" for i, col in enumerate(value_columns.values())]
    selected = [
        "_source_line",
        *shown,
        *[f"_v{i}" for i in range(len(values))],
        *[f"_f{i}" for i in range(len(names))],
    ]
    any_condition = " or ".join(f"({conditions[n]})" for n in names)
    sql = _row_number_limited(
        f"select _load_date, _source_line, {', '.join([*shown, *values, *flags])} from {staging_table(feed)} "
        f"where {_WINDOW} and ({any_condition})"
    )
    samples = _sample_by_date(conn, sql, [start, end], selected)
    labels = list(value_columns)
    outcomes: Outcomes = {}
    for load_date, found in counts.items():
        rows = []
        for row in samples.get(load_date, []):
            row_values = {
                label: (PHI_MASK if value_columns[label] in feed.phi_columns else row[f"_v{i}"])
                for i, label in enumerate(labels)
            }
            problems = [describe(n, row_values) for i, n in enumerate(names) if row[f"_f{i}"]]
            rows.append(
                {
                    "_source_line": row["_source_line"],
                    **{k: row[k] for k in shown},
                    "problem": "; ".join(problems),
                }
            )
        outcomes[load_date] = Outcome(
            False,
            {
                "metric_value": sum(found.values()),
                counts_key: found,
                "sample": sample_table(["_source_line", *shown, "problem"], rows),
            },
            f"{sum(found.values())} {what} ("
            + ", ".join(f"{name}: {count}" for name, count in found.items())
            + ")",
        )
    return outcomes


def required_not_null_outcomes(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> Outcomes:
    conditions = {col: f"{col} is null" for col in feed.required_columns}
    if feed.variants is not None:
        disc = feed.variants.discriminator
        for type_name, col in feed.conditionally_required():
            conditions[f"{col} ({type_name})"] = f"{disc} = {sql_string(type_name)} and {col} is null"
    return _column_outcomes(
        conn,
        feed,
        start,
        end,
        conditions,
        "null_counts",
        lambda name, _: f"{name} is null",
        {},
        "null required value(s) in staged rows",
    )


def accepted_values_outcomes(conn: WarehouseConnection, feed: Feed, start: date, end: date) -> Outcomes:
    columns = [c for c in feed.columns if c.accepted_values is not None]
    conditions = {
        c.name: f"{c.name} not in ({', '.join(sql_literal(v) for v in c.accepted_values or ())})"
        for c in columns
    }
    return _column_outcomes(
        conn,
        feed,
        start,
        end,
        conditions,
        "outside_counts",
        lambda name, values: f"{name} = {values[name]!r} not accepted",
        {c.name: c.name for c in columns},
        "staged value(s) outside their accepted list",
    )


def defect_rate_outcomes(
    conn: WarehouseConnection,
    feed: Feed,
    start: date,
    end: date,
    loads: dict[date, PartitionLoad],
    threshold: float,
) -> Outcomes:
    outcomes: Outcomes = {}
    for load_date, load in loads.items():
        rate = load.rows_quarantined / load.rows_read if load.rows_read else 0.0
        outcomes[load_date] = Outcome(
            rate <= threshold,
            {
                "metric_value": round(rate, 6),
                "rows_read": load.rows_read,
                "rows_quarantined": load.rows_quarantined,
                "reason_code_counts": MetadataValue.json(dict(sorted(load.reason_code_counts.items()))),
            },
            f"{load.rows_quarantined} of {load.rows_read} rows quarantined ({rate:.1%}), above the "
            f"{threshold:.1%} threshold: a warning (the run and downstream assets go on)",
        )
    failing = [d for d, o in outcomes.items() if not o.passed]
    if failing:  # the first quarantined lines and their codes (raw values are in the asset's preview)
        sql = _row_number_limited(
            f"select _load_date, _load_id, _source_line, reason_codes from {QUARANTINE_TABLE} "
            f"where feed = %s and {_WINDOW}"
        )
        samples = _sample_by_date(
            conn, sql, [feed.name, start, end], ["_load_id", "_source_line", "reason_codes"]
        )
        for load_date in failing:
            rows = [r for r in samples.get(load_date, []) if r["_load_id"] == loads[load_date].load_id]
            outcomes[load_date].metadata["sample"] = sample_table(["_source_line", "reason_codes"], rows)
    return outcomes


def quarantine_sql(feed: Feed, load: PartitionLoad) -> str:
    """The SQL listing every quarantined row of a partition's current load."""
    return (
        f"select _source_line, reason_codes, reason_details, raw_values from {QUARANTINE_TABLE} "
        f"where feed = {sql_string(feed.name)} and _load_id = {sql_string(load.load_id)} order by _source_line"
    )


# -- evaluations -------------------------------------------------------------------------------


def evaluate_staging_checks(
    conn: WarehouseConnection,
    feed_name: str,
    load_dates: Sequence[date],
    *,
    max_defect_rate: float | None = None,
    dictionary: Dictionary | None = None,
) -> list[AssetCheckEvaluation]:
    """Every staging check of the feed, one evaluation per load date (partition) and check, in
    CHECK_NAMES order then date order. Each check is one SQL statement (two when a sample of
    offending rows is needed) over the whole window."""
    dictionary = dictionary or load_dictionary()
    feed = dictionary.feeds[feed_name]
    if not load_dates:
        return []
    threshold = dictionary.max_defect_rate() if max_defect_rate is None else max_defect_rate
    start, end = min(load_dates), max(load_dates) + timedelta(days=1)
    loads = current_loads(conn, feed, start, end)
    outcomes: dict[str, Outcomes] = {
        RECONCILIATION: reconciliation_outcomes(conn, feed, start, end, loads),
        KEY_UNIQUE: key_unique_outcomes(conn, feed, start, end),
        REQUIRED_NOT_NULL: required_not_null_outcomes(conn, feed, start, end),
        ACCEPTED_VALUES: accepted_values_outcomes(conn, feed, start, end),
        DEFECT_RATE: defect_rate_outcomes(conn, feed, start, end, loads, threshold),
    }
    thresholds: dict[str, float] = {name: 0 for name in CHECK_NAMES} | {DEFECT_RATE: threshold}
    key = staging_asset_key(feed.name)
    evaluations = []
    for name in CHECK_NAMES:
        for load_date in load_dates:
            outcome = outcomes[name].get(load_date) or Outcome(True, {"metric_value": 0})
            load = loads.get(load_date)
            metadata: dict[str, Any] = {
                "file": load.source_file if load else NO_FILE,
                "load_date": load_date.isoformat(),
                "threshold": thresholds[name],
                **outcome.metadata,
            }
            if name == DEFECT_RATE and load is not None and not outcome.passed:
                metadata["quarantined_rows_sql"] = MetadataValue.md(
                    f"```sql\n{quarantine_sql(feed, load)}\n```"
                )
            evaluations.append(
                AssetCheckEvaluation(
                    asset_key=key,
                    check_name=name,
                    passed=outcome.passed,
                    metadata=metadata,
                    description=f"{metadata['file']}: {outcome.summary}" if not outcome.passed else None,
                    partition=load_date.isoformat(),
                    blocking=dictionary.checks[name].blocking,
                    severity=check_severity(name),
                )
            )
    return evaluations
