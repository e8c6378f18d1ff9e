"""The one Definitions assembly: every layer's assets, checks, sensors and resources.

The settings are read from the environment here (through `settings.load_settings()`) and in the CLI:
the partitions, assets, sensors and resources are built from the Settings by `build_definitions`, and
the resources carry the values as fields (secrets as `EnvVar`). (A few process-wide switches are still
read where they are used: ACA_LOG_FORMAT, ACA_DBT_PARSE_CACHE, ACA_MAX_DEFECT_RATE, ACA_DBT_DOCS_URL.)
Importing this module reads the settings, checks the member-key secret, reads dbt's manifest and lists
the landing file names (for the partitions' start when ACA_PARTITION_START is unset): no database
connection and no file contents; no dbt parse, except under `dagster dev` (resources/dbt.py).
"""

import warnings

from dagster import (
    AssetKey,
    AssetSelection,
    BetaWarning,
    Definitions,
    ExecutorDefinition,
    PreviewWarning,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from aca_warehouse.assets.dbt import build_dbt_assets  # noqa: E402
from aca_warehouse.assets.landing import build_landing_assets  # noqa: E402
from aca_warehouse.assets.quality import build_quality_asset  # noqa: E402
from aca_warehouse.assets.reports import build_reports_asset  # noqa: E402
from aca_warehouse.assets.staging import build_staging_assets, load_audit_spec  # noqa: E402
from aca_warehouse.checks.freshness import build_freshness_checks, build_freshness_sensor  # noqa: E402
from aca_warehouse.contract import load_dictionary  # noqa: E402
from aca_warehouse.errors import ConfigurationError  # noqa: E402
from aca_warehouse.logs import aca_console_logger  # noqa: E402
from aca_warehouse.partitions import first_partition_date, load_date_partitions  # noqa: E402
from aca_warehouse.resources import LandingDirResource, WarehouseResource  # noqa: E402
from aca_warehouse.resources.dbt import dbt_resource  # noqa: E402
from aca_warehouse.sensors.landing import build_landing_sensor, default_sensor_status  # noqa: E402
from aca_warehouse.settings import K8S_INSTALL_HINT, Settings, load_settings, member_key_secret  # noqa: E402

LOAD_EVERYTHING_JOB = "load_everything"


def run_executor(settings: Settings) -> ExecutorDefinition:
    """How a run's steps execute (ACA_EXECUTOR, checked against the warehouse by the settings): one at a
    time in the run's own process (`in_process`, the default: the DuckDB file, the warehouse or lake
    mode's staging store, takes one writer process), a process per step (`multiprocess`), or a
    Kubernetes job per step (`k8s`, from the optional package dagster-k8s)."""
    if settings.executor == "multiprocess":
        return multiprocess_executor
    if settings.executor == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError:
            raise ConfigurationError(
                f"ACA_EXECUTOR=k8s needs the optional package dagster-k8s: install it with `{K8S_INSTALL_HINT}`"
            ) from None
        return k8s_job_executor
    return in_process_executor


def build_definitions(
    settings: Settings | None = None,
    *,
    warehouse: WarehouseResource | None = None,
    landing: LandingDirResource | None = None,
) -> Definitions:
    """Assemble the code location from `settings` (default: the ACA_* environment variables and .env).

    Without explicit settings a missing or public member-key secret is a start-up error here (the code
    location does not load); the resource checks its own secret again when a run starts. Tests pass
    their settings and resources (`warehouse`, `landing`) instead of changing the environment."""
    if settings is None:
        settings = load_settings()
        member_key_secret()
    partitions = load_date_partitions(first_partition_date(settings))
    landing_assets = build_landing_assets(partitions)
    staging_assets = build_staging_assets(partitions)
    loaded = [*landing_assets, *staging_assets]
    # The check results so far are copied after staging, and the one dbt build (which includes the
    # data-quality history and KPI mart) follows the copy (assets/quality.py).
    quality = build_quality_asset([key for a in loaded for key in a.keys], partitions)
    layers = [*loaded, quality, build_dbt_assets(partitions)]
    # Charts of the marts and of data quality, after the dbt build (aca_warehouse/reports/).
    reports = build_reports_asset([key for a in layers for key in a.keys], partitions, settings.reports_dir)
    assets = [*layers, reports]
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
    sensor_status = default_sensor_status(settings.sensor_default_status)
    return Definitions(
        assets=[*assets, load_audit_spec],
        asset_checks=freshness_checks,
        jobs=[load_everything],
        sensors=[
            build_landing_sensor(
                load_everything,
                feed_selection,
                first_partition=partitions.start.date(),
                settle_seconds=settings.sensor_settle_seconds,
                default_status=sensor_status,
            ),
            build_freshness_sensor(freshness_checks, sensor_status),
        ],
        resources={
            "warehouse": warehouse or WarehouseResource.for_code_location(settings),
            "landing": landing or LandingDirResource(landing_dir=str(settings.landing_dir)),
            "dbt": dbt_resource(),
        },
        # DuckDB allows one writer process: by default every step of a run runs in one process, one at a
        # time; PostgreSQL may use a process or a Kubernetes job per step (ACA_EXECUTOR).
        executor=run_executor(settings),
        # Readable console lines, or one JSON object per line with ACA_LOG_FORMAT=json (aca_warehouse/logs.py).
        loggers={"console": aca_console_logger},
    )


defs = build_definitions()
