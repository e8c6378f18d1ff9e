"""The outcomes of loading landing files: one `FileLoadResult` per file, one `WindowLoadReport` per run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aca_warehouse.errors import LandingFileError
from aca_warehouse.landing import IgnoredFile

LOADED, UNCHANGED, FAILED = "loaded", "unchanged", "failed"


@dataclass
class FileLoadResult:
    """The outcome of loading one landing file (one row of `staging.load_audit`).

    Files loaded together in one batch share the batch's wall time: `duration_seconds` and
    `step_seconds` are the file's share of it, in proportion to its size.
    """

    feed: str
    source_file: str
    load_date: date
    load_id: str
    status: str
    file_checksum: str = ""
    file_bytes: int = 0
    rows_read: int = 0
    rows_staged: int = 0
    rows_quarantined: int = 0
    reason_code_counts: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    message: str = ""
    step_seconds: dict[str, float] = field(default_factory=dict)
    started_at: datetime | None = None
    reader: str | None = None  # engine | python: which reader read the file (None: not read)

    def as_metadata_row(self) -> dict[str, Any]:
        return {
            "file": self.source_file,
            "load_date": self.load_date.isoformat(),
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_staged": self.rows_staged,
            "rows_quarantined": self.rows_quarantined,
            "reason_codes": self.reason_code_counts,
            "seconds": round(self.duration_seconds, 3),
            "step_seconds": {step: round(value, 3) for step, value in self.step_seconds.items()},
            "message": self.message,
            "reader": self.reader,
        }


@dataclass
class WindowLoadReport:
    """Every file of a feed considered by one run over a window of load dates."""

    feed: str
    results: list[FileLoadResult] = field(default_factory=list)
    errors: list[LandingFileError] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)

    def with_status(self, status: str) -> list[FileLoadResult]:
        return [r for r in self.results if r.status == status]


def new_load_id(feed: str, load_date: date) -> str:
    return f"{feed}-{load_date:%Y%m%d}-{uuid.uuid4().hex[:12]}"
