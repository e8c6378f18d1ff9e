"""The reports asset: the demo's charts on its materialization, the reports folder, and chart data true to the marts."""

from __future__ import annotations

import base64
import csv
import json
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from aca_warehouse.assets.reports import REPORTS_ASSET_KEY, build_reports_asset
from aca_warehouse.cli import main
from aca_warehouse.reports import ReportError, render_reports
from aca_warehouse.reports.charts import CHARTS

from ..conftest import DEMO_DAYS, DEMO_START

pytestmark = [pytest.mark.duckdb, pytest.mark.xdist_group("demo")]

LAST_DAY = (date.fromisoformat(DEMO_START) + timedelta(days=DEMO_DAYS - 1)).isoformat()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _reports_materializations(result) -> dict[str, dict]:  # noqa: ANN001 - ExecuteInProcessResult
    """partition -> metadata of the reports asset's materializations in a run."""
    return {
        event.materialization.partition: dict(event.materialization.metadata)
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == REPORTS_ASSET_KEY
    }


def _embedded_png(markdown: str) -> bytes:
    match = re.search(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:200]
    return base64.b64decode(match.group(1))


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_demo_run_attaches_every_chart_to_the_last_partition_only(loaded_duckdb_demo) -> None:  # noqa: ANN001
    _, result = loaded_duckdb_demo
    by_partition = _reports_materializations(result)
    assert len(by_partition) == DEMO_DAYS  # one materialization per load date of the range run
    last = by_partition[LAST_DAY]
    for spec in CHARTS:
        markdown = last[f"chart_{spec.name}"].value
        png = _embedded_png(markdown)
        assert png.startswith(PNG_SIGNATURE)
        assert 5_000 < len(png) < 150_000, (spec.name, len(png))
    assert last["charts"].value == len(CHARTS)
    assert last["charts_with_data"].value == len(CHARTS)  # the demo has data for every chart
    assert last["as_of_date"].value == LAST_DAY
    # The images are not copied onto the other 44 partitions' events.
    for partition, metadata in by_partition.items():
        if partition != LAST_DAY:
            assert not [key for key in metadata if key.startswith("chart_")], partition


@pytest.fixture(scope="module")
def demo_reports(loaded_duckdb_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """The charts of the demo warehouse in a folder of their own, drawn as the reports asset draws them
    (a shared folder is overwritten by any other run in the same worker)."""
    warehouse, _ = loaded_duckdb_demo
    out = tmp_path_factory.mktemp("demo_reports")
    with warehouse.connect() as conn:
        render_reports(conn, out, source=warehouse.description)
    return out


def test_reports_folder_has_each_chart_its_data_and_an_index(demo_reports: Path) -> None:
    out = demo_reports
    index = (out / "index.html").read_text()
    manifest = json.loads((out / "charts.json").read_text())
    assert manifest["as_of_date"] == LAST_DAY
    assert [c["name"] for c in manifest["charts"]] == [spec.name for spec in CHARTS]
    for spec in CHARTS:
        png, svg, data = (out / f"{spec.name}.{kind}" for kind in ("png", "svg", "csv"))
        assert png.read_bytes().startswith(PNG_SIGNATURE)
        assert "<svg" in svg.read_text()[:500]
        assert _csv_rows(data), f"{data} has no rows"
        for target in (png.name, svg.name, data.name):
            assert f'href="{target}"' in index, target
    assert "<script" not in index  # a static page that opens from disk


def test_chart_data_matches_the_marts(loaded_duckdb_demo, demo_reports: Path) -> None:  # noqa: ANN001
    warehouse, _ = loaded_duckdb_demo
    out = demo_reports
    with warehouse.connect() as conn:
        plan_months = conn.fetchall(
            "select month, metal_tier, member_months, claims_paid, premium_earned from marts.plan_month "
            "where hios_plan_id <> 'UNKNOWN'"
        )
        mlr = conn.fetchall(
            "select issuer_id, state, plan_year, premium_earned, claims_paid, mlr from marts.mlr_plan_year"
        )
        kpi_rows = conn.scalar("select count(*) from marts.data_quality_kpis")
        counted_lines = conn.scalar("select count(*) from core.fct_claim_lines where is_counted_line")
    # PMPM: sums per month and tier recomputed from the mart, exactly (money) and to the cent (PMPM).
    expected: dict[tuple[str, str], list[Decimal]] = {}
    for month, tier, member_months, paid, premium in plan_months:
        sums = expected.setdefault(
            (month.isoformat(), tier or "UNKNOWN"), [Decimal(0), Decimal(0), Decimal(0)]
        )
        sums[0] += member_months
        sums[1] += paid
        sums[2] += premium
    drawn = _csv_rows(out / "pmpm_by_metal_tier.csv")
    assert {(r["month"], r["metal_tier"]) for r in drawn} == set(expected)
    for row in drawn:
        member_months, paid, premium = expected[(row["month"], row["metal_tier"])]
        assert Decimal(row["member_months"]) == member_months
        assert Decimal(row["claims_paid"]) == paid
        assert Decimal(row["premium_earned"]) == premium
        if member_months:
            assert Decimal(row["pmpm_paid"]) == (paid / member_months).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
        else:
            assert row["pmpm_paid"] == ""
    # MLR: the mart's rows, one for one.
    drawn_mlr = {
        (r["issuer_id"], r["state"], int(r["plan_year"])): r for r in _csv_rows(out / "mlr_by_issuer.csv")
    }
    assert len(drawn_mlr) == len(mlr)
    for issuer, state, year, premium, paid, ratio in mlr:
        row = drawn_mlr[(issuer, state or "", year)]
        assert (Decimal(row["premium_earned"]), Decimal(row["claims_paid"])) == (premium, paid)
        assert (row["mlr"] == "") if ratio is None else Decimal(row["mlr"]) == ratio
    # Quality and lag: every KPI row drawn, every counted claim line in the lag histogram.
    assert len(_csv_rows(out / "quarantine_rate.csv")) == kpi_rows
    assert sum(int(r["claim_lines"]) for r in _csv_rows(out / "claims_lag.csv")) == counted_lines


def test_reports_asset_alone_writes_to_its_configured_folder(loaded_duckdb_demo, tmp_path: Path) -> None:  # noqa: ANN001
    warehouse, _ = loaded_duckdb_demo
    from aca_warehouse_tests.pipeline import partitions_for_tests

    asset = build_reports_asset([AssetKey(["marts", "plan_month"])], partitions_for_tests())
    result = materialize(
        [asset],
        resources={"warehouse": warehouse},
        partition_key=LAST_DAY,
        run_config={"ops": {"reports__charts": {"config": {"reports_dir": str(tmp_path)}}}},
    )
    assert result.success
    metadata = _reports_materializations(result)[LAST_DAY]
    assert _embedded_png(metadata["chart_mlr_by_issuer"].value).startswith(PNG_SIGNATURE)
    assert metadata["reports_index"].value == str(tmp_path / "index.html")
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == sorted(f"{s.name}.svg" for s in CHARTS)


def test_report_command_draws_from_the_configured_warehouse(
    loaded_duckdb_demo,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    warehouse, _ = loaded_duckdb_demo
    monkeypatch.setenv("ACA_WAREHOUSE", "duckdb")
    monkeypatch.setenv("ACA_DUCKDB_PATH", warehouse.duckdb_path)
    assert main(["report", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert f"{len(CHARTS)} charts of DuckDB file {warehouse.duckdb_path} as of {LAST_DAY}" in out
    assert (tmp_path / "r" / "index.html").exists()


def test_report_on_an_empty_warehouse_says_to_build_it_first(make_warehouse, tmp_path: Path) -> None:  # noqa: ANN001
    with make_warehouse("duckdb").connect() as conn, pytest.raises(ReportError, match="make run"):
        render_reports(conn, tmp_path)
