"""The dbt project and CLI resource: one dbt project, its target chosen by the warehouse's dbt_env()."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev
from packaging import version

from aca_warehouse.settings import DBT_PROJECT_DIR

# Where `dbt parse` writes the manifest that the Dagster definitions read (dbt/target/).
# Each dbt run inside Dagster writes its artifacts to a scratch directory instead.
DBT_MANIFEST_TARGET_DIR = Path("target")

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=DBT_MANIFEST_TARGET_DIR,
)


def dbt_executable() -> str:
    """The `dbt` of this Python environment (works without an activated virtualenv), else the PATH's."""
    beside_python = Path(sys.executable).parent / "dbt"
    if beside_python.exists():
        return os.fspath(beside_python)
    return shutil.which("dbt") or "dbt"


class AcaDbtCliResource(DbtCliResource):
    """DbtCliResource without two fixed costs of every run, by overriding two private methods.

    dagster-dbt (0.29.27) has no public setting for either; both are kept for a measured gain and
    pinned by aca_warehouse_tests/integration/test_dbt_resource.py, which fails when dagster-dbt stops doing what
    they skip (then re-measure with bench/dbt_step.py and drop the override if the gain is gone).
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        """The stock resource runs `dbt --version` in a subprocess once per resource instance, that is
        once per run (dbt imports itself, then asks PyPI with a 1 s timeout: offline here). Measured
        4.1 / 4.4 / 6.3 s, median 4.4 s (2 shared cores, 2026-12-07). Our `dbt` is this environment's
        dbt-core, so its package version is the same answer without the subprocess."""
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        """No dbt adapter inside the Dagster process.

        The stock resource builds one before every invocation (it imports dbt and loads all of dbt's
        macros) only for `fetch_row_counts()` / `fetch_column_metadata()`, which these assets do not
        use: row counts are one query after dbt exits (assets/dbt.py, `with_row_counts`), columns come
        from the YAML. Measured in a fresh process, as every run is one: 4.1 / 4.2 / 5.2 s, median
        4.2 s (0.8-1.2 s more in a process that built one before; 2 shared cores, 2026-12-07)."""
        return None


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for the project (the target follows ACA_WAREHOUSE through dbt_env())."""
    return AcaDbtCliResource(
        project_dir=dbt_project, profiles_dir=os.fspath(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )


def prepare_manifest_if_dev() -> None:
    """Under `dagster dev`, rebuild the manifest on load (`dbt parse`), as `DbtProject.prepare_if_dev()`
    does, but with this environment's dbt: a `dagster dev` started without an activated virtualenv
    has no `dbt` on PATH. Elsewhere the manifest must be prepared beforehand (`make dbt-manifest`)."""
    if using_dagster_dev():
        dbt_resource().cli(["parse", "--quiet"], target_path=DBT_MANIFEST_TARGET_DIR).wait()


prepare_manifest_if_dev()

__all__ = ["AcaDbtCliResource", "dbt_executable", "dbt_project", "dbt_resource"]
