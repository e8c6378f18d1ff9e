"""A dbt-duckdb plugin that gives every dbt connection the member-key secret as a session variable.

dbt/profiles.yml lists it for the DuckDB target. The secret reaches DuckDB through the Python API
(`set variable ... = ?` with a parameter), so it is never part of a SQL text: not in dbt's compiled
SQL, run results or logs, not in an error message. The models read it with `getvariable()`
(dbt/macros/pseudonym.sql). Without a valid secret no variable is set and a model that needs one
fails with a message saying so. PostgreSQL gets the same value as a session setting (PGOPTIONS).
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from aca_warehouse.errors import ConfigurationError
from aca_warehouse.settings import member_key_secret

DUCKDB_SECRET_VARIABLE = "aca_member_key_secret"


class Plugin(BasePlugin):
    """Sets `aca_member_key_secret` on dbt's DuckDB connection and on each of its cursors."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        try:
            self._secret: str | None = member_key_secret()
        except ConfigurationError:
            self._secret = None  # e.g. `dbt parse` or sqlfluff: nothing is hashed; models say what is missing

    def _set_secret(self, conn: Any) -> None:
        if self._secret is not None:
            conn.execute(f"set variable {DUCKDB_SECRET_VARIABLE} = ?", [self._secret])

    def configure_connection(self, conn: Any) -> None:
        self._set_secret(conn)

    def configure_cursor(self, cursor: Any) -> None:
        self._set_secret(cursor)
