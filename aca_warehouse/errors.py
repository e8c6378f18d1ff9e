"""The project's exceptions: one root and narrow subclasses that say what failed and where."""

from __future__ import annotations


class AcaWarehouseError(Exception):
    """Root of every error this project raises on purpose; its message is meant for the user."""


class ConfigurationError(AcaWarehouseError):
    """A setting (environment variable, `.env`) is missing or invalid."""


class WarehouseUnreachableError(AcaWarehouseError):
    """The configured warehouse (DuckDB file or PostgreSQL server) cannot be opened."""


class GeneratorError(AcaWarehouseError):
    """The seed-data generator was given arguments it cannot honour."""


class LandingFileError(AcaWarehouseError):
    """A landing file is rejected as a whole (unreadable, missing a required column, bad name)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class PipelineFailedError(AcaWarehouseError):
    """A Dagster run finished unsuccessfully; the message names the failed steps and checks."""
