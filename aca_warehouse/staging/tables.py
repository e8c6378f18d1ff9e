"""DDL of the staging schema, generated from the dictionary: one table per feed, quarantine, load audit."""

from __future__ import annotations

from aca_warehouse.contract.dictionary import Dictionary, Feed
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.dialect import Dialect

SCHEMA = "staging"
QUARANTINE_TABLE = f"{SCHEMA}.quarantine"
AUDIT_TABLE = f"{SCHEMA}.load_audit"
_DDL_LOCK_ID = 4_171_203  # PostgreSQL advisory lock serializing concurrent DDL of parallel assets

# (name, portable type, meaning): appended to every staging table after the contract columns.
METADATA_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_load_date", "date", "the file's load date = the partition key"),
    ("_load_id", "text", "id of the load (one per file load)"),
    ("_loaded_at", "timestamptz", "when it was loaded"),
    ("_source_file", "text", "path of the file relative to the landing root"),
    ("_source_line", "integer", "physical line in the file where the row starts (header = line 1)"),
    ("_file_checksum", "text", "sha256 of the file bytes"),
    ("_extra", "text", "unknown extra columns of the row as a JSON object (null if none)"),
)

QUARANTINE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("feed", "text", "feed name (= staging table)"),
    ("_load_date", "date", "the file's load date"),
    ("_load_id", "text", "id of the load"),
    ("_loaded_at", "timestamptz", "when it was loaded"),
    ("_source_file", "text", "path of the file relative to the landing root"),
    ("_source_line", "integer", "physical line where the record starts"),
    ("_file_checksum", "text", "sha256 of the file bytes"),
    ("reason_codes", "text", "every reason code of the row, sorted, `;`-joined"),
    ("reason_details", "text", "which column or rule raised each code, `; `-joined"),
    (
        "raw_values",
        "text",
        "the raw record as JSON text (object of header name -> raw value; a JSON array of the fields for wrong_field_count; the line as a JSON string for not_json_object, invalid_text and a record over the reader's bound); a value over limits.quarantine_value_max_chars is kept truncated with a `...[truncated: N characters]` marker",
    ),
)

AUDIT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("load_id", "text", "id of the load (also in the staged and quarantined rows)"),
    ("asset_key", "text", "Dagster asset key, e.g. staging/claims"),
    ("feed", "text", "feed name"),
    ("load_date", "date", "partition (the file's load date)"),
    ("source_file", "text", "path relative to the landing root"),
    ("file_checksum", "text", "sha256 of the file bytes"),
    ("file_bytes", "bigint", "file size"),
    (
        "rules_version",
        "text",
        "dictionary.yaml sha256 prefix + loader version (a change reloads an unchanged file)",
    ),
    ("status", "text", "loaded | unchanged | failed"),
    ("rows_read", "bigint", "records in the file (blank lines excluded)"),
    ("rows_staged", "bigint", "rows inserted into the staging table"),
    ("rows_quarantined", "bigint", "rows inserted into staging.quarantine"),
    ("reason_code_counts", "text", "JSON object: reason code -> quarantined rows having it"),
    ("message", "text", "what happened (the error for a failed load)"),
    ("started_at", "timestamptz", "start of the load"),
    ("finished_at", "timestamptz", "end of the load"),
    (
        "duration_seconds",
        "float8",
        "wall time of the load (files loaded in one batch: their share of the batch's time, by size)",
    ),
    ("dagster_run_id", "text", "the Dagster run that loaded it"),
    (
        "reader",
        "text",
        "engine | python: which reader read the file (the message says why the Python normaliser did)",
    ),
)


def portable_type(dialect: Dialect, name: str) -> str:
    return {
        "text": dialect.text,
        "date": "DATE",
        "timestamptz": "TIMESTAMPTZ",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "float8": dialect.float8,
    }[name]


def staging_table(feed: Feed) -> str:
    return f"{SCHEMA}.{feed.name}"


def staging_columns(dictionary: Dictionary, dialect: Dialect, feed: Feed) -> list[tuple[str, str]]:
    """(column, SQL type) of a feed's staging table: contract columns typed, then load metadata."""
    columns = [(c.name, dialect.column_type(dictionary, c.type)) for c in feed.columns]
    columns += [(name, portable_type(dialect, kind)) for name, kind, _ in METADATA_COLUMNS]
    return columns


def _create_table(conn: WarehouseConnection, table: str, columns: list[tuple[str, str]]) -> None:
    schema, name = table.split(".")
    existing = conn.columns(schema, name)
    if not existing:
        body = ",\n    ".join(f"{col} {sql_type}" for col, sql_type in columns)
        conn.execute(f"create table if not exists {table} (\n    {body}\n)")
        return
    for col, sql_type in columns:  # additive evolution when the dictionary gains a column
        if col not in existing:
            conn.execute(f"alter table {table} add column {col} {sql_type}")


def ensure_staging_tables(conn: WarehouseConnection, dictionary: Dictionary, feed: Feed) -> None:
    """Create (or extend) the feed's staging table, the quarantine and the audit table."""
    dialect = Dialect(conn.kind)
    with conn.transaction():
        if not dialect.is_duckdb:
            conn.execute(f"select pg_advisory_xact_lock({_DDL_LOCK_ID})")
        # (the schema exists: WarehouseResource.connect() creates it when missing)
        _create_table(conn, staging_table(feed), staging_columns(dictionary, dialect, feed))
        _create_table(
            conn, QUARANTINE_TABLE, [(n, portable_type(dialect, t)) for n, t, _ in QUARANTINE_COLUMNS]
        )
        _create_table(conn, AUDIT_TABLE, [(n, portable_type(dialect, t)) for n, t, _ in AUDIT_COLUMNS])
        if not dialect.is_duckdb:  # partition replace and checks filter on the load date
            conn.execute(
                f"create index if not exists {feed.name}_load_date_idx on {staging_table(feed)} (_load_date)"
            )
            conn.execute(
                f"create index if not exists quarantine_feed_load_date_idx on {QUARANTINE_TABLE} (feed, _load_date)"
            )
            conn.execute(
                f"create index if not exists load_audit_feed_load_date_idx on {AUDIT_TABLE} (feed, load_date)"
            )
