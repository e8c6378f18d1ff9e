"""The dbt assets as defined from the manifest (no dbt run): keys, groups, upstream staging assets, blocking
checks; and a dbt process left running is stopped."""

from __future__ import annotations

import time

import pytest

from aca_warehouse_tests.fixtures.core.pipeline import CORE_TABLES, MART_TABLES, ensure_dbt_manifest


def test_dbt_assets_shape_and_blocking_checks() -> None:
    """One partitioned multi-asset: keys and groups by layer, staging deps (and the check-results copy,
    source of the data-quality models), blocking error tests."""
    ensure_dbt_manifest()
    from dagster import AssetKey

    from aca_warehouse_tests.pipeline import dbt_models, partitions_for_tests

    assets = dbt_models()
    keys = {k.to_user_string() for k in assets.keys}
    assert {t.replace(".", "/") for t in CORE_TABLES + MART_TABLES} <= keys
    assert {k.split("/")[0] for k in keys} == {"staging", "intermediate", "core", "marts"}
    assert "staging/stg_claims" in keys and "intermediate/int_claim_lines_touched" in keys
    for key in assets.keys:
        assert assets.group_names_by_key[key] == key.path[0]
        assert assets.descriptions_by_key[key], key
    assert assets.partitions_def == partitions_for_tests()
    upstream = {dep.to_user_string() for dep in assets.dependency_keys if dep not in assets.keys}
    assert upstream == {"quality/data_quality"} | {
        f"staging/{feed}"
        for feed in (
            "plans",
            "members",
            "enrollment_events",
            "products",
            "providers",
            "claims",
            "premiums",
            "load_audit",
        )
    }
    specs = {(s.asset_key.to_user_string(), s.name): s for s in assets.check_specs}
    assert specs[("core/fct_claim_line_versions", "assert_claim_versions_reconcile_to_staging")].blocking
    assert specs[("marts/plan_month", "assert_plan_month_reconciles_to_facts")].blocking
    assert not specs[("core/fct_claim_lines", "warn_claims_outside_coverage")].blocking
    assert AssetKey(["core", "fct_member_months"]) in assets.keys


def test_a_dbt_process_left_running_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while reading dbt's events stops dbt (SIGINT, then kill), so it does not keep holding
    the warehouse for the next run."""
    import subprocess
    import sys

    from aca_warehouse.assets import dbt as dbt_assets_module

    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dbt_assets_module.stop_dbt(polite)
    assert polite.returncode is not None

    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)",
        ]
    )
    time.sleep(0.5)  # let it install its handler
    monkeypatch.setattr(dbt_assets_module, "DBT_STOP_TIMEOUT_SECONDS", 1)
    dbt_assets_module.stop_dbt(stubborn)
    assert stubborn.returncode == -9
