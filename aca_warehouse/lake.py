"""Lake mode (`ACA_WAREHOUSE=spark`): the staged tables as Parquet for Spark, Spark's tables back as views.

Staging stays in the local DuckDB file exactly as for the `duckdb` warehouse (validation, quarantine,
audit). What dbt on Spark reads is a copy of it in the lake (`ACA_LAKE_DIR`: a local directory or an
object-store URL, written through fsspec):

    <lake>/staging/<feed>/_load_date=YYYY-MM-DD/part-0.parquet   a feed, one directory per load date
    <lake>/staging/load_audit/part-0.parquet                     the tables without a load date
    <lake>/staging/quarantine/part-0.parquet
    <lake>/staging/check_results/part-0.parquet

The staging assets publish the partitions they loaded (`sync_partitions`), the load audit and the
quarantine (`publish_whole`); the quality asset publishes `check_results`. The dbt step hands
`lake_tables()` to dbt (`--vars {"lake_tables": [...]}`), whose on-run-start macro registers each
location as a Spark table with those columns, and after the build `refresh_lake_views()` makes every
table Spark built (`<ACA_SPARK_DIR>/warehouse/<schema>.db/<table>/`) a view in the DuckDB file, so row
counts, the quality asset, the reports and `aca-warehouse sql` read what Spark built.

Writes are atomic per file: a reader sees a partition's old file or its new one, never half of one
(local lake: written under a hidden name beside it, then renamed; object stores: one PUT of a file
written locally first). A load date left without rows has its directory removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from aca_warehouse.errors import AcaWarehouseError
from aca_warehouse.scratch import LAKE_SCRATCH_PREFIX, private_scratch_dir

if TYPE_CHECKING:
    from aca_warehouse.contract.dictionary import Dictionary
    from aca_warehouse.resources.warehouse import WarehouseConnection

STAGING_SCHEMA = "staging"
PARTITION_COLUMN = "_load_date"
PART_FILE = "part-0.parquet"
# Staging tables published whole (no load date partitions); the feeds' tables are partitioned.
WHOLE_TABLES = ("load_audit", "quarantine", "check_results")
# Which partition of a feed holds which load (load date -> load id): `<lake>/staging/_published/<feed>.json`,
# outside the tables' directories (Spark's `msck repair` warns about every file it finds in one).
PUBLISHED_DIR = "_published"
# Spark 3 reads dates before 1582-10-15 and timestamps before 1900 from a Parquet file no Spark wrote
# only under spark.sql.parquet.datetimeRebaseModeInRead=CORRECTED/LEGACY (the default EXCEPTION fails
# the query), because such a file might use the hybrid Julian calendar of Spark 2 and Hive. DuckDB
# writes the proleptic Gregorian calendar of Spark 3; this key says so (Spark reads a file whose
# writer is Spark >= 3.0 and that has no `org.apache.spark.legacyDateTime` key as it is: checked with
# pyspark 3.5.9 on DuckDB 2.0 files holding 1000-01-01 and 1899-12-31 23:00 UTC).
SPARK_CALENDAR_METADATA = {"org.apache.spark.version": "3.0.0"}
# The schemas whose Spark tables become views in the DuckDB file, and the mark on those views.
# `staging` too: dbt's staging models (stg_*) are tables on Spark, counted after a build like the others;
# the DuckDB file's own staging tables have other names, and a table is never replaced anyway.
SPARK_SCHEMAS = ("staging", "core", "marts")
LAKE_VIEW_COMMENT = "aca-warehouse lake view"
# dbt's work relations (`<model>__dbt_tmp`, `__dbt_backup`, the Spark `replace` strategy's `__dbt_new` /
# `__dbt_next`): dropped after their model is built, never models; a failed build may leave them.
DBT_WORK_MARK = "__dbt_"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
# DuckDB column type (information_schema.columns.data_type) -> Spark SQL type.
SPARK_TYPES = {
    "VARCHAR": "string",
    "JSON": "string",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP": "timestamp",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "BOOLEAN": "boolean",
    "DOUBLE": "double",
    "FLOAT": "float",
    "BLOB": "binary",
}


class LakeError(AcaWarehouseError):
    """The lake cannot be written as asked (a column type Spark cannot take, a connection that is not DuckDB)."""


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type of a DuckDB column type; LakeError for a type with no exact Spark counterpart."""
    text = " ".join(duckdb_type.strip().upper().split())
    found = _DECIMAL.match(text)
    if found:
        precision, scale = int(found.group(1)), int(found.group(2))
        if precision > 38:
            raise LakeError(f"DECIMAL({precision},{scale}) is wider than Spark's decimal(38, s)")
        return f"decimal({precision},{scale})"
    try:
        return SPARK_TYPES[text]
    except KeyError:
        raise LakeError(
            f"no Spark type for the DuckDB type {duckdb_type!r} (known: DECIMAL(p,s), {', '.join(SPARK_TYPES)})"
        ) from None


# -- where -------------------------------------------------------------------------------------
def is_url(location: str) -> bool:
    return bool(_URL.match(location))


def lake_root(lake_dir: str) -> str:
    """The lake's root as dbt and Spark are given it: a URL as configured (no trailing slash), a local
    directory made absolute."""
    if is_url(lake_dir):
        return lake_dir.rstrip("/")
    return str(Path(lake_dir).expanduser().resolve())


def table_location(lake_dir: str, table: str) -> str:
    """`<lake>/staging/<table>`: where a staging table is published."""
    return f"{lake_root(lake_dir)}/{STAGING_SCHEMA}/{_identifier(table)}"


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise LakeError(f"not a staging table name: {name!r}")
    return name


def _filesystem(location: str) -> tuple[Any, str]:
    """(fsspec filesystem, the location as that filesystem names it)."""
    fs, path = fsspec.core.url_to_fs(location)
    return fs, path.rstrip("/") or path


def _is_local(fs: Any) -> bool:
    return isinstance(fs, LocalFileSystem)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _require_duckdb(conn: WarehouseConnection) -> None:
    if not conn.is_duckdb:
        raise LakeError(f"the lake is published from a DuckDB connection, not {conn.kind}")


# -- writing -------------------------------------------------------------------------------------
@contextmanager
def _local_scratch(fs: Any) -> Iterator[Path | None]:
    """A private local directory for files on their way to an object store (None for a local lake,
    which is written in place): they hold staging rows (PHI), and a killed run's are cleaned up."""
    if _is_local(fs):
        yield None
        return
    with private_scratch_dir(LAKE_SCRATCH_PREFIX) as scratch:
        yield Path(scratch)


def _copy_sql(query: str, target: str) -> str:
    metadata = ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in SPARK_CALENDAR_METADATA.items())
    return f"copy ({query}) to {_sql_string(target)} (format parquet, kv_metadata {{{metadata}}})"


def _write_parquet(
    conn: WarehouseConnection, query: str, fs: Any, directory: str, scratch: Path | None
) -> str:
    """`query`'s rows as `<directory>/part-0.parquet`, replacing the file as a whole; anything else in
    the directory is removed (it is the file's directory alone). The file's path."""
    target = f"{directory}/{PART_FILE}"
    fs.makedirs(directory, exist_ok=True)
    if scratch is None:  # local: written under a hidden name (Spark skips `.` names), then renamed
        partial = f"{directory}/.{PART_FILE}.{uuid.uuid4().hex}.tmp"
        try:
            conn.execute(_copy_sql(query, partial))
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    else:  # an object store: one PUT makes the object appear whole
        local = scratch / f"{uuid.uuid4().hex}.parquet"
        try:
            conn.execute(_copy_sql(query, str(local)))
            fs.put_file(str(local), target)
        finally:
            local.unlink(missing_ok=True)
    for entry in fs.ls(directory, detail=False):  # what else the directory held (no other writer runs)
        if entry.rstrip("/").rsplit("/", 1)[-1] != PART_FILE:
            fs.rm(entry, recursive=True)
    return target


def _remove_dir(fs: Any, directory: str) -> None:
    """Remove a directory; a local one first leaves under a hidden name, so it vanishes at once."""
    if not fs.exists(directory):
        return
    if _is_local(fs):
        parent, name = directory.rsplit("/", 1)
        gone = f"{parent}/.removed-{name}-{uuid.uuid4().hex}"
        os.replace(directory, gone)
        shutil.rmtree(gone, ignore_errors=True)
    else:
        fs.rm(directory, recursive=True)


@dataclass
class Published:
    """What one publication did to a table's copy in the lake."""

    table: str
    location: str
    written: dict[date, int] = field(default_factory=dict)  # partition -> rows (whole table: no key)
    removed: list[date] = field(default_factory=list)
    rows: int = 0  # a whole table: its rows
    partitioned: bool = True

    def summary(self) -> str:
        if not self.partitioned:
            return f"{self.table}: {self.rows} rows -> {self.location}"
        if not self.written and not self.removed:
            return f"{self.table}: up to date in {self.location}"
        parts = []
        if self.written:
            parts.append(f"{len(self.written)} load date(s) written ({sum(self.written.values())} rows)")
        if self.removed:
            parts.append(f"{len(self.removed)} emptied load date(s) removed")
        return f"{self.table}: {', '.join(parts)} -> {self.location}"


def publish_partitions(
    conn: WarehouseConnection, table: str, load_dates: Iterable[date], lake_dir: str
) -> Published:
    """Write each load date's rows of `staging.<table>` (a feed: it has `_load_date`) as
    `<lake>/staging/<table>/_load_date=YYYY-MM-DD/part-0.parquet`, the load date left out of the file
    (the directory names it), replacing what the partition held; a load date without rows now (a
    re-delivery whose rows were all quarantined) has its directory removed."""
    _require_duckdb(conn)
    location = table_location(lake_dir, table)
    fs, root = _filesystem(location)
    days = sorted(set(load_dates))
    published = Published(table, location)
    fs.makedirs(root, exist_ok=True)
    if not days:
        return published
    listed = ", ".join(f"date {_sql_string(d.isoformat())}" for d in days)
    counts = dict(
        conn.fetchall(
            f"select {PARTITION_COLUMN}, count(*) from {STAGING_SCHEMA}.{_identifier(table)} "
            f"where {PARTITION_COLUMN} in ({listed}) group by 1"
        )
    )
    with _local_scratch(fs) as scratch:
        for day in days:
            directory = f"{root}/{PARTITION_COLUMN}={day.isoformat()}"
            if counts.get(day):
                _write_parquet(
                    conn,
                    f"select * exclude ({PARTITION_COLUMN}) from {STAGING_SCHEMA}.{table} "
                    f"where {PARTITION_COLUMN} = date {_sql_string(day.isoformat())}",
                    fs,
                    directory,
                    scratch,
                )
                published.written[day] = int(counts[day])
            elif fs.exists(directory):
                _remove_dir(fs, directory)
                published.removed.append(day)
    return published


def publish_whole(conn: WarehouseConnection, table: str, lake_dir: str) -> Published | None:
    """Replace `<lake>/staging/<table>/part-0.parquet` with every row of `staging.<table>` (the load
    audit, the quarantine, the check results); None when the table does not exist (yet)."""
    _require_duckdb(conn)
    if not conn.table_exists(STAGING_SCHEMA, _identifier(table)):
        return None
    location = table_location(lake_dir, table)
    fs, root = _filesystem(location)
    with _local_scratch(fs) as scratch:
        _write_parquet(conn, f"select * from {STAGING_SCHEMA}.{table}", fs, root, scratch)
    rows = int(conn.scalar(f"select count(*) from {STAGING_SCHEMA}.{table}") or 0)
    return Published(table, location, rows=rows, partitioned=False)


def _published_path(root: str) -> str:
    """`<lake>/staging/_published/<table>.json` for the table directory `<lake>/staging/<table>`."""
    parent, table = root.rsplit("/", 1)
    return f"{parent}/{PUBLISHED_DIR}/{table}.json"


def _read_published(fs: Any, root: str) -> dict[str, str]:
    try:
        with fs.open(_published_path(root), "r") as handle:
            value = json.load(handle)
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _write_published(fs: Any, root: str, published: dict[str, str]) -> None:
    text = json.dumps(dict(sorted(published.items())), indent=0)
    target = _published_path(root)
    if _is_local(fs):
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        partial = f"{target}.{uuid.uuid4().hex}.tmp"
        Path(partial).write_text(text, encoding="utf-8")
        os.replace(partial, target)
    else:
        fs.pipe_file(target, text.encode())


def _partition_dates(fs: Any, root: str) -> set[date]:
    """The load dates that have a directory in the lake."""
    found: set[date] = set()
    if not fs.exists(root):
        return found
    prefix = f"{PARTITION_COLUMN}="
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(prefix):
            try:
                found.add(date.fromisoformat(name[len(prefix) :]))
            except ValueError:
                continue
    return found


def sync_partitions(
    conn: WarehouseConnection, table: str, lake_dir: str, load_dates: Iterable[date] = ()
) -> Published:
    """Bring a feed's copy in the lake up to date with `staging.<table>`: publish `load_dates` (those a
    load just replaced) and every load date whose lake partition does not hold the load staging holds
    (never published, a publication interrupted, a lake switched on over an existing staging file),
    and remove the partitions of load dates staging no longer has rows for. Which load each partition
    holds is kept in `<lake>/staging/_published/<table>.json`; when nothing differs, nothing is written."""
    _require_duckdb(conn)
    location = table_location(lake_dir, table)
    fs, root = _filesystem(location)
    staged = {
        day.isoformat(): load_id
        for day, load_id in conn.fetchall(
            f"select {PARTITION_COLUMN}, min(_load_id) from {STAGING_SCHEMA}.{_identifier(table)} group by 1"
        )
    }
    recorded = _read_published(fs, root)
    present = _partition_dates(fs, root)
    due = set(load_dates)
    due |= {
        date.fromisoformat(day)
        for day, load_id in staged.items()
        if recorded.get(day) != load_id or date.fromisoformat(day) not in present
    }
    due |= {day for day in present if day.isoformat() not in staged}
    published = publish_partitions(conn, table, due, lake_dir)
    if published.written or published.removed or recorded != staged:
        _write_published(fs, root, staged)
    return published


# -- what dbt registers -----------------------------------------------------------------------------
def lake_tables(
    conn: WarehouseConnection, lake_dir: str, dictionary: Dictionary | None = None
) -> list[dict[str, Any]]:
    """The staging tables in the lake, as dbt's on-run-start macro registers them as Spark tables: one
    `{"name", "location", "columns": [[name, spark type], ...], "partition_by": "_load_date" | None}` per
    feed table and per whole table (load_audit, quarantine, check_results) that exists in the DuckDB
    file, rows or not (the table's directory is created: Spark takes an empty one). A feed's partition
    column comes last. The types are those of the DuckDB columns (spark_type())."""
    _require_duckdb(conn)
    if dictionary is None:
        from aca_warehouse.contract.dictionary import load_dictionary

        dictionary = load_dictionary()
    rows = conn.fetchall(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = %s order by table_name, ordinal_position",
        [STAGING_SCHEMA],
    )
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        columns.setdefault(table, []).append((column, data_type))
    tables: list[dict[str, Any]] = []
    for name in [*dictionary.feeds, *WHOLE_TABLES]:
        if name not in columns:
            continue
        partition_by = PARTITION_COLUMN if name in dictionary.feeds else None
        ordered = [c for c in columns[name] if c[0] != partition_by] + [
            c for c in columns[name] if c[0] == partition_by
        ]
        try:
            typed = [[column, spark_type(data_type)] for column, data_type in ordered]
        except LakeError as exc:
            raise LakeError(f"staging.{name}: {exc}") from None
        location = table_location(lake_dir, name)
        fs, root = _filesystem(location)
        fs.makedirs(root, exist_ok=True)
        tables.append({"name": name, "location": location, "columns": typed, "partition_by": partition_by})
    return tables


def lake_vars(tables: Sequence[dict[str, Any]]) -> str:
    """dbt's `--vars` argument for lake mode (JSON is YAML): `{"lake_tables": [...]}`."""
    return json.dumps({"lake_tables": list(tables)}, separators=(",", ":"))


def sync_lake(
    conn: WarehouseConnection, lake_dir: str, dictionary: Dictionary | None = None
) -> list[Published]:
    """Every feed's partitions brought up to date (sync_partitions) and the whole tables republished
    when missing from the lake: what a dbt build needs, whichever feeds this run loaded. What changed."""
    _require_duckdb(conn)
    if dictionary is None:
        from aca_warehouse.contract.dictionary import load_dictionary

        dictionary = load_dictionary()
    changed: list[Published] = []
    for feed in dictionary.feeds:
        if conn.table_exists(STAGING_SCHEMA, feed):
            published = sync_partitions(conn, feed, lake_dir)
            if published.written or published.removed:
                changed.append(published)
    for table in WHOLE_TABLES:
        fs, root = _filesystem(table_location(lake_dir, table))
        if not fs.exists(f"{root}/{PART_FILE}"):
            published_whole = publish_whole(conn, table, lake_dir)
            if published_whole is not None:
                changed.append(published_whole)
    return changed


# -- what Spark built, as views in the DuckDB file ------------------------------------------------------
def _is_data_name(name: str) -> bool:
    """Spark's rule for what a table directory's listing holds as data: not `.`-names, not `_`-names
    without `=` (`_SUCCESS`, `_temporary` left by a failed job)."""
    return not (name.startswith(".") or (name.startswith("_") and "=" not in name))


def _parquet_depths(directory: Path) -> set[int]:
    """The partition depths (0: files directly in the directory) at which the table's Parquet files
    are, following only Spark's data names and partition directories (`column=value`)."""
    depths: set[int] = set()

    def walk(folder: Path, depth: int) -> None:
        for entry in folder.iterdir():
            if not _is_data_name(entry.name):
                continue
            if entry.is_dir() and "=" in entry.name:
                walk(entry, depth + 1)
            elif entry.is_file() and entry.name.endswith(".parquet"):
                depths.add(depth)

    walk(directory, 0)
    return depths


# Globs of Spark's data names: partition directories not starting with `.`, files with neither `.` nor `_`.
_PARTITION_GLOB = "[!.]*=*"
_DATA_FILE_GLOB = "[!._]*.parquet"


def _view_sql(directory: Path, depths: set[int]) -> str:
    globs = [
        _sql_string("/".join([str(directory), *([_PARTITION_GLOB] * depth), _DATA_FILE_GLOB]))
        for depth in sorted(depths)
    ]
    files = globs[0] if len(globs) == 1 else f"[{', '.join(globs)}]"
    return f"select * from read_parquet({files}, hive_partitioning = true, union_by_name = true)"


@dataclass
class LakeViews:
    """What refresh_lake_views did."""

    created: list[str] = field(default_factory=list)  # schema.table, created or replaced
    dropped: list[str] = field(default_factory=list)  # views of tables Spark no longer has
    conflicts: list[str] = field(default_factory=list)  # a table or another view has the name: left alone


def refresh_lake_views(conn: WarehouseConnection, spark_dir: str | Path) -> LakeViews:
    """In the DuckDB file, one view `<schema>.<table>` per table Spark built under
    `<spark_dir>/warehouse/<schema>.db/<table>/` (schemas staging, core and marts; not dbt's `__dbt_` work
    tables), reading its Parquet files (partition directories such as `service_month=...` included;
    Spark's `_temporary` and `.` names left out, as Spark itself does). A view this function made earlier
    whose table has no Parquet files any more is dropped; a table, or a view made otherwise, of the same
    name is never replaced nor dropped (reported in `conflicts`). One transaction."""
    _require_duckdb(conn)
    warehouse_dir = Path(spark_dir).expanduser().resolve() / "warehouse"
    found: dict[tuple[str, str], str] = {}
    for schema in SPARK_SCHEMAS:
        schema_dir = warehouse_dir / f"{schema}.db"
        if not schema_dir.is_dir():
            continue
        for table_dir in sorted(schema_dir.iterdir()):
            if not table_dir.is_dir() or not _is_data_name(table_dir.name) or DBT_WORK_MARK in table_dir.name:
                continue
            depths = _parquet_depths(table_dir)
            if depths:
                found[(schema, table_dir.name.lower())] = _view_sql(table_dir, depths)
    placeholders = ", ".join(["%s"] * len(SPARK_SCHEMAS))
    ours = {
        (schema, name)
        for schema, name in conn.fetchall(
            f"select schema_name, view_name from duckdb_views() where schema_name in ({placeholders}) "
            "and comment = %s",
            [*SPARK_SCHEMAS, LAKE_VIEW_COMMENT],
        )
    }
    taken = {
        (schema, name)
        for schema, name in conn.fetchall(
            f"select table_schema, table_name from information_schema.tables where table_schema in ({placeholders})",
            list(SPARK_SCHEMAS),
        )
    } - ours
    result = LakeViews()
    with conn.transaction():
        for (schema, name), select in sorted(found.items()):
            if (schema, name) in taken:
                result.conflicts.append(f"{schema}.{name}")
                continue
            conn.execute(f'create or replace view "{schema}"."{name}" as {select}')
            conn.execute(f'comment on view "{schema}"."{name}" is {_sql_string(LAKE_VIEW_COMMENT)}')
            result.created.append(f"{schema}.{name}")
        for schema, name in sorted(ours - found.keys()):
            conn.execute(f'drop view if exists "{schema}"."{name}"')
            result.dropped.append(f"{schema}.{name}")
    return result


__all__ = [
    "LAKE_VIEW_COMMENT",
    "PARTITION_COLUMN",
    "WHOLE_TABLES",
    "LakeError",
    "LakeViews",
    "Published",
    "lake_root",
    "lake_tables",
    "lake_vars",
    "publish_partitions",
    "publish_whole",
    "refresh_lake_views",
    "spark_type",
    "sync_lake",
    "sync_partitions",
    "table_location",
]
