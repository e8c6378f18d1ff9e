"""`aca-warehouse sql "<query>"`: the README's way to look at the warehouse, with nothing to install.

A real warehouse (a DuckDB file, a fresh PostgreSQL database) holding a small marts table; the command
prints the rows, refuses to write, and says plainly what is wrong with a missing file or a bad query.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from aca_warehouse.cli import main
from aca_warehouse.resources.warehouse import WarehouseResource

from ..conftest import WAREHOUSE_KINDS

pytestmark = pytest.mark.duckdb


@pytest.fixture(params=WAREHOUSE_KINDS)
def warehouse(
    request: pytest.FixtureRequest, make_warehouse, monkeypatch: pytest.MonkeyPatch
) -> WarehouseResource:  # noqa: ANN001
    warehouse = make_warehouse(request.param)
    with warehouse.connect() as conn:
        conn.execute("create table marts.sql_probe (month date, plan text, paid decimal(18,2))")
        conn.execute(
            "insert into marts.sql_probe values ('2026-01-01', 'A', 10.50), ('2026-02-01', 'B', null)"
        )
    monkeypatch.setenv("ACA_WAREHOUSE", warehouse.kind)
    if warehouse.kind == "duckdb":
        monkeypatch.setenv("ACA_DUCKDB_PATH", warehouse.duckdb_path)
    else:
        monkeypatch.setenv("ACA_PG_DSN", warehouse.pg_dsn)
    return warehouse


def _count(warehouse: WarehouseResource) -> int:
    with warehouse.connect() as conn:
        return conn.scalar("select count(*) from marts.sql_probe")


def test_sql_prints_the_rows_read_only(warehouse: WarehouseResource, capsys: pytest.CaptureFixture) -> None:
    assert main(["sql", "select month, plan, paid from marts.sql_probe order by month"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["month", "plan", "paid"]
    assert lines[2].split() == ["2026-01-01", "A", str(Decimal("10.50"))]
    assert lines[3].split() == ["2026-02-01", "B", "NULL"]
    assert lines[-1] == "(2 rows)"

    assert main(["sql", "select plan from marts.sql_probe order by plan", "--max-rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "A" in out and " B" not in out and "(the first 1 rows; --max-rows for more)" in out

    for write in ("delete from marts.sql_probe", "create table marts.sql_other (a int)"):
        assert main(["sql", write]) == 1
        error = capsys.readouterr().err
        assert error.startswith("aca-warehouse: error: query failed:") and "read" in error.lower(), error
    assert _count(warehouse) == 2


def test_sql_names_a_missing_warehouse_and_a_bad_query(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, make_warehouse
) -> None:  # noqa: ANN001
    missing = tmp_path / "nowhere.duckdb"
    monkeypatch.setenv("ACA_WAREHOUSE", "duckdb")
    monkeypatch.setenv("ACA_DUCKDB_PATH", str(missing))
    assert main(["sql", "select 1"]) == 1
    assert "no DuckDB warehouse at" in capsys.readouterr().err and not missing.exists()

    monkeypatch.setenv("ACA_DUCKDB_PATH", make_warehouse("duckdb").duckdb_path)
    with WarehouseResource(kind="duckdb", duckdb_path=os.environ["ACA_DUCKDB_PATH"]).connect():
        pass  # creates the file and its schemas
    assert main(["sql", "select * from marts.no_such_table"]) == 1
    assert "query failed:" in capsys.readouterr().err


def test_the_installed_command_runs(warehouse: WarehouseResource) -> None:
    """The console script as the README runs it (`uv run aca-warehouse sql ...`)."""
    result = subprocess.run(
        [sys.executable, "-m", "aca_warehouse.cli", "sql", "select count(*) as n from marts.sql_probe"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].strip() == "2"
