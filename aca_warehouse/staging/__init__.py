"""Staging: loading landing files into `staging.*` (read, validate, quarantine, audit) on DuckDB or PostgreSQL."""

from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.staging.loader import (
    FAILED,
    LOADED,
    UNCHANGED,
    FeedLoader,
    FileLoadResult,
    WindowLoadReport,
    load_feed_window,
)

__all__ = [
    "FAILED",
    "LOADED",
    "UNCHANGED",
    "FeedLoader",
    "FileLoadResult",
    "LandingDirResource",
    "WindowLoadReport",
    "load_feed_window",
]
