"""Defect injection: extra rows that each break exactly one rule of the landing contract.

Defects are inserted next to the clean rows, never in place of them: removing the defective lines
listed in the manifest gives back the clean file byte for byte, so a warehouse loaded with defects
must hold the same facts as one loaded without.  Every defect row has a fresh key (except the
duplicate classes) so it cannot collide with a clean row or with another defect.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from aca_warehouse.generator.catalog import luhn_check_digit
from aca_warehouse.generator.timeline import STREAM_DEFECTS, pseudo_uuid, stream
from aca_warehouse.generator.writers import FilePayload, Insertion, encode_csv_record

FEED_CODES: dict[str, tuple[str, ...]] = {
    "claims": (
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_decimal",
        "bad_date",
        "bad_enum",
        "bad_format",
        "out_of_range",
        "duplicate_row",
        "duplicate_key",
        "bad_npi",
        "negative_amount",
        "amount_order",
        "amount_identity",
        "denied_with_payment",
        "missing_denial_reason",
        "unexpected_denial_reason",
        "reversed_nonzero",
        "date_order",
        "wrong_load_date",
        "missing_procedure",
        "missing_ndc",
        "missing_diagnosis",
    ),
    "premiums": (
        "wrong_field_count",
        "missing_required",
        "bad_decimal",
        "bad_date",
        "bad_format",
        "wrong_load_date",
        "premium_identity",
        "negative_amount",
        "duplicate_row",
        "duplicate_key",
    ),
    "plans": (
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_decimal",
        "bad_date",
        "bad_enum",
        "bad_format",
        "out_of_range",
        "negative_amount",
        "issuer_id_mismatch",
        "moop_below_deductible",
        "duplicate_row",
        "duplicate_key",
    ),
    "members": (
        "wrong_field_count",
        "missing_required",
        "bad_date",
        "bad_enum",
        "bad_format",
        "bad_int",
        "out_of_range",
        "duplicate_row",
        "duplicate_key",
    ),
    "providers": (
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_enum",
        "bad_npi",
        "duplicate_row",
        "duplicate_key",
    ),
    "products": (
        "wrong_field_count",
        "missing_required",
        "bad_date",
        "bad_format",
        "crosswalk_overlap",
        "duplicate_row",
        "duplicate_key",
    ),
    "enrollment_events": (
        "not_json_object",
        "missing_required",
        "bad_timestamp",
        "bad_date",
        "bad_decimal",
        "bad_enum",
        "bad_format",
        "bad_coverage_date",
        "unexpected_value",
        "negative_amount",
        "duplicate_row",
        "duplicate_key",
    ),
}
FEED_INDEX = {name: i for i, name in enumerate(FEED_CODES)}


def defect_count(n_records: int, rate: float) -> int:
    """Defective rows to add so that about `rate` of the file's rows are defective."""
    if rate <= 0 or n_records == 0:
        return 0
    return max(1, int(round(n_records * rate / (1.0 - rate))))


class _Raw(str):
    """A JSON number kept as its exact text."""


def _json_loads(line: bytes) -> dict:
    return json.loads(line, parse_float=_Raw, parse_int=_Raw)


def json_dumps_event(event: dict) -> str:
    """Serialise an event; _Raw values are written as bare JSON numbers."""
    parts = []
    for k, v in event.items():
        val = str(v) if isinstance(v, _Raw) else json.dumps(v)
        parts.append(f"{json.dumps(k)}: {val}")
    return "{" + ", ".join(parts) + "}"


@dataclass
class DefectContext:
    """What a mutation needs: the file, its load date, a per-feed defect number and the RNG."""

    payload: FilePayload
    load_date: date
    ordinal: int  # feed-wide number of this defect (unique fresh keys)
    rng: np.random.Generator
    seed: int
    known_npis: set[str]
    other_hios: list[str]


def _parse_csv(record: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(record.decode("utf-8"))))


def _shift(d: str, days: int) -> str:
    return (date.fromisoformat(d) + timedelta(days=days)).isoformat()


def _bad_date_text(d: str, rng: np.random.Generator) -> str:
    y = d[:4]
    return [f"{y}-02-30", f"{y}-13-01", f"{d[5:7]}/{d[8:10]}/{y}", f"{y}-04-31"][int(rng.integers(4))]


# ---------------------------------------------------------------- CSV feeds


def _fresh_key_csv(feed: str, row: dict[str, str], ctx: DefectContext) -> None:
    j = ctx.ordinal
    if feed == "claims":
        ym = ctx.load_date.strftime("%y%m")
        row["claim_id"] = f"CLM{ym}{9_000_000 + j:07d}"
    elif feed == "premiums":
        row["payment_id"] = f"PMT{ctx.load_date.strftime('%Y%m')}{9_000_000 + j:07d}"
    elif feed == "members":
        row["member_id"] = f"{9_000_000_000 + j:010d}"
    elif feed == "providers":
        row["npi"] = _fresh_npi(ctx, valid=True)
    elif feed == "plans":
        h = row["hios_plan_id"]
        row["hios_plan_id"] = f"{h[:7]}9{h[8:10]}{j % 10000:04d}-{h[-2:]}"
    elif feed == "products":
        row["product_id"] = f"PRD-9{j % 10000:04d}"


def _fresh_npi(ctx: DefectContext, valid: bool) -> str:
    while True:
        body = str(int(ctx.rng.integers(1, 3))) + f"{int(ctx.rng.integers(0, 10**8)):08d}"
        check = luhn_check_digit("80840" + body)
        npi = body + str(check if valid else (check + 1 + int(ctx.rng.integers(0, 9))) % 10)
        if npi not in ctx.known_npis:  # the clean providers plus this file's defects
            ctx.known_npis.add(npi)
            return npi


def _claims_paid(
    row: dict[str, str], billed: str, allowed: str, paid: str, copay: str, coins: str, ded: str
) -> None:
    row.update(
        claim_status="PAID",
        denial_reason_code="",
        billed_amount=billed,
        allowed_amount=allowed,
        paid_amount=paid,
        copay_amount=copay,
        coinsurance_amount=coins,
        deductible_amount=ded,
    )


def _mutate_claims(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    rng = ctx.rng
    load = ctx.load_date.isoformat()
    pick = int(rng.integers(0, 1000))
    if code == "missing_required":
        row[
            ["member_no", "product_id", "billing_npi", "place_of_service", "units", "received_date"][pick % 6]
        ] = ""
    elif code == "bad_int":
        row["units"] = ["1.0", "two", "1e1", "+2"][pick % 4]
    elif code == "out_of_range":
        row["units"] = ["0", "-1"][pick % 2]
    elif code == "bad_decimal":
        col = ["billed_amount", "copay_amount"][pick % 2]
        value = row[col] or "0.00"
        row[col] = ["$" + value, value + "5", value.replace(".", ",")][pick % 3]
    elif code == "bad_date":
        col = ["service_to_date", "received_date"][pick % 2]
        row[col] = _bad_date_text(row[col], rng)
    elif code == "bad_enum":
        if pick % 2:
            row["claim_type"] = ["DENTAL", "professional", "VISION"][pick % 3]
        else:
            row["claim_status"] = ["PENDED", "paid", "VOID"][pick % 3]
    elif code == "bad_format":
        row["place_of_service"] = ["111", "A1", "1"][pick % 3]
    elif code == "bad_npi":
        npi = row["billing_npi"]
        row["billing_npi"] = npi[:9] + str((int(npi[9]) + 1 + pick % 9) % 10)
    elif code == "negative_amount":
        _claims_paid(row, "250.00", "180.00", "150.00", "40.00", "-10.00", "0.00")
    elif code == "amount_order":
        _claims_paid(row, "100.00", "120.00", "100.00", "20.00", "0.00", "0.00")
    elif code == "amount_identity":
        _claims_paid(row, "200.00", "150.00", "100.00", "20.00", "10.00", "0.00")
    elif code == "denied_with_payment":
        row.update(
            claim_status="DENIED",
            denial_reason_code="CO-50",
            billed_amount="200.00",
            allowed_amount="80.00",
            paid_amount="80.00",
            copay_amount="0.00",
            coinsurance_amount="0.00",
            deductible_amount="0.00",
        )
    elif code == "missing_denial_reason":
        row.update(
            claim_status="DENIED",
            denial_reason_code="",
            billed_amount="200.00",
            allowed_amount="0.00",
            paid_amount="0.00",
            copay_amount="0.00",
            coinsurance_amount="0.00",
            deductible_amount="0.00",
        )
    elif code == "unexpected_denial_reason":
        _claims_paid(row, "200.00", "150.00", "130.00", "20.00", "0.00", "0.00")
        row["denial_reason_code"] = "CO-16"
    elif code == "reversed_nonzero":
        row.update(
            claim_status="REVERSED",
            denial_reason_code="",
            billed_amount="200.00",
            allowed_amount="0.00",
            paid_amount="0.00",
            copay_amount="0.00",
            coinsurance_amount="0.00",
            deductible_amount="0.00",
        )
    elif code == "date_order":
        if pick % 2:
            row["received_date"] = _shift(load, 1)
        else:
            row["service_to_date"] = _shift(row["service_from_date"], -1)
    elif code == "wrong_load_date":
        row["adjudicated_date"] = _shift(load, 1)
    elif code == "missing_procedure":
        row.update(claim_type="PROFESSIONAL", procedure_code="", ndc="")
    elif code == "missing_ndc":
        row.update(claim_type="PHARMACY", procedure_code="", ndc="")
    elif code == "missing_diagnosis":
        row["diagnosis_codes"] = ["|", " | ", "||"][pick % 3]
    else:
        raise ValueError(code)


def _mutate_premiums(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    pick = int(ctx.rng.integers(0, 1000))
    load = ctx.load_date
    if code == "missing_required":
        row[["member_no", "product_id", "coverage_month"][pick % 3]] = ""
    elif code == "bad_decimal":
        row["premium_billed"] = ["$" + row["premium_billed"], row["premium_billed"] + "0", "1,000.00"][
            pick % 3
        ]
    elif code == "bad_date":
        row["paid_date"] = [f"{load.year}-{load.month:02d}-32", load.strftime("%m/%d/%Y")][pick % 2]
    elif code == "bad_format":
        ym = row["coverage_month"]
        row["coverage_month"] = [ym.replace("-", ""), ym.replace("-", "/"), f"{ym}-01"][pick % 3]
    elif code == "wrong_load_date":
        row["paid_date"] = (load - timedelta(days=1 + pick % 3)).isoformat()
    elif code == "premium_identity":
        billed = int(round(float(row["premium_billed"]) * 100)) + 1000
        row["premium_billed"] = f"{billed // 100}.{billed % 100:02d}"
    elif code == "negative_amount":
        billed = int(round(float(row["premium_billed"]) * 100))
        row["aptc_amount"] = "-10.00"
        member = billed + 1000
        row["member_paid_amount"] = f"{member // 100}.{member % 100:02d}"
    else:
        raise ValueError(code)


def _mutate_plans(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    pick = int(ctx.rng.integers(0, 1000))
    if code == "missing_required":
        row[["state", "metal_tier", "plan_type", "premium_age21", "rating_area"][pick % 5]] = ""
    elif code == "bad_int":
        col = ["rating_area", "coinsurance_pct"][pick % 2]
        row[col] = row[col] + [".0", "%"][pick % 2]
    elif code == "bad_decimal":
        row["premium_age21"] = ["$" + row["premium_age21"], row["premium_age21"] + "5"][pick % 2]
    elif code == "bad_date":
        row["expiration_date"] = row["expiration_date"][:8] + "32"
    elif code == "bad_enum":
        col = ["metal_tier", "plan_type", "csr_variant"][pick % 3]
        row[col] = {"metal_tier": "Bronze Plus", "plan_type": "HDHP", "csr_variant": "07"}[col]
    elif code == "bad_format":
        row["state"] = ["Fla", "fl", "F1"][pick % 3]
    elif code == "out_of_range":
        if pick % 2:
            row["rating_area"] = "68"
        else:
            row["coinsurance_pct"] = "120"
    elif code == "negative_amount":
        row["premium_age21"] = "-" + row["premium_age21"]
    elif code == "issuer_id_mismatch":
        row["issuer_id"] = "99999" if row["issuer_id"] != "99999" else "11111"
    elif code == "moop_below_deductible":
        row["deductible_individual"], row["moop_individual"] = "6000.00", "5500.00"
    else:
        raise ValueError(code)


def _mutate_members(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    pick = int(ctx.rng.integers(0, 1000))
    if code == "missing_required":
        row[["gender", "tobacco_user", "relationship", "date_of_birth"][pick % 4]] = ""
    elif code == "bad_date":
        row["date_of_birth"] = _bad_date_text(row["date_of_birth"], ctx.rng)
    elif code == "bad_enum":
        col = ["gender", "relationship", "tobacco_user"][pick % 3]
        row[col] = {"gender": "X", "relationship": "cousin", "tobacco_user": "Yes"}[col]
    elif code == "bad_format":
        if pick % 2:
            row["zip"] = row["zip"][:4]
        else:
            row["county_fips"] = row["county_fips"][:2] + "-" + row["county_fips"][2:]
    elif code == "bad_int":
        row["household_income_fpl_pct"] = row["household_income_fpl_pct"] + "%"
    elif code == "out_of_range":
        row["date_of_birth"] = (
            (ctx.load_date + timedelta(days=5 + pick % 300)).isoformat() if pick % 2 else "1888-06-15"
        )
    else:
        raise ValueError(code)


def _mutate_providers(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    pick = int(ctx.rng.integers(0, 1000))
    if code == "missing_required":
        row[["network_status", "entity_type"][pick % 2]] = ""
    elif code == "bad_int":
        row["entity_type"] = ["I", "1.0", "one"][pick % 3]
    elif code == "bad_enum":
        if pick % 2:
            row["network_status"] = ["PAR", "in", "NON"][pick % 3]
        else:
            row["entity_type"] = "3"
    elif code == "bad_npi":
        row["npi"] = _fresh_npi(ctx, valid=False)
    else:
        raise ValueError(code)


def _mutate_products(code: str, row: dict[str, str], ctx: DefectContext) -> None:
    pick = int(ctx.rng.integers(0, 1000))
    if code == "missing_required":
        row["hios_plan_id"] = ""
    elif code == "bad_date":
        col = ["effective_date", "termination_date"][pick % 2]
        base = row[col] or row["effective_date"]
        row[col] = _bad_date_text(base, ctx.rng)
    elif code == "bad_format":
        if pick % 2:
            row["product_id"] = f"PRD-{ctx.ordinal % 10000:04d}"
        else:
            row["hios_plan_id"] = row["hios_plan_id"].replace("-", "")
    else:
        raise ValueError(code)


CSV_MUTATORS: dict[str, Callable[[str, dict[str, str], DefectContext], None]] = {
    "claims": _mutate_claims,
    "premiums": _mutate_premiums,
    "plans": _mutate_plans,
    "members": _mutate_members,
    "providers": _mutate_providers,
    "products": _mutate_products,
}
CSV_KEYS = {
    "claims": ("claim_id", "line_number", "claim_version"),
    "premiums": ("payment_id",),
    "plans": ("hios_plan_id", "plan_year"),
    "members": ("member_id",),
    "providers": ("npi",),
    "products": ("product_id", "effective_date"),
}


def _duplicate_key_change(feed: str, row: dict[str, str], ctx: DefectContext) -> None:
    """Change a non-key value so the row differs from the original but stays valid."""
    if feed == "claims":
        row["place_of_service"] = "22" if row["place_of_service"] != "22" else "11"
    elif feed == "premiums":
        billed = int(round(float(row["premium_billed"]) * 100))
        aptc = int(round(float(row["aptc_amount"]) * 100))
        new_aptc = aptc - 100 if aptc >= 100 else aptc + min(100, billed - aptc)
        if new_aptc == aptc:
            billed += 500
            row["premium_billed"] = f"{billed // 100}.{billed % 100:02d}"
        row["aptc_amount"] = f"{new_aptc // 100}.{new_aptc % 100:02d}"
        member = billed - new_aptc
        row["member_paid_amount"] = f"{member // 100}.{member % 100:02d}"
    elif feed == "plans":
        cents = int(round(float(row["premium_age21"]) * 100)) + 137
        row["premium_age21"] = f"{cents // 100}.{cents % 100:02d}"
    elif feed == "members":
        row["phone"] = "555-010-" + f"{ctx.ordinal % 10000:04d}"
    elif feed == "providers":
        row["network_status"] = "OUT" if row["network_status"] == "IN" else "IN"
    elif feed == "products":
        row["product_name"] = (row["product_name"] or "product") + " (legacy)"


def inject_csv(
    payload: FilePayload,
    codes: tuple[str, ...],
    first_ordinal: int,
    rate: float,
    seed: int,
    known_npis: set[str],
    other_hios: list[str],
) -> list[Insertion]:
    """Defect rows for one CSV file; defect j of the feed gets codes[j % len(codes)]."""
    n = payload.n_records
    k = defect_count(n, rate)
    if not k:
        return []
    rng = stream(
        seed, STREAM_DEFECTS, 1 + list(FEED_CODES).index(payload.feed), payload.load_date.toordinal()
    )
    header = payload.header
    feed = payload.feed
    out: list[Insertion] = []
    used_for_key: set[int] = set()  # a second duplicate_key of one row would be an exact repeat of the first
    overlap_keys: set[tuple[str, str]] = set()
    for i in range(k):
        ordinal = first_ordinal + i
        code = codes[ordinal % len(codes)]
        ctx = DefectContext(payload, payload.load_date, ordinal, rng, seed, known_npis, other_hios)
        src = int(rng.integers(0, n))
        if code in ("duplicate_key", "crosswalk_overlap"):
            free = [j for j in range(n) if j not in used_for_key]
            if not free:
                code = "wrong_field_count"
            else:
                src = free[int(rng.integers(len(free)))]
                used_for_key.add(src)
        original = payload.record(src)
        if code == "duplicate_row":
            out.append(Insertion(int(rng.integers(src + 1, n + 1)), original, code, i))
            continue
        fields = _parse_csv(original)
        row = dict(zip(header, fields, strict=True))
        if code == "duplicate_key":
            _duplicate_key_change(feed, row, ctx)
            out.append(
                Insertion(
                    int(rng.integers(src + 1, n + 1)), encode_csv_record([row[h] for h in header]), code, i
                )
            )
            continue
        if code == "crosswalk_overlap":
            product = row["product_id"]
            last_of_product = max(
                j for j in range(n) if _parse_csv(payload.record(j))[header.index("product_id")] == product
            )
            shift = 1
            while (product, _shift(row["effective_date"], shift)) in overlap_keys:
                shift += 1
            row["effective_date"] = _shift(row["effective_date"], shift)
            overlap_keys.add((product, row["effective_date"]))
            choices = [h for h in other_hios if h != row["hios_plan_id"]]
            row["hios_plan_id"] = choices[int(rng.integers(len(choices)))]
            out.append(Insertion(last_of_product + 1, encode_csv_record([row[h] for h in header]), code, i))
            continue
        _fresh_key_csv(feed, row, ctx)
        if code == "wrong_field_count":
            values = [row[h] for h in header]
            values = values[:-1] if rng.random() < 0.5 else values + ["EXTRA"]
            out.append(Insertion(int(rng.integers(0, n + 1)), encode_csv_record(values), code, i))
            continue
        CSV_MUTATORS[feed](code, row, ctx)
        out.append(
            Insertion(int(rng.integers(0, n + 1)), encode_csv_record([row[h] for h in header]), code, i)
        )
    return out


# ---------------------------------------------------------------- JSON Lines (events)


def _event_of_type(base: dict, etype: str, ctx: DefectContext) -> dict:
    """A valid event of the given type reusing the ids and time of a real event."""
    ev = {
        k: base[k]
        for k in ("event_id", "event_type", "occurred_at", "application_id", "member_id", "subscriber_id")
    }
    ev["event_type"] = etype
    month = ctx.load_date.replace(day=1) + timedelta(days=32)
    first_next = month.replace(day=1)
    hios = base.get("hios_plan_id") or ctx.other_hios[int(ctx.rng.integers(len(ctx.other_hios)))]
    if etype == "ApplicationSubmitted":
        ev.update(enrollment_period="SEP", sep_reason="loss_of_coverage")
    elif etype == "PlanSelected":
        ev.update(
            hios_plan_id=hios,
            coverage_start=first_next.isoformat(),
            monthly_premium=_Raw("412.30"),
            aptc_amount=_Raw("250.00"),
        )
    elif etype in ("CoverageEffectuated", "PlanChanged"):
        ev.update(hios_plan_id=hios, coverage_start=first_next.isoformat())
    else:
        ev.update(coverage_end=(first_next - timedelta(days=1)).isoformat(), termination_reason="voluntary")
    return ev


def _mutate_event(code: str, base: dict, ctx: DefectContext) -> str:
    rng = ctx.rng
    pick = int(rng.integers(0, 1000))
    fresh = pseudo_uuid(np.array([2**40 + ctx.ordinal]), ctx.seed + 7)[0]
    if code == "not_json_object":
        line = json_dumps_event(base)
        return [
            line[: len(line) // 2],
            json.dumps([base["event_id"], base["event_type"]]),
            json.dumps("PlanSelected"),
            "null",
        ][pick % 4]
    if code == "missing_required":
        kind = pick % 3
        if kind == 0:
            ev = _event_of_type(base, "ApplicationSubmitted", ctx)
            ev["sep_reason"] = None
        elif kind == 1:
            ev = _event_of_type(base, "PlanSelected", ctx)
            ev["monthly_premium"] = None
        else:
            ev = _event_of_type(base, base["event_type"], ctx) if base.get("event_type") else dict(base)
            ev["application_id"] = None
    elif code == "bad_timestamp":
        ev = dict(base)
        ts = base["occurred_at"]
        ev["occurred_at"] = ts[:19] if pick % 2 else ts[:10] + " " + ts[11:16]
    elif code == "bad_date":
        if pick % 2:
            ev = _event_of_type(base, "PlanSelected", ctx)
            ev["coverage_start"] = ev["coverage_start"][:5] + "02-30"
        else:
            ev = _event_of_type(base, "CoverageTerminated", ctx)
            ev["coverage_end"] = ev["coverage_end"][:5] + "13-31"
    elif code == "bad_decimal":
        ev = _event_of_type(base, "PlanSelected", ctx)
        ev["monthly_premium"] = [_Raw("412.305"), "$412.30", "412,30"][pick % 3]
    elif code == "bad_enum":
        if pick % 2:
            ev = dict(base)
            ev["event_type"] = "PlanCancelled"
        else:
            ev = _event_of_type(base, "CoverageTerminated", ctx)
            ev["termination_reason"] = "fraud"
    elif code == "bad_format":
        ev = _event_of_type(base, ["PlanSelected", "CoverageEffectuated", "PlanChanged"][pick % 3], ctx)
        ev["hios_plan_id"] = ev["hios_plan_id"].replace("-", "")
    elif code == "bad_coverage_date":
        if pick % 2:
            ev = _event_of_type(base, "PlanSelected", ctx)
            ev["coverage_start"] = ev["coverage_start"][:8] + "15"
        else:
            ev = _event_of_type(base, "CoverageTerminated", ctx)
            ev["coverage_end"] = ev["coverage_end"][:8] + "15"
    elif code == "unexpected_value":
        ev = _event_of_type(base, "ApplicationSubmitted", ctx)
        ev.update(enrollment_period="OEP", sep_reason="move")
    elif code == "negative_amount":
        ev = _event_of_type(base, "PlanSelected", ctx)
        ev["aptc_amount"] = _Raw("-25.00")
    else:
        raise ValueError(code)
    ev["event_id"] = fresh
    return json_dumps_event(ev)


def inject_events(
    payload: FilePayload,
    codes: tuple[str, ...],
    first_ordinal: int,
    rate: float,
    seed: int,
    other_hios: list[str],
) -> list[Insertion]:
    n = payload.n_records
    k = defect_count(n, rate)
    if not k:
        return []
    rng = stream(seed, STREAM_DEFECTS, 100, payload.load_date.toordinal())
    out: list[Insertion] = []
    used_for_key: set[int] = set()
    for i in range(k):
        ordinal = first_ordinal + i
        code = codes[ordinal % len(codes)]
        ctx = DefectContext(payload, payload.load_date, ordinal, rng, seed, set(), other_hios)
        src = int(rng.integers(0, n))
        if code == "duplicate_key":
            free = [j for j in range(n) if j not in used_for_key]
            if not free:
                code = "not_json_object"
            else:
                src = free[int(rng.integers(len(free)))]
                used_for_key.add(src)
        original = payload.record(src)
        if code == "duplicate_row":
            out.append(Insertion(int(rng.integers(src + 1, n + 1)), original, code, i))
            continue
        base = _json_loads(original)
        if code == "duplicate_key":
            ev = dict(base)
            ts = ev["occurred_at"]
            sec = int(ts[17:19])
            ev["occurred_at"] = ts[:17] + f"{(sec + 1) % 60:02d}" + ts[19:]
            out.append(
                Insertion(int(rng.integers(src + 1, n + 1)), (json_dumps_event(ev) + "\n").encode(), code, i)
            )
            continue
        line = _mutate_event(code, base, ctx)
        out.append(Insertion(int(rng.integers(0, n + 1)), (line + "\n").encode(), code, i))
    return out
