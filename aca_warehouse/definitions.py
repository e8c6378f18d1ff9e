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

from aca_warehouse.assets.dbt import dbt_assets_list  # noqa: E402
from aca_warehouse.assets.landing import landing_assets  # noqa: E402
from aca_warehouse.assets.quality import build_quality_asset  # noqa: E402
from aca_warehouse.assets.reports import build_reports_asset  # noqa: E402
from aca_warehouse.assets.staging import load_audit_spec, staging_assets  # noqa: E402
from aca_warehouse.checks.freshness import build_freshness_checks, build_freshness_sensor  # noqa: E402
from aca_warehouse.contract import load_dictionary  # noqa: E402
from aca_warehouse.logs import aca_console_logger  # noqa: E402
from aca_warehouse.resources import LandingDirResource, WarehouseResource  # noqa: E402
from aca_warehouse.resources.dbt import dbt_resource  # noqa: E402
from aca_warehouse.sensors.landing import build_landing_sensor, default_sensor_status  # noqa: E402
from aca_warehouse.settings import load_settings, member_key_secret  # noqa: E402

LOAD_EVERYTHING_JOB = "load_everything"


def build_definitions() -> Definitions:
    """Assemble the code location from the current settings (ACA_* environment variables). A missing or
    public member-key secret is a start-up error here (the code location does not load)."""
    settings = load_settings()
    member_key_secret()
    layers = [*landing_assets, *staging_assets, *dbt_assets_list]
    # The quality history runs last in every run: downstream of every other asset.
    quality = build_quality_asset([key for a in layers for key in a.keys])
    # Charts of the marts and of data quality, after the quality history (aca_warehouse/reports/).
    reports = build_reports_asset([*(key for a in layers for key in a.keys), *quality.keys])
    assets = [*layers, quality, reports]
    # What a new file of a feed must refresh: the feed's landing and staging assets, and the whole
    # warehouse built from staging (dbt's staging views to marts, quality, reports) - not only the models downstream of that
    # feed: one dbt build costs the same either way, and a fresh warehouse needs the models no feed
    # feeds (dim_date) before the facts' tests can pass.
    loaders = AssetSelection.assets(*(key for a in [*landing_assets, *staging_assets] for key in a.keys))
    warehouse_models = AssetSelection.all() - loaders
    feed_selection = {
        feed: sorted(
            (AssetSelection.assets(AssetKey(["landing", feed])).downstream() | warehouse_models).resolve(
                assets
            ),
            key=lambda k: k.to_user_string(),
        )
        for feed in load_dictionary().feeds
    }
    load_everything = define_asset_job(
        LOAD_EVERYTHING_JOB,
        selection=AssetSelection.all(),
        description="Every asset, landing to marts, for the selected load dates (one run for a range).",
        # The console logger by name, so sensor and UI runs use it too (readable, or JSON lines), at
        # DEBUG like Dagster's default console logger (the CLI passes ACA_LOG_LEVEL instead).
        config={"loggers": {"console": {"config": {"log_level": "DEBUG"}}}},
    )
    # Freshness on data time (the newest load date loaded), re-evaluated by their own sensor.
    freshness_checks = build_freshness_checks()
    return Definitions(
        assets=[*assets, load_audit_spec],
        asset_checks=freshness_checks,
        jobs=[load_everything],
        sensors=[
            build_landing_sensor(load_everything, feed_selection),
            build_freshness_sensor(freshness_checks, default_sensor_status()),
        ],
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "landing": LandingDirResource(landing_dir=str(settings.landing_dir)),
            "dbt": dbt_resource(),
        },
        # DuckDB allows one writer process: run every step of a run in one process, one at a time.
        executor=in_process_executor,
        # Readable console lines, or one JSON object per line with ACA_LOG_FORMAT=json (aca_warehouse/logs.py).
        loggers={"console": aca_console_logger},
    )


defs = build_definitions()
