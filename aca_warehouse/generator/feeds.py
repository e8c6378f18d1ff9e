"""The seven landing feeds: file layout, column order, and rendering of clean tables into file payloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.claims import CLAIM_STATUSES, CLAIM_TYPES, PHARM
from aca_warehouse.generator.enrollment import EVENT_TYPES, SEP_REASON_TEXT
from aca_warehouse.generator.timeline import Calendar, format_timestamps
from aca_warehouse.generator.writers import (
    FilePayload,
    assemble_csv,
    assemble_records,
    code_column,
    date_column,
    int_column,
    money_column,
    text_column,
)


@dataclass(frozen=True)
class Feed:
    """A landing feed: where its files go and what they are called."""

    name: str
    directory: str
    prefix: str
    extension: str
    cadence: str  # snapshot or daily
    columns: tuple[str, ...]  # column order in the files this generator writes

    def relpath(self, load_date: date) -> str:
        return f"{self.directory}/{self.prefix}_{load_date.isoformat()}.{self.extension}"


PLANS = Feed(
    "plans",
    "exchange/plans",
    "plans",
    "csv",
    "snapshot",
    (
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
    ),
)
MEMBERS = Feed(
    "members",
    "exchange/members",
    "members",
    "csv",
    "snapshot",
    (
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
        "preferred_language",
    ),
)  # the last one is an extra column
EVENTS = Feed("enrollment_events", "exchange/enrollment_events", "events", "jsonl", "daily", ())
PRODUCTS = Feed(
    "products",
    "claims_system/products",
    "products",
    "csv",
    "snapshot",
    ("product_id", "effective_date", "termination_date", "hios_plan_id", "product_name"),
)  # not the contract's order
PROVIDERS = Feed(
    "providers",
    "claims_system/providers",
    "providers",
    "csv",
    "snapshot",
    (
        "npi",
        "provider_name",
        "specialty",
        "taxonomy_code",
        "city",
        "state",
        "zip",
        "entity_type",
        "network_status",
    ),
)
CLAIMS = Feed(
    "claims",
    "claims_system/claims",
    "claims",
    "csv",
    "daily",
    (
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
    ),
)
PREMIUMS = Feed(
    "premiums",
    "claims_system/premiums",
    "premiums",
    "csv",
    "daily",
    (
        "payment_id",
        "member_no",
        "product_id",
        "coverage_month",
        "premium_billed",
        "aptc_amount",
        "member_paid_amount",
        "paid_date",
    ),
)

FEEDS: tuple[Feed, ...] = (PLANS, MEMBERS, EVENTS, PRODUCTS, PROVIDERS, CLAIMS, PREMIUMS)
FEEDS_BY_NAME = {f.name: f for f in FEEDS}
MEMBERS_EXTRA_COLUMNS = ("preferred_language",)


EVENT_TYPES_B = np.array([t.encode() for t in EVENT_TYPES], dtype="S")


def _money_bytes(cents: np.ndarray) -> np.ndarray:
    """Non-negative cents as '12.34' bytes (values below 0 give an empty field)."""
    c = np.maximum(cents, 0)
    dollars, rest = money_column(c)
    out = np.char.add(dollars, rest)
    return np.where(cents >= 0, out, np.zeros(1, dtype=out.dtype))


class Renderer:
    """Turns clean feed tables into file payloads."""

    def __init__(self, cal: Calendar, seed: int, npis: list[str], member_no: np.ndarray) -> None:
        self.cal = cal
        self.seed = seed
        self.npi_vocab = np.array(npis + [""], dtype="S10")  # index -1 = null
        self.member_no = member_no.astype("S")
        self.ndc_vocab = np.array([d.ndc for d in ref.DRUGS.values()], dtype="S11")
        self._text_list: list[str] | None = None

    def _date(self, ordinals: np.ndarray) -> np.ndarray:
        return date_column(self.cal.text, self.cal.first, ordinals)

    def plans(self, df: pd.DataFrame, day: date) -> FilePayload:
        cols = [
            code_column(df["hios_plan_id"]),
            int_column(df["plan_year"]),
            text_column(df["plan_name"]),
            text_column(df["issuer_name"]),
            code_column(df["issuer_id"]),
            code_column(df["state"]),
            int_column(df["rating_area"]),
            text_column(df["metal_tier"]),
            code_column(df["plan_type"]),
            code_column(df["csr_variant"]),
            money_column(df["premium_age21"]),
            money_column(df["deductible_individual"]),
            money_column(df["moop_individual"]),
            int_column(df["coinsurance_pct"]),
            self._date(df["effective_date"]),
            self._date(df["expiration_date"]),
        ]
        return self._csv(PLANS, day, cols)

    def members(self, df: dict[str, np.ndarray], day: date) -> FilePayload:
        # identity columns arrive already encoded (and quoted) as bytes from the world
        cols = [
            df["member_id"],
            df["issuer_member_no"],
            df["subscriber_id"],
            df["relationship"],
            df["first_name"],
            df["last_name"],
            df["ssn"],
            df["email"],
            df["phone"],
            df["address_line1"],
            self._date(df["date_of_birth"]),
            df["gender"],
            df["city"],
            df["state"],
            df["zip"],
            df["county_fips"],
            int_column(df["rating_area"]),
            df["tobacco_user"],
            int_column(df["household_income_fpl_pct"]),
            df["preferred_language"],
        ]
        return self._csv(MEMBERS, day, cols)

    def products(self, df: pd.DataFrame, day: date) -> FilePayload:
        cols = [
            code_column(df["product_id"]),
            self._date(df["effective_date"]),
            self._date(df["termination_date"]),
            code_column(df["hios_plan_id"]),
            text_column(df["product_name"]),
        ]
        return self._csv(PRODUCTS, day, cols)

    def providers(self, df: pd.DataFrame, day: date) -> FilePayload:
        cols = [
            code_column(df["npi"]),
            text_column(df["provider_name"]),
            text_column(df["specialty"]),
            code_column(df["taxonomy_code"]),
            text_column(df["city"]),
            code_column(df["state"]),
            code_column(df["zip"]),
            int_column(df["entity_type"]),
            code_column(df["network_status"]),
        ]
        payload = self._csv(PROVIDERS, day, cols)
        payload.bom = True  # this export carries a UTF-8 byte-order mark
        return payload

    def claims(self, df: pd.DataFrame, day: date, product_ids: np.ndarray) -> FilePayload:
        is_rx = df["type"].to_numpy() == PHARM
        drug = df["drug"].to_numpy()
        cols = [
            (np.full(len(df), b"CLM", dtype="S3"), int_column(df["claim_id"])),
            int_column(df["line"]),
            int_column(df["version"]),
            CLAIM_TYPES[df["type"].to_numpy()],
            CLAIM_STATUSES[df["status"].to_numpy()],
            self.member_no[df["person"].to_numpy()],
            product_ids[df["product"].to_numpy()],
            self.npi_vocab[df["billing"].to_numpy()],
            self.npi_vocab[df["rendering"].to_numpy()],
            self._date(df["from"]),
            self._date(df["to"]),
            self._date(df["received"]),
            self._date(df["adjudicated"]),
            df["pos"].to_numpy().astype("S2"),
            np.where(is_rx, b"", df["code"].to_numpy().astype("S")),
            np.where(is_rx, self.ndc_vocab[np.maximum(drug, 0)], b""),
            df["dx"].to_numpy().astype("S"),
            int_column(df["units"]),
            money_column(df["billed"]),
            money_column(df["allowed"]),
            money_column(df["paid"]),
            money_column(df["copay"]),
            money_column(df["coins"]),
            money_column(df["ded"]),
            df["deny_code"].to_numpy().astype("S"),
        ]
        return self._csv(CLAIMS, day, cols)

    def premiums(self, df: pd.DataFrame, day: date, product_ids: np.ndarray) -> FilePayload:
        months = df["month"].to_numpy()
        cov = np.array([f"{m // 12}-{m % 12 + 1:02d}" for m in months.tolist()], dtype="S7")
        billed = df["billed"].to_numpy()
        aptc = df["aptc"].to_numpy()
        cols = [
            df["payment_id"].to_numpy().astype("S"),
            code_column(df["member_no"]),
            product_ids[df["product"].to_numpy()],
            cov,
            money_column(billed),
            money_column(aptc),
            money_column(billed - aptc),
            self._date(df["paid_day"]),
        ]
        return self._csv(PREMIUMS, day, cols)

    def events(self, df: pd.DataFrame, day: date, hios: np.ndarray) -> FilePayload:
        """JSON Lines, one event per line, assembled from byte fragments (empty where a field does not apply)."""
        n = len(df)
        if n == 0:
            return FilePayload(
                EVENTS.name, EVENTS.relpath(day), day, "jsonl", [], b"", np.zeros(1, dtype=np.int64)
            )
        kind = df["kind"].to_numpy()

        def ints(col: str) -> np.ndarray:
            return df[col].fillna(-1).astype(np.int64).to_numpy()

        def where(mask: np.ndarray, value: np.ndarray | bytes) -> np.ndarray:
            value = np.broadcast_to(np.asarray(value, dtype="S"), (n,))
            return np.where(mask, value, np.zeros(1, dtype=value.dtype))

        ts_day, ts_clock, ts_offset = format_timestamps(
            df["sec"].to_numpy(), df["as_utc"].to_numpy(), self.cal
        )
        period, reason, plan = ints("period"), ints("reason"), ints("plan")
        start, end, premium, aptc = ints("start"), ints("end"), ints("premium"), ints("aptc")
        is_as, is_ct = kind == 0, kind == 4
        has_plan = (kind >= 1) & (kind <= 3)
        is_ps = kind == 1
        sep_text = np.array([b"", *[f'"{r}"'.encode() for r in SEP_REASON_TEXT]], dtype="S")
        period_tail = np.where(period == 0, b'"OEP", "sep_reason": null', b'"SEP", "sep_reason": ')
        term_text = np.array([r.encode() for r in ref.TERMINATION_REASONS], dtype="S")
        hios_b = np.array([h.encode() for h in hios], dtype="S")
        fields = [
            (
                np.full(n, b'{"event_id": "', dtype="S14"),
                df["event_id"].to_numpy().astype("S36"),
                np.full(n, b'", "event_type": "', dtype="S18"),
                EVENT_TYPES_B[kind],
                np.full(n, b'", "occurred_at": "', dtype="S19"),
                ts_day,
                ts_clock,
                ts_offset,
                np.full(n, b'", "application_id": "', dtype="S22"),
                df["application_id"].to_numpy().astype("S"),
                np.full(n, b'", "member_id": "', dtype="S17"),
                df["member_id"].to_numpy().astype("S"),
                np.full(n, b'", "subscriber_id": "', dtype="S21"),
                df["subscriber_id"].to_numpy().astype("S"),
                np.full(n, b'"', dtype="S1"),
                # ApplicationSubmitted
                where(is_as, b', "enrollment_period": '),
                where(is_as, period_tail),
                where(is_as & (period != 0), sep_text[np.where(period != 0, reason + 1, 0)]),
                # PlanSelected, CoverageEffectuated, PlanChanged
                where(has_plan, b', "hios_plan_id": "'),
                where(has_plan, hios_b[np.maximum(plan, 0)]),
                where(has_plan, b'", "coverage_start": "'),
                where(has_plan, self._date(np.where(has_plan, start, -1))),
                where(has_plan, b'"'),
                where(is_ps, b', "monthly_premium": '),
                where(is_ps, _money_bytes(premium)),
                where(is_ps, b', "aptc_amount": '),
                where(is_ps, _money_bytes(aptc)),
                # CoverageTerminated
                where(is_ct, b', "coverage_end": "'),
                where(is_ct, self._date(np.where(is_ct, end, -1))),
                where(is_ct, b'", "termination_reason": "'),
                where(is_ct, term_text[np.where(is_ct, reason, 0)]),
                where(is_ct, b'"'),
                np.full(n, b"}", dtype="S1"),
            ),
        ]
        body, offsets = assemble_records(fields, separator=None)
        return FilePayload(EVENTS.name, EVENTS.relpath(day), day, "jsonl", [], body, offsets)

    def _csv(self, feed: Feed, day: date, cols: list) -> FilePayload:
        body, offsets = assemble_csv(cols)
        return FilePayload(feed.name, feed.relpath(day), day, "csv", list(feed.columns), body, offsets)
