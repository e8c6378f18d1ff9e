"""The dbt unit tests (`unit_tests:` in dbt/models/**/_*_unit_tests.yml) on both engines.

`dbt test --select test_type:unit` on the demo warehouse (dict fixtures take their column types
from the built relations): every unit test the project defines runs and passes. Then the same
command on a copy of the dbt project in which each tested rule is broken on purpose (one edit per
model): every unit test must then fail on a difference between actual and expected rows, not on
an error, so none of them can pass whatever the model does.

The product runs them too: `dbt build` runs a model's unit tests before the model, and a failing
one skips the model (dagster-dbt reports no asset check for them). A build runs them until they
have all passed once for the current dbt code on the engine (assets/dbt.py); the tests at the end
check that record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aca_warehouse.assets.dbt import build_args
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

pytestmark = pytest.mark.xdist_group("demo")

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]

# Every unit test of the project: one missing from the manifest fails here rather than vanish.
UNIT_TESTS = {
    "claims_cube_equals_brute_force",
    "mlr_plan_year_exact_ratios",
    "stg_premiums_latest_load_wins",
    "stg_claims_latest_load_wins_per_version",
    "stg_enrollment_events_first_delivery_wins",
    "stg_providers_newest_snapshot_listing_the_npi",
    "dim_plan_versions_from_snapshots",
}

# One deliberate bug per tested rule: (file under dbt/, text, replacement, the unit test that must catch it).
MUTATIONS = [
    (
        "models/marts/claims_cube.sql",
        "count(distinct claim_id) as distinct_claims",
        "count(claim_id) as distinct_claims",  # a claim spread over two cells counted twice
        "claims_cube_equals_brute_force",
    ),
    (
        "models/marts/mlr_plan_year.sql",
        "where hios_plan_id <> 'UNKNOWN'",
        "where hios_plan_id is not null",  # the UNKNOWN plan kept
        "mlr_plan_year_exact_ratios",
    ),
    (
        "models/staging/stg_premiums.sql",
        "order by _load_date desc, _source_line desc",
        "order by _load_date desc, _source_line asc",  # the earlier line wins a tie
        "stg_premiums_latest_load_wins",
    ),
    (
        "models/staging/stg_claims.sql",
        "partition by claim_id, line_number, claim_version",
        "partition by claim_id, line_number",  # versions of a line replace each other
        "stg_claims_latest_load_wins_per_version",
    ),
    (
        "models/staging/stg_enrollment_events.sql",
        "order by _load_date, _source_line",
        "order by _load_date desc, _source_line",  # the last delivery wins
        "stg_enrollment_events_first_delivery_wins",
    ),
    (
        "models/staging/stg_providers.sql",
        "order by _load_date desc, _source_line asc",
        "order by _load_date asc, _source_line asc",  # the oldest snapshot wins
        "stg_providers_newest_snapshot_listing_the_npi",
    ),
    (
        "macros/scd2.sql",
        "when lag(attribute_hash) over w <> attribute_hash then 1",
        "when lag(attribute_hash) over w <> attribute_hash then 0",  # a changed plan keeps its version
        "dim_plan_versions_from_snapshots",
    ),
]


def _run_unit_tests(project: Path, warehouse: Any, scratch: Path) -> dict[str, dict[str, Any]]:
    """`dbt test --select test_type:unit` in `project`: the run_results of its unit tests by name."""
    env = {**os.environ, **warehouse.dbt_env()}
    dbt = Path(sys.executable).with_name("dbt")
    target = scratch / "target"
    result = subprocess.run(
        [str(dbt), "test", "--select", "test_type:unit", "--profiles-dir", ".", "--project-dir", ".",
         "--target-path", str(target), "--log-path", str(scratch / "logs")],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    results_file = target / "run_results.json"
    assert results_file.exists(), result.stdout[-4000:] + result.stderr[-2000:]
    manifest = json.loads((target / "manifest.json").read_text())
    assert {u["name"] for u in manifest["unit_tests"].values()} == UNIT_TESTS
    run = json.loads(results_file.read_text())["results"]
    by_name = {r["unique_id"].rsplit(".", 1)[-1]: r for r in run if r["unique_id"].startswith("unit_test.")}
    assert len(by_name) == len([r for r in run if r["unique_id"].startswith("unit_test.")])
    by_name["_returncode"] = {"status": result.returncode, "stdout": result.stdout[-6000:]}
    return by_name


def _mutated_copy(target: Path) -> Path:
    project = target / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    for relative, text, replacement, _ in MUTATIONS:
        path = project / relative
        sql = path.read_text()
        assert sql.count(text) == 1, f"{relative} no longer contains {text!r} once: update MUTATIONS"
        path.write_text(sql.replace(text, replacement))
    return project


@pytest.mark.parametrize("kind", KINDS)
def test_dbt_unit_tests_pass(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    warehouse, _ = request.getfixturevalue(f"loaded_{kind}_demo")

    results = _run_unit_tests(DBT_DIR, warehouse, tmp_path / "as_written")
    run = results.pop("_returncode")
    assert set(results) == UNIT_TESTS, run["stdout"]
    failed = {name: r["message"] for name, r in results.items() if r["status"] != "pass"}
    assert not failed, run["stdout"]
    assert run["status"] == 0, run["stdout"]


@pytest.mark.duckdb
def test_each_dbt_unit_test_catches_a_broken_rule(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """On one engine: that a unit test can fail is a property of its fixtures and the model's SQL, not
    of the engine (the test above runs them on both)."""
    warehouse, _ = request.getfixturevalue("loaded_duckdb_demo")
    broken = _run_unit_tests(_mutated_copy(tmp_path / "mutated"), warehouse, tmp_path / "broken")
    run = broken.pop("_returncode")
    assert set(broken) == {m[3] for m in MUTATIONS} == UNIT_TESTS
    for name, r in broken.items():
        # "fail" is a difference between actual and expected rows; "error" would be a broken query
        assert r["status"] == "fail", (name, r["status"], r["message"], run["stdout"])
        assert "differs from" in (r["message"] or ""), (name, r["message"])
    assert run["status"] != 0


def test_the_dagster_builds_leave_the_unit_tests_to_the_test_suite() -> None:
    """Unit tests test code, not data: the daily builds exclude them (this suite runs them, above)."""
    assert build_args(full_refresh=False) == ["build", "--exclude-resource-type", "unit_test"]
    assert build_args(full_refresh=True) == [
        "build",
        "--full-refresh",
        "--exclude-resource-type",
        "unit_test",
    ]
