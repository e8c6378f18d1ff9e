"""Rendering the chart catalogue from an open warehouse connection into a reports folder.

For each chart of `charts.CHARTS`: `<name>.png` (modest DPI: it is also embedded in the Dagster
materialization), `<name>.svg`, and `<name>.csv` with the exact rows drawn (money as exact
decimals), then `charts.json` (what was rendered, from which data) and a static `index.html` that
links them all and opens from disk. Files are replaced atomically, so a browser never sees half a
chart; re-rendering is safe.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from aca_warehouse.errors import AcaWarehouseError
from aca_warehouse.reports.charts import CHARTS, ChartContext, ChartSpec, Row, empty_chart
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.settings import PROJECT_ROOT

REPORTS_DIR_DEFAULT = "data/reports"
PNG_DPI = 80
FIGURE_SIZE_INCHES = (8.0, 4.2)


class ReportError(AcaWarehouseError):
    """The charts cannot be rendered (no marts in the warehouse, an unwritable reports folder)."""


@dataclass(frozen=True)
class ChartFile:
    """One rendered chart: its files, how many rows it drew, and the PNG bytes for embedding."""

    name: str
    title: str
    description: str
    png: Path
    svg: Path
    data: Path
    rows: int
    png_bytes: bytes = field(repr=False)
    note: str = ""


@dataclass(frozen=True)
class ReportSet:
    """Everything one rendering wrote."""

    out_dir: Path
    index: Path
    charts: list[ChartFile]
    as_of_date: date | None
    generated_at: datetime


def default_reports_dir(configured: str | None = None) -> Path:
    """`configured`, else `ACA_REPORTS_DIR`, else `data/reports`; relative paths are taken from the
    project root, like the other data paths."""
    path = Path(configured or os.environ.get("ACA_REPORTS_DIR") or REPORTS_DIR_DEFAULT).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def fetch_rows(conn: WarehouseConnection, sql: str) -> list[Row]:
    """The query's rows as dicts keyed by column name (either engine)."""
    if conn.is_duckdb:
        result = conn.raw.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    with conn.raw.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _missing_tables(conn: WarehouseConnection, tables: Sequence[str]) -> list[str]:
    return [t for t in tables if not conn.table_exists(*t.split(".", 1))]


def read_as_of_date(conn: WarehouseConnection) -> date | None:
    """The data's as-of date (latest load date of any feed), or None before the first build."""
    if not conn.table_exists("core", "warehouse_as_of"):
        return None
    value = conn.scalar("select max(as_of_date) from core.warehouse_as_of")
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _write_atomic(path: Path, content: bytes) -> None:
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def rows_as_csv(rows: list[Row]) -> bytes:
    """The rows exactly as read: decimals keep their digits, dates ISO, null empty."""
    buffer = io.StringIO()
    if rows:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow(
                ["" if v is None else (v.isoformat() if isinstance(v, date) else v) for v in row.values()]
            )
    return buffer.getvalue().encode()


def draw_chart(spec: ChartSpec, rows: list[Row], context: ChartContext, note: str) -> tuple[bytes, bytes]:
    """The chart as (PNG, SVG) bytes. Uses matplotlib's object API (no pyplot, no display)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "aca-warehouse", "font.size": 9}):
        fig = Figure(figsize=FIGURE_SIZE_INCHES, layout="constrained")
        if note:
            empty_chart(fig, note)
        else:
            spec.draw(fig, rows, context)
        fig.suptitle(spec.title, fontsize=11, x=0.01, ha="left")
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return png.getvalue(), svg.getvalue()


def render_reports(
    conn: WarehouseConnection,
    out_dir: Path | None = None,
    *,
    source: str = "",
    charts: Sequence[ChartSpec] = CHARTS,
) -> ReportSet:
    """Read every chart's data, draw it, and write the reports folder; returns what was written."""
    out_dir = Path(out_dir) if out_dir is not None else default_reports_dir()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the reports folder {out_dir}: {exc} (set ACA_REPORTS_DIR)") from exc
    read_tables = sorted({t for spec in charts for t in spec.reads})
    if set(_missing_tables(conn, read_tables)) == set(read_tables):
        raise ReportError(
            f"the warehouse has none of the tables the charts read ({', '.join(read_tables)}); "
            "build it first (`make run`, or a run of the load_everything job)"
        )
    context = ChartContext(as_of_date=read_as_of_date(conn))
    rendered: list[ChartFile] = []
    for spec in charts:
        missing = _missing_tables(conn, spec.reads)
        note = f"Not built yet: {', '.join(missing)} does not exist." if missing else ""
        rows = [] if missing else fetch_rows(conn, spec.sql)
        png, svg = draw_chart(spec, rows, context, note)
        paths = {kind: out_dir / f"{spec.name}.{kind}" for kind in ("png", "svg", "csv")}
        _write_atomic(paths["png"], png)
        _write_atomic(paths["svg"], svg)
        _write_atomic(paths["csv"], rows_as_csv(rows))
        rendered.append(
            ChartFile(
                name=spec.name,
                title=spec.title,
                description=spec.description,
                png=paths["png"],
                svg=paths["svg"],
                data=paths["csv"],
                rows=len(rows),
                png_bytes=png,
                note=note,
            )
        )
    generated_at = datetime.now(UTC).replace(microsecond=0)
    manifest = {
        "generated_at": generated_at.isoformat(),
        "as_of_date": context.as_of_date.isoformat() if context.as_of_date else None,
        "source": source,
        "charts": [
            {
                "name": c.name,
                "title": c.title,
                "description": c.description,
                "rows": c.rows,
                "note": c.note,
                "files": {"png": c.png.name, "svg": c.svg.name, "data": c.data.name},
            }
            for c in rendered
        ],
    }
    _write_atomic(out_dir / "charts.json", json.dumps(manifest, indent=2).encode())
    index = out_dir / "index.html"
    _write_atomic(index, render_index(rendered, context.as_of_date, generated_at, source).encode())
    return ReportSet(
        out_dir=out_dir,
        index=index,
        charts=rendered,
        as_of_date=context.as_of_date,
        generated_at=generated_at,
    )


def _inline_markdown(text: str) -> str:
    """The descriptions' only markup: `code`."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


_PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 62rem;
       padding: 0 1rem; color: #222; }
header p { color: #555; margin: 0.2rem 0; }
nav ul { columns: 2; padding-left: 1.2rem; }
section { margin: 2.5rem 0; border-top: 1px solid #ddd; padding-top: 1rem; }
section img { max-width: 100%; height: auto; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 0.2rem; }
.files a { margin-right: 1rem; }
"""


def render_index(
    charts: Sequence[ChartFile], as_of_date: date | None, generated_at: datetime, source: str
) -> str:
    """A static page (no scripts, relative links) that shows every chart and links its files."""
    as_of = as_of_date.isoformat() if as_of_date else "unknown (no build yet)"
    items = "\n".join(f'<li><a href="#{c.name}">{html.escape(c.title)}</a></li>' for c in charts)
    sections = []
    for c in charts:
        note = f"<p><strong>{html.escape(c.note)}</strong></p>" if c.note else ""
        sections.append(
            f"""<section id="{c.name}">
<h2>{html.escape(c.title)}</h2>
<p>{_inline_markdown(c.description)}</p>{note}
<a href="{c.svg.name}"><img src="{c.svg.name}" alt="{html.escape(c.title)}"></a>
<p class="files"><a href="{c.svg.name}">SVG</a><a href="{c.png.name}">PNG</a>\
<a href="{c.data.name}">data (CSV, {c.rows} rows)</a></p>
</section>"""
        )
    source_line = f"<p>Source: {html.escape(source)}</p>" if source else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>aca_warehouse reports</title>
<style>{_PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>aca_warehouse: marts and data-quality charts</h1>
<p>Data as of {as_of}; rendered {generated_at.isoformat()}.</p>
{source_line}
<p>Rendered by the <code>reports/charts</code> asset after every load, or by
<code>make report</code>. Each chart's data is the CSV beside it; <code>charts.json</code> lists them.</p>
</header>
<nav><ul>
{items}
</ul></nav>
{chr(10).join(sections)}
</body>
</html>
"""
