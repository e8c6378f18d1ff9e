"""Households, members and their enrollment life, simulated one plan year at a time.

Each plan year draws from its own random stream and depends only on earlier years, so the world on a
given day never depends on how many days are generated.  The result is a set of flat tables: people,
household and name histories, applications with their scripted events, member coverage segments and
member-month premiums; the feed builders turn them into landing files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.catalog import NamePools, PlanCatalog
from aca_warehouse.generator.timeline import (
    EPOCH_ORDINAL,
    STREAM_IDENTITY,
    STREAM_YEAR,
    Calendar,
    month_end,
    month_start,
    stream,
)

REL_SELF, REL_SPOUSE, REL_CHILD, REL_OTHER = 0, 1, 2, 3
RELATIONSHIPS = np.array(["self", "spouse", "child", "other"])
GENDERS = np.array(["F", "M", "U"])
TERM_NONE, TERM_NON_PAYMENT, TERM_VOLUNTARY, TERM_MOVED, TERM_DEATH, TERM_OTHER = -1, 0, 1, 2, 3, 4
OEP, SEP = 0, 1
DAY = 86400


def day_seconds(
    days: np.ndarray, rng: np.random.Generator, lo_hour: float = 7.0, hi_hour: float = 22.0
) -> np.ndarray:
    """Epoch seconds at a random local (US Eastern) time of day on each day ordinal."""
    base = (np.asarray(days, dtype=np.int64) - EPOCH_ORDINAL) * DAY + 5 * 3600  # ~midnight Eastern
    return base + (rng.uniform(lo_hour, hi_hour, size=np.shape(days)) * 3600).astype(np.int64)


def ages_on(dob: np.ndarray, day: np.ndarray | int) -> np.ndarray:
    """Whole years of age on a day, from ordinals."""
    return ((np.asarray(day) - dob) / 365.2425).astype(np.int64)


@dataclass
class Population:
    """Everyone ever enrolled, one entry per person, plus household-level attributes."""

    # persons
    hh: list[np.ndarray] = field(default_factory=list)
    rel: list[np.ndarray] = field(default_factory=list)
    dob: list[np.ndarray] = field(default_factory=list)
    gender: list[np.ndarray] = field(default_factory=list)
    first_name: list[np.ndarray] = field(default_factory=list)
    last_name: list[np.ndarray] = field(default_factory=list)
    email: list[np.ndarray] = field(default_factory=list)
    phone: list[np.ndarray] = field(default_factory=list)
    tobacco: list[np.ndarray] = field(default_factory=list)
    language: list[np.ndarray] = field(default_factory=list)
    chronic: list[np.ndarray] = field(default_factory=list)
    suffix: list[np.ndarray] = field(default_factory=list)
    # households
    hh_subscriber: list[np.ndarray] = field(default_factory=list)
    hh_off_exchange: list[np.ndarray] = field(default_factory=list)
    hh_aian: list[np.ndarray] = field(default_factory=list)
    hh_next_suffix: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # household attribute history: county, city, zip, address, fpl from a day on
    hv_hh: list[np.ndarray] = field(default_factory=list)
    hv_day: list[np.ndarray] = field(default_factory=list)
    hv_county: list[np.ndarray] = field(default_factory=list)
    hv_city: list[np.ndarray] = field(default_factory=list)
    hv_zip: list[np.ndarray] = field(default_factory=list)
    hv_address: list[np.ndarray] = field(default_factory=list)
    hv_fpl: list[np.ndarray] = field(default_factory=list)
    # last-name history
    nv_person: list[np.ndarray] = field(default_factory=list)
    nv_day: list[np.ndarray] = field(default_factory=list)
    nv_last: list[np.ndarray] = field(default_factory=list)
    n_people: int = 0
    n_households: int = 0
    # current household state used by the yearly simulation
    cur_county: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cur_fpl: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def col(self, name: str) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.zeros(0)


class YearTables:
    """Applications, application members, coverage segments and premium months of one plan year."""

    def __init__(self) -> None:
        self.apps: dict[str, list[np.ndarray]] = {}
        self.members: dict[str, list[np.ndarray]] = {}

    def add(self, table: str, **cols: np.ndarray) -> None:
        target = self.apps if table == "apps" else self.members
        for k, v in cols.items():
            target.setdefault(k, []).append(np.asarray(v))

    def frame(self, table: str) -> pd.DataFrame:
        target = self.apps if table == "apps" else self.members
        return pd.DataFrame({k: np.concatenate(v) for k, v in target.items()})


class PopulationSimulator:
    """Runs the enrollment simulation plan year by plan year."""

    def __init__(
        self, seed: int, members: int, catalog: PlanCatalog, names: NamePools, cal: Calendar
    ) -> None:
        self.seed = seed
        self.target_members = members
        self.cat = catalog
        self.names = names
        self.cal = cal
        self.pop = Population()
        self.first_year = catalog.first_year
        self.apps: list[pd.DataFrame] = []
        self.app_members: list[pd.DataFrame] = []
        self.continuing: pd.DataFrame | None = None  # (hh, person, plan row, product) at 31 Dec
        self.n_apps = 0
        self._county_weights = np.array([c.weight for c in ref.COUNTIES])
        self._area_of_county = np.zeros(len(ref.COUNTIES), dtype=np.int64)
        for ai, a in enumerate(catalog.areas):
            for ci in a.county_indices:
                self._area_of_county[ci] = ai

    # ------------------------------------------------------------------ identities
    def _new_households(
        self, rng: np.random.Generator, n_people: int, ref_day: int, year: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Create households totalling about n_people; return (household indices, person indices)."""
        sizes_all = rng.choice(
            [1, 2, 3, 4, 5, 6], size=max(1, n_people), p=[0.46, 0.25, 0.12, 0.11, 0.04, 0.02]
        )
        cut = int(np.searchsorted(np.cumsum(sizes_all), n_people)) + 1
        sizes = sizes_all[:cut]
        n_hh = len(sizes)
        hh0, p0 = self.pop.n_households, self.pop.n_people
        hh_idx = np.arange(hh0, hh0 + n_hh)
        n = int(sizes.sum())
        person_hh = np.repeat(hh_idx, sizes)
        pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # position within household
        # relationships: subscriber, then a spouse (often), children, sometimes another dependant
        has_spouse = rng.random(n_hh) < np.where(sizes == 2, 0.78, 0.72)
        rel = np.full(n, REL_CHILD)
        rel[pos == 0] = REL_SELF
        rel[(pos == 1) & np.repeat(has_spouse, sizes)] = REL_SPOUSE
        rel[(rel == REL_CHILD) & (rng.random(n) < 0.04)] = REL_OTHER
        # ages: the marketplace skews older
        age_grid = np.arange(19, 65)
        w = np.where(age_grid < 26, 0.8, np.where(age_grid < 35, 1.0, np.where(age_grid < 50, 1.05, 1.55)))
        sub_age = rng.choice(age_grid, size=n_hh, p=w / w.sum())
        sub_age = np.where(sizes >= 3, np.clip(sub_age, 25, 58), sub_age)
        sub_age_p = np.repeat(sub_age, sizes)
        age = np.where(rel == REL_SELF, sub_age_p, 0)
        spouse_age = np.clip(sub_age_p + rng.normal(0, 4, n).round().astype(int), 19, 64)
        age = np.where(rel == REL_SPOUSE, spouse_age, age)
        child_age = np.minimum(rng.integers(0, 26, n), np.maximum(sub_age_p - 18, 0))
        age = np.where(rel == REL_CHILD, child_age, age)
        age = np.where(rel == REL_OTHER, rng.integers(0, 80, n), age)
        dob = ref_day - (age * 365.2425).astype(np.int64) - rng.integers(1, 365, n)
        sub_female = rng.random(n_hh) < 0.55
        gender = np.where(rng.random(n) < 0.5, 0, 1)
        gender = np.where(rel == REL_SELF, np.where(np.repeat(sub_female, sizes), 0, 1), gender)
        gender = np.where(
            rel == REL_SPOUSE,
            np.where(rng.random(n) < 0.95, 1 - np.repeat(np.where(sub_female, 0, 1), sizes), gender),
            gender,
        )
        gender = np.where(rng.random(n) < 0.003, 2, gender)
        # names
        fem = np.array(self.names.female, dtype=object)
        mal = np.array(self.names.male, dtype=object)
        last_pool = np.array(self.names.last, dtype=object)
        first = np.where(gender == 0, fem[rng.integers(0, len(fem), n)], mal[rng.integers(0, len(mal), n)])
        hh_last = last_pool[rng.integers(0, len(last_pool), n_hh)]
        last = np.repeat(hh_last, sizes)
        own_last = (rel == REL_SPOUSE) & (rng.random(n) < 0.2) | (rel == REL_OTHER)
        last = np.where(own_last, last_pool[rng.integers(0, len(last_pool), n)], last)
        # contact details
        county = rng.choice(len(ref.COUNTIES), size=n_hh, p=self._county_weights / self._county_weights.sum())
        domains = np.array(self.names.domain, dtype=object)
        nums = rng.integers(1, 99, n)
        email_user = [
            f"{f}.{ln}{k}".lower().replace(" ", "").replace("'", "")
            for f, ln, k in zip(first.tolist(), last.tolist(), nums.tolist(), strict=True)
        ]
        email = np.array(
            [
                f"{u}@{d}"
                for u, d in zip(email_user, domains[rng.integers(0, len(domains), n)].tolist(), strict=True)
            ],
            dtype=object,
        )
        email = np.where((age < 18) | (rng.random(n) < 0.06), "", email)
        area_code = [
            ref.COUNTIES[c].area_codes[int(k) % len(ref.COUNTIES[c].area_codes)]
            for c, k in zip(np.repeat(county, sizes).tolist(), rng.integers(0, 6, n).tolist(), strict=True)
        ]
        exch = rng.integers(201, 999, n)
        line = rng.integers(0, 10000, n)
        phone = np.array(
            [f"{a}-{e:03d}-{x:04d}" for a, e, x in zip(area_code, exch.tolist(), line.tolist(), strict=True)],
            dtype=object,
        )
        phone = np.where((age < 16) | (rng.random(n) < 0.04), "", phone)
        tobacco = (age >= 18) & (rng.random(n) < 0.09)
        lw = np.array(ref.LANGUAGE_WEIGHTS)
        language = rng.choice(len(ref.LANGUAGES), size=n, p=lw / lw.sum())
        # chronic conditions by age
        chronic = np.zeros(n, dtype=np.int64)
        for bit, cc in enumerate(ref.CHRONIC_CONDITIONS):
            p = np.interp(
                age,
                [0, 18, 30, 60, 90],
                [
                    cc.prevalence_at_30 * 0.25,
                    cc.prevalence_at_30 * 0.5,
                    cc.prevalence_at_30,
                    cc.prevalence_at_60,
                    cc.prevalence_at_60,
                ],
            )
            chronic |= (rng.random(n) < p).astype(np.int64) << bit
        # household attributes
        fpl_band = rng.choice(6, size=n_hh, p=[0.36, 0.2, 0.12, 0.08, 0.12, 0.12])
        lo = np.array([100, 150, 200, 250, 300, 400])[fpl_band]
        hi = np.array([150, 200, 250, 300, 400, 650])[fpl_band]
        fpl = rng.integers(lo, hi)
        off_exchange = rng.random(n_hh) < 0.006
        aian = rng.random(n_hh) < 0.015
        zips, cities, addresses = self._addresses(rng, county)
        p = self.pop
        p.hh.append(person_hh), p.rel.append(rel), p.dob.append(dob), p.gender.append(gender)
        p.first_name.append(first), p.last_name.append(last), p.email.append(email), p.phone.append(phone)
        p.tobacco.append(tobacco), p.language.append(language), p.chronic.append(chronic)
        p.suffix.append(pos + 1)
        p.hh_subscriber.append(p0 + np.cumsum(sizes) - sizes)
        p.hh_off_exchange.append(off_exchange), p.hh_aian.append(aian)
        p.hh_next_suffix = np.concatenate([p.hh_next_suffix, sizes + 1])
        p.hv_hh.append(hh_idx), p.hv_day.append(np.full(n_hh, ref_day - 400)), p.hv_county.append(county)
        p.hv_city.append(cities), p.hv_zip.append(zips), p.hv_address.append(addresses), p.hv_fpl.append(fpl)
        p.cur_county = np.concatenate([p.cur_county, county])
        p.cur_fpl = np.concatenate([p.cur_fpl, fpl])
        p.n_people += n
        p.n_households += n_hh
        self._refresh_person_cache()
        return hh_idx, np.arange(p0, p0 + n)

    def _addresses(
        self, rng: np.random.Generator, county: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(county)
        streets = np.array(self.names.street, dtype=object)
        st = streets[rng.integers(0, len(streets), n)]
        num = rng.integers(100, 19999, n)
        apt = rng.integers(1, 480, n)
        kind = rng.random(n)
        addr = []
        zips, cities = [], []
        for i, c in enumerate(county.tolist()):
            places = ref.COUNTIES[c].places
            city, zs = places[int(num[i]) % len(places)]
            cities.append(city)
            zips.append(zs[int(apt[i]) % len(zs)])
            base = f"{num[i]} {st[i]}"
            if kind[i] < 0.15:
                base += f", Apt {apt[i]}"  # a comma: the field gets quoted
            elif kind[i] < 0.153:
                base += f"\nUnit {apt[i]}"  # an embedded line break inside a quoted field
            addr.append(base)
        return np.array(zips, dtype=object), np.array(cities, dtype=object), np.array(addr, dtype=object)

    # ------------------------------------------------------------------ rating
    def _rate(
        self,
        apps: pd.DataFrame,
        am: pd.DataFrame,
        plan_row_col: str,
        start_col: str,
        fpl_col: str,
        area_col: str,
        year: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Member premiums and APTC shares (cents) for the application members `am` on the given plan."""
        cat = self.cat
        a = apps.set_index("app")
        plan_row = a.loc[am["app"], plan_row_col].to_numpy()
        start = a.loc[am["app"], start_col].to_numpy()
        fpl = a.loc[am["app"], fpl_col].to_numpy()
        area = a.loc[am["app"], area_col].to_numpy()
        off = a.loc[am["app"], "off_exchange"].to_numpy()
        dob = self.dob_all[am["person"].to_numpy()]
        tob = self.tobacco_all[am["person"].to_numpy()]
        age = ages_on(dob, start)
        factor = ref.age_factor(age)
        # only the three oldest children under 21 are charged
        child = age < 21
        order = pd.DataFrame(
            {"app": am["app"].to_numpy(), "age": np.where(child, age, 999), "i": np.arange(len(am))}
        )
        order = order.sort_values(["app", "age", "i"], ascending=[True, False, True])
        rank = order.groupby("app").cumcount().to_numpy()
        child_rank = np.empty(len(am), dtype=np.int64)
        child_rank[order["i"].to_numpy()] = rank
        charged = ~child | (child_rank < ref.MAX_RATED_CHILDREN)
        factor = np.where(charged, factor, 0.0)
        surcharge = np.where(tob & (age >= 21), ref.TOBACCO_FACTOR, 1.0)
        premium = np.round(cat.premium_cents[plan_row] * factor * surcharge).astype(np.int64)
        slcsp = np.array([cat.slcsp_cents[(year, int(x))] for x in area])
        bench = np.round(slcsp * factor).astype(np.int64)
        df = pd.DataFrame({"app": am["app"].to_numpy(), "premium": premium, "bench": bench})
        g = df.groupby("app", sort=False)
        hh_prem = g["premium"].transform("sum").to_numpy()
        hh_bench = g["bench"].transform("sum").to_numpy()
        size = g["premium"].transform("size").to_numpy()
        pct = ref.applicable_percentage(year, fpl)
        contrib = pct * fpl / 100.0 * ref.poverty_guideline(year, size) / 12.0 * 100.0
        hh_aptc = np.where(np.isnan(contrib), 0, np.clip(hh_bench - np.nan_to_num(contrib), 0, None))
        catastrophic = cat.tier[plan_row] == "Catastrophic"
        hh_aptc = np.where(catastrophic | off, 0, np.minimum(np.round(hh_aptc), hh_prem)).astype(np.int64)
        # allocate the household APTC to members in proportion to premium, exact to the cent
        share = np.where(hh_prem > 0, hh_aptc * premium // np.maximum(hh_prem, 1), 0)
        df["share"] = share
        df["room"] = premium - share
        df["i"] = np.arange(len(df))
        remainder = hh_aptc - df.groupby("app", sort=False)["share"].transform("sum").to_numpy()
        df["rem"] = remainder
        df = df.sort_values(["app", "room", "i"], ascending=[True, False, True])
        df["k"] = df.groupby("app", sort=False).cumcount()
        add = (df["k"] < df["rem"]).to_numpy().astype(np.int64)
        out = np.empty(len(df), dtype=np.int64)
        out[df["i"].to_numpy()] = df["share"].to_numpy() + add
        return premium, out

    # ------------------------------------------------------------------ plan choice
    def _choose_plans(
        self,
        rng: np.random.Generator,
        year: int,
        county: np.ndarray,
        fpl: np.ndarray,
        aian: np.ndarray,
        sub_age: np.ndarray,
        single: np.ndarray,
    ) -> np.ndarray:
        """Pick a plan row per household: tier by income and age, issuer by state, CSR variant by income."""
        n = len(county)
        area = self._area_of_county[county]
        tiers = ["Catastrophic", "Expanded Bronze", "Bronze", "Silver", "Gold", "Platinum"]
        u = rng.random(n)
        low = fpl <= 250
        tier = np.where(
            low,
            np.where(u < 0.82, 3, np.where(u < 0.92, 2, np.where(u < 0.97, 1, 4))),
            np.where(u < 0.30, 2, np.where(u < 0.42, 1, np.where(u < 0.72, 3, np.where(u < 0.93, 4, 5)))),
        )
        young_single = (sub_age < 30) & single
        tier = np.where(young_single & (rng.random(n) < 0.25), 0, tier)
        rows = np.empty(n, dtype=np.int64)
        comp_for_tier = {0: [1], 1: [2], 2: [3], 3: [4, 5], 4: [6], 5: [7]}
        pick = rng.random(n)
        issuer_pick = rng.random(n)
        for i in range(n):
            state = self.cat.areas[area[i]].state
            issuers = [k for k, iss in enumerate(ref.ISSUERS) if iss.state == state]
            issuer = issuers[int(issuer_pick[i] * len(issuers))]
            comps = comp_for_tier[int(tier[i])]
            comp = comps[int(pick[i] * len(comps))]
            if self.cat.is_discontinued(year, issuer, int(area[i]), comp):
                comp = 4
            rows[i] = self.cat.row(
                year, issuer, int(area[i]), comp, self._variant(tiers[tier[i]], fpl[i], aian[i])
            )
        return rows

    @staticmethod
    def _variant(tier: str, fpl: int, aian: bool) -> str:
        if tier == "Catastrophic":
            return "01"
        if aian:
            return "02" if fpl <= 300 else "03"
        if tier == "Silver":
            if fpl <= 150:
                return "06"
            if fpl <= 200:
                return "05"
            if fpl <= 250:
                return "04"
        return "01"

    def _same_plan_elsewhere(self, year: int, plan_row: int, area: int, fpl: int, aian: bool) -> int:
        """The same issuer/component in another rating area, with the CSR variant for the income."""
        cat = self.cat
        tier = str(cat.tier[plan_row])
        issuer = int(cat.issuer[plan_row])
        state = cat.areas[area].state
        if ref.ISSUERS[issuer].state != state:
            issuer = next(k for k, iss in enumerate(ref.ISSUERS) if iss.state == state)
        comp = int(cat.component[plan_row])
        if cat.is_discontinued(year, issuer, area, comp):
            comp = 4
        return cat.row(year, issuer, area, comp, self._variant(tier, fpl, aian))

    # ------------------------------------------------------------------ the year
    def simulate_year(self, year: int) -> None:
        rng = stream(self.seed, STREAM_YEAR, year)
        idrng = stream(self.seed, STREAM_IDENTITY, year)
        cal, cat = self.cal, self.cat
        jan1 = date(year, 1, 1).toordinal()
        oep_open = date(year - 1, 11, 1).toordinal()
        oep_dec15 = date(year - 1, 12, 15).toordinal()
        oep_close = date(year, 1, 15).toordinal()
        dec31 = date(year, 12, 31).toordinal()

        groups: list[pd.DataFrame] = []  # app-level frames; members collected alongside
        member_groups: list[pd.DataFrame] = []

        # 1. renewals
        if self.continuing is not None and len(self.continuing):
            cont = self.continuing
            hh_list = cont["hh"].drop_duplicates().to_numpy()
            n = len(hh_list)
            prev_plan = cont.groupby("hh", sort=False)["plan_row"].first().loc[hh_list].to_numpy()
            fpl = np.clip(np.round(self.pop.cur_fpl[hh_list] * rng.lognormal(0, 0.08, n)), 100, 900).astype(
                np.int64
            )
            lost_subsidy = (year >= 2026) & (fpl > 400) & (year - 1 <= 2025)
            renew = rng.random(n) < np.where(lost_subsidy, 0.62, 0.86)
            aian = self.aian_all[hh_list]
            area = self._area_of_county[self.pop.cur_county[hh_list]]
            plan_row = np.array(
                [
                    self._same_plan_elsewhere(year, int(r), int(a), int(f), bool(x))
                    for r, a, f, x in zip(prev_plan, area, fpl, aian, strict=True)
                ],
                dtype=np.int64,
            )
            switch = rng.random(n) < 0.08
            if switch.any():
                sub = self.subscriber_all[hh_list[switch]]
                sub_age = ages_on(self.dob_all[sub], jan1)
                plan_row[switch] = self._choose_plans(
                    rng,
                    year,
                    self.pop.cur_county[hh_list[switch]],
                    fpl[switch],
                    aian[switch],
                    sub_age,
                    np.zeros(int(switch.sum()), bool),
                )
            submitted = rng.integers(oep_open, oep_dec15 + 1, n)
            self.pop.cur_fpl[hh_list] = fpl
            # renewing households report their new income; some also a new address in the same county
            new_address = np.flatnonzero(rng.random(int(renew.sum())) < 0.07)
            self._record_hh_version(
                hh_list[renew], submitted[renew], new_address_for=new_address, same_county=True
            )
            keep = renew
            # a renewing member keeps the claims-system product while it maps to the renewed plan
            prev_product = cont.groupby("hh", sort=False)["product"].first().loc[hh_list].to_numpy()
            follows = np.array(
                [
                    cat.row(year, *cat.product_keys[int(pp)]) == int(r)
                    for pp, r in zip(prev_product, plan_row, strict=True)
                ],
                dtype=bool,
            )
            product = np.where(follows, prev_product, cat.product[plan_row])
            g = pd.DataFrame(
                {
                    "hh": hh_list[keep],
                    "period": OEP,
                    "sep_reason": -1,
                    "submitted_day": submitted[keep],
                    "coverage_start": jan1,
                    "plan_row": plan_row[keep],
                    "product": product[keep],
                    "renewal": True,
                }
            )
            groups.append(g)
            cm = cont[cont["hh"].isin(hh_list[keep])][["hh", "person"]]
            member_groups.append(cm)

        # 2. new open-enrollment households
        n_new = self.target_members if year == self.first_year else int(round(self.target_members * 0.17))
        hh_new, _ = self._new_households(idrng, n_new, jan1, year)
        n = len(hh_new)
        late = rng.random(n) < 0.12
        submitted = np.where(
            late, rng.integers(oep_dec15 + 1, oep_close + 1, n), rng.integers(oep_open, oep_dec15 + 1, n)
        )
        start = np.where(late, date(year, 2, 1).toordinal(), jan1)
        g = self._new_apps_frame(rng, year, hh_new, submitted, start, OEP, np.full(n, -1))
        groups.append(g)
        member_groups.append(self._household_members(hh_new))

        # 3. special enrollment households through the year
        sep_people = int(round(self.target_members * 0.11))
        hh_sep, _ = self._new_households(idrng, sep_people, jan1 + 180, year)
        n = len(hh_sep)
        submitted = rng.integers(oep_close + 1, date(year, 10, 31).toordinal() + 1, n)
        start = month_start(cal.month_index(submitted) + 1)
        sw = np.array(ref.SEP_WEIGHTS)
        reason = rng.choice(len(ref.SEP_REASONS), size=n, p=sw / sw.sum())
        fpl_now = self.pop.cur_fpl[hh_sep]
        low_income_ok = (fpl_now <= 150) & (year <= 2025)
        reason = np.where((reason == ref.SEP_REASONS.index("low_income")) & ~low_income_ok, 0, reason)
        g = self._new_apps_frame(rng, year, hh_sep, submitted, start, SEP, reason)
        groups.append(g)
        member_groups.append(self._household_members(hh_sep))

        apps = pd.concat(groups, ignore_index=True)
        am = pd.concat(member_groups, ignore_index=True)
        n = len(apps)
        apps["app"] = np.arange(self.n_apps, self.n_apps + n)
        self.n_apps += n
        apps["plan_year"] = year
        apps["off_exchange"] = self.off_all[apps["hh"].to_numpy()]
        apps["aian"] = self.aian_all[apps["hh"].to_numpy()]
        apps["fpl"] = self.pop.cur_fpl[apps["hh"].to_numpy()]
        apps["area"] = self._area_of_county[self.pop.cur_county[apps["hh"].to_numpy()]]
        apps["subscriber"] = self.subscriber_all[apps["hh"].to_numpy()]
        am = am.merge(apps[["hh", "app"]], on="hh", how="inner")
        am = am.sort_values(["app", "person"], kind="stable").reset_index(drop=True)
        apps["submitted_sec"] = day_seconds(apps["submitted_day"].to_numpy(), rng)
        apps["selected_sec"] = apps["submitted_sec"] + rng.integers(120, 3600, n)

        # 4. premium and APTC on the selected plan
        prem, aptc = self._rate(apps, am, "plan_row", "coverage_start", "fpl", "area", year)
        am["premium"], am["aptc"] = prem, aptc

        # 5. effectuation: the binder payment
        renewal = apps["renewal"].to_numpy()
        never = rng.random(n) < np.where(renewal, 0.03, 0.09)
        sub_day = apps["submitted_day"].to_numpy()
        cstart = apps["coverage_start"].to_numpy()
        binder = sub_day + 1 + rng.gamma(2.0, 5.0, n).astype(np.int64)
        binder = np.where(renewal, np.maximum(binder, cstart - rng.integers(0, 25, n)), binder)
        binder = np.minimum(binder, cstart + 25)
        binder = cal.next_business_day(binder)
        apps["effectuated"] = ~never
        apps["binder_day"] = np.where(never, -1, binder)
        eff_sec = day_seconds(binder + rng.integers(0, 3, n), rng, 8, 20)
        apps["eff_sec"] = np.where(never, -1, np.maximum(eff_sec, apps["selected_sec"].to_numpy() + 3600))
        eff_day = np.where(never, -1, (apps["eff_sec"].to_numpy() - 5 * 3600) // DAY + EPOCH_ORDINAL)

        # 6. scripted changes during the year
        first_month = cal.month_index(cstart)
        dec_month = year * 12 + 11
        covered_months = dec_month - first_month + 1
        u = rng.random(n)
        frac = covered_months / 12.0
        p_cancel = 0.015
        p_vol, p_nonpay, p_moved, p_other = 0.07 * frac, 0.09 * frac, 0.015 * frac, 0.006 * frac
        term = np.full(n, TERM_NONE)
        cancel = u < p_cancel
        edges = np.cumsum([p_cancel + 0 * frac, p_vol, p_nonpay, p_moved, p_other], axis=0)
        term = np.where(cancel, TERM_VOLUNTARY, term)
        term = np.where((u >= edges[0]) & (u < edges[1]), TERM_VOLUNTARY, term)
        term = np.where((u >= edges[1]) & (u < edges[2]) & (covered_months >= 2), TERM_NON_PAYMENT, term)
        term = np.where((u >= edges[2]) & (u < edges[3]), TERM_MOVED, term)
        term = np.where((u >= edges[3]) & (u < edges[4]), TERM_OTHER, term)
        term = np.where(never, TERM_NONE, term)
        cancel = cancel & ~never
        term_month = first_month + (rng.random(n) * covered_months).astype(np.int64)
        term_day = month_start(term_month) + rng.integers(0, 28, n)
        term_day = np.maximum(term_day, eff_day + 1)
        coverage_end = month_end(cal.month_index(np.minimum(term_day, dec31)))
        extend = (term == TERM_VOLUNTARY) & (rng.random(n) < 0.3) & (coverage_end < dec31)
        coverage_end = np.where(
            extend, month_end(cal.month_index(np.minimum(coverage_end + 1, dec31))), coverage_end
        )
        perceived_end = coverage_end.copy()
        # non-payment: last paid month L; APTC enrollees get a 3-month grace period (month 1 covered)
        hh_aptc = pd.Series(am["aptc"].to_numpy()).groupby(am["app"].to_numpy()).sum()
        app_aptc = hh_aptc.reindex(apps["app"].to_numpy()).fillna(0).to_numpy()
        last_paid = first_month + (rng.random(n) * np.maximum(covered_months - 1, 1)).astype(np.int64)
        has_aptc = app_aptc > 0
        np_end = np.where(has_aptc, month_end(last_paid + 1), month_end(last_paid))
        np_event = np.where(has_aptc, month_start(last_paid + 4), month_start(last_paid + 2)) + rng.integers(
            0, 10, n
        )
        nonpay = term == TERM_NON_PAYMENT
        coverage_end = np.where(nonpay, np.minimum(np_end, dec31), coverage_end)
        term_day = np.where(nonpay, np.maximum(np_event, eff_day + 1), term_day)
        perceived_end = np.where(nonpay, term_day - 1, perceived_end)
        # cancellations happen between effectuation and a few weeks later and end before the start
        cancel_day = eff_day + 1 + rng.integers(0, 20, n)
        term_day = np.where(cancel, cancel_day, term_day)
        coverage_end = np.where(cancel, cstart - 1, coverage_end)
        perceived_end = np.where(cancel, cstart - 1, perceived_end)
        # card still used for a while after a voluntary end
        late_use = (term == TERM_VOLUNTARY) & ~cancel & (rng.random(n) < 0.25)
        perceived_end = np.where(late_use, coverage_end + rng.integers(3, 30, n), perceived_end)
        apps["term_reason"] = term
        apps["term_sec"] = np.where(
            term == TERM_NONE, -1, day_seconds(np.where(term == TERM_NONE, jan1, term_day), rng)
        )
        apps["coverage_end"] = np.where(term == TERM_NONE, dec31, coverage_end)
        apps["perceived_end"] = np.where(term == TERM_NONE, dec31, np.minimum(perceived_end, dec31 + 120))
        apps["last_paid_month"] = np.where(nonpay, last_paid, 10**6)
        apps["cancelled"] = cancel

        # plan changes: an income change (CSR variant may change) or a move to another rating area
        can_change = apps["effectuated"].to_numpy() & ~cancel
        change_kind = np.where(rng.random(n) < 0.15, 1, 0)
        change_kind = np.where(rng.random(n) < 0.04, 2, change_kind)  # 2 = rating-area move
        change_kind = np.where(can_change, change_kind, 0)
        oct_month = year * 12 + 9
        span = oct_month - (first_month + 1) + 1
        change_month = first_month + 1 + (rng.random(n) * np.maximum(span, 1)).astype(np.int64)
        change_day = np.maximum(
            month_start(np.minimum(change_month, oct_month)) + rng.integers(0, 28, n), eff_day + 1
        )
        change_start = month_start(cal.month_index(change_day) + 1)
        ok = (
            (span >= 1)
            & (change_start <= apps["coverage_end"].to_numpy())
            & (change_day < np.where(term == TERM_NONE, dec31 + 1, term_day))
            & (change_day <= date(year, 10, 31).toordinal())
        )
        change_kind = np.where(ok, change_kind, 0)
        new_fpl = apps["fpl"].to_numpy().copy()
        new_area = apps["area"].to_numpy().copy()
        new_county = self.pop.cur_county[apps["hh"].to_numpy()].copy()
        inc = change_kind == 1
        new_fpl[inc] = np.clip(np.round(new_fpl[inc] * rng.lognormal(0, 0.28, int(inc.sum()))), 100, 900)
        mv = np.flatnonzero(change_kind == 2)
        for i in mv.tolist():
            state = cat.areas[new_area[i]].state
            options = [
                ci
                for ci, c in enumerate(ref.COUNTIES)
                if c.state == state and self._area_of_county[ci] != new_area[i]
            ]
            ci = options[int(rng.integers(len(options)))]
            new_county[i], new_area[i] = ci, self._area_of_county[ci]
        new_plan = apps["plan_row"].to_numpy().copy()
        for i in np.flatnonzero(change_kind > 0).tolist():
            new_plan[i] = self._same_plan_elsewhere(
                year,
                int(apps["plan_row"].iat[i]),
                int(new_area[i]),
                int(new_fpl[i]),
                bool(apps["aian"].iat[i]),
            )
        apps["change_kind"] = change_kind
        apps["change_sec"] = np.where(change_kind > 0, day_seconds(change_day, rng), -1)
        apps["change_start"] = np.where(change_kind > 0, change_start, -1)
        apps["new_plan_row"] = new_plan
        apps["new_product"] = np.where(
            new_plan == apps["plan_row"].to_numpy(), apps["product"].to_numpy(), cat.product[new_plan]
        )
        apps["new_fpl"] = new_fpl
        apps["new_area"] = new_area
        changed = np.flatnonzero(change_kind > 0)
        if len(changed):
            hh = apps["hh"].to_numpy()[changed]
            self.pop.cur_fpl[hh] = new_fpl[changed]
            self.pop.cur_county[hh] = new_county[changed]
            self._record_hh_version(
                hh, change_day[changed], new_address_for=np.flatnonzero(change_kind[changed] == 2)
            )
        prem2, aptc2 = self._rate(apps, am, "new_plan_row", "coverage_start", "new_fpl", "new_area", year)
        am["premium2"], am["aptc2"] = prem2, aptc2

        # moves out of state for TERM_MOVED: the new address is in another state
        moved = np.flatnonzero(term == TERM_MOVED)
        if len(moved):
            hh = apps["hh"].to_numpy()[moved]
            states = [cat.areas[a].state for a in apps["area"].to_numpy()[moved]]
            new_c = []
            for s in states:
                options = [ci for ci, c in enumerate(ref.COUNTIES) if c.state != s]
                new_c.append(options[int(rng.integers(len(options)))])
            self.pop.cur_county[hh] = np.array(new_c)
            self._record_hh_version(
                hh, term_day[moved] - rng.integers(1, 10, len(moved)), new_address_for=np.arange(len(moved))
            )

        # local moves and name changes (snapshot history only)
        active_hh = apps["hh"].to_numpy()[
            apps["effectuated"].to_numpy() & (term == TERM_NONE) & (change_kind == 0)
        ]
        local = active_hh[rng.random(len(active_hh)) < 0.12]
        if len(local):
            self._record_hh_version(
                local,
                rng.integers(jan1 + 20, dec31 - 20, len(local)),
                new_address_for=np.arange(len(local)),
                same_county=True,
            )
        adults = am["person"].to_numpy()[(ages_on(self.dob_all[am["person"].to_numpy()], jan1) >= 20)]
        renamed = adults[rng.random(len(adults)) < 0.012]
        if len(renamed):
            last_pool = np.array(self.names.last, dtype=object)
            self.pop.nv_person.append(renamed)
            self.pop.nv_day.append(rng.integers(jan1 + 10, dec31 - 10, len(renamed)))
            self.pop.nv_last.append(last_pool[rng.integers(0, len(last_pool), len(renamed))])

        # deaths (not the subscriber) in stable households
        stable = apps["effectuated"].to_numpy() & (term == TERM_NONE) & (change_kind == 0)
        am_stable = am[np.isin(am["app"].to_numpy(), apps["app"].to_numpy()[stable])]
        dep = am_stable[self.rel_all[am_stable["person"].to_numpy()] != REL_SELF]
        age_dep = ages_on(self.dob_all[dep["person"].to_numpy()], jan1)
        dies = rng.random(len(dep)) < np.where(age_dep > 50, 0.006, 0.0008)
        app_start = apps.set_index("app")["coverage_start"]
        dead = dep[dies].copy()
        death_day = np.maximum(
            app_start.loc[dead["app"]].to_numpy() + 10,
            rng.integers(jan1 + 30, date(year, 10, 31).toordinal(), len(dead)),
        )
        am["death_day"] = -1
        am.loc[dead.index, "death_day"] = death_day
        am["member_end"] = -1
        am.loc[dead.index, "member_end"] = month_end(cal.month_index(death_day))
        am["member_term_sec"] = -1
        am.loc[dead.index, "member_term_sec"] = day_seconds(death_day + rng.integers(3, 20, len(dead)), rng)
        am = am[~((am["death_day"] >= 0) & (am["member_end"] < app_start.loc[am["app"]].to_numpy()))]

        # births in stable households with a woman of child-bearing age
        births = self._births(rng, year, apps[stable], am)
        apps = pd.concat([apps, births[0]], ignore_index=True)
        am = pd.concat([am, births[1]], ignore_index=True)
        apps["app_seq"] = np.arange(1, len(apps) + 1)

        self.apps.append(apps)
        self.app_members.append(am)

        # 7. who continues into next year: effectuated, never terminated, still alive
        cont_apps = apps[
            apps["effectuated"].to_numpy().astype(bool) & (apps["term_reason"] == TERM_NONE).to_numpy()
        ]
        cm = am[np.isin(am["app"].to_numpy(), cont_apps["app"].to_numpy()) & (am["death_day"] < 0)]
        plan_map = pd.Series(cont_apps["new_plan_row"].to_numpy(), index=cont_apps["app"].to_numpy())
        prod_map = pd.Series(cont_apps["new_product"].to_numpy(), index=cont_apps["app"].to_numpy())
        self.continuing = pd.DataFrame(
            {
                "hh": cm["hh"].to_numpy(),
                "person": cm["person"].to_numpy(),
                "plan_row": plan_map.loc[cm["app"]].to_numpy(),
                "product": prod_map.loc[cm["app"]].to_numpy(),
            }
        ).drop_duplicates(["hh", "person"])

    def _births(
        self, rng: np.random.Generator, year: int, stable_apps: pd.DataFrame, am: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        jan1 = date(year, 1, 1).toordinal()
        mothers = am[np.isin(am["app"].to_numpy(), stable_apps["app"].to_numpy())]
        person = mothers["person"].to_numpy()
        age = ages_on(self.dob_all[person], jan1)
        candidates = mothers[
            (self.gender_all[person] == 0)
            & (age >= 18)
            & (age <= 42)
            & np.isin(self.rel_all[person], [REL_SELF, REL_SPOUSE])
        ]
        candidates = candidates.drop_duplicates("app")
        born = candidates[rng.random(len(candidates)) < 0.03]
        if born.empty:
            return pd.DataFrame(), pd.DataFrame()
        sa = stable_apps.set_index("app").loc[born["app"].to_numpy()].reset_index()
        n = len(sa)
        birth_day = np.maximum(
            sa["coverage_start"].to_numpy() + 20, rng.integers(jan1 + 20, date(year, 10, 20).toordinal(), n)
        )
        birth_day = np.minimum(birth_day, date(year, 10, 31).toordinal())
        # new people
        p = self.pop
        p0 = p.n_people
        hh = sa["hh"].to_numpy()
        gender = (rng.random(n) < 0.5).astype(np.int64)
        fem = np.array(self.names.female, dtype=object)
        mal = np.array(self.names.male, dtype=object)
        first = np.where(gender == 0, fem[rng.integers(0, len(fem), n)], mal[rng.integers(0, len(mal), n)])
        sub = self.subscriber_all[hh]
        last = self._current_last_name(sub)
        p.hh.append(hh), p.rel.append(np.full(n, REL_CHILD)), p.dob.append(birth_day), p.gender.append(gender)
        p.first_name.append(first), p.last_name.append(last), p.email.append(np.full(n, "", dtype=object))
        p.phone.append(np.full(n, "", dtype=object)), p.tobacco.append(np.zeros(n, bool))
        p.language.append(np.zeros(n, np.int64)), p.chronic.append(np.zeros(n, np.int64))
        p.suffix.append(p.hh_next_suffix[hh].copy())
        p.hh_next_suffix[hh] += 1
        p.n_people += n
        self._refresh_person_cache()
        submitted = birth_day + rng.integers(2, 25, n)
        start = month_start(self.cal.month_index(birth_day) + 1)
        apps = pd.DataFrame(
            {
                "hh": hh,
                "period": SEP,
                "sep_reason": len(ref.SEP_REASONS),
                "submitted_day": submitted,
                "coverage_start": start,
                "plan_row": sa["new_plan_row"].to_numpy(),
                "product": sa["new_product"].to_numpy(),
                "renewal": False,
            }
        )
        n_apps = len(apps)
        apps["app"] = np.arange(self.n_apps, self.n_apps + n_apps)
        self.n_apps += n_apps
        apps["plan_year"] = year
        for col in ("off_exchange", "aian", "fpl", "area", "subscriber"):
            apps[col] = sa[col].to_numpy()
        apps["submitted_sec"] = day_seconds(submitted, rng)
        apps["selected_sec"] = apps["submitted_sec"] + rng.integers(120, 3600, n_apps)
        apps["effectuated"] = True
        apps["binder_day"] = -1
        apps["eff_sec"] = apps["selected_sec"] + rng.integers(1, 4, n_apps) * DAY
        for col, val in (
            ("term_reason", TERM_NONE),
            ("term_sec", -1),
            ("last_paid_month", 10**6),
            ("cancelled", False),
            ("change_kind", 0),
            ("change_sec", -1),
            ("change_start", -1),
        ):
            apps[col] = val
        apps["coverage_end"] = date(year, 12, 31).toordinal()
        apps["perceived_end"] = apps["coverage_end"]
        apps["new_plan_row"] = apps["plan_row"]
        apps["new_product"] = apps["product"]
        apps["new_fpl"] = apps["fpl"]
        apps["new_area"] = apps["area"]
        members = pd.DataFrame({"hh": hh, "person": np.arange(p0, p0 + n), "app": apps["app"].to_numpy()})
        # the baby's premium; its APTC is what the household's APTC grows by (capped at its premium)
        cat = self.cat
        prem = np.round(cat.premium_cents[apps["plan_row"].to_numpy()] * ref.AGE_CURVE[0]).astype(np.int64)
        slcsp = np.array([cat.slcsp_cents[(year, int(a))] for a in apps["area"].to_numpy()])
        had_aptc = am.groupby("app")["aptc"].sum().reindex(sa["app"].to_numpy()).fillna(0).to_numpy() > 0
        aptc = np.where(had_aptc, np.minimum(prem, np.round(slcsp * ref.AGE_CURVE[0]).astype(np.int64)), 0)
        members["premium"], members["aptc"] = prem, aptc
        members["premium2"], members["aptc2"] = prem, aptc
        members["death_day"], members["member_end"], members["member_term_sec"] = -1, -1, -1
        return apps, members

    def _current_last_name(self, persons: np.ndarray) -> np.ndarray:
        last = self.last_all[persons].copy()
        if self.pop.nv_person:
            nv_p = np.concatenate(self.pop.nv_person)
            nv_l = np.concatenate(self.pop.nv_last)
            latest = pd.Series(nv_l, index=nv_p)
            latest = latest[~latest.index.duplicated(keep="last")]
            hit = np.isin(persons, latest.index.to_numpy())
            last[hit] = latest.loc[persons[hit]].to_numpy()
        return last

    def _new_apps_frame(
        self,
        rng: np.random.Generator,
        year: int,
        hh: np.ndarray,
        submitted: np.ndarray,
        start: np.ndarray,
        period: int,
        reason: np.ndarray,
    ) -> pd.DataFrame:
        sub = self.subscriber_all[hh]
        sub_age = ages_on(self.dob_all[sub], start)
        sizes = np.bincount(self.hh_all, minlength=self.pop.n_households)[hh]
        plan_row = self._choose_plans(
            rng, year, self.pop.cur_county[hh], self.pop.cur_fpl[hh], self.aian_all[hh], sub_age, sizes == 1
        )
        return pd.DataFrame(
            {
                "hh": hh,
                "period": period,
                "sep_reason": reason,
                "submitted_day": submitted,
                "coverage_start": start,
                "plan_row": plan_row,
                "product": self.cat.product[plan_row],
                "renewal": False,
            }
        )

    def _household_members(self, hh: np.ndarray) -> pd.DataFrame:
        sel = np.isin(self.hh_all, hh)
        return pd.DataFrame({"hh": self.hh_all[sel], "person": np.flatnonzero(sel)})

    def _record_hh_version(
        self,
        hh: np.ndarray,
        day: np.ndarray,
        new_address_for: np.ndarray | None = None,
        same_county: bool = False,
    ) -> None:
        p = self.pop
        county = p.cur_county[hh].copy()
        fpl = p.cur_fpl[hh].copy()
        latest = self._latest_hh_version(hh)
        zips, cities, addresses = latest["zip"].copy(), latest["city"].copy(), latest["address"].copy()
        if new_address_for is not None and len(new_address_for):
            rng = stream(self.seed, STREAM_IDENTITY, 10_000 + len(p.hv_hh))
            z, c, a = self._addresses(rng, county[new_address_for])
            zips[new_address_for], cities[new_address_for], addresses[new_address_for] = z, c, a
        p.hv_hh.append(hh), p.hv_day.append(np.asarray(day)), p.hv_county.append(county)
        p.hv_city.append(cities), p.hv_zip.append(zips), p.hv_address.append(addresses), p.hv_fpl.append(fpl)

    def _latest_hh_version(self, hh: np.ndarray) -> dict[str, np.ndarray]:
        p = self.pop
        h = np.concatenate(p.hv_hh)
        order = np.arange(len(h))
        s = pd.DataFrame({"hh": h, "o": order}).drop_duplicates("hh", keep="last").set_index("hh")["o"]
        idx = s.loc[hh].to_numpy()
        return {
            "zip": np.concatenate(p.hv_zip)[idx],
            "city": np.concatenate(p.hv_city)[idx],
            "address": np.concatenate(p.hv_address)[idx],
        }

    def _refresh_person_cache(self) -> None:
        p = self.pop
        self.hh_all = p.col("hh").astype(np.int64)
        self.rel_all = p.col("rel").astype(np.int64)
        self.dob_all = p.col("dob").astype(np.int64)
        self.gender_all = p.col("gender").astype(np.int64)
        self.tobacco_all = p.col("tobacco").astype(bool)
        self.last_all = p.col("last_name")
        self.subscriber_all = p.col("hh_subscriber").astype(np.int64)
        self.off_all = p.col("hh_off_exchange").astype(bool)
        self.aian_all = p.col("hh_aian").astype(bool)

    def run(self, last_year: int) -> None:
        """Simulate every plan year from the first to last_year."""
        for year in range(self.first_year, last_year + 1):
            self.simulate_year(year)
