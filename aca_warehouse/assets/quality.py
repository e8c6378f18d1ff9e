"""Data-quality history: every asset-check result and load-audit row kept as warehouse tables, plus KPIs."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    EventRecordsFilter,
    MaterializeResult,
    asset,
)

from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource

CHECK_RESULTS_TABLE = "core.fct_data_quality"
CHECK_RESULT_COLUMNS = (
    "event_storage_id bigint primary key",
    "run_id text not null",
    "asset_key text not null",
    "check_name text not null",
    "partition_start text",
    "partition_end text",
    "passed boolean not null",
    "severity text not null",
    "status text not null",
    "metric_value double precision",
    "threshold double precision",
    "metadata_json text",
    "evaluated_at timestamp with time zone not null",
)
_METRIC_KEYS = ("metric_value", "value", "rows", "count", "failed_rows", "defect_rate", "rate")
_THRESHOLD_KEYS = ("threshold", "max_defect_rate", "limit")


def _number(metadata: dict[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _plain_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    plain = {}
    for key, entry in metadata.items():
        value = getattr(entry, "value", entry)
        plain[key] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return plain


def _run_partition_window(instance: DagsterInstance, run_id: str, cache: dict[str, tuple]) -> tuple:
    if run_id not in cache:
        run = instance.get_run_by_id(run_id)
        tags = run.tags if run else {}
        start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
        end = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
        cache[run_id] = (start, end)
    return cache[run_id]


def collect_check_results(instance: DagsterInstance, after_storage_id: int) -> list[tuple]:
    """Asset-check evaluations stored by Dagster after the given event id, as table rows."""
    rows: list[tuple] = []
    windows: dict[str, tuple] = {}
    cursor = after_storage_id
    while True:
        records = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=cursor),
            limit=1000,
            ascending=True,
        )
        if not records:
            return rows
        for record in records:
            event = record.event_log_entry.dagster_event
            evaluation = event.event_specific_data
            metadata = _plain_metadata(dict(evaluation.metadata))
            severity = getattr(evaluation.severity, "value", str(evaluation.severity))
            start, end = _run_partition_window(instance, record.run_id, windows)
            status = "passed" if evaluation.passed else ("failed" if severity == "ERROR" else "warned")
            rows.append(
                (
                    record.storage_id,
                    record.run_id,
                    evaluation.asset_key.to_user_string(),
                    evaluation.check_name,
                    start,
                    end,
                    bool(evaluation.passed),
                    severity,
                    status,
                    _number(metadata, _METRIC_KEYS),
                    _number(metadata, _THRESHOLD_KEYS),
                    json.dumps(metadata, sort_keys=True, default=str),
                    datetime.fromtimestamp(record.timestamp, tz=UTC),
                )
            )
            cursor = record.storage_id


def store_check_results(conn: WarehouseConnection, rows: list[tuple]) -> None:
    placeholders = ", ".join(["%s"] * len(CHECK_RESULT_COLUMNS))
    with conn.transaction():
        for row in rows:
            conn.execute(f"insert into {CHECK_RESULTS_TABLE} values ({placeholders})", list(row))


def ensure_check_results_table(conn: WarehouseConnection) -> None:
    conn.execute(f"create table if not exists {CHECK_RESULTS_TABLE} ({', '.join(CHECK_RESULT_COLUMNS)})")


def build_quality_asset(upstream: Sequence[AssetKey]) -> AssetsDefinition:
    """The asset that appends new check results to the warehouse after every load."""

    @asset(
        key=AssetKey(["quality", "check_results"]),
        group_name="quality",
        deps=list(upstream),
        description=(
            f"History of every asset-check result (asset, check, partition window, passed, severity, "
            f"metric value, threshold, time) copied from Dagster's event log into `{CHECK_RESULTS_TABLE}` "
            "after each load; appends only events not yet stored, so re-running is safe."
        ),
        kinds={"python"},
    )
    def check_results(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            ensure_check_results_table(conn)
            last = conn.scalar(f"select coalesce(max(event_storage_id), 0) from {CHECK_RESULTS_TABLE}")
            rows = collect_check_results(context.instance, int(last))
            store_check_results(conn, rows)
            total = conn.scalar(f"select count(*) from {CHECK_RESULTS_TABLE}")
            failed = conn.scalar(f"select count(*) from {CHECK_RESULTS_TABLE} where not passed")
        context.log.info(f"stored {len(rows)} new check result(s); {total} in total, {failed} not passed")
        return MaterializeResult(metadata={"new_results": len(rows), "total_results": total, "not_passed": failed})

    return check_results
