"""Run logs: JSON lines with ACA_LOG_FORMAT=json (run, file, check events with their counts), readable otherwise."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from ..pipeline import definitions_for

LOAD_DATE = "2025-12-01"
FEEDS = ("claims", "premiums")


@pytest.fixture(scope="module")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of a small generated landing set with defects, so some rows are quarantined."""
    from aca_warehouse.generator import generate

    out = tmp_path_factory.mktemp("logs") / "landing"
    generate(
        out, members=40, start=date.fromisoformat(LOAD_DATE), days=2, seed=11, defect_rate=0.2, progress=False
    )
    return out


def _load_feeds(make_warehouse, landing: Path):  # noqa: ANN001, ANN202
    """One run of the landing and staging assets of FEEDS, as the sensor starts it (no run config)."""
    warehouse = make_warehouse("duckdb")
    job = definitions_for(warehouse, landing).resolve_job_def("load_everything")
    selection = [AssetKey([layer, feed]) for feed in FEEDS for layer in ("landing", "staging")]
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=LOAD_DATE, asset_selection=selection, raise_on_error=False
        )
    assert result.success
    return warehouse, result


@pytest.mark.duckdb
def test_json_mode_writes_one_object_per_line_for_runs_files_and_checks(
    make_warehouse,  # noqa: ANN001
    small_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ACA_LOG_FORMAT", "json")
    warehouse, result = _load_feeds(make_warehouse, small_landing)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records and len(records) == len(
        [line for line in lines if "dagster" in line or line.startswith("{")]
    )
    assert all(r["run_id"] == result.run_id for r in records)
    events = [r["event"] for r in records]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert records[-1]["status"] == "success"

    # One file_loaded line per file, with the counts of staging.load_audit.
    with warehouse.connect() as conn:
        audit = {
            row[0]: row[1:]
            for row in conn.fetchall(
                "select source_file, rows_read, rows_staged, rows_quarantined, status from staging.load_audit"
            )
        }
    files = [r for r in records if r["event"] == "file_loaded"]
    assert sorted(r["file"] for r in files) == sorted(audit)
    for record in files:
        assert (
            record["rows_read"],
            record["rows_staged"],
            record["rows_quarantined"],
            record["status"],
        ) == audit[record["file"]]
        assert record["partition"] == LOAD_DATE and record["load_date"] == LOAD_DATE
    assert sum(r["rows_quarantined"] for r in files) > 0  # the defects reached the log lines
    assert any(r["reason_codes"] for r in files)

    # One check_evaluated line per check the run evaluated, with its verdict and a matching level.
    evaluations = result.get_asset_check_evaluations()
    checks = [r for r in records if r["event"] == "check_evaluated"]
    assert sorted((r["asset"], r["check"], r["passed"]) for r in checks) == sorted(
        (e.asset_key.to_user_string(), e.check_name, e.passed) for e in evaluations
    )
    for record in checks:
        expected_level = (
            "INFO" if record["passed"] else ("ERROR" if record["severity"] == "ERROR" else "WARNING")
        )
        assert record["level"] == expected_level, record


@pytest.mark.duckdb
def test_readable_lines_by_default(
    make_warehouse,  # noqa: ANN001
    small_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ACA_LOG_FORMAT", raising=False)
    _load_feeds(make_warehouse, small_landing)
    err = capfd.readouterr().err
    assert not [line for line in err.splitlines() if line.startswith("{")]
    assert " - RUN_START - " in err and " - ASSET_CHECK_EVALUATION - " in err  # Dagster's own console lines
    assert "loaded: claims_system/claims/claims_2025-12-01.csv" in err  # the loader's per-file line
