"""The staging assets run through real Dagster: partitions, single-run ranges, checks, failures, resources."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    ExecuteInProcessResult,
    materialize,
)

from aca_warehouse.checks.staging import CHECK_NAMES
from aca_warehouse.cli import report_run
from aca_warehouse.contract.dictionary import MAX_DEFECT_RATE_ENV
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import LandingDirResource
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS
from aca_warehouse_tests.pipeline import staging_assets

KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
CLAIMS_HEADER = (
    (HANDMADE / "claims_system/claims/claims_2025-03-03.csv").read_text(encoding="utf-8-sig").splitlines()[0]
)


def staging_asset(feed: str) -> AssetsDefinition:
    return next(a for a in staging_assets() if a.key == AssetKey(["staging", feed]))


def run_staging(
    feeds: list[str], warehouse: WarehouseResource, landing: Path, **kwargs: Any
) -> ExecuteInProcessResult:
    return materialize(
        [staging_asset(feed) for feed in feeds],
        resources={"warehouse": warehouse, "landing": LandingDirResource(landing_dir=str(landing))},
        raise_on_error=False,
        **kwargs,
    )


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def check_results(result: ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def partition_metadata(result: ExecuteInProcessResult, feed: str) -> dict[str, dict[str, Any]]:
    """Partition key -> the metadata of that partition's materialization in the run."""
    by_partition: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key == AssetKey(["staging", feed]):
            assert event.partition not in by_partition
            by_partition[event.partition] = {k: v.value for k, v in event.materialization.metadata.items()}
    assert by_partition
    return by_partition


def evaluations_by_partition(result: ExecuteInProcessResult, feed: str) -> dict[tuple[str, str], Any]:
    """(check name, partition key) -> its one evaluation in the run."""
    found: dict[tuple[str, str], Any] = {}
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.asset_key == AssetKey(["staging", feed]):
            key = (evaluation.check_name, evaluation.partition)
            assert key not in found, f"two evaluations of {key}"
            found[key] = evaluation
    return found


def failure_messages(result: ExecuteInProcessResult) -> list[str]:
    """Each failed step's error with its causes (Dagster wraps the user's exception)."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error, parts = event.step_failure_data.error, []
            while error is not None:
                parts.append(error.message)
                error = error.cause
            messages.append(" <- ".join(parts))
    return messages


def clean_claim_line(load_date: date, i: int, member_no: str | None = None) -> str:
    """One clean claim line (PAID and consistent) of a load date."""
    return (
        f"CLM{load_date:%m%d}{i:04d},1,1,PROFESSIONAL,PAID,{member_no or f'M{i:05d}'},PRD-10001,1234567893,,"
        f"{load_date - timedelta(days=3)},{load_date - timedelta(days=2)},{load_date - timedelta(days=1)},"
        f"{load_date},11,99213,,Z00.00,1,100.00,80.00,60.00,20.00,0.00,0.00,"
    )


def write_clean_claims(root: Path, load_date: date, count: int, extra_lines: tuple[str, ...] = ()) -> Path:
    """A small clean claims file for one load date, plus `extra_lines` (e.g. defective rows) at its end."""
    lines = [CLAIMS_HEADER, *(clean_claim_line(load_date, i) for i in range(count)), *extra_lines]
    path = root / "claims_system" / "claims" / f"claims_{load_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_a_partition_run_loads_its_file_and_reports_the_checks(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MAX_DEFECT_RATE_ENV, raising=False)
    warehouse = make_warehouse(kind)
    result = run_staging(["claims", "enrollment_events"], warehouse, HANDMADE, partition_key="2025-03-03")
    assert result.success
    checks = check_results(result)
    assert {e.asset_key for e in result.get_asset_check_evaluations()} == {
        AssetKey(["staging", "claims"]),
        AssetKey(["staging", "enrollment_events"]),
    }
    claims_checks = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey(["staging", "claims"])
    }
    for name in ("reconciliation", "key_unique_within_load", "required_not_null", "accepted_values"):
        assert claims_checks[name].passed, name
        assert claims_checks[name].metadata["metric_value"].value == 0
    rate = claims_checks["defect_rate"]
    assert not rate.passed  # 28 of 36 hand-made rows are defects: a warning, the run succeeds
    assert rate.severity == AssetCheckSeverity.WARN and not rate.blocking
    assert rate.metadata["threshold"].value == 0.05
    assert rate.metadata["metric_value"].value == pytest.approx(28 / 36, abs=1e-6)
    assert rate.metadata["file"].value == "claims_system/claims/claims_2025-03-03.csv"
    assert "claims_2025-03-03.csv" in rate.description and "28 of 36" in rate.description
    assert claims_checks["reconciliation"].metadata["rows_read"].value == 36
    assert checks["reconciliation"].passed
    [metadata] = partition_metadata(result, "claims").values()
    assert (
        metadata["status"],
        metadata["rows_read"],
        metadata["rows_staged"],
        metadata["rows_quarantined"],
        metadata["dagster/row_count"],
    ) == ("loaded", 36, 8, 28, 8)
    assert metadata["reason_code_counts"]["duplicate_key"] == 2
    assert metadata["file"] == "claims_system/claims/claims_2025-03-03.csv"
    preview = metadata["quarantine_preview"].records
    assert len(preview) == 20 and all(r.data["reason_codes"] for r in preview)
    assert "limit" not in metadata["quarantined_rows_sql"] and "_load_id" in metadata["quarantined_rows_sql"]
    with warehouse.connect() as conn:
        sql = metadata["quarantined_rows_sql"].split("```sql\n")[1].split("\n```")[0]
        assert len(conn.fetchall(sql)) == 28  # the SQL in the metadata lists every quarantined row


@pytest.mark.duckdb
def test_the_defect_rate_threshold_can_be_raised_by_environment(
    make_warehouse: Callable[[str], WarehouseResource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_DEFECT_RATE_ENV, "0.8")
    result = run_staging(["claims"], make_warehouse("duckdb"), HANDMADE, partition_key="2025-03-03")
    rate = check_results(result)["defect_rate"]
    assert rate.passed and rate.metadata["threshold"].value == 0.8


@pytest.mark.parametrize("kind", KINDS)
def test_a_range_run_loads_every_file_of_the_window_once(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = tmp_path / "landing"
    days = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 4)]  # nothing for 2025-03-03
    for i, day in enumerate(days):
        write_clean_claims(root, day, 5 + i)
    write_clean_claims(root, date(2025, 3, 6), 3)  # outside the window: left alone
    warehouse = make_warehouse(kind)
    result = run_staging(["claims"], warehouse, root, tags=range_tags("2025-03-01", "2025-03-05"))
    assert result.success
    keys = [f"2025-03-0{d}" for d in range(1, 6)]
    evaluations = evaluations_by_partition(result, "claims")
    assert set(evaluations) == {(name, key) for name in CHECK_NAMES for key in keys}  # one per partition
    assert all(e.passed for e in evaluations.values())
    assert evaluations[("reconciliation", "2025-03-03")].metadata["file"].value == "(no file)"
    metadata = partition_metadata(result, "claims")
    assert set(metadata) == set(keys)
    assert {k: (m["status"], m["rows_staged"], m["dagster/row_count"]) for k, m in metadata.items()} == {
        "2025-03-01": ("loaded", 5, 5),
        "2025-03-02": ("loaded", 6, 6),
        "2025-03-03": ("no file", 0, 0),
        "2025-03-04": ("loaded", 7, 7),
        "2025-03-05": ("no file", 0, 0),
    }
    assert all(m["load_dates"] == "[2025-03-01, 2025-03-06)" for m in metadata.values())
    assert all(m["dagster/table_name"] == "staging.claims" for m in metadata.values())
    with warehouse.connect() as conn:
        by_date = dict(conn.fetchall("select _load_date, count(*) from staging.claims group by _load_date"))
    assert by_date == {days[0]: 5, days[1]: 6, days[2]: 7}

    again = run_staging(["claims"], warehouse, root, tags=range_tags("2025-03-01", "2025-03-05"))
    assert again.success
    rerun = partition_metadata(again, "claims")
    assert {k: m["status"] for k, m in rerun.items()} == {
        **{k: "unchanged" for k in ("2025-03-01", "2025-03-02", "2025-03-04")},
        **{k: "no file" for k in ("2025-03-03", "2025-03-05")},
    }
    figures = ("file", "rows_read", "rows_staged", "rows_quarantined", "dagster/row_count", "load_id")
    assert {k: [m.get(f) for f in figures] for k, m in rerun.items()} == {
        k: [m.get(f) for f in figures] for k, m in metadata.items()
    }  # an unchanged re-delivery keeps the figures of the load the partition holds
    with warehouse.connect() as conn:
        assert (
            dict(conn.fetchall("select _load_date, count(*) from staging.claims group by _load_date"))
            == by_date
        )


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_missing_a_column_fails_the_run_and_keeps_the_previous_load(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = tmp_path / "landing"
    path = write_clean_claims(root, date(2025, 3, 1), 4)
    warehouse = make_warehouse(kind)
    assert run_staging(["claims"], warehouse, root, partition_key="2025-03-01").success
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", encoding="utf-8"
    )  # drop the last column
    result = run_staging(["claims"], warehouse, root, partition_key="2025-03-01")
    assert not result.success
    [message] = failure_messages(result)
    assert "claims_system/claims/claims_2025-03-01.csv" in message and "denial_reason_code" in message
    assert "LandingFileError" in message
    with warehouse.connect() as conn:
        assert conn.scalar("select count(*) from staging.claims") == 4
        assert conn.fetchall("select status from staging.load_audit order by finished_at") == [
            ("loaded",),
            ("failed",),
        ]


@pytest.mark.duckdb
def test_the_duckdb_file_is_released_when_the_asset_returns(
    make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    warehouse = make_warehouse("duckdb")
    root = tmp_path / "landing"
    shutil.copytree(HANDMADE, root)
    assert run_staging(["products"], warehouse, root, partition_key="2025-03-01").success
    probe = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "print(c.execute('select count(*) from staging.products').fetchone()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, warehouse.duckdb_path], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "6"


@pytest.mark.duckdb
def test_check_keys_are_declared_per_asset() -> None:
    claims = staging_asset("claims")
    assert AssetCheckKey(AssetKey(["staging", "claims"]), "reconciliation") in claims.check_keys


# A member number (PHI in claims) carried only by the defective rows: no metadata may show it.
PHI_MEMBER = "MZZPHI9731"
RANGE_DAYS = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4)]
DEFECTIVE_DAY = date(2025, 3, 3)


def defective_claim_lines(load_date: date) -> tuple[str, str]:
    """Two rows the loader quarantines, both with the PHI member number: a claim_status outside its
    list, and a row with one field too many (its raw values are a JSON array)."""
    bogus_status = clean_claim_line(load_date, 900, PHI_MEMBER).replace(",PAID,", ",BOGUS,")
    extra_field = clean_claim_line(load_date, 901, PHI_MEMBER) + ",surplus"
    return bogus_status, extra_field


def write_range_with_defects(root: Path) -> None:
    """4 + i clean rows per day; the defective day also gets the two quarantined rows (lines 8, 9)."""
    for i, day in enumerate(RANGE_DAYS):
        write_clean_claims(root, day, 4 + i, defective_claim_lines(day) if day == DEFECTIVE_DAY else ())


def all_metadata_text(result: ExecuteInProcessResult) -> str:
    """Everything the run recorded as metadata or description of materializations and check results."""
    parts = [repr(dict(m.materialization.metadata)) for m in result.get_asset_materialization_events()]
    parts += [repr(dict(e.metadata)) + repr(e.description) for e in result.get_asset_check_evaluations()]
    return "\n".join(parts)


@pytest.mark.parametrize("kind", KINDS)
def test_a_range_run_reports_every_partition_on_its_own_and_the_defect_rate_warns(
    kind: str,
    make_warehouse: Callable[[str], WarehouseResource],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv(MAX_DEFECT_RATE_ENV, raising=False)
    root = tmp_path / "landing"
    write_range_with_defects(root)
    warehouse = make_warehouse(kind)
    result = run_staging(["claims"], warehouse, root, tags=range_tags("2025-03-01", "2025-03-04"))
    assert result.success  # 2 of 8 rows of 2025-03-03 quarantined (25% > 5%): a warning only

    with warehouse.connect() as conn:
        staged = dict(conn.fetchall("select _load_date, count(*) from staging.claims group by _load_date"))
        quarantined = dict(
            conn.fetchall(
                "select _load_date, count(*) from staging.quarantine where feed = 'claims' group by _load_date"
            )
        )
        raw = [r[0] for r in conn.fetchall("select raw_values from staging.quarantine where feed = 'claims'")]
    assert quarantined == {DEFECTIVE_DAY: 2}
    assert all(PHI_MEMBER in value for value in raw)  # the PHI value is there to leak

    metadata = partition_metadata(result, "claims")
    assert set(metadata) == {d.isoformat() for d in RANGE_DAYS}
    for day in RANGE_DAYS:  # each partition its own figures, equal to the tables' counts
        m = metadata[day.isoformat()]
        assert m["file"] == f"claims_system/claims/claims_{day}.csv" and m["status"] == "loaded"
        assert m["rows_staged"] == m["dagster/row_count"] == staged[day]
        assert m["rows_quarantined"] == quarantined.get(day, 0)
        assert m["rows_read"] == staged[day] + quarantined.get(day, 0)
        assert m["reader"] in {"engine", "python"}
    defective = metadata[DEFECTIVE_DAY.isoformat()]
    assert (defective["rows_read"], defective["rows_staged"], defective["rows_quarantined"]) == (8, 6, 2)
    assert sum(defective["reason_code_counts"].values()) >= 2
    preview = [r.data for r in defective["quarantine_preview"].records]
    assert [r["line"] for r in preview] == [8, 9]
    assert "wrong_field_count" in preview[1]["reason_codes"] and preview[0]["reason_codes"]
    assert preview[1]["raw_values"] == "***"  # a field array cannot be told apart by column: masked whole
    assert (
        '"member_no": "***"' in preview[0]["raw_values"]
        and '"claim_status": "BOGUS"' in preview[0]["raw_values"]
    )
    assert "quarantine_preview" not in metadata["2025-03-01"]

    evaluations = evaluations_by_partition(result, "claims")
    assert set(evaluations) == {(name, d.isoformat()) for name in CHECK_NAMES for d in RANGE_DAYS}
    failed = {key for key, e in evaluations.items() if not e.passed}
    assert failed == {("defect_rate", DEFECTIVE_DAY.isoformat())}
    warning = evaluations[("defect_rate", DEFECTIVE_DAY.isoformat())]
    assert warning.severity == AssetCheckSeverity.WARN and not warning.blocking
    assert warning.metadata["file"].value == f"claims_system/claims/claims_{DEFECTIVE_DAY}.csv"
    assert warning.metadata["metric_value"].value == pytest.approx(0.25)
    assert [r.data["_source_line"] for r in warning.metadata["sample"].value.records] == [8, 9]
    assert "2 of 8 rows quarantined" in warning.description
    for day in RANGE_DAYS:
        assert (
            evaluations[("reconciliation", day.isoformat())].metadata["rows_read"].value
            == (metadata[day.isoformat()]["rows_read"])
        )
    assert PHI_MEMBER not in all_metadata_text(result)
    report_run(result)  # what `aca-warehouse run` prints: one line per check, naming the load dates
    out = capsys.readouterr().out
    assert "Asset checks: 19 passed, 0 failed, 1 warned" in out
    assert "warning: check defect_rate on staging/claims warned for load date(s) 2025-03-03\n" in out


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_blocking_check_names_the_file_shows_rows_without_phi_and_fails_the_run(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = tmp_path / "landing"
    write_range_with_defects(root)
    warehouse = make_warehouse(kind)
    first = run_staging(["claims"], warehouse, root, tags=range_tags("2025-03-01", "2025-03-04"))
    assert first.success
    # Damage one partition's staged rows behind the loader's back: a value outside its list (on a row
    # now carrying the PHI member number) and a duplicated key.
    with warehouse.connect() as conn:
        conn.execute(
            "update staging.claims set claim_status = 'BOGUS', member_no = %s "
            "where _load_date = %s and claim_id = 'CLM03020002'",
            [PHI_MEMBER, date(2025, 3, 2)],
        )
        conn.execute(
            "update staging.claims set claim_id = 'CLM03020000' where _load_date = %s and claim_id = 'CLM03020001'",
            [date(2025, 3, 2)],
        )
        conn.execute(
            "update staging.claims set claim_type = null where _load_date = %s and claim_id = 'CLM03040003'",
            [date(2025, 3, 4)],
        )
    again = run_staging(["claims"], warehouse, root, tags=range_tags("2025-03-01", "2025-03-04"))
    assert not again.success  # blocking checks failed
    evaluations = evaluations_by_partition(again, "claims")
    assert set(evaluations) == {(name, d.isoformat()) for name in CHECK_NAMES for d in RANGE_DAYS}
    assert {key for key, e in evaluations.items() if not e.passed} == {
        ("accepted_values", "2025-03-02"),
        ("key_unique_within_load", "2025-03-02"),
        ("required_not_null", "2025-03-04"),
        ("defect_rate", "2025-03-03"),
    }
    outside = evaluations[("accepted_values", "2025-03-02")]
    assert outside.severity == AssetCheckSeverity.ERROR and outside.blocking
    assert outside.metadata["file"].value == "claims_system/claims/claims_2025-03-02.csv"
    assert "claims_2025-03-02.csv" in outside.description
    [row] = [r.data for r in outside.metadata["sample"].value.records]
    assert row["_source_line"] == 4 and row["claim_id"] == "CLM03020002"
    assert row["problem"] == "claim_status = 'BOGUS' not accepted"
    assert outside.metadata["outside_counts"].value == {"claim_status": 1}
    assert "1 staged value(s) outside their accepted list (claim_status: 1)" in outside.description
    null = evaluations[("required_not_null", "2025-03-04")]
    assert null.metadata["file"].value == "claims_system/claims/claims_2025-03-04.csv"
    [row] = [r.data for r in null.metadata["sample"].value.records]
    assert (row["_source_line"], row["claim_id"], row["problem"]) == (5, "CLM03040003", "claim_type is null")
    duplicate = evaluations[("key_unique_within_load", "2025-03-02")]
    [row] = [r.data for r in duplicate.metadata["sample"].value.records]
    assert (row["claim_id"], row["copies"], row["first_line"], row["last_line"]) == ("CLM03020000", 2, 2, 3)
    assert PHI_MEMBER not in all_metadata_text(again)
    # The partitions were not reloaded (unchanged files): each keeps the figures of its load.
    before, after = partition_metadata(first, "claims"), partition_metadata(again, "claims")
    assert {k: m["status"] for k, m in after.items()} == {d.isoformat(): "unchanged" for d in RANGE_DAYS}
    figures = ("file", "rows_read", "rows_staged", "rows_quarantined", "dagster/row_count", "load_id")
    assert {k: [m[f] for f in figures] for k, m in after.items()} == {
        k: [m[f] for f in figures] for k, m in before.items()
    }
