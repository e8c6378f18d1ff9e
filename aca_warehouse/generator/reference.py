"""Reference data the generator draws from: geography, rating rules, plan designs and medical code lists.

Values are illustrative but shaped like the real ones: real county FIPS codes, ZIP codes and
area codes of the cities used, the federal default age-rating curve, NUCC taxonomy codes,
CPT/HCPCS and ICD-10-CM codes with plausible allowed amounts.  NDCs have the real 5-4-2
layout (11 digits) but are not claimed to identify the named drug.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# Geography: the counties the book of business lives in.  rating_area numbers are the state's
# rating area of the county (Florida rates by county, so its numbers follow county order).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class County:
    """One county of the service area with the cities and ZIP codes members live in."""

    state: str
    name: str
    fips: str
    rating_area: int
    weight: float
    area_codes: tuple[str, ...]
    places: tuple[tuple[str, tuple[str, ...]], ...]  # (city, zips)


COUNTIES: tuple[County, ...] = (
    County(
        "FL",
        "Miami-Dade",
        "12086",
        43,
        0.11,
        ("305", "786"),
        (("Miami", ("33125", "33130", "33135", "33145", "33155")), ("Hialeah", ("33010", "33012"))),
    ),
    County(
        "FL",
        "Broward",
        "12011",
        6,
        0.08,
        ("954", "754"),
        (("Fort Lauderdale", ("33301", "33304", "33311")), ("Pembroke Pines", ("33024", "33027"))),
    ),
    County(
        "FL", "Hillsborough", "12057", 29, 0.06, ("813",), (("Tampa", ("33602", "33603", "33610", "33612")),)
    ),
    County(
        "FL",
        "Orange",
        "12095",
        48,
        0.06,
        ("407", "321"),
        (("Orlando", ("32801", "32803", "32805", "32807")),),
    ),
    County(
        "FL", "Duval", "12031", 16, 0.04, ("904",), (("Jacksonville", ("32202", "32205", "32207", "32210")),)
    ),
    County(
        "TX",
        "Harris",
        "48201",
        10,
        0.12,
        ("713", "832", "281"),
        (("Houston", ("77002", "77004", "77006", "77008", "77019")), ("Pasadena", ("77502", "77506"))),
    ),
    County(
        "TX",
        "Dallas",
        "48113",
        9,
        0.09,
        ("214", "469", "972"),
        (("Dallas", ("75201", "75204", "75206", "75214")), ("Irving", ("75038", "75060"))),
    ),
    County(
        "TX", "Bexar", "48029", 22, 0.06, ("210",), (("San Antonio", ("78201", "78204", "78207", "78209")),)
    ),
    County(
        "TX", "Travis", "48453", 1, 0.05, ("512", "737"), (("Austin", ("78701", "78702", "78704", "78705")),)
    ),
    County(
        "GA",
        "Fulton",
        "13121",
        1,
        0.08,
        ("404", "678", "470"),
        (("Atlanta", ("30303", "30305", "30308", "30309", "30318")),),
    ),
    County(
        "GA", "Gwinnett", "13135", 1, 0.06, ("770", "678"), (("Lawrenceville", ("30043", "30044", "30046")),)
    ),
    County("GA", "Chatham", "13051", 8, 0.04, ("912",), (("Savannah", ("31401", "31404", "31405")),)),
    County("GA", "Richmond", "13245", 13, 0.03, ("706", "762"), (("Augusta", ("30901", "30904", "30906")),)),
    County("GA", "Bibb", "13021", 11, 0.02, ("478",), (("Macon", ("31201", "31204", "31206")),)),
)

STATES: tuple[str, ...] = ("FL", "TX", "GA")
STATE_INDEX = {s: i for i, s in enumerate(STATES)}


@dataclass(frozen=True)
class Issuer:
    """A HIOS issuer (one legal entity of the insurer in one state)."""

    issuer_id: str
    state: str
    name: str
    plan_types: tuple[str, ...]  # primary type first
    price_factor: float
    late_new_year_setup: bool  # the claims system sets its new plan-year products up late


ISSUERS: tuple[Issuer, ...] = (
    Issuer("31457", "FL", "Harborview Health Plans of Florida, Inc.", ("HMO", "EPO"), 0.97, False),
    Issuer("52816", "FL", "Harborview Insurance Company of Florida", ("PPO", "POS"), 1.06, True),
    Issuer("67294", "TX", "Harborview Health Plans of Texas, Inc.", ("HMO", "EPO", "PPO"), 1.0, False),
    Issuer("80653", "GA", "Harborview Health of Georgia, Inc.", ("HMO", "POS", "PPO"), 1.02, False),
)

STATE_PRICE_FACTOR = {"FL": 1.06, "TX": 0.98, "GA": 1.0}
PLAN_TYPE_FACTOR = {"HMO": 0.94, "EPO": 1.0, "POS": 1.04, "PPO": 1.12}

# --------------------------------------------------------------------------------------------
# Plan designs
# --------------------------------------------------------------------------------------------

METAL_TIERS: tuple[str, ...] = ("Catastrophic", "Expanded Bronze", "Bronze", "Silver", "Gold", "Platinum")


@dataclass(frozen=True)
class Component:
    """A standard plan component offered by every issuer in every rating area."""

    code: int
    tier: str
    label: str
    base_premium_age21: float  # plan year 2025, before state/area/issuer/type factors
    deductible: int
    moop: int  # capped at the plan year's maximum out-of-pocket
    coinsurance_pct: int
    type_slot: int  # which of the issuer's plan types it uses
    variants: tuple[str, ...]


COMPONENTS: tuple[Component, ...] = (
    Component(1, "Catastrophic", "Catastrophic Essential", 282.0, 99999, 99999, 0, 0, ("01",)),
    Component(2, "Expanded Bronze", "Bronze HSA Plus", 338.0, 7000, 8900, 50, 0, ("01", "02", "03")),
    Component(3, "Bronze", "Bronze Value", 371.0, 7500, 9100, 40, 1, ("01", "02", "03")),
    Component(4, "Silver", "Silver Select", 489.0, 5000, 8600, 30, 0, ("01", "02", "03", "04", "05", "06")),
    Component(5, "Silver", "Silver Choice", 517.0, 4250, 8200, 25, 1, ("01", "02", "03", "04", "05", "06")),
    Component(6, "Gold", "Gold Premier", 583.0, 1750, 7500, 20, 0, ("01", "02", "03")),
    Component(7, "Platinum", "Platinum Complete", 702.0, 250, 3800, 10, 1, ("01", "02", "03")),
)

CSR_NAMES = {
    "01": "",
    "02": " - Zero Cost Sharing AI/AN",
    "03": " - Limited Cost Sharing AI/AN",
    "04": " - 73% AV Silver",
    "05": " - 87% AV Silver",
    "06": " - 94% AV Silver",
}

# CSR silver variants: (deductible, moop, coinsurance) replacing the standard silver design.
CSR_SILVER_DESIGN = {"04": (3200, 7000, 20), "05": (700, 3000, 15), "06": (150, 1500, 10)}


def max_out_of_pocket(plan_year: int) -> int:
    """The plan year's individual out-of-pocket maximum (close to the published limits)."""
    known = {2024: 9450, 2025: 9200, 2026: 10600}
    if plan_year in known:
        return known[plan_year]
    return int(round(10600 * 1.05 ** (plan_year - 2026), -1))


def premium_trend_range(plan_year: int) -> tuple[float, float]:
    """Range of the per-plan rate change from the previous plan year."""
    return (1.12, 1.28) if plan_year == 2026 else (1.03, 1.09)


# Copays by cost-share class for each (tier, csr variant); None = deductible then coinsurance.
COPAY_CLASSES = ("pcp", "specialist", "urgent", "er", "rx_generic", "rx_brand")
_TIER_COPAYS: dict[str, tuple[int | None, ...]] = {
    "Catastrophic": (None, None, None, None, None, None),
    "Expanded Bronze": (60, 120, 100, None, 30, None),
    "Bronze": (50, 100, 90, None, 25, None),
    "Silver": (40, 80, 70, 450, 15, 60),
    "Gold": (25, 50, 45, 300, 10, 40),
    "Platinum": (10, 25, 25, 150, 5, 25),
}
_CSR_COPAYS: dict[str, tuple[int | None, ...]] = {
    "04": (30, 60, 50, 350, 10, 45),
    "05": (15, 30, 25, 150, 5, 25),
    "06": (5, 15, 10, 75, 3, 10),
}


def copays(tier: str, variant: str) -> tuple[int | None, ...]:
    """Copays (dollars) by COPAY_CLASSES for a tier and CSR variant."""
    if variant == "02":
        return (0, 0, 0, 0, 0, 0)
    if tier == "Silver" and variant in _CSR_COPAYS:
        return _CSR_COPAYS[variant]
    return _TIER_COPAYS[tier]


# Induced utilization by tier (richer plans are used more) and for CSR variants.
TIER_UTILIZATION = {
    "Catastrophic": 0.78,
    "Expanded Bronze": 0.86,
    "Bronze": 0.9,
    "Silver": 1.0,
    "Gold": 1.08,
    "Platinum": 1.16,
}
CSR_UTILIZATION = {"01": 1.0, "02": 1.12, "03": 1.0, "04": 1.0, "05": 1.08, "06": 1.12}

# --------------------------------------------------------------------------------------------
# Rating rules
# --------------------------------------------------------------------------------------------

# Federal default standard age curve (45 CFR 147.102), ages 0-64; 64 and older = 3.000.
_AGE_CURVE_15_TO_64 = (
    0.833,
    0.859,
    0.885,
    0.913,
    0.941,
    0.970,  # 15-20
    1.000,
    1.000,
    1.000,
    1.000,
    1.004,
    1.024,
    1.048,
    1.087,
    1.119,  # 21-29
    1.135,
    1.159,
    1.183,
    1.198,
    1.214,
    1.222,
    1.230,
    1.238,
    1.246,
    1.262,  # 30-39
    1.278,
    1.302,
    1.325,
    1.357,
    1.397,
    1.444,
    1.500,
    1.563,
    1.635,
    1.706,  # 40-49
    1.786,
    1.865,
    1.952,
    2.040,
    2.135,
    2.230,
    2.333,
    2.437,
    2.548,
    2.603,  # 50-59
    2.714,
    2.810,
    2.873,
    2.952,
    3.000,  # 60-64
)
AGE_CURVE = np.array([0.765] * 15 + list(_AGE_CURVE_15_TO_64) + [3.0] * 60)  # index = age, 0..124


def age_factor(ages: np.ndarray) -> np.ndarray:
    """Federal default age-rating factor for each age."""
    return AGE_CURVE[np.clip(ages, 0, len(AGE_CURVE) - 1)]


TOBACCO_FACTOR = 1.2  # applied from age 21
MAX_RATED_CHILDREN = 3  # only the 3 oldest children under 21 are charged


def poverty_guideline(plan_year: int, household_size: np.ndarray) -> np.ndarray:
    """Annual federal poverty guideline (48 states) used for the plan year's APTC."""
    base, step = {2024: (14580, 5140), 2025: (15060, 5380), 2026: (15650, 5500)}.get(
        plan_year, (15650 * 1.03 ** (plan_year - 2026), 5500 * 1.03 ** (plan_year - 2026))
    )
    return base + step * (np.maximum(household_size, 1) - 1)


def applicable_percentage(plan_year: int, fpl_pct: np.ndarray) -> np.ndarray:
    """Share of income expected toward the benchmark premium; NaN = no APTC at that income.

    Plan years up to 2025 use the enhanced (ARPA/IRA) table; from 2026 the original ACA table
    with its 400% FPL subsidy cliff returns.
    """
    x = np.asarray(fpl_pct, dtype=float)
    if plan_year <= 2025:
        knots = [100, 150, 200, 250, 300, 400, 10_000]
        rates = [0.0, 0.0, 0.02, 0.04, 0.06, 0.085, 0.085]
        return np.interp(x, knots, rates)
    knots = [100, 133, 150, 200, 250, 300, 400]
    rates = [0.021, 0.0314, 0.0419, 0.066, 0.0844, 0.0996, 0.0996]
    out = np.interp(x, knots, rates)
    return np.where(x > 400, np.nan, out)


# --------------------------------------------------------------------------------------------
# Enrollment vocabulary
# --------------------------------------------------------------------------------------------

SEP_REASONS = ("loss_of_coverage", "move", "marriage", "low_income", "other")
SEP_WEIGHTS = (0.52, 0.14, 0.08, 0.18, 0.08)
TERMINATION_REASONS = ("non_payment", "voluntary", "moved", "death", "other")
LANGUAGES = ("English", "Spanish", "Haitian Creole", "Vietnamese", "")
LANGUAGE_WEIGHTS = (0.70, 0.20, 0.03, 0.02, 0.05)

# --------------------------------------------------------------------------------------------
# Providers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Specialty:
    """A provider specialty with its NUCC taxonomy code and the claim roles it plays."""

    name: str
    taxonomy: str
    entity_type: int
    role: str
    weight: float


SPECIALTIES: tuple[Specialty, ...] = (
    Specialty("Family Medicine", "207Q00000X", 1, "pcp", 0.16),
    Specialty("Internal Medicine", "207R00000X", 1, "pcp", 0.12),
    Specialty("Pediatrics", "208000000X", 1, "pediatrics", 0.07),
    Specialty("Nurse Practitioner, Family", "363LF0000X", 1, "pcp", 0.06),
    Specialty("Obstetrics & Gynecology", "207V00000X", 1, "specialist", 0.04),
    Specialty("Cardiovascular Disease", "207RC0000X", 1, "specialist", 0.03),
    Specialty("Orthopaedic Surgery", "207X00000X", 1, "surgeon", 0.03),
    Specialty("Dermatology", "207N00000X", 1, "specialist", 0.025),
    Specialty("Gastroenterology", "207RG0100X", 1, "surgeon", 0.02),
    Specialty("Endocrinology, Diabetes & Metabolism", "207RE0101X", 1, "specialist", 0.015),
    Specialty("Ophthalmology", "207W00000X", 1, "surgeon", 0.015),
    Specialty("Surgery", "208600000X", 1, "surgeon", 0.02),
    Specialty("Psychiatry", "2084P0800X", 1, "behavioral", 0.03),
    Specialty("Psychologist", "103T00000X", 1, "behavioral", 0.03),
    Specialty("Physical Therapist", "225100000X", 1, "therapy", 0.04),
    Specialty("Emergency Medicine", "207P00000X", 1, "emergency", 0.04),
    Specialty("Diagnostic Radiology", "2085R0202X", 1, "radiology", 0.03),
    Specialty("General Acute Care Hospital", "282N00000X", 2, "hospital", 0.03),
    Specialty("Ambulatory Surgical", "261QA1903X", 2, "asc", 0.015),
    Specialty("Clinical Medical Laboratory", "291U00000X", 2, "lab", 0.015),
    Specialty("Urgent Care", "261QU0200X", 2, "urgent_care", 0.02),
    Specialty("Radiology Clinic/Center", "261QR0200X", 2, "imaging_center", 0.015),
    Specialty("Community/Retail Pharmacy", "3336C0003X", 2, "pharmacy", 0.09),
    Specialty("Multi-Specialty Group", "193200000X", 2, "group", 0.06),
    Specialty("Federally Qualified Health Center (FQHC)", "261QF0400X", 2, "group", 0.015),
)

ORG_NAME_PATTERNS = {
    "hospital": ("{city} General Hospital", "{last} Memorial Hospital", "{city} Regional Medical Center"),
    "asc": ("{city} Surgery Center", "{last} Ambulatory Surgery Center, LLC"),
    "lab": ("{city} Clinical Laboratories", "{last} Diagnostics, Inc."),
    "urgent_care": ("{city} Urgent Care", "{last} Walk-In Clinic"),
    "imaging_center": ("{city} Imaging Center", "{last} Radiology Associates, P.A."),
    "pharmacy": ("{last} Family Pharmacy", "{city} Community Pharmacy", "{last} Drugs #{num}"),
    "group": (
        "{last} & {last2} Medical Group, P.A.",
        "{city} Family Health Partners",
        '"{last}" Health Center',
    ),
}
CREDENTIALS = {"Nurse Practitioner, Family": "APRN", "Psychologist": "PhD", "Physical Therapist": "DPT"}

# --------------------------------------------------------------------------------------------
# Medical codes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Procedure:
    """A CPT/HCPCS code with a typical professional allowed amount and its cost-share class."""

    code: str
    allowed: float
    share_class: (
        str  # pcp, specialist, preventive, urgent, er, lab, imaging, surgery, inpatient, therapy, behavioral
    )


PROCEDURES: dict[str, Procedure] = {
    p.code: p
    for p in (
        Procedure("99212", 62.0, "pcp"),
        Procedure("99213", 96.0, "pcp"),
        Procedure("99214", 136.0, "pcp"),
        Procedure("99215", 188.0, "pcp"),
        Procedure("99203", 118.0, "specialist"),
        Procedure("99204", 178.0, "specialist"),
        Procedure("99385", 155.0, "preventive"),
        Procedure("99386", 172.0, "preventive"),
        Procedure("99395", 140.0, "preventive"),
        Procedure("99396", 152.0, "preventive"),
        Procedure("99391", 112.0, "preventive"),
        Procedure("99392", 120.0, "preventive"),
        Procedure("99393", 118.0, "preventive"),
        Procedure("99394", 128.0, "preventive"),
        Procedure("90471", 24.0, "preventive"),
        Procedure("90686", 22.0, "preventive"),
        Procedure("90715", 38.0, "preventive"),
        Procedure("77067", 142.0, "preventive"),
        Procedure("36415", 9.0, "lab"),
        Procedure("80053", 14.0, "lab"),
        Procedure("85025", 10.0, "lab"),
        Procedure("80061", 18.0, "lab"),
        Procedure("83036", 13.0, "lab"),
        Procedure("84443", 22.0, "lab"),
        Procedure("81002", 4.0, "lab"),
        Procedure("87880", 16.0, "lab"),
        Procedure("87804", 17.0, "lab"),
        Procedure("87635", 51.0, "lab"),
        Procedure("82947", 6.0, "lab"),
        Procedure("71046", 38.0, "imaging"),
        Procedure("73030", 34.0, "imaging"),
        Procedure("73562", 40.0, "imaging"),
        Procedure("72148", 265.0, "imaging"),
        Procedure("74177", 320.0, "imaging"),
        Procedure("70450", 145.0, "imaging"),
        Procedure("76700", 118.0, "imaging"),
        Procedure("93000", 18.0, "specialist"),
        Procedure("93306", 210.0, "imaging"),
        Procedure("99283", 82.0, "er"),
        Procedure("99284", 138.0, "er"),
        Procedure("99285", 201.0, "er"),
        Procedure("96372", 22.0, "specialist"),
        Procedure("J1885", 8.0, "specialist"),
        Procedure("J0696", 12.0, "specialist"),
        Procedure("20610", 68.0, "specialist"),
        Procedure("11102", 92.0, "specialist"),
        Procedure("17110", 105.0, "specialist"),
        Procedure("45378", 385.0, "surgery"),
        Procedure("43239", 340.0, "surgery"),
        Procedure("29881", 610.0, "surgery"),
        Procedure("66984", 640.0, "surgery"),
        Procedure("47562", 690.0, "surgery"),
        Procedure("27447", 1450.0, "surgery"),
        Procedure("59400", 2650.0, "inpatient"),
        Procedure("99223", 215.0, "inpatient"),
        Procedure("99232", 96.0, "inpatient"),
        Procedure("99238", 88.0, "inpatient"),
        Procedure("90834", 112.0, "behavioral"),
        Procedure("90837", 158.0, "behavioral"),
        Procedure("90791", 176.0, "behavioral"),
        Procedure("97110", 31.0, "therapy"),
        Procedure("97140", 29.0, "therapy"),
        Procedure("97530", 34.0, "therapy"),
        Procedure("97161", 98.0, "therapy"),
    )
}

ACUTE_DIAGNOSES: tuple[tuple[str, float, float], ...] = (
    # code, weight for children (<18), weight for adults
    ("J06.9", 0.20, 0.10),
    ("J02.9", 0.12, 0.05),
    ("H66.90", 0.14, 0.01),
    ("R05.9", 0.08, 0.05),
    ("M54.50", 0.0, 0.10),
    ("R10.9", 0.04, 0.05),
    ("N39.0", 0.01, 0.05),
    ("S93.401A", 0.04, 0.03),
    ("J20.9", 0.04, 0.05),
    ("R51.9", 0.02, 0.04),
    ("K52.9", 0.06, 0.03),
    ("L30.9", 0.06, 0.04),
    ("M25.561", 0.01, 0.05),
    ("R07.9", 0.0, 0.04),
    ("E66.9", 0.02, 0.04),
    ("B34.9", 0.10, 0.03),
    ("J01.90", 0.04, 0.06),
    ("R53.83", 0.02, 0.06),
)
PREVENTIVE_DIAGNOSES = {
    "child": "Z00.129",
    "adult": "Z00.00",
    "adult_abnormal": "Z00.01",
    "vaccine": "Z23",
    "mammo": "Z12.31",
    "colon": "Z12.11",
}


@dataclass(frozen=True)
class ChronicCondition:
    """A chronic condition: its ICD-10-CM code, prevalence by age and the drugs it is treated with."""

    name: str
    diagnosis: str
    prevalence_at_30: float
    prevalence_at_60: float
    drugs: tuple[tuple[str, float], ...]  # (drug key, weight)


CHRONIC_CONDITIONS: tuple[ChronicCondition, ...] = (
    ChronicCondition(
        "hypertension", "I10", 0.10, 0.45, (("lisinopril", 0.4), ("amlodipine", 0.35), ("losartan", 0.25))
    ),
    ChronicCondition("hyperlipidemia", "E78.5", 0.07, 0.38, (("atorvastatin", 0.7), ("rosuvastatin", 0.3))),
    ChronicCondition(
        "diabetes",
        "E11.9",
        0.04,
        0.17,
        (("metformin", 0.7), ("insulin_glargine", 0.15), ("semaglutide", 0.15)),
    ),
    ChronicCondition("hypothyroidism", "E03.9", 0.03, 0.09, (("levothyroxine", 1.0),)),
    ChronicCondition("depression", "F32.A", 0.09, 0.08, (("sertraline", 0.55), ("escitalopram", 0.45))),
    ChronicCondition("anxiety", "F41.1", 0.08, 0.06, (("escitalopram", 0.5), ("sertraline", 0.5))),
    ChronicCondition("asthma", "J45.909", 0.07, 0.06, (("albuterol", 0.6), ("montelukast", 0.4))),
    ChronicCondition("gerd", "K21.9", 0.04, 0.12, (("omeprazole", 1.0),)),
    ChronicCondition("rheumatoid_arthritis", "M06.9", 0.004, 0.012, (("adalimumab", 1.0),)),
)


@dataclass(frozen=True)
class Drug:
    """A dispensed drug: an 11-digit NDC, a unit cost and the usual 30-day quantity."""

    key: str
    ndc: str
    unit_cost: float
    quantity: int
    share_class: str  # rx_generic, rx_brand, rx_specialty


DRUGS: dict[str, Drug] = {
    d.key: d
    for d in (
        Drug("lisinopril", "68180051401", 0.08, 30, "rx_generic"),
        Drug("amlodipine", "00093716701", 0.09, 30, "rx_generic"),
        Drug("losartan", "00781570192", 0.15, 30, "rx_generic"),
        Drug("atorvastatin", "00378395277", 0.14, 30, "rx_generic"),
        Drug("rosuvastatin", "16714094301", 0.22, 30, "rx_generic"),
        Drug("metformin", "00093104801", 0.06, 60, "rx_generic"),
        Drug("insulin_glargine", "00088222033", 28.50, 10, "rx_brand"),
        Drug("semaglutide", "00169413212", 310.00, 3, "rx_brand"),
        Drug("levothyroxine", "00378180001", 0.21, 30, "rx_generic"),
        Drug("sertraline", "16729000101", 0.12, 30, "rx_generic"),
        Drug("escitalopram", "00093585101", 0.13, 30, "rx_generic"),
        Drug("albuterol", "00173068220", 3.10, 18, "rx_brand"),
        Drug("montelukast", "00006027531", 0.31, 30, "rx_generic"),
        Drug("omeprazole", "62175013637", 0.16, 30, "rx_generic"),
        Drug("adalimumab", "00074433902", 3250.00, 2, "rx_specialty"),
        Drug("amoxicillin", "00093310705", 0.18, 21, "rx_generic"),
        Drug("azithromycin", "00069306075", 1.05, 6, "rx_generic"),
        Drug("cephalexin", "00093314701", 0.22, 28, "rx_generic"),
        Drug("prednisone", "00054474825", 0.09, 10, "rx_generic"),
        Drug("ibuprofen", "00904585361", 0.05, 30, "rx_generic"),
    )
}
ACUTE_DRUGS: tuple[tuple[str, float], ...] = (
    ("amoxicillin", 0.35),
    ("azithromycin", 0.2),
    ("cephalexin", 0.15),
    ("prednisone", 0.15),
    ("ibuprofen", 0.15),
)

DENIAL_CODES: tuple[tuple[str, float], ...] = (
    ("CO-16", 0.28),
    ("CO-50", 0.16),
    ("CO-97", 0.14),
    ("CO-197", 0.12),
    ("CO-18", 0.12),
    ("CO-96", 0.1),
    ("CO-29", 0.08),
)
DENIAL_AFTER_TERMINATION = "CO-27"  # expenses incurred after coverage terminated

PLACE_OF_SERVICE = {
    "pharmacy": "01",
    "telehealth": "10",
    "office": "11",
    "home": "12",
    "urgent_care": "20",
    "inpatient": "21",
    "outpatient": "22",
    "emergency": "23",
    "asc": "24",
    "lab": "81",
}
