"""Data quality: Dagster's asset-check results copied into the warehouse for the dbt models built on them.

`quality/data_quality` (Python) copies asset-check results into `staging.check_results`: the only
table Python writes here, because the results live in Dagster's event log. It runs after the landing
and staging assets (and their checks) and before the dbt build, whose data-quality models (dbt tag
`data_quality`, downstream of the copy through the dbt source `staging.check_results`) build
`core.fct_data_quality` (the history, incremental) and `marts.data_quality_kpis` (per feed and load
date, from the load audit and the staging checks). So a run has one dbt build, not two (a second dbt
invocation cost ~5 s of a 20 s one-day run; docs/BENCHMARKS.md).

The price, by design: the dbt tests of a run are evaluated after its copy, so they reach
`core.fct_data_quality` with the next run's copy (which takes every run copied before it ended).
The KPI mart reads only the staging checks, which run before the copy: it is complete for every
load. Dagster's UI shows every check result at once.
"""

import json
from collections.abc import Mapping, Sequence
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
    MetadataValue,
    PartitionsDefinition,
    RunsFilter,
    TableMetadataValue,
    asset,
)

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.lake import publish_whole
from aca_warehouse.partitions import WAREHOUSE_BUILD_POOL
from aca_warehouse.resources.warehouse import WAREHOUSE_RUN_TAG, WarehouseConnection, WarehouseResource

# Written by the quality asset, read by dbt as the source staging.check_results.
COPIED_RESULTS_TABLE = "staging.check_results"
# Where each run's copy stopped in its event log: Dagster's opaque cursor, passed back on the next copy.
COPY_CURSORS_TABLE = "staging.check_results_cursors"
INSERT_CHUNK_ROWS = 500  # rows per multi-row INSERT (one statement per row cost ~1 ms on DuckDB)
# Written by dbt only (models/core/fct_data_quality.sql, models/marts/data_quality_kpis.sql).
CHECK_RESULTS_TABLE = "core.fct_data_quality"
KPI_TABLE = "marts.data_quality_kpis"
COPIED_RESULT_COLUMNS = (
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
    "copied_at timestamp with time zone not null",
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


def collect_check_results(
    instance: DagsterInstance, run_ids: Sequence[str], cursors: Mapping[str, str] | None = None
) -> tuple[list[tuple], dict[str, str]]:
    """Asset-check evaluations of the given runs as table rows, each run's read from where its last copy
    stopped (`cursors`: run id -> Dagster's event-log cursor; works on every event-log storage), and the
    runs' cursors after them (for the runs that had new results)."""
    rows: list[tuple] = []
    windows: dict[str, tuple] = {}
    read_to: dict[str, str] = {}
    for run_id in run_ids:
        records = instance.get_records_for_run(
            run_id, cursor=(cursors or {}).get(run_id), of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if records.records:
            read_to[run_id] = records.cursor
        for record in records.records:
            entry = record.event_log_entry
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
    return rows, read_to


def runs_to_collect(
    instance: DagsterInstance,
    current_run_id: str,
    copied: Mapping[str, datetime],
    warehouse_identity: str,
) -> list[str]:
    """The current run, and recent runs against THIS warehouse whose results are not all copied: runs
    never copied (e.g. failed before this step), and runs copied before they ended (checks evaluated
    after their copy, such as the tests of the data-quality models themselves, are added then).
    `copied` maps a run to the time its results were last copied. Runs are told apart by the
    warehouse tag every run using the warehouse carries (WarehouseResource.setup_for_execution):
    several warehouses may share one Dagster home, and a run against another warehouse (or one
    launched before the tag existed) is never collected here."""
    records = instance.get_run_records(
        filters=RunsFilter(tags={WAREHOUSE_RUN_TAG: warehouse_identity}), limit=RECENT_RUNS
    )
    pending = []
    for record in reversed(records):  # oldest first
        run_id = record.dagster_run.run_id
        if run_id == current_run_id:
            continue
        copied_at = copied.get(run_id)
        ended = record.end_time  # seconds since the epoch; None while the run is going on
        if copied_at is None or (ended is not None and copied_at.timestamp() < ended):
            pending.append(run_id)
    return [*pending, current_run_id]


def ensure_copied_results_table(conn: WarehouseConnection) -> None:
    """The copy's tables (the schema exists: `WarehouseResource.connect()` creates the missing ones, and
    `create schema` here would need CREATE on the database, which the loader role does not have)."""
    conn.execute(f"create table if not exists {COPIED_RESULTS_TABLE} ({', '.join(COPIED_RESULT_COLUMNS)})")
    conn.execute(
        f"create table if not exists {COPY_CURSORS_TABLE} (run_id text not null, event_cursor text not null)"
    )


def copied_runs(conn: WarehouseConnection) -> dict[str, datetime]:
    """Run id -> when its results were last copied."""
    rows = conn.fetchall(f"select run_id, max(copied_at) from {COPIED_RESULTS_TABLE} group by run_id")
    return {run_id: at if at.tzinfo is not None else at.replace(tzinfo=UTC) for run_id, at in rows}


def copy_cursors(conn: WarehouseConnection) -> dict[str, str]:
    """Run id -> Dagster's event-log cursor where the run's last copy stopped."""
    return dict(conn.fetchall(f"select run_id, event_cursor from {COPY_CURSORS_TABLE}"))


def copy_check_results(
    conn: WarehouseConnection, rows: list[tuple], read_to: Mapping[str, str], replace: Sequence[str] = ()
) -> None:
    """Append `rows` (results not copied before) and move the runs' cursors to `read_to`, in one
    transaction with one copy time; the runs in `replace` (copied before the copy kept cursors) lose
    their earlier rows first, as they are copied whole again."""
    copied_at = datetime.now(UTC)
    row_sql = f"({', '.join(['%s'] * len(COPIED_RESULT_COLUMNS))})"
    with conn.transaction():
        for run_id in replace:
            conn.execute(f"delete from {COPIED_RESULTS_TABLE} where run_id = %s", [run_id])
        for first in range(0, len(rows), INSERT_CHUNK_ROWS):
            chunk = rows[first : first + INSERT_CHUNK_ROWS]
            conn.execute(
                f"insert into {COPIED_RESULTS_TABLE} values {', '.join([row_sql] * len(chunk))}",
                [value for row in chunk for value in (*row, copied_at)],
            )
        for run_id, cursor in read_to.items():
            conn.execute(f"delete from {COPY_CURSORS_TABLE} where run_id = %s", [run_id])
            conn.execute(f"insert into {COPY_CURSORS_TABLE} values (%s, %s)", [run_id, cursor])


def build_quality_asset(
    upstream: Sequence[AssetKey], partitions_def: PartitionsDefinition
) -> AssetsDefinition:
    """The asset that copies new check results into the warehouse in every load (`upstream`: the landing
    and staging assets, whose checks run before it; the dbt build follows it)."""

    @asset(
        key=AssetKey(["quality", "data_quality"]),
        group_name="quality",
        deps=list(upstream),
        # Partitioned like everything it follows, so a range run or a UI backfill of a range stays
        # one run through every layer (an unpartitioned asset would get a run of its own afterwards).
        # A partition here means: the check results of the runs over those load dates are copied.
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_BUILD_POOL,
        description=(
            "Copies every asset-check result (asset, check, partition: a staging check's load date or a "
            "dbt test's run window, passed, severity, metric value, threshold, time) from Dagster's event "
            f"log into `{COPIED_RESULTS_TABLE}` in each load, after staging and before the dbt build: this "
            "run's results so far, and those of earlier runs against the same warehouse not copied yet or "
            "copied before they ended (so a run's dbt tests arrive with the next run's copy; a run that "
            "failed on a blocking check included; runs against other warehouses sharing the Dagster home "
            "are left out); re-running is safe. The dbt build then updates the history "
            f"`{CHECK_RESULTS_TABLE}` and the KPI mart `{KPI_TABLE}` from it."
        ),
        metadata={"dagster/table_name": COPIED_RESULTS_TABLE},
        kinds={"python"},
        owners=OWNERS,
        tags=layer_tags("quality"),
    )
    def data_quality(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as conn:
            ensure_copied_results_table(conn)
            copied, cursors = copied_runs(conn), copy_cursors(conn)
            run_ids = runs_to_collect(context.instance, context.run.run_id, copied, warehouse.identity)
            # Each run is read from where its last copy stopped: a run copied before it ended (its
            # dbt tests came after the copy) adds only those, not its thousands of staging results
            # again. A run copied before cursors were kept is read whole and replaces its rows (only
            # if Dagster still has its results: a pruned event log never empties the history).
            rows, read_to = collect_check_results(context.instance, run_ids, cursors)
            replace = [run_id for run_id in read_to if run_id in copied and run_id not in cursors]
            copy_check_results(conn, rows, read_to, replace)
            total = conn.scalar(f"select count(*) from {COPIED_RESULTS_TABLE}")
            failed = conn.scalar(f"select count(*) from {COPIED_RESULTS_TABLE} where not passed")
            # Lake mode: dbt on Spark reads the copy from the lake.
            published = (
                publish_whole(conn, "check_results", warehouse.lake_dir) if warehouse.is_lake else None
            )
        context.log.info(
            f"copied {len(rows)} check result(s) of {len(run_ids)} run(s); {total} in total, {failed} not passed"
        )
        if published is not None:
            context.log.info(f"lake: published {published.summary()}")
        return MaterializeResult(
            metadata={
                "runs_copied": len(run_ids),
                "results_copied": len(rows),
                "total_results": total,
                "not_passed": failed,
                **({"lake_path": MetadataValue.path(published.location)} if published is not None else {}),
            }
        )

    return data_quality
