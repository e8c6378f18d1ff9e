"""Staging assets: one per feed, loading the landing files of the run's load dates into `staging.<feed>`."""

from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)

from aca_warehouse.checks.freshness import data_time_metadata
from aca_warehouse.checks.staging import evaluate_staging_checks, staging_asset_key, staging_check_specs
from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.errors import LandingFileError
from aca_warehouse.logs import loader_progress_log, log_file_results
from aca_warehouse.partitions import daily_partitions
from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging.loader import FAILED, LOADED, UNCHANGED, WindowLoadReport, load_feed_window
from aca_warehouse.staging.tables import METADATA_COLUMNS

_MAX_TABLE_ROWS = 100


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


def _files_markdown(report: WindowLoadReport) -> str:
    lines = [
        "| file | load date | status | read | staged | quarantined | reason codes |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in report.results[:_MAX_TABLE_ROWS]:
        codes = ", ".join(f"{code} {n}" for code, n in result.reason_code_counts.items())
        lines.append(
            f"| {result.source_file} | {result.load_date} | {result.status} | {result.rows_read} | "
            f"{result.rows_staged} | {result.rows_quarantined} | {codes} |"
        )
    for error in report.errors:
        lines.append(f"| {error.path} | | {FAILED} | | | | {error.problem} |")
    if len(report.results) > _MAX_TABLE_ROWS:
        lines.append(f"| ... {len(report.results) - _MAX_TABLE_ROWS} more | | | | | | |")
    return "\n".join(lines)


def load_report_metadata(report: WindowLoadReport, *, per_file: bool = True) -> dict[str, object]:
    """Run metadata: files loaded / unchanged / ignored, rows read, staged and quarantined, and (with
    `per_file`) the same per file.

    Dagster copies a range run's metadata onto the materialization of every partition in the range,
    so per-file detail there would grow with the square of the range (a 730-day backfill spent most
    of its staging time serializing it). A range run reports totals and points at
    `staging.load_audit`, which holds the per-file record of every load."""
    loaded, unchanged = report.with_status(LOADED), report.with_status(UNCHANGED)
    reason_totals: dict[str, int] = {}
    for result in loaded:
        for code, count in result.reason_code_counts.items():
            reason_totals[code] = reason_totals.get(code, 0) + count
    metadata: dict[str, object] = {
        "files_loaded": len(loaded),
        "files_unchanged": len(unchanged),
        "files_rejected": len(report.errors),
        "files_ignored": len(report.ignored),
        "rows_read": sum(r.rows_read for r in loaded),
        "rows_staged": sum(r.rows_staged for r in loaded),
        "rows_quarantined": sum(r.rows_quarantined for r in loaded),
        "reason_code_counts": MetadataValue.json(dict(sorted(reason_totals.items()))),
    }
    if not per_file:
        return metadata
    return {
        **metadata,
        "files": MetadataValue.md(_files_markdown(report)),
        "loads": MetadataValue.json([r.as_metadata_row() for r in report.results[: _MAX_TABLE_ROWS * 4]]),
        "skipped_files": MetadataValue.json(
            [{"file": r.source_file, "reason": r.message} for r in unchanged[:_MAX_TABLE_ROWS]]
            + [{"file": i.name, "reason": f"ignored: {i.reason}"} for i in report.ignored]
        ),
    }


def rejection_error(report: WindowLoadReport) -> LandingFileError:
    """One error for the run: the first rejected file, naming the others."""
    first = report.errors[0]
    if len(report.errors) == 1:
        return first
    others = "; ".join(str(e) for e in report.errors[1:6])
    more = f" and {len(report.errors) - 6} more" if len(report.errors) > 6 else ""
    return LandingFileError(first.path, f"{first.problem} (also rejected: {others}{more})")


def build_staging_asset(feed: Feed, dictionary: Dictionary) -> AssetsDefinition:
    """The staging asset of one feed, with its checks as check specs."""
    key = staging_asset_key(feed.name)

    @asset(
        key=key,
        group_name="staging",
        deps=[AssetKey(["landing", feed.name])],
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        description=staging_asset_description(feed, dictionary),
        check_specs=staging_check_specs(feed.name, dictionary),
        kinds={"python", "sql"},
        metadata={"dagster/column_schema": staging_column_schema(feed), "table": f"staging.{feed.name}"},
    )
    def _staging_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, landing: LandingDirResource
    ) -> MaterializeResult:
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
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
            )
            log_file_results(context.log, report, asset=key.to_user_string())  # JSON lines mode only
            for ignored in report.ignored:
                if not ignored.is_hidden:
                    context.log.warning(f"ignored {ignored}")
            if report.errors:
                raise rejection_error(report)
            check_results = evaluate_staging_checks(conn, feed.name, start, end, dictionary=dictionary)
            data_time = data_time_metadata(conn, feed.name)  # for the freshness checks (data time)
        one_day = end - start <= timedelta(days=1)
        metadata = load_report_metadata(report, per_file=one_day)
        metadata["load_dates"] = f"[{start}, {end})"
        metadata.update(data_time)
        if not one_day:
            metadata["per_file"] = MetadataValue.md(
                f"Per-file results of this range: `select * from staging.load_audit where feed = "
                f"'{feed.name}' and dagster_run_id = '{context.run.run_id}'`"
            )
        return MaterializeResult(metadata=metadata, check_results=check_results)

    return _staging_asset


def build_staging_assets(dictionary: Dictionary | None = None) -> list[AssetsDefinition]:
    dictionary = dictionary or load_dictionary()
    return [build_staging_asset(feed, dictionary) for feed in dictionary.feeds.values()]


staging_assets: list[AssetsDefinition] = build_staging_assets()

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
    metadata={"dagster/table_name": "staging.load_audit"},
)
