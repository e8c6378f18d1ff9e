"""The one Definitions assembly: every layer's assets, checks, sensors and resources.

Importing this module has no side effects beyond reading settings: no database connection,
no dbt parse, no file scan.
"""

import warnings

from dagster import (
    AssetKey,
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
from aca_warehouse.contract import load_dictionary  # noqa: E402
from aca_warehouse.resources import LandingDirResource, WarehouseResource  # noqa: E402
from aca_warehouse.sensors.landing import build_landing_sensor  # noqa: E402
from aca_warehouse.settings import load_settings  # noqa: E402

LOAD_EVERYTHING_JOB = "load_everything"


def build_definitions() -> Definitions:
    """Assemble the code location from the current settings (ACA_* environment variables)."""
    settings = load_settings()
    assets = [*landing_assets]
    # Per feed: its landing asset and everything downstream of it (what a new file must refresh).
    feed_selection = {
        feed: sorted(
            AssetSelection.assets(AssetKey(["landing", feed])).downstream().resolve(assets),
            key=lambda k: k.to_user_string(),
        )
        for feed in load_dictionary().feeds
    }
    load_everything = define_asset_job(
        LOAD_EVERYTHING_JOB,
        selection=AssetSelection.all(),
        description="Every asset, landing to marts, for the selected load dates (one run for a range).",
    )
    return Definitions(
        assets=assets,
        asset_checks=[],
        jobs=[load_everything],
        sensors=[build_landing_sensor(load_everything, feed_selection)],
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "landing": LandingDirResource(landing_dir=str(settings.landing_dir)),
        },
        # DuckDB allows one writer process: run every step of a run in one process, one at a time.
        executor=in_process_executor,
    )


defs = build_definitions()
