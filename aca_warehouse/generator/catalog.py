"""The plan catalog (HIOS plan variants per plan year), the claims system's product crosswalk and the provider pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.timeline import (
    STREAM_CATALOG,
    STREAM_PROVIDER_MONTH,
    STREAM_PROVIDERS,
    stream,
)

DISCONTINUED_COMPONENT = (
    5  # "Silver Choice" of the first issuer's largest rating area ends after the first year
)
REPLACEMENT_COMPONENT = 4
LATE_SETUP_DAY = 8  # the late issuer's new plan-year crosswalk rows start on the 8th of January


@dataclass(frozen=True)
class RatingArea:
    state: str
    rating_area: int
    factor: float
    county_indices: tuple[int, ...]


def rating_areas(seed: int) -> list[RatingArea]:
    """The rating areas of the service area, each with a price factor."""
    rng = stream(seed, STREAM_CATALOG, 0)
    keys: dict[tuple[str, int], list[int]] = {}
    for i, c in enumerate(ref.COUNTIES):
        keys.setdefault((c.state, c.rating_area), []).append(i)
    factors = rng.uniform(0.9, 1.2, size=len(keys))
    return [
        RatingArea(s, ra, float(f), tuple(ix)) for ((s, ra), ix), f in zip(keys.items(), factors, strict=True)
    ]


@dataclass
class PlanCatalog:
    """All plan variants of plan years first_year..last_year, as parallel arrays (one entry per row)."""

    first_year: int
    last_year: int
    year: np.ndarray
    issuer: np.ndarray  # index into ref.ISSUERS
    area: np.ndarray  # index into areas
    component: np.ndarray  # component code
    variant: np.ndarray  # '01'..'06'
    tier: np.ndarray  # metal tier text
    plan_type: np.ndarray
    premium_cents: np.ndarray
    deductible: np.ndarray  # dollars
    moop: np.ndarray
    coinsurance: np.ndarray
    hios: np.ndarray  # text
    plan_name: np.ndarray
    product: np.ndarray  # index into products (the variant's own product)
    areas: list[RatingArea]
    lookup: dict[tuple[int, int, int, int, str], int] = field(default_factory=dict)
    slcsp_cents: dict[tuple[int, int], int] = field(default_factory=dict)  # (year, area) -> benchmark
    product_keys: list[tuple[int, int, int, str]] = field(
        default_factory=list
    )  # (issuer, area, comp, variant)

    def row(self, year: int, issuer: int, area: int, component: int, variant: str) -> int:
        """The plan row of a plan variant in a year, following the discontinued plan to its replacement."""
        key = (year, issuer, area, component, variant)
        if key in self.lookup:
            return self.lookup[key]
        return self.lookup[(year, issuer, area, REPLACEMENT_COMPONENT, variant)]

    def is_discontinued(self, year: int, issuer: int, area: int, component: int) -> bool:
        return (year, issuer, area, component, "01") not in self.lookup

    @property
    def n_products(self) -> int:
        return len(self.product_keys)


def _discontinued_area(areas: list[RatingArea]) -> int:
    """The first issuer's rating area with the most population weight."""
    state = ref.ISSUERS[0].state
    best = max(
        (a for a in areas if a.state == state),
        key=lambda a: sum(ref.COUNTIES[i].weight for i in a.county_indices),
    )
    return areas.index(best)


def build_plan_catalog(seed: int, first_year: int, last_year: int) -> PlanCatalog:
    """Plans of every issuer, rating area, component and CSR variant for the plan years asked."""
    areas = rating_areas(seed)
    disc_area = _discontinued_area(areas)
    base_keys: list[tuple[int, int, int]] = []  # (issuer, area, component): the standard components
    for ii, iss in enumerate(ref.ISSUERS):
        for ai, a in enumerate(areas):
            if a.state != iss.state:
                continue
            for comp in ref.COMPONENTS:
                base_keys.append((ii, ai, comp.code))
    comp_by_code = {c.code: c for c in ref.COMPONENTS}
    # Premium of each standard component in the first year, then a trend per later year.
    rng0 = stream(seed, STREAM_CATALOG, 1)
    noise = rng0.uniform(0.96, 1.05, size=len(base_keys))
    premium = (
        np.array(
            [
                comp_by_code[c].base_premium_age21
                * ref.STATE_PRICE_FACTOR[areas[a].state]
                * areas[a].factor
                * ref.ISSUERS[i].price_factor
                * ref.PLAN_TYPE_FACTOR[
                    ref.ISSUERS[i].plan_types[comp_by_code[c].type_slot % len(ref.ISSUERS[i].plan_types)]
                ]
                for i, a, c in base_keys
            ]
        )
        * noise
    )
    product_keys: list[tuple[int, int, int, str]] = []
    for i, a, c in base_keys:
        for v in comp_by_code[c].variants:
            product_keys.append((i, a, c, v))
    product_index = {k: n for n, k in enumerate(product_keys)}

    cols: dict[str, list] = {
        k: []
        for k in (
            "year",
            "issuer",
            "area",
            "component",
            "variant",
            "tier",
            "plan_type",
            "premium_cents",
            "deductible",
            "moop",
            "coinsurance",
            "hios",
            "plan_name",
            "product",
        )
    }
    lookup: dict[tuple[int, int, int, int, str], int] = {}
    premium_by_year = premium.copy()
    for year in range(first_year, last_year + 1):
        if year > first_year:
            lo, hi = ref.premium_trend_range(year)
            premium_by_year = premium_by_year * stream(seed, STREAM_CATALOG, 100 + year).uniform(
                lo, hi, len(base_keys)
            )
        max_oop = ref.max_out_of_pocket(year)
        for k, (i, a, c) in enumerate(base_keys):
            if year > first_year and i == 0 and a == disc_area and c == DISCONTINUED_COMPONENT:
                continue
            comp = comp_by_code[c]
            iss = ref.ISSUERS[i]
            ptype = iss.plan_types[comp.type_slot % len(iss.plan_types)]
            prem = int(round(premium_by_year[k] * 100))
            for v in comp.variants:
                if comp.tier == "Catastrophic":
                    ded, moop, coins = max_oop, max_oop, 0
                elif v == "02":
                    ded, moop, coins = 0, 0, 0
                elif comp.tier == "Silver" and v in ref.CSR_SILVER_DESIGN:
                    ded, moop, coins = ref.CSR_SILVER_DESIGN[v]
                else:
                    ded, moop, coins = comp.deductible, comp.moop, comp.coinsurance_pct
                moop = min(moop, max_oop)
                ded = min(ded, moop)
                type_digit = {"HMO": 0, "PPO": 1, "EPO": 2, "POS": 3}[ptype]
                hios = f"{iss.issuer_id}{iss.state}{type_digit}{areas[a].rating_area:02d}{c:04d}-{v}"
                name = (
                    f"Harborview {comp.label} {ded if comp.tier != 'Catastrophic' else ''} {ptype}".replace(
                        "  ", " "
                    )
                )
                name = name.replace(" 0 ", " $0 Deductible ") + ref.CSR_NAMES[v]
                lookup[(year, i, a, c, v)] = len(cols["year"])
                for key, val in (
                    ("year", year),
                    ("issuer", i),
                    ("area", a),
                    ("component", c),
                    ("variant", v),
                    ("tier", comp.tier),
                    ("plan_type", ptype),
                    ("premium_cents", prem),
                    ("deductible", ded),
                    ("moop", moop),
                    ("coinsurance", coins),
                    ("hios", hios),
                    ("plan_name", name),
                    ("product", product_index[(i, a, c, v)]),
                ):
                    cols[key].append(val)
    cat = PlanCatalog(
        first_year=first_year,
        last_year=last_year,
        **{k: np.array(v) for k, v in cols.items()},  # type: ignore[arg-type]
        areas=areas,
        lookup=lookup,
        product_keys=product_keys,
    )
    # Benchmark: second-lowest-cost silver (standard variant) premium per rating area and year.
    for year in range(first_year, last_year + 1):
        for a in range(len(areas)):
            sel = (cat.year == year) & (cat.area == a) & (cat.tier == "Silver") & (cat.variant == "01")
            prices = np.sort(cat.premium_cents[sel])
            cat.slcsp_cents[(year, a)] = int(prices[1] if len(prices) > 1 else prices[0])
    return cat


# --------------------------------------------------------------------------------------------
# Product crosswalk
# --------------------------------------------------------------------------------------------


def product_id(index: int | np.ndarray) -> str | np.ndarray:
    """The claims system's product key of a product index."""
    if isinstance(index, np.ndarray):
        return np.array([f"PRD-{20001 + int(i):05d}" for i in index])
    return f"PRD-{20001 + int(index):05d}"


def crosswalk_as_of(cat: PlanCatalog, snapshot: date) -> list[tuple[str, str, str, date, date | None]]:
    """Crosswalk rows (product_id, hios_plan_id, product_name, effective, termination) known on a date.

    A plan year's mapping is known from 1 October of the year before.  A product follows its plan
    variant from year to year; a discontinued variant's product is remapped to the replacement plan;
    the late issuer's new plan-year rows start on 8 January, leaving the first week unmapped.
    """
    known_last = min(cat.last_year, snapshot.year + (1 if snapshot.month >= 10 else 0))
    rows: list[tuple[str, str, str, date, date | None]] = []
    for p, (i, a, c, v) in enumerate(cat.product_keys):
        slices: list[list] = []  # [hios, start, end]
        for year in range(cat.first_year, known_last + 1):
            key = (year, i, a, c, v)
            if key in cat.lookup:
                hios = cat.hios[cat.lookup[key]]
            elif (year, i, a, REPLACEMENT_COMPONENT, v) in cat.lookup:
                hios = cat.hios[cat.lookup[(year, i, a, REPLACEMENT_COMPONENT, v)]]
            else:
                continue
            late = ref.ISSUERS[i].late_new_year_setup and year > cat.first_year
            start = date(year, 1, LATE_SETUP_DAY if late else 1)
            if slices and slices[-1][0] == hios and not late:
                slices[-1][2] = date(year, 12, 31)
            else:
                if slices:
                    slices[-1][2] = date(year - 1, 12, 31)
                slices.append([hios, start, date(year, 12, 31)])
        if not slices:
            continue
        slices[-1][2] = None  # the newest slice is open-ended
        i_state = ref.ISSUERS[i].state
        comp = next(x for x in ref.COMPONENTS if x.code == c)
        name = f"HV {i_state} {comp.label} RA{cat.areas[a].rating_area:02d} {v}"
        for hios, start, end in slices:
            rows.append((product_id(p), str(hios), name, start, end))
    return rows


def plans_as_of(cat: PlanCatalog, snapshot: date) -> np.ndarray:
    """Row indices of the plan catalog published on a date (next year's plans appear from October)."""
    known_last = min(cat.last_year, snapshot.year + (1 if snapshot.month >= 10 else 0))
    return np.flatnonzero(cat.year <= known_last)


# --------------------------------------------------------------------------------------------
# Providers
# --------------------------------------------------------------------------------------------


def luhn_check_digit(payload: str) -> int:
    """Luhn check digit of a digit string (doubling from the rightmost payload digit)."""
    total = 0
    for pos, ch in enumerate(reversed(payload)):
        d = int(ch)
        if pos % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_from_body(body: str) -> str:
    """A 10-digit NPI from its first 9 digits (check digit over the 80840 prefix)."""
    return body + str(luhn_check_digit("80840" + body))


@dataclass
class ProviderPool:
    """Providers in join order with their attribute history (network status and address)."""

    npi: list[str]
    name: list[str]
    specialty: np.ndarray  # index into ref.SPECIALTIES
    county: np.ndarray  # index into ref.COUNTIES (home county, may change)
    joined_day: np.ndarray  # ordinal; providers present from the start have the first day
    # history: (provider, effective day, county, zip, city, network)
    history_provider: np.ndarray
    history_day: np.ndarray
    history_county: np.ndarray
    history_zip: np.ndarray
    history_city: np.ndarray
    history_network: np.ndarray

    @property
    def state(self) -> np.ndarray:
        return np.array([ref.COUNTIES[c].state for c in self.county])


def _new_providers(
    rng: np.random.Generator,
    n: int,
    taken: set[str],
    names: NamePools,
    spec: np.ndarray | None = None,
    county: np.ndarray | None = None,
) -> dict:
    weights = np.array([s.weight for s in ref.SPECIALTIES])
    if spec is None:
        spec = rng.choice(len(ref.SPECIALTIES), size=n, p=weights / weights.sum())
    cw = np.array([c.weight for c in ref.COUNTIES])
    if county is None:
        county = rng.choice(len(ref.COUNTIES), size=n, p=cw / cw.sum())
    npis: list[str] = []
    out_names: list[str] = []
    for k in range(n):
        s = ref.SPECIALTIES[spec[k]]
        while True:
            body = str(s.entity_type) + f"{int(rng.integers(0, 10**8)):08d}"
            npi = npi_from_body(body)
            if npi not in taken:
                taken.add(npi)
                break
        npis.append(npi)
        c = ref.COUNTIES[county[k]]
        last = names.last[int(rng.integers(len(names.last)))]
        if s.entity_type == 1:
            female = rng.random() < 0.5
            pool = names.female if female else names.male
            first = pool[int(rng.integers(len(pool)))]
            cred = ref.CREDENTIALS.get(s.name, "MD" if rng.random() < 0.85 else "DO")
            out_names.append(f"{first} {last}, {cred}")
        else:
            patterns = ref.ORG_NAME_PATTERNS[s.role]
            pat = patterns[int(rng.integers(len(patterns)))]
            last2 = names.last[int(rng.integers(len(names.last)))]
            city = c.places[0][0]
            out_names.append(pat.format(city=city, last=last, last2=last2, num=int(rng.integers(100, 9999))))
    return {"npi": npis, "name": out_names, "specialty": spec, "county": county}


def _place(rng: np.random.Generator, counties: np.ndarray) -> tuple[list[str], list[str]]:
    zips, cities = [], []
    for c in counties.tolist():
        places = ref.COUNTIES[c].places
        city, zs = places[int(rng.integers(len(places)))]
        cities.append(city)
        zips.append(zs[int(rng.integers(len(zs)))])
    return zips, cities


def build_provider_pool(
    seed: int, members: int, first_day: int, months: list[int], month_first_days: list[int], names: NamePools
) -> ProviderPool:
    """The initial provider pool plus monthly joiners, network changes and moves for the months given."""
    rng = stream(seed, STREAM_PROVIDERS, 0)
    n0 = max(90, members // 25)
    taken: set[str] = set()
    base = _new_providers(rng, n0, taken, names)
    # every role is present in every state so that each claim finds a provider nearby
    have = {
        (ref.SPECIALTIES[s].role, ref.COUNTIES[c].state)
        for s, c in zip(base["specialty"], base["county"], strict=True)
    }
    for si, spec in enumerate(ref.SPECIALTIES):
        for state in ref.STATES:
            if (spec.role, state) in have:
                continue
            have.add((spec.role, state))
            county_options = [ci for ci, c in enumerate(ref.COUNTIES) if c.state == state]
            extra = _new_providers(rng, 1, taken, names, np.array([si]), np.array([county_options[0]]))
            for k in ("npi", "name"):
                base[k] = base[k] + extra[k]
            base["specialty"] = np.concatenate([base["specialty"], extra["specialty"]])
            base["county"] = np.concatenate([base["county"], extra["county"]])
    n0 = len(base["npi"])
    npi, name = list(base["npi"]), list(base["name"])
    spec, county = [base["specialty"]], [base["county"]]
    joined = [np.full(n0, first_day)]
    zips, cities = _place(rng, base["county"])
    network = rng.random(n0) < 0.9
    h_p = [np.arange(n0)]
    h_d = [np.full(n0, first_day)]
    h_c = [base["county"]]
    h_z = [np.array(zips, dtype=object)]
    h_ci = [np.array(cities, dtype=object)]
    h_n = [network]
    cur_county = base["county"].copy()
    cur_network = network.copy()
    cur_zip = np.array(zips, dtype=object)
    cur_city = np.array(cities, dtype=object)
    count = n0
    for m, m_first in zip(months, month_first_days, strict=True):
        r = stream(seed, STREAM_PROVIDER_MONTH, m)
        k = int(r.poisson(n0 * 0.008))
        if k:
            new = _new_providers(r, k, taken, names)
            npi += new["npi"]
            name += new["name"]
            spec.append(new["specialty"])
            county.append(new["county"])
            day = m_first + r.integers(0, 28, size=k)
            joined.append(day)
            z, ci = _place(r, new["county"])
            net = r.random(k) < 0.9
            idx = np.arange(count, count + k)
            h_p.append(idx), h_d.append(day), h_c.append(new["county"])
            h_z.append(np.array(z, dtype=object)), h_ci.append(np.array(ci, dtype=object)), h_n.append(net)
            cur_county = np.concatenate([cur_county, new["county"]])
            cur_network = np.concatenate([cur_network, net])
            cur_zip = np.concatenate([cur_zip, np.array(z, dtype=object)])
            cur_city = np.concatenate([cur_city, np.array(ci, dtype=object)])
            count += k
        flips = np.flatnonzero(r.random(count) < 0.006)
        moves = np.flatnonzero(r.random(count) < 0.004)
        changed = np.union1d(flips, moves)
        if len(changed):
            cur_network[flips] = ~cur_network[flips]
            for p in moves.tolist():
                places = ref.COUNTIES[cur_county[p]].places
                city, zs = places[int(r.integers(len(places)))]
                cur_city[p], cur_zip[p] = city, zs[int(r.integers(len(zs)))]
            day = m_first + r.integers(0, 28, size=len(changed))
            h_p.append(changed), h_d.append(day), h_c.append(cur_county[changed])
            h_z.append(cur_zip[changed].copy()), h_ci.append(cur_city[changed].copy())
            h_n.append(cur_network[changed].copy())
    return ProviderPool(
        npi=npi,
        name=name,
        specialty=np.concatenate(spec),
        county=np.concatenate(county),
        joined_day=np.concatenate(joined),
        history_provider=np.concatenate(h_p),
        history_day=np.concatenate(h_d),
        history_county=np.concatenate(h_c),
        history_zip=np.concatenate(h_z),
        history_city=np.concatenate(h_ci),
        history_network=np.concatenate(h_n),
    )


@dataclass
class NamePools:
    """Identity vocabularies drawn once from faker (seeded): names, streets, e-mail domains."""

    female: list[str]
    male: list[str]
    last: list[str]
    street: list[str]
    domain: list[str]


def build_name_pools(seed: int) -> NamePools:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    female = sorted({fake.first_name_female() for _ in range(1500)})
    male = sorted({fake.first_name_male() for _ in range(1500)})
    last = sorted({fake.last_name() for _ in range(3000)})
    street = sorted({fake.street_name() for _ in range(2500)})
    domain = sorted({fake.free_email_domain() for _ in range(50)})
    return NamePools(female, male, last, street, domain)
