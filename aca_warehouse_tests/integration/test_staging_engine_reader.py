"""The engine reader (DuckDB and PostgreSQL): taken for plain files, and exactly the Python normaliser's result.

Every comparison loads the same landing window twice into fresh warehouses, once with the
engine reader and once with the Python normaliser alone, and compares staged rows, quarantine
rows (codes, details, raw values, line numbers) and audit counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from aca_warehouse.contract.dictionary import load_dictionary
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource
from aca_warehouse.staging import load_feed_window
from aca_warehouse.staging.engine_reader import scan_landing_file
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]
DICTIONARY = load_dictionary()
CLAIMS = DICTIONARY.feeds["claims"]
EVENTS = DICTIONARY.feeds["enrollment_events"]
NOT_COMPARED = ("_load_id", "_loaded_at")
START = date(2025, 3, 1)
DAY = date(2025, 6, 2)

generator = pytest.importorskip("aca_warehouse.generator")


# -- helpers ------------------------------------------------------------------------------------


def contents(conn: WarehouseConnection, feed: str) -> dict[str, Any]:
    """Staged rows, quarantine rows and audit counts of a feed, without load ids and timestamps."""
    staged_columns = [c for c in conn.columns("staging", feed) if c not in NOT_COMPARED + ("_extra",)]
    quarantine_columns = [c for c in conn.columns("staging", "quarantine") if c not in NOT_COMPARED]
    return {
        "staged": sorted(conn.fetchall(f"select {', '.join(staged_columns)} from staging.{feed}"), key=repr),
        "extra": sorted(  # compared as JSON text exactly: the normaliser's spelling
            conn.fetchall(f"select _load_date, _source_line, _extra from staging.{feed}"), key=repr
        ),
        "quarantine": sorted(
            conn.fetchall(
                f"select {', '.join(quarantine_columns)} from staging.quarantine where feed = %s", [feed]
            ),
            key=repr,
        ),
        "audit": sorted(
            (str(d), s, f, c, n, r, st, q, codes, re.sub(r"; read by .*$", "", m))
            for d, s, f, c, n, r, st, q, codes, m in conn.fetchall(
                "select load_date, status, source_file, file_checksum, file_bytes, rows_read, rows_staged, "
                "rows_quarantined, reason_code_counts, message from staging.load_audit where feed = %s",
                [feed],
            )
        ),
    }


def readers(conn: WarehouseConnection, feed: str) -> dict[str, str]:
    """source file -> reader of its loaded audit row (and the message saying why, for Python)."""
    return {
        f: f"{r}: {m}"
        for f, r, m in conn.fetchall(
            "select source_file, reader, message from staging.load_audit where feed = %s and status = 'loaded'",
            [feed],
        )
    }


def load_both(
    kind: str,
    make_warehouse: Callable[[str], WarehouseResource],
    root: Path,
    feed: str,
    start: date,
    end: date,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The feed's window loaded with the engine reader and with the Python normaliser alone."""
    loaded = []
    for engine_reader in (True, False):
        with make_warehouse(kind).connect() as conn:
            report = load_feed_window(conn, feed, root, start, end, engine_reader=engine_reader)
            loaded.append((contents(conn, feed), readers(conn, feed), [str(e) for e in report.errors]))
    (engine, engine_readers, engine_errors), (python, _, python_errors) = loaded
    assert engine_errors == python_errors
    return engine, python, engine_readers


def write(root: Path, feed_name: str, load_date: date, data: bytes) -> Path:
    feed = DICTIONARY.feeds[feed_name]
    path = root / feed.directory / f"{feed.file_prefix}_{load_date.isoformat()}.{feed.extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engine_clean") / "landing"
    generator.generate(out, members=300, start=START, days=20, seed=21, progress=False)
    return out


@pytest.fixture(scope="module")
def defective_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engine_defects") / "landing"
    generator.generate(
        out, members=300, start=START, days=20, seed=22, defect_rate=0.03, malformed_file=True, progress=False
    )
    return out


# -- the one pass over a file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "jsonl", "problem"),
    [
        (b"a,b\n1,2\n", False, None),
        (b"a,b\r\n1,2\r\n", False, None),
        (b'a,b\n1,"2"\n', False, "double quotes"),
        (b"a,b\n1,2\r3\n", False, "carriage returns that do not end lines"),
        (b"a,b\n1,2\x00\n", False, "NUL"),
        (b"a,b\n1,\xff\n", False, "not valid UTF-8"),
        (b"", False, "empty"),
        (b"", True, None),
        (b'{"a": "x"}\n', True, None),
        (b'{"a": "x\\"y"}\n', True, "backslashes"),
        (b'{"a": "x"}\r\n', True, "carriage returns"),
        (b'{"a": "x\x01"}\n', True, "control characters"),
        # lines over the engine bound (1 MiB) go to the normaliser, wherever they fall in the chunks
        (b"a,b\n1," + b"x" * (1 << 20) + b"\n2,y\n", False, "a line over 1,048,576 bytes"),
        (b"a,b\n1," + b"x" * (3 << 20), False, "a line over 1,048,576 bytes"),
        (b"a,b\n" + b"x" * ((1 << 20) - 6) + b"\n1," + b"x" * ((1 << 20) - 2) + b"\n", False, None),
        (b'{"a": "' + b"x" * (2 << 20) + b'"}\n', True, "a line over 1,048,576 bytes"),
    ],
)
def test_the_scan_says_which_files_the_engine_can_read(
    tmp_path: Path, data: bytes, jsonl: bool, problem: str | None
) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    scan = scan_landing_file(path, EVENTS if jsonl else CLAIMS)
    import hashlib

    assert scan.checksum == hashlib.sha256(data).hexdigest() and scan.size == len(data)
    if problem is None:
        assert scan.engine_problem is None
    else:
        assert scan.engine_problem is not None and problem in scan.engine_problem


def test_the_scan_counts_lines_finds_padding_and_samples_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    lines = ["a,b"] + [f"{i},x{i}" for i in range(300_000)]
    path.write_bytes(("\n".join(lines)).encode())  # no line break after the last line
    scan = scan_landing_file(path, CLAIMS)
    assert scan.lines == len(lines) and scan.records(is_jsonl=False) == len(lines) - 1
    assert not scan.padded and scan.first_line == "a,b"
    assert len(scan.samples) >= 3 and scan.samples[-1] == (len(lines), lines[-1])
    assert all(lines[n - 1] == text for n, text in scan.samples)
    for padded in (
        b"a,b\n1, 2\n",
        b"a,b\n1 ,2\n",
        b"a,b\n 1,2\n",
        b"a,b\n1,2 \n",
        b"a,b\n1,2 ",
        b"a,b\n1,\t2\n",
    ):
        path.write_bytes(padded)
        assert scan_landing_file(path, CLAIMS).padded, padded
    path.write_bytes(b"a,b\n1,two words\n")
    assert not scan_landing_file(path, CLAIMS).padded


# -- the fast path is taken, and gives the normaliser's result ------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_clean_generated_files_are_read_by_the_engine_with_the_normalisers_result(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], clean_landing: Path
) -> None:
    for feed in DICTIONARY.feeds:
        engine, python, used = load_both(kind, make_warehouse, clean_landing, feed, START, date(2026, 1, 1))
        assert engine == python, feed
        assert engine["staged"], feed
        if feed in ("claims", "enrollment_events", "premiums"):  # (members: names with quoted commas)
            assert used and all(r.startswith("engine:") for r in used.values()), (feed, used)


@pytest.mark.parametrize("kind", KINDS)
def test_generated_files_with_defects_give_the_normalisers_result(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], defective_landing: Path
) -> None:
    for feed in DICTIONARY.feeds:
        engine, python, _ = load_both(kind, make_warehouse, defective_landing, feed, START, date(2026, 1, 1))
        assert engine == python, feed


CSV_HEADER = ",".join(c.name for c in CLAIMS.columns)
CLAIM = (
    "CLM{n},1,1,PROFESSIONAL,PAID,M{n},PRD-1,1234567893,1234567893,2025-05-01,2025-05-01,2025-05-20,"
    "2025-06-02,11,99213,,R05.9,1,100.00,80.00,60.00,20.00,0.00,0.00,"
)


def claims_file(*records: str, header: str = CSV_HEADER, newline: str = "\n", final: bool = True) -> bytes:
    text = newline.join([header, *records]) + (newline if final else "")
    return text.encode("utf-8")


CSV_CASES: dict[str, tuple[bytes, bool]] = {  # name -> (file, read by the engine)
    "plain": (claims_file(*(CLAIM.format(n=n) for n in range(5))), True),
    "padded and blank fields": (
        claims_file(
            CLAIM.format(n=1).replace(",PAID,", ", PAID ,"), CLAIM.format(n=2).replace("PRD-1", "  ")
        ),
        True,
    ),
    "bad values": (
        claims_file(
            CLAIM.format(n=1).replace("100.00", "1e3"),
            CLAIM.format(n=2).replace("2025-05-01", "2025-02-30"),
            CLAIM.format(n=1),
            CLAIM.format(n=1),
        ),
        True,
    ),
    "crlf": (claims_file(CLAIM.format(n=1), CLAIM.format(n=2), newline="\r\n"), True),
    "no final line break": (claims_file(CLAIM.format(n=1), CLAIM.format(n=2), final=False), True),
    "byte order mark": (b"\xef\xbb\xbf" + claims_file(CLAIM.format(n=1)), True),
    "extra column": (
        claims_file(CLAIM.format(n=1) + ",x", CLAIM.format(n=2) + ",", header=CSV_HEADER + ",note"),
        True,
    ),
    "reordered header": (
        claims_file(
            ",".join(reversed(CLAIM.format(n=1).split(","))), header=",".join(reversed(CSV_HEADER.split(",")))
        ),
        True,
    ),
    "ragged row": (claims_file(CLAIM.format(n=1), CLAIM.format(n=2) + ",x", CLAIM.format(n=3)), False),
    "blank line": (claims_file(CLAIM.format(n=1), "", CLAIM.format(n=3)), False),
    "whitespace line": (claims_file(CLAIM.format(n=1), "   ", CLAIM.format(n=3)), False),
    "quoted field": (claims_file(CLAIM.format(n=1).replace("R05.9", '"R05.9,I10"')), False),
    "blank line before header": (b"\n" + claims_file(CLAIM.format(n=1)), False),
}

EVENT = (
    '{{"event_id": "E{n}", "event_type": "PlanSelected", "occurred_at": "2025-06-01T10:00:00Z", '
    '"application_id": "A{n}", "member_id": "M{n}", "subscriber_id": "M{n}", '
    '"hios_plan_id": "12345VA1234567-01", "coverage_start": "2025-07-01", '
    '"monthly_premium": {premium}, "aptc_amount": 0{more}}}'
)


def event(n: int, premium: str = "412.50", more: str = "") -> str:
    return EVENT.format(n=n, premium=premium, more=more)


JSONL_CASES: dict[str, tuple[bytes, bool]] = {
    "plain": ("\n".join(event(n) for n in range(5)).encode() + b"\n", True),
    "numbers keep their text": (
        "\n".join(
            [event(1, "412.50"), event(2, "1e3"), event(3, "-0"), event(4, '"  12.5  "'), event(5, "12.345")]
        ).encode()
        + b"\n",
        True,
    ),
    "literals, blanks and unknown keys": (
        "\n".join(
            [
                event(1, "null", ', "note": "x y", "flag": true, "n": 1.50'),
                event(2, '""', ', "sep_reason": "   "'),
                event(3, "true"),
                '{"event_id":"E4","event_type":"PlanSelected"}',
                "{}",
                ' { "event_id" : "E5" , "other" : null } ',
                event(6, "7", ', "name": "Zoë — ü"'),
            ]
        ).encode(),
        True,
    ),
    "exact repeat": ((event(1) + "\n" + event(1) + "\n" + event(1, more=', "x": 1') + "\n").encode(), True),
    "not an object": ((event(1) + "\n[1, 2]\n" + event(2) + "\n").encode(), False),
    "invalid json": ((event(1) + '\n{"event_id": "E2",}\n').encode(), False),
    "nested value": ((event(1, more=', "x": {"a": 1.50}') + "\n").encode(), False),
    "repeated key": ((event(1, more=', "event_id": "E9"') + "\n").encode(), False),
    "escapes": ((event(1, more=', "x": "a\\"b"') + "\n").encode(), False),
    "blank line": ((event(1) + "\n\n" + event(2) + "\n").encode(), False),
    "byte order mark": (b"\xef\xbb\xbf" + (event(1) + "\n").encode(), True),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("feed", "case"), [("claims", c) for c in CSV_CASES] + [("enrollment_events", c) for c in JSONL_CASES]
)
def test_hand_made_edge_cases_give_the_normalisers_result(
    kind: str, feed: str, case: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    data, by_engine = (CSV_CASES if feed == "claims" else JSONL_CASES)[case]
    write(tmp_path, feed, DAY, data)
    write(tmp_path, feed, DAY + timedelta(days=1), data)  # two files in one batch
    engine, python, used = load_both(kind, make_warehouse, tmp_path, feed, DAY, DAY + timedelta(days=2))
    assert engine == python
    assert len(used) == 2
    for reader in used.values():
        assert reader.startswith("engine:" if by_engine else "python:"), reader


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_mixes_engine_and_python_files(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    for offset, case in enumerate(CSV_CASES):
        if case not in ("extra column", "reordered header", "blank line before header"):
            write(tmp_path, "claims", DAY + timedelta(days=offset), CSV_CASES[case][0])
    engine, python, used = load_both(kind, make_warehouse, tmp_path, "claims", DAY, DAY + timedelta(days=30))
    assert engine == python
    assert {r.split(":")[0] for r in used.values()} == {"engine", "python"}


# -- line numbers on files larger than the engines' read buffers ----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_line_numbers_are_exact_on_multi_megabyte_files(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    """~40 MB of claims and ~25 MB of events: every row's line number is the one in its id."""
    claims = [CLAIM.format(n=n).replace(f"CLM{n},", f"L{n + 2},") for n in range(250_000)]
    write(tmp_path, "claims", DAY, claims_file(*claims))
    events = [event(n).replace(f'"E{n}"', f'"L{n + 1}"') for n in range(100_000)]
    write(tmp_path, "enrollment_events", DAY, ("\n".join(events) + "\n").encode())
    with make_warehouse(kind).connect() as conn:
        if conn.is_duckdb:
            conn.execute("set threads = 2")
            assert conn.scalar("select current_setting('preserve_insertion_order')") is True
        for feed, key, rows in (
            ("claims", "claim_id", len(claims)),
            ("enrollment_events", "event_id", len(events)),
        ):
            report = load_feed_window(conn, feed, tmp_path, DAY, DAY + timedelta(days=1))
            assert not report.errors
            assert [r.reader for r in report.results] == ["engine"]
            checked = conn.fetchall(
                f"select count(*), sum(case when {key} = 'L' || cast(_source_line as varchar) then 1 else 0 end) "
                f"from staging.{feed}"
            )
            assert checked == [(rows, rows)], feed


def test_audit_column_is_documented() -> None:
    from aca_warehouse.staging.tables import AUDIT_COLUMNS

    assert "reader" in [name for name, _, _ in AUDIT_COLUMNS]
    assert json.dumps(AUDIT_COLUMNS)
