"""Independent plain-Python computation of marts.plan_month and marts.mlr_plan_year from landing files.

Written from MARTS.md and LANDING.md alone (no SQL, no warehouse), to check the dbt marts to the
cent. It assumes every row of the files is valid (the fixture data sets are valid by
construction); rows known to be quarantined can be left out with `excluded_lines`.
Coverage spans are computed by literally replaying each member's events in order, a different
method from the set-based SQL in dbt.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

FEED_FILES = {
    "plans": ("exchange/plans", "plans", "csv"),
    "members": ("exchange/members", "members", "csv"),
    "enrollment_events": ("exchange/enrollment_events", "events", "jsonl"),
    "products": ("claims_system/products", "products", "csv"),
    "providers": ("claims_system/providers", "providers", "csv"),
    "claims": ("claims_system/claims", "claims", "csv"),
    "premiums": ("claims_system/premiums", "premiums", "csv"),
}
UNKNOWN = "UNKNOWN"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Row:
    load_date: date
    line: int
    values: dict[str, Any]


@dataclass
class PlanMonth:
    month: date
    hios_plan_id: str
    plan_year: int
    metal_tier: str | None
    state: str | None
    issuer_id: str | None
    member_months: int = 0
    premium_earned: Decimal = Decimal("0.00")
    aptc_earned: Decimal = Decimal("0.00")
    claims_paid: Decimal = Decimal("0.00")
    claims_allowed: Decimal = Decimal("0.00")
    claim_lines: int = 0
    distinct_claims: set[str] = field(default_factory=set)

    @property
    def pmpm_paid(self) -> Decimal | None:
        return self.claims_paid / self.member_months if self.member_months else None

    @property
    def loss_ratio(self) -> Decimal | None:
        return self.claims_paid / self.premium_earned if self.premium_earned else None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def read_feed(root: Path, feed: str, excluded_lines: set[tuple[str, int]] | None = None) -> list[Row]:
    """Every row of every file of a feed, with its load date and physical line number."""
    directory, prefix, ext = FEED_FILES[feed]
    rows: list[Row] = []
    pattern = re.compile(rf"^{prefix}_(\d{{4}}-\d{{2}}-\d{{2}})\.{ext}$")
    for path in sorted((root / directory).glob(f"{prefix}_*.{ext}")):
        match = pattern.match(path.name)
        if not match:
            continue
        load_date = date.fromisoformat(match.group(1))
        relative = path.relative_to(root).as_posix()
        if ext == "jsonl":
            for line_no, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if text.strip() and (relative, line_no) not in (excluded_lines or set()):
                    rows.append(Row(load_date, line_no, {k: _clean(v) for k, v in json.loads(text).items()}))
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                for raw in reader:
                    if (relative, reader.line_num) not in (excluded_lines or set()):
                        rows.append(
                            Row(load_date, reader.line_num, {k.strip(): _clean(v) for k, v in raw.items()})
                        )
    return rows


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _money(text: Any) -> Decimal:
    return Decimal(str(text)) if text is not None else Decimal("0")


def _month(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))


class Crosswalk:
    """The newest products snapshot; a product's plan on a date (latest effective_date wins)."""

    def __init__(self, products: list[Row]) -> None:
        newest = max((r.load_date for r in products), default=None)
        self.rows = [r.values for r in products if r.load_date == newest]

    def plan_on(self, product_id: str, day: date) -> str:
        matches = [
            r
            for r in self.rows
            if r["product_id"] == product_id
            and _d(r["effective_date"]) <= day
            and (r.get("termination_date") is None or day <= _d(r["termination_date"]))
        ]
        if not matches:
            return UNKNOWN
        return max(matches, key=lambda r: _d(r["effective_date"]))["hios_plan_id"]


def plan_attributes(plans: list[Row], hios_plan_id: str, month: date) -> tuple[str | None, str | None]:
    """(metal_tier, state) of the month's plan-year row in the newest snapshot on or before the 1st."""
    if hios_plan_id == UNKNOWN:
        return None, None
    snapshots = sorted({r.load_date for r in plans})
    if not snapshots:
        return None, None
    on_or_before = [s for s in snapshots if s <= month]
    snapshot = on_or_before[-1] if on_or_before else snapshots[0]
    for r in plans:
        v = r.values
        if (
            r.load_date == snapshot
            and v["hios_plan_id"] == hios_plan_id
            and int(v["plan_year"]) == month.year
        ):
            return v.get("metal_tier"), v.get("state")
    return None, None


def coverage_spans(events: list[Row]) -> dict[str, list[dict[str, Any]]]:
    """Spans per member, replaying the counted events one by one in (instant, event_id) order."""
    first_delivery: dict[str, Row] = {}
    for r in sorted(events, key=lambda r: (r.load_date, r.line)):
        first_delivery.setdefault(r.values["event_id"], r)
    by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in first_delivery.values():
        by_member[r.values["member_id"]].append(r.values)
    spans: dict[str, list[dict[str, Any]]] = {}
    for member, member_events in by_member.items():
        ordered = sorted(member_events, key=lambda e: (_instant(e["occurred_at"]), e["event_id"]))
        live: list[dict[str, Any]] = []

        def cut(live: list[dict[str, Any]], application: str, at: date) -> None:
            for span in list(live):
                if span["application_id"] != application:
                    continue
                if span["start"] > at:
                    live.remove(span)
                elif span["end"] > at:
                    span["end"] = at

        for seq, e in enumerate(ordered):
            kind = e["event_type"]
            if kind == "CoverageEffectuated":
                start = _d(e["coverage_start"])
                live.append(
                    {
                        "application_id": e["application_id"],
                        "plan": e["hios_plan_id"],
                        "start": start,
                        "end": date(start.year, 12, 31),
                        "seq": seq,
                    }
                )
            elif kind == "PlanChanged":
                start = _d(e["coverage_start"])
                cut(live, e["application_id"], start - timedelta(days=1))
                live.append(
                    {
                        "application_id": e["application_id"],
                        "plan": e["hios_plan_id"],
                        "start": start,
                        "end": date(start.year, 12, 31),
                        "seq": seq,
                    }
                )
            elif kind == "CoverageTerminated":
                cut(live, e["application_id"], _d(e["coverage_end"]))
        spans[member] = live
    return spans


def member_months(events: list[Row], as_of_month: date) -> dict[tuple[str, date], str]:
    """(member_id, month) -> hios_plan_id for every covered month up to the as-of month."""
    result: dict[tuple[str, date], str] = {}
    for member, spans in coverage_spans(events).items():
        months: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for span in spans:
            month = _month(span["start"])
            while month <= span["end"] and month <= as_of_month:
                months[month].append(span)
                month = _next_month(month)
        for month, covering in months.items():
            chosen = max(covering, key=lambda s: (s["start"], s["seq"]))
            result[(member, month)] = chosen["plan"]
    return result


def latest_by_key(rows: list[Row], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """The row from the latest load date per key (ties: the later line)."""
    best: dict[tuple[Any, ...], Row] = {}
    for r in rows:
        k = tuple(r.values[c] for c in key)
        if k not in best or (r.load_date, r.line) > (best[k].load_date, best[k].line):
            best[k] = r
    return [r.values for r in best.values()]


def all_load_dates(root: Path) -> list[date]:
    dates = []
    for directory, prefix, ext in FEED_FILES.values():
        for path in (root / directory).glob(f"{prefix}_*.{ext}"):
            match = re.match(rf"^{prefix}_(\d{{4}}-\d{{2}}-\d{{2}})\.{ext}$", path.name)
            if match:
                dates.append(date.fromisoformat(match.group(1)))
    return dates


def expected_plan_month(
    root: Path, excluded_lines: set[tuple[str, int]] | None = None
) -> dict[tuple[date, str], PlanMonth]:
    """marts.plan_month computed from the landing files under root, keyed by (month, hios_plan_id)."""
    as_of_month = _month(max(all_load_dates(root)))
    plans = read_feed(root, "plans", excluded_lines)
    crosswalk = Crosswalk(read_feed(root, "products", excluded_lines))
    rows: dict[tuple[date, str], PlanMonth] = {}

    def row(month: date, hios: str) -> PlanMonth:
        if (month, hios) not in rows:
            metal, state = plan_attributes(plans, hios, month)
            rows[(month, hios)] = PlanMonth(
                month=month,
                hios_plan_id=hios,
                plan_year=month.year,
                metal_tier=metal,
                state=state,
                issuer_id=None if hios == UNKNOWN else hios[:5],
            )
        return rows[(month, hios)]

    for (_, month), hios in member_months(
        read_feed(root, "enrollment_events", excluded_lines), as_of_month
    ).items():
        row(month, hios).member_months += 1

    for p in latest_by_key(read_feed(root, "premiums", excluded_lines), ("payment_id",)):
        month = date.fromisoformat(p["coverage_month"] + "-01")
        if month > as_of_month:
            continue
        target = row(month, crosswalk.plan_on(p["product_id"], month))
        target.premium_earned += _money(p["premium_billed"])
        target.aptc_earned += _money(p["aptc_amount"])

    versions = latest_by_key(
        read_feed(root, "claims", excluded_lines), ("claim_id", "line_number", "claim_version")
    )
    current: dict[tuple[str, int], dict[str, Any]] = {}
    for v in versions:
        k = (v["claim_id"], int(v["line_number"]))
        if k not in current or int(v["claim_version"]) > int(current[k]["claim_version"]):
            current[k] = v
    placed = []
    for line in current.values():
        service = _d(line["service_from_date"])
        month = _month(service)
        if month > as_of_month:
            continue
        hios = crosswalk.plan_on(line["product_id"], service)
        counted = line["claim_status"] != "REVERSED"
        if counted:
            row(month, hios)  # a current non-REVERSED line gives its plan-month a row
        placed.append((month, hios, counted, line))
    for month, hios, counted, line in placed:
        target = rows.get((month, hios))
        if target is None:  # only REVERSED lines (all amounts 0) and nothing else: no row
            continue
        target.claims_paid += _money(line["paid_amount"])
        target.claims_allowed += _money(line["allowed_amount"])
        if counted:
            target.claim_lines += 1
            target.distinct_claims.add(line["claim_id"])
    return rows


@dataclass
class MlrRow:
    issuer_id: str
    state: str | None
    plan_year: int
    member_months: int = 0
    premium_earned: Decimal = Decimal("0.00")
    claims_paid: Decimal = Decimal("0.00")

    @property
    def mlr(self) -> Decimal | None:
        return self.claims_paid / self.premium_earned if self.premium_earned else None


def expected_mlr_plan_year(
    plan_month: dict[tuple[date, str], PlanMonth],
) -> dict[tuple[str, str | None, int], MlrRow]:
    """marts.mlr_plan_year: plan_month rows (UNKNOWN excluded) summed by (issuer_id, state, plan_year)."""
    result: dict[tuple[str, str | None, int], MlrRow] = {}
    for pm in plan_month.values():
        if pm.hios_plan_id == UNKNOWN:
            continue
        key = (pm.issuer_id, pm.state, pm.plan_year)
        target = result.setdefault(key, MlrRow(pm.issuer_id, pm.state, pm.plan_year))
        target.member_months += pm.member_months
        target.premium_earned += pm.premium_earned
        target.claims_paid += pm.claims_paid
    return result
