"""Landing assets: one per feed, recording which files arrived for each load date (never rewriting them)."""

from dataclasses import dataclass
from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from aca_warehouse.assets.ownership import OWNERS, layer_tags
from aca_warehouse.contract import Feed, load_dictionary
from aca_warehouse.landing import LandingFile, file_digest, files_in_window, scan_feed
from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.sensors.landing import reuse_sensor_digests


@dataclass(frozen=True)
class ArrivedFile:
    """What arrived: a landing file's name, size, checksum and line count."""

    relative_path: str
    load_date: date
    size_bytes: int
    sha256: str
    lines: int


def inspect_landing_file(landing_file: LandingFile) -> ArrivedFile:
    """Checksum and line count of a file: one streaming pass, unless this process has the digest of
    the file as it is now (from the sensor that requested the run); the staging loader reuses it."""
    digest = file_digest(landing_file)
    return ArrivedFile(
        landing_file.relative_path, landing_file.load_date, digest.size, digest.sha256, digest.lines
    )


def build_landing_asset(feed: Feed, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    """The landing asset of one feed: partitioned by load date, records the arrived files."""

    @asset(
        key=AssetKey(["landing", feed.name]),
        group_name="landing",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        description=(
            f"Landing files of `{feed.directory}/{feed.file_prefix}_YYYY-MM-DD.{feed.extension}` "
            f"({feed.cadence}). {feed.description} Source system: {feed.system}. Materializing records "
            "what arrived for the selected load dates (file, size, sha256, lines); the files themselves "
            "come from the source systems (or `aca-warehouse generate` in the demo) and are never modified."
        ),
        kinds={"file"},
        owners=OWNERS,
        tags=layer_tags("landing"),
    )
    def _landing_asset(context: AssetExecutionContext, landing: LandingDirResource) -> MaterializeResult:
        window = context.partition_time_window
        reused = reuse_sensor_digests(context.instance, context.run.tags, landing.root)
        if reused:
            context.log.debug(f"{reused} file digest(s) from the landing sensor's state: not hashed again")
        files, ignored = scan_feed(landing.root, feed)
        in_window = files_in_window(files, window.start.date(), window.end.date())
        arrived = [inspect_landing_file(f) for f in in_window]
        for problem in ignored:
            if not problem.is_hidden:
                context.log.warning(f"ignored {problem}")
        context.log.info(
            f"{feed.name}: {len(arrived)} file(s) for load dates "
            f"[{window.start.date()}, {window.end.date()}) under {landing.root}"
        )
        # Each partition records its own file (a range run's result metadata would be copied onto
        # every partition of the range); the result keeps only what holds for the whole run.
        by_date = {a.load_date: a for a in arrived}
        for key in context.partition_keys:
            found = by_date.get(date.fromisoformat(key))
            context.add_asset_metadata(
                {
                    "file": found.relative_path,
                    "bytes": found.size_bytes,
                    "lines": found.lines,
                    "sha256": found.sha256,
                }
                if found
                else {"file": "no file", "bytes": 0, "lines": 0},
                partition_key=key,
            )
        metadata: dict[str, object] = {
            "load_dates": f"[{window.start.date()}, {window.end.date()})",
            "files_in_run": len(arrived),
            "ignored_files": MetadataValue.json([str(p) for p in ignored if not p.is_hidden][:50]),
        }
        return MaterializeResult(metadata=metadata)

    return _landing_asset


def build_landing_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    """The landing asset of every feed of the dictionary."""
    return [build_landing_asset(feed, partitions_def) for feed in load_dictionary().feeds.values()]
