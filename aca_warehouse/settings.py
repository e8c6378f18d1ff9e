"""Configuration read from the environment (and a `.env` file): which warehouse, where the data lives."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

from aca_warehouse.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
WAREHOUSE_KINDS = ("duckdb", "postgres")
# DuckDB's own default is 80% of RAM. A bound keeps the pipeline's peak memory predictable: larger
# joins and sorts spill to a temp directory beside the warehouse file instead.
DUCKDB_MEMORY_LIMIT_DEFAULT = "2GB"
# Landing text the staging loader reads into one batch (one set of SQL statements for many files).
STAGING_BATCH_MB_DEFAULT = 64


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
    partition_start: date
    member_key_secret: str
    duckdb_memory_limit: str = "2GB"
    staging_batch_mb: int = STAGING_BATCH_MB_DEFAULT

    @property
    def pg(self) -> PostgresParams:
        return parse_pg_dsn(self.pg_dsn)

    @property
    def staging_batch_bytes(self) -> int:
        return self.staging_batch_mb << 20


def parse_pg_dsn(dsn: str) -> PostgresParams:
    """Split `postgresql://user:pass@host:port/db` into its parts, with PostgreSQL's defaults."""
    parsed = urlparse(dsn)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(f"ACA_PG_DSN must look like postgresql://user@host:5432/dbname, got {dsn!r}")
    dbname = parsed.path.lstrip("/") or "aca"
    return PostgresParams(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 5432,
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
        dbname=dbname,
    )


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    load_dotenv(override=False)  # a .env in the working directory, if any


def _memory_limit(text: str) -> str:
    """A DuckDB memory limit such as `2GB` or `512MB` (validated here, so a typo is not a SQL error later)."""
    value = text.strip().upper().replace(" ", "")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(KB|MB|GB|TB|KIB|MIB|GIB|TIB)", value):
        raise ConfigurationError(f"ACA_DUCKDB_MEMORY_LIMIT must look like 2GB or 512MB, got {text!r}")
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


def load_settings() -> Settings:
    """Read the settings from the environment; `.env` fills in what the environment lacks."""
    _load_dotenv()
    env = os.environ
    warehouse = env.get("ACA_WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if warehouse not in WAREHOUSE_KINDS:
        raise ConfigurationError(f"ACA_WAREHOUSE must be one of {WAREHOUSE_KINDS}, got {warehouse!r}")
    start_text = env.get("ACA_PARTITION_START", "2020-01-01")
    try:
        partition_start = date.fromisoformat(start_text)
    except ValueError as exc:
        raise ConfigurationError(f"ACA_PARTITION_START must be YYYY-MM-DD, got {start_text!r}") from exc
    settings = Settings(
        warehouse=warehouse,
        duckdb_path=_resolve(env.get("ACA_DUCKDB_PATH", "data/warehouse.duckdb")),
        pg_dsn=env.get("ACA_PG_DSN", "postgresql://postgres@127.0.0.1:5432/aca"),
        landing_dir=_resolve(env.get("ACA_LANDING_DIR", "data/landing")),
        partition_start=partition_start,
        member_key_secret=env.get("ACA_MEMBER_KEY_SECRET", "change-me-demo-secret"),
        duckdb_memory_limit=_memory_limit(env.get("ACA_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT_DEFAULT)),
        staging_batch_mb=_positive_int(
            "ACA_STAGING_BATCH_MB", env.get("ACA_STAGING_BATCH_MB", str(STAGING_BATCH_MB_DEFAULT))
        ),
    )
    settings.pg  # validate the DSN early  # noqa: B018
    return settings
