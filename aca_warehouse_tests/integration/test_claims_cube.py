"""marts.claims_cube against a brute-force Python cube, on hand-made core tables.

The cube counts distinct claims in all 32 grouping sets. It sums a 1 for claims counted in one
(plan, month, claim type, specialty) cell and counts distinct only the claims spread over
several cells. This runs the real models from the claim lines up (the per-cell pre-aggregates
int_claim_cells_touched, int_claims_by_cell and int_spread_claim_cells, plan_month for the member
months, then claims_cube) on a real warehouse whose core tables hold exactly the cases that split
matters for: lines of one claim in two specialties, in two months, under two plans of the same
tier and state, a reversed line beside a counted one, a reversed-only claim, a month after the
as-of date, an unknown plan, and a month with members but no claims.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ..conftest import WAREHOUSE_KINDS

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
D = date.fromisoformat
DIMENSIONS = ("month", "metal_tier", "state", "claim_type", "specialty")
BITS = (16, 8, 4, 2, 1)
KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]

PLANS = [  # hios_plan_id, plan_year, valid_from, valid_to, record_status, metal_tier, state
    ("P1", 2025, "2025-01-01", "9999-12-31", "active", "Gold", "TX"),
    ("P2", 2025, "2025-01-01", "9999-12-31", "active", "Gold", "TX"),  # same tier and state as P1
    ("P3", 2025, "2025-01-01", "9999-12-31", "active", "Silver", "FL"),
]
JAN, FEB, MAR, APR = D("2025-01-01"), D("2025-02-01"), D("2025-03-01"), D("2025-04-01")
AS_OF = MAR
LINES = [  # service_month, hios_plan_id, claim_type, specialty, claim_id, counted, paid
    (JAN, "P1", "PROFESSIONAL", "Family Medicine", "A", True, "10.00"),  # two lines, one cell
    (JAN, "P1", "PROFESSIONAL", "Family Medicine", "A", True, "5.25"),
    (JAN, "P1", "PROFESSIONAL", "Family Medicine", "B", True, "20.00"),  # two specialties
    (JAN, "P1", "PROFESSIONAL", "Cardiology", "B", True, "30.00"),
    (JAN, "P3", "PROFESSIONAL", "Cardiology", "C", True, "40.00"),  # two months
    (FEB, "P3", "PROFESSIONAL", "Cardiology", "C", True, "41.00"),
    (FEB, "P1", "INSTITUTIONAL", "Cardiology", "D", True, "50.00"),  # counted + reversed elsewhere
    (FEB, "P1", "INSTITUTIONAL", "Family Medicine", "D", False, "0.00"),
    (FEB, "P3", "PHARMACY", "Pharmacy", "E", False, "0.00"),  # reversed only
    (JAN, "P1", "PROFESSIONAL", "Family Medicine", "F", True, "7.00"),  # two plans, same tier/state
    (JAN, "P2", "PROFESSIONAL", "Family Medicine", "F", True, "8.00"),
    (FEB, "NOPLAN", "PROFESSIONAL", "Family Medicine", "G", True, "9.99"),  # unknown plan
    (APR, "P1", "PROFESSIONAL", "Family Medicine", "H", True, "99.00"),  # after the as-of month
    (JAN, "P1", "PROFESSIONAL", "Family Medicine", "I", True, "1.01"),  # shares a cell with A
]
MEMBER_MONTHS = [(JAN, "P1"), (JAN, "P1"), (JAN, "P3"), (FEB, "P1"), (MAR, "P3")]


def _create_core_tables(warehouse: Any) -> None:
    with warehouse.connect() as conn:
        conn.execute("create table core.warehouse_as_of (as_of_month date)")
        conn.execute("insert into core.warehouse_as_of values (%s)", [AS_OF])
        conn.execute(
            "create table core.dim_plan (hios_plan_id varchar(20), plan_year integer, valid_from date, "
            "valid_to date, record_status varchar(20), metal_tier varchar(20), state varchar(2))"
        )
        for plan in PLANS:
            conn.execute("insert into core.dim_plan values (%s, %s, %s, %s, %s, %s, %s)", list(plan))
        conn.execute(
            "create table core.fct_claim_lines (service_month date, hios_plan_id varchar(20), "
            "claim_type varchar(20), servicing_specialty varchar(40), claim_id varchar(20), "
            "is_counted_line boolean, billed_amount decimal(18, 2), allowed_amount decimal(18, 2), "
            "paid_amount decimal(18, 2))"
        )
        for month, plan, claim_type, specialty, claim_id, counted, paid in LINES:
            conn.execute(
                "insert into core.fct_claim_lines values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [month, plan, claim_type, specialty, claim_id, counted, Decimal(paid) * 2, paid, paid],
            )
        conn.execute("create table core.fct_member_months (month date, hios_plan_id varchar(20))")
        for month, plan in MEMBER_MONTHS:
            conn.execute("insert into core.fct_member_months values (%s, %s)", [month, plan])
        conn.execute(
            "create table core.fct_premiums (coverage_month date, hios_plan_id varchar(20), "
            "premium_billed decimal(18, 2), aptc_amount decimal(18, 2))"
        )


# The models from claim lines to the cube (built from scratch: a first build of each).
CHAIN = (
    "int_claim_cells_touched",
    "int_claims_by_cell",
    "int_spread_claim_cells",
    "plan_month",
    "claims_cube",
)


def _run_claims_cube(warehouse: Any, scratch: Path) -> None:
    env = {**os.environ, **warehouse.dbt_env()}
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "run", "--full-refresh", "--select", *CHAIN, "--profiles-dir", ".", "--project-dir", ".",
         "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
        cwd=DBT_DIR, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _expected() -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every grouping set by brute force: project each line onto the set, collect claim ids."""
    attributes = {plan: (tier, state) for plan, _, _, _, _, tier, state in PLANS}
    cells: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"claim_lines": 0, "claims": set(), "paid": Decimal("0.00"), "member_months": 0}
    )
    grouping_ids = range(32)
    for month, plan, claim_type, specialty, claim_id, counted, paid in LINES:
        if month > AS_OF:
            continue
        tier, state = attributes.get(plan, ("UNKNOWN", "UNKNOWN"))
        values = (month, tier, state, claim_type, specialty)
        for gid in grouping_ids:
            key = (gid, *(None if gid & bit else v for bit, v in zip(BITS, values, strict=True)))
            cell = cells[key]
            cell["paid"] += Decimal(paid)
            if counted:
                cell["claim_lines"] += 1
                cell["claims"].add(claim_id)
    for month, plan in MEMBER_MONTHS:
        tier, state = attributes.get(plan, ("UNKNOWN", "UNKNOWN"))
        for gid in (g for g in grouping_ids if g % 4 == 3):
            key = (
                gid,
                *(None if gid & bit else v for bit, v in zip(BITS[:3], (month, tier, state), strict=True)),
            )
            cells[(*key, None, None)]["member_months"] += 1
    return {
        key: {
            "claim_lines": c["claim_lines"],
            "distinct_claims": len(c["claims"]),
            "paid": c["paid"],
            "member_months": c["member_months"] if key[0] % 4 == 3 else None,
        }
        for key, c in cells.items()
    }


@pytest.mark.parametrize("kind", KINDS)
def test_claims_cube_equals_a_brute_force_cube(kind: str, make_warehouse, tmp_path: Path) -> None:
    warehouse = make_warehouse(kind)
    _create_core_tables(warehouse)
    _run_claims_cube(warehouse, tmp_path)
    with warehouse.connect() as conn:
        rows = conn.fetchall(
            "select grouping_id, month, metal_tier, state, claim_type, specialty, claim_lines, "
            "distinct_claims, paid, member_months from marts.claims_cube"
        )
    actual = {
        tuple(r[:6]): {"claim_lines": r[6], "distinct_claims": r[7], "paid": r[8], "member_months": r[9]}
        for r in rows
    }
    assert len(actual) == len(rows)  # one row per cell
    expected = _expected()
    assert set(actual) == set(expected)
    for key, e in expected.items():
        assert actual[key] == e, key
    # the cases the split between summed and distinct claims exists for, checked by name
    assert actual[(31, None, None, None, None, None)]["distinct_claims"] == 7  # E reversed, H later
    assert actual[(8 + 4 + 2 + 1, JAN, None, None, None, None)]["distinct_claims"] == 5  # A B C F I
    assert actual[(16 + 8 + 4 + 2, None, None, None, None, "Cardiology")]["distinct_claims"] == 3  # B C D
    assert actual[(2 + 1, JAN, "Gold", "TX", None, None)]["distinct_claims"] == 4  # A B F I; F once
    assert actual[(1, JAN, "Gold", "TX", "PROFESSIONAL", None)]["member_months"] is None
