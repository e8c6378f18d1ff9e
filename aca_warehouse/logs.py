"""Run logs on the console: Dagster's readable lines by default, one JSON object per line with ACA_LOG_FORMAT=json.

The `console` logger of the code location (`aca_console_logger`) decides at run start. In JSON mode
every record a run logs becomes one line such as

    {"timestamp": "2026-01-14T06:00:01.2Z", "level": "INFO", "event": "file_loaded", "run_id": "...",
     "step": "staging__claims", "asset": "staging/claims", "file": "claims_system/claims/...", ...}

with a normalised `event` for the lines a log system is asked about: `run_started` and
`run_finished` (with `status`), `check_evaluated` (asset, check, passed, severity, metric values),
`file_loaded` (file, load date, status, rows read / staged / quarantined, reason codes, seconds),
`asset_materialized`, `step_started` / `step_finished` / `step_failed`; other Dagster events keep
their type in lower case, and plain messages are `log`. Structured fields come from Dagster's own
event records or from `extra={"aca": {...}}` on a log call (see `log_file_results`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from dagster import Field, logger

from aca_warehouse.errors import ConfigurationError

if TYPE_CHECKING:
    from dagster import InitLoggerContext

    from aca_warehouse.staging.results import WindowLoadReport

LOG_FORMAT_ENV = "ACA_LOG_FORMAT"
LOG_FORMATS = ("text", "json")
STRUCTURED_FIELDS_KEY = "aca"  # log calls pass extra={"aca": {...}}

# Dagster event types -> the event names of the JSON lines (others: the type in lower case).
EVENT_NAMES = {
    "PIPELINE_START": "run_started",
    "PIPELINE_SUCCESS": "run_finished",
    "PIPELINE_FAILURE": "run_finished",
    "PIPELINE_CANCELED": "run_finished",
    "ASSET_CHECK_EVALUATION": "check_evaluated",
    "ASSET_MATERIALIZATION": "asset_materialized",
    "STEP_START": "step_started",
    "STEP_SUCCESS": "step_finished",
    "STEP_FAILURE": "step_failed",
}
RUN_STATUS = {"PIPELINE_SUCCESS": "success", "PIPELINE_FAILURE": "failure", "PIPELINE_CANCELED": "canceled"}
_PARTITION_TAGS = {
    "dagster/asset_partition_range_start": "partition_start",
    "dagster/asset_partition_range_end": "partition_end",
    "dagster/partition": "partition",
}


def log_format() -> str:
    """`text` (the default) or `json`, from ACA_LOG_FORMAT."""
    value = (os.environ.get(LOG_FORMAT_ENV) or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigurationError(f"{LOG_FORMAT_ENV} must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


def json_logs_enabled() -> bool:
    return log_format() == "json"


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar of a metadata value; None for values too large to belong in a log line."""
    value = getattr(value, "value", value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= 200 else None
    return None


def _plain_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    plain = {key: _plain(value) for key, value in metadata.items()}
    return {key: value for key, value in plain.items() if value is not None}


def _event_fields(event: Any) -> dict[str, Any]:
    """What a Dagster event says, as flat JSON fields."""
    event_type = event.event_type_value
    data = event.event_specific_data
    fields: dict[str, Any] = {
        "event": EVENT_NAMES.get(event_type, event_type.lower()),
        "dagster_event": event_type,
    }
    if event_type in RUN_STATUS:
        fields["status"] = RUN_STATUS[event_type]
    if event_type == "ASSET_CHECK_EVALUATION":
        fields.update(
            asset=data.asset_key.to_user_string(),
            check=data.check_name,
            passed=bool(data.passed),
            severity=getattr(data.severity, "value", str(data.severity)),
            metadata=_plain_metadata(dict(data.metadata)),
        )
        if getattr(data, "partition", None):
            fields["partition"] = data.partition
    elif event_type == "ASSET_MATERIALIZATION":
        materialization = data.materialization
        fields.update(
            asset=materialization.asset_key.to_user_string(),
            metadata=_plain_metadata(materialization.metadata),
        )
        if materialization.partition:
            fields["partition"] = materialization.partition
    error = getattr(data, "error", None)
    if error is not None:
        fields["error"] = error.message.strip()
    fields["level"] = _event_level(fields)
    return fields


def _event_level(fields: Mapping[str, Any]) -> str:
    """The level a log system should see: Dagster logs these events at DEBUG whatever they say."""
    if fields.get("status") == "failure" or fields["event"] == "step_failed":
        return "ERROR"
    if fields["event"] == "check_evaluated" and not fields["passed"]:
        return "ERROR" if fields["severity"] == "ERROR" else "WARNING"
    return "INFO"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time, level, event, run, step, and the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "event": "log",
        }
        meta = getattr(record, "dagster_meta", None)
        if meta:
            payload["run_id"] = meta.get("run_id")
            payload["job"] = meta.get("job_name")
            if meta.get("step_key"):
                payload["step"] = meta["step_key"]
            for tag, name in _PARTITION_TAGS.items():
                if (meta.get("job_tags") or {}).get(tag):
                    payload[name] = meta["job_tags"][tag]
            payload["message"] = meta.get("orig_message", record.getMessage())
            if (
                meta.get("dagster_event") is not None
                and meta["dagster_event"].event_type_value in EVENT_NAMES
            ):
                payload.update(_event_fields(meta["dagster_event"]))
            elif meta.get("dagster_event") is not None:
                payload["event"] = meta["dagster_event"].event_type_value.lower()
        else:
            payload["logger"] = record.name
            payload["message"] = record.getMessage()
        structured = getattr(record, STRUCTURED_FIELDS_KEY, None)
        if isinstance(structured, Mapping):
            payload.update(structured)
        if record.exc_info and record.exc_info[0] is not None:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(
            {k: v for k, v in payload.items() if v is not None}, default=str, separators=(",", ":")
        )


def _event_type(record: logging.LogRecord) -> str | None:
    meta = getattr(record, "dagster_meta", None)
    event = meta.get("dagster_event") if meta else None
    return event.event_type_value if event is not None else None


class KeyEventsOrLevel(logging.Filter):
    """Pass records at or above the threshold, and Dagster's key events whatever their level
    (Dagster logs run, step and check events at DEBUG)."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.threshold or _event_type(record) in EVENT_NAMES


def json_console_logger(name: str, level: int | str) -> logging.Logger:
    """A logger writing JSON lines to stderr (Dagster calls it for every record of a run)."""
    threshold = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    json_logger = logging.Logger(name, level=logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(KeyEventsOrLevel(threshold if isinstance(threshold, int) else logging.INFO))
    json_logger.addHandler(handler)
    return json_logger


@logger(
    Field(
        {
            "log_level": Field(
                str, is_required=False, default_value="INFO", description="The logger's threshold."
            ),
            "name": Field(str, is_required=False, default_value="dagster", description="The logger's name."),
        }
    ),
    description="Console logs: Dagster's readable lines, or JSON lines when ACA_LOG_FORMAT=json.",
)
def aca_console_logger(init_context: InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    if json_logs_enabled():
        return json_console_logger(config["name"], config["log_level"].upper())
    from dagster._loggers import colored_console_logger  # the default, unchanged

    return colored_console_logger.logger_fn(init_context)


def log_file_results(log: logging.Logger, report: WindowLoadReport, *, asset: str) -> None:
    """In JSON mode, one `file_loaded` record per file of a staging window (loaded, unchanged or
    rejected) with its counts; in text mode nothing: the loader's own lines say it."""
    if not json_logs_enabled():
        return
    for result in report.results:
        fields = {
            "event": "file_loaded",
            "asset": asset,
            "feed": result.feed,
            "file": result.source_file,
            "load_date": result.load_date.isoformat(),
            "status": result.status,
            "rows_read": result.rows_read,
            "rows_staged": result.rows_staged,
            "rows_quarantined": result.rows_quarantined,
            "reason_codes": dict(result.reason_code_counts),
            "seconds": round(result.duration_seconds, 3),
            "load_id": result.load_id,
        }
        log.info(
            f"{result.status}: {result.source_file}: {result.message}", extra={STRUCTURED_FIELDS_KEY: fields}
        )
    for error in report.errors:
        fields = {
            "event": "file_loaded",
            "asset": asset,
            "file": error.path,
            "status": "failed",
            "error": error.problem,
        }
        log.error(f"failed: {error.path}: {error.problem}", extra={STRUCTURED_FIELDS_KEY: fields})


def loader_progress_log(log: logging.Logger) -> Callable[[str], None] | None:
    """The per-file progress callback for the staging loader: its readable lines in text mode; none in
    JSON mode, where `log_file_results` writes one structured line per file instead."""
    return None if json_logs_enabled() else log.info
