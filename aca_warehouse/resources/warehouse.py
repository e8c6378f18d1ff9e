"""The warehouse resource: one interface over the embedded DuckDB file and a PostgreSQL database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from aca_warehouse.errors import (
    ConfigurationError,
    WarehouseBusyError,
    WarehouseUnreachableError,
    mask_passwords,
)
from aca_warehouse.lake import lake_root
from aca_warehouse.scratch import clean_stale_scratch_dirs
from aca_warehouse.settings import (
    DBT_PROJECT_DIR,
    DEMO_MEMBER_KEY_SECRET,
    DEMO_SECRET_ENV,
    DUCKDB_MEMORY_LIMIT_DEFAULT,
    LAKE_DIR_DEFAULT,
    MEMBER_KEY_SECRET_ENV,
    PG_DSN_DEFAULT,
    PG_DSN_ENV,
    SPARK_DIR_DEFAULT,
    STAGING_BATCH_MB_DEFAULT,
    STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT,
    WAREHOUSE_ENGINES,
    WAREHOUSE_KINDS,
    Settings,
    check_member_key_secret,
    parse_pg_dsn,
    redact,
)

WAREHOUSE_SCHEMAS = ("staging", "core", "marts")
# Run tag naming the warehouse a run loaded (never a password): the quality history collects the check
# results of the runs tagged with its own warehouse only, even when several warehouses share a Dagster home.
WAREHOUSE_RUN_TAG = "aca/warehouse"
# The PostgreSQL session setting the member-key macros read (dbt/macros/pseudonym.sql); set through
# libpq's PGOPTIONS at connection start, so the secret never appears in any SQL text.
PG_SECRET_SETTING = "aca.member_key_secret"
_TRANSIENT_PG_STATES = ("08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03", "53300")
# Connection failures worth retrying: the server is starting, restarting or full, or the network blinked.
_TRANSIENT_PG_TEXT = (
    "connection refused",
    "timeout expired",
    "timed out",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many clients",
    "too many connections",
    "server closed the connection unexpectedly",
    "temporary failure in name resolution",
)
_PG_HINT_LINE = re.compile(
    r"^\s*(is the server running|multiple connection attempts failed|all failures were)", re.I
)


def pg_options_escape(value: str) -> str:
    """A value as libpq's PGOPTIONS needs it: spaces and backslashes escaped with a backslash."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def pg_connection_causes(exc: BaseException) -> list[str]:
    """The distinct causes in a connection error, one line each (libpq's hints and repeats left out)."""
    causes: list[str] = []
    for raw in str(exc).splitlines():
        line = raw.strip().lstrip("- ").strip()
        if line.startswith("connection failed: "):
            line = line[len("connection failed: ") :]
        if line and not _PG_HINT_LINE.match(line) and line not in causes:
            causes.append(line)
    return [mask_passwords(c) for c in causes] or [type(exc).__name__]


def is_transient_pg_error(exc: BaseException) -> bool:
    """True for connection failures that may pass by themselves (retry), False for those that cannot
    (unknown host, wrong credentials, unknown database or role: fail at once)."""
    if getattr(exc, "sqlstate", None) in _TRANSIENT_PG_STATES:
        return True
    text = str(exc).lower()
    if "temporary failure in name resolution" in text:
        return True
    if "password authentication failed" in text or "does not exist" in text or "failed to resolve" in text:
        return False
    return any(marker in text for marker in _TRANSIENT_PG_TEXT)


class WarehouseConnection:
    """An open connection with the small API the loaders need, whatever the engine.

    SQL placeholders are written `%s` for both engines (translated to `?` for DuckDB).
    `raw` is the driver's own connection for engine-specific work (DuckDB `read_csv`,
    PostgreSQL `COPY`). `kind` is the SQL engine (`duckdb` or `postgres`), not the warehouse kind:
    lake mode (warehouse `spark`) connects to its DuckDB file.
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
    """The analytical warehouse. `kind`: `duckdb` (embedded default), `postgres`, or `spark` (lake mode:
    staging in the DuckDB file `duckdb_path` exactly as for `duckdb`, published as Parquet to `lake_dir`,
    core and marts built by dbt on Spark and read back through views in the DuckDB file; see
    aca_warehouse/lake.py). `engine` is the SQL engine the connection speaks (`duckdb` for duckdb and spark).

    Every value is a field: the Definitions assembly fills them from the settings (secrets as `EnvVar`,
    so Dagster resolves them in the process that runs, and the UI and the stored run configuration show
    the variable's name, never the value); tests construct the resource with the values they need. The
    resource itself reads no environment variable."""

    kind: str = "duckdb"
    duckdb_path: str = "data/warehouse.duckdb"
    pg_dsn: str = Field(
        default=PG_DSN_DEFAULT, description=f"PostgreSQL DSN (EnvVar {PG_DSN_ENV}: may hold a password)"
    )
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT_DEFAULT
    connect_retries: int = 3
    # DuckDB: how long to wait for another process's write lock before "another run holds the warehouse".
    duckdb_lock_wait_seconds: float = 15.0
    member_key_secret: str = Field(
        default="",
        description=f"Keys the member pseudonyms in dbt (EnvVar {MEMBER_KEY_SECRET_ENV}); validated at run start",
    )
    allow_demo_secret: bool = Field(
        default=False, description=f"{DEMO_SECRET_ENV}=1: the public demo secret may key synthetic data"
    )
    staging_batch_mb: int = Field(
        default=STAGING_BATCH_MB_DEFAULT, description="landing text the staging loader loads in one batch"
    )
    staging_duckdb_memory_limit: str = Field(
        default=STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT, description="DuckDB memory limit while a feed is staged"
    )
    lake_dir: str = Field(
        default=LAKE_DIR_DEFAULT,
        description="lake mode: where the staged tables are published as Parquet (a directory or a URL)",
    )
    spark_dir: str = Field(
        default=SPARK_DIR_DEFAULT,
        description="lake mode: the local Spark session's warehouse directory and metastore",
    )
    spark_target: str = Field(
        default="spark", description="lake mode: dbt's Spark target (spark or spark_thrift)"
    )

    @classmethod
    def from_settings(cls, settings: Settings, *, member_key_secret: str = "") -> WarehouseResource:
        """A resource with the settings' plain values, for use outside a Dagster run (the CLI's checks,
        scripts); `member_key_secret` only when dbt will run through it."""
        return cls._build(settings, member_key_secret, settings.pg_dsn)

    @classmethod
    def _build(cls, settings: Settings, member_key_secret: str, pg_dsn: str) -> WarehouseResource:
        # Through the constructor: Dagster takes a resource's configuration from its constructor's
        # arguments (pydantic's model_copy(update=...) would change the attributes, not the config).
        return cls(
            kind=settings.warehouse,
            duckdb_path=str(settings.duckdb_path),
            pg_dsn=pg_dsn,
            duckdb_memory_limit=settings.duckdb_memory_limit,
            member_key_secret=member_key_secret,
            allow_demo_secret=settings.demo_secret,
            staging_batch_mb=settings.staging_batch_mb,
            staging_duckdb_memory_limit=settings.staging_duckdb_memory_limit,
            lake_dir=settings.lake_dir,
            spark_dir=str(settings.spark_dir),
            spark_target=settings.spark_target,
        )

    @classmethod
    def for_code_location(cls, settings: Settings) -> WarehouseResource:
        """The resource the code location uses: the settings' values with the secrets as EnvVars
        (ACA_MEMBER_KEY_SECRET; ACA_PG_DSN when set, it may hold a password), which Dagster resolves in
        the process that runs and shows by name only. With ACA_DEMO_SECRET=1 and no usable secret, the
        public demo secret itself (it is no secret)."""
        secret = DEMO_MEMBER_KEY_SECRET if settings.uses_demo_secret else EnvVar(MEMBER_KEY_SECRET_ENV)
        return cls._build(
            settings, secret, EnvVar(PG_DSN_ENV) if settings.pg_dsn_from_env else settings.pg_dsn
        )

    def validated_member_key_secret(self) -> str:
        """The member-key secret to hash with, by the project's rules (settings.check_member_key_secret):
        missing, short or public -> ConfigurationError."""
        return check_member_key_secret(self.member_key_secret, demo=self.allow_demo_secret)

    @property
    def staging_batch_bytes(self) -> int:
        return self.staging_batch_mb << 20

    @property
    def engine(self) -> str:
        """The SQL engine of this warehouse's connection: `duckdb` (kinds duckdb and spark) or `postgres`."""
        try:
            return WAREHOUSE_ENGINES[self.kind]
        except KeyError:
            raise ConfigurationError(
                f"unknown warehouse kind {self.kind!r}; use one of {', '.join(WAREHOUSE_KINDS)}"
            ) from None

    @property
    def is_lake(self) -> bool:
        """Lake mode (kind `spark`): staged tables are published as Parquet, dbt builds on Spark."""
        return self.kind == "spark"

    @property
    def lake_location(self) -> str:
        """The lake's root: the URL as configured, or the local directory made absolute."""
        return lake_root(self.lake_dir)

    @property
    def spark_dir_abs(self) -> Path:
        return Path(self.spark_dir).expanduser().resolve()

    def connection_env(self) -> dict[str, str]:
        """Environment naming this warehouse for dbt (read by dbt/profiles.yml); holds no secret but
        the PostgreSQL password. Lake mode adds the lake's and the Spark directory's locations (and
        the DuckDB variables as for duckdb)."""
        pg = parse_pg_dsn(self.pg_dsn)
        lake = (
            {
                "ACA_LAKE_DIR_ABS": self.lake_location,
                "ACA_SPARK_DIR_ABS": str(self.spark_dir_abs),
                # Spark's own log settings for dbt's local session (dbt/spark/log4j2.properties)
                "ACA_SPARK_LOG4J": str(DBT_PROJECT_DIR / "spark" / "log4j2.properties"),
            }
            if self.is_lake
            else {}
        )
        return {
            "ACA_DBT_TARGET": self.spark_target if self.is_lake else self.kind,
            **lake,
            "ACA_DUCKDB_PATH_ABS": str(Path(self.duckdb_path).resolve()),
            "ACA_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "ACA_PG_HOST": pg.host,
            "ACA_PG_PORT": str(pg.port),
            "ACA_PG_USER": pg.user,
            "ACA_PG_PASSWORD": pg.password,
            "ACA_PG_DBNAME": pg.dbname,
        }

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt invocation against this warehouse: the connection and the member-key
        secret (validated). The secret reaches the SQL as a session value, never as text: DuckDB gets
        it from dbt/profiles.yml's plugin (`aca_warehouse.dbt_session`), PostgreSQL from PGOPTIONS."""
        secret = self.validated_member_key_secret()
        env = {**self.connection_env(), MEMBER_KEY_SECRET_ENV: secret}
        if secret == DEMO_MEMBER_KEY_SECRET:  # dbt's DuckDB plugin validates again: it may use the demo's
            env[DEMO_SECRET_ENV] = "1"
        if self.engine == "postgres":
            env["PGOPTIONS"] = f"-c {PG_SECRET_SETTING}={pg_options_escape(secret)}"
        return env

    @property
    def description(self) -> str:
        if self.is_lake:
            return f"spark lake {self.lake_location} (staging in DuckDB file {self.duckdb_path})"
        if self.kind == "duckdb":
            return f"DuckDB file {self.duckdb_path}"
        params = parse_pg_dsn(self.pg_dsn)
        return f"PostgreSQL database {params.dbname} at {params.host}:{params.port}"

    @property
    def identity(self) -> str:
        """Which warehouse this is, without credentials: `duckdb:<absolute path>`,
        `postgresql://host:port/dbname` (the same database reached as another role is the same warehouse)
        or, in lake mode, `spark:<lake>+duckdb:<absolute path of the staging file>`."""
        if self.is_lake:
            return f"spark:{self.lake_location}+duckdb:{Path(self.duckdb_path).resolve()}"
        if self.kind == "duckdb":
            return f"duckdb:{Path(self.duckdb_path).resolve()}"
        params = parse_pg_dsn(self.pg_dsn)
        return f"postgresql://{params.host}:{params.port}/{params.dbname}"

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """At the start of every run that uses the warehouse, whoever launched it (CLI, sensor, UI,
        backfill): check the member-key secret (a run with a missing or public one stops here, before
        loading anything), remove the scratch directories killed runs left, and tag the run with this
        warehouse's identity (see WAREHOUSE_RUN_TAG)."""
        self.validated_member_key_secret()
        run_id = getattr(context, "run_id", None)
        instance = getattr(context, "instance", None)
        if not run_id or instance is None:
            return
        clean_stale_scratch_dirs()  # what a killed run left in the temp folder (PHI of staging)
        run = instance.get_run_by_id(run_id)
        if run is not None and run.tags.get(WAREHOUSE_RUN_TAG) != self.identity:
            instance.add_run_tags(run_id, {WAREHOUSE_RUN_TAG: self.identity})

    @contextmanager
    def connect(self) -> Iterator[WarehouseConnection]:
        """Open a connection (creating the database and schemas if missing) and close it after. Lake
        mode opens its DuckDB file (staging, and the views over what Spark built)."""
        engine = self.engine  # an unknown kind: ConfigurationError
        raw = self._open_duckdb() if engine == "duckdb" else self._open_postgres()
        conn = WarehouseConnection(engine, raw, self.duckdb_memory_limit if engine == "duckdb" else None)
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
        deadline = time.monotonic() + self.duckdb_lock_wait_seconds
        attempt = 0
        while True:
            try:
                return duckdb.connect(str(path), config={"memory_limit": self.duckdb_memory_limit})
            except duckdb.IOException as exc:
                if not is_duckdb_lock_error(exc):  # permissions, a damaged file: waiting will not help
                    raise WarehouseUnreachableError(
                        f"cannot open the DuckDB warehouse {path}: {str(exc).splitlines()[0]}"
                    ) from None
                pause = min(0.5 * (attempt + 1), 3.0)  # another process holds the write lock: wait for it
                if time.monotonic() + pause > deadline:
                    raise duckdb_busy_error(path, exc) from None
                time.sleep(pause)
                attempt += 1

    # -- PostgreSQL ---------------------------------------------------------------------------
    def _open_postgres(self) -> Any:
        import psycopg

        params = parse_pg_dsn(self.pg_dsn)  # a malformed DSN: ConfigurationError, password masked
        try:
            return self._pg_connect_with_retry(self.pg_dsn)
        except psycopg.OperationalError as exc:
            if f'database "{params.dbname}" does not exist' not in str(exc):
                raise self._pg_unreachable(exc) from None
        try:
            create_database_if_missing(self.pg_dsn)
            return self._pg_connect_with_retry(self.pg_dsn)
        except psycopg.OperationalError as exc:
            raise self._pg_unreachable(exc) from None

    def _pg_connect_with_retry(self, dsn: str) -> Any:
        """Connect, retrying with exponential backoff only failures that may pass (is_transient_pg_error)."""
        import psycopg

        delay = 0.5
        for attempt in range(self.connect_retries + 1):
            try:
                return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                if not is_transient_pg_error(exc) or attempt == self.connect_retries:
                    raise
                time.sleep(delay)
                delay *= 2
            except psycopg.ProgrammingError as exc:  # libpq refuses the DSN itself (an unknown option)
                raise ConfigurationError(
                    f"ACA_PG_DSN is not a usable connection string ({redact(str(exc).strip())}): "
                    f"{mask_passwords(dsn)}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _pg_unreachable(self, exc: Exception) -> WarehouseUnreachableError:
        """One message: where, as whom, one line per cause, what to check. No password, no traceback."""
        params = parse_pg_dsn(self.pg_dsn)
        causes = [redact(c) for c in pg_connection_causes(exc)]
        text = " ".join(causes)
        if re.search(r"password|authentication|role .* does not exist", text):
            hint = "check the user and password in ACA_PG_DSN"
        elif "resolve host" in text or "translate host name" in text:
            hint = "check the host name in ACA_PG_DSN"
        elif re.search(r"database .* does not exist|permission denied to create database", text):
            hint = "create the database, or connect once as a role that may (CREATEDB)"
        else:
            hint = "is the server running? (pg_ctlcluster ... main start, or `docker compose up postgres`)"
        head = f"cannot connect to PostgreSQL at {params.host}:{params.port} as {params.user} (database {params.dbname}); {hint}"
        return WarehouseUnreachableError("\n".join([head, *(f"  - {cause}" for cause in causes)]))


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
            _create_schema(conn, schema)


def _create_schema(conn: WarehouseConnection, schema: str) -> None:
    """`create schema if not exists`, tolerating another connection creating it at the same moment
    (PostgreSQL then reports a unique violation on pg_namespace instead of doing nothing)."""
    if conn.is_duckdb:
        conn.execute(f"create schema if not exists {schema}")
        return
    import psycopg

    try:
        conn.execute(f"create schema if not exists {schema}")
    except psycopg.errors.UniqueViolation:
        if not conn.scalar("select 1 from pg_namespace where nspname = %s", [schema]):
            raise


def create_database_if_missing(dsn: str) -> bool:
    """Create the DSN's database by connecting to the server's `postgres` database; True if created.
    Two runs starting on a new database at once both succeed: one creates it, the other finds it."""
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
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            return False  # created by a concurrent run between the check and the create
        except psycopg.errors.ObjectInUse:  # CREATE DATABASE copies template1: one at a time
            time.sleep(0.5)
            return create_database_if_missing(dsn)
    return True


def is_duckdb_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting lock" in text or "Could not set lock" in text)


def duckdb_busy_error(path: Path, exc: BaseException) -> WarehouseBusyError:
    """'another run holds the warehouse <path>', with the holding process when DuckDB names it."""
    holder = re.search(r"PID (\d+)", str(exc))
    who = f" (process {holder.group(1)})" if holder else ""
    return WarehouseBusyError(
        f"another run holds the warehouse {path}{who}: DuckDB allows one writer process at a time; "
        "wait for it to finish (or stop it: a running `dagster dev` job, a SQL client) and retry"
    )
