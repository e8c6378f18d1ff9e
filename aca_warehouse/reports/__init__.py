"""Charts of the marts and of data quality: PNG and SVG files, the data behind each, and an index page.

`render_reports(conn, out_dir)` reads the marts through an open warehouse connection and writes
one PNG, one SVG and one CSV per chart plus `index.html` and `charts.json`; the Dagster asset
`reports/charts` and the `aca-warehouse report` command both call it. matplotlib is imported only
when charts are drawn, so importing this package (and the Dagster definitions) stays cheap.
"""

from aca_warehouse.reports.render import (
    ChartFile,
    ReportError,
    ReportSet,
    default_reports_dir,
    render_reports,
)

__all__ = ["ChartFile", "ReportError", "ReportSet", "default_reports_dir", "render_reports"]
