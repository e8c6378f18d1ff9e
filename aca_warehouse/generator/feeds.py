"""The seven landing feeds: file layout, column order, and rendering of clean tables into file payloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from aca_warehouse.contract.dictionary import Dictionary, load_dictionary
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
    """A landing feed as this generator writes it: where its files go, what they are called, and the
    header of its CSV files (empty for JSON Lines)."""

    name: str
    directory: str
    prefix: str
    extension: str
    cadence: str  # snapshot or daily
    columns: tuple[str, ...]  # column order in the files this generator writes

    def relpath(self, load_date: date) -> str:
        return f"{self.directory}/{self.prefix}_{load_date.isoformat()}.{self.extension}"


def contract_feed(
    name: str,
    *,
    first: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    dictionary: Dictionary | None = None,
) -> Feed:
    """The feed's layout from the data dictionary (aca_warehouse/contract/dictionary.yaml): directory,
    file prefix, extension, cadence and columns. A CSV header is the dictionary's columns in its order,
    except the columns named in `first`, which lead (a source system's own order: the contract matches
    columns by name), followed by `extra` columns the contract does not know. JSON Lines files have no
    header."""
    spec = (dictionary or load_dictionary()).feeds[name]
    unknown = [c for c in first if c not in spec.column_names]
    clash = [c for c in extra if c in spec.column_names]
    if unknown or clash:
        raise ValueError(f"{name}: {unknown or clash} in the generator's layout disagree with the dictionary")
    columns = () if spec.is_jsonl else (*first, *(c for c in spec.column_names if c not in first), *extra)
    return Feed(name, spec.directory, spec.file_prefix, spec.extension, spec.cadence, columns)


# Where the files differ from the dictionary's column order, on purpose (docs/GENERATOR.md): the
# products export leads with its dates, and the members export carries a column the contract does
# not know (kept in `_extra`).
MEMBERS_EXTRA_COLUMNS = ("preferred_language",)
PRODUCTS_LEADING_COLUMNS = ("product_id", "effective_date", "termination_date")

PLANS = contract_feed("plans")
MEMBERS = contract_feed("members", extra=MEMBERS_EXTRA_COLUMNS)
EVENTS = contract_feed("enrollment_events")
PRODUCTS = contract_feed("products", first=PRODUCTS_LEADING_COLUMNS)
PROVIDERS = contract_feed("providers")
CLAIMS = contract_feed("claims")
PREMIUMS = contract_feed("premiums")

FEEDS: tuple[Feed, ...] = (PLANS, MEMBERS, EVENTS, PRODUCTS, PROVIDERS, CLAIMS, PREMIUMS)
FEEDS_BY_NAME = {f.name: f for f in FEEDS}


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
        cols = {
            "hios_plan_id": code_column(df["hios_plan_id"]),
            "plan_year": int_column(df["plan_year"]),
            "plan_name": text_column(df["plan_name"]),
            "issuer_name": text_column(df["issuer_name"]),
            "issuer_id": code_column(df["issuer_id"]),
            "state": code_column(df["state"]),
            "rating_area": int_column(df["rating_area"]),
            "metal_tier": text_column(df["metal_tier"]),
            "plan_type": code_column(df["plan_type"]),
            "csr_variant": code_column(df["csr_variant"]),
            "premium_age21": money_column(df["premium_age21"]),
            "deductible_individual": money_column(df["deductible_individual"]),
            "moop_individual": money_column(df["moop_individual"]),
            "coinsurance_pct": int_column(df["coinsurance_pct"]),
            "effective_date": self._date(df["effective_date"]),
            "expiration_date": self._date(df["expiration_date"]),
        }
        return self._csv(PLANS, day, cols)

    def members(self, df: dict[str, np.ndarray], day: date) -> FilePayload:
        # identity columns arrive already encoded (and quoted) as bytes from the world
        cols = {
            "member_id": df["member_id"],
            "issuer_member_no": df["issuer_member_no"],
            "subscriber_id": df["subscriber_id"],
            "relationship": df["relationship"],
            "first_name": df["first_name"],
            "last_name": df["last_name"],
            "ssn": df["ssn"],
            "email": df["email"],
            "phone": df["phone"],
            "address_line1": df["address_line1"],
            "date_of_birth": self._date(df["date_of_birth"]),
            "gender": df["gender"],
            "city": df["city"],
            "state": df["state"],
            "zip": df["zip"],
            "county_fips": df["county_fips"],
            "rating_area": int_column(df["rating_area"]),
            "tobacco_user": df["tobacco_user"],
            "household_income_fpl_pct": int_column(df["household_income_fpl_pct"]),
            "preferred_language": df["preferred_language"],
        }
        return self._csv(MEMBERS, day, cols)

    def products(self, df: pd.DataFrame, day: date) -> FilePayload:
        cols = {
            "product_id": code_column(df["product_id"]),
            "effective_date": self._date(df["effective_date"]),
            "termination_date": self._date(df["termination_date"]),
            "hios_plan_id": code_column(df["hios_plan_id"]),
            "product_name": text_column(df["product_name"]),
        }
        return self._csv(PRODUCTS, day, cols)

    def providers(self, df: pd.DataFrame, day: date) -> FilePayload:
        cols = {
            "npi": code_column(df["npi"]),
            "provider_name": text_column(df["provider_name"]),
            "specialty": text_column(df["specialty"]),
            "taxonomy_code": code_column(df["taxonomy_code"]),
            "city": text_column(df["city"]),
            "state": code_column(df["state"]),
            "zip": code_column(df["zip"]),
            "entity_type": int_column(df["entity_type"]),
            "network_status": code_column(df["network_status"]),
        }
        payload = self._csv(PROVIDERS, day, cols)
        payload.bom = True  # this export carries a UTF-8 byte-order mark
        return payload

    def claims(self, df: pd.DataFrame, day: date, product_ids: np.ndarray) -> FilePayload:
        is_rx = df["type"].to_numpy() == PHARM
        drug = df["drug"].to_numpy()
        cols = {
            "claim_id": (np.full(len(df), b"CLM", dtype="S3"), int_column(df["claim_id"])),
            "line_number": int_column(df["line"]),
            "claim_version": int_column(df["version"]),
            "claim_type": CLAIM_TYPES[df["type"].to_numpy()],
            "claim_status": CLAIM_STATUSES[df["status"].to_numpy()],
            "member_no": self.member_no[df["person"].to_numpy()],
            "product_id": product_ids[df["product"].to_numpy()],
            "billing_npi": self.npi_vocab[df["billing"].to_numpy()],
            "rendering_npi": self.npi_vocab[df["rendering"].to_numpy()],
            "service_from_date": self._date(df["from"]),
            "service_to_date": self._date(df["to"]),
            "received_date": self._date(df["received"]),
            "adjudicated_date": self._date(df["adjudicated"]),
            "place_of_service": df["pos"].to_numpy().astype("S2"),
            "procedure_code": np.where(is_rx, b"", df["code"].to_numpy().astype("S")),
            "ndc": np.where(is_rx, self.ndc_vocab[np.maximum(drug, 0)], b""),
            "diagnosis_codes": df["dx"].to_numpy().astype("S"),
            "units": int_column(df["units"]),
            "billed_amount": money_column(df["billed"]),
            "allowed_amount": money_column(df["allowed"]),
            "paid_amount": money_column(df["paid"]),
            "copay_amount": money_column(df["copay"]),
            "coinsurance_amount": money_column(df["coins"]),
            "deductible_amount": money_column(df["ded"]),
            "denial_reason_code": df["deny_code"].to_numpy().astype("S"),
        }
        return self._csv(CLAIMS, day, cols)

    def premiums(self, df: pd.DataFrame, day: date, product_ids: np.ndarray) -> FilePayload:
        months = df["month"].to_numpy()
        cov = np.array([f"{m // 12}-{m % 12 + 1:02d}" for m in months.tolist()], dtype="S7")
        billed = df["billed"].to_numpy()
        aptc = df["aptc"].to_numpy()
        cols = {
            "payment_id": df["payment_id"].to_numpy().astype("S"),
            "member_no": code_column(df["member_no"]),
            "product_id": product_ids[df["product"].to_numpy()],
            "coverage_month": cov,
            "premium_billed": money_column(billed),
            "aptc_amount": money_column(aptc),
            "member_paid_amount": money_column(billed - aptc),
            "paid_date": self._date(df["paid_day"]),
        }
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

    def _csv(
        self, feed: Feed, day: date, cols: dict[str, np.ndarray | tuple[np.ndarray, ...]]
    ) -> FilePayload:
        """The rendered columns, by name, in the order of the feed's header (from the dictionary)."""
        missing = [c for c in feed.columns if c not in cols]
        if missing or len(cols) != len(feed.columns):
            raise ValueError(f"{feed.name}: rendered {sorted(cols)}, the header has {list(feed.columns)}")
        body, offsets = assemble_csv([cols[c] for c in feed.columns])
        return FilePayload(feed.name, feed.relpath(day), day, "csv", list(feed.columns), body, offsets)
