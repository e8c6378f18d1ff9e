"""The chart catalogue: for each chart, the SQL that reads its data from the marts and how it is drawn.

Every query aggregates (no member-level rows, no PHI) and runs as written on DuckDB and
PostgreSQL. Drawing functions receive the query's rows as dicts and a matplotlib `Figure`; they
draw only what the rows say: a month with no member months has no PMPM point, a ratio whose
denominator is 0 is left out, and a chart without rows says so instead of drawing empty axes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aca_warehouse.checks.freshness import DAILY_LAG_DAYS, SNAPSHOT_LAG_DAYS
from aca_warehouse.contract import load_dictionary

if TYPE_CHECKING:  # matplotlib is imported lazily, when charts are drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Row = dict[str, Any]

# The ACA's medical-loss-ratio floor for the individual and small-group markets (45 CFR 158.210).
MLR_STANDARD = 0.80
# The freshness checks' limits on data time (aca_warehouse/checks/freshness.py), in days.
FRESHNESS_FAIL_DAYS = {"daily": DAILY_LAG_DAYS, "snapshot": SNAPSHOT_LAG_DAYS}

METAL_TIER_COLOURS = {
    "Catastrophic": "#6b3e75",
    "Bronze": "#a0652c",
    "Expanded Bronze": "#c98b4f",
    "Silver": "#8a9399",
    "Gold": "#c9a227",
    "Platinum": "#3e6f9e",
    "UNKNOWN": "#333333",
}
METAL_TIER_ORDER = list(METAL_TIER_COLOURS)
OK_COLOUR, BAD_COLOUR, NEUTRAL_COLOUR = "#2e7d4f", "#c0392b", "#4c72b0"


@dataclass(frozen=True)
class ChartContext:
    """What every chart may mention: the data's as-of date (latest load date), when known."""

    as_of_date: date | None

    @property
    def as_of_month(self) -> date | None:
        return self.as_of_date.replace(day=1) if self.as_of_date else None


@dataclass(frozen=True)
class ChartSpec:
    """One chart: its file name, title, what it shows, the tables it reads and how to draw it."""

    name: str
    title: str
    description: str
    reads: tuple[str, ...]
    sql: str
    draw: Callable[[Figure, list[Row], ChartContext], None]


def number(value: Any) -> float | None:
    """A plottable float (None stays None); Decimals are exact in the CSV, floats only on the axes."""
    if value is None:
        return None
    return float(value) if isinstance(value, (Decimal, int, float)) else float(str(value))


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# -- drawing helpers -----------------------------------------------------------------------------


def empty_chart(fig: Figure, message: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555555", wrap=True)


def _month_axis(ax: Axes, months: Sequence[date]) -> None:
    import matplotlib.dates as mdates

    span = len(set(months))
    interval = 1 if span <= 12 else 3 if span <= 36 else 12
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=interval))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    if span == 1:  # one month: give the axis some width around it
        from datetime import timedelta

        ax.set_xlim(months[0] - timedelta(days=20), months[0] + timedelta(days=20))


def _day_axis(ax: Axes, days: Sequence[date]) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(set(days)) == 1:  # one day: give the axis some width around it
        from datetime import timedelta

        only = days[0]
        ax.set_xlim(only - timedelta(days=3), only + timedelta(days=3))


def footnote(ax: Axes, text: str) -> None:
    """A grey line of context under the chart (placed by the figure's constrained layout)."""
    ax.figure.supxlabel(text, fontsize=7.5, color="#666666", x=0.01, ha="left")


def _percent_axis(ax: Axes, decimals: int = 0) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=decimals))


def _style(ax: Axes) -> None:
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _tiers_in(rows: list[Row], column: str = "metal_tier") -> list[str]:
    present = {str(r[column]) for r in rows}
    return [t for t in METAL_TIER_ORDER if t in present] + sorted(present - set(METAL_TIER_ORDER))


def _as_of_note(ax: Axes, context: ChartContext, partial_month: bool = True) -> None:
    if context.as_of_date is None:
        return
    text = f"data as of {context.as_of_date.isoformat()}"
    if partial_month:
        text += "; open markers: the as-of month is still open (claims lag)"
    footnote(ax, text)


def from_first_active_month(rows: list[Row], activity_columns: Sequence[str]) -> list[Row]:
    """The rows from the first month in which any row has activity (claims, premium).

    Member months reach back before the first landing file (coverage that started earlier), but
    claims and premiums only exist from the first files on: those earlier months would show a
    PMPM of 0 that says nothing about cost, so they are left out."""
    active = [as_date(r["month"]) for r in rows if any(number(r[c]) for c in activity_columns)]
    if not active:
        return []
    first = min(active)
    return [r for r in rows if as_date(r["month"]) >= first]


def monthly_lines_by_tier(
    value_column: str, y_label: str, *, percent: bool, activity: Sequence[str]
) -> Callable[..., None]:
    """Lines per metal tier over months (from the first month with activity); points of the open
    as-of month drawn hollow."""

    def draw(fig: Figure, rows: list[Row], context: ChartContext) -> None:
        points = [r for r in from_first_active_month(rows, activity) if r[value_column] is not None]
        if not points:
            empty_chart(fig, f"No {y_label.lower()} yet: no month with a non-zero denominator.")
            return
        ax = fig.add_subplot()
        for tier in _tiers_in(points):
            series = sorted(
                (as_date(r["month"]), number(r[value_column])) for r in points if r["metal_tier"] == tier
            )
            colour = METAL_TIER_COLOURS.get(tier, "#333333")
            xs, ys = [x for x, _ in series], [y for _, y in series]
            ax.plot(xs, ys, color=colour, linewidth=1.8, label=tier)
            closed = [(x, y) for x, y in series if x != context.as_of_month]
            open_ = [(x, y) for x, y in series if x == context.as_of_month]
            if closed:
                ax.plot(*zip(*closed, strict=True), "o", color=colour, markersize=5)
            if open_:
                ax.plot(*zip(*open_, strict=True), "o", color=colour, markersize=6, markerfacecolor="white")
        _month_axis(ax, [as_date(r["month"]) for r in points])
        if percent:
            _percent_axis(ax)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(y_label)
        ax.legend(title="metal tier", fontsize=8, title_fontsize=8, frameon=False, loc="upper left")
        _style(ax)
        _as_of_note(ax, context)

    return draw


def draw_mlr(fig: Figure, rows: list[Row], context: ChartContext) -> None:
    if not rows:
        empty_chart(fig, "No MLR yet: marts.mlr_plan_year is empty.")
        return
    ax = fig.add_subplot()
    groups = sorted({(r["issuer_id"], r["state"] or "") for r in rows})
    years = sorted({int(r["plan_year"]) for r in rows})
    width = 0.8 / len(years)
    palette = ["#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3"]
    for i, year in enumerate(years):
        for g, group in enumerate(groups):
            match = [
                r for r in rows if (r["issuer_id"], r["state"] or "") == group and int(r["plan_year"]) == year
            ]
            if not match:
                continue
            x = g - 0.4 + width * (i + 0.5)
            mlr = number(match[0]["mlr"])
            if mlr is None:
                ax.text(x, 0.02, "no\npremium", ha="center", va="bottom", fontsize=6.5, color="#666666")
                continue
            colour = palette[i % len(palette)]
            ax.bar(x, mlr, width=width * 0.92, color=colour, label=str(year) if g == 0 else None)
            ax.text(x, mlr, f"{mlr:.0%}", ha="center", va="bottom", fontsize=7)
    ax.axhline(MLR_STANDARD, color=BAD_COLOUR, linestyle="--", linewidth=1.2)
    ax.text(
        len(groups) - 0.45,
        MLR_STANDARD,
        " 80% standard",
        color=BAD_COLOUR,
        fontsize=8,
        va="bottom",
        ha="right",
    )
    ax.set_xticks(range(len(groups)), [f"{issuer}\n{state}" for issuer, state in groups], fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    _percent_axis(ax)
    ax.set_ylim(0, max(1.0, max((number(r["mlr"]) or 0.0) for r in rows) * 1.15))
    ax.set_ylabel("simplified MLR (claims paid / premium earned)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            title="plan year",
            fontsize=8,
            title_fontsize=8,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    _style(ax)
    if context.as_of_date:
        footnote(
            ax,
            f"plan years to date, data as of {context.as_of_date.isoformat()}; below the line: rebate exposure",
        )


def draw_claims_lag(fig: Figure, rows: list[Row], context: ChartContext) -> None:
    points = [(int(r["lag_days"]), int(r["claim_lines"])) for r in rows if r["lag_days"] is not None]
    if not points:
        empty_chart(fig, "No claim lines yet.")
        return
    ax = fig.add_subplot()
    points.sort()
    total = sum(n for _, n in points)
    ax.bar(
        [d for d, _ in points], [n for _, n in points], width=1.0, color=NEUTRAL_COLOUR, label="claim lines"
    )
    ax.set_xlabel("days from service start to first adjudication")
    ax.set_ylabel("claim lines")
    share = ax.twinx()
    cumulative, running = [], 0
    for _, n in points:
        running += n
        cumulative.append(running / total)
    share.step(
        [d for d, _ in points],
        cumulative,
        where="post",
        color="#222222",
        linewidth=1.3,
        label="cumulative share",
    )
    _percent_axis(share)
    share.set_ylim(0, 1.02)
    share.set_ylabel("cumulative share of lines")
    for quantile, style in ((0.5, "-"), (0.9, ":")):
        lag = next(d for d, c in zip((d for d, _ in points), cumulative, strict=True) if c >= quantile)
        ax.axvline(lag, color=BAD_COLOUR, linestyle=style, linewidth=1)
        ax.text(
            lag,
            ax.get_ylim()[1] * 0.97,
            f" p{int(quantile * 100)} {lag} d",
            color=BAD_COLOUR,
            fontsize=8,
            va="top",
        )
    ax.set_xlim(left=min(0, points[0][0]) - 0.5)
    _style(ax)
    share.spines["top"].set_visible(False)
    footnote(
        ax,
        f"{total:,} current claim lines (REVERSED excluded)",
    )


def draw_quarantine_rate(fig: Figure, rows: list[Row], context: ChartContext) -> None:
    if not rows:
        empty_chart(fig, "No loads yet: marts.data_quality_kpis is empty.")
        return
    ax = fig.add_subplot()
    feeds = sorted({r["feed"] for r in rows})
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
    days: list[date] = []
    for i, feed in enumerate(feeds):
        series = sorted(
            (as_date(r["load_date"]), number(r["quarantine_rate"]))
            for r in rows
            if r["feed"] == feed and r["quarantine_rate"] is not None
        )
        if not series:
            continue
        xs, ys = [x for x, _ in series], [y for _, y in series]
        days += xs
        ax.plot(
            xs, ys, marker="o", markersize=3.5, linewidth=1.2, color=palette[i % len(palette)], label=feed
        )
    _day_axis(ax, days or [context.as_of_date or date.today()])
    _percent_axis(ax, decimals=1)
    ax.set_ylim(bottom=0, top=max(0.01, max((number(r["quarantine_rate"]) or 0.0) for r in rows) * 1.15))
    ax.set_ylabel("rows quarantined / rows read")
    ax.set_xlabel("load date")
    if not any(number(r["quarantine_rate"]) for r in rows):
        ax.text(
            0.5,
            0.5,
            f"no row quarantined in {len(rows)} loads",
            transform=ax.transAxes,
            ha="center",
            color="#555555",
        )
    ax.legend(fontsize=7.5, frameon=False, ncols=2, loc="upper left")
    _style(ax)


def draw_reconciliation(fig: Figure, rows: list[Row], context: ChartContext) -> None:
    if not rows:
        empty_chart(fig, "No loads yet: marts.data_quality_kpis is empty.")
        return
    ax = fig.add_subplot()
    feeds = [r["feed"] for r in rows]
    reconciled = [int(r["reconciled_loads"]) for r in rows]
    not_reconciled = [int(r["loads"]) - int(r["reconciled_loads"]) for r in rows]
    ax.barh(feeds, reconciled, color=OK_COLOUR, label="reconciled: read = staged + quarantined")
    ax.barh(feeds, not_reconciled, left=reconciled, color=BAD_COLOUR, label="not reconciled")
    for y, r in enumerate(rows):
        failed = int(r["checks_not_passed"] or 0)
        note = f" {r['reconciled_loads']}/{r['loads']} loads" + (
            f", {failed} checks not passed" if failed else ""
        )
        ax.text(int(r["loads"]), y, note, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(int(r["loads"]) for r in rows) * 1.45)
    ax.set_xlabel("loads (latest load of each feed and load date)")
    ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_freshness(fig: Figure, rows: list[Row], context: ChartContext) -> None:
    if not rows:
        empty_chart(fig, "No loads yet: marts.data_quality_kpis is empty.")
        return
    ax = fig.add_subplot()
    snapshot_feeds = {f.name for f in load_dictionary().feeds.values() if f.is_snapshot}
    feeds = [r["feed"] for r in rows]
    lags = [int(r["feed_lag_days"] or 0) for r in rows]
    limits = [FRESHNESS_FAIL_DAYS["snapshot" if feed in snapshot_feeds else "daily"] for feed in feeds]
    colours = [OK_COLOUR if lag <= limit else BAD_COLOUR for lag, limit in zip(lags, limits, strict=True)]
    ax.barh(feeds, lags, color=colours)
    for y, (r, lag, limit) in enumerate(zip(rows, lags, limits, strict=True)):
        ax.plot([limit, limit], [y - 0.4, y + 0.4], color="#222222", linewidth=1.2)
        ax.text(
            max(lag, limit),
            y,
            f"  newest load {as_date(r['newest_load_date']).isoformat()}",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlim(0, max(*lags, *limits) * 1.8 + 1)
    ax.set_xlabel("days the feed's newest load lags the newest load of any feed (bar); limit (tick)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if context.as_of_date:
        footnote(
            ax,
            f"as of {context.as_of_date.isoformat()}; limits: daily feeds {FRESHNESS_FAIL_DAYS['daily']} d, "
            f"snapshots {FRESHNESS_FAIL_DAYS['snapshot']} d (the staging assets' freshness checks)",
        )


# -- the catalogue -----------------------------------------------------------------------------

_PLAN_MONTH_BY_TIER = """
select
    month,
    coalesce(metal_tier, 'UNKNOWN') as metal_tier,
    sum(member_months) as member_months,
    sum(premium_earned) as premium_earned,
    sum(claims_paid) as claims_paid,
    cast(sum(claims_paid) / nullif(sum(member_months), 0) as decimal(18, 2)) as pmpm_paid,
    cast(sum(claims_paid) / nullif(sum(premium_earned), 0) as decimal(18, 6)) as loss_ratio
from marts.plan_month
where hios_plan_id <> 'UNKNOWN'
group by month, coalesce(metal_tier, 'UNKNOWN')
order by month, metal_tier
"""

CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        name="pmpm_by_metal_tier",
        title="PMPM paid by month and metal tier",
        description=(
            "Claims paid per member month (`marts.plan_month`, plans with a known HIOS id), by service "
            "month and the plan's metal tier in that month, from the first month with claims or premium."
        ),
        reads=("marts.plan_month",),
        sql=_PLAN_MONTH_BY_TIER,
        draw=monthly_lines_by_tier(
            "pmpm_paid",
            "PMPM paid ($ per member month)",
            percent=False,
            activity=("claims_paid", "premium_earned"),
        ),
    ),
    ChartSpec(
        name="loss_ratio_by_metal_tier",
        title="Loss ratio by month and metal tier",
        description=(
            "Claims paid / premium earned (`marts.plan_month`, plans with a known HIOS id), by month and "
            "metal tier; months without earned premium have no point."
        ),
        reads=("marts.plan_month",),
        sql=_PLAN_MONTH_BY_TIER,
        draw=monthly_lines_by_tier(
            "loss_ratio",
            "loss ratio (claims paid / premium earned)",
            percent=True,
            activity=("claims_paid", "premium_earned"),
        ),
    ),
    ChartSpec(
        name="mlr_by_issuer",
        title="Simplified MLR by issuer, state and plan year against the 80% standard",
        description=(
            "`marts.mlr_plan_year`: claims paid / premium earned per issuer, state and plan year (to date). "
            "The regulatory MLR also counts quality-improvement spend, deducts taxes and fees and averages "
            "three years."
        ),
        reads=("marts.mlr_plan_year",),
        sql="""
select issuer_id, state, plan_year, member_months, premium_earned, claims_paid, mlr
from marts.mlr_plan_year
order by plan_year, issuer_id, state
""",
        draw=draw_mlr,
    ),
    ChartSpec(
        name="utilization_per_1000",
        title="Utilization per 1,000 members by month and metal tier",
        description=(
            "`marts.utilization_month`: distinct claims / member months x 12,000, by service month and "
            "metal tier (months with member months, from the first month with claims)."
        ),
        reads=("marts.utilization_month",),
        sql="""
select month, metal_tier, member_months, distinct_claims, utilization_per_1000
from marts.utilization_month
where member_months > 0
order by month, metal_tier
""",
        draw=monthly_lines_by_tier(
            "utilization_per_1000",
            "claims per 1,000 members per year",
            percent=False,
            activity=("distinct_claims",),
        ),
    ),
    ChartSpec(
        name="claims_lag",
        title="Claims lag: days from service to first adjudication",
        description=(
            "Current claim lines (not REVERSED) of `core.fct_claim_lines` by the days between the service "
            "start and the line's first adjudication, with the cumulative share and the median and 90th "
            "percentile lag: how long claims take to arrive, i.e. how incomplete recent months still are."
        ),
        reads=("core.fct_claim_lines",),
        sql="""
select
    first_adjudicated_date - service_from_date as lag_days,
    count(*) as claim_lines,
    sum(paid_amount) as paid
from core.fct_claim_lines
where is_counted_line
group by first_adjudicated_date - service_from_date
order by lag_days
""",
        draw=draw_claims_lag,
    ),
    ChartSpec(
        name="quarantine_rate",
        title="Quarantine rate by feed and load date",
        description=(
            "`marts.data_quality_kpis`: rows quarantined / rows read of the latest load of each feed and "
            "load date."
        ),
        reads=("marts.data_quality_kpis",),
        sql="""
select feed, load_date, rows_read, rows_staged, rows_quarantined, quarantine_rate
from marts.data_quality_kpis
order by load_date, feed
""",
        draw=draw_quarantine_rate,
    ),
    ChartSpec(
        name="reconciliation",
        title="Reconciliation by feed: rows read = staged + quarantined",
        description=(
            "`marts.data_quality_kpis`: per feed, the loads whose rows read equal rows staged plus rows "
            "quarantined, and the staging checks that did not pass."
        ),
        reads=("marts.data_quality_kpis",),
        sql="""
select
    feed,
    count(*) as loads,
    sum(case when is_reconciled then 1 else 0 end) as reconciled_loads,
    sum(coalesce(checks_not_passed, 0)) as checks_not_passed,
    sum(rows_read) as rows_read,
    sum(rows_staged) as rows_staged,
    sum(rows_quarantined) as rows_quarantined
from marts.data_quality_kpis
group by feed
order by feed
""",
        draw=draw_reconciliation,
    ),
    ChartSpec(
        name="freshness",
        title="Freshness: how far each feed's newest load lags",
        description=(
            "`marts.data_quality_kpis`: per feed, the days its newest load lags the newest load of any "
            "feed, against the freshness limit of the feed's assets."
        ),
        reads=("marts.data_quality_kpis",),
        sql="""
select feed, max(newest_load_date) as newest_load_date, max(feed_lag_days) as feed_lag_days
from marts.data_quality_kpis
group by feed
order by feed
""",
        draw=draw_freshness,
    ),
)
