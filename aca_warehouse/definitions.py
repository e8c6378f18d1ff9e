"""The one Definitions assembly: every layer's assets, checks, sensors and resources.

Importing this module has no side effects beyond reading settings: no database connection,
no dbt parse, no file scan.
"""

import warnings

from dagster import (
    AssetSelection,
    BetaWarning,
    Definitions,
    PreviewWarning,
    define_asset_job,
    in_process_executor,
)

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from aca_warehouse.assets.landing import landing_assets  # noqa: E402
from aca_warehouse.resources import LandingDirResource, WarehouseResource  # noqa: E402
from aca_warehouse.settings import load_settings  # noqa: E402

LOAD_EVERYTHING_JOB = "load_everything"


def build_definitions() -> Definitions:
    """Assemble the code location from the current settings (ACA_* environment variables)."""
    settings = load_settings()
    load_everything = define_asset_job(
        LOAD_EVERYTHING_JOB,
        selection=AssetSelection.all(),
        description="Every asset, landing to marts, for the selected load dates (one run for a range).",
    )
    return Definitions(
        assets=[*landing_assets],
        asset_checks=[],
        jobs=[load_everything],
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "landing": LandingDirResource(landing_dir=str(settings.landing_dir)),
        },
        # DuckDB allows one writer process: run every step of a run in one process, one at a time.
        executor=in_process_executor,
    )


defs = build_definitions()
