"""The bad-input matrix: every abuse of a landing file is either a quarantined row with its reason code or a
rejected file named with why; rows read = staged + quarantined; no message quotes the file's content.
Run on DuckDB and PostgreSQL (issue: security and robustness, items 1 and 4)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import load_feed_window
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

WINDOW = (date(2025, 3, 1), date(2025, 6, 1))
# Planted in the bad part of every case: no error, audit message or reason detail may contain it.
CANARY = "CANARY-5e1f"

PROVIDERS_HEADER = "npi,provider_name,specialty,taxonomy_code,city,state,zip,entity_type,network_status"
PROVIDER = "1003000126,Austin General,Hospital,282N00000X,Austin,TX,78701,2,OUT"
PROVIDER_2 = "1234567893,Dr A,Family Medicine,207Q00000X,Austin,TX,78701,1,IN"


def provider(name: str, npi: str = "1234567893") -> str:
    return f"{npi},{name},Family Medicine,207Q00000X,Austin,TX,78701,1,IN"


def event(event_id: str, member: str = "EX001") -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "event_type": "ApplicationSubmitted",
            "occurred_at": "2025-03-03T09:15:00Z",
            "application_id": "A1",
            "member_id": member,
            "subscriber_id": member,
            "enrollment_period": "OEP",
            "sep_reason": None,
        }
    )


@dataclass
class Case:
    """One bad input: a file's bytes, and either the reason codes of its lines or the rejection expected."""

    name: str
    feed: str
    data: bytes
    codes: dict[int, list[str]] = field(default_factory=dict)  # line -> codes (lines not listed: staged)
    rejected: str | None = None  # a phrase the rejection must contain
    truncated_raw: bool = False  # the quarantined raw value is kept truncated

    load_date: date = date(2025, 3, 1)

    @property
    def relative_path(self) -> str:
        folder = (
            "exchange/enrollment_events/events"
            if self.feed == "enrollment_events"
            else f"claims_system/{self.feed}/{self.feed}"
        )
        return f"{folder}_{self.load_date}.{'jsonl' if self.feed == 'enrollment_events' else 'csv'}"


def csv_case(name: str, *rows: str, codes: dict[int, list[str]] | None = None, **kw: object) -> Case:
    text = "\n".join([PROVIDERS_HEADER, *rows]) + "\n"
    return Case(name, "providers", text.encode("utf-8"), codes or {}, **kw)  # type: ignore[arg-type]


def jsonl_case(name: str, *lines: str, codes: dict[int, list[str]] | None = None, **kw: object) -> Case:
    return Case(name, "enrollment_events", ("\n".join(lines) + "\n").encode("utf-8"), codes or {}, **kw)  # type: ignore[arg-type]


BIG = 5 * 1024 * 1024  # over the reader's record bound (4 MiB characters)
CASES = [
    # -- per-row problems: quarantined with a reason code, the rest of the file loads
    jsonl_case(
        "lone surrogate escape",
        event("E1"),
        event("E2").replace('"A1"', '"\\ud800' + CANARY + '"'),
        event("E3"),
        codes={2: ["invalid_text"]},
    ),
    jsonl_case(
        "escaped NUL",
        event("E1"),
        event("E2").replace('"E2"', '"E2\\u0000' + CANARY + '"'),
        codes={2: ["invalid_text"]},
    ),
    jsonl_case("surrogate pair is fine", event("E1"), event("E2").replace('"A1"', '"\\ud83d\\ude00"')),
    jsonl_case(
        "not an object",
        event("E1"),
        f'["{CANARY}"]',
        "{broken",
        codes={2: ["not_json_object"], 3: ["not_json_object"]},
    ),
    jsonl_case(
        "line over the record bound",
        event("E1"),
        event("E" + "9" * BIG),
        event("E3"),
        codes={2: ["field_too_long"]},
        truncated_raw=True,
    ),
    jsonl_case(
        "value over its max_length", event("E1"), event("E" + "7" * 2000), codes={2: ["field_too_long"]}
    ),
    jsonl_case(
        "unknown keys over their bound",
        event("E1"),
        event("E2")[:-1] + f', "note": "{CANARY}{"n" * 5000}"}}',
        codes={2: ["field_too_long"]},
    ),
    csv_case(
        "quoted field over the old 128 KiB csv limit",
        PROVIDER,
        provider(f'"{CANARY}' + "q" * 200_000 + '"'),
        codes={3: ["field_too_long"]},
        truncated_raw=True,
    ),
    csv_case(
        "unquoted field over the record bound",
        PROVIDER,
        provider(CANARY + "u" * BIG),
        PROVIDER_2,
        codes={3: ["field_too_long"]},
        truncated_raw=True,
    ),
    csv_case(
        "quoted multi-line field over the record bound",
        PROVIDER,
        provider('"' + CANARY + ("m" * 999 + "\n") * 5300 + '"'),
        PROVIDER_2,
        codes={3: ["field_too_long"]},
        truncated_raw=True,
    ),
    csv_case(
        "money-like value far too long",
        PROVIDER,
        provider("x").replace(",1,IN", "," + "1" * 100 + ",IN"),
        codes={3: ["field_too_long"]},
    ),
    csv_case("wrong field count", PROVIDER, f"{PROVIDER},{CANARY}", codes={3: ["wrong_field_count"]}),
    csv_case("unknown extra column far too long", codes={2: ["field_too_long"]}).__class__(
        "unknown extra column far too long",
        "providers",
        f"{PROVIDERS_HEADER},note\n{PROVIDER},{CANARY}{'e' * 5000}\n{PROVIDER_2},ok\n".encode(),
        {2: ["field_too_long"]},
    ),
    Case(
        "BOM and CRLF are fine",
        "providers",
        ("\ufeff" + PROVIDERS_HEADER + "\r\n" + PROVIDER + "\r\n").encode(),
    ),
    # -- whole-file rejections: the file is named, nothing loads, nothing of it is quoted
    Case(
        "Latin-1 byte on line 5",
        "providers",
        (PROVIDERS_HEADER + "\n" + (PROVIDER + "\n") * 3).encode()
        + f"{CANARY},caf\xe9".encode("latin-1")
        + b"\n",
        rejected="byte 0xe9 on line 5",
    ),
    Case(
        "a system file",
        "providers",
        f"root:x:0:0:{CANARY}:/root:/bin/bash\nbin:x:1:1\n".encode(),
        rejected="header lacks column(s) of the providers contract: npi",
    ),
    Case(
        "header repeats unknown names",
        "providers",
        f"{PROVIDERS_HEADER},{CANARY},{CANARY}\n{PROVIDER},a,b\n".encode(),
        rejected="header repeats column name(s): 1 other name(s)",
    ),
    Case(
        "unterminated quote",
        "providers",
        f'{PROVIDERS_HEADER}\n{PROVIDER}\n1234567893,"{CANARY}\n'.encode(),
        rejected="not tokenizable as CSV",
    ),
    Case(
        "unterminated quote over the bound",
        "providers",
        f'{PROVIDERS_HEADER}\n1234567893,"{CANARY}'.encode() + b"z" * BIG,
        rejected="unterminated quoted field (record starting at line 2)",
    ),
    Case(
        "NUL bytes",
        "providers",
        f"{PROVIDERS_HEADER}\n{PROVIDER}\n{CANARY}\x00\x00\n".encode(),
        rejected="NUL bytes",
    ),
    Case("empty file", "providers", b"", rejected="no header"),
    Case(
        "header over the bound",
        "providers",
        CANARY.encode() + b"h" * BIG + b"\n",
        rejected="header (line 1) is longer than",
    ),
]


for number, each in enumerate(CASES):  # one load date each: the cases share a warehouse per engine
    each.load_date = date.fromordinal(WINDOW[0].toordinal() + number)


@pytest.fixture(scope="module", params=WAREHOUSE_KINDS)
def warehouse(
    request: pytest.FixtureRequest, make_warehouse: Callable[[str], WarehouseResource]
) -> WarehouseResource:
    return make_warehouse(request.param)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, warehouse: WarehouseResource, tmp_path: Path) -> None:
    path = tmp_path / "landing" / case.relative_path
    path.parent.mkdir(parents=True)
    path.write_bytes(case.data)
    with warehouse.connect() as conn:
        report = load_feed_window(conn, case.feed, tmp_path / "landing", *WINDOW)
        audit = conn.fetchall(
            "select status, rows_read, rows_staged, rows_quarantined, message from staging.load_audit "
            "where source_file = %s order by finished_at desc limit 1",
            [case.relative_path],
        )
        quarantined = conn.fetchall(
            "select _source_line, reason_codes, reason_details, raw_values from staging.quarantine "
            "where _source_file = %s order by _source_line",
            [case.relative_path],
        )
        staged = conn.scalar(
            f"select count(*) from staging.{case.feed} where _source_file = %s", [case.relative_path]
        )
    messages = [row[-1] for row in audit] + [str(e) for e in report.errors] + [q[2] for q in quarantined]
    for message in messages:
        assert CANARY not in message, message[:500]
    status, read, staged_count, quarantined_count, _ = audit[0]
    if case.rejected is not None:
        assert [e.path for e in report.errors] == [case.relative_path]
        assert case.rejected in report.errors[0].problem, report.errors[0].problem
        assert status == "failed" and staged == 0 and quarantined == []
        return
    assert report.errors == [] and status == "loaded"
    assert read == staged_count + quarantined_count == staged + len(quarantined)
    assert {line: codes.split(";") for line, codes, _, _ in quarantined} == case.codes
    assert staged_count == read - len(case.codes) > 0
    for _, _, _, raw in quarantined:
        json.loads(raw)  # the raw values stay JSON, truncated or not
        assert len(raw) < 12_000 if case.truncated_raw else True
        assert ("...[truncated: " in raw) == case.truncated_raw
