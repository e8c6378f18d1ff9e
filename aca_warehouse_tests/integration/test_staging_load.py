"""Loading hand-made landing files into staging on DuckDB and PostgreSQL: codes, values, lines, replacement."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from aca_warehouse.errors import LandingFileError
from aca_warehouse.landing import file_sha256
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource
from aca_warehouse.staging import LOADED, UNCHANGED, load_feed_window
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
EXPECTED: dict[str, Any] = yaml.safe_load((HANDMADE / "expected.yaml").read_text(encoding="utf-8"))
WINDOW = (date(2025, 3, 1), date(2025, 3, 4))


@dataclass
class LoadedWarehouse:
    """A warehouse with every hand-made file loaded once."""

    kind: str
    warehouse: WarehouseResource


def load_all(conn: WarehouseConnection, root: Path) -> None:
    for feed in EXPECTED:
        report = load_feed_window(conn, feed, root, *WINDOW)
        assert not report.errors, report.errors


@pytest.fixture(scope="session", params=KINDS)
def handmade(
    request: pytest.FixtureRequest, make_warehouse: Callable[[str], WarehouseResource]
) -> LoadedWarehouse:
    warehouse = make_warehouse(request.param)
    with warehouse.connect() as conn:
        load_all(conn, HANDMADE)
    return LoadedWarehouse(request.param, warehouse)


def rows_by_line(
    conn: WarehouseConnection, sql: str, params: list[Any] | None = None
) -> dict[int, dict[str, Any]]:
    if conn.is_duckdb:
        cursor = conn.raw.execute(sql.replace("%s", "?"), params or [])
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    else:
        with conn.raw.cursor() as cursor:
            cursor.execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
    records = [dict(zip(names, row, strict=True)) for row in rows]
    return {r["_source_line"]: r for r in records}


def table_snapshot(conn: WarehouseConnection, table: str) -> list[tuple[Any, ...]]:
    return sorted(conn.fetchall(f"select * from {table}"), key=repr)


@pytest.mark.parametrize("feed", list(EXPECTED))
def test_every_defect_gets_exactly_its_codes_and_clean_rows_are_staged(
    handmade: LoadedWarehouse, feed: str
) -> None:
    expected = EXPECTED[feed]
    with handmade.warehouse.connect() as conn:
        quarantined = {
            line: codes.split(";")
            for line, codes in conn.fetchall(
                "select _source_line, reason_codes from staging.quarantine where feed = %s", [feed]
            )
        }
        staged = sorted(line for (line,) in conn.fetchall(f"select _source_line from staging.{feed}"))
        files = {f for (f,) in conn.fetchall(f"select distinct _source_file from staging.{feed}")}
    assert quarantined == {int(line): codes for line, codes in expected["quarantined"].items()}
    assert staged == expected["staged"]
    assert files == {expected["file"]}


def test_claims_values_are_typed_trimmed_and_exact(handmade: LoadedWarehouse) -> None:
    with handmade.warehouse.connect() as conn:
        claims = rows_by_line(conn, "select * from staging.claims")
    first = claims[2]
    assert first["claim_id"] == "C1" and first["line_number"] == 1 and first["claim_version"] == 1
    assert first["billed_amount"] == Decimal("200.00") and first["coinsurance_amount"] == Decimal("10.00")
    assert first["service_from_date"] == date(2025, 2, 20) and first["adjudicated_date"] == date(2025, 3, 3)
    assert (
        first["rendering_npi"] == "1245319599"
        and first["ndc"] is None
        and first["denial_reason_code"] is None
    )
    assert first["_load_date"] == date(2025, 3, 3)
    assert first["_source_file"] == EXPECTED["claims"]["file"]
    assert first["_file_checksum"] == file_sha256(HANDMADE / EXPECTED["claims"]["file"])
    assert first["_extra"] is None
    assert first["_load_id"].startswith("claims-20250303-")
    quoted = claims[6]  # spans physical lines 6-7 (CRLF inside the quotes is data)
    assert (
        quoted["diagnosis_codes"] == "E11.9|\r\nI10"
        and quoted["procedure_code"] == "99213"
        and quoted["ndc"] is None
    )
    padded = claims[8]
    assert (padded["claim_id"], padded["line_number"], padded["claim_type"], padded["units"]) == (
        "C5",
        1,
        "PROFESSIONAL",
        2,
    )
    assert padded["allowed_amount"] == Decimal("0.10") and padded["coinsurance_amount"] == Decimal("0.00")
    assert padded["denial_reason_code"] is None  # a tab alone is blank
    assert claims[39]["billed_amount"] == Decimal("1234567890123456.99")
    assert claims[3]["ndc"] == "00002322702" and claims[3]["units"] == 30
    assert claims[4]["denial_reason_code"] == "CO-50"


def test_other_feeds_values_extra_columns_and_timestamps(handmade: LoadedWarehouse) -> None:
    with handmade.warehouse.connect() as conn:
        premiums = rows_by_line(conn, "select * from staging.premiums")
        plans = rows_by_line(conn, "select * from staging.plans")
        members = rows_by_line(conn, "select * from staging.members")
        providers = rows_by_line(conn, "select * from staging.providers")
        events = rows_by_line(conn, "select * from staging.enrollment_events")
        products = rows_by_line(conn, "select * from staging.products")
    assert json.loads(premiums[2]["_extra"]) == {"source_batch": "B7"}
    assert json.loads(premiums[18]["_extra"]) == {"source_batch": None}
    assert premiums[18]["premium_billed"] == Decimal("100.50") and premiums[18]["aptc_amount"] == Decimal(
        "100.00"
    )
    assert premiums[2]["coverage_month"] == "2025-03" and premiums[2]["paid_date"] == date(2025, 3, 3)
    assert plans[2]["hios_plan_id"] == "12345TX0010001-01" and plans[2]["plan_year"] == 2025
    assert json.loads(plans[2]["_extra"]) == {"network_url": "https://plans.example/1"}
    assert (
        plans[4]["plan_name"] is None
        and plans[4]["metal_tier"] == "Expanded Bronze"
        and plans[4]["rating_area"] == 67
    )
    assert members[2]["address_line1"] == "12 Main St, Apt 4" and members[2]["ssn"] == "123-45-6789"
    assert members[3]["address_line1"] == "12 Main St\nApt 4"
    assert members[11]["date_of_birth"] == date(1904, 3, 2) and members[20]["date_of_birth"] == date(
        2025, 3, 1
    )
    assert members[5]["household_income_fpl_pct"] is None and members[5]["tobacco_user"] == "Y"
    assert providers[2]["provider_name"] == "Dr. A, MD" and providers[2]["entity_type"] == 1
    assert json.loads(providers[2]["_extra"]) == {"tier": "gold"}
    assert providers[12]["provider_name"] == 'He said "hi"'
    assert products[3]["termination_date"] is None and products[2]["termination_date"] == date(2025, 6, 30)
    assert events[1]["occurred_at"] == datetime(2025, 3, 3, 15, 15, tzinfo=UTC)
    assert events[2]["occurred_at"] == datetime(2025, 3, 3, 9, 20, tzinfo=UTC)
    assert events[2]["monthly_premium"] == Decimal("412.50") and events[2]["aptc_amount"] == Decimal("300.00")
    assert events[3]["occurred_at"] == datetime(
        2025, 2, 28, 18, 29, 59, 123456, tzinfo=UTC
    )  # cut, not rounded
    assert events[5]["occurred_at"] == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # +0100
    assert events[6]["occurred_at"] == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # +01
    assert events[6]["coverage_end"] == date(2025, 6, 30) and events[6]["termination_reason"] == "voluntary"
    assert events[25]["sep_reason"] == "moved"
    assert json.loads(events[21]["_extra"]) == {"channel": "web", "meta": {"retries": 2}}
    assert events[1]["_extra"] is None


def test_quarantine_keeps_raw_values_and_explains_each_code(handmade: LoadedWarehouse) -> None:
    with handmade.warehouse.connect() as conn:
        claims = rows_by_line(conn, "select * from staging.quarantine where feed = 'claims'")
        events = rows_by_line(conn, "select * from staging.quarantine where feed = 'enrollment_events'")
        premiums = rows_by_line(conn, "select * from staging.quarantine where feed = 'premiums'")
    bad_decimal = json.loads(claims[13]["raw_values"])
    assert bad_decimal["billed_amount"] == "12.345" and bad_decimal["claim_id"] == "C8"
    assert claims[13]["reason_details"] == "bad_decimal: billed_amount"
    assert claims[34]["reason_codes"] == "bad_format;missing_required;out_of_range"
    assert set(claims[34]["reason_details"].split("; ")) == {
        "out_of_range: claim_version must be >= 1",
        "missing_required: member_no",
        "bad_format: ndc",
    }
    assert len(json.loads(claims[31]["raw_values"])) == 24
    assert claims[31]["reason_details"] == "wrong_field_count: 24 fields, header has 25"
    assert json.loads(events[7]["raw_values"]) == "[1, 2, 3]"
    assert json.loads(events[20]["raw_values"])["event_id"] == "E2"
    assert json.loads(premiums[9]["raw_values"])["aptc_amount"] == "1,000.00"
    assert json.loads(premiums[9]["raw_values"])["source_batch"] == "B7"
    for row in claims.values():
        assert row["_load_date"] == date(2025, 3, 3) and row["_source_file"] == EXPECTED["claims"]["file"]


def test_audit_reconciles_every_file(handmade: LoadedWarehouse) -> None:
    with handmade.warehouse.connect() as conn:
        audit = conn.fetchall(
            "select feed, load_date, status, rows_read, rows_staged, rows_quarantined, load_id, source_file "
            "from staging.load_audit"
        )
        for feed, load_date, status, read, staged, quarantined, load_id, source_file in audit:
            assert status == LOADED
            expected = EXPECTED[feed]
            assert source_file == expected["file"] and load_date.isoformat() in source_file
            assert (read, staged, quarantined) == (
                len(expected["staged"]) + len(expected["quarantined"]),
                len(expected["staged"]),
                len(expected["quarantined"]),
            )
            assert (
                conn.scalar(f"select count(*) from staging.{feed} where _load_id = %s", [load_id]) == staged
            )
            assert (
                conn.scalar("select count(*) from staging.quarantine where _load_id = %s", [load_id])
                == quarantined
            )
    assert {row[0] for row in audit} == set(EXPECTED)


# -- re-delivery, replacement, rejection -------------------------------------------------------


@pytest.fixture()
def landing_copy(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    shutil.copytree(HANDMADE, root)
    return root


@pytest.mark.parametrize("kind", KINDS)
def test_identical_redelivery_changes_nothing(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], landing_copy: Path
) -> None:
    warehouse = make_warehouse(kind)
    with warehouse.connect() as conn:
        load_all(conn, landing_copy)
        before = {
            t: table_snapshot(conn, t)
            for t in ("staging.claims", "staging.quarantine", "staging.enrollment_events")
        }
        claims_file = landing_copy / EXPECTED["claims"]["file"]
        claims_file.write_bytes(claims_file.read_bytes())  # re-delivered: same name, same bytes, new mtime
        report = load_feed_window(conn, "claims", landing_copy, *WINDOW)
        events = load_feed_window(conn, "enrollment_events", landing_copy, *WINDOW)
        after = {t: table_snapshot(conn, t) for t in before}
        statuses = conn.fetchall(
            "select feed, status from staging.load_audit where feed in ('claims', 'enrollment_events') order by finished_at"
        )
    assert [r.status for r in report.results + events.results] == [UNCHANGED, UNCHANGED]
    assert after == before
    assert statuses == [
        ("claims", LOADED),
        ("enrollment_events", LOADED),
        ("claims", UNCHANGED),
        ("enrollment_events", UNCHANGED),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_changed_file_replaces_its_partition(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], landing_copy: Path
) -> None:
    warehouse = make_warehouse(kind)
    path = landing_copy / EXPECTED["premiums"]["file"]
    with warehouse.connect() as conn:
        load_all(conn, landing_copy)
        first_load = conn.scalar("select max(_load_id) from staging.premiums")
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        corrected = [lines[0], lines[1].replace("450.00,300.00,150.00", "460.00,300.00,160.00"), lines[17]]
        path.write_text("".join(corrected), encoding="utf-8")
        report = load_feed_window(conn, "premiums", landing_copy, *WINDOW)
        staged = conn.fetchall(
            "select payment_id, premium_billed, _source_line, _load_id from staging.premiums order by 1"
        )
        quarantined = conn.scalar("select count(*) from staging.quarantine where feed = 'premiums'")
        claims = conn.scalar("select count(*) from staging.claims")
    assert report.results[0].status == LOADED
    assert [(p, b, line) for p, b, line, _ in staged] == [
        ("P1", Decimal("460.00"), 2),
        ("P3", Decimal("100.50"), 3),
    ]
    assert {load_id for *_, load_id in staged} != {first_load}
    assert quarantined == 0
    assert claims == len(EXPECTED["claims"]["staged"])  # other feeds untouched


@pytest.mark.parametrize("kind", KINDS)
def test_rejected_file_keeps_the_previous_load(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], landing_copy: Path
) -> None:
    warehouse = make_warehouse(kind)
    path = landing_copy / EXPECTED["products"]["file"]
    with warehouse.connect() as conn:
        load_all(conn, landing_copy)
        before = table_snapshot(conn, "staging.products"), table_snapshot(conn, "staging.quarantine")
        text = path.read_text(encoding="utf-8").replace(",termination_date\n", "\n", 1)
        path.write_text(
            "\n".join(line.rsplit(",", 1)[0] for line in text.splitlines()) + "\n", encoding="utf-8"
        )
        report = load_feed_window(conn, "products", landing_copy, *WINDOW)
        after = table_snapshot(conn, "staging.products"), table_snapshot(conn, "staging.quarantine")
        failed = conn.fetchall(
            "select status, message, source_file from staging.load_audit where status = 'failed'"
        )
    assert report.results == [] and len(report.errors) == 1
    error = report.errors[0]
    assert isinstance(error, LandingFileError)
    assert error.path == EXPECTED["products"]["file"] and "termination_date" in error.problem
    assert after == before
    assert failed == [("failed", error.problem, EXPECTED["products"]["file"])]


@pytest.mark.parametrize("kind", KINDS)
def test_impossible_date_and_foreign_files(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = tmp_path / "landing"
    folder = root / "claims_system" / "providers"
    folder.mkdir(parents=True)
    shutil.copy(HANDMADE / EXPECTED["providers"]["file"], folder / "providers_2025-02-30.csv")
    (folder / "README.txt").write_text("not a landing file")
    with make_warehouse(kind).connect() as conn:
        report = load_feed_window(conn, "providers", root, date(2025, 1, 1), date(2026, 1, 1))
        staged = conn.scalar("select count(*) from staging.providers")
    # Not landing files: ignored and reported by name with why, never an error that blocks the feed.
    assert report.errors == []
    reasons = {i.relative_path: i.reason for i in report.ignored}
    assert set(reasons) == {
        "claims_system/providers/README.txt",
        "claims_system/providers/providers_2025-02-30.csv",
    }
    assert (
        "2025-02-30 is not a real calendar date"
        in reasons["claims_system/providers/providers_2025-02-30.csv"]
    )
    assert staged == 0


@pytest.mark.postgres
def test_duckdb_and_postgres_stage_the_same_rows(make_warehouse: Callable[[str], WarehouseResource]) -> None:
    def contents(kind: str) -> dict[str, list[tuple[Any, ...]]]:
        with make_warehouse(kind).connect() as conn:
            load_all(conn, HANDMADE)
            out = {}
            for feed in EXPECTED:
                columns = [
                    c for c in conn.columns("staging", feed) if c not in ("_load_id", "_loaded_at", "_extra")
                ]
                out[feed] = sorted(
                    conn.fetchall(f"select {', '.join(columns)} from staging.{feed}"), key=repr
                )
                out[f"{feed}_extra"] = sorted(
                    json.dumps(json.loads(e) if e else None)
                    for (e,) in conn.fetchall(f"select _extra from staging.{feed}")
                )
            out["quarantine"] = sorted(
                conn.fetchall(
                    "select feed, _source_line, reason_codes, reason_details from staging.quarantine"
                ),
                key=repr,
            )
            return out

    assert contents("duckdb") == contents("postgres")


@pytest.mark.duckdb
def test_a_hash_collision_is_not_taken_for_an_exact_repeat() -> None:
    import duckdb

    from aca_warehouse.contract.dictionary import load_dictionary
    from aca_warehouse.staging.reader import RawLayout
    from aca_warehouse.staging.validation import build_duplicate_rows_sql

    feed = load_dictionary().feeds["providers"]
    layout = RawLayout(feed=feed, header=("npi", "x"), data_columns=("_f1", "_f2"), contract_source={})
    conn = duckdb.connect()
    conn.execute(
        "create temp table raw (_file integer, _line integer, _problem varchar, _f1 varchar, _f2 varchar)"
    )
    conn.execute(
        "insert into raw values (0, 2, null, 'a', 'b'), (0, 3, null, 'a', 'b'), (0, 4, null, 'a', null), "
        "(0, 5, null, 'a', null), (1, 2, null, 'x', 'y'), (1, 3, null, 'a', 'b')"
    )
    conn.execute(
        "create temp table candidates as select * from (values (0, 3, 2), (0, 4, 2), (0, 5, 4), (1, 3, 2)) "
        "t(_file, _line, _first_line)"
    )
    conn.execute(build_duplicate_rows_sql(layout, "raw", "candidates", "duplicates"))
    # line 3 of file 1 equals line 2 of file 0, not line 2 of its own file: not a repeat
    assert sorted(conn.execute("select _file, _line from duplicates").fetchall()) == [(0, 3), (0, 5)]


def _luhn_npi_reference(npi: str) -> bool:
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi)):
        digit = int(ch) * (2 if i % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@pytest.mark.parametrize("kind", KINDS)
def test_npi_check_sql_agrees_with_a_python_luhn(
    kind: str, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    import random

    from aca_warehouse.staging.dialect import Dialect, sql_string
    from aca_warehouse.staging.validation import npi_luhn_valid_sql

    rng = random.Random(3)
    npis = [str(rng.randint(10**9, 10**10 - 1)) for _ in range(200)]
    npis += [
        "1234567893",
        "1245319599",
        "1003000126",
        "123456789",
        "12345678901",
        "12345678a3",
        " 1234567893",
    ]
    values = ", ".join(f"({sql_string(n)})" for n in npis)
    with make_warehouse(kind).connect() as conn:
        check = npi_luhn_valid_sql(Dialect(conn.kind), "npi")
        got = dict(conn.fetchall(f"select npi, {check} from (values {values}) as t(npi)"))
    assert got == {n: _luhn_npi_reference(n) for n in npis}
    assert sum(got.values()) > 10


TYPED_CASES: dict[str, dict[str, Any]] = {
    "int": {
        "0": 0,
        "-0": 0,
        "007": 7,
        "2147483647": 2147483647,
        "-2147483648": -2147483648,
        "2147483648": None,
        "-2147483649": None,
        "12345678901": None,
        "1.0": None,
        "+1": None,
        "1e3": None,
        "--1": None,
        "1-": None,
    },
    "decimal": {
        "0": Decimal("0.00"),
        "0.1": Decimal("0.10"),
        "-5.00": Decimal("-5.00"),
        "0.123": None,
        "+1": None,
        "1234567890123456.99": Decimal("1234567890123456.99"),
        "12345678901234567": None,
        "1,000.00": None,
        "$1": None,
        ".5": None,
        "5.": None,
        "1e2": None,
        "-": None,
        "1.2.3": None,
    },
    "date": {
        "2024-02-29": date(2024, 2, 29),
        "2023-02-29": None,
        "1900-02-29": None,
        "2000-02-29": date(2000, 2, 29),
        "2025-04-30": date(2025, 4, 30),
        "2025-04-31": None,
        "2025-12-31": date(2025, 12, 31),
        "2025-13-01": None,
        "2025-00-10": None,
        "2025-01-00": None,
        "0000-01-01": None,
        "0001-01-01": date(1, 1, 1),
        "2025-1-01": None,
        "2025/02/28": None,
        "2025-02-28T00:00": None,
        "２０２５-01-01": None,
    },
    "timestamp": {
        "2025-03-03T10:00:00Z": datetime(2025, 3, 3, 10, tzinfo=UTC),
        "2025-03-03 10:00+05:30": datetime(2025, 3, 3, 4, 30, tzinfo=UTC),
        "2025-03-03T10:00:00.1234567-0100": datetime(2025, 3, 3, 11, 0, 0, 123456, tzinfo=UTC),
        "2025-03-03T23:59:59+14": datetime(2025, 3, 3, 9, 59, 59, tzinfo=UTC),
        "2025-03-03T10:00:00": None,
        "2025-03-03": None,
        "2025-03-03T24:00:00Z": None,
        "2025-02-30T10:00Z": None,
        "2025-03-03T10:60Z": None,
        "2025-03-03T10:00:00+15:00": None,
        "2025-03-03t10:00Z": None,
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_safe_casts_accept_exactly_the_contract_formats(
    kind: str, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    from aca_warehouse.contract.dictionary import Column, load_dictionary
    from aca_warehouse.staging.dialect import Dialect, sql_string
    from aca_warehouse.staging.validation import typed_value_sql

    dictionary = load_dictionary()
    with make_warehouse(kind).connect() as conn:
        for contract_type, cases in TYPED_CASES.items():
            column = Column(name="v", type=contract_type, description="")
            values = ", ".join(f"({sql_string(text)})" for text in cases)
            expression = typed_value_sql(dictionary, Dialect(conn.kind), column, "s")
            got = dict(conn.fetchall(f"select s, {expression} from (values {values}) as t(s)"))
            assert got == cases, contract_type
