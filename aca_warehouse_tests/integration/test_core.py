"""Core star schema: SCD2 members and plans, late-arriving members, claim versions, coverage spans, keys.

Every test reads the scenario of fixtures/core/scenario.py after real Dagster runs of the dbt
assets (see fixtures/core/pipeline.py), on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

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

D = date.fromisoformat
KINDS = SCENARIO_KINDS
PHI_COLUMNS = {
    "first_name",
    "last_name",
    "ssn",
    "email",
    "phone",
    "address_line1",
    "date_of_birth",
    "member_id",
    "issuer_member_no",
    "member_no",
    "subscriber_id",
    "zip",
    "city",
}


@pytest.fixture(scope="session", params=KINDS)
def scenario(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[ScenarioResult]:
    ensure_dbt_manifest()
    kind = request.param
    yield scenario_result(kind, tmp_path_factory)


def rows(result: ScenarioResult, table: str, checkpoint: str = "step3", **where: Any) -> list[dict[str, Any]]:
    return [r for r in result.checkpoints[checkpoint][table] if all(r[k] == v for k, v in where.items())]


def mk(member_no: str) -> str:
    return keyed_member_key(member_no)


def test_every_dbt_run_succeeds_with_only_warnings(scenario: ScenarioResult) -> None:
    for name, run in scenario.runs.items():
        assert run.success, (name, run.failed_checks)
        assert run.failed_checks == [], name
        # claims of the unknown member N9, of never-covered EX3 and EX5: counted, not rejected
        assert "warn_claims_outside_coverage" in run.warned_checks, name
        if name != "step3":  # step 3 also ran the staging assets (and their own checks)
            assert run.warned_checks == ["warn_claims_outside_coverage"], name


def test_as_of_date_is_the_latest_load_date(scenario: ScenarioResult) -> None:
    [as_of] = rows(scenario, "core.warehouse_as_of")
    assert as_of["as_of_date"] == D("2025-02-05")
    assert as_of["as_of_month"] == D("2025-02-01")


def test_member_who_moves_twice_has_three_versions(scenario: ScenarioResult) -> None:
    versions = sorted(
        rows(scenario, "core.dim_member", member_key=mk("N1")), key=lambda r: r["version_number"]
    )
    assert [
        (v["valid_from"], v["valid_to"], v["zip3"], v["county_fips"], v["rating_area"]) for v in versions
    ] == [
        (D("2024-11-01"), D("2024-12-01"), "750", "48113", 1),
        (D("2024-12-01"), D("2025-02-01"), "770", "48201", 2),
        (D("2025-02-01"), D("9999-12-31"), "787", "48453", 3),
    ]
    assert [v["is_current"] for v in versions] == [False, False, True]
    assert {v["record_status"] for v in versions} == {"active"}
    assert versions[0]["pit_valid_from"] == D("1900-01-01")
    assert versions[0]["birth_year"] == 1980


def test_member_absent_from_a_snapshot_has_left(scenario: ScenarioResult) -> None:
    versions = sorted(
        rows(scenario, "core.dim_member", member_key=mk("N4")), key=lambda r: r["version_number"]
    )
    assert [(v["valid_from"], v["record_status"], v["is_current"]) for v in versions] == [
        (D("2024-11-01"), "active", False),
        (D("2025-02-01"), "left", True),
    ]
    assert versions[1]["zip3"] == "799"  # last known attributes kept


def test_replayed_and_out_of_order_snapshots_give_the_same_history(scenario: ScenarioResult) -> None:
    # incremental: 2024-12-01 first, then 2025-01-01, 2025-02-01, the older 2024-11-01, 2024-12-01 again
    for table in ("core.dim_member", "core.dim_plan", "core.dim_geography"):
        assert scenario.checkpoints["step2"][table] == scenario.checkpoints["full"][table], table


def test_claim_before_its_member_is_known_then_the_member_arrives(scenario: ScenarioResult) -> None:
    before = rows(scenario, "core.fct_claim_lines", "step1", claim_id="C003")
    after = rows(scenario, "core.fct_claim_lines", "step2", claim_id="C003")
    assert len(before) == 2 and len(after) == 2
    key_before = {r["member_version_key"] for r in before}
    key_after = {r["member_version_key"] for r in after}
    assert key_before == key_after  # the inferred row is completed in place, facts keep their key
    [inferred] = rows(scenario, "core.dim_member", "step1", member_version_key=key_before.pop())
    assert inferred["record_status"] == "inferred" and inferred["is_inferred"] and inferred["zip3"] is None
    [completed] = rows(scenario, "core.dim_member", "step2", member_version_key=key_after.pop())
    assert completed["record_status"] == "active" and not completed["is_inferred"]
    assert completed["member_key"] == mk("N3") and completed["zip3"] == "761"
    assert completed["valid_from"] == D("2025-01-01")  # first seen then; earlier facts still resolve to it
    # a member only the claims system knows stays inferred, never dropped
    [n9] = rows(scenario, "core.dim_member", member_key=mk("N9"))
    assert n9["record_status"] == "inferred"
    assert (
        rows(scenario, "core.fct_claim_lines", claim_id="C005")[0]["member_version_key"]
        == n9["member_version_key"]
    )


def test_claim_adjusted_then_reversed(scenario: ScenarioResult) -> None:
    versions = sorted(
        rows(scenario, "core.fct_claim_line_versions", claim_id="C001"), key=lambda r: r["claim_version"]
    )
    assert [(v["claim_version"], v["claim_status"], v["paid_amount"]) for v in versions] == [
        (1, "PAID", Decimal("100.00")),
        (2, "PAID", Decimal("80.00")),
        (3, "REVERSED", Decimal("0.00")),
    ]
    assert [v["is_current_version"] for v in versions] == [False, False, True]
    [before] = rows(scenario, "core.fct_claim_lines", "step1", claim_id="C001")
    assert (before["claim_version"], before["paid_amount"], before["is_counted_line"]) == (
        2,
        Decimal("80.00"),
        True,
    )
    [now] = rows(scenario, "core.fct_claim_lines", claim_id="C001")
    assert (now["claim_version"], now["claim_status"], now["paid_amount"], now["is_counted_line"]) == (
        3,
        "REVERSED",
        Decimal("0.00"),
        False,
    )
    assert now["version_count"] == 3


def test_highest_version_wins_and_later_load_replaces_same_version(scenario: ScenarioResult) -> None:
    [c009] = rows(scenario, "core.fct_claim_lines", claim_id="C009")
    assert (c009["claim_version"], c009["paid_amount"]) == (2, Decimal("200.00"))  # v1 arrived later
    [c007] = rows(scenario, "core.fct_claim_line_versions", claim_id="C007")
    assert (c007["paid_amount"], c007["_load_date"]) == (Decimal("55.00"), D("2025-02-05"))


def test_late_corrected_file_for_an_old_day(scenario: ScenarioResult) -> None:
    from aca_warehouse_tests.pipeline import dbt_models, staging_assets

    # one partition: each staging asset, the check-results copy and each dbt model materialized once
    assert scenario.runs["step3"].materializations == len(dbt_models().keys) + len(staging_assets()) + 1
    [c006] = rows(scenario, "core.fct_claim_lines", claim_id="C006")
    assert c006["paid_amount"] == Decimal("650.00")
    assert rows(scenario, "core.fct_claim_line_versions", claim_id="C003", line_number=2) == []
    assert rows(scenario, "core.fct_claim_line_versions", "step2", claim_id="C003", line_number=2) != []
    daily = {(r["service_date"], r["hios_plan_id"]): r for r in rows(scenario, "marts.claims_daily")}
    assert daily[(D("2024-12-01"), P3)]["paid"] == Decimal("650.00")
    assert daily[(D("2024-12-05"), P2)]["paid"] == Decimal("70.00")
    assert daily[(D("2024-12-05"), P2)]["claim_lines"] == 1


def test_incremental_runs_equal_a_full_rebuild(scenario: ScenarioResult) -> None:
    for table in CORE_TABLES + MART_TABLES:
        assert scenario.checkpoints["step3"][table] == scenario.checkpoints["full"][table], table


def spans_of(scenario: ScenarioResult, member_no: str) -> list[tuple[str, str, date, date, str]]:
    return sorted(
        (s["application_id"], s["hios_plan_id"], s["span_start_date"], s["span_end_date"], s["end_reason"])
        for s in rows(scenario, "core.fct_coverage_spans", member_key=mk(member_no))
    )


def test_coverage_spans_follow_the_landing_rules(scenario: ScenarioResult) -> None:
    assert spans_of(scenario, "N1") == [
        ("A0", P1, D("2024-10-01"), D("2024-12-31"), "plan_year_end"),
        ("A1", P1, D("2025-01-01"), D("2025-12-31"), "plan_year_end"),
    ]
    # PlanChanged cuts the application's span at coverage_start - 1 and starts a new one
    assert spans_of(scenario, "N2") == [
        ("A1", P1, D("2025-01-01"), D("2025-01-31"), "plan_changed"),
        ("A1", P2, D("2025-02-01"), D("2025-12-31"), "plan_year_end"),
    ]
    assert spans_of(scenario, "N3") == []  # selected, never effectuated
    # terminated for non-payment; the later duplicate delivery (coverage_end 2024-12-31) is ignored
    assert spans_of(scenario, "N4") == [("A4", P2, D("2024-11-01"), D("2024-11-30"), "terminated")]
    assert spans_of(scenario, "N5") == []  # terminated before its span starts: cancelled
    # a late PlanChanged that occurred before the effectuation applies first: both spans stand
    assert spans_of(scenario, "N6") == [
        ("A6", P2, D("2025-01-01"), D("2025-12-31"), "plan_year_end"),
        ("A6", P3, D("2025-01-01"), D("2025-12-31"), "plan_year_end"),
    ]
    # a termination cuts only spans created by earlier events of the application
    assert spans_of(scenario, "N7") == [
        ("A7", P2, D("2024-12-01"), D("2024-12-31"), "plan_year_end"),
        ("A7", P2, D("2025-01-01"), D("2025-12-31"), "plan_year_end"),
    ]
    assert spans_of(scenario, "N8") == []  # ordered by instant: effectuated 05:00Z, terminated 06:00Z


def test_member_months_pick_the_latest_starting_span(scenario: ScenarioResult) -> None:
    months = {
        (r["member_key"], r["month"]): r["hios_plan_id"] for r in rows(scenario, "core.fct_member_months")
    }
    expected = {
        ("N1", "2024-10-01"): P1,
        ("N1", "2024-11-01"): P1,
        ("N1", "2024-12-01"): P1,
        ("N1", "2025-01-01"): P1,
        ("N1", "2025-02-01"): P1,
        ("N2", "2025-01-01"): P1,
        ("N2", "2025-02-01"): P2,
        ("N4", "2024-11-01"): P2,
        ("N6", "2025-01-01"): P2,
        ("N6", "2025-02-01"): P2,  # tie on start: the later event's span
        ("N7", "2024-12-01"): P2,
        ("N7", "2025-01-01"): P2,
        ("N7", "2025-02-01"): P2,
    }
    assert months == {(mk(n), D(m)): plan for (n, m), plan in expected.items()}


def test_applications_accumulate_milestones(scenario: ScenarioResult) -> None:
    apps = {r["application_id"]: r for r in rows(scenario, "core.fct_applications")}
    assert {a: r["application_status"] for a, r in apps.items()} == {
        "A0": "effectuated",
        "A1": "effectuated",
        "A3": "selected",
        "A4": "terminated",
        "A5": "cancelled",
        "A6": "effectuated",
        "A7": "effectuated",
        "A8": "cancelled",
    }
    a1 = apps["A1"]
    assert a1["enrollment_count"] == 2 and a1["plan_change_count"] == 1
    assert (a1["monthly_premium_amount"], a1["monthly_aptc_amount"]) == (Decimal("880.00"), Decimal("570.00"))
    a0 = apps["A0"]
    assert (a0["days_submitted_to_selected"], a0["days_selected_to_effectuated"]) == (1, 23)
    assert a0["days_submitted_to_effectuated"] == 24
    assert apps["A3"]["enrollment_period"] == "SEP" and apps["A3"]["sep_reason"] == "loss_of_coverage"
    assert apps["A4"]["termination_reason"] == "non_payment"


def plan_row(scenario: ScenarioResult, plan_key: str) -> dict[str, Any]:
    [row] = rows(scenario, "core.dim_plan", plan_key=plan_key)
    return row


def test_point_in_time_plan_attributes_across_a_plan_year_change(scenario: ScenarioResult) -> None:
    lines = {r["claim_id"]: r for r in rows(scenario, "core.fct_claim_lines")}
    c010 = plan_row(scenario, lines["C010"]["plan_key"])  # P1, service 2024-10-20
    assert (c010["hios_plan_id"], c010["plan_year"], c010["metal_tier"]) == (P1, 2024, "Silver")
    c004 = plan_row(scenario, lines["C004"]["plan_key"])  # P1, service 2025-01-05
    assert (c004["hios_plan_id"], c004["plan_year"], c004["metal_tier"]) == (P1, 2025, "Gold")
    c007 = plan_row(scenario, lines["C007"]["plan_key"])  # P2 2025 before its 2025-01-15 re-tiering
    assert (c007["plan_year"], c007["metal_tier"], c007["valid_to"]) == (2025, "Bronze", D("2025-01-15"))
    months = {(r["member_key"], r["month"]): r for r in rows(scenario, "core.fct_member_months")}
    feb = plan_row(scenario, months[(mk("N2"), D("2025-02-01"))]["plan_key"])
    assert (feb["hios_plan_id"], feb["metal_tier"]) == (P2, "Expanded Bronze")
    jan = plan_row(scenario, months[(mk("N6"), D("2025-01-01"))]["plan_key"])
    assert (jan["hios_plan_id"], jan["metal_tier"]) == (P2, "Bronze")


def test_claims_and_premiums_use_the_newest_crosswalk(scenario: ScenarioResult) -> None:
    lines = {r["claim_id"]: r for r in rows(scenario, "core.fct_claim_lines")}
    assert lines["C006"]["hios_plan_id"] == P3  # PRD-00004 was P2 in the older products snapshot
    assert lines["C011"]["hios_plan_id"] == P3  # PRD-00003's 2025 row exists only in the newest one
    assert lines["C005"]["hios_plan_id"] == "UNKNOWN"
    assert plan_row(scenario, lines["C005"]["plan_key"])["is_unknown"]
    premiums = {r["payment_id"]: r for r in rows(scenario, "core.fct_premiums")}
    assert premiums["PAY008"]["hios_plan_id"] == P3
    assert premiums["PAY004"]["premium_billed"] == Decimal("900.00")  # the later load replaced 880.00


def test_member_key_is_a_keyed_pseudonym_and_core_dims_hold_no_phi(scenario: ScenarioResult) -> None:
    keys = {r["member_key"] for r in rows(scenario, "core.dim_member")}
    assert mk("N1") in keys
    assert keyed_member_key("N1", secret="another-secret") not in keys
    plain = {hashlib.sha256(b"N1").hexdigest(), hashlib.sha256(b"member_no:N1").hexdigest(), "N1"}
    assert not keys & plain
    for table in CORE_TABLES:
        if table == "core.dim_provider":  # providers are not patients: their city is not PHI
            continue
        columns = set(scenario.checkpoints["step3"][table][0])
        assert not columns & PHI_COLUMNS, (table, columns & PHI_COLUMNS)


def test_every_fact_key_resolves(scenario: ScenarioResult) -> None:
    members = {r["member_version_key"] for r in rows(scenario, "core.dim_member")}
    plans = {r["plan_key"] for r in rows(scenario, "core.dim_plan")}
    for table in (
        "core.fct_claim_line_versions",
        "core.fct_claim_lines",
        "core.fct_premiums",
        "core.fct_coverage_spans",
        "core.fct_member_months",
    ):
        for r in rows(scenario, table):
            assert r["member_version_key"] in members, (table, r)
            assert r["plan_key"] in plans, (table, r)


@pytest.mark.duckdb
@pytest.mark.xdist_group("core_scenario_duckdb")
@pytest.mark.parametrize(
    ("day", "name"),
    [
        ("2024-07-04", "Independence Day"),
        ("2021-12-31", "New Year's Day (observed)"),
        ("2023-01-02", "New Year's Day (observed)"),
        ("2022-06-20", "Juneteenth National Independence Day (observed)"),
        ("2024-01-15", "Birthday of Martin Luther King, Jr."),
        ("2024-05-27", "Memorial Day"),
        ("2024-11-28", "Thanksgiving Day"),
        ("2020-06-19", None),
        ("2024-07-05", None),
    ],
)
def test_dim_date_federal_holidays(day: str, name: str | None, tmp_path_factory) -> None:
    ensure_dbt_manifest()
    result = scenario_result("duckdb", tmp_path_factory)
    with result.full.connect() as conn:
        row = conn.fetchone(
            "select holiday_name, is_federal_holiday, is_weekend, is_business_day, fiscal_year "
            "from core.dim_date where date_day = %s",
            [D(day)],
        )
        per_year = conn.scalar(
            "select count(*) from core.dim_date where calendar_year = 2024 and is_federal_holiday"
        )
    assert row[0] == name and row[1] == (name is not None)
    assert row[4] == D(day).year
    assert per_year == 11
