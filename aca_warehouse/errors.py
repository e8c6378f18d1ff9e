"""The project's exceptions: one root and narrow subclasses that say what failed and where, and the one
helper that masks passwords in any text meant for a user or a log."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# postgresql://user:password@host -> postgresql://user:***@host (any scheme, user may be empty; the
# password runs to the last @ of the word, so an unencoded @ in it is masked too)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s'\"]*:)(?P<password>[^\s'\"]*)(?=@)")
# libpq key/value form: password=secret or password='se cret'
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.I)


def mask_passwords(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the password of every connection URL and `password=` pair masked, and every one of
    `secrets` (non-empty values) replaced by `***`."""
    masked = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    masked = _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, masked)
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked


class AcaWarehouseError(Exception):
    """Root of every error this project raises on purpose; its message is meant for the user."""


class ConfigurationError(AcaWarehouseError):
    """A setting (environment variable, `.env`) is missing or invalid."""


class WarehouseUnreachableError(AcaWarehouseError):
    """The configured warehouse (DuckDB file or PostgreSQL server) cannot be opened."""


class WarehouseBusyError(WarehouseUnreachableError):
    """The DuckDB warehouse file is locked by another process (another run holds the warehouse)."""


class GeneratorError(AcaWarehouseError):
    """The seed-data generator was given arguments it cannot honour."""


class LandingFileError(AcaWarehouseError):
    """A landing file is rejected as a whole (unreadable, missing a required column, bad name)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DbtBuildError(AcaWarehouseError):
    """The dbt build of a run failed; the message names the failed nodes and where the dbt log is kept."""


class PipelineFailedError(AcaWarehouseError):
    """A Dagster run finished unsuccessfully; the message names the failed steps and checks."""
