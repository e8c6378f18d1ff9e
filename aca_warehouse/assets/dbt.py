"""The dbt project (staging, intermediate, core star, marts) as Dagster assets: one `@dbt_assets`.

Every dbt model is daily-partitioned by load date, like the staging feeds, so a run of a
partition (or of a range, as a single-run backfill) is one run through every layer. The dbt
build itself needs no window: it processes whatever staging holds that the last successful
build did not (models/staging/stg_load_changes.sql), so every incremental model rebuilds only
the keys that changed. dbt tests become asset checks; `severity: error` tests are blocking. See
docs/STAR_SCHEMA.md for why one multi-asset rather than one per layer.

The manifest is read, never built, at import outside `dagster dev`: prepare it with
`make dbt-manifest` (`dbt parse` in dbt/); under `dagster dev` importing aca_warehouse/resources/dbt.py
rebuilds it (`prepare_manifest_if_dev()`).
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Config,
    MetadataValue,
    Output,
    PartitionsDefinition,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.asset_utils import DAGSTER_DBT_PROJECT_METADATA_KEY
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.errors import DbtBuildError
from aca_warehouse.lake import lake_tables, lake_vars, refresh_lake_views, sync_lake
from aca_warehouse.partitions import WAREHOUSE_BUILD_POOL
from aca_warehouse.resources.dbt import dbt_project, dbt_resource
from aca_warehouse.resources.warehouse import WarehouseResource, is_duckdb_lock_error
from aca_warehouse.scratch import DBT_SCRATCH_PREFIX, new_scratch_dir
from aca_warehouse.settings import redact

# dbt's built-in generic tests: what they check (the project's own generic tests are described in
# dbt/tests/generic/_generic_tests.yml; dbt takes no docs for another package's macros).
BUILTIN_TEST_DOCS = {
    "not_null": "The column is never null.",
    "unique": "The column's values are unique.",
    "accepted_values": "The column holds only the accepted values (nulls are not checked).",
    "relationships": "Every value of the column is a key of the referenced model.",
}

# Materializations whose rows are counted after a build; views are not (counting one runs its query).
COUNTED_MATERIALIZATIONS = frozenset({"table", "incremental"})
ROW_COUNT_KEY = "dagster/row_count"  # Dagster's standard key: the UI shows it on the asset


class AcaDbtTranslator(DagsterDbtTranslator):
    """Asset keys and groups by layer folder (`staging/stg_claims`, `intermediate/...`, `core/...`,
    `marts/...`), descriptions from YAML, owners and a layer tag (assets/ownership.py), and a
    description on every asset check.

    The translator keeps the DbtProject itself rather than in the assets' metadata: dagster-dbt
    stores the project under `dagster_dbt/project`, which the UI shows as "[DbtProject]
    (unserializable)". dagster-dbt reads that entry back during a build (`get_manifest_and_translator_
    from_dbt_assets`) and hands it to this translator for code references; with the entry gone it
    hands None, and `get_asset_spec` falls back to the kept project, so code references still resolve.
    """

    def __init__(
        self, settings: DagsterDbtTranslatorSettings | None = None, project: DbtProject | None = None
    ):
        super().__init__(settings)
        self._project = project

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

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        """The model's own `meta.dagster.owners` if it names some, else the data-platform team."""
        return super().get_owners(dbt_resource_props) or OWNERS

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        if dbt_resource_props["resource_type"] == "model":
            tags.update(layer_tags(self._layer(dbt_resource_props)))
        return tags

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
        """The project comes from this translator (see the class docstring) and stays out of the
        metadata."""
        spec = super().get_asset_spec(manifest, unique_id, project or self._project)
        if DAGSTER_DBT_PROJECT_METADATA_KEY in spec.metadata:
            metadata = {k: v for k, v in spec.metadata.items() if k != DAGSTER_DBT_PROJECT_METADATA_KEY}
            spec = spec.replace_attributes(metadata=metadata)
        return spec

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project or self._project)
        if spec is None:
            return None
        return spec._replace(description=check_description(manifest, manifest["nodes"][unique_id]))

    @staticmethod
    def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
        """The model's folder under models/ (staging, intermediate, core, marts)."""
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "core"


def check_description(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> str:
    """What a dbt test checks, for its asset check: the test's own YAML `description` (singular
    tests: dbt/tests/_singular_tests.yml), else its generic test's doc followed by the model, column
    and arguments of this use; and what a failure does."""
    severity = str(test.get("config", {}).get("severity") or "error").lower()
    effect = (
        "a failure blocks the assets downstream" if severity == "error" else "a failure warns, never blocks"
    )
    own = (test.get("description") or (test.get("meta") or {}).get("description") or "").strip()
    metadata = test.get("test_metadata") or {}
    if own or not metadata:
        return f"{(own or 'dbt test ' + test['name']).rstrip('.')}. Severity {severity}: {effect}."
    name = metadata["name"]
    package = metadata.get("namespace") or test.get("package_name")
    macro = manifest.get("macros", {}).get(f"macro.{package}.test_{name}") or {}
    doc = (macro.get("description") or "").strip() or BUILTIN_TEST_DOCS.get(name, f"dbt generic test {name}.")
    model = manifest["nodes"].get(test.get("attached_node") or "", {}).get("name", "")
    kwargs = metadata.get("kwargs") or {}
    target = ".".join(p for p in (model, kwargs.get("column_name")) if p)
    arguments = "; ".join(
        f"{key}: {_argument_text(value)}"
        for key, value in kwargs.items()
        if key not in ("model", "column_name")
    )
    return f"{doc} On {target}{f' ({arguments})' if arguments else ''}. Severity {severity}: {effect}."


def _argument_text(value: Any) -> str:
    """A generic test argument as text: refs by model name, lists joined."""
    if isinstance(value, str):
        return value[5:-2] if value.startswith("ref('") and value.endswith("')") else value
    if isinstance(value, Mapping):
        return " ".join(f"{k}={_argument_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_argument_text(v) for v in value)
    return str(value)


def count_rows(
    warehouse: WarehouseResource, relations: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Row counts of (schema, table) relations, in one query and one connection."""
    ordered = sorted(set(relations))
    if not ordered:
        return {}
    sql = " union all ".join(
        f'select {i} as relation, count(*) as row_count from "{schema}"."{table}"'
        for i, (schema, table) in enumerate(ordered)
    )
    with warehouse.connect() as conn:
        return {ordered[i]: int(n) for i, n in conn.fetchall(sql)}


def with_row_counts(
    events: Sequence[Any],
    manifest: Mapping[str, Any],
    warehouse: WarehouseResource,
    context: AssetExecutionContext,
) -> list[Any]:
    """The build's events, each model table's materialization with `dagster/row_count` attached.

    Counted once, after dbt has exited (DuckDB's single-writer lock is free again): one UNION ALL of
    `count(*)` over the tables built, named `schema.table` on the run's own connection. Views are not
    counted. dagster-dbt's `fetch_row_counts()` is not used: it needs an in-process dbt adapter
    (AcaDbtCliResource has none: ~3 s a run) and queries the manifest's `relation_name`, which carries
    the database of the parse (`"warehouse"."core"...`): on a DuckDB file not named warehouse.duckdb
    (every test warehouse; measured) or a PostgreSQL database not named warehouse, every count
    fails and is silently left out.
    A failed count only leaves the counts out; it never fails the build."""
    relation_of: dict[int, tuple[str, str]] = {}
    for index, event in enumerate(events):
        if not isinstance(event, Output | AssetMaterialization):
            continue
        unique_id = event.metadata.get("unique_id")
        node = manifest["nodes"].get(getattr(unique_id, "value", unique_id) or "")
        if node and node.get("config", {}).get("materialized") in COUNTED_MATERIALIZATIONS:
            relation_of[index] = (node["schema"], node["alias"])
    if not relation_of:
        return list(events)
    began = time.monotonic()
    try:
        counts = count_rows(warehouse, list(relation_of.values()))
    except Exception as exc:  # metadata only: the build's outcome stands
        context.log.warning(f"row counts left out: {redact(str(exc))}")
        return list(events)
    context.log.info(f"row counts of {len(counts)} dbt tables in {time.monotonic() - began:.2f} s")
    return [
        event.with_metadata({**event.metadata, ROW_COUNT_KEY: MetadataValue.int(counts[relation_of[i]])})
        if i in relation_of
        else event
        for i, event in enumerate(events)
    ]


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
    if warehouse.engine == "postgres":  # the caller's options, the member-key secret, JIT off
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

    dagster-dbt's own handling copies the project's state (dbt/target/partial_parse.msgpack, from
    `make dbt-manifest` or the image build) into each invocation's target, but dbt accepts a state
    only for the connection it was parsed with (the profile's hash covers the DuckDB path, the
    PostgreSQL host and database): against any other warehouse, the production image's included,
    every run would parse the whole project. So each successful run keeps its state per warehouse
    connection, and the next run starts from it; dagster-dbt then leaves it in place (it copies only
    where no state is). Measured `dbt parse` with the project's state vs this warehouse's: 14.2 s vs
    8.0 s on a quieter machine, medians 52.6 s vs 36.1 s of three on a loaded one (2 shared cores,
    2026-12-07); aca_warehouse_tests/integration/test_dbt_resource.py pins the behaviour. The state holds no secret
    (the member-key secret is never in SQL text, the profile is kept only as a hash): it is kept under
    dbt/target/parse-cache/, one file per warehouse connection (ACA_DBT_PARSE_CACHE to move it)."""
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
    if warehouse.engine == "duckdb" and (is_duckdb_lock_error(text) or is_duckdb_lock_error(log_text)):
        return DbtBuildError(
            f"dbt could not open the warehouse: another run holds the warehouse {warehouse.duckdb_path} "
            f"(DuckDB allows one writer process at a time); load again when it has finished; {where}"
        )
    errors = text.split("Errors parsed from dbt logs:", 1)[1].strip() if "Errors parsed" in text else ""
    lines = [line.strip() for line in errors.splitlines() if line.strip()][:12]
    detail = ("\n  " + "\n  ".join(lines)) if lines else ""
    return DbtBuildError(f"dbt build failed on {warehouse.description}; {where}{detail}")


DBT_STOP_TIMEOUT_SECONDS = 25


def stop_dbt(process: subprocess.Popen) -> None:
    """Stop a dbt process still running: SIGINT (dbt rolls back and closes the warehouse), then kill."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=DBT_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# dbt unit tests (`unit_tests:` in dbt/models/**/_*_unit_tests.yml) check the models' SQL on fixed
# rows, not the data: only a code change can alter their outcome, so they run where code changes (the
# test suite, CI, `dbt test --select test_type:unit`), as dbt advises, and not in every daily build
# (~5-7 s of a demo-scale build).
EXCLUDE_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]


def build_args(*, full_refresh: bool, lake: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """`dbt build`'s arguments. Lake mode (`lake`: lake_tables()) adds `--vars {"lake_tables": [...]}`,
    from which dbt's on-run-start macro registers the lake's staging tables in Spark."""
    lake_args = ["--vars", lake_vars([dict(t) for t in lake])] if lake is not None else []
    return ["build", *(["--full-refresh"] if full_refresh else []), *EXCLUDE_UNIT_TESTS, *lake_args]


def prepare_lake(context: AssetExecutionContext, warehouse: WarehouseResource) -> list[dict[str, Any]]:
    """Lake mode, before dbt: any feed partition or whole table the lake lacks published (a run that
    failed between a load and its publication, a lake switched on over an existing staging file), and
    the staging tables for dbt to register (lake_tables())."""
    with warehouse.connect() as conn:
        for published in sync_lake(conn, warehouse.lake_dir):
            context.log.info(f"lake: published {published.summary()}")
        tables = lake_tables(conn, warehouse.lake_dir)
    context.log.info(f"lake: {len(tables)} staging tables for dbt in {warehouse.lake_location}")
    return tables


def refresh_views_after_build(context: AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """Lake mode, after dbt: the tables Spark built become views in the DuckDB file (refresh_lake_views),
    read by the row counts, the reports and `aca-warehouse sql`."""
    with warehouse.connect() as conn:
        views = refresh_lake_views(conn, warehouse.spark_dir)
    context.log.info(
        f"lake: {len(views.created)} view(s) of Spark's tables in {warehouse.duckdb_path}"
        + (f", {len(views.dropped)} dropped ({', '.join(views.dropped)})" if views.dropped else "")
    )
    if views.conflicts:
        context.log.warning(
            "lake: not replaced by a view of Spark's table, as a table or view of the same name exists in "
            f"{warehouse.duckdb_path} (drop it, or give lake mode its own ACA_DUCKDB_PATH): "
            + ", ".join(views.conflicts)
        )


# The data-quality models (dbt tag `data_quality`: core.fct_data_quality, marts.data_quality_kpis and
# their staging views) are part of the one build, downstream of the check-results copy
# (assets/quality.py); tools that build the warehouse without Dagster's check results leave them out.
DATA_QUALITY_MODELS = "tag:data_quality"


def run_dbt_build(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, *, full_refresh: bool
) -> Iterator[Any]:
    """One `dbt build` of the calling `@dbt_assets`' selection, its events yielded when dbt exits."""
    context.log.info(f"dbt build on {warehouse.description}")
    lake = prepare_lake(context, warehouse) if warehouse.is_lake else None
    if warehouse.engine == "duckdb" and lake is None:  # wait for (or name) a run holding the file, rather
        # than fail every node (lake mode: prepare_lake has opened it)
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
                build_args(full_refresh=full_refresh, lake=lake), context=context, target_path=scratch
            )
        # The events are held until dbt exits, then yielded with the tables' row counts (see
        # with_row_counts): the UI shows a build's materializations when the build ends.
        events: list[Any] = []
        failure: DbtBuildError | None = None
        try:
            events.extend(invocation.stream())
        except DagsterDbtCliRuntimeError as exc:
            kept = keep_dbt_log(scratch, dbt_log_dir(context), context.run.run_id)
            failure = dbt_failure(exc, warehouse, scratch, kept)
        except BaseException:  # an error reading the stream: dbt must not keep holding the warehouse
            stop_dbt(invocation.process)
            raise
        views_error: Exception | None = None
        if warehouse.is_lake:  # what Spark built (a failed build's tables too), before the row counts
            try:
                refresh_views_after_build(context, warehouse)
            except Exception as exc:  # the build's events are yielded first; the step then fails
                views_error = exc
        yield from with_row_counts(events, invocation.manifest, warehouse, context)
        if failure is not None:
            raise failure from None
        if views_error is not None:
            raise views_error
        save_parse_state(scratch, cache)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def aca_translator() -> AcaDbtTranslator:
    return AcaDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True),
        project=dbt_project,
    )


def project_dbt_assets(name: str, partitions_def: PartitionsDefinition, **selection: str) -> Any:
    """The `@dbt_assets` decorator for a part of this project (`selection`: dbt's `select` and/or
    `exclude`), as every dbt asset here is: load-date partitions, one run for a range, the build pool,
    the project's translator."""
    return dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        name=name,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=WAREHOUSE_BUILD_POOL,
        dagster_dbt_translator=aca_translator(),
        **selection,
    )


def build_dbt_assets(partitions_def: PartitionsDefinition) -> AssetsDefinition:
    """The dbt models as one `@dbt_assets` definition, partitioned by `partitions_def` (the code
    location's load-date partitions, built from the settings by `build_definitions`)."""

    @project_dbt_assets("aca_dbt_models", partitions_def)
    def aca_dbt_models(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: DbtBuildConfig,
    ) -> Iterator[Any]:
        """One `dbt build`: every model brought up to date with what staging changed since the last build."""
        yield from run_dbt_build(context, dbt, warehouse, full_refresh=config.full_refresh)

    return aca_dbt_models


__all__ = [
    "DATA_QUALITY_MODELS",
    "AcaDbtTranslator",
    "DbtBuildConfig",
    "aca_translator",
    "build_dbt_assets",
    "project_dbt_assets",
    "dbt_project",
    "dbt_resource",
    "run_dbt_build",
]
