"""Loading a window's files in batches (DuckDB and PostgreSQL): each file ends up exactly as when loaded alone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from aca_warehouse.contract.dictionary import load_dictionary
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource
from aca_warehouse.staging import FAILED, LOADED, UNCHANGED, WindowLoadReport, load_feed_window
from aca_warehouse.staging.results import FileLoadResult
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]
HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
EXPECTED: dict[str, Any] = yaml.safe_load((HANDMADE / "expected.yaml").read_text(encoding="utf-8"))
DICTIONARY = load_dictionary()
NOT_COMPARED = ("_load_id", "_loaded_at")  # new per load by design


# -- building landing windows ------------------------------------------------------------------


def handmade_load_date(feed: str) -> date:
    return date.fromisoformat(Path(EXPECTED[feed]["file"]).stem.rsplit("_", 1)[1])


def file_for(root: Path, feed: str, load_date: date) -> Path:
    spec = DICTIONARY.feeds[feed]
    path = root / spec.directory / f"{spec.file_prefix}_{load_date.isoformat()}.{spec.extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def rewritten(data: bytes, records: Callable[[list[list[str]]], list[list[str]]]) -> bytes:
    """The CSV rewritten with the csv module after `records` rearranged its records (header first)."""
    bom = data.startswith(b"\xef\xbb\xbf")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        records(list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))))
    )
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def reversed_columns(data: bytes) -> bytes:
    """The same CSV records with the columns in reverse order (rows of the wrong width as they are)."""
    return rewritten(data, lambda rows: [r[::-1] if len(r) == len(rows[0]) else r for r in rows])


def reversed_records(feed: str, data: bytes) -> bytes:
    """The same records, last first (so each line is at another line number than in the original)."""
    if DICTIONARY.feeds[feed].is_jsonl:
        return b"\n".join(data.rstrip(b"\n").split(b"\n")[::-1]) + b"\n"
    return rewritten(data, lambda rows: rows[:1] + rows[:0:-1])


def shifted(feed: str, data: bytes) -> bytes:
    """The same records three lines further down (blank lines after the header)."""
    if DICTIONARY.feeds[feed].is_jsonl:
        return b"\n\n\n" + data
    header, rest = data.split(b"\n", 1)
    return header + b"\n\n \n\t\n" + rest


def rejected_copy(feed: str, data: bytes) -> bytes:
    """A copy the reader rejects: CSV without its first contract column, JSON Lines not UTF-8 halfway."""
    if DICTIONARY.feeds[feed].is_jsonl:
        middle = len(data) // 2
        return data[:middle] + b"\xff" + data[middle:]
    first = DICTIONARY.feeds[feed].column_names[0]
    text = data.decode("utf-8-sig")
    header, rest = text.split("\n", 1)
    return (header.replace(first, f"not_{first}", 1) + "\n" + rest).encode("utf-8")


def build_window(root: Path, feed: str) -> dict[str, date]:
    """The hand-made file of the feed on several load dates: as it is on its own date, its records
    three lines further down the day before, its records in reverse order the day after (the same
    keys and values in every file, at other lines), its columns reversed (CSV: another header
    layout), and a rejected copy. Returns the dates by role."""
    original = (HANDMADE / EXPECTED[feed]["file"]).read_bytes()
    day = handmade_load_date(feed)
    dates = {
        "original": day,
        "day_before": day - timedelta(days=1),
        "day_after": day + timedelta(days=1),
        "rejected": day + timedelta(days=3),
    }
    file_for(root, feed, dates["original"]).write_bytes(original)
    file_for(root, feed, dates["day_before"]).write_bytes(shifted(feed, original))
    file_for(root, feed, dates["day_after"]).write_bytes(reversed_records(feed, original))
    if not DICTIONARY.feeds[feed].is_jsonl:
        dates["reordered"] = day + timedelta(days=2)
        file_for(root, feed, dates["reordered"]).write_bytes(reversed_columns(original))
    file_for(root, feed, dates["rejected"]).write_bytes(rejected_copy(feed, original))
    return dates


# -- reading back what a warehouse holds --------------------------------------------------------


def contents(conn: WarehouseConnection, feed: str) -> dict[str, Any]:
    """Staged rows, quarantine rows and the latest audit row of every partition, without load ids."""
    staged_columns = [c for c in conn.columns("staging", feed) if c not in NOT_COMPARED + ("_extra",)]
    quarantine_columns = [c for c in conn.columns("staging", "quarantine") if c not in NOT_COMPARED]
    audit = {}
    for row in conn.fetchall(
        "select load_date, status, source_file, file_checksum, file_bytes, rows_read, rows_staged, "
        "rows_quarantined, reason_code_counts, message from staging.load_audit where feed = %s "
        "order by finished_at, load_id",
        [feed],
    ):
        audit[row[0]] = row[1:]
    return {
        "staged": sorted(conn.fetchall(f"select {', '.join(staged_columns)} from staging.{feed}"), key=repr),
        "extra": sorted(
            (str(d), line, json.dumps(json.loads(e) if e else None))
            for d, line, e in conn.fetchall(f"select _load_date, _source_line, _extra from staging.{feed}")
        ),
        "quarantine": sorted(
            conn.fetchall(
                f"select {', '.join(quarantine_columns)} from staging.quarantine where feed = %s", [feed]
            ),
            key=repr,
        ),
        "audit": audit,
    }


def load_ids_agree_with_the_audit(conn: WarehouseConnection, feed: str) -> None:
    """Every staged and quarantined row carries the load id of its partition's last successful load."""
    latest = dict(
        conn.fetchall(
            "select load_date, load_id from staging.load_audit where feed = %s and status = %s "
            "order by finished_at, load_id",
            [feed, LOADED],
        )
    )
    in_tables = conn.fetchall(
        f"select _load_date, _load_id from staging.{feed} union "
        f"select _load_date, _load_id from staging.quarantine where feed = %s",
        [feed],
    )
    assert in_tables and all(latest[d] == load_id for d, load_id in in_tables)
    assert len({load_id for _, load_id in in_tables}) == len({d for d, _ in in_tables})


def load_ids(conn: WarehouseConnection) -> dict[date, str]:
    """Partition -> the load id its staged and quarantined claims rows carry."""
    rows = conn.fetchall(
        "select _load_date, _load_id from staging.claims union "
        "select _load_date, _load_id from staging.quarantine where feed = 'claims'"
    )
    assert len(rows) == len({d for d, _ in rows})
    return dict(rows)


def load_one_by_one(conn: WarehouseConnection, feed: str, root: Path, dates: list[date]) -> None:
    for day in sorted(dates):
        load_feed_window(conn, feed, root, day, day + timedelta(days=1))


def window_of(dates: dict[str, date]) -> tuple[date, date]:
    return min(dates.values()), max(dates.values()) + timedelta(days=1)


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", list(EXPECTED))
@pytest.mark.parametrize("kind", KINDS)
def test_a_batched_window_loads_every_file_as_if_alone(
    kind: str, feed: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    """Copies of one file on several dates in one batch: keys, exact repeats and crosswalk overlaps are
    judged within each file, rules read each file's own load date, a reordered file is its own
    batch, and a rejected file (at its header, or halfway through for JSON Lines) loads nothing."""
    root = tmp_path / "landing"
    dates = build_window(root, feed)
    with make_warehouse(kind).connect() as batched:
        report = load_feed_window(batched, feed, root, *window_of(dates))
        got = contents(batched, feed)
        load_ids_agree_with_the_audit(batched, feed)
    with make_warehouse(kind).connect() as alone:
        load_one_by_one(alone, feed, root, list(dates.values()))
        want = contents(alone, feed)

    assert got == want
    assert [r.load_date for r in report.results] == sorted(d for r, d in dates.items() if r != "rejected")
    assert {r.status for r in report.results} == {LOADED}
    rejected = file_for(root, feed, dates["rejected"]).relative_to(root).as_posix()
    assert [e.path for e in report.errors] == [rejected]
    assert got["audit"][dates["rejected"]][:2] == (FAILED, rejected)
    expected = EXPECTED[feed]  # the hand-made expectations hold for the file on its own date
    assert [line for d, line, _ in got["extra"] if d == str(dates["original"])] == expected["staged"]
    assert got["audit"][dates["original"]][5:7] == (len(expected["staged"]), len(expected["quarantined"]))


@pytest.fixture()
def claims_window(tmp_path: Path) -> tuple[Path, dict[str, date]]:
    root = tmp_path / "landing"
    dates = build_window(root, "claims")
    dates["unchanged"] = handmade_load_date("claims") + timedelta(days=5)
    file_for(root, "claims", dates["unchanged"]).write_bytes(
        (HANDMADE / EXPECTED["claims"]["file"]).read_bytes()
    )
    return root, dates


@pytest.mark.parametrize("kind", KINDS)
def test_unchanged_rejected_defective_and_reordered_files_in_one_window(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], claims_window: tuple[Path, dict[str, date]]
) -> None:
    root, dates = claims_window
    window = window_of(dates)
    unchanged = dates["unchanged"]
    with make_warehouse(kind).connect() as conn:
        load_feed_window(conn, "claims", root, unchanged, unchanged + timedelta(days=1))
        before = contents(conn, "claims")
        report = load_feed_window(conn, "claims", root, *window)
        got = contents(conn, "claims")
        statuses = conn.fetchall(
            "select load_date, status from staging.load_audit where feed = 'claims' order by load_date, finished_at"
        )
        unchanged_rows = conn.fetchall(
            "select _load_id from staging.claims where _load_date = %s union "
            "select _load_id from staging.quarantine where _load_date = %s",
            [unchanged, unchanged],
        )
        first_load = conn.scalar(
            "select load_id from staging.load_audit where load_date = %s and status = 'loaded'", [unchanged]
        )
    with make_warehouse(kind).connect() as alone:
        load_one_by_one(alone, "claims", root, list(dates.values()))
        want = contents(alone, "claims")

    by_date = {r.load_date: r for r in report.results}
    assert (
        by_date[unchanged].status == UNCHANGED
        and f"identical to load {first_load}" in by_date[unchanged].message
    )
    assert {d: r.status for d, r in by_date.items() if d != unchanged} == {
        d: LOADED for role, d in dates.items() if role not in ("unchanged", "rejected")
    }
    assert by_date[dates["original"]].rows_quarantined == len(EXPECTED["claims"]["quarantined"])
    assert by_date[dates["original"]].reason_code_counts["duplicate_key"] >= 1
    assert [e.path for e in report.errors] == [
        file_for(root, "claims", dates["rejected"]).relative_to(root).as_posix()
    ]
    assert "header lacks column(s)" in report.errors[0].problem
    assert (unchanged, UNCHANGED) in statuses and (dates["rejected"], FAILED) in statuses
    assert unchanged_rows == [(first_load,)]  # the unchanged partition was not touched
    assert {k: v for k, v in got.items() if k != "audit"} == {k: v for k, v in want.items() if k != "audit"}
    for day, audit in want["audit"].items():
        if day != unchanged:
            assert got["audit"][day] == audit
    assert got["audit"][unchanged][0] == UNCHANGED
    assert got["audit"][unchanged][1:8] == before["audit"][unchanged][1:8]  # file, checksum, counts


@pytest.mark.parametrize("kind", KINDS)
def test_rerunning_a_window_is_idempotent_and_a_corrected_file_replaces_only_its_partition(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], claims_window: tuple[Path, dict[str, date]]
) -> None:
    root, dates = claims_window
    window = window_of(dates)
    corrected_day = dates["original"]
    with make_warehouse(kind).connect() as conn:
        load_feed_window(conn, "claims", root, *window)
        first = contents(conn, "claims")
        first_ids = load_ids(conn)

        again = load_feed_window(conn, "claims", root, *window)
        second = contents(conn, "claims")

        path = file_for(root, "claims", corrected_day)
        lines = path.read_bytes().split(b"\r\n")
        path.write_bytes(
            b"\r\n".join(lines[:5] + lines[9:])
        )  # drop 4 physical lines (a quoted record among them)
        third_report = load_feed_window(conn, "claims", root, *window)
        third = contents(conn, "claims")
        third_ids = load_ids(conn)
    with make_warehouse(kind).connect() as alone:
        load_one_by_one(alone, "claims", root, list(dates.values()))
        want = contents(alone, "claims")

    assert {r.status for r in again.results} == {UNCHANGED} and len(again.errors) == 1
    assert {k: v for k, v in second.items() if k != "audit"} == {
        k: v for k, v in first.items() if k != "audit"
    }
    assert {r.load_date: r.status for r in third_report.results if r.status == LOADED} == {
        corrected_day: LOADED
    }
    assert {d: i for d, i in third_ids.items() if d != corrected_day} == {
        d: i for d, i in first_ids.items() if d != corrected_day
    }
    assert third_ids[corrected_day] != first_ids[corrected_day]
    assert third["staged"] == want["staged"] and third["quarantine"] == want["quarantine"]
    assert third["audit"][corrected_day] == want["audit"][corrected_day]
    assert third["staged"] != first["staged"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_rejected_halfway_through_loads_nothing_while_its_batch_loads(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    """The reader finds the problem after the file's first records went to the batch's raw table."""
    root = tmp_path / "landing"
    original = (HANDMADE / EXPECTED["claims"]["file"]).read_bytes()
    clean_line = original.split(b"\r\n")[1]
    header = original.split(b"\r\n")[0]
    body = b"".join(clean_line.replace(b"C1,1,1", f"K{i},1,1".encode()) + b"\n" for i in range(2000))
    day = handmade_load_date("claims")
    file_for(root, "claims", day).write_bytes(original)
    file_for(root, "claims", day + timedelta(days=1)).write_bytes(
        header + b"\n" + body + clean_line.replace(b"C1,1,1", b"X\x00,1,1") + b"\n"
    )
    file_for(root, "claims", day + timedelta(days=2)).write_bytes(
        header + b"\n" + body + b'Y,"unterminated\n'
    )
    file_for(root, "claims", day + timedelta(days=3)).write_bytes(original)
    with make_warehouse(kind).connect() as conn:
        report = load_feed_window(conn, "claims", root, day, day + timedelta(days=4))
        partitions = conn.fetchall(
            "select _load_date, count(*) from (select _load_date from staging.claims union all "
            "select _load_date from staging.quarantine) t group by _load_date order by 1"
        )
        audit = conn.fetchall("select load_date, status, message from staging.load_audit order by load_date")
    assert [r.load_date for r in report.results] == [day, day + timedelta(days=3)]
    assert [e.path.rsplit("_", 1)[1] for e in report.errors] == [
        f"{day + timedelta(days=1)}.csv",
        f"{day + timedelta(days=2)}.csv",
    ]
    assert "NUL bytes" in report.errors[0].problem and "not tokenizable" in report.errors[1].problem
    rows = len(EXPECTED["claims"]["staged"]) + len(EXPECTED["claims"]["quarantined"])
    assert partitions == [(day, rows), (day + timedelta(days=3), rows)]  # none of the 2,000 good lines
    assert [(d, s) for d, s, _ in audit] == [
        (day, LOADED),
        (day + timedelta(days=1), FAILED),
        (day + timedelta(days=2), FAILED),
        (day + timedelta(days=3), LOADED),
    ]
    assert audit[1][2] == report.errors[0].problem


@pytest.mark.parametrize("kind", KINDS)
def test_an_engine_error_fails_the_load_and_keeps_every_partition(
    kind: str,
    make_warehouse: Callable[[str], WarehouseResource],
    claims_window: tuple[Path, dict[str, date]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aca_warehouse.staging import loader

    root, dates = claims_window
    window = window_of(dates)
    real_insert = loader.insert_audit_rows

    def failing_insert(conn: WarehouseConnection, results: list[FileLoadResult], **kwargs: Any) -> None:
        if any(r.status == LOADED for r in results):  # inside the batch's transaction, after its inserts
            raise RuntimeError("boom")
        real_insert(conn, results, **kwargs)

    with make_warehouse(kind).connect() as conn:
        load_feed_window(conn, "claims", root, *window)
        before = contents(conn, "claims")
        for role in ("original", "day_before"):
            path = file_for(root, "claims", dates[role])
            path.write_bytes(path.read_bytes() + b"\r\nZ1,1,1")  # changed: a short row more
        monkeypatch.setattr(loader, "insert_audit_rows", failing_insert)
        with pytest.raises(RuntimeError, match="boom") as raised:
            load_feed_window(conn, "claims", root, *window)
        after = contents(conn, "claims")
        failed = conn.fetchall(
            "select load_date, message from staging.load_audit where status = 'failed' and message like '%%boom%%'"
        )
    assert any("while loading a batch of" in note for note in raised.value.__notes__)
    assert after["staged"] == before["staged"] and after["quarantine"] == before["quarantine"]
    assert sorted(failed) == [
        (dates["day_before"], "RuntimeError: boom"),
        (dates["original"], "RuntimeError: boom"),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_small_batch_bound_gives_the_same_result(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = tmp_path / "landing"
    dates = build_window(root, "enrollment_events")
    results: list[dict[str, Any]] = []
    reports: list[WindowLoadReport] = []
    for batch_bytes in (1, 10**9):  # one file per batch, every file in one batch
        with make_warehouse(kind).connect() as conn:
            reports.append(
                load_feed_window(conn, "enrollment_events", root, *window_of(dates), batch_bytes=batch_bytes)
            )
            results.append(contents(conn, "enrollment_events"))
    assert results[0] == results[1]
    assert [r.as_metadata_row()["rows_read"] for r in reports[0].results] == [
        r.as_metadata_row()["rows_read"] for r in reports[1].results
    ]


@pytest.mark.postgres
def test_a_batch_waits_for_the_advisory_lock_of_every_partition_it_replaces(
    make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    """Another run holding one partition's lock (the key single-file loads used) holds up the batch."""
    import threading

    import psycopg

    root = tmp_path / "landing"
    dates = build_window(root, "premiums")
    window = window_of(dates)
    warehouse = make_warehouse("postgres")
    with warehouse.connect() as conn:  # create the tables, so the batch's first statements do not wait
        load_feed_window(conn, "premiums", root, dates["day_before"], dates["day_before"] + timedelta(days=1))
    finished: list[WindowLoadReport] = []

    def load() -> None:
        with warehouse.connect() as conn:
            finished.append(load_feed_window(conn, "premiums", root, *window))

    with psycopg.connect(warehouse.pg_dsn) as other:  # not autocommit: the lock lasts until commit
        other.execute(
            "select pg_advisory_xact_lock(hashtext('staging.premiums'), %s)", [dates["day_after"].toordinal()]
        )
        loader = threading.Thread(target=load)
        loader.start()
        loader.join(timeout=3)
        waiting = loader.is_alive()
        partitions = other.execute("select count(distinct _load_date) from staging.premiums").fetchone()
        other.commit()
    loader.join(timeout=60)
    assert waiting and partitions == (1,)  # nothing of the batch committed while it waited
    assert not loader.is_alive() and {r.status for r in finished[0].results} == {LOADED, UNCHANGED}
