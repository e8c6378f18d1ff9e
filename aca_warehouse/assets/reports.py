"""The `reports/charts` asset: charts of the marts and of data quality, attached to its materialization.

Downstream of the tables the charts read (marts, the claim-line fact, the quality KPIs), partitioned
by load date like every other asset so a range run or a UI backfill stays one run. The charts show
the whole warehouse as of its latest load, whatever the partition: the marts are rebuilt over all
history by every run. In a range run the charts go on the materialization of the range's last
partition only (Dagster would otherwise copy the same images onto every partition's event).
"""

import base64
from collections.abc import Iterable
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.reports import ChartFile, default_reports_dir, render_reports
from aca_warehouse.reports.charts import CHARTS
from aca_warehouse.resources.warehouse import WarehouseResource

REPORTS_ASSET_KEY = AssetKey(["reports", "charts"])


class ReportsConfig(Config):
    """Where the charts go: empty means the code location's reports folder (ACA_REPORTS_DIR, default
    data/reports under the project)."""

    reports_dir: str = ""


def table_asset_key(table: str) -> AssetKey:
    """The asset of a `schema.table` a chart reads: every one is a dbt model, keyed by schema."""
    return AssetKey(table.split("."))


def chart_markdown(chart: ChartFile) -> str:
    """The chart as Markdown with the PNG inline (a data URI), which the Dagster UI displays."""
    encoded = base64.b64encode(chart.png_bytes).decode("ascii")
    note = f"\n\n**{chart.note}**" if chart.note else ""
    return f"![{chart.title}](data:image/png;base64,{encoded})\n\n{chart.description}{note}"


def build_reports_asset(
    available: Iterable[AssetKey], partitions_def: PartitionsDefinition, reports_dir: Path | None = None
) -> AssetsDefinition:
    """The charts asset, depending on those of the tables it reads that `available` defines; the charts
    go to `reports_dir` (the settings' ACA_REPORTS_DIR) unless a run's config names another folder."""
    known = set(available)
    read_keys = {table_asset_key(table) for spec in CHARTS for table in spec.reads}
    deps = sorted((k for k in read_keys if k in known), key=lambda k: k.to_user_string())

    @asset(
        key=REPORTS_ASSET_KEY,
        group_name="reports",
        deps=deps,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        kinds={"python", "matplotlib"},
        owners=OWNERS,
        tags=layer_tags("reports"),
        description=(
            "Charts of the marts and of data quality, redrawn after every load: "
            + "; ".join(spec.title for spec in CHARTS)
            + ". Each is attached to the materialization (PNG) and written to the reports folder "
            "(ACA_REPORTS_DIR, default data/reports/) as PNG, SVG and the CSV of the rows drawn, with a "
            "static index.html; `make report` redraws them from the current warehouse without a run."
        ),
    )
    def charts(
        context: AssetExecutionContext, warehouse: WarehouseResource, config: ReportsConfig
    ) -> MaterializeResult:
        out_dir = default_reports_dir(config.reports_dir or (str(reports_dir) if reports_dir else None))
        with warehouse.connect() as conn:  # closed before returning: DuckDB allows one writer process
            report = render_reports(conn, out_dir, source=warehouse.description)
        # The charts go on one partition's event: the last of the run's window.
        last_partition = (
            context.partition_key_range.end if context.has_partition_key_range else context.partition_key
        )
        context.add_asset_metadata(
            {f"chart_{chart.name}": MetadataValue.md(chart_markdown(chart)) for chart in report.charts},
            partition_key=last_partition,
        )
        context.log.info(
            f"rendered {len(report.charts)} charts into {report.out_dir} (as of {report.as_of_date})"
        )
        return MaterializeResult(
            metadata={
                "reports_index": MetadataValue.path(str(report.index)),
                "as_of_date": str(report.as_of_date),
                "charts": len(report.charts),
                "charts_with_data": sum(1 for c in report.charts if c.rows),
                "charts_on_partition": last_partition,
            }
        )

    return charts
