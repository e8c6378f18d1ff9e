"""Builds the dbt docs (one static page: every model, column, test and the lineage) for the docs site.

uv run python scripts/build_dbt_docs.py                    # -> docs/_build/dbt-docs/dbt/index.html
uv run python scripts/build_dbt_docs.py --out DIR          # -> DIR/dbt/index.html

The catalog (column names and types as the database reports them) needs built tables, and the docs
must not depend on, or lock, anyone's warehouse. So the script builds a throwaway DuckDB file: the
staging tables from the data dictionary (empty), then every dbt model with `dbt run --empty` (real
tables with their real columns and types, no rows), then `dbt docs generate --static`, which writes
a single self-contained `static_index.html` that opens from disk. Row counts are therefore not part
of this catalog; the model SQL, descriptions, tests and column types are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = PROJECT_ROOT / "dbt"
DEFAULT_OUT = PROJECT_ROOT / "docs" / "_build" / "dbt-docs"


def create_empty_staging(duckdb_path: Path) -> None:
    """The dbt sources, with no rows: every feed's staging table, the quarantine, the load audit and the
    check results the data-quality models read."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from aca_warehouse.assets.quality import ensure_copied_results_table
    from aca_warehouse.contract import load_dictionary
    from aca_warehouse.resources.warehouse import WarehouseResource
    from aca_warehouse.staging.tables import ensure_staging_tables

    dictionary = load_dictionary()
    with WarehouseResource(kind="duckdb", duckdb_path=str(duckdb_path)).connect() as conn:
        for feed in dictionary.feeds.values():
            ensure_staging_tables(conn, dictionary, feed)
        ensure_copied_results_table(conn)


def run_dbt(args: list[str]) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)])
    if not result.success:
        raise SystemExit(f"dbt {' '.join(args[:2])} failed: {result.exception or 'see the dbt output above'}")


def build_dbt_docs(out_dir: Path) -> Path:
    """Write `<out_dir>/dbt/index.html` (plus manifest.json and catalog.json beside it)."""
    with tempfile.TemporaryDirectory(prefix="aca-dbt-docs-") as scratch_name:
        scratch = Path(scratch_name)
        duckdb_path = scratch / "warehouse.duckdb"
        create_empty_staging(duckdb_path)
        os.environ.update(
            {
                "ACA_DBT_TARGET": "duckdb",
                "ACA_DUCKDB_PATH_ABS": str(duckdb_path),
                "ACA_MEMBER_KEY_SECRET": "dbt-docs-build",  # rendered into SQL: never a real secret here
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
        )
        target = scratch / "target"
        common = ["--target-path", str(target), "--log-path", str(scratch / "logs"), "--quiet"]
        run_dbt(["run", "--empty", *common])
        run_dbt(["docs", "generate", "--static", *common])
        site = out_dir / "dbt"
        if site.exists():
            shutil.rmtree(site)
        site.mkdir(parents=True)
        shutil.copyfile(target / "static_index.html", site / "index.html")
        for artifact in ("manifest.json", "catalog.json"):
            shutil.copyfile(target / artifact, site / artifact)
    return site / "index.html"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output root (default {DEFAULT_OUT})")
    args = parser.parse_args()
    started = time.perf_counter()
    index = build_dbt_docs(args.out.resolve())
    print(f"dbt docs: {index} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
