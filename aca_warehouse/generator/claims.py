"""Claims: encounters drawn per service month from the members' coverage, expanded into priced claim lines and versions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.catalog import PlanCatalog, ProviderPool
from aca_warehouse.generator.timeline import STREAM_CLAIMS, Calendar, month_end, month_start, stream

PROF, INST, PHARM = 0, 1, 2
CLAIM_TYPES = np.array(["PROFESSIONAL", "INSTITUTIONAL", "PHARMACY"], dtype="S13")
PAID, DENIED, REVERSED = 0, 1, 2
CLAIM_STATUSES = np.array(["PAID", "DENIED", "REVERSED"], dtype="S8")


@dataclass(frozen=True)
class Template:
    """An encounter type: claim type, place of service, providers, diagnosis source and line slots."""

    name: str
    claim_type: int
    pos: str
    billing_role: str
    rendering_role: str | None
    self_billed: float  # share where the rendering provider bills for itself (no rendering NPI)
    rendering_share: float  # share of claims that carry a rendering NPI
    dx: str
    rate: float  # encounters per member-month at utilisation 1.0
    slots: tuple[tuple[float, tuple[tuple[str, float], ...]], ...]


def _s(*pairs: tuple[str, float]) -> tuple[tuple[str, float], ...]:
    return pairs


TEMPLATES: tuple[Template, ...] = (
    Template(
        "office",
        PROF,
        "11",
        "group",
        "pcp",
        0.4,
        1.0,
        "mixed",
        0.20,
        (
            (1.0, _s(("99213", 0.5), ("99214", 0.33), ("99212", 0.12), ("99215", 0.05))),
            (
                0.18,
                _s(
                    ("36415", 1.0),
                ),
            ),
            (0.12, _s(("80053", 0.4), ("85025", 0.3), ("83036", 0.3))),
            (0.06, _s(("87880", 0.5), ("81002", 0.5))),
            (
                0.04,
                _s(
                    ("96372", 1.0),
                ),
            ),
        ),
    ),
    Template(
        "preventive",
        PROF,
        "11",
        "group",
        "pcp",
        0.4,
        1.0,
        "preventive",
        0.032,
        (
            (
                1.0,
                _s(
                    ("PREVENTIVE", 1.0),
                ),
            ),
            (
                0.35,
                _s(
                    ("90471", 1.0),
                ),
            ),
            (0.3, _s(("90686", 0.8), ("90715", 0.2))),
            (
                0.25,
                _s(
                    ("36415", 1.0),
                ),
            ),
            (
                0.25,
                _s(
                    ("80061", 1.0),
                ),
            ),
        ),
    ),
    Template(
        "telehealth",
        PROF,
        "10",
        "group",
        "pcp",
        0.5,
        1.0,
        "mixed",
        0.035,
        ((1.0, _s(("99213", 0.6), ("99214", 0.4))),),
    ),
    Template(
        "specialist",
        PROF,
        "11",
        "group",
        "specialist",
        0.5,
        1.0,
        "mixed",
        0.07,
        (
            (1.0, _s(("99203", 0.3), ("99204", 0.2), ("99213", 0.3), ("99214", 0.2))),
            (0.2, _s(("93000", 0.5), ("20610", 0.25), ("11102", 0.25))),
            (
                0.1,
                _s(
                    ("17110", 1.0),
                ),
            ),
        ),
    ),
    Template(
        "behavioral",
        PROF,
        "11",
        "group",
        "behavioral",
        0.6,
        1.0,
        "behavioral",
        0.02,
        ((1.0, _s(("90834", 0.5), ("90837", 0.35), ("90791", 0.15))),),
    ),
    Template(
        "therapy",
        PROF,
        "11",
        "group",
        "therapy",
        0.7,
        1.0,
        "therapy",
        0.018,
        (
            (
                1.0,
                _s(
                    ("97110", 1.0),
                ),
            ),
            (
                0.8,
                _s(
                    ("97140", 1.0),
                ),
            ),
            (0.5, _s(("97530", 0.7), ("97161", 0.3))),
        ),
    ),
    Template(
        "lab",
        PROF,
        "81",
        "lab",
        None,
        0.0,
        0.0,
        "mixed",
        0.06,
        (
            (1.0, _s(("80053", 0.3), ("85025", 0.25), ("80061", 0.2), ("83036", 0.15), ("84443", 0.1))),
            (0.5, _s(("85025", 0.5), ("82947", 0.5))),
            (0.3, _s(("87635", 0.5), ("84443", 0.5))),
        ),
    ),
    Template(
        "urgent",
        PROF,
        "20",
        "urgent_care",
        "pcp",
        0.0,
        0.7,
        "acute",
        0.022,
        (
            (1.0, _s(("99213", 0.5), ("99214", 0.5))),
            (0.4, _s(("87880", 0.5), ("87804", 0.5))),
            (0.15, _s(("73030", 0.5), ("71046", 0.5))),
        ),
    ),
    Template(
        "er",
        INST,
        "23",
        "hospital",
        "emergency",
        0.0,
        0.7,
        "acute",
        0.013,
        (
            (1.0, _s(("99283", 0.3), ("99284", 0.45), ("99285", 0.25))),
            (
                0.7,
                _s(
                    ("36415", 1.0),
                ),
            ),
            (
                0.6,
                _s(
                    ("80053", 1.0),
                ),
            ),
            (
                0.5,
                _s(
                    ("85025", 1.0),
                ),
            ),
            (
                0.3,
                _s(
                    ("71046", 1.0),
                ),
            ),
            (0.2, _s(("70450", 0.5), ("74177", 0.5))),
            (
                0.25,
                _s(
                    ("96372", 1.0),
                ),
            ),
            (0.2, _s(("J1885", 0.5), ("J0696", 0.5))),
        ),
    ),
    Template(
        "surgery",
        INST,
        "24",
        "asc",
        "surgeon",
        0.0,
        1.0,
        "procedure",
        0.0055,
        (
            (1.0, _s(("45378", 0.35), ("43239", 0.2), ("29881", 0.15), ("66984", 0.15), ("47562", 0.15))),
            (
                0.6,
                _s(
                    ("36415", 1.0),
                ),
            ),
            (
                0.4,
                _s(
                    ("85025", 1.0),
                ),
            ),
        ),
    ),
    Template(
        "imaging",
        INST,
        "11",
        "imaging_center",
        "radiology",
        0.0,
        0.5,
        "procedure",
        0.011,
        ((1.0, _s(("72148", 0.25), ("74177", 0.2), ("77067", 0.3), ("76700", 0.15), ("93306", 0.1))),),
    ),
    Template(
        "inpatient",
        INST,
        "21",
        "hospital",
        "pcp",
        0.0,
        0.8,
        "procedure",
        0.0022,
        (
            (
                1.0,
                _s(
                    ("99223", 1.0),
                ),
            ),
            (
                1.0,
                _s(
                    ("99232", 1.0),
                ),
            ),
            (
                1.0,
                _s(
                    ("99238", 1.0),
                ),
            ),
            (0.45, _s(("27447", 0.4), ("47562", 0.3), ("59400", 0.3))),
        ),
    ),
)
RX_ACUTE_RATE = 0.07
RX_CHRONIC_FILL = 0.82
UTILISATION_SCALE = 0.85

TEMPLATE_NAMES = np.array([t.name for t in TEMPLATES] + ["rx"])
TEMPLATE_POS = np.array([t.pos for t in TEMPLATES] + [ref.PLACE_OF_SERVICE["pharmacy"]], dtype="S2")
PROC_CODES = pd.Index(list(ref.PROCEDURES))
PROC_ALLOWED = np.array([p.allowed for p in ref.PROCEDURES.values()] + [0.0])
PROC_SHARE = np.array([p.share_class for p in ref.PROCEDURES.values()] + [""], dtype=object)
DRUG_KEYS = list(ref.DRUGS)
DRUG_INDEX = {k: i for i, k in enumerate(DRUG_KEYS)}
DRUG_COST = np.array([d.unit_cost for d in ref.DRUGS.values()])
DRUG_QTY = np.array([d.quantity for d in ref.DRUGS.values()], dtype=np.int64)
DRUG_SHARE = np.array([d.share_class for d in ref.DRUGS.values()], dtype=object)
COPAY_CLASS_INDEX = pd.Index(list(ref.COPAY_CLASSES))

PROCEDURE_DX = {
    "45378": ("Z12.11", "K57.30"),
    "43239": ("K21.9",),
    "29881": ("M23.221",),
    "66984": ("H25.11",),
    "47562": ("K80.20",),
    "72148": ("M54.50",),
    "74177": ("R10.9",),
    "77067": ("Z12.31",),
    "76700": ("R10.9",),
    "93306": ("I10", "R07.9"),
    "27447": ("M17.11",),
    "59400": ("O80",),
}
INPATIENT_MEDICAL_DX = ("J18.9", "I50.9", "N39.0", "A41.9")
THERAPY_DX = ("M54.50", "M25.561", "S93.401A")


def _preventive_code(age: np.ndarray, new_patient: np.ndarray) -> np.ndarray:
    """Preventive E&M code by age band (new or established patient)."""
    est = np.select(
        [age < 1, age < 5, age < 12, age < 18, age < 40],
        ["99391", "99392", "99393", "99394", "99395"],
        "99396",
    )
    new = np.select([age < 18, age < 40], ["99393", "99385"], "99386")
    return np.where(new_patient, new, est)


class ProviderPicker:
    """Random providers of a role in a state, among those that joined before a month."""

    def __init__(self, pool: ProviderPool, cal: Calendar) -> None:
        self.pool = pool
        roles = np.array([ref.SPECIALTIES[s].role for s in pool.specialty])
        states = pool.state
        self.by_key: dict[tuple[str, str], np.ndarray] = {}
        for role in np.unique(roles):
            for st in ref.STATES:
                self.by_key[(str(role), st)] = np.flatnonzero((roles == role) & (states == st))
        self.joined = pool.joined_day

    def pick(
        self, rng: np.random.Generator, role: str, state_idx: np.ndarray, first_day_of_month: int
    ) -> np.ndarray:
        out = np.empty(len(state_idx), dtype=np.int64)
        for si, st in enumerate(ref.STATES):
            sel = np.flatnonzero(state_idx == si)
            if not len(sel):
                continue
            cands = self.by_key.get((role, st), np.zeros(0, np.int64))
            avail = cands[self.joined[cands] < first_day_of_month]
            if not len(avail):
                avail = cands[:1]
            out[sel] = avail[rng.integers(0, len(avail), len(sel))]
        return out


def _weighted_pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    codes = np.array([o[0] for o in options], dtype=object)
    w = np.array([o[1] for o in options])
    return codes[rng.choice(len(codes), size=n, p=w / w.sum())]


class ClaimsSimulator:
    """Generates claim lines month by month of service."""

    def __init__(
        self,
        seed: int,
        cat: PlanCatalog,
        cal: Calendar,
        providers: ProviderPool,
        dob: np.ndarray,
        gender: np.ndarray,
        chronic: np.ndarray,
    ) -> None:
        self.seed, self.cat, self.cal = seed, cat, cal
        self.picker = ProviderPicker(providers, cal)
        self.dob, self.gender, self.chronic = dob, gender, chronic
        self.state_of_area = np.array([ref.STATE_INDEX[a.state] for a in cat.areas])
        self.area_factor = np.array([a.factor for a in cat.areas])
        first = pd.DataFrame(
            {"p": providers.history_provider, "n": providers.history_network}
        ).drop_duplicates("p")
        net = np.ones(len(providers.npi), dtype=bool)
        net[first["p"].to_numpy()] = first["n"].to_numpy().astype(bool)
        self.provider_in_network = net  # network status when the provider joined
        self.plan_copay = np.array(
            [
                [(-1 if c is None else c) for c in ref.copays(t, v)]
                for t, v in zip(cat.tier, cat.variant, strict=True)
            ],
            dtype=np.int64,
        )
        self.plan_utilisation = np.array(
            [
                ref.TIER_UTILIZATION[t] * ref.CSR_UTILIZATION[v]
                for t, v in zip(cat.tier, cat.variant, strict=True)
            ]
        )

    def month(self, m: int, seg: pd.DataFrame) -> pd.DataFrame:
        """Claim lines (all versions) for services in month index m."""
        rng = stream(self.seed, STREAM_CLAIMS, m)
        m_first, m_last = int(month_start(m)), int(month_end(m))
        s = seg[(seg["start"].to_numpy() <= m_last) & (seg["perceived_end"].to_numpy() >= m_first)]
        if s.empty:
            return pd.DataFrame()
        lo = np.maximum(s["start"].to_numpy(), m_first)
        hi = np.minimum(s["perceived_end"].to_numpy(), m_last)
        frac = (hi - lo + 1) / (m_last - m_first + 1)
        person = s["person"].to_numpy()
        age = ((m_first - self.dob[person]) / 365.2425).astype(np.int64)
        female = self.gender[person] == 0
        plan_row = s["plan_row"].to_numpy()
        mult = (0.42 + 0.58 * ref.age_factor(age)) * np.where(female & (age >= 18) & (age < 50), 1.2, 1.0)
        mult = mult * self.plan_utilisation[plan_row] * np.where(age < 3, 1.8, 1.0)
        chronic = self.chronic[person]
        n_chronic = np.zeros(len(s))
        for b in range(len(ref.CHRONIC_CONDITIONS)):
            n_chronic += (chronic >> b) & 1
        mult = mult * (1 + 0.25 * n_chronic) * UTILISATION_SCALE

        enc_seg, enc_tpl, enc_drug = [], [], []
        for t, tpl in enumerate(TEMPLATES):
            rate = tpl.rate * mult * frac
            if tpl.name == "behavioral":
                rate = rate * np.where(((chronic >> 4) & 1) | ((chronic >> 5) & 1), 4.0, 0.6)
            if tpl.name == "preventive":
                rate = rate * np.where(age < 3, 4.0, 1.0)
            if tpl.name == "inpatient":
                rate = rate * np.where(age > 50, 1.6, 1.0)
            k = rng.poisson(rate)
            idx = np.repeat(np.arange(len(s)), k)
            enc_seg.append(idx), enc_tpl.append(np.full(len(idx), t)), enc_drug.append(np.full(len(idx), -1))
        # pharmacy: one fill a month per chronic condition (most months), plus acute prescriptions
        for b, cc in enumerate(ref.CHRONIC_CONDITIONS):
            has = np.flatnonzero((chronic >> b) & 1)
            if not len(has):
                continue
            fill = rng.random(len(has)) < RX_CHRONIC_FILL * frac[has]
            idx = has[fill]
            # each member stays on one drug of the condition (chosen from their person number)
            w = np.array([d[1] for d in cc.drugs])
            cum = np.cumsum(w / w.sum())
            pick = np.searchsorted(cum, ((person[idx] * 2654435761 + b) % 1000) / 1000.0, side="right")
            pick = np.minimum(pick, len(cc.drugs) - 1)
            drug = np.array([DRUG_INDEX[d[0]] for d in cc.drugs], dtype=np.int64)[pick]
            enc_seg.append(idx), enc_tpl.append(np.full(len(idx), -1 - b)), enc_drug.append(drug)
        k = rng.poisson(RX_ACUTE_RATE * mult * frac)
        idx = np.repeat(np.arange(len(s)), k)
        acute = _weighted_pick(rng, ref.ACUTE_DRUGS, len(idx))
        enc_seg.append(idx), enc_tpl.append(np.full(len(idx), -100))
        enc_drug.append(pd.Index(DRUG_KEYS).get_indexer(acute).astype(np.int64))
        e_seg = np.concatenate(enc_seg)
        e_tpl = np.concatenate(enc_tpl)
        e_drug = np.concatenate(enc_drug)
        n_enc = len(e_seg)
        if n_enc == 0:
            return pd.DataFrame()
        # service day uniform within the member's days of the month
        e_day = lo[e_seg] + (rng.random(n_enc) * (hi[e_seg] - lo[e_seg] + 1)).astype(np.int64)
        is_rx = e_tpl < 0
        e_type = np.where(is_rx, PHARM, np.array([t.claim_type for t in TEMPLATES])[np.maximum(e_tpl, 0)])
        e_person = person[e_seg]
        e_age = age[e_seg]
        seg_end = s["end"].to_numpy()[e_seg]
        eff_day = s["eff_day"].to_numpy()[e_seg]
        term_day = s["term_day"].to_numpy()[e_seg]
        outside = e_day > seg_end
        # a pharmacy rejects at the counter before effectuation and after a known termination
        drop = is_rx & ((e_day < eff_day) | (outside & (term_day >= 0) & (term_day <= e_day)))
        keep = ~drop
        e_seg, e_tpl, e_drug, e_day, e_type, e_person, e_age = (
            x[keep] for x in (e_seg, e_tpl, e_drug, e_day, e_type, e_person, e_age)
        )
        outside, eff_day, term_day, is_rx = outside[keep], eff_day[keep], term_day[keep], is_rx[keep]
        n_enc = len(e_seg)
        state_idx = self.state_of_area[self.cat.area[plan_row[e_seg]]]

        # providers
        billing = np.empty(n_enc, dtype=np.int64)
        rendering = np.full(n_enc, -1, dtype=np.int64)
        hospital_billed = np.zeros(n_enc, dtype=bool)
        for t, tpl in enumerate(TEMPLATES):
            sel = np.flatnonzero(e_tpl == t)
            if not len(sel):
                continue
            role = tpl.rendering_role
            if role == "pcp":
                kids = e_age[sel] < 18
                r = self.picker.pick(rng, "pcp", state_idx[sel], m_first)
                r_kid = self.picker.pick(rng, "pediatrics", state_idx[sel], m_first)
                r = np.where(kids & (rng.random(len(sel)) < 0.8), r_kid, r)
            elif role == "specialist":
                r = np.where(
                    rng.random(len(sel)) < 0.6,
                    self.picker.pick(rng, "specialist", state_idx[sel], m_first),
                    self.picker.pick(rng, "surgeon", state_idx[sel], m_first),
                )
            elif role is not None:
                r = self.picker.pick(rng, role, state_idx[sel], m_first)
            else:
                r = np.full(len(sel), -1)
            b = self.picker.pick(rng, tpl.billing_role, state_idx[sel], m_first)
            if tpl.name in ("surgery", "imaging"):
                to_hospital = rng.random(len(sel)) < (0.4 if tpl.name == "surgery" else 0.5)
                b = np.where(to_hospital, self.picker.pick(rng, "hospital", state_idx[sel], m_first), b)
                hospital_billed[sel] = to_hospital
            self_bill = rng.random(len(sel)) < tpl.self_billed
            billing[sel] = np.where(self_bill & (r >= 0), r, b)
            with_rendering = (~self_bill) & (rng.random(len(sel)) < tpl.rendering_share)
            rendering[sel] = np.where(with_rendering, r, -1)
        e_pos = TEMPLATE_POS[np.where(e_tpl >= 0, e_tpl, len(TEMPLATES))]
        e_pos = np.where(
            np.isin(e_tpl, [i for i, t in enumerate(TEMPLATES) if t.name in ("surgery", "imaging")])
            & hospital_billed,
            b"22",
            e_pos,
        )
        rx = np.flatnonzero(is_rx)
        billing[rx] = self.picker.pick(rng, "pharmacy", state_idx[rx], m_first)
        prescriber = self.picker.pick(rng, "pcp", state_idx[rx], m_first)
        rendering[rx] = np.where(rng.random(len(rx)) < 0.85, prescriber, -1)

        # lines
        line_enc, line_code, line_units = [], [], []
        for t, tpl in enumerate(TEMPLATES):
            sel = np.flatnonzero(e_tpl == t)
            if not len(sel):
                continue
            for p_inc, options in tpl.slots:
                inc = sel[rng.random(len(sel)) < p_inc]
                if not len(inc):
                    continue
                if options[0][0] == "PREVENTIVE":
                    codes = _preventive_code(e_age[inc], rng.random(len(inc)) < 0.15).astype(object)
                else:
                    codes = _weighted_pick(rng, options, len(inc))
                units = np.ones(len(inc), dtype=np.int64)
                if tpl.name == "therapy":
                    units = rng.integers(1, 5, len(inc))
                line_enc.append(inc), line_code.append(codes), line_units.append(units)
        line_enc.append(rx), line_code.append(np.full(len(rx), "", dtype=object))
        line_units.append(DRUG_QTY[e_drug[rx]])
        l_enc = np.concatenate(line_enc)
        l_code = np.concatenate(line_code)
        l_units = np.concatenate(line_units)
        order = np.lexsort((np.arange(len(l_enc)), l_enc))
        l_enc, l_code, l_units = l_enc[order], l_code[order], l_units[order]
        # de-duplicate a code repeated within one encounter (e.g. 85025 twice)
        dup = pd.DataFrame({"e": l_enc, "c": l_code}).duplicated().to_numpy()
        l_enc, l_code, l_units = l_enc[~dup], l_code[~dup], l_units[~dup]
        l_line = (pd.Series(l_enc).groupby(l_enc).cumcount() + 1).to_numpy()
        # diagnoses: procedures that imply their diagnosis, otherwise from the encounter type
        proc_dx = np.full(n_enc, None, dtype=object)
        hit = np.flatnonzero(np.isin(l_code, list(PROCEDURE_DX)))
        if len(hit):
            firsts = pd.DataFrame({"e": l_enc[hit], "c": l_code[hit]}).drop_duplicates("e", keep="last")
            choice = rng.random(len(firsts))
            proc_dx[firsts["e"].to_numpy()] = [
                PROCEDURE_DX[c][int(u * len(PROCEDURE_DX[c]))]
                for c, u in zip(firsts["c"], choice, strict=True)
            ]
        e_tname = TEMPLATE_NAMES[np.where(e_tpl >= 0, e_tpl, len(TEMPLATES))]
        inpatient = e_tname == "inpatient"
        no_proc = inpatient & np.array([x is None for x in proc_dx])
        proc_dx[no_proc] = np.array(INPATIENT_MEDICAL_DX, dtype=object)[
            rng.integers(0, len(INPATIENT_MEDICAL_DX), int(no_proc.sum()))
        ]
        dx = self._diagnoses(rng, e_tpl, e_drug, e_person, e_age, proc_dx)
        # inpatient stays: length of stay, subsequent-day visits
        los = np.where(inpatient, rng.integers(1, 6, n_enc), 0)
        l_units = np.where(l_code == "99232", np.maximum(los[l_enc] - 1, 1), l_units)

        # prices
        n_lines = len(l_enc)
        l_is_rx = is_rx[l_enc]
        proc_idx = PROC_CODES.get_indexer(l_code)
        proc_allowed = PROC_ALLOWED[proc_idx]
        share = PROC_SHARE[proc_idx]
        drug = np.where(l_is_rx, e_drug[l_enc], 0)
        rx_cost = DRUG_COST[drug] * l_units + 1.75
        rx_share = DRUG_SHARE[drug]
        area_f = self.area_factor[self.cat.area[plan_row[e_seg[l_enc]]]]
        facility = np.where(
            (e_type[l_enc] == INST) & (l_code != "99223") & (l_code != "99232") & (l_code != "99238"),
            2.3,
            1.0,
        )
        in_net = self.provider_in_network[billing[l_enc]]
        noise = rng.lognormal(0, 0.12, n_lines)
        allowed = np.where(
            l_is_rx,
            rx_cost * rng.lognormal(0, 0.05, n_lines),
            proc_allowed * l_units * area_f * facility * noise * np.where(in_net, 1.0, 0.85),
        )
        allowed_c = np.maximum(np.round(allowed * 100).astype(np.int64), 100)
        markup = np.where(
            l_is_rx,
            rng.uniform(1.05, 1.6, n_lines),
            np.where(e_type[l_enc] == INST, rng.uniform(2.0, 4.5, n_lines), rng.uniform(1.4, 2.6, n_lines)),
        )
        markup = np.where(in_net, markup, markup * 1.3)
        billed_c = np.round(allowed_c * markup / 100).astype(np.int64) * 100  # charges are whole dollars
        billed_c = np.maximum(billed_c, allowed_c)
        share = np.where(l_is_rx, rx_share, share)
        tname = e_tname[l_enc]
        first_line = l_line == 1
        share = np.where(first_line & (tname == "urgent"), "urgent", share)
        share = np.where(
            first_line & (tname == "specialist") & np.isin(l_code, ["99213", "99214"]), "specialist", share
        )
        pr = plan_row[e_seg[l_enc]]
        month_of_year = m % 12 + 1
        copay_c, coins_c, ded_c = self._cost_share(rng, pr, share, allowed_c, month_of_year)
        paid_c = allowed_c - copay_c - coins_c - ded_c
        # a second set of amounts for adjustments and rebills
        allowed2_c = np.maximum(np.round(allowed_c * rng.uniform(0.8, 1.2, n_lines)).astype(np.int64), 100)
        allowed2_c = np.minimum(allowed2_c, billed_c)
        copay2_c = np.minimum(copay_c, allowed2_c)
        ded2_c = np.minimum(ded_c, allowed2_c - copay2_c)
        coins2_c = np.minimum(
            np.round(coins_c * allowed2_c / np.maximum(allowed_c, 1)).astype(np.int64),
            allowed2_c - copay2_c - ded2_c,
        )
        paid2_c = allowed2_c - copay2_c - coins2_c - ded2_c

        # adjudication timeline (per encounter)
        los_days = los
        svc_to = e_day + los_days
        lag_r = np.where(
            e_type == PHARM,
            0,
            np.where(e_type == INST, 2 + rng.gamma(2.0, 6.0, n_enc), 1 + rng.gamma(1.6, 4.0, n_enc)),
        ).astype(np.int64)
        received = svc_to + lag_r
        lag_a = np.where(e_type == PHARM, 0, 1 + rng.gamma(1.3, 4.0, n_enc)).astype(np.int64)
        adjudicated = received + lag_a
        pend = (e_type != PHARM) & (adjudicated <= eff_day)
        adjudicated = np.where(pend, eff_day + 1 + rng.integers(0, 4, n_enc), adjudicated)
        denied_after_term = outside & (e_type != PHARM)
        adjudicated = np.where(
            denied_after_term & (term_day >= 0),
            np.maximum(adjudicated, term_day + 1 + rng.integers(0, 10, n_enc)),
            adjudicated,
        )
        # claim status and later versions (claim level)
        p_deny = np.select([e_type == PROF, e_type == INST], [0.05, 0.08], 0.015)
        deny = (rng.random(n_enc) < p_deny) & ~outside
        deny_code = _weighted_pick(rng, ref.DENIAL_CODES, n_enc)
        deny_code = np.where(denied_after_term, ref.DENIAL_AFTER_TERMINATION, np.where(deny, deny_code, ""))
        status1 = np.where(deny | denied_after_term, DENIED, PAID)
        u = rng.random(n_enc)
        rx_grace_reversal = is_rx & outside
        adjust = (status1 == PAID) & (u < 0.03) & ~rx_grace_reversal
        reverse = (status1 == PAID) & (u >= 0.03) & (u < 0.042) & ~rx_grace_reversal
        rebill = reverse & (rng.random(n_enc) < 0.5)
        appeal = (status1 == DENIED) & ~denied_after_term & (rng.random(n_enc) < 0.12)
        adj2 = adjudicated + np.select(
            [adjust, reverse, appeal],
            [rng.integers(7, 61, n_enc), rng.integers(5, 61, n_enc), rng.integers(15, 61, n_enc)],
            1,
        )
        adj2 = np.where(
            rx_grace_reversal, np.maximum(adjudicated + 1, term_day + 1 + rng.integers(0, 5, n_enc)), adj2
        )
        adj3 = adj2 + rng.integers(1, 21, n_enc)
        has_v2 = adjust | reverse | appeal | (rx_grace_reversal & (term_day >= 0))
        # line-level bundling denials on extra professional lines
        line_deny97 = (
            (~first_line) & (e_type[l_enc] == PROF) & (rng.random(n_lines) < 0.03) & (status1[l_enc] == PAID)
        )

        base = pd.DataFrame(
            {
                "enc": l_enc,
                "line": l_line,
                "code": l_code,
                "units": l_units,
                "billed": billed_c,
                "allowed": allowed_c,
                "paid": paid_c,
                "copay": copay_c,
                "coins": coins_c,
                "ded": ded_c,
                "allowed2": allowed2_c,
                "paid2": paid2_c,
                "copay2": copay2_c,
                "coins2": coins2_c,
                "ded2": ded2_c,
                "deny97": line_deny97,
            }
        )
        enc = pd.DataFrame(
            {
                "seq": np.arange(n_enc),
                "type": e_type,
                "person": e_person,
                "seg": e_seg,
                "from": e_day,
                "to": svc_to,
                "received": received,
                "adj1": adjudicated,
                "adj2": adj2,
                "adj3": adj3,
                "status1": status1,
                "deny_code": deny_code,
                "adjust": adjust,
                "reverse": reverse,
                "rebill": rebill,
                "appeal": appeal,
                "has_v2": has_v2,
                "billing": billing,
                "rendering": rendering,
                "dx": dx,
                "drug": e_drug,
                "outside": outside,
                "pos": e_pos,
            }
        )
        enc["product"] = s["product"].to_numpy()[e_seg]
        enc["claim_id"] = ((m // 12 % 100) * 100 + m % 12 + 1) * 10_000_000 + np.arange(
            n_enc
        )  # CLM + yymm + 7 digits
        return self._versions(base, enc)

    def _versions(self, base: pd.DataFrame, enc: pd.DataFrame) -> pd.DataFrame:
        """Explode claim lines into their versions: v1, then an adjustment/reversal/appeal, then a rebill."""
        e = enc.iloc[base["enc"].to_numpy()].reset_index(drop=True)
        rows = []
        zero = np.zeros(len(base), dtype=np.int64)
        # version 1
        st1 = np.where(base["deny97"].to_numpy(), DENIED, e["status1"].to_numpy())
        code1 = np.where(base["deny97"].to_numpy(), "CO-97", e["deny_code"].to_numpy())
        paid1 = st1 == PAID
        rows.append(
            self._frame(
                base,
                e,
                1,
                st1,
                e["adj1"].to_numpy(),
                code1,
                np.where(paid1, base["allowed"], zero),
                np.where(paid1, base["paid"], zero),
                np.where(paid1, base["copay"], zero),
                np.where(paid1, base["coins"], zero),
                np.where(paid1, base["ded"], zero),
                base["billed"].to_numpy(),
            )
        )
        # version 2
        v2 = e["has_v2"].to_numpy()
        reverse = (e["reverse"].to_numpy() | (e["type"].to_numpy() == PHARM) & e["outside"].to_numpy()) & v2
        adjust = e["adjust"].to_numpy() & v2
        appeal = e["appeal"].to_numpy() & v2
        keep97 = base["deny97"].to_numpy() & ~reverse
        st2 = np.where(reverse, REVERSED, np.where(keep97, DENIED, PAID))
        code2 = np.where(keep97, "CO-97", "")
        use2 = adjust & ~keep97
        use1 = appeal & ~keep97
        allowed = np.where(use2, base["allowed2"], np.where(use1, base["allowed"], 0))
        paid = np.where(use2, base["paid2"], np.where(use1, base["paid"], 0))
        copay = np.where(use2, base["copay2"], np.where(use1, base["copay"], 0))
        coins = np.where(use2, base["coins2"], np.where(use1, base["coins"], 0))
        ded = np.where(use2, base["ded2"], np.where(use1, base["ded"], 0))
        billed = np.where(reverse, 0, base["billed"])
        f2 = self._frame(
            base, e, 2, st2, e["adj2"].to_numpy(), code2, allowed, paid, copay, coins, ded, billed
        )
        rows.append(f2[v2])
        # version 3: rebill after a reversal
        v3 = e["rebill"].to_numpy() & v2
        st3 = np.where(base["deny97"].to_numpy(), DENIED, PAID)
        code3 = np.where(base["deny97"].to_numpy(), "CO-97", "")
        ok = st3 == PAID
        f3 = self._frame(
            base,
            e,
            3,
            st3,
            e["adj3"].to_numpy(),
            code3,
            np.where(ok, base["allowed2"], 0),
            np.where(ok, base["paid2"], 0),
            np.where(ok, base["copay2"], 0),
            np.where(ok, base["coins2"], 0),
            np.where(ok, base["ded2"], 0),
            base["billed"].to_numpy(),
        )
        rows.append(f3[v3])
        return pd.concat(rows, ignore_index=True)

    @staticmethod
    def _frame(
        base: pd.DataFrame,
        e: pd.DataFrame,
        version: int,
        status: np.ndarray,
        adjudicated: np.ndarray,
        deny_code: np.ndarray,
        allowed: np.ndarray,
        paid: np.ndarray,
        copay: np.ndarray,
        coins: np.ndarray,
        ded: np.ndarray,
        billed: np.ndarray,
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "claim_id": e["claim_id"].to_numpy(),
                "line": base["line"].to_numpy(),
                "version": version,
                "type": e["type"].to_numpy(),
                "status": status,
                "person": e["person"].to_numpy(),
                "product": e["product"].to_numpy(),
                "billing": e["billing"].to_numpy(),
                "rendering": e["rendering"].to_numpy(),
                "from": e["from"].to_numpy(),
                "to": e["to"].to_numpy(),
                "received": e["received"].to_numpy(),
                "adjudicated": adjudicated,
                "code": base["code"].to_numpy(),
                "drug": e["drug"].to_numpy(),
                "dx": e["dx"].to_numpy(),
                "pos": e["pos"].to_numpy(),
                "units": base["units"].to_numpy(),
                "billed": np.asarray(billed, dtype=np.int64),
                "allowed": np.asarray(allowed, dtype=np.int64),
                "paid": np.asarray(paid, dtype=np.int64),
                "copay": np.asarray(copay, dtype=np.int64),
                "coins": np.asarray(coins, dtype=np.int64),
                "ded": np.asarray(ded, dtype=np.int64),
                "deny_code": deny_code,
            }
        )

    def _cost_share(
        self,
        rng: np.random.Generator,
        plan_row: np.ndarray,
        share: np.ndarray,
        allowed_c: np.ndarray,
        month_of_year: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copay, coinsurance and deductible (cents) of each line under its plan's design."""
        cat = self.cat
        n = len(plan_row)
        tier = cat.tier[plan_row]
        variant = cat.variant[plan_row]
        cls = COPAY_CLASS_INDEX.get_indexer(share)
        copay_dollars = np.where(cls >= 0, self.plan_copay[plan_row, np.maximum(cls, 0)], -1)
        ded_d = cat.deductible[plan_row].astype(np.int64)
        coins_pct = cat.coinsurance[plan_row].astype(np.int64)
        preventive = share == "preventive"
        with_copay = (copay_dollars >= 0) & ~preventive
        copay_c = np.where(with_copay, np.minimum(copay_dollars * 100, allowed_c), 0)
        p_unmet = np.where(
            tier == "Catastrophic", 0.97, ded_d / (ded_d + 1800.0) * (1 - 0.75 * (month_of_year - 1) / 12.0)
        )
        unmet = (rng.random(n) < p_unmet) & ~with_copay & ~preventive & (ded_d > 0)
        ded_c = np.where(
            unmet,
            np.minimum(allowed_c, np.round(rng.uniform(0.25, 1.0, n) * ded_d * 100).astype(np.int64)),
            0,
        )
        rest = allowed_c - ded_c
        coins_c = np.where(with_copay | preventive, 0, np.round(rest * coins_pct / 100.0).astype(np.int64))
        zero_cs = variant == "02"
        return (np.where(zero_cs, 0, copay_c), np.where(zero_cs, 0, coins_c), np.where(zero_cs, 0, ded_c))

    def _diagnoses(
        self,
        rng: np.random.Generator,
        e_tpl: np.ndarray,
        e_drug: np.ndarray,
        person: np.ndarray,
        age: np.ndarray,
        proc_dx: np.ndarray,
    ) -> np.ndarray:
        """ICD-10-CM codes joined by `|`, principal first, then up to two of the member's chronic conditions."""
        n = len(e_tpl)
        chronic = self.chronic[person]
        n_cond = len(ref.CHRONIC_CONDITIONS)
        chronic_dx = [c.diagnosis for c in ref.CHRONIC_CONDITIONS]
        acute_codes = np.array([a[0] for a in ref.ACUTE_DIAGNOSES], dtype=object)
        wk = np.array([a[1] for a in ref.ACUTE_DIAGNOSES])
        wa = np.array([a[2] for a in ref.ACUTE_DIAGNOSES])
        acute = np.where(
            age < 18,
            acute_codes[rng.choice(len(wk), size=n, p=wk / wk.sum())],
            acute_codes[rng.choice(len(wa), size=n, p=wa / wa.sum())],
        )
        u = rng.random(n)
        n_extra = 1 + (rng.random(n) * 2).astype(np.int64)
        kind = np.array([t.dx for t in TEMPLATES] + ["rx_chronic", "rx_acute"], dtype=object)[
            np.where(e_tpl >= 0, e_tpl, np.where(e_tpl <= -100, len(TEMPLATES) + 1, len(TEMPLATES)))
        ]
        # the k-th of the member's chronic conditions, k drawn uniformly
        count = np.zeros(n, dtype=np.int64)
        for b in range(n_cond):
            count += (chronic >> b) & 1
        k = (u * np.maximum(count, 1)).astype(np.int64)
        kth = np.full(n, -1, dtype=np.int64)
        seen = np.zeros(n, dtype=np.int64)
        for b in range(n_cond):
            has = ((chronic >> b) & 1).astype(bool)
            kth = np.where(has & (seen == k) & (kth < 0), b, kth)
            seen += has
        chronic_pick = np.array(chronic_dx + [""], dtype=object)[kth]
        principal = acute.copy()
        principal = np.where((kind == "mixed") & (count > 0) & (u < 0.55), chronic_pick, principal)
        principal = np.where(
            kind == "preventive",
            np.where(age < 18, "Z00.129", np.where(u < 0.1, "Z00.01", "Z00.00")),
            principal,
        )
        has_dep = ((chronic >> 4) & 1).astype(bool)
        has_anx = ((chronic >> 5) & 1).astype(bool)
        principal = np.where(
            kind == "behavioral",
            np.where(has_dep, "F32.A", np.where(has_anx, "F41.1", np.where(u < 0.5, "F43.23", "F41.1"))),
            principal,
        )
        principal = np.where(
            kind == "therapy",
            np.array(THERAPY_DX, dtype=object)[(u * len(THERAPY_DX)).astype(int)],
            principal,
        )
        has_proc = np.array([x is not None for x in proc_dx])
        principal = np.where((kind == "procedure") & has_proc, proc_dx, principal)
        rx_chronic = kind == "rx_chronic"
        principal = np.where(
            rx_chronic, np.array(chronic_dx + [""], dtype=object)[np.clip(-1 - e_tpl, 0, n_cond)], principal
        )
        rx_acute = kind == "rx_acute"
        principal = np.where(rx_acute & np.isin(principal, ["M54.50", "E66.9"]), "J06.9", principal)
        # secondary codes: the member's chronic conditions other than the principal, in a fixed order
        mask = np.where(rx_chronic | rx_acute, 0, chronic)
        p_codes, p_uniques = pd.factorize(principal)
        x = np.where(mask > 0, n_extra, 0)
        combo = (p_codes.astype(np.int64) << 12) | (mask.astype(np.int64) << 2) | x
        uniques, codes = np.unique(combo, return_inverse=True)
        text = []
        for key in uniques.tolist():
            p, m, k = p_uniques[key >> 12], (key >> 2) & 0x3FF, key & 3
            others = [chronic_dx[b] for b in range(n_cond) if m >> b & 1 and chronic_dx[b] != p][:k]
            text.append("|".join([p, *others]))
        return np.array(text, dtype=object)[codes]
