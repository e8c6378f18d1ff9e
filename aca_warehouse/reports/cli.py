"""The `report` subcommand of aca-warehouse: redraw the charts from the current warehouse, without a run."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `report` to the aca-warehouse command."""
    report = subparsers.add_parser(
        "report",
        help="draw the marts and data-quality charts from the current warehouse into the reports folder",
        description="Read the marts of the configured warehouse (ACA_WAREHOUSE) and write one PNG, SVG and CSV "
        "per chart plus index.html into the reports folder. Reads only; no Dagster run is recorded.",
    )
    report.add_argument(
        "--out", type=Path, default=None, help="reports folder (default: ACA_REPORTS_DIR or data/reports)"
    )
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from aca_warehouse.reports import default_reports_dir, render_reports
    from aca_warehouse.resources import WarehouseResource
    from aca_warehouse.settings import load_settings

    warehouse = WarehouseResource.from_settings(load_settings())
    out_dir = default_reports_dir(str(args.out) if args.out else None)
    with warehouse.connect() as conn:
        report = render_reports(conn, out_dir, source=warehouse.description)
    for chart in report.charts:
        status = chart.note or f"{chart.rows} rows"
        print(f"  {chart.name:<26} {status}")
    print(
        f"{len(report.charts)} charts of {warehouse.description} as of {report.as_of_date} in {report.out_dir}"
    )
    print(f"open {report.index}")
    return 0
