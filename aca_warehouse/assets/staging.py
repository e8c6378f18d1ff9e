"""Staging assets: one per feed, loading the landing files of the run's load dates into `staging.<feed>`."""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    Output,
    PartitionsDefinition,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.checks.freshness import data_time_metadata
from aca_warehouse.checks.staging import (
    NO_FILE,
    PHI_MASK,
    PartitionLoad,
    current_loads,
    evaluate_staging_checks,
    masked_raw_values,
    phi_names,
    quarantine_sql,
    staging_asset_key,
    staging_check_specs,
)
from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.errors import LandingFileError
from aca_warehouse.lake import Published, publish_whole, sync_partitions, table_location
from aca_warehouse.logs import loader_progress_log, log_file_results
from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource
from aca_warehouse.staging.loader import LOADED, WindowLoadReport, load_feed_window
from aca_warehouse.staging.tables import METADATA_COLUMNS, QUARANTINE_TABLE


def staging_asset_description(feed: Feed, dictionary: Dictionary) -> str:
    """The asset's description, generated from the dictionary entry of the feed."""
    key = ", ".join(feed.key)
    codes = ", ".join(f"`{code}`" for code in feed.reason_codes(dictionary))
    phi = f" PHI columns: {', '.join(feed.phi_columns)}." if feed.phi_columns else ""
    return (
        f"`staging.{feed.name}`: {feed.description} Grain: {feed.grain}. Loads "
        f"`{feed.directory}/{feed.file_prefix}_YYYY-MM-DD.{feed.extension}` for every load date of the run "
        f"(one file = one partition, replaced as a whole in one transaction; an identical re-delivery is "
        f"skipped). Columns are typed 1:1 with the landing contract plus load metadata "
        f"(`_load_date`, `_source_line`, ...). Key within a file: ({key}). Across loads: "
        f"{dictionary.cross_load_rules[feed.cross_load]} Bad rows go to `staging.quarantine` with reason "
        f"codes ({codes}); every load is audited in `staging.load_audit`.{phi} "
        f"See docs/DATA_DICTIONARY.md#{feed.name}."
    )


def staging_column_schema(feed: Feed) -> TableSchema:
    columns = [
        TableColumn(
            name=c.name,
            type=c.type,
            description=("[required] " if c.required else "") + ("[PHI] " if c.phi else "") + c.description,
        )
        for c in feed.columns
    ]
    columns += [
        TableColumn(name=name, type=kind, description=meaning) for name, kind, meaning in METADATA_COLUMNS
    ]
    return TableSchema(columns=columns)


PREVIEW_ROWS = 20  # quarantined rows shown in a partition's materialization metadata
NO_FILE_STATUS = "no file"


def quarantine_previews(
    conn: WarehouseConnection, feed: Feed, start: date, end: date, phi: frozenset[str]
) -> dict[str, list[dict[str, Any]]]:
    """The first PREVIEW_ROWS quarantined rows of every load in [start, end), by load id, PHI masked
    (one statement for the window)."""
    rows = conn.fetchall(
        f"select _load_id, _source_line, reason_codes, reason_details, raw_values from ("
        f"select q.*, row_number() over (partition by _load_id order by _source_line) as _rn "
        f"from {QUARANTINE_TABLE} q where feed = %s and _load_date >= %s and _load_date < %s) n "
        f"where _rn <= {PREVIEW_ROWS} order by _load_id, _source_line",
        [feed.name, start, end],
    )
    previews: dict[str, list[dict[str, Any]]] = {}
    for load_id, line, codes, details, raw in rows:
        previews.setdefault(load_id, []).append(
            {
                "line": line,
                "reason_codes": codes,
                "detail": details,
                "raw_values": masked_raw_values(raw, phi),
            }
        )
    return previews


_PREVIEW_SCHEMA = TableSchema(
    columns=[
        TableColumn("line", "integer", description="physical line in the file (header = line 1)"),
        TableColumn("reason_codes", "text", description="every reason code of the row, `;`-joined"),
        TableColumn("detail", "text", description="which column or rule raised each code"),
        TableColumn("raw_values", "text", description=f"the raw record, PHI values masked as {PHI_MASK}"),
    ]
)


def partition_metadata(
    feed: Feed, status: str, load: PartitionLoad | None, preview: list[dict[str, Any]]
) -> dict[str, Any]:
    """What one partition holds after the run: its file, what this run did with it, and the figures
    of the load the partition holds (an unchanged re-delivery keeps those of its earlier load)."""
    metadata: dict[str, Any] = {
        "file": load.source_file if load else NO_FILE,
        "status": status,
        "rows_read": load.rows_read if load else 0,
        "rows_staged": load.rows_staged if load else 0,
        "rows_quarantined": load.rows_quarantined if load else 0,
        "dagster/row_count": load.rows_staged if load else 0,
    }
    if load is None:
        return metadata
    metadata["load_id"] = load.load_id
    metadata["reader"] = load.reader or ""
    metadata["reason_code_counts"] = MetadataValue.json(dict(sorted(load.reason_code_counts.items())))
    if load.rows_quarantined:
        metadata["quarantine_preview"] = MetadataValue.table(
            records=[TableRecord(row) for row in preview], schema=_PREVIEW_SCHEMA
        )
        shown = (
            f"the first {len(preview)} of {load.rows_quarantined}"
            if len(preview) < load.rows_quarantined
            else "all"
        )
        metadata["quarantined_rows_sql"] = MetadataValue.md(
            f"Preview: {shown} quarantined rows. Every one of them:\n\n```sql\n{quarantine_sql(feed, load)}\n```"
        )
    return metadata


def partitions_metadata(
    conn: WarehouseConnection,
    feed: Feed,
    load_dates: list[date],
    report: WindowLoadReport,
    phi: frozenset[str],
) -> dict[date, dict[str, Any]]:
    """The metadata of every partition of the run, from the load audit (two statements for the window)."""
    start, end = min(load_dates), max(load_dates) + timedelta(days=1)
    loads = current_loads(conn, feed, start, end)
    previews = (
        quarantine_previews(conn, feed, start, end, phi)
        if any(load.rows_quarantined for load in loads.values())
        else {}
    )
    statuses = {result.load_date: result.status for result in report.results}
    return {
        day: partition_metadata(
            feed,
            statuses.get(day, NO_FILE_STATUS),
            loads.get(day),
            previews.get(loads[day].load_id, []) if day in loads else [],
        )
        for day in load_dates
    }


def rejection_error(report: WindowLoadReport) -> LandingFileError:
    """One error for the run: the first rejected file, naming the others."""
    first = report.errors[0]
    if len(report.errors) == 1:
        return first
    others = "; ".join(str(e) for e in report.errors[1:6])
    more = f" and {len(report.errors) - 6} more" if len(report.errors) > 6 else ""
    return LandingFileError(first.path, f"{first.problem} (also rejected: {others}{more})")


# Written by every staging asset beside its feed's table: published whole after each load in lake mode.
LAKE_WHOLE_TABLES = ("load_audit", "quarantine")


def publish_load_to_lake(
    conn: WarehouseConnection, feed: Feed, report: WindowLoadReport, lake_dir: str
) -> list[Published]:
    """Lake mode, after a feed's load committed: its partitions the load replaced (and any other whose
    lake copy differs from staging, such as a load date a re-delivery emptied: sync_partitions), then
    the load audit and the quarantine, whole."""
    loaded = [result.load_date for result in report.with_status(LOADED)]
    published = [sync_partitions(conn, feed.name, lake_dir, loaded)]
    for table in LAKE_WHOLE_TABLES:
        whole = publish_whole(conn, table, lake_dir)
        if whole is not None:
            published.append(whole)
    return published


def build_staging_asset(
    feed: Feed, dictionary: Dictionary, partitions_def: PartitionsDefinition
) -> AssetsDefinition:
    """The staging asset of one feed, with its checks as check specs."""
    key = staging_asset_key(feed.name)
    table = f"staging.{feed.name}"
    phi = phi_names(dictionary)

    @asset(
        key=key,
        group_name="staging",
        deps=[AssetKey(["landing", feed.name])],
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        description=staging_asset_description(feed, dictionary),
        check_specs=staging_check_specs(feed.name, dictionary),
        kinds={"python", "sql"},
        owners=OWNERS,
        tags=layer_tags("staging"),
        metadata={"dagster/column_schema": staging_column_schema(feed), "dagster/table_name": table},
    )
    def _staging_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, landing: LandingDirResource
    ) -> Iterator[MaterializeResult | AssetCheckEvaluation | Output]:
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        load_dates = [date.fromisoformat(pk) for pk in context.partition_keys]
        with warehouse.connect() as conn:  # closed before returning: dbt-duckdb opens the file next
            report = load_feed_window(
                conn,
                feed.name,
                landing.root,
                start,
                end,
                asset_key=key.to_user_string(),
                run_id=context.run.run_id,
                log=loader_progress_log(context.log),
                batch_bytes=warehouse.staging_batch_bytes,
                memory_limit=warehouse.staging_duckdb_memory_limit,
            )
            log_file_results(context.log, report, asset=key.to_user_string())  # JSON lines mode only
            lake_metadata: dict[str, Any] = {}
            if warehouse.is_lake:  # what the load committed goes to the lake, even if a file was rejected
                for published in publish_load_to_lake(conn, feed, report, warehouse.lake_dir):
                    context.log.info(f"lake: published {published.summary()}")
                lake_metadata["lake_path"] = MetadataValue.path(table_location(warehouse.lake_dir, feed.name))
            for ignored in report.ignored:
                if not ignored.is_hidden:
                    context.log.warning(f"ignored {ignored}")
            if report.errors:
                raise rejection_error(report)
            per_partition = partitions_metadata(conn, feed, load_dates, report, phi)
            evaluations = evaluate_staging_checks(conn, feed.name, load_dates, dictionary=dictionary)
            data_time = data_time_metadata(conn, feed.name)  # for the freshness checks (data time)
        # Each partition gets its own figures; the result's metadata is only what holds for all of them.
        for day, metadata in per_partition.items():
            context.add_asset_metadata(metadata, partition_key=day.isoformat())
        yield MaterializeResult(
            metadata={
                "load_dates": f"[{start}, {end})",
                "dagster/table_name": table,
                **data_time,
                **lake_metadata,
            }
        )
        # One evaluation per partition and check (not one for the window plus a skipped one per
        # partition); the check's output then closes it. A failed blocking check fails the step.
        yield from evaluations
        for check_key in context.assets_def.check_keys:
            yield Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))

    return _staging_asset


def build_staging_assets(
    partitions_def: PartitionsDefinition, dictionary: Dictionary | None = None
) -> list[AssetsDefinition]:
    dictionary = dictionary or load_dictionary()
    return [build_staging_asset(feed, dictionary, partitions_def) for feed in dictionary.feeds.values()]


# `staging.load_audit` is written by every staging asset in the same transaction as its data, so
# it has no asset of its own to materialize; dbt reads it as a source (stg_load_audit).
load_audit_spec = AssetSpec(
    key=AssetKey(["staging", "load_audit"]),
    group_name="staging",
    description=(
        "`staging.load_audit`: one row per landing file load by the staging assets (load id, "
        "partition, file, checksum, rows read / staged / quarantined, reader, status, message). "
        "Written by every staging asset in the transaction that replaces its partition; dbt's "
        "stg_load_audit reads the load each partition holds now."
    ),
    kinds={"table"},
    owners=OWNERS,
    tags=layer_tags("staging"),
    metadata={"dagster/table_name": "staging.load_audit"},
)
