"""The landing-file reader: exact source lines, record problems, and whole-file rejections (no warehouse)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from aca_warehouse.contract.dictionary import load_dictionary
from aca_warehouse.errors import LandingFileError
from aca_warehouse.staging.reader import FIXED_RAW_COLUMNS, normalized_text

pytestmark = pytest.mark.unit

PRODUCTS_HEADER = "product_id,hios_plan_id,product_name,effective_date,termination_date"
ROW = "PRD-10001,12345TX0010001-01,Silver,2025-01-01,"


def read(
    tmp_path: Path, feed: str, data: bytes, name: str = "f.csv"
) -> tuple[list[dict[str, str]], object, object]:
    path = tmp_path / name
    path.write_bytes(data)
    layout, text, stats = normalized_text(path, name, load_dictionary().feeds[feed])
    columns = list(FIXED_RAW_COLUMNS) + list(layout.data_columns)
    rows = [dict(zip(columns, record, strict=True)) for record in csv.reader(io.StringIO(text))]
    return rows, layout, stats


def test_lines_are_physical_with_bom_crlf_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    data = (
        "\ufeff"
        + PRODUCTS_HEADER
        + "\r\n"
        + ROW
        + "\r\n"
        + "\r\n"
        + "  \t \r\n"
        + 'PRD-10002,12345TX0010001-01,"two\r\nline\nname",2025-01-01,\r\n'
        + "PRD-10003,12345TX0010001-01,Gold,2025-01-01,"  # no final newline
    ).encode("utf-8")
    rows, layout, stats = read(tmp_path, "products", data)
    assert [int(r["_line"]) for r in rows] == [2, 5, 8]
    assert rows[1]["_f3"] == "two\r\nline\nname"
    assert layout.header[0] == "product_id"  # the BOM is not part of the first name
    assert (stats.rows_read, stats.blank_lines, stats.physical_lines) == (3, 2, 8)


def test_columns_in_any_order_with_extra_columns_and_padded_names(tmp_path: Path) -> None:
    header = " termination_date ,product_name,product_id,note,effective_date,hios_plan_id"
    rows, layout, _ = read(
        tmp_path, "products", f"{header}\n,x,PRD-10001,hello,2025-01-01,12345TX0010001-01\n".encode()
    )
    assert layout.contract_source["product_id"] == "_f3"
    assert layout.contract_source["termination_date"] == "_f1"
    assert layout.extra_columns == (("note", "_f4"),)
    assert rows[0]["_f4"] == "hello"


def test_wrong_field_count_is_a_bad_row_not_a_bad_file(tmp_path: Path) -> None:
    data = f'{PRODUCTS_HEADER}\n{ROW},extra\n"PRD-1","a"\n{ROW}\n'.encode()
    rows, _, stats = read(tmp_path, "products", data)
    assert [(int(r["_line"]), r["_problem"]) for r in rows] == [
        (2, "wrong_field_count"),
        (3, "wrong_field_count"),
        (4, ""),
    ]
    assert json.loads(rows[0]["_raw"]) == ROW.split(",") + ["extra"]
    assert json.loads(rows[1]["_raw"]) == ["PRD-1", "a"]
    assert rows[0]["_detail"] == "6 fields, header has 5"
    assert stats.problem_rows == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "no header"),
        (b"\n  \n\r\n", "no header"),
        (
            f"{PRODUCTS_HEADER.replace(',termination_date', '')}\n".encode(),
            "lacks column(s) of the products contract: termination_date",
        ),
        (f"{PRODUCTS_HEADER},Product_ID\n".encode(), None),  # names are case-sensitive: an extra column
        (f"{PRODUCTS_HEADER}, product_id\n".encode(), "repeats column name(s): product_id"),
        (f"{PRODUCTS_HEADER}\n{ROW}\nPRD-10002,caf\xe9,x,2025-01-01,\n".encode("latin-1"), "not UTF-8"),
        (
            f'{PRODUCTS_HEADER}\n{ROW}\nPRD-10002,"unterminated,x,2025-01-01,\n'.encode(),
            "not tokenizable as CSV",
        ),
        (f'{PRODUCTS_HEADER}\nPRD-10002,"closed"junk,x,2025-01-01,\n'.encode(), "not tokenizable as CSV"),
        (f"{PRODUCTS_HEADER}\nPRD-10002,a\rb,x,2025-01-01,\n".encode(), "not tokenizable as CSV"),
        (f"{PRODUCTS_HEADER}\nPRD-10002,a\x00b,x,2025-01-01,\n".encode(), "NUL"),
    ],
)
def test_whole_file_rejections_name_the_problem(tmp_path: Path, data: bytes, problem: str | None) -> None:
    if problem is None:
        read(tmp_path, "products", data)
        return
    with pytest.raises(LandingFileError) as excinfo:
        read(tmp_path, "products", data, name="products_2025-03-01.csv")
    assert excinfo.value.path == "products_2025-03-01.csv"
    assert problem in excinfo.value.problem
    assert str(excinfo.value).startswith("products_2025-03-01.csv: ")


def test_unterminated_quote_reports_where_the_record_started(tmp_path: Path) -> None:
    data = f'{PRODUCTS_HEADER}\n{ROW}\n{ROW}\nPRD-9,"open\nmore\n'.encode()
    with pytest.raises(LandingFileError, match="record starting at line 4"):
        read(tmp_path, "products", data)


def test_json_lines_keep_number_text_and_flag_non_objects(tmp_path: Path) -> None:
    lines = [
        '{"event_id": "E1", "monthly_premium": 412.50, "aptc_amount": 0, "sep_reason": "  x ", "channel": "web"}',
        "",
        "[1, 2]",
        '"text"',
        '{"event_id": "E2", broken',
        '{"event_id": "E3", "member_id": true, "hios_plan_id": {"a": 1}, "coverage_start": null, "sep_reason": " "}',
        "NaN",
    ]
    rows, layout, stats = read(
        tmp_path, "enrollment_events", ("\n".join(lines) + "\n").encode(), name="e.jsonl"
    )
    assert [int(r["_line"]) for r in rows] == [1, 3, 4, 5, 6, 7]
    first = rows[0]
    assert first["_c_monthly_premium"] == "412.50"
    assert first["_c_aptc_amount"] == "0"
    assert first["_c_sep_reason"] == "x"  # JSON values are trimmed by the reader
    assert json.loads(first["_extra"]) == {"channel": "web"}
    assert first["_raw"] == lines[0]
    assert [r["_problem"] for r in rows] == [
        "",
        "not_json_object",
        "not_json_object",
        "not_json_object",
        "",
        "not_json_object",
    ]
    assert json.loads(rows[1]["_raw"]) == "[1, 2]"
    assert "array" in rows[1]["_detail"] and "string" in rows[2]["_detail"]
    assert rows[4]["_c_member_id"] == "true"
    assert json.loads(rows[4]["_c_hios_plan_id"]) == {"a": 1}
    assert rows[4]["_c_coverage_start"] == "" and rows[4]["_c_sep_reason"] == ""
    assert layout.is_jsonl and stats.rows_read == 6 and stats.blank_lines == 1


def test_only_records_with_padding_are_marked_for_trimming(tmp_path: Path) -> None:
    data = f'{PRODUCTS_HEADER}\n{ROW}\nPRD-2 ,x,y,2025-01-01,\nPRD-3,x,y,2025-01-01,\t\n"PRD-4",x,y,2025-01-01,\n'.encode()
    rows, _, _ = read(tmp_path, "products", data)
    assert [r["_trim"] for r in rows] == ["", "t", "t", "t"]


def _reference_records(text: str) -> list[tuple[int, list[str]]]:
    """(start line, fields) of every record, straight from the csv module (blank lines skipped)."""
    physical = io.StringIO(text, newline="\n").readlines()
    reader = csv.reader(iter(physical), strict=True)
    records, previous = [], 0
    for fields in reader:
        start, previous = previous + 1, reader.line_num
        if previous == start and not physical[start - 1].strip(" \t\r\n"):
            continue  # a blank physical line is not a record
        records.append((start, fields))
    return records


@pytest.mark.parametrize("seed", range(40))
def test_block_fast_path_and_careful_path_agree_with_the_csv_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    import random

    from aca_warehouse.staging import reader as reader_module

    rng = random.Random(seed)
    monkeypatch.setattr(reader_module, "_BLOCK_CHARS", rng.choice([16, 200, 4096]))
    plain = ["PRD-1", "x", "2025-01-01", "", "a b", "12.50"]
    special = [" pad", "pad ", "\t", '"x,y"', '"q""uote"', '"multi\nline"', '"cr\r\nlf"', '""', '" "']
    newline = rng.choice(["\n", "\r\n"])
    out = [PRODUCTS_HEADER]
    for _ in range(rng.randint(20, 120)):
        roll = rng.random()
        if roll < 0.08:
            out.append(rng.choice(["", "   ", "\t"]))
            continue
        width = 5 if roll < 0.85 else rng.choice([1, 4, 6])
        pool = plain if rng.random() < 0.7 else plain + special
        out.append(",".join(rng.choice(pool) for _ in range(width)))
    text = newline.join(out) + rng.choice(["", newline])
    path = tmp_path / "products.csv"
    path.write_bytes(("\ufeff" if seed % 2 else "").encode() + text.encode())
    layout, normalized, stats = normalized_text(path, "products.csv", load_dictionary().feeds["products"])
    got = []
    for record in csv.reader(io.StringIO(normalized)):
        file_index, line, problem, _detail, raw, _trim, *fields = record
        assert file_index == "0"
        got.append((int(line), json.loads(raw) if problem else fields))
    assert got == _reference_records(text)[1:]
    assert stats.rows_read == len(got)


def test_the_readers_record_bound_fits_the_staging_loaders_line_bound() -> None:
    """A record at the reader's bound, written out as a normalized line (its fields quoted, quotes doubled,
    up to 4 bytes a character, JSON Lines also keep the line and the unknown keys), must stay within
    DuckDB's `max_line_size`; otherwise DuckDB would reject a whole batch for one row."""
    from aca_warehouse.staging import batch, reader

    assert 16 * reader.MAX_RECORD_CHARS <= batch._DUCKDB_MAX_LINE
    assert reader.QUARANTINE_VALUE_MAX_CHARS * 16 <= reader.MAX_RECORD_CHARS
