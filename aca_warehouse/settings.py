"""Configuration read from the environment (and a `.env` file): which warehouse, where the data lives.

The one place that reads the project's settings from the environment: `load_settings()`, called by the
Definitions assembly (`aca_warehouse/definitions.py`) and by the CLI. Everything else (resources,
partitions, sensors, the staging loader, assets) gets its values passed in: resource fields (secrets as
Dagster `EnvVar`s, so the UI and the stored run config show the variable's name, never its value) or
factory arguments. Every setting is documented in README.md (Configuration).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

from aca_warehouse.errors import ConfigurationError, mask_passwords

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
WAREHOUSE_KINDS = ("duckdb", "postgres", "spark")
# The SQL engine each warehouse kind's connection speaks. `spark` (lake mode) stages into a local DuckDB
# file exactly as `duckdb` does, publishes the staged tables as Parquet to the lake, and lets dbt build
# core and marts with Spark; the DuckDB file then reads Spark's tables through views (aca_warehouse/lake.py).
WAREHOUSE_ENGINES = {"duckdb": "duckdb", "postgres": "postgres", "spark": "duckdb"}
LAKE_DIR_DEFAULT = "data/lake"
SPARK_DIR_DEFAULT = "data/spark"
# dbt's Spark targets (dbt/profiles.yml): a local pyspark session in the dbt process, or a Spark Thrift
# Server (whose host, port, user and schema the profile reads from ACA_SPARK_HOST, ACA_SPARK_PORT, ...).
SPARK_TARGETS = ("spark", "spark_thrift")
# How a run's steps execute (ACA_EXECUTOR). Only PostgreSQL takes several processes writing at once:
# the DuckDB file (the warehouse, or lake mode's staging store) has a single writer process.
EXECUTORS = ("in_process", "multiprocess", "k8s")
K8S_INSTALL_HINT = "uv sync --group k8s"
# The memory the whole process tree of a run may use (ACA_MEMORY_BUDGET): the Dagster run process, the
# dbt process and the DuckDB inside each. DuckDB's own default is 80% of RAM per process; bounding it
# keeps the tree's peak predictable, larger joins and sorts spill to a temp directory beside the
# warehouse file instead. DuckDB's limits below are derived from the budget unless set explicitly.
MEMORY_BUDGET_DEFAULT = "2GB"
# What the tree needs besides dbt's DuckDB while dbt runs: dbt itself (~0.45 GB at 1M members), the
# Dagster run process (~0.35 GB) and its launcher (bench 1M x 365, docs/BENCHMARKS.md "Memory").
DBT_PROCESS_RESERVE_MB = 900
# The smallest DuckDB limit a budget may leave (below it DuckDB fails rather than spills).
DUCKDB_MEMORY_LIMIT_FLOOR_MB = 256
# Landing text the staging loader reads into one batch (one set of SQL statements for many files).
STAGING_BATCH_MB_DEFAULT = 64


def _budget_mb(text: str) -> int:
    """Megabytes (10^6 bytes, DuckDB's MB) in a size such as `2GB`, `1536MB` or `2GiB`."""
    found = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([KMGT])(I?)B", text.strip().upper().replace(" ", ""))
    if found is None:
        raise ConfigurationError(f"a memory size must look like 2GB or 512MB, got {text!r}")
    number, prefix, binary = found.groups()
    power = "KMGT".index(prefix) + 1
    return int(float(number) * (1024 if binary else 1000) ** power / 1_000_000)


def duckdb_limits_for_budget(budget: str) -> tuple[str, str]:
    """(dbt's DuckDB limit, the staging step's DuckDB limit) for a process-tree budget.

    dbt's DuckDB gets the budget less DBT_PROCESS_RESERVE_MB; staging (in the Dagster run process,
    while no dbt runs) gets half the budget."""
    total = _budget_mb(budget)
    dbt = max(total - DBT_PROCESS_RESERVE_MB, DUCKDB_MEMORY_LIMIT_FLOOR_MB)
    staging = max(total // 2, DUCKDB_MEMORY_LIMIT_FLOOR_MB)
    return f"{dbt}MB", f"{staging}MB"


DUCKDB_MEMORY_LIMIT_DEFAULT, STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT = duckdb_limits_for_budget(
    MEMORY_BUDGET_DEFAULT
)
# The landing sensor leaves a file modified less than this many seconds ago for the next tick.
SENSOR_SETTLE_SECONDS_DEFAULT = 5.0
SENSOR_STATUSES = ("running", "stopped")
REPORTS_DIR_DEFAULT = "data/reports"
PG_DSN_ENV = "ACA_PG_DSN"
PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/aca"

# The member-key secret (the key of the hash behind pseudonymous member_keys). Validated here only.
MEMBER_KEY_SECRET_ENV = "ACA_MEMBER_KEY_SECRET"
MEMBER_KEY_SECRET_MIN_LENGTH = 16
# `make run` / `make ui` set ACA_DEMO_SECRET=1: synthetic demo data may use this public secret.
DEMO_SECRET_ENV = "ACA_DEMO_SECRET"
DEMO_MEMBER_KEY_SECRET = "aca-warehouse-public-demo-secret-synthetic-data-only"
# Every value this repository ships or shipped as a default: anyone can read them, so member keys
# made with them can be reversed by anyone holding the member numbers.
PUBLIC_MEMBER_KEY_SECRETS = frozenset(
    {
        DEMO_MEMBER_KEY_SECRET,
        "change-me-demo-secret",
        "change-me",
        "changeme",
        "lint",
        "test-secret",
        "secret",
        "parse-time-placeholder",
    }
)
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# Environment variables whose values are passwords or secrets: masked in every message (redact()).
SECRET_ENV_VARS = (
    MEMBER_KEY_SECRET_ENV,
    "ACA_LOADER_PASSWORD",
    "ACA_ANALYST_PASSWORD",
    "ACA_PG_PASSWORD",
    "POSTGRES_PASSWORD",
    "DAGSTER_PG_PASSWORD",
    "PGPASSWORD",
)


@dataclass(frozen=True)
class PostgresParams:
    """The parts of a PostgreSQL DSN that dbt's profile needs one by one."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved to absolute paths and validated."""

    warehouse: str
    duckdb_path: Path
    pg_dsn: str
    landing_dir: Path
    partition_start: date | None  # None: derived from the landing files (aca_warehouse/partitions.py)
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT_DEFAULT
    staging_batch_mb: int = STAGING_BATCH_MB_DEFAULT
    staging_duckdb_memory_limit: str = STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT
    sensor_default_status: str = "running"  # `running` or `stopped`
    sensor_settle_seconds: float = SENSOR_SETTLE_SECONDS_DEFAULT
    reports_dir: Path = Path(REPORTS_DIR_DEFAULT)
    # Lake mode (warehouse `spark`): where the staged tables are published as Parquet (an absolute local
    # path, or a URL such as s3://bucket/lake kept as given), the local Spark session's directory
    # (warehouse and Derby metastore) and dbt's Spark target.
    lake_dir: str = LAKE_DIR_DEFAULT
    spark_dir: Path = Path(SPARK_DIR_DEFAULT)
    spark_target: str = "spark"
    executor: str = "in_process"  # in_process | multiprocess | k8s (ACA_EXECUTOR)
    # Where the secrets come from, so the assembly can hand Dagster an EnvVar (shown by name) rather
    # than the value: True when ACA_PG_DSN is set in the environment (it may hold a password).
    pg_dsn_from_env: bool = False
    # ACA_DEMO_SECRET=1: the public demo secret may replace a missing or public ACA_MEMBER_KEY_SECRET;
    # uses_demo_secret: it does (the environment has no usable secret). The secret's value is not kept
    # here: the warehouse resource reads it as an EnvVar (member_key_secret() validates it).
    demo_secret: bool = False
    uses_demo_secret: bool = False

    @property
    def pg(self) -> PostgresParams:
        return parse_pg_dsn(self.pg_dsn)

    @property
    def engine(self) -> str:
        """The SQL engine of the warehouse's connection: `duckdb` (warehouses duckdb and spark) or `postgres`."""
        return WAREHOUSE_ENGINES[self.warehouse]

    @property
    def staging_batch_bytes(self) -> int:
        return self.staging_batch_mb << 20


def parse_pg_dsn(dsn: str) -> PostgresParams:
    """Split `postgresql://user:pass@host:port/db` into its parts, with PostgreSQL's defaults.

    A DSN that cannot work is a ConfigurationError whose message shows the DSN with its password masked."""
    shown = mask_passwords(dsn)
    parsed = urlparse(dsn.strip())
    if parsed.scheme not in ("postgresql", "postgres") or not parsed.netloc:
        raise ConfigurationError(
            f"ACA_PG_DSN must look like postgresql://user@host:5432/dbname, got {shown!r}"
        )
    try:
        port = parsed.port or 5432
    except ValueError:
        raise ConfigurationError(
            f"ACA_PG_DSN has an invalid port (a number 1-65535 is expected): {shown!r}"
        ) from None
    dbname = unquote(parsed.path.lstrip("/")) or "aca"
    if "/" in dbname:
        raise ConfigurationError(f"ACA_PG_DSN has more than one path part after the host: {shown!r}")
    return PostgresParams(
        host=parsed.hostname or "127.0.0.1",
        port=port,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
        dbname=dbname,
    )


def mask_dsn(dsn: str) -> str:
    """The DSN as it may be shown: password masked."""
    return mask_passwords(dsn)


def secret_values() -> list[str]:
    """The passwords and secrets of the current configuration (to mask them wherever they might show)."""
    values = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
    for name in ("ACA_PG_DSN", "ACA_TEST_PG_ADMIN_DSN"):
        dsn = os.environ.get(name, "")
        if dsn:
            with suppress(ConfigurationError):  # unparsable: mask_passwords still masks the URL form
                values.append(parse_pg_dsn(dsn).password)
    return [v for v in values if v]


def redact(text: str) -> str:
    """`text` with every configured password and secret, and the password of any DSN in it, masked."""
    return mask_passwords(text, secret_values())


_DEMO_ANNOUNCED_ENV = "ACA_DEMO_SECRET_ANNOUNCED"  # inherited by subprocesses (dbt): said once per run


def _announce_demo_secret() -> None:
    if not os.environ.get(_DEMO_ANNOUNCED_ENV):
        os.environ[_DEMO_ANNOUNCED_ENV] = "1"
        print(
            f"aca-warehouse: {DEMO_SECRET_ENV}=1: member keys use the PUBLIC demo secret; fine for the "
            f"generated demo data, never for real members (set {MEMBER_KEY_SECRET_ENV}, see docs/SECURITY.md)",
            file=sys.stderr,
            flush=True,
        )


def demo_secret_allowed(env: Mapping[str, str]) -> bool:
    """`ACA_DEMO_SECRET=1` (or true/yes): the demo may key member pseudonyms with the public demo secret."""
    return env.get(DEMO_SECRET_ENV, "").strip().lower() in ("1", "true", "yes")


def member_key_secret(env: Mapping[str, str] | None = None) -> str:
    """The validated member-key secret of the environment (`env`, default: os.environ and .env); see
    check_member_key_secret()."""
    if env is None:
        _load_dotenv()
        env = os.environ
    return check_member_key_secret(env.get(MEMBER_KEY_SECRET_ENV, ""), demo=demo_secret_allowed(env))


def _is_missing_or_public(value: str) -> bool:
    return not value.strip() or value.strip().lower() in PUBLIC_MEMBER_KEY_SECRETS


def check_member_key_secret(value: str, *, demo: bool = False) -> str:
    """The one place that decides whether a member-key secret may be used; returns the secret to use.

    Missing, too short, or one of the values this repository ships -> ConfigurationError naming the
    variable and how to make a secret. `demo=True` (`ACA_DEMO_SECRET=1`, set by `make run` / `make ui`)
    allows the public demo secret when no usable secret is set, and says so on the console."""
    problem = None
    if not value.strip():
        problem = "is not set"
    elif _is_missing_or_public(value):
        problem = "is a public default shipped with this project (anyone could reverse the member keys)"
    if problem is not None and demo:  # the demo replaces a missing or public value, nothing else
        _announce_demo_secret()
        return DEMO_MEMBER_KEY_SECRET
    if problem is None and len(value) < MEMBER_KEY_SECRET_MIN_LENGTH:
        problem = f"is shorter than {MEMBER_KEY_SECRET_MIN_LENGTH} characters"
    elif problem is None and value != value.strip():
        problem = "has leading or trailing whitespace"
    if problem is None:
        return value
    raise ConfigurationError(
        f"{MEMBER_KEY_SECRET_ENV} {problem}. It keys the hash behind the pseudonymous member keys in the "
        f"marts; make one with `{MAKE_A_SECRET}` and put it in the environment or .env "
        f"(for the demo only: {DEMO_SECRET_ENV}=1 uses a public demo secret). See docs/SECURITY.md."
    )


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    load_dotenv(override=False)  # a .env in the working directory, if any


def _memory_limit(text: str, name: str = "ACA_DUCKDB_MEMORY_LIMIT") -> str:
    """A DuckDB memory limit such as `2GB` or `512MB` (validated here, so a typo is not a SQL error later)."""
    value = text.strip().upper().replace(" ", "")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(KB|MB|GB|TB|KIB|MIB|GIB|TIB)", value):
        raise ConfigurationError(f"{name} must look like 2GB or 512MB, got {text!r}")
    return value


def _sensor_status(text: str) -> str:
    value = text.strip().lower() or "running"
    if value not in SENSOR_STATUSES:
        raise ConfigurationError(f"ACA_SENSOR_DEFAULT_STATUS must be running or stopped, got {value!r}")
    return value


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {text!r}")
    return value


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1, got {text!r}")
    return value


def _resolve(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def resolve_lake_dir(text: str) -> str:
    """ACA_LAKE_DIR: a URL with a scheme (`s3://bucket/lake`, `gs://...`, `abfs://...`, `file:///...`)
    is kept as given (without a trailing slash); a local path is made absolute like the other paths."""
    value = text.strip()
    if not value:
        raise ConfigurationError(
            "ACA_LAKE_DIR must not be empty (a directory or a URL such as s3://bucket/lake)"
        )
    if _URL_SCHEME.match(value):
        scheme, rest = value.split("://", 1)
        if not rest.strip("/"):
            raise ConfigurationError(
                f"ACA_LAKE_DIR must name a directory under the URL's root, got {value!r}"
            )
        return f"{scheme.lower()}://{rest.rstrip('/')}"
    return str(_resolve(value))


def _choice(name: str, text: str, choices: tuple[str, ...], default: str) -> str:
    value = text.strip().lower() or default
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _executor(text: str, warehouse: str) -> str:
    """ACA_EXECUTOR, checked against the warehouse: several step processes need PostgreSQL, and `k8s`
    needs the optional package dagster-k8s."""
    executor = _choice("ACA_EXECUTOR", text, EXECUTORS, "in_process")
    if executor != "in_process" and WAREHOUSE_ENGINES[warehouse] == "duckdb":
        raise ConfigurationError(
            f"ACA_EXECUTOR={executor} needs ACA_WAREHOUSE=postgres: with ACA_WAREHOUSE={warehouse} the "
            "staging store is a DuckDB file, which admits one writer process at a time, so every step of "
            "a run must run in the run's own process (ACA_EXECUTOR=in_process, the default)"
        )
    if executor == "k8s" and importlib.util.find_spec("dagster_k8s") is None:
        raise ConfigurationError(
            "ACA_EXECUTOR=k8s needs the optional package dagster-k8s, which is not installed: install it "
            f"with `{K8S_INSTALL_HINT}` (the dependency group `k8s`), or use ACA_EXECUTOR=in_process"
        )
    return executor


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env`, by default the environment, where `.env` fills in what it lacks.
    Tests pass a mapping (or build Settings directly) instead of changing os.environ."""
    if env is None:
        _load_dotenv()
        env = os.environ
    warehouse = env.get("ACA_WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if warehouse not in WAREHOUSE_KINDS:
        raise ConfigurationError(f"ACA_WAREHOUSE must be one of {WAREHOUSE_KINDS}, got {warehouse!r}")
    executor = _executor(env.get("ACA_EXECUTOR", ""), warehouse)
    start_text = env.get("ACA_PARTITION_START", "").strip()
    try:
        partition_start = date.fromisoformat(start_text) if start_text else None
    except ValueError as exc:
        raise ConfigurationError(f"ACA_PARTITION_START must be YYYY-MM-DD, got {start_text!r}") from exc
    budget_limits = duckdb_limits_for_budget(
        _memory_limit(env.get("ACA_MEMORY_BUDGET") or MEMORY_BUDGET_DEFAULT, "ACA_MEMORY_BUDGET")
    )
    settings = Settings(
        warehouse=warehouse,
        duckdb_path=_resolve(env.get("ACA_DUCKDB_PATH", "data/warehouse.duckdb")),
        pg_dsn=env.get(PG_DSN_ENV) or PG_DSN_DEFAULT,
        landing_dir=_resolve(env.get("ACA_LANDING_DIR", "data/landing")),
        partition_start=partition_start,
        duckdb_memory_limit=_memory_limit(env.get("ACA_DUCKDB_MEMORY_LIMIT") or budget_limits[0]),
        staging_batch_mb=_positive_int(
            "ACA_STAGING_BATCH_MB", env.get("ACA_STAGING_BATCH_MB", str(STAGING_BATCH_MB_DEFAULT))
        ),
        staging_duckdb_memory_limit=_memory_limit(
            env.get("ACA_STAGING_DUCKDB_MEMORY_LIMIT") or budget_limits[1],
            "ACA_STAGING_DUCKDB_MEMORY_LIMIT",
        ),
        sensor_default_status=_sensor_status(env.get("ACA_SENSOR_DEFAULT_STATUS", "running")),
        sensor_settle_seconds=_seconds(
            "ACA_SENSOR_SETTLE_SECONDS",
            env.get("ACA_SENSOR_SETTLE_SECONDS", str(SENSOR_SETTLE_SECONDS_DEFAULT)),
        ),
        reports_dir=_resolve(env.get("ACA_REPORTS_DIR") or REPORTS_DIR_DEFAULT),
        lake_dir=resolve_lake_dir(env.get("ACA_LAKE_DIR") or LAKE_DIR_DEFAULT),
        spark_dir=_resolve(env.get("ACA_SPARK_DIR") or SPARK_DIR_DEFAULT),
        spark_target=_choice("ACA_SPARK_TARGET", env.get("ACA_SPARK_TARGET", ""), SPARK_TARGETS, "spark"),
        executor=executor,
        pg_dsn_from_env=bool(env.get(PG_DSN_ENV)),
        demo_secret=demo_secret_allowed(env),
        uses_demo_secret=demo_secret_allowed(env)
        and _is_missing_or_public(env.get(MEMBER_KEY_SECRET_ENV, "")),
    )
    settings.pg  # validate the DSN early  # noqa: B018
    return settings
