"""The landing resource: where the source systems drop their files."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource


class LandingDirResource(ConfigurableResource):
    """The landing root of LANDING.md (`exchange/...`, `claims_system/...` below it)."""

    landing_dir: str = "data/landing"

    @property
    def root(self) -> Path:
        return Path(self.landing_dir)
