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
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy, Config
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from aca_warehouse.assets.landing import DAILY_FRESHNESS
from aca_warehouse.partitions import WAREHOUSE_BUILD_POOL, daily_partitions
from aca_warehouse.resources.dbt import dbt_project, dbt_resource
from aca_warehouse.resources.warehouse import WarehouseResource


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

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
        """Models carry the daily freshness policy: every run refreshes them."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("model."):
            return spec.replace_attributes(freshness_policy=DAILY_FRESHNESS)
        return spec

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
    if warehouse.kind == "postgres":
        saved_options = os.environ.get("PGOPTIONS")
        overrides["PGOPTIONS"] = (
            f"{saved_options} {POSTGRES_SESSION_OPTIONS}".strip()
            if saved_options
            else POSTGRES_SESSION_OPTIONS
        )
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

    Each run writes its artifacts to a scratch directory (rendered SQL holds the member-key
    secret), which would make every run parse the project from scratch. The parse state itself
    holds no secret (the secret is read only at execution, the profile only as a hash), so it is
    kept under dbt/target/parse-cache/, one file per warehouse connection (ACA_DBT_PARSE_CACHE to
    move it)."""
    connection = {k: v for k, v in warehouse.dbt_env().items() if k != "ACA_MEMBER_KEY_SECRET"}
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
    # Rendered SQL contains the member-key secret: keep dbt's target/log files in a scratch dir.
    scratch = Path(tempfile.mkdtemp(prefix="aca-dbt-"))
    cache = parse_cache_dir(warehouse)
    restore_parse_state(cache, scratch)
    try:
        with dbt_subprocess_env(warehouse):  # the dbt subprocess starts inside cli()
            invocation = dbt.cli(
                build_args(full_refresh=config.full_refresh), context=context, target_path=scratch
            )
        yield from invocation.stream()
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
