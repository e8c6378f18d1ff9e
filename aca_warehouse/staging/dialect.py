"""The few SQL spellings that differ between DuckDB and PostgreSQL, so validation SQL is written once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aca_warehouse.contract.dictionary import Dictionary

# Whitespace trimmed around every value (space, tab, CR, LF).
_WHITESPACE = " \t\r\n"
# PostgreSQL functions take at most 100 arguments; concat_ws and json_build_object are chunked.
_MAX_ARGS = 90


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def sql_literal(value: object) -> str:
    """A SQL literal for a YAML scalar (numbers as numbers, the rest as strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return sql_string(str(value))


@dataclass(frozen=True)
class Dialect:
    """SQL fragments for one engine (`duckdb` or `postgres`)."""

    kind: str

    @property
    def is_duckdb(self) -> bool:
        return self.kind == "duckdb"

    def column_type(self, dictionary: Dictionary, contract_type: str) -> str:
        return dictionary.types[contract_type].sql[self.kind]

    @property
    def text(self) -> str:
        return "VARCHAR" if self.is_duckdb else "TEXT"

    @property
    def float8(self) -> str:
        return "DOUBLE" if self.is_duckdb else "DOUBLE PRECISION"

    def regex_match(self, expr: str, pattern: str) -> str:
        """True when `pattern` (anchor it yourself) matches `expr`; null for a null `expr`."""
        if self.is_duckdb:
            return f"regexp_matches({expr}, {sql_string(pattern)})"
        return f"({expr} ~ {sql_string(pattern)})"

    def trim_to_null(self, expr: str) -> str:
        """Surrounding whitespace removed; empty becomes null."""
        func = "trim" if self.is_duckdb else "btrim"
        ws = sql_string(_WHITESPACE) if self.is_duckdb else "E' \\t\\r\\n'"
        return f"nullif({func}({expr}, {ws}), '')"

    def truncate_fraction(self, expr: str) -> str:
        """Fractional seconds cut to microseconds (DuckDB truncates, PostgreSQL rounds: make both cut)."""
        return f"regexp_replace({expr}, '(\\.[0-9]{{6}})[0-9]+', '\\1')"

    def concat_ws(self, separator: str, parts: Sequence[str], *, separator_sql: str | None = None) -> str:
        """Join the non-null parts with `separator` (or the SQL expression `separator_sql`); '' if all null."""
        if not parts:
            return "''"
        sep = separator_sql or sql_string(separator)
        if len(parts) <= _MAX_ARGS:
            return f"concat_ws({sep}, {', '.join(parts)})"
        chunks = [parts[i : i + _MAX_ARGS] for i in range(0, len(parts), _MAX_ARGS)]
        inner = [
            f"nullif({self.concat_ws(separator, chunk, separator_sql=separator_sql)}, '')" for chunk in chunks
        ]
        return self.concat_ws(separator, inner, separator_sql=separator_sql)

    def json_object_text(self, pairs: Sequence[tuple[str, str]]) -> str:
        """A JSON object (as text) from (key, SQL expression) pairs, keys in the given order."""
        if not pairs:
            return "'{}'"
        chunks = [pairs[i : i + _MAX_ARGS // 2] for i in range(0, len(pairs), _MAX_ARGS // 2)]
        objects = []
        for chunk in chunks:
            args = ", ".join(f"{sql_string(key)}, {expr}" for key, expr in chunk)
            objects.append(f"json_object({args})" if self.is_duckdb else f"json_build_object({args})")
        if len(objects) == 1:
            return f"cast({objects[0]} as {self.text})"
        if self.is_duckdb:
            merged = objects[0]
            for obj in objects[1:]:
                merged = f"json_merge_patch({merged}, {obj})"
            return f"cast({merged} as {self.text})"
        return "cast(" + " || ".join(f"{obj}::jsonb" for obj in objects) + " as text)"

    def interval_days(self, days: int) -> str:
        return f"interval '{days} days'"
