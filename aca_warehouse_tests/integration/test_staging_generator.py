"""Files written by the project's generator: every injected defect is quarantined with its code, nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aca_warehouse.contract.dictionary import load_dictionary
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.staging import load_feed_window
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

KINDS = [pytest.param(k, marks=pytest.mark.duckdb) if k == "duckdb" else k for k in WAREHOUSE_KINDS]

generator = pytest.importorskip("aca_warehouse.generator")
START = date(2025, 11, 1)
DAYS = 10


@pytest.fixture(scope="session")
def defective_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("generated") / "landing"
    summary = generator.generate(
        out,
        members=200,
        start=START,
        days=DAYS,
        seed=5,
        defect_rate=0.05,
        malformed_file=True,
        progress=False,
    )
    return out, json.loads(Path(summary.manifest_path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_injected_defect_is_quarantined_with_its_codes(
    kind: str,
    make_warehouse: Callable[[str], WarehouseResource],
    defective_landing: tuple[Path, dict[str, Any]],
) -> None:
    root, manifest = defective_landing
    errors = []
    with make_warehouse(kind).connect() as conn:
        for feed in load_dictionary().feeds:
            report = load_feed_window(conn, feed, root, START, date(2026, 1, 1))
            errors += report.errors
        quarantined = {
            (file, line): sorted(codes.split(";"))
            for file, line, codes in conn.fetchall(
                "select _source_file, _source_line, reason_codes from staging.quarantine"
            )
        }
        audit = conn.fetchall(
            "select source_file, rows_read, rows_staged, rows_quarantined from staging.load_audit where status = 'loaded'"
        )
    expected = {
        (file, defect["line"]): sorted(defect["reason_codes"])
        for file, entry in manifest["files"].items()
        for defect in entry["defects"]
    }
    assert expected, "the generator injected no defect"
    assert quarantined == expected
    rows = {file: entry["rows"] for file, entry in manifest["files"].items()}
    assert {file: read for file, read, _, _ in audit} == rows
    assert all(read == staged + bad for _, read, staged, bad in audit)
    [malformed] = manifest["malformed_files"]
    assert [
        (e.path, set(malformed["missing_columns"]) <= set(e.problem.replace(",", " ").split()))
        for e in errors
    ] == [(malformed["path"], True)]
