"""The dbt project (staging, intermediate, core star, marts) as Dagster assets: one `@dbt_assets`.

Every dbt model is daily-partitioned by load date, like the staging feeds, so a run of a
partition (or of a range, as a single-run backfill) is one run through every layer. The dbt
build itself needs no window: it processes whatever staging holds that the last successful
build did not (models/staging/stg_load_changes.sql), so every incremental model rebuilds only
the keys that changed. dbt tests become asset checks; `severity: error` tests are blocking. See
docs/STAR_SCHEMA.md for why one multi-asset rather than one per layer.

The manifest is read, never built, at import: prepare it with
`dagster-dbt project prepare-and-package --file aca_warehouse/resources/dbt.py` (or `dbt parse`
in dbt/); `dagster dev` prepares it itself through `prepare_if_dev()`.
"""

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, Config
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from aca_warehouse.errors import DbtBuildError
from aca_warehouse.partitions import WAREHOUSE_BUILD_POOL, daily_partitions
from aca_warehouse.resources.dbt import dbt_project, dbt_resource
from aca_warehouse.resources.warehouse import WarehouseResource, is_duckdb_lock_error
from aca_warehouse.scratch import DBT_SCRATCH_PREFIX, new_scratch_dir
from aca_warehouse.settings import redact


class AcaDbtTranslator(DagsterDbtTranslator):
    """Asset keys and groups by layer folder (`staging/stg_claims`, `intermediate/...`, `core/...`,
    `marts/...`), descriptions from YAML."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return AssetKey([self._layer(dbt_resource_props), dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return self._layer(dbt_resource_props)
        return super().get_group_name(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        description = (dbt_resource_props.get("description") or "").strip()
        grain = (dbt_resource_props.get("meta") or {}).get("grain") or (
            dbt_resource_props.get("config", {}).get("meta") or {}
        ).get("grain")
        parts = [description or f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"]
        if grain:
            parts.append(f"Grain: {grain}")
        if dbt_resource_props.get("unique_id"):  # its page in the dbt docs (`make docs`, ACA_DBT_DOCS_URL)
            from aca_warehouse.docs_links import dbt_docs_url

            parts.append(f"[dbt docs]({dbt_docs_url(dbt_resource_props['unique_id'])})")
        return "\n\n".join(parts)

    @staticmethod
    def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
        """The model's folder under models/ (staging, intermediate, core, marts)."""
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "core"


class DbtBuildConfig(Config):
    """Run options: `full_refresh` rebuilds the incremental models from all staged loads."""

    full_refresh: bool = False


# PostgreSQL's JIT compiles every query whose estimated cost is high; the models' CTE-heavy
# queries are estimated far above their real cost and paid 1-2.5 s of compilation each for
# sub-second work. Off for the dbt session only (libpq reads PGOPTIONS).
POSTGRES_SESSION_OPTIONS = "-c jit=off"


@contextmanager
def dbt_subprocess_env(warehouse: WarehouseResource) -> Iterator[None]:
    """Environment for the dbt subprocess (it starts inside `cli()`), restored afterwards: the
    warehouse connection and libpq session options on PostgreSQL."""
    overrides = warehouse.dbt_env()
    if warehouse.kind == "postgres":  # the caller's options, the member-key secret, JIT off
        options = [os.environ.get("PGOPTIONS", ""), overrides.get("PGOPTIONS", ""), POSTGRES_SESSION_OPTIONS]
        overrides["PGOPTIONS"] = " ".join(o for o in options if o)
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def parse_cache_dir(warehouse: WarehouseResource) -> Path:
    """Where dbt's partial-parse state for this warehouse is kept between runs.

    Each run writes its artifacts to a scratch directory, which would make every run parse the
    project from scratch. The parse state holds no secret (the member-key secret is never in SQL
    text, the profile is kept only as a hash), so it is kept under dbt/target/parse-cache/, one file
    per warehouse connection (ACA_DBT_PARSE_CACHE to move it)."""
    connection = warehouse.connection_env()
    key = hashlib.sha256(json.dumps(connection, sort_keys=True).encode()).hexdigest()[:16]
    root = os.environ.get("ACA_DBT_PARSE_CACHE") or dbt_project.project_dir / "target" / "parse-cache"
    return Path(root) / key


def restore_parse_state(cache: Path, scratch: Path) -> None:
    with suppress(OSError):
        shutil.copyfile(cache / PARTIAL_PARSE_FILE, scratch / PARTIAL_PARSE_FILE)


def save_parse_state(scratch: Path, cache: Path) -> None:
    """Keep the run's parse state for the next run (atomically: runs may finish side by side).
    A read-only location only costs the next run a full parse."""
    produced = scratch / PARTIAL_PARSE_FILE
    if not produced.exists():
        return
    with suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
        shutil.copyfile(produced, partial)
        os.replace(partial, cache / PARTIAL_PARSE_FILE)


def dbt_log_dir(context: AssetExecutionContext) -> Path:
    """Where failed dbt builds keep their log: `<Dagster home>/logs/dbt` (private to this user)."""
    instance = context.instance  # an ephemeral instance's directory vanishes with it: use DAGSTER_HOME then
    home = (None if instance.is_ephemeral else instance.root_directory) or os.environ.get("DAGSTER_HOME")
    root = Path(home) if home else Path(tempfile.gettempdir()) / "aca-warehouse-logs"
    return root / "logs" / "dbt"


def keep_dbt_log(scratch: Path, directory: Path, run_id: str) -> Path | None:
    """Copy the invocation's dbt.log, passwords and secrets masked, to `directory` (0600); its path."""
    source = scratch / "dbt.log"
    if not source.exists():
        return None
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = directory / f"dbt-{run_id[:8]}-{stamp}.log"
    with source.open(encoding="utf-8", errors="replace") as src:
        text = redact(src.read())
    descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    return kept


def dbt_failure(
    exc: DagsterDbtCliRuntimeError, warehouse: WarehouseResource, scratch: Path, kept: Path | None
) -> DbtBuildError:
    """One clear error for a failed dbt build: what failed (masked), where the log is kept, and
    'another run holds the warehouse' when DuckDB's file lock was the cause."""
    text = redact(str(exc))
    log_text = ""
    with suppress(OSError):
        log_text = (scratch / "dbt.log").read_text(encoding="utf-8", errors="replace")
    where = f"the dbt log (secrets masked) is kept at {kept}" if kept else "dbt wrote no log"
    if warehouse.kind == "duckdb" and (is_duckdb_lock_error(text) or is_duckdb_lock_error(log_text)):
        return DbtBuildError(
            f"dbt could not open the warehouse: another run holds the warehouse {warehouse.duckdb_path} "
            f"(DuckDB allows one writer process at a time); load again when it has finished; {where}"
        )
    errors = text.split("Errors parsed from dbt logs:", 1)[1].strip() if "Errors parsed" in text else ""
    lines = [line.strip() for line in errors.splitlines() if line.strip()][:12]
    detail = ("\n  " + "\n  ".join(lines)) if lines else ""
    return DbtBuildError(f"dbt build failed on {warehouse.description}; {where}{detail}")


def build_args(*, full_refresh: bool) -> list[str]:
    return ["build", "--full-refresh"] if full_refresh else ["build"]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    name="aca_dbt_models",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    pool=WAREHOUSE_BUILD_POOL,
    dagster_dbt_translator=AcaDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
    ),
)
def aca_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """One `dbt build`: every model brought up to date with what staging changed since the last build."""
    context.log.info(f"dbt build on {warehouse.description}")
    if warehouse.kind == "duckdb":  # wait for (or name) a run holding the file, rather than fail every node
        with warehouse.connect():
            pass
    # dbt's target and log files go to a private scratch dir, removed afterwards (and by the next run
    # if this process is killed first). They hold no secret: the SQL reads it from the session.
    scratch = new_scratch_dir(DBT_SCRATCH_PREFIX)
    cache = parse_cache_dir(warehouse)
    restore_parse_state(cache, scratch)
    try:
        with dbt_subprocess_env(warehouse):  # the dbt subprocess starts inside cli()
            invocation = dbt.cli(
                build_args(full_refresh=config.full_refresh), context=context, target_path=scratch
            )
        try:
            yield from invocation.stream()
        except DagsterDbtCliRuntimeError as exc:
            kept = keep_dbt_log(scratch, dbt_log_dir(context), context.run.run_id)
            raise dbt_failure(exc, warehouse, scratch, kept) from None
        save_parse_state(scratch, cache)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


dbt_assets_list: list = [aca_dbt_models]

__all__ = [
    "AcaDbtTranslator",
    "DbtBuildConfig",
    "aca_dbt_models",
    "dbt_assets_list",
    "dbt_project",
    "dbt_resource",
]
