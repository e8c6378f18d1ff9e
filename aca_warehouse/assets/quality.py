"""Data-quality history: every asset-check result and load-audit row kept as warehouse tables, plus KPIs."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DagsterEventType,
    DagsterInstance,
    JsonMetadataValue,
    MaterializeResult,
    PartitionsDefinition,
    RunsFilter,
    TableMetadataValue,
    asset,
)

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.partitions import WAREHOUSE_BUILD_POOL
from aca_warehouse.resources.warehouse import WAREHOUSE_RUN_TAG, WarehouseConnection, WarehouseResource

CHECK_RESULTS_TABLE = "core.fct_data_quality"
CHECK_RESULT_COLUMNS = (
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
RECENT_RUNS = 200
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
    """Metadata as JSON-ready values: a table (e.g. a check's sample of offending rows) as a list of
    row objects, JSON as itself, anything else as its text."""
    plain: dict[str, Any] = {}
    for key, entry in metadata.items():
        if isinstance(entry, TableMetadataValue):
            plain[key] = [dict(record.data) for record in entry.records]
            continue
        value = getattr(entry, "value", entry)
        if (
            isinstance(entry, JsonMetadataValue)
            or isinstance(value, (int, float, str, bool))
            or value is None
        ):
            plain[key] = value
        else:
            plain[key] = str(value)
    return plain


def _run_partition_window(instance: DagsterInstance, run_id: str, cache: dict[str, tuple]) -> tuple:
    if run_id not in cache:
        run = instance.get_run_by_id(run_id)
        tags = run.tags if run else {}
        start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
        end = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
        cache[run_id] = (start, end)
    return cache[run_id]


def collect_check_results(instance: DagsterInstance, run_ids: Sequence[str]) -> list[tuple]:
    """Asset-check evaluations of the given runs, as table rows (works on every event-log storage)."""
    rows: list[tuple] = []
    windows: dict[str, tuple] = {}
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            metadata = _plain_metadata(dict(evaluation.metadata))
            severity = getattr(evaluation.severity, "value", str(evaluation.severity))
            # A per-partition evaluation (the staging checks) lands on its load date; an evaluation
            # for a whole run (dbt tests) on the run's partition window.
            partition = getattr(evaluation, "partition", None)
            start, end = (
                (partition, partition) if partition else _run_partition_window(instance, run_id, windows)
            )
            status = "passed" if evaluation.passed else ("failed" if severity == "ERROR" else "warned")
            rows.append(
                (
                    run_id,
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
                    datetime.fromtimestamp(entry.timestamp, tz=UTC),
                )
            )
    return rows


def runs_to_collect(
    instance: DagsterInstance, current_run_id: str, stored: set[str], warehouse_identity: str
) -> list[str]:
    """The current run and recent runs against THIS warehouse whose results are not stored yet (e.g.
    failed runs). Runs are told apart by the warehouse tag every run using the warehouse carries
    (WarehouseResource.setup_for_execution): several warehouses may share one Dagster home, and a run
    against another warehouse (or one launched before the tag existed) is never collected here."""
    runs = instance.get_run_records(
        filters=RunsFilter(tags={WAREHOUSE_RUN_TAG: warehouse_identity}), limit=RECENT_RUNS
    )
    recent = [r.dagster_run.run_id for r in runs]
    pending = [run_id for run_id in reversed(recent) if run_id not in stored and run_id != current_run_id]
    return [*pending, current_run_id]


def store_check_results(conn: WarehouseConnection, rows: list[tuple]) -> None:
    placeholders = ", ".join(["%s"] * len(CHECK_RESULT_COLUMNS))
    for row in rows:
        conn.execute(f"insert into {CHECK_RESULTS_TABLE} values ({placeholders})", list(row))


def ensure_check_results_table(conn: WarehouseConnection) -> None:
    conn.execute(f"create table if not exists {CHECK_RESULTS_TABLE} ({', '.join(CHECK_RESULT_COLUMNS)})")


KPI_TABLE = "marts.data_quality_kpis"
# One row per feed and load date, from the latest successful load of that partition.
KPI_SQL = f"""
create table {KPI_TABLE} as
with loads as (
    select
        feed,
        load_date,
        rows_read,
        rows_staged,
        rows_quarantined,
        duration_seconds,
        finished_at,
        row_number() over (partition by feed, load_date order by finished_at desc, load_id desc) as recency
    from staging.load_audit
    where status in ('loaded', 'unchanged')
),
latest as (
    select * from loads where recency = 1
),
newest_per_feed as (
    select feed, max(load_date) as newest_load_date from latest group by feed
),
as_of as (
    select max(load_date) as as_of_date from latest
),
checks as (
    select
        split_part(asset_key, '/', 2) as feed,
        cast(partition_start as date) as load_date,
        count(*) as checks_evaluated,
        sum(case when passed then 0 else 1 end) as checks_not_passed
    from {CHECK_RESULTS_TABLE}
    where asset_key like 'staging/%%' and partition_start = partition_end
    group by 1, 2
),
final as (
    select
        latest.feed,
        latest.load_date,
        latest.rows_read,
        latest.rows_staged,
        latest.rows_quarantined,
        case when latest.rows_read > 0
            then cast(latest.rows_staged as double precision) / latest.rows_read end as completeness,
        case when latest.rows_read > 0
            then cast(latest.rows_quarantined as double precision) / latest.rows_read end as quarantine_rate,
        latest.rows_read = latest.rows_staged + latest.rows_quarantined as is_reconciled,
        latest.duration_seconds as load_duration_seconds,
        newest_per_feed.newest_load_date,
        as_of.as_of_date - newest_per_feed.newest_load_date as feed_lag_days,
        checks.checks_evaluated,
        checks.checks_not_passed,
        latest.finished_at as loaded_at
    from latest
    inner join newest_per_feed on latest.feed = newest_per_feed.feed
    cross join as_of
    left join checks on latest.feed = checks.feed and latest.load_date = checks.load_date
)
select * from final
"""


def refresh_kpis(conn: WarehouseConnection) -> int:
    """Rebuild the KPI mart (small: one row per feed and load date)."""
    if not conn.table_exists("staging", "load_audit"):
        return 0
    with conn.transaction():
        conn.execute(f"drop table if exists {KPI_TABLE}")
        conn.execute(KPI_SQL.replace("%%", "%"))
    return int(conn.scalar(f"select count(*) from {KPI_TABLE}"))


def build_quality_asset(
    upstream: Sequence[AssetKey], partitions_def: PartitionsDefinition
) -> AssetsDefinition:
    """The asset that appends new check results to the warehouse after every load."""

    @asset(
        key=AssetKey(["quality", "data_quality"]),
        group_name="quality",
        deps=list(upstream),
        # Partitioned like everything it follows, so a range run or a UI backfill of a range stays
        # one run through every layer (an unpartitioned asset would get a run of its own afterwards).
        # A partition here means: the check results of the runs over those load dates are stored.
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_BUILD_POOL,
        description=(
            f"History of every asset-check result (asset, check, partition: a staging check's load date or "
            f"a dbt test's run window, passed, severity, "
            f"metric value, threshold, time) copied from Dagster's event log into `{CHECK_RESULTS_TABLE}` "
            "after each load: this run's results and those of earlier runs against the same warehouse not "
            "stored yet (a run that failed on a blocking check included; runs against other warehouses "
            f"sharing the Dagster home are left out); re-running is safe. Also rebuilds `{KPI_TABLE}`: per feed "
            "and load date, completeness (staged / read), validity (quarantine rate), reconciliation, "
            "freshness (days the feed's newest load lags the newest load of any feed), load duration and "
            "the staging checks that did not pass."
        ),
        kinds={"python"},
        owners=OWNERS,
        tags=layer_tags("quality"),
    )
    def data_quality(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            ensure_check_results_table(conn)
            stored = {r[0] for r in conn.fetchall(f"select distinct run_id from {CHECK_RESULTS_TABLE}")}
            run_ids = runs_to_collect(context.instance, context.run.run_id, stored, warehouse.identity)
            rows = collect_check_results(context.instance, run_ids)
            with conn.transaction():
                conn.execute(f"delete from {CHECK_RESULTS_TABLE} where run_id = %s", [context.run.run_id])
                store_check_results(conn, rows)
            kpi_rows = refresh_kpis(conn)
            total = conn.scalar(f"select count(*) from {CHECK_RESULTS_TABLE}")
            failed = conn.scalar(f"select count(*) from {CHECK_RESULTS_TABLE} where not passed")
        context.log.info(f"stored {len(rows)} new check result(s); {total} in total, {failed} not passed")
        return MaterializeResult(
            metadata={
                "new_results": len(rows),
                "total_results": total,
                "not_passed": failed,
                "kpi_rows": kpi_rows,
            }
        )

    return data_quality
