"""An independent checker of the landing contract (shared/contract/LANDING.md), used to test the generator.

It reads a landing directory with nothing but the csv and json modules and the rules of the
contract, and reports per file: rows, the reason codes of every bad row by physical line, whole-file
rejections, and the warnings the contract mentions (unknown member, unmapped product, claim
outside coverage, re-delivered event).  It deliberately shares no code with the generator.
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

# ---------------------------------------------------------------------------------- the contract
FEEDS = {
    "plans": ("exchange/plans", "plans", "csv"),
    "members": ("exchange/members", "members", "csv"),
    "enrollment_events": ("exchange/enrollment_events", "events", "jsonl"),
    "products": ("claims_system/products", "products", "csv"),
    "providers": ("claims_system/providers", "providers", "csv"),
    "claims": ("claims_system/claims", "claims", "csv"),
    "premiums": ("claims_system/premiums", "premiums", "csv"),
}
COLUMNS = {
    "plans": [
        "hios_plan_id",
        "plan_year",
        "plan_name",
        "issuer_name",
        "issuer_id",
        "state",
        "rating_area",
        "metal_tier",
        "plan_type",
        "csr_variant",
        "premium_age21",
        "deductible_individual",
        "moop_individual",
        "coinsurance_pct",
        "effective_date",
        "expiration_date",
    ],
    "members": [
        "member_id",
        "issuer_member_no",
        "subscriber_id",
        "relationship",
        "first_name",
        "last_name",
        "ssn",
        "email",
        "phone",
        "address_line1",
        "date_of_birth",
        "gender",
        "city",
        "state",
        "zip",
        "county_fips",
        "rating_area",
        "tobacco_user",
        "household_income_fpl_pct",
    ],
    "products": ["product_id", "hios_plan_id", "product_name", "effective_date", "termination_date"],
    "providers": [
        "npi",
        "provider_name",
        "specialty",
        "taxonomy_code",
        "city",
        "state",
        "zip",
        "entity_type",
        "network_status",
    ],
    "claims": [
        "claim_id",
        "line_number",
        "claim_version",
        "claim_type",
        "claim_status",
        "member_no",
        "product_id",
        "billing_npi",
        "rendering_npi",
        "service_from_date",
        "service_to_date",
        "received_date",
        "adjudicated_date",
        "place_of_service",
        "procedure_code",
        "ndc",
        "diagnosis_codes",
        "units",
        "billed_amount",
        "allowed_amount",
        "paid_amount",
        "copay_amount",
        "coinsurance_amount",
        "deductible_amount",
        "denial_reason_code",
    ],
    "premiums": [
        "payment_id",
        "member_no",
        "product_id",
        "coverage_month",
        "premium_billed",
        "aptc_amount",
        "member_paid_amount",
        "paid_date",
    ],
}
TYPES = {
    "plans": {
        "plan_year": "int",
        "rating_area": "int",
        "premium_age21": "decimal",
        "deductible_individual": "decimal",
        "moop_individual": "decimal",
        "coinsurance_pct": "int",
        "effective_date": "date",
        "expiration_date": "date",
    },
    "members": {"date_of_birth": "date", "rating_area": "int", "household_income_fpl_pct": "int"},
    "products": {"effective_date": "date", "termination_date": "date"},
    "providers": {"entity_type": "int"},
    "claims": {
        "line_number": "int",
        "claim_version": "int",
        "service_from_date": "date",
        "service_to_date": "date",
        "received_date": "date",
        "adjudicated_date": "date",
        "units": "int",
        "billed_amount": "decimal",
        "allowed_amount": "decimal",
        "paid_amount": "decimal",
        "copay_amount": "decimal",
        "coinsurance_amount": "decimal",
        "deductible_amount": "decimal",
    },
    "premiums": {
        "premium_billed": "decimal",
        "aptc_amount": "decimal",
        "member_paid_amount": "decimal",
        "paid_date": "date",
    },
    "enrollment_events": {
        "occurred_at": "timestamp",
        "coverage_start": "date",
        "coverage_end": "date",
        "monthly_premium": "decimal",
        "aptc_amount": "decimal",
    },
}
REQUIRED = {
    "plans": [c for c in COLUMNS["plans"] if c not in ("plan_name", "issuer_name")],
    "members": [
        "member_id",
        "issuer_member_no",
        "subscriber_id",
        "relationship",
        "date_of_birth",
        "gender",
        "tobacco_user",
    ],
    "products": ["product_id", "hios_plan_id", "effective_date"],
    "providers": ["npi", "entity_type", "network_status"],
    "claims": [
        c
        for c in COLUMNS["claims"]
        if c not in ("rendering_npi", "procedure_code", "ndc", "denial_reason_code")
    ],
    "premiums": COLUMNS["premiums"],
}
KEYS = {
    "plans": ("hios_plan_id", "plan_year"),
    "members": ("member_id",),
    "products": ("product_id", "effective_date"),
    "providers": ("npi",),
    "claims": ("claim_id", "line_number", "claim_version"),
    "premiums": ("payment_id",),
    "enrollment_events": ("event_id",),
}
ENUMS = {
    "plans": {
        "metal_tier": {"Catastrophic", "Bronze", "Expanded Bronze", "Silver", "Gold", "Platinum"},
        "plan_type": {"HMO", "PPO", "EPO", "POS"},
        "csr_variant": {"01", "02", "03", "04", "05", "06"},
    },
    "members": {
        "relationship": {"self", "spouse", "child", "other"},
        "gender": {"F", "M", "U"},
        "tobacco_user": {"Y", "N"},
    },
    "providers": {"network_status": {"IN", "OUT"}},
    "claims": {
        "claim_type": {"PROFESSIONAL", "INSTITUTIONAL", "PHARMACY"},
        "claim_status": {"PAID", "DENIED", "REVERSED"},
    },
    "enrollment_events": {
        "event_type": {
            "ApplicationSubmitted",
            "PlanSelected",
            "CoverageEffectuated",
            "PlanChanged",
            "CoverageTerminated",
        },
        "enrollment_period": {"OEP", "SEP"},
        "termination_reason": {"non_payment", "voluntary", "moved", "death", "other"},
    },
}
USPS = set(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)
HIOS = re.compile(r"^[0-9]{5}[A-Z]{2}[0-9]{7}-[0-9]{2}$")
FORMATS = {
    "plans": {"hios_plan_id": HIOS, "state": re.compile(r"^[A-Z]{2}$")},
    "members": {
        "zip": re.compile(r"^[0-9]{5}$"),
        "county_fips": re.compile(r"^[0-9]{5}$"),
        "state": re.compile(r"^[A-Z]{2}$"),
    },
    "products": {"product_id": re.compile(r"^PRD-[0-9]{5}$"), "hios_plan_id": HIOS},
    "claims": {"place_of_service": re.compile(r"^[0-9]{2}$"), "ndc": re.compile(r"^[0-9]{11}$")},
    "premiums": {"coverage_month": re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")},
    "enrollment_events": {"hios_plan_id": HIOS},
}
EVENT_COMMON = ["event_id", "event_type", "occurred_at", "application_id", "member_id", "subscriber_id"]
EVENT_EXTRA = {
    "ApplicationSubmitted": ["enrollment_period"],
    "PlanSelected": ["hios_plan_id", "coverage_start", "monthly_premium", "aptc_amount"],
    "CoverageEffectuated": ["hios_plan_id", "coverage_start"],
    "PlanChanged": ["hios_plan_id", "coverage_start"],
    "CoverageTerminated": ["coverage_end", "termination_reason"],
}
MONEY = {f: [c for c, t in TYPES[f].items() if t == "decimal"] for f in TYPES}
NAME = re.compile(r"^(?P<prefix>[a-z]+)_(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|jsonl)$")

# ---------------------------------------------------------------------------------- value parsing
_INT = re.compile(r"^-?[0-9]+$")
_DEC = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)$")


class Bad(Exception):
    pass


def parse_int(v: str) -> int:
    if not _INT.match(v):
        raise Bad
    return int(v)


def parse_decimal(v: object) -> Decimal:
    s = v if isinstance(v, str) else str(v)
    if not _DEC.match(s):
        raise Bad
    return Decimal(s)


def parse_date(v: str) -> date:
    if not isinstance(v, str) or not _DATE.match(v):
        raise Bad
    try:
        return date.fromisoformat(v)
    except ValueError as exc:
        raise Bad from exc


def parse_timestamp(v: str) -> datetime:
    m = _TS.match(v) if isinstance(v, str) else None
    if not m:
        raise Bad
    day = parse_date(m.group(1))
    hh, mm, ss = int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise Bad
    off = m.group(5)
    if off == "Z":
        minutes = 0
    else:
        digits = off[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
        minutes = -minutes if off[0] == "-" else minutes
    local = datetime(day.year, day.month, day.day, hh, mm, ss)
    return local - timedelta(minutes=minutes)  # naive UTC instant


PARSERS = {"int": parse_int, "decimal": parse_decimal, "date": parse_date, "timestamp": parse_timestamp}
TYPE_CODE = {"int": "bad_int", "decimal": "bad_decimal", "date": "bad_date", "timestamp": "bad_timestamp"}


def npi_ok(v: str) -> bool:
    if not re.fullmatch(r"[0-9]{10}", v):
        return False
    digits = [int(c) for c in "80840" + v]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit is position 0 from the right
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def month_end(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


# ---------------------------------------------------------------------------------- reports
@dataclass
class FileReport:
    path: str
    feed: str
    load_date: date
    rows: int = 0
    bad: dict[int, set[str]] = field(default_factory=dict)
    rejected: str | None = None
    accepted: list[tuple[int, dict]] = field(default_factory=list)  # (line, typed values)


@dataclass
class LandingReport:
    files: dict[str, FileReport] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    warnings: dict[str, dict[int, set[str]]] = field(default_factory=dict)

    def bad_lines(self, path: str) -> dict[int, set[str]]:
        return self.files[path].bad


def validate_landing(root: Path) -> LandingReport:
    """Check every file under a landing root against the contract."""
    root = Path(root)
    report = LandingReport()
    dirs = {d: (feed, prefix, ext) for feed, (d, prefix, ext) in FEEDS.items()}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        folder, _, name = rel.rpartition("/")
        m = NAME.match(name)
        if (
            folder not in dirs
            or not m
            or m.group("prefix") != dirs[folder][1]
            or m.group("ext") != dirs[folder][2]
        ):
            report.ignored.append(rel)
            continue
        try:
            load = date.fromisoformat(m.group("date"))
        except ValueError:
            report.ignored.append(rel)
            continue
        feed = dirs[folder][0]
        fr = FileReport(rel, feed, load)
        data = path.read_bytes()
        if feed == "enrollment_events":
            _check_jsonl(data, fr)
        else:
            _check_csv(data, fr)
        report.files[rel] = fr
    _warnings(report)
    return report


def csv_records(text: str):
    """(start line, raw text, fields) per CSV record of a decoded file; blank lines are skipped."""
    lines = text.splitlines(keepends=True)
    consumed: list[str] = []
    line_no = [0]

    def feeder():
        for ln in lines:
            line_no[0] += 1
            consumed.append(ln)
            yield ln

    reader = csv.reader(feeder(), strict=True)
    start = 1
    for fields in reader:
        raw = "".join(consumed)
        consumed.clear()
        if fields:
            yield start, raw.rstrip("\r\n"), fields
        start = line_no[0] + 1


def _check_csv(data: bytes, fr: FileReport) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fr.rejected = "not UTF-8"
        return
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        records = list(csv_records(text))
    except csv.Error as exc:
        fr.rejected = f"not tokenizable as CSV: {exc}"
        return
    if not records:
        fr.rejected = "no header"
        return
    header = [h.strip() for h in records[0][2]]
    if len(set(header)) != len(header):
        fr.rejected = "repeated column"
        return
    missing = [c for c in COLUMNS[fr.feed] if c not in header]
    if missing:
        fr.rejected = f"missing required column(s): {', '.join(missing)}"
        return
    seen_raw: set[str] = set()
    seen_key: set[tuple] = set()
    for line, raw, fields in records[1:]:
        fr.rows += 1
        if len(fields) != len(header):
            fr.bad[line] = {"wrong_field_count"}
            continue
        values = {h: (v.strip() or None) for h, v in zip(header, fields, strict=True)}
        codes, typed = _row_codes(fr.feed, values, fr.load_date)
        _dupes(fr, line, raw, typed, codes, seen_raw, seen_key)


def _check_jsonl(data: bytes, fr: FileReport) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fr.rejected = "not UTF-8"
        return
    if text.startswith("\ufeff"):
        text = text[1:]
    seen_raw: set[str] = set()
    seen_key: set[tuple] = set()
    for line, raw in enumerate(text.split("\n"), start=1):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        fr.rows += 1
        try:
            obj = json.loads(raw, parse_float=str, parse_int=str)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            fr.bad[line] = {"not_json_object"}
            continue
        values = {
            k: (
                None
                if v is None or (isinstance(v, str) and not v.strip())
                else (v.strip() if isinstance(v, str) else v)
            )
            for k, v in obj.items()
        }
        codes, typed = _event_codes(values)
        _dupes(fr, line, raw, typed, codes, seen_raw, seen_key)


def _dupes(
    fr: FileReport,
    line: int,
    raw: str,
    typed: dict,
    codes: set[str],
    seen_raw: set[str],
    seen_key: set[tuple],
) -> None:
    if raw in seen_raw:
        fr.bad[line] = {"duplicate_row"}
        return
    seen_raw.add(raw)
    key_cols = KEYS[fr.feed]
    key = tuple(typed.get(k) for k in key_cols)
    if all(k is not None and k is not _FAILED for k in key):
        if key in seen_key:
            codes.add("duplicate_key")
        seen_key.add(key)
    if fr.feed == "products" and not codes:
        for _, other in fr.accepted:
            if other["product_id"] == typed["product_id"] and other["hios_plan_id"] != typed["hios_plan_id"]:
                a0, a1 = other["effective_date"], other["termination_date"] or date.max
                b0, b1 = typed["effective_date"], typed["termination_date"] or date.max
                if a0 <= b1 and b0 <= a1:
                    codes.add("crosswalk_overlap")
                    break
    if codes:
        fr.bad[line] = codes
    else:
        fr.accepted.append((line, typed))


def _typed(feed: str, values: dict, required: list[str]) -> tuple[set[str], dict]:
    """Null/required and type checks; failed values are left out of `typed`."""
    codes: set[str] = set()
    typed: dict = {}
    for col, v in values.items():
        if v is None:
            if col in required:
                codes.add("missing_required")
            typed[col] = None
            continue
        t = TYPES.get(feed, {}).get(col)
        if t is None:
            typed[col] = v if isinstance(v, str) else str(v)
            continue
        try:
            typed[col] = PARSERS[t](v)
        except Bad:
            codes.add(TYPE_CODE[t])
            typed[col] = _FAILED
    return codes, typed


_FAILED = object()


def _ok(typed: dict, *cols: str) -> bool:
    return all(typed.get(c) is not _FAILED for c in cols)


def _row_codes(feed: str, values: dict, load: date) -> tuple[set[str], dict]:
    codes, typed = _typed(feed, values, REQUIRED[feed])
    for col, allowed in ENUMS.get(feed, {}).items():
        v = typed.get(col)
        if v not in (None, _FAILED) and v not in allowed:
            codes.add("bad_enum")
    for col, rx in FORMATS.get(feed, {}).items():
        v = typed.get(col)
        if v not in (None, _FAILED) and not rx.match(v):
            codes.add("bad_format")
    for col in MONEY.get(feed, []):
        v = typed.get(col)
        if v not in (None, _FAILED) and v < 0:
            codes.add("negative_amount")
    g = typed.get
    if feed == "plans":
        if (
            g("state") not in (None, _FAILED)
            and FORMATS["plans"]["state"].match(g("state"))
            and g("state") not in USPS
        ):
            codes.add("bad_format")
        for col, lo, hi in (("rating_area", 1, 67), ("coinsurance_pct", 0, 100)):
            if g(col) not in (None, _FAILED) and not lo <= g(col) <= hi:
                codes.add("out_of_range")
        if (
            g("issuer_id") is not None
            and g("hios_plan_id") is not None
            and g("issuer_id") != g("hios_plan_id")[:5]
        ):
            codes.add("issuer_id_mismatch")
        moop, ded = g("moop_individual"), g("deductible_individual")
        if _ok(typed, "moop_individual", "deductible_individual") and None not in (moop, ded) and moop < ded:
            codes.add("moop_below_deductible")
    elif feed == "members":
        dob = g("date_of_birth")
        if dob not in (None, _FAILED):
            age = load.year - dob.year - ((load.month, load.day) < (dob.month, dob.day))
            if dob > load or age > 120:
                codes.add("out_of_range")
        if g("rating_area") not in (None, _FAILED) and not 1 <= g("rating_area") <= 67:
            codes.add("out_of_range")
    elif feed == "providers":
        if g("npi") is not None and not npi_ok(g("npi")):
            codes.add("bad_npi")
        if g("entity_type") not in (None, _FAILED) and g("entity_type") not in (1, 2):
            codes.add("bad_enum")
    elif feed == "claims":
        _claim_rules(typed, codes, load)
    elif feed == "premiums":
        parts = (g("premium_billed"), g("aptc_amount"), g("member_paid_amount"))
        if (
            _ok(typed, "premium_billed", "aptc_amount", "member_paid_amount")
            and None not in parts
            and parts[0] != parts[1] + parts[2]
        ):
            codes.add("premium_identity")
        if g("paid_date") not in (None, _FAILED) and g("paid_date") != load:
            codes.add("wrong_load_date")
    return codes, typed


def _claim_rules(t: dict, codes: set[str], load: date) -> None:
    g = t.get
    amounts = [
        "billed_amount",
        "allowed_amount",
        "paid_amount",
        "copay_amount",
        "coinsurance_amount",
        "deductible_amount",
    ]
    have = {a: g(a) for a in amounts if g(a) not in (None, _FAILED)}
    for col in ("line_number", "claim_version", "units"):
        if g(col) not in (None, _FAILED) and g(col) < 1:
            codes.add("out_of_range")
    for col in ("billing_npi", "rendering_npi"):
        if g(col) is not None and not npi_ok(g(col)):
            codes.add("bad_npi")
    if (
        all(a in have for a in ("billed_amount", "allowed_amount", "paid_amount"))
        and not have["billed_amount"] >= have["allowed_amount"] >= have["paid_amount"]
    ):
        codes.add("amount_order")
    status = g("claim_status") if g("claim_status") in ENUMS["claims"]["claim_status"] else None
    ctype = g("claim_type") if g("claim_type") in ENUMS["claims"]["claim_type"] else None
    if (
        status == "PAID"
        and all(a in have for a in amounts[1:])
        and have["allowed_amount"]
        != (
            have["paid_amount"]
            + have["copay_amount"]
            + have["coinsurance_amount"]
            + have["deductible_amount"]
        )
    ):
        codes.add("amount_identity")
    if status == "DENIED":
        if "paid_amount" in have and have["paid_amount"] != 0:
            codes.add("denied_with_payment")
        if g("denial_reason_code") is None:
            codes.add("missing_denial_reason")
    if status in ("PAID", "REVERSED") and g("denial_reason_code") is not None:
        codes.add("unexpected_denial_reason")
    if status == "REVERSED" and len(have) == len(amounts) and any(v != 0 for v in have.values()):
        codes.add("reversed_nonzero")
    dates = ["service_from_date", "service_to_date", "received_date", "adjudicated_date"]
    if all(g(d) not in (None, _FAILED) for d in dates) and (
        not (g("service_from_date") <= g("service_to_date") <= g("adjudicated_date"))
        or g("received_date") > g("adjudicated_date")
    ):
        codes.add("date_order")
    if g("adjudicated_date") not in (None, _FAILED) and g("adjudicated_date") != load:
        codes.add("wrong_load_date")
    if ctype is not None and ctype != "PHARMACY" and g("procedure_code") is None:
        codes.add("missing_procedure")
    if ctype == "PHARMACY" and g("ndc") is None:
        codes.add("missing_ndc")
    dx = g("diagnosis_codes")
    if dx is not None and not any(part.strip() for part in dx.split("|")):
        codes.add("missing_diagnosis")


def _event_codes(values: dict) -> tuple[set[str], dict]:
    etype = values.get("event_type")
    required = (
        list(EVENT_COMMON) + EVENT_EXTRA.get(etype, []) if isinstance(etype, str) else list(EVENT_COMMON)
    )
    codes, typed = _typed("enrollment_events", values, required)
    for col in EVENT_COMMON:
        if col not in values:
            codes.add("missing_required")
    if etype in EVENT_EXTRA:
        for col in EVENT_EXTRA[etype]:
            if col not in values:
                codes.add("missing_required")
    for col, allowed in ENUMS["enrollment_events"].items():
        v = typed.get(col)
        if v not in (None, _FAILED) and v not in allowed:
            codes.add("bad_enum")
    for col, rx in FORMATS["enrollment_events"].items():
        v = typed.get(col)
        if v not in (None, _FAILED) and not rx.match(v):
            codes.add("bad_format")
    for col in MONEY["enrollment_events"]:
        v = typed.get(col)
        if v not in (None, _FAILED) and v < 0:
            codes.add("negative_amount")
    if etype == "ApplicationSubmitted" and typed.get("enrollment_period") in ("OEP", "SEP"):
        if typed["enrollment_period"] == "SEP" and typed.get("sep_reason") is None:
            codes.add("missing_required")
        if typed["enrollment_period"] == "OEP" and typed.get("sep_reason") is not None:
            codes.add("unexpected_value")
    cs, ce = typed.get("coverage_start"), typed.get("coverage_end")
    if cs not in (None, _FAILED) and cs.day != 1:
        codes.add("bad_coverage_date")
    if ce not in (None, _FAILED) and not month_end(ce):
        codes.add("bad_coverage_date")
    return codes, typed


# ---------------------------------------------------------------------------------- warnings
def _warnings(report: LandingReport) -> None:
    by_feed: dict[str, list[FileReport]] = defaultdict(list)
    for fr in sorted(report.files.values(), key=lambda f: (f.load_date, f.path)):
        by_feed[fr.feed].append(fr)
    member_of: dict[str, str] = {}
    for fr in by_feed["members"]:
        for _, row in fr.accepted:
            member_of.setdefault(row["issuer_member_no"], row["member_id"])
    slices: dict[str, list[tuple[date, date]]] = defaultdict(list)
    products = [f for f in by_feed["products"] if f.rejected is None]
    if products:
        for _, row in products[-1].accepted:
            slices[row["product_id"]].append((row["effective_date"], row["termination_date"] or date.max))
    seen_events: set[str] = set()
    first_deliveries: list[dict] = []
    for fr in by_feed["enrollment_events"]:
        new_here: set[str] = set()
        for line, row in fr.accepted:
            eid = row["event_id"]
            if eid in seen_events:
                report.warnings.setdefault(fr.path, {}).setdefault(line, set()).add("redelivered_event")
                continue
            if eid not in new_here:
                new_here.add(eid)
                first_deliveries.append(row)
        seen_events |= new_here
    spans = _spans(first_deliveries)

    def mapped(product: str, day: date) -> bool:
        return any(a <= day <= b for a, b in slices.get(product, ()))

    for fr in by_feed["claims"]:
        for line, row in fr.accepted:
            w = set()
            member = member_of.get(row["member_no"])
            if member is None:
                w.add("unknown_member")
            elif not any(a <= row["service_from_date"] <= b for a, b in spans.get(member, ())):
                w.add("outside_coverage")
            if not mapped(row["product_id"], row["service_from_date"]):
                w.add("unmapped_product")
            if w:
                report.warnings.setdefault(fr.path, {})[line] = w
    for fr in by_feed["premiums"]:
        for line, row in fr.accepted:
            w = set()
            if row["member_no"] not in member_of:
                w.add("unknown_member")
            y, m = row["coverage_month"].split("-")
            if not mapped(row["product_id"], date(int(y), int(m), 1)):
                w.add("unmapped_product")
            if w:
                report.warnings.setdefault(fr.path, {})[line] = w


def _spans(events: list[dict]) -> dict[str, list[tuple[date, date]]]:
    """Coverage spans per member, built as LANDING.md describes."""
    ordered = sorted(events, key=lambda e: (e["occurred_at"], e["event_id"]))
    per_app: dict[tuple[str, str], list[list[date]]] = defaultdict(list)
    for e in ordered:
        key = (e["member_id"], e["application_id"])
        kind = e["event_type"]
        if kind == "CoverageEffectuated":
            per_app[key].append([e["coverage_start"], date(e["coverage_start"].year, 12, 31)])
        elif kind in ("PlanChanged", "CoverageTerminated"):
            cut = e["coverage_start"] - timedelta(days=1) if kind == "PlanChanged" else e["coverage_end"]
            per_app[key] = [[s, min(x, cut)] for s, x in per_app[key] if s <= cut]
            if kind == "PlanChanged":
                per_app[key].append([e["coverage_start"], date(e["coverage_start"].year, 12, 31)])
    out: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for (member, _), lst in per_app.items():
        out[member].extend((s, x) for s, x in lst if s <= x)
    return out
