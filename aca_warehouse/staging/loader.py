"""Loading the landing files of a feed's window into `staging.*`: what to load, in which batches, audit.

One file = one load = one partition (its load date). A window's files are loaded together:

1. every file's sha256 is compared with its partition's last successful load (one query for the
   window); a file whose bytes (and dictionary) are unchanged is skipped and audited `unchanged`,
   so re-delivering a file changes no table;
2. the header of every other file is read; a file the reader rejects (missing column, not UTF-8,
   no header, ...) gets a `failed` audit row and a `LandingFileError` in the report, and its
   partition keeps its previous load;
3. the rest load in batches of files with the same header layout (`batch.py`): one set of SQL
   statements per batch, and one transaction replacing all of the batch's partitions. A file
   rejected while it is read is left out of its batch like in step 2. Any other error fails the
   load (the exception propagates, after `failed` audit rows for the batch's files), leaving the
   batch's partitions as they were.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path

from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.errors import ConfigurationError, LandingFileError
from aca_warehouse.landing import (
    HASH_PASSES,
    FileDigest,
    LandingFile,
    files_in_window,
    known_digest,
    remember_digest,
    scan_feed,
)
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.settings import STAGING_BATCH_MB_DEFAULT, STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT
from aca_warehouse.staging.audit import insert_audit_rows, last_successful_loads
from aca_warehouse.staging.batch import Batch, BatchFile, BatchLoader, plan_batches
from aca_warehouse.staging.engine_reader import scan_landing_file
from aca_warehouse.staging.reader import LandingFileReader, RawLayout
from aca_warehouse.staging.results import (
    FAILED,
    LOADED,
    UNCHANGED,
    FileLoadResult,
    WindowLoadReport,
    new_load_id,
)
from aca_warehouse.staging.tables import AUDIT_TABLE, ensure_staging_tables

__all__ = [
    "FAILED",
    "LOADED",
    "UNCHANGED",
    "FeedLoader",
    "FileLoadResult",
    "WindowLoadReport",
    "load_feed_window",
    "loaded_files",
    "new_load_id",
]

# Bump when the loader's judgement of a row changes without a dictionary change: identical files
# are then reloaded instead of being skipped as unchanged.
LOADER_VERSION = 1
_PG_WORK_MEM = "256MB"
# DuckDB's memory limit while a feed is staged (ACA_STAGING_DUCKDB_MEMORY_LIMIT, the warehouse
# resource's `staging_duckdb_memory_limit`); the connection's own limit is restored afterwards.
STAGING_MEMORY_LIMIT_DEFAULT = STAGING_DUCKDB_MEMORY_LIMIT_DEFAULT
_MEMORY_LIMIT_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


class FeedLoader:
    """Loads files of one feed through one open warehouse connection."""

    def __init__(
        self,
        conn: WarehouseConnection,
        feed_name: str,
        *,
        asset_key: str | None = None,
        run_id: str | None = None,
        dictionary: Dictionary | None = None,
        batch_bytes: int | None = None,
        engine_reader: bool = True,
    ) -> None:
        self.conn = conn
        self.dictionary = dictionary or load_dictionary()
        self.feed: Feed = self.dictionary.feeds[feed_name]
        self.asset_key = asset_key or f"staging/{feed_name}"
        self.run_id = run_id
        self.rules_version = f"dictionary {self.dictionary.checksum[:16]} loader {LOADER_VERSION}"
        self.batch_bytes = batch_bytes if batch_bytes is not None else STAGING_BATCH_MB_DEFAULT << 20
        if not conn.is_duckdb:
            # The validation statements are wide: JIT compilation costs more than it saves (seconds
            # per batch), and hash aggregates over a batch's keys should not spill at 4 MB.
            conn.execute("set jit = off")
            conn.execute(f"set work_mem = '{_PG_WORK_MEM}'")
        ensure_staging_tables(conn, self.dictionary, self.feed)
        self.batches = BatchLoader(
            conn, self.dictionary, self.feed, self._insert_audit, engine_reader=engine_reader
        )

    # -- public ------------------------------------------------------------------------------
    def load_file(self, landing_file: LandingFile) -> FileLoadResult:
        """Load one file into its partition (or skip it when unchanged); raise LandingFileError if rejected."""
        results, errors = self.load_files([landing_file])
        if errors:
            raise errors[0]
        return results[0]

    def load_files(
        self, files: Sequence[LandingFile], log: Callable[[str], None] | None = None
    ) -> tuple[list[FileLoadResult], list[LandingFileError]]:
        """Load files of the feed (one per load date), each into its partition or skipped when unchanged.

        Returns the results of the loaded and unchanged files, by load date, and the errors of the
        rejected files (audited `failed`, nothing loaded from them). Any other error propagates.
        """
        emit = log or (lambda message: None)
        candidates = [self._fingerprint(f) for f in files]
        results, to_read = self._skip_unchanged(candidates)
        for candidate in to_read:  # changed files: the engine-eligibility pass (hashed already or not)
            if candidate.scan is None:
                self._scan(candidate)
        for result in results:
            emit(f"{result.status}: {result.source_file}: {result.message}")
        readable, rejected = self._read_headers(to_read)
        errors = self._reject(rejected, emit)
        for batch in plan_batches(readable, self.batch_bytes):
            self._load_batch(batch)
            errors += self._reject([f for f in batch.files if f.error is not None], emit)
            for batch_file in batch.files:
                if batch_file.error is None:
                    results.append(batch_file.result)
                    emit(f"{LOADED}: {batch_file.result.source_file}: {batch_file.result.message}")
        results.sort(key=lambda r: r.load_date)
        errors.sort(key=lambda e: e.path)
        return results, errors

    # -- steps -------------------------------------------------------------------------------
    def _fingerprint(self, landing_file: LandingFile) -> BatchFile:
        """A pending result for the file, with its checksum and size: the digest this run already made
        of the file as it is now (the landing asset's, or the sensor's), or one pass over it."""
        result = FileLoadResult(
            feed=self.feed.name,
            source_file=landing_file.relative_path,
            load_date=landing_file.load_date,
            load_id=new_load_id(self.feed.name, landing_file.load_date),
            status=FAILED,
            started_at=datetime.now(UTC),
        )
        candidate = BatchFile(landing_file, result)
        known = known_digest(landing_file)
        if known is not None:  # an unchanged file is then skipped without being read at all
            result.file_checksum, result.file_bytes = known.sha256, known.size
            return candidate
        self._scan(candidate)
        return candidate

    def _scan(self, candidate: BatchFile) -> None:
        """One pass over the file: whether the engine can read it exactly, and its checksum unless it
        has one (a file changed since its digest was made is hashed again and gets the new checksum)."""
        landing_file, result = candidate.landing_file, candidate.result
        clock = time.perf_counter()
        known = result.file_checksum or None
        try:
            scan = scan_landing_file(landing_file.path, self.feed, landing_file.relative_path, checksum=known)
            if known is not None and known_digest(landing_file) is None:  # rewritten since the digest
                scan = scan_landing_file(landing_file.path, self.feed, landing_file.relative_path)
                known = None
        except Exception as exc:  # the file vanished or cannot be read: fail the load, like any I/O error
            self._fail([result], [result], exc)
            raise
        if known is None:
            HASH_PASSES[str(landing_file.path.absolute())] += 1
            fingerprint = landing_file.fingerprint()
            if fingerprint.split("-", 1)[0] == str(scan.size):
                remember_digest(
                    landing_file.path, FileDigest(fingerprint, scan.checksum, scan.size, scan.lines)
                )
        result.file_checksum, result.file_bytes = scan.checksum, scan.size
        result.duration_seconds += time.perf_counter() - clock
        candidate.scan = scan

    def _skip_unchanged(self, candidates: list[BatchFile]) -> tuple[list[FileLoadResult], list[BatchFile]]:
        """Audit the files identical to their partition's last successful load as `unchanged`; the others."""
        previous = last_successful_loads(self.conn, self.feed.name, [c.result.load_date for c in candidates])
        unchanged: list[FileLoadResult] = []
        changed: list[BatchFile] = []
        for candidate in candidates:
            result, last = candidate.result, previous.get(candidate.result.load_date)
            if (
                last is None
                or last.file_checksum != result.file_checksum
                or last.rules_version != self.rules_version
            ):
                changed.append(candidate)
                continue
            result.status = UNCHANGED
            result.rows_read, result.rows_staged = last.rows_read, last.rows_staged
            result.rows_quarantined = last.rows_quarantined
            result.reason_code_counts = last.reason_code_counts
            result.message = f"identical to load {last.load_id}; partition left as it is"
            unchanged.append(result)
        self._insert_audit(unchanged)
        return unchanged, changed

    def _read_headers(
        self, candidates: list[BatchFile]
    ) -> tuple[list[tuple[BatchFile, RawLayout]], list[BatchFile]]:
        """The layout of every file whose header the reader accepts; the files it rejects (with `error`)."""
        readable: list[tuple[BatchFile, RawLayout]] = []
        rejected: list[BatchFile] = []
        for candidate in candidates:
            landing_file = candidate.landing_file
            clock = time.perf_counter()
            try:
                with LandingFileReader(landing_file.path, landing_file.relative_path, self.feed) as reader:
                    readable.append((candidate, reader.layout))
            except LandingFileError as exc:
                candidate.error = exc
                candidate.result.duration_seconds += time.perf_counter() - clock
                rejected.append(candidate)
        return readable, rejected

    def _reject(self, rejected: list[BatchFile], emit: Callable[[str], None]) -> list[LandingFileError]:
        """Audit rejected files as `failed`; their errors."""
        errors: list[LandingFileError] = []
        for batch_file in rejected:
            assert batch_file.error is not None
            batch_file.result.status = FAILED
            batch_file.result.message = batch_file.error.problem
            errors.append(batch_file.error)
            emit(f"REJECTED {batch_file.error}")
        self._insert_audit([f.result for f in rejected])
        return errors

    def _load_batch(self, batch: Batch) -> None:
        """Load one batch; on an error other than a rejected file, audit its files as failed and raise."""
        try:
            self.batches.load(batch)
        except Exception as exc:
            for batch_file in batch.files:
                if batch_file.error is not None:  # rejected before the error: its own problem
                    batch_file.result.status, batch_file.result.message = FAILED, batch_file.error.problem
            self._fail(
                [f.result for f in batch.files if f.error is None], [f.result for f in batch.files], exc
            )
            first, last = batch.files[0].result.source_file, batch.files[-1].result.source_file
            exc.add_note(
                f"while loading a batch of {len(batch.files)} {self.feed.name} files ({first} .. {last}); "
                "their partitions keep their previous loads"
            )
            raise

    def _fail(self, failed: list[FileLoadResult], audited: list[FileLoadResult], exc: Exception) -> None:
        """Mark `failed` as failed by `exc` and audit `audited` (best effort: the error is what matters)."""
        for result in failed:
            result.status = FAILED
            result.message = f"{type(exc).__name__}: {exc}"[:2000]
        with suppress(Exception):  # the connection itself may be broken; the original error matters
            self._insert_audit(audited)

    def _insert_audit(self, results: list[FileLoadResult]) -> None:
        insert_audit_rows(
            self.conn, results, asset_key=self.asset_key, rules_version=self.rules_version, run_id=self.run_id
        )


def staging_memory_limit(text: str = STAGING_MEMORY_LIMIT_DEFAULT) -> str:
    """A DuckDB memory limit for staging, checked (`1GB`, `768MB`; default half of ACA_MEMORY_BUDGET)."""
    if not _MEMORY_LIMIT_RE.match(text):
        raise ConfigurationError(f"ACA_STAGING_DUCKDB_MEMORY_LIMIT must look like 1GB or 768MB, got {text!r}")
    return text.strip()


@contextmanager
def staging_memory_budget(
    conn: WarehouseConnection, limit: str = STAGING_MEMORY_LIMIT_DEFAULT
) -> Iterator[None]:
    """DuckDB: staging runs under the memory limit `limit`; the previous limit is restored after."""
    if not conn.is_duckdb:
        yield
        return
    # (the configured text: current_setting() rounds, and setting that back would drift)
    previous = conn.duckdb_memory_limit or conn.scalar("select current_setting('memory_limit')")
    conn.execute(f"set memory_limit = '{staging_memory_limit(limit)}'")
    try:
        yield
    finally:
        with suppress(Exception):  # a broken connection must not hide the original error
            conn.execute(f"set memory_limit = '{previous}'")


def load_feed_window(
    conn: WarehouseConnection,
    feed_name: str,
    landing_root: Path,
    start: date,
    end: date,
    *,
    asset_key: str | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
    batch_bytes: int | None = None,
    engine_reader: bool = True,
    memory_limit: str = STAGING_MEMORY_LIMIT_DEFAULT,
) -> WindowLoadReport:
    """Load every landing file of the feed whose load date is in [start, end), in batches.

    A rejected file does not stop the others; its error is collected in the report (the caller
    decides to fail the run). Dates without a file are left as they are. `batch_bytes` bounds the
    landing text loaded in one batch (default 64 MB; the code location passes the warehouse resource's
    `staging_batch_mb`, ACA_STAGING_BATCH_MB), `memory_limit` DuckDB's memory limit while staging. `engine_reader=False` reads
    every file with the Python normaliser (the engine otherwise reads the files it can read exactly).
    """
    loader = FeedLoader(
        conn,
        feed_name,
        asset_key=asset_key,
        run_id=run_id,
        batch_bytes=batch_bytes,
        engine_reader=engine_reader,
    )
    files, ignored = scan_feed(landing_root, loader.feed)
    report = WindowLoadReport(feed=feed_name, ignored=ignored)
    # Files that are not landing files (a foreign or impossible name, a future date, a link out of the
    # landing directory) are in report.ignored, reported by the caller; they never stop the others.
    with staging_memory_budget(conn, memory_limit):
        report.results, report.errors = loader.load_files(files_in_window(files, start, end), log=log)
    return report


def loaded_files(conn: WarehouseConnection) -> dict[str, str]:
    """Landing path -> sha256 of its latest successful load, from `staging.load_audit`.

    The landing sensor seeds its memory from this when it has none (first start, reset cursor),
    so files already loaded by `aca-warehouse run` or a backfill do not start runs again.
    """
    if not conn.table_exists("staging", "load_audit"):
        return {}
    rows = conn.fetchall(
        f"select source_file, file_checksum from {AUDIT_TABLE} where status = %s order by finished_at, load_id",
        [LOADED],
    )
    return dict(rows)  # later loads of the same path overwrite earlier ones
