"""The simulated world of one generation: catalog, providers, people, enrollment, claims and premiums, as clean feed tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.catalog import (
    build_name_pools,
    build_plan_catalog,
    build_provider_pool,
    crosswalk_as_of,
    plans_as_of,
)
from aca_warehouse.generator.claims import ClaimsSimulator
from aca_warehouse.generator.enrollment import Enrollment
from aca_warehouse.generator.population import PopulationSimulator
from aca_warehouse.generator.timeline import STREAM_PREMIUMS, Calendar, month_start, pseudo_uuid_bytes, stream
from aca_warehouse.generator.writers import code_column, text_column

CLAIM_LOOKBACK_DAYS = 150  # claims adjudicated in the window may have been served this long before it


@dataclass(frozen=True)
class WorldParams:
    """What defines the world: everything but the number of days generated."""

    seed: int
    members: int
    start: date


def snapshot_days(start: date, last: date) -> list[date]:
    """Snapshot load dates: the start date and the 1st of every later month up to last."""
    days = [start]
    d = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    while d <= last:
        days.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return days


class World:
    """Builds every clean feed table for load dates start .. last_load."""

    def __init__(self, params: WorldParams, last_load: date) -> None:
        self.params = params
        self.start = params.start
        self.last_load = last_load
        self.first_year = (params.start - timedelta(days=CLAIM_LOOKBACK_DAYS)).year
        self.sim_last_year = last_load.year + (1 if last_load >= date(last_load.year, 11, 1) else 0)
        catalog_last = max(self.sim_last_year, last_load.year + (1 if last_load.month >= 10 else 0))
        self.cal = Calendar(date(1880, 1, 1), date(catalog_last + 2, 12, 31))  # dates of birth included
        self.cat = build_plan_catalog(params.seed, self.first_year, catalog_last)
        self.names = build_name_pools(params.seed)
        first_month = self.first_year * 12
        last_month = last_load.year * 12 + last_load.month - 1
        months = list(range(first_month, last_month + 1))
        self.providers = build_provider_pool(
            params.seed,
            params.members,
            date(self.first_year, 1, 1).toordinal(),
            months,
            [int(month_start(m)) for m in months],
            self.names,
        )
        self.sim = PopulationSimulator(params.seed, params.members, self.cat, self.names, self.cal)
        self.sim.run(self.sim_last_year)
        self.enrollment = Enrollment(self.sim, self.cat, self.cal, params.seed)
        self.segments = self.enrollment.segments()
        pop = self.sim.pop
        self._cols = {
            name: pop.col(name)
            for name in (
                "hv_hh",
                "hv_day",
                "hv_county",
                "hv_address",
                "hv_city",
                "hv_zip",
                "hv_fpl",
                "first_name",
                "email",
                "phone",
                "language",
            )
        }
        self.ssn_all = ssn_text(np.arange(pop.n_people))
        # identity columns encoded once for every snapshot (quoted where the csv rules need it)
        en = self.enrollment
        self._enc = {
            "member_id": code_column(en.member_id),
            "member_no": code_column(en.member_no),
            "first_name": text_column(self._cols["first_name"]),
            "last_name": text_column(self.sim.last_all),
            "ssn": code_column(self.ssn_all),
            "email": text_column(self._cols["email"]),
            "phone": code_column(self._cols["phone"]),
            "address": text_column(self._cols["hv_address"]),
            "city": text_column(self._cols["hv_city"]),
            "zip": code_column(self._cols["hv_zip"]),
            "language": text_column(
                np.array(ref.LANGUAGES, dtype=object)[self._cols["language"].astype(np.int64)]
            ),
        }
        self._nv_last = text_column(np.concatenate(pop.nv_last)) if pop.nv_last else np.zeros(0, dtype="S1")

    # ------------------------------------------------------------------ snapshots
    def snapshot_days(self) -> list[date]:
        return snapshot_days(self.start, self.last_load)

    def plans(self, day: date) -> pd.DataFrame:
        rows = plans_as_of(self.cat, day)
        c = self.cat
        areas = c.areas
        return pd.DataFrame(
            {
                "hios_plan_id": c.hios[rows],
                "plan_year": c.year[rows],
                "plan_name": c.plan_name[rows],
                "issuer_name": [ref.ISSUERS[i].name for i in c.issuer[rows]],
                "issuer_id": [ref.ISSUERS[i].issuer_id for i in c.issuer[rows]],
                "state": [areas[a].state for a in c.area[rows]],
                "rating_area": [areas[a].rating_area for a in c.area[rows]],
                "metal_tier": c.tier[rows],
                "plan_type": c.plan_type[rows],
                "csr_variant": c.variant[rows],
                "premium_age21": c.premium_cents[rows],
                "deductible_individual": c.deductible[rows] * 100,
                "moop_individual": c.moop[rows] * 100,
                "coinsurance_pct": c.coinsurance[rows],
                "effective_date": [date(int(y), 1, 1).toordinal() for y in c.year[rows]],
                "expiration_date": [date(int(y), 12, 31).toordinal() for y in c.year[rows]],
            }
        )

    def products(self, day: date) -> pd.DataFrame:
        rows = crosswalk_as_of(self.cat, day)
        return pd.DataFrame(
            {
                "product_id": [r[0] for r in rows],
                "hios_plan_id": [r[1] for r in rows],
                "product_name": [r[2] for r in rows],
                "effective_date": [r[3].toordinal() for r in rows],
                "termination_date": [r[4].toordinal() if r[4] else -1 for r in rows],
            }
        )

    def providers_snapshot(self, day: date) -> pd.DataFrame:
        cache = self.__dict__.setdefault("_providers_cache", {})
        if day not in cache:
            cache[day] = self._providers_snapshot(day)
        return cache[day]

    def _providers_snapshot(self, day: date) -> pd.DataFrame:
        pool = self.providers
        d = day.toordinal()
        h = pd.DataFrame(
            {
                "p": pool.history_provider,
                "day": pool.history_day,
                "county": pool.history_county,
                "zip": pool.history_zip,
                "city": pool.history_city,
                "net": pool.history_network,
                "o": np.arange(len(pool.history_provider)),
            }
        )
        h = h[h["day"] <= d].sort_values(["p", "day", "o"]).drop_duplicates("p", keep="last")
        h = h[pool.joined_day[h["p"].to_numpy()] <= d].sort_values("p")
        p = h["p"].to_numpy()
        spec = [ref.SPECIALTIES[s] for s in pool.specialty[p]]
        return pd.DataFrame(
            {
                "npi": [pool.npi[i] for i in p],
                "provider_name": [pool.name[i] for i in p],
                "specialty": [s.name for s in spec],
                "taxonomy_code": [s.taxonomy for s in spec],
                "city": h["city"].to_numpy(),
                "state": [ref.COUNTIES[c].state for c in h["county"].to_numpy()],
                "zip": h["zip"].to_numpy(),
                "entity_type": [s.entity_type for s in spec],
                "network_status": np.where(h["net"].to_numpy().astype(bool), "IN", "OUT"),
            }
        )

    def members(self, day: date) -> dict[str, np.ndarray]:
        """The members snapshot of a day as arrays; identity columns are already CSV-encoded bytes."""
        d = day.toordinal()
        sim, pop, en = self.sim, self.sim.pop, self.enrollment
        of = en.on_file()
        persons = np.unique(
            of["person"].to_numpy()[(of["from_day"].to_numpy() <= d) & (of["to_day"].to_numpy() > d)]
        )
        hh = sim.hh_all[persons]
        col = self._cols
        hv = pd.DataFrame({"hh": col["hv_hh"], "day": col["hv_day"], "o": np.arange(len(col["hv_hh"]))})
        hv = (
            hv[hv["day"] <= d]
            .sort_values(["hh", "day", "o"])
            .drop_duplicates("hh", keep="last")
            .set_index("hh")["o"]
        )
        vi = hv.loc[hh].to_numpy()
        county = col["hv_county"][vi].astype(np.int64)
        enc = self._enc
        last = enc["last_name"][persons].astype(
            f"S{max(enc['last_name'].dtype.itemsize, self._nv_last.dtype.itemsize)}"
        )
        if pop.nv_person:
            nv = pd.DataFrame(
                {
                    "p": np.concatenate(pop.nv_person),
                    "day": np.concatenate(pop.nv_day),
                    "o": np.arange(sum(len(x) for x in pop.nv_person)),
                }
            )
            nv = (
                nv[nv["day"] <= d]
                .sort_values(["p", "day", "o"])
                .drop_duplicates("p", keep="last")
                .set_index("p")
            )
            hit = np.isin(persons, nv.index.to_numpy())
            last[hit] = self._nv_last[nv.loc[persons[hit], "o"].to_numpy()]
        area_of_county = sim._area_of_county
        county_state = np.array([c.state for c in ref.COUNTIES], dtype="S2")
        county_fips = np.array([c.fips for c in ref.COUNTIES], dtype="S5")
        county_ra = np.array(
            [self.cat.areas[area_of_county[i]].rating_area for i in range(len(ref.COUNTIES))]
        )
        sub = sim.subscriber_all[hh]
        rel = sim.rel_all[persons]
        return {
            "person": persons,
            "member_id": enc["member_id"][persons],
            "issuer_member_no": enc["member_no"][persons],
            "subscriber_id": enc["member_id"][sub],
            "relationship": np.array([b"self", b"spouse", b"child", b"other"])[rel],
            "first_name": enc["first_name"][persons],
            "last_name": last,
            "ssn": enc["ssn"][persons],
            "email": enc["email"][persons],
            "phone": enc["phone"][persons],
            "address_line1": enc["address"][vi],
            "date_of_birth": sim.dob_all[persons],
            "gender": np.array([b"F", b"M", b"U"])[sim.gender_all[persons]],
            "city": enc["city"][vi],
            "state": county_state[county],
            "zip": enc["zip"][vi],
            "county_fips": county_fips[county],
            "rating_area": county_ra[county],
            "tobacco_user": np.where(sim.tobacco_all[persons], b"Y", b"N"),
            "household_income_fpl_pct": col["hv_fpl"][vi].astype(np.int64),
            "preferred_language": enc["language"][persons],
        }

    # ------------------------------------------------------------------ daily feeds
    def events(self) -> pd.DataFrame:
        """Event deliveries with load dates in the window (first deliveries and re-deliveries)."""
        ev = self.enrollment.events()
        first, last = self.start.toordinal(), self.last_load.toordinal()
        fd = np.maximum(ev["first_delivery"].to_numpy(), first)  # history arrives in the first file
        ev["first_load"] = fd
        one = ev.assign(load_day=fd, redelivered=False)
        two = ev[ev["redelivery"].to_numpy() > fd].assign(
            load_day=lambda x: x["redelivery"], redelivered=True
        )
        out = pd.concat([one, two], ignore_index=True)
        out = out[(out["load_day"] >= first) & (out["load_day"] <= last)]
        # order inside a file: on-time events by time of occurrence, late and repeated ones mixed in
        on_time = (out["occurred_day"].to_numpy() == out["load_day"].to_numpy()) & ~out[
            "redelivered"
        ].to_numpy()
        sort_sec = np.where(
            on_time | (out["load_day"].to_numpy() == first),
            out["sec"].to_numpy(),
            (out["load_day"].to_numpy() - 719163) * 86400 + out["order_sec"].to_numpy(),
        )
        out = out.assign(sort_sec=sort_sec).sort_values(["load_day", "sort_sec", "key"], kind="stable")
        out = out.reset_index(drop=True)
        out["event_id"] = pseudo_uuid_bytes(out["key"].to_numpy(), self.params.seed)
        for col in ("application_id", "member_id", "subscriber_id"):
            out[col] = code_column(out[col].to_numpy())
        return out

    def claims(self, workers: int = 1) -> pd.DataFrame:
        """Claim line versions adjudicated in the window (service months drawn in `workers` processes)."""
        global _CLAIMS_JOB
        sim = ClaimsSimulator(
            self.params.seed,
            self.cat,
            self.cal,
            self.providers,
            self.sim.dob_all,
            self.sim.gender_all,
            self.sim.pop.col("chronic").astype(np.int64),
        )
        first, last = self.start.toordinal(), self.last_load.toordinal()
        m0 = self.cal.month_index(first - CLAIM_LOOKBACK_DAYS)
        m1 = self.cal.month_index(last)
        months = list(range(int(m0), int(m1) + 1))
        _CLAIMS_JOB = (sim, self.segments, first, last)
        try:
            if workers > 1 and len(months) > 1:
                from aca_warehouse.generator.workers import fork_pool

                with fork_pool(workers) as pool:
                    parts = pool.map(_claims_month, months, chunksize=1)
            else:
                parts = [_claims_month(m) for m in months]
        finally:
            _CLAIMS_JOB = None
        parts = [_decode_month(p) for p in parts if p is not None]
        out = pd.concat(parts, ignore_index=True)
        out = out.sort_values(["adjudicated", "claim_id", "line", "version"], kind="stable").reset_index(
            drop=True
        )
        return out

    def premiums(self) -> pd.DataFrame:
        """Premium payments (and corrections) posted in the window."""
        rows = self.enrollment.premium_rows(self.segments)
        parts = []
        first, last = self.start.toordinal(), self.last_load.toordinal()
        for m, g in rows.groupby("month", sort=True):
            if month_start(int(m)) > last + 45 or month_start(int(m)) < first - 80:
                continue
            rng = stream(self.params.seed, STREAM_PREMIUMS, int(m))
            g = g.sort_values(["subscriber", "product"]).reset_index(drop=True)
            n = len(g)
            due = int(month_start(int(m)))
            regular = due + rng.integers(-24, 11, n)  # autopay and manual payments around the due date
            paid = np.where(
                g["binder"].to_numpy(),
                g["binder_day"].to_numpy(),
                np.maximum(regular, g["binder_day"].to_numpy() + 1),
            )
            paid = self.cal.next_business_day(paid)
            pay_id = ((int(m) // 12) * 100 + int(m) % 12 + 1) * 10_000_000 + np.arange(
                1, n + 1
            )  # PMT+yyyymm+7 digits
            g = g.assign(payment_id=pay_id, paid_day=paid, corrected=False)
            fix = (rng.random(n) < 0.015) & (g["aptc"].to_numpy() > 0)
            delta = rng.integers(500, 4000, n) * np.where(rng.random(n) < 0.5, -1, 1)
            new_aptc = np.clip(g["aptc"].to_numpy() + delta, 0, g["billed"].to_numpy())
            fix &= new_aptc != g["aptc"].to_numpy()
            corr_day = self.cal.next_business_day(paid + rng.integers(5, 31, n))
            corr = g[fix].assign(aptc=new_aptc[fix], paid_day=corr_day[fix], corrected=True)
            parts.extend([g, corr])
        out = pd.concat(parts, ignore_index=True)
        out = out[(out["paid_day"] >= first) & (out["paid_day"] <= last)]
        out["member_no"] = self.enrollment.member_no[out["subscriber"].to_numpy()]
        out["payment_id"] = np.char.add(b"PMT", out["payment_id"].to_numpy().astype("S"))
        return out.sort_values(["paid_day", "payment_id", "corrected"], kind="stable").reset_index(drop=True)


_CLAIMS_JOB: tuple | None = None
_TEXT_COLUMNS = ("code", "dx", "deny_code")


def _claims_month(m: int) -> tuple[pd.DataFrame, dict] | None:
    """Claim lines of one service month adjudicated in the window; text columns as codes (cheap to pickle)."""
    assert _CLAIMS_JOB is not None
    sim, segments, first, last = _CLAIMS_JOB
    lines = sim.month(m, segments)
    if not len(lines):
        return None
    lines = lines[(lines["adjudicated"] >= first) & (lines["adjudicated"] <= last)].reset_index(drop=True)
    vocab = {}
    for col in _TEXT_COLUMNS:
        codes, uniques = pd.factorize(lines[col].to_numpy())
        lines[col] = codes.astype(np.int32)
        vocab[col] = (
            code_column(np.asarray(uniques, dtype=object)) if len(uniques) else np.zeros(0, dtype="S1")
        )
    return lines, vocab


def _decode_month(part: tuple[pd.DataFrame, dict]) -> pd.DataFrame:
    lines, vocab = part
    for col in _TEXT_COLUMNS:
        lines[col] = (
            vocab[col][lines[col].to_numpy()] if len(vocab[col]) else np.zeros(len(lines), dtype="S1")
        )
    return lines


def ssn_text(persons: np.ndarray) -> np.ndarray:
    """Unique, well-formed but synthetic SSNs: a bijection of the person number (area 666 skipped)."""
    span = 898 * 99 * 9999
    code = (persons.astype(np.int64) * 48_271 + 12_345_679) % span
    area = code // (99 * 9999) + 1
    area = np.where(area >= 666, area + 1, area)
    group = code // 9999 % 99 + 1
    serial = code % 9999 + 1
    return np.array(
        [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(area, group, serial, strict=True)], dtype=object
    )
