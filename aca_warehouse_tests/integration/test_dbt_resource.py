"""What the project's dbt resource and parse-state cache rely on in dagster-dbt and dbt, pinned.

`AcaDbtCliResource` overrides two private methods of dagster-dbt's `DbtCliResource`, and
`aca_warehouse/assets/dbt.py` keeps dbt's partial-parse state per warehouse; each saves seconds per
run that dagster-dbt offers no public setting for (figures in aca_warehouse/resources/dbt.py and
assets/dbt.py). These tests run real dbt through both resources and fail when dagster-dbt or dbt
changes what the overrides and the cache stand in for; then re-measure (bench/dbt_step.py) and
go back to the stock resource where it costs about the same.
"""

from __future__ import annotations

import logging
import os
import stat
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource
from packaging import version

from aca_warehouse.assets.dbt import (
    PARTIAL_PARSE_FILE,
    dbt_subprocess_env,
    restore_parse_state,
    save_parse_state,
)
from aca_warehouse.resources.dbt import (
    DBT_MANIFEST_TARGET_DIR,
    AcaDbtCliResource,
    dbt_executable,
    dbt_project,
    dbt_resource,
)
from aca_warehouse.resources.warehouse import WarehouseResource

pytestmark = pytest.mark.duckdb

PROFILE_CHANGED = "Unable to do partial parsing because profile has changed"
COPYING = "to take advantage of partial parsing"


def _dbt_log(target: Path) -> str:
    return (target / "dbt.log").read_text(encoding="utf-8", errors="replace")


def test_stock_resource_costs_and_what_ours_skips(
    tmp_path: Path, make_warehouse, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    project_state = dbt_project.project_dir / DBT_MANIFEST_TARGET_DIR / PARTIAL_PARSE_FILE
    assert project_state.exists(), "run `make dbt-manifest` first"
    warehouse: WarehouseResource = make_warehouse("duckdb")
    # A `dbt` that records its arguments, then runs this environment's dbt.
    calls = tmp_path / "calls.txt"
    wrapper = tmp_path / "dbt"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {dbt_executable()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    stock = DbtCliResource(
        project_dir=dbt_project, profiles_dir=os.fspath(dbt_project.project_dir), dbt_executable=str(wrapper)
    )

    stock_target = tmp_path / "stock-target"
    caplog.set_level(logging.INFO)
    with dbt_subprocess_env(warehouse):
        invocation = stock.cli(["parse"], target_path=stock_target)
        invocation.wait()
    # 1. dagster-dbt asks `dbt --version` in a subprocess (AcaDbtCliResource._cli_version: ~4.4 s a run) ...
    assert calls.read_text().splitlines()[0] == "--version"
    # 2. ... and builds a dbt adapter in the Dagster process (_initialize_dbt_core_adapter: ~4.2 s).
    assert invocation.adapter is not None
    # 3. Its own partial-parse handling copies the project's state (dbt/target, from `make dbt-manifest`)
    # into the invocation's target, which dbt rejects for any other warehouse: a full parse every run.
    assert COPYING in caplog.text
    assert PROFILE_CHANGED in _dbt_log(stock_target)

    # Ours: no `dbt --version`, no adapter, and the state this warehouse's last run saved is parsed
    # partially; dagster-dbt copies the project's state only where no state is, so it keeps ours.
    ours = dbt_resource()
    assert isinstance(ours, AcaDbtCliResource)
    assert ours._cli_version == version.parse(installed_version("dbt-core"))
    cache, target = tmp_path / "cache", tmp_path / "ours-target"
    save_parse_state(stock_target, cache)
    target.mkdir()
    restore_parse_state(cache, target)
    caplog.clear()
    with dbt_subprocess_env(warehouse):
        invocation = ours.cli(["parse"], target_path=target)
        invocation.wait()
    assert invocation.adapter is None
    assert COPYING not in caplog.text
    log = _dbt_log(target)
    assert PROFILE_CHANGED not in log and "Unable to do partial parsing" not in log
    assert (target / PARTIAL_PARSE_FILE).stat().st_size > 0
