"""The charts drawn from given rows (no warehouse): only what the rows say, and a chart without rows says so."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from matplotlib.figure import Figure

from aca_warehouse.reports.charts import CHARTS, ChartContext, monthly_lines_by_tier


def test_monthly_chart_draws_only_what_the_rows_say() -> None:
    """Months before any claim or premium are left out, a month without member months has no point."""
    rows = [
        {
            "month": date(2025, 9, 1),
            "metal_tier": "Silver",
            "pmpm_paid": Decimal("0.00"),
            "claims_paid": 0,
            "premium_earned": 0,
        },
        {
            "month": date(2025, 10, 1),
            "metal_tier": "Silver",
            "pmpm_paid": Decimal("12.50"),
            "claims_paid": 25,
            "premium_earned": 0,
        },
        {
            "month": date(2025, 11, 1),
            "metal_tier": "Silver",
            "pmpm_paid": None,
            "claims_paid": 5,
            "premium_earned": 0,
        },
        {
            "month": date(2025, 11, 1),
            "metal_tier": "Gold",
            "pmpm_paid": Decimal("40.00"),
            "claims_paid": 80,
            "premium_earned": 9,
        },
    ]
    fig = Figure()
    draw = monthly_lines_by_tier(
        "pmpm_paid", "PMPM", percent=False, activity=("claims_paid", "premium_earned")
    )
    draw(fig, rows, ChartContext(as_of_date=date(2025, 11, 20)))
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert sorted(lines) == ["Gold", "Silver"]
    assert [y for _, y in lines["Silver"].get_xydata()] == [
        12.5
    ]  # Sept (no activity) and Nov (no members) absent
    assert [y for _, y in lines["Gold"].get_xydata()] == [40.0]


def test_a_chart_without_rows_says_so() -> None:
    fig = Figure()
    spec = next(s for s in CHARTS if s.name == "loss_ratio_by_metal_tier")
    spec.draw(fig, [], ChartContext(as_of_date=None))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(text.startswith("No loss ratio") for text in texts), texts
