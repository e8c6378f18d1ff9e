"""Marts: plan_month and mlr_plan_year against an independent Python computation, the other marts, engines agree.

Reads the scenario results built by fixtures/core/pipeline.py (real Dagster runs of the staging
and dbt assets) on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from aca_warehouse_tests.expected_marts import expected_mlr_plan_year, expected_plan_month
from aca_warehouse_tests.fixtures.core.pipeline import (
    CORE_TABLES,
    MART_TABLES,
    SCENARIO_KINDS,
    ScenarioResult,
    ensure_dbt_manifest,
    keyed_member_key,
    scenario_result,
)
from aca_warehouse_tests.fixtures.core.scenario import P1, P2, P3

from ..conftest import postgres_available

D = date.fromisoformat
KINDS = SCENARIO_KINDS
RATIO_TOLERANCE = Decimal("1e-9")


@pytest.fixture(scope="session", params=KINDS)
def scenario(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[ScenarioResult]:
    ensure_dbt_manifest()
    kind = request.param
    yield scenario_result(kind, tmp_path_factory)


def mart(result: ScenarioResult, table: str, checkpoint: str = "step3") -> list[dict[str, Any]]:
    return result.checkpoints[checkpoint][f"marts.{table}"]


def assert_ratio(actual: Decimal | None, expected: Decimal | None, label: Any) -> None:
    if expected is None:
        assert actual is None, label
    else:
        assert actual is not None and abs(Decimal(actual) - expected) < RATIO_TOLERANCE, (
            label,
            actual,
            expected,
        )


@pytest.mark.parametrize("checkpoint", ["step3", "full"])
def test_plan_month_matches_the_independent_python_computation(
    scenario: ScenarioResult, checkpoint: str
) -> None:
    expected = expected_plan_month(scenario.landing_root)
    actual = {(r["month"], r["hios_plan_id"]): r for r in mart(scenario, "plan_month", checkpoint)}
    assert set(actual) == set(expected)
    for key, e in expected.items():
        a = actual[key]
        assert (a["plan_year"], a["issuer_id"], a["metal_tier"], a["state"]) == (
            e.plan_year,
            e.issuer_id,
            e.metal_tier,
            e.state,
        ), key
        assert a["member_months"] == e.member_months, key
        assert a["claim_lines"] == e.claim_lines, key
        assert a["distinct_claims"] == len(e.distinct_claims), key
        for column in ("premium_earned", "aptc_earned", "claims_paid", "claims_allowed"):
            assert a[column] == getattr(e, column), (key, column)  # to the cent
        assert_ratio(a["pmpm_paid"], e.pmpm_paid, (key, "pmpm_paid"))
        assert_ratio(a["loss_ratio"], e.loss_ratio, (key, "loss_ratio"))


@pytest.mark.parametrize("checkpoint", ["step3", "full"])
def test_mlr_plan_year_matches_the_independent_python_computation(
    scenario: ScenarioResult, checkpoint: str
) -> None:
    expected = expected_mlr_plan_year(expected_plan_month(scenario.landing_root))
    actual = {
        (r["issuer_id"], r["state"], r["plan_year"]): r for r in mart(scenario, "mlr_plan_year", checkpoint)
    }
    assert set(actual) == set(expected)
    for key, e in expected.items():
        a = actual[key]
        assert (a["member_months"], a["premium_earned"], a["claims_paid"]) == (
            e.member_months,
            e.premium_earned,
            e.claims_paid,
        ), key
        assert_ratio(a["mlr"], e.mlr, key)


def test_plan_month_hand_checked_values(scenario: ScenarioResult) -> None:
    """A few rows worked out by hand from the scenario (after the late correction of C006)."""
    rows = {(r["month"], r["hios_plan_id"]): r for r in mart(scenario, "plan_month")}
    jan_p1 = rows[(D("2025-01-01"), P1)]
    assert (
        jan_p1["metal_tier"],
        jan_p1["member_months"],
        jan_p1["premium_earned"],
        jan_p1["claims_paid"],
    ) == (
        "Gold",
        2,
        Decimal("900.00"),
        Decimal("150.00"),
    )
    assert (
        jan_p1["pmpm_paid"] == Decimal("75") and abs(jan_p1["loss_ratio"] - Decimal(1) / 6) < RATIO_TOLERANCE
    )
    jan_p2 = rows[(D("2025-01-01"), P2)]  # C007 replaced by its later load (55.00); C008 denied, allowed 20
    assert (jan_p2["claims_paid"], jan_p2["claims_allowed"], jan_p2["claim_lines"]) == (
        Decimal("55.00"),
        Decimal("100.00"),
        2,
    )
    assert jan_p2["loss_ratio"] is None  # no premium: null, not an error
    assert rows[(D("2024-12-01"), P3)]["claims_paid"] == Decimal("650.00")  # the corrected file
    assert rows[(D("2024-12-01"), P3)]["pmpm_paid"] is None  # no member months
    assert (D("2024-11-01"), P3) not in rows  # only a REVERSED line
    assert (D("2025-03-01"), P1) not in rows  # premium for a month after the as-of month
    assert rows[(D("2025-01-01"), P3)]["metal_tier"] is None  # the 2024-11-01 plans snapshot lacks P3 2025
    assert rows[(D("2025-02-01"), P3)]["metal_tier"] == "Gold"
    assert rows[(D("2025-02-01"), P2)]["metal_tier"] == "Expanded Bronze"
    unknown = rows[(D("2025-01-01"), "UNKNOWN")]
    assert (unknown["metal_tier"], unknown["state"], unknown["issuer_id"]) == (None, None, None)
    assert rows[(D("2024-10-01"), P1)]["member_months"] == 1  # coverage reaching back before the first file


def test_marts_reconcile_to_the_core_facts(scenario: ScenarioResult) -> None:
    core = scenario.checkpoints["step3"]
    paid_by_month: dict[date, Decimal] = {}
    for line in core["core.fct_claim_lines"]:
        paid_by_month[line["service_month"]] = (
            paid_by_month.get(line["service_month"], Decimal(0)) + line["paid_amount"]
        )
    mart_by_month: dict[date, Decimal] = {}
    for r in mart(scenario, "plan_month"):
        mart_by_month[r["month"]] = mart_by_month.get(r["month"], Decimal(0)) + r["claims_paid"]
    assert {m: v for m, v in paid_by_month.items() if v} == {m: v for m, v in mart_by_month.items() if v}
    daily_paid = sum((r["paid"] for r in mart(scenario, "claims_daily")), Decimal(0))
    assert daily_paid == sum(paid_by_month.values())
    [grand_total] = [r for r in mart(scenario, "claims_cube") if r["grouping_id"] == 31]
    assert grand_total["paid"] == daily_paid
    assert grand_total["member_months"] == len(core["core.fct_member_months"])
    assert sum(r["claims_paid"] for r in mart(scenario, "member_value")) == daily_paid


def test_claims_daily_grain_and_specialty(scenario: ScenarioResult) -> None:
    rows = mart(scenario, "claims_daily")
    keys = [(r["service_date"], r["hios_plan_id"], r["claim_type"], r["specialty"]) for r in rows]
    assert len(keys) == len(set(keys))
    by_key = {k: r for k, r in zip(keys, rows, strict=True)}
    # type-1 provider: the newest snapshot's specialty; an NPI no snapshot lists is UNKNOWN
    assert (D("2024-11-12"), P1, "PROFESSIONAL", "Cardiovascular Disease") in by_key
    assert by_key[(D("2025-02-01"), P1, "PROFESSIONAL", "UNKNOWN")]["paid"] == Decimal("40.00")
    reversed_only = by_key[(D("2024-11-10"), P1, "PROFESSIONAL", "Family Medicine")]
    assert (reversed_only["claim_lines"], reversed_only["paid"]) == (0, Decimal("0.00"))


def test_claims_cube_grouping_sets(scenario: ScenarioResult) -> None:
    rows = mart(scenario, "claims_cube")
    assert {r["grouping_id"] for r in rows} == set(range(32))
    for r in rows:
        aggregated = {
            name
            for bit, name in zip(
                (16, 8, 4, 2, 1), ("month", "metal_tier", "state", "claim_type", "specialty"), strict=True
            )
            if r["grouping_id"] & bit
        }
        for name in ("month", "metal_tier", "state", "claim_type", "specialty"):
            assert (r[name] is None) == (name in aggregated), (r, name)  # null means "all", nothing else
        assert (r["member_months"] is not None) == (r["grouping_id"] % 4 == 3)
    by_tier = {r["metal_tier"]: r for r in rows if r["grouping_id"] == 0b10111}
    assert by_tier["UNKNOWN"]["paid"] == Decimal("130.00")  # UNKNOWN plan 60 + P3 January 70
    assert by_tier["Gold"]["member_months"] == 3  # P1 Jan (2) + Feb (1)


def test_member_value_uses_pseudonyms_and_rfm(scenario: ScenarioResult) -> None:
    rows = {r["member_key"]: r for r in mart(scenario, "member_value")}
    for key in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", key)
    n1 = rows[keyed_member_key("N1")]
    assert (n1["tenure_months"], n1["premium_earned"], n1["claims_paid"], n1["net_value"]) == (
        5,
        Decimal("2700.00"),
        Decimal("230.00"),
        Decimal("2470.00"),
    )
    assert (n1["frequency"], n1["recency_days"], n1["monetary"], n1["segment"]) == (
        2,
        85,
        Decimal("230.00"),
        "active_profitable",
    )
    n9 = rows[keyed_member_key("N9")]  # claims-system-only member: premium 100, claims 60
    assert (n9["tenure_months"], n9["net_value"], n9["segment"]) == (0, Decimal("40.00"), "active_profitable")
    n7 = rows[keyed_member_key("N7")]  # 650 paid against 210 premium
    assert n7["segment"] == "high_cost"
    assert rows[keyed_member_key("N2")]["premium_earned"] == Decimal("0.00")  # dependant: premium is EX1's


def test_plan_performance_rolling_windows(scenario: ScenarioResult) -> None:
    rows = {(r["hios_plan_id"], r["day"]): r for r in mart(scenario, "plan_performance")}
    assert rows[(P1, D("2024-11-12"))]["paid_rolling_30d"] == Decimal("230.00")  # C009 200 + C010 30
    assert rows[(P1, D("2024-11-18"))]["paid_rolling_30d"] == Decimal("230.00")  # 10-20 .. 11-18
    assert rows[(P1, D("2024-11-19"))]["paid_rolling_30d"] == Decimal(
        "200.00"
    )  # C010 (10-20) left the window
    assert rows[(P1, D("2024-11-12"))]["paid_same_30d_prior_year"] == Decimal("0.00")
    assert rows[(P1, D("2024-11-12"))]["yoy_change_pct"] is None
    assert max(day for _, day in rows) == D("2025-02-05")  # the as-of date


def test_utilization_and_member_month_marts(scenario: ScenarioResult) -> None:
    util = {(r["month"], r["metal_tier"]): r for r in mart(scenario, "utilization_month")}
    jan_gold = util[(D("2025-01-01"), "Gold")]
    assert (jan_gold["member_months"], jan_gold["distinct_claims"]) == (2, 1)
    assert jan_gold["utilization_per_1000"] == Decimal("6000")
    summary = {(r["member_key"], r["month"]): r for r in mart(scenario, "member_month_summary")}
    feb = summary[(keyed_member_key("N2"), D("2025-02-01"))]
    assert (
        feb["is_covered"],
        feb["coverage_hios_plan_id"],
        feb["coverage_metal_tier"],
        feb["claims_paid"],
    ) == (
        True,
        P2,
        "Expanded Bronze",
        Decimal("40.00"),
    )


def test_no_phi_in_any_mart(scenario: ScenarioResult) -> None:
    """No value of a member's PHI or source ids appears anywhere in the marts."""
    from aca_warehouse_tests.fixtures.core.scenario import build_scenario

    members = [row for (feed, _), rows in build_scenario().files.items() if feed == "members" for row in rows]
    secrets = {
        str(m[c])
        for m in members
        for c in (
            "member_id",
            "issuer_member_no",
            "first_name",
            "last_name",
            "ssn",
            "email",
            "phone",
            "address_line1",
            "date_of_birth",
            "zip",
        )
    }
    for table in MART_TABLES:
        for row in scenario.checkpoints["step3"][table]:
            for column, value in row.items():
                assert str(value) not in secrets, (table, column, value)


@pytest.mark.postgres
@pytest.mark.xdist_group("core_scenario_postgres")
def test_duckdb_and_postgres_agree(tmp_path_factory) -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    ensure_dbt_manifest()
    duck = scenario_result("duckdb", tmp_path_factory)
    pg = scenario_result("postgres", tmp_path_factory)
    for table in CORE_TABLES + MART_TABLES:
        assert duck.checkpoints["step3"][table] == pg.checkpoints["step3"][table], table
