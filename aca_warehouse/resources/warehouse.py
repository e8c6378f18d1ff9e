"""The warehouse resource: one interface over the embedded DuckDB file and a PostgreSQL database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from aca_warehouse.errors import ConfigurationError, WarehouseUnreachableError
from aca_warehouse.settings import DUCKDB_MEMORY_LIMIT_DEFAULT, Settings, load_settings, parse_pg_dsn

WAREHOUSE_SCHEMAS = ("staging", "core", "marts")
_TRANSIENT_PG_STATES = ("08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03", "53300")


class WarehouseConnection:
    """An open connection with the small API the loaders need, whatever the engine.

    SQL placeholders are written `%s` for both engines (translated to `?` for DuckDB).
    `raw` is the driver's own connection for engine-specific work (DuckDB `read_csv`,
    PostgreSQL `COPY`).
    """

    def __init__(self, kind: str, raw: Any, duckdb_memory_limit: str | None = None) -> None:
        self.kind = kind
        self.raw = raw
        self.duckdb_memory_limit = duckdb_memory_limit  # DuckDB: the limit it was opened with

    @property
    def is_duckdb(self) -> bool:
        return self.kind == "duckdb"

    def _sql(self, sql: str, params: Sequence[Any] | None) -> str:
        if self.is_duckdb and params:
            return sql.replace("%s", "?")
        return sql

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.is_duckdb:
            self.raw.execute(self._sql(sql, params), params or None)
        else:
            with self.raw.cursor() as cur:
                cur.execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        if self.is_duckdb:
            return self.raw.execute(self._sql(sql, params), params or None).fetchall()
        with self.raw.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        row = self.fetchone(sql, params)
        return row[0] if row else None

    def columns(self, schema: str, table: str) -> list[str]:
        """Column names of a table in order ([] if it does not exist)."""
        rows = self.fetchall(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        )
        return [r[0] for r in rows]

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(self.columns(schema, table))

    @contextmanager
    def transaction(self) -> Iterator[WarehouseConnection]:
        """All statements inside commit together or not at all."""
        if self.is_duckdb:
            self.raw.execute("begin transaction")
            try:
                yield self
            except BaseException:
                self.raw.execute("rollback")
                raise
            self.raw.execute("commit")
        else:
            with self.raw.transaction():
                yield self


class WarehouseResource(ConfigurableResource):
    """The analytical warehouse. `kind` picks the engine: `duckdb` (embedded default) or `postgres`."""

    kind: str = "duckdb"
    duckdb_path: str = "data/warehouse.duckdb"
    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/aca"
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT_DEFAULT
    connect_retries: int = 3

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WarehouseResource:
        settings = settings or load_settings()
        return cls(
            kind=settings.warehouse,
            duckdb_path=str(settings.duckdb_path),
            pg_dsn=settings.pg_dsn,
            duckdb_memory_limit=settings.duckdb_memory_limit,
        )

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt invocation against this warehouse (read by dbt/profiles.yml)."""
        pg = parse_pg_dsn(self.pg_dsn)
        return {
            "ACA_DBT_TARGET": self.kind,
            "ACA_DUCKDB_PATH_ABS": str(Path(self.duckdb_path).resolve()),
            "ACA_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "ACA_PG_HOST": pg.host,
            "ACA_PG_PORT": str(pg.port),
            "ACA_PG_USER": pg.user,
            "ACA_PG_PASSWORD": pg.password,
            "ACA_PG_DBNAME": pg.dbname,
            "ACA_MEMBER_KEY_SECRET": load_settings().member_key_secret,
        }

    @property
    def description(self) -> str:
        if self.kind == "duckdb":
            return f"DuckDB file {self.duckdb_path}"
        params = parse_pg_dsn(self.pg_dsn)
        return f"PostgreSQL database {params.dbname} at {params.host}:{params.port}"

    @contextmanager
    def connect(self) -> Iterator[WarehouseConnection]:
        """Open a connection (creating the database and schemas if missing) and close it after."""
        if self.kind == "duckdb":
            raw = self._open_duckdb()
        elif self.kind == "postgres":
            raw = self._open_postgres()
        else:
            raise ConfigurationError(f"unknown warehouse kind {self.kind!r}; use duckdb or postgres")
        conn = WarehouseConnection(
            self.kind, raw, self.duckdb_memory_limit if self.kind == "duckdb" else None
        )
        try:
            ensure_schemas(conn)
            yield conn
        finally:
            raw.close()

    # -- DuckDB -------------------------------------------------------------------------------
    def _open_duckdb(self) -> Any:
        import duckdb

        path = Path(self.duckdb_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        last_error: Exception | None = None
        for attempt in range(self.connect_retries + 5):
            try:
                return duckdb.connect(str(path), config={"memory_limit": self.duckdb_memory_limit})
            except duckdb.IOException as exc:  # another process holds the write lock
                last_error = exc
                time.sleep(min(0.5 * (attempt + 1), 3.0))
        raise WarehouseUnreachableError(
            f"cannot open the DuckDB warehouse {path}: {last_error}. DuckDB allows one writer process "
            "at a time; stop the other process (a running `dagster dev` job, a SQL client) and retry."
        )

    # -- PostgreSQL ---------------------------------------------------------------------------
    def _open_postgres(self) -> Any:
        import psycopg

        params = parse_pg_dsn(self.pg_dsn)
        try:
            return self._pg_connect_with_retry(self.pg_dsn)
        except psycopg.OperationalError as exc:
            if f'database "{params.dbname}" does not exist' not in str(exc):
                raise self._pg_unreachable(exc) from exc
        create_database_if_missing(self.pg_dsn)
        try:
            return self._pg_connect_with_retry(self.pg_dsn)
        except psycopg.OperationalError as exc:
            raise self._pg_unreachable(exc) from exc

    def _pg_connect_with_retry(self, dsn: str) -> Any:
        import psycopg

        delay = 0.5
        for attempt in range(self.connect_retries + 1):
            try:
                return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                transient = getattr(exc, "sqlstate", None) in _TRANSIENT_PG_STATES or (
                    "Connection refused" in str(exc) or "timeout" in str(exc).lower()
                )
                if not transient or attempt == self.connect_retries:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _pg_unreachable(self, exc: Exception) -> WarehouseUnreachableError:
        params = parse_pg_dsn(self.pg_dsn)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            "check the user and password in ACA_PG_DSN"
            if re.search(r"password|authentication|role .* does not exist", text)
            else "is the server running? (pg_ctlcluster ... main start, or `docker compose up postgres`)"
        )
        return WarehouseUnreachableError(
            f"cannot connect to PostgreSQL at {params.host}:{params.port} as {params.user} "
            f"(database {params.dbname}): {text}; {hint}"
        )


def ensure_schemas(conn: WarehouseConnection) -> None:
    """Create the warehouse schemas that are missing. Only missing ones: on PostgreSQL even
    `create schema if not exists` needs CREATE on the database, which the least-privilege loader
    role (it owns the schemas, `aca-warehouse pg-roles`) does not have."""
    if conn.is_duckdb:
        existing = {r[0] for r in conn.fetchall("select schema_name from information_schema.schemata")}
    else:
        existing = {r[0] for r in conn.fetchall("select nspname from pg_namespace")}
    for schema in WAREHOUSE_SCHEMAS:
        if schema not in existing:
            conn.execute(f"create schema if not exists {schema}")


def create_database_if_missing(dsn: str) -> bool:
    """Create the DSN's database by connecting to the server's `postgres` database; True if created."""
    import psycopg
    from psycopg import sql

    params = parse_pg_dsn(dsn)
    admin_dsn = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", dsn.split("://", 1)[1], count=1)
    admin_dsn = dsn.split("://", 1)[0] + "://" + admin_dsn
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", [params.dbname]).fetchone()
        if exists:
            return False
        try:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(params.dbname)))
        except psycopg.errors.DuplicateDatabase:
            return False
    return True
