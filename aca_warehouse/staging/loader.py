"""Loading landing files into `staging.*`: raw bulk load, validation, quarantine, partition replace, audit.

One file = one load = one partition (its load date). A load reads the file into a temporary
raw table with the engine's bulk reader, turns it into typed and judged rows with SQL
generated from the dictionary, then in ONE transaction deletes the partition's rows from the
feed's table and from the quarantine and inserts the new ones plus an audit row. A file whose
bytes (and dictionary) equal the partition's last successful load is skipped and audited as
`unchanged`, so re-delivering a file changes no table. A rejected file raises
`LandingFileError` after writing a `failed` audit row; the partition keeps its previous load.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aca_warehouse.contract.dictionary import Dictionary, Feed, load_dictionary
from aca_warehouse.errors import AcaWarehouseError, LandingFileError
from aca_warehouse.landing import (
    IgnoredFile,
    LandingFile,
    file_sha256,
    files_in_window,
    parse_landing_name,
    scan_feed,
)
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.dialect import Dialect, sql_string
from aca_warehouse.staging.reader import LandingFileReader, RawLayout
from aca_warehouse.staging.tables import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    METADATA_COLUMNS,
    QUARANTINE_TABLE,
    ensure_staging_tables,
    staging_table,
)
from aca_warehouse.staging.validation import (
    build_checked_table_sql,
    build_duplicate_rows_sql,
    build_repeat_candidates_sql,
    build_typed_table_sql,
    raw_values_sql,
)

LOADED, UNCHANGED, FAILED = "loaded", "unchanged", "failed"
# Bump when the loader's judgement of a row changes without a dictionary change: identical files
# are then reloaded instead of being skipped as unchanged.
LOADER_VERSION = 1
_DUCKDB_MAX_LINE = 64 << 20
_PG_WORK_MEM = "256MB"


@dataclass
class FileLoadResult:
    """The outcome of loading one landing file (one row of `staging.load_audit`)."""

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
    ) -> None:
        self.conn = conn
        self.dictionary = dictionary or load_dictionary()
        self.feed: Feed = self.dictionary.feeds[feed_name]
        self.dialect = Dialect(conn.kind)
        self.asset_key = asset_key or f"staging/{feed_name}"
        self.run_id = run_id
        self.rules_version = f"dictionary {self.dictionary.checksum[:16]} loader {LOADER_VERSION}"
        if not conn.is_duckdb:
            # The validation statements are wide: JIT compilation costs more than it saves (seconds
            # per file), and hash aggregates over a file's keys should not spill at 4 MB.
            conn.execute("set jit = off")
            conn.execute(f"set work_mem = '{_PG_WORK_MEM}'")
        ensure_staging_tables(conn, self.dictionary, self.feed)

    # -- public ------------------------------------------------------------------------------
    def load_file(self, landing_file: LandingFile) -> FileLoadResult:
        """Load one file into its partition (or skip it when unchanged); raise LandingFileError if rejected."""
        started = datetime.now(UTC)
        clock = time.perf_counter()
        result = FileLoadResult(
            feed=self.feed.name,
            source_file=landing_file.relative_path,
            load_date=landing_file.load_date,
            load_id=new_load_id(self.feed.name, landing_file.load_date),
            status=FAILED,
        )
        try:
            result.file_checksum = file_sha256(landing_file.path)
            result.file_bytes = landing_file.path.stat().st_size
            previous = self._last_successful_load(landing_file.load_date)
            if (
                previous
                and previous["file_checksum"] == result.file_checksum
                and previous["rules_version"] == self.rules_version
            ):
                result.status = UNCHANGED
                result.rows_read = previous["rows_read"]
                result.rows_staged = previous["rows_staged"]
                result.rows_quarantined = previous["rows_quarantined"]
                result.reason_code_counts = json.loads(previous["reason_code_counts"] or "{}")
                result.message = f"identical to load {previous['load_id']}; partition left as it is"
                result.duration_seconds = time.perf_counter() - clock
                self._insert_audit(result, started)
                return result
            self._load_changed_file(landing_file, result, started, clock)
            return result
        except LandingFileError as exc:
            result.status = FAILED
            result.message = exc.problem
            result.duration_seconds = time.perf_counter() - clock
            self._insert_audit(result, started)
            raise
        except Exception as exc:
            result.status = FAILED
            result.message = f"{type(exc).__name__}: {exc}"[:2000]
            result.duration_seconds = time.perf_counter() - clock
            with suppress(Exception):  # the connection itself may be broken; the original error matters
                self._insert_audit(result, started)
            raise

    # -- steps -------------------------------------------------------------------------------
    def _last_successful_load(self, load_date: date) -> dict[str, Any] | None:
        row = self.conn.fetchone(
            f"select load_id, file_checksum, rules_version, rows_read, rows_staged, rows_quarantined, "
            f"reason_code_counts from {AUDIT_TABLE} where feed = %s and load_date = %s and status = %s "
            f"order by finished_at desc, load_id desc limit 1",
            [self.feed.name, load_date, LOADED],
        )
        if row is None:
            return None
        keys = ("load_id", "file_checksum", "rules_version", "rows_read", "rows_staged",
                "rows_quarantined", "reason_code_counts")  # fmt: skip
        return dict(zip(keys, row, strict=True))

    def _load_changed_file(
        self, landing_file: LandingFile, result: FileLoadResult, started: datetime, clock: float
    ) -> None:
        suffix = uuid.uuid4().hex[:10]
        stages = ("raw", "typed", "candidates", "duplicates", "checked")
        raw_table, typed_table, candidates_table, duplicates_table, checked_table = (
            f"{stage}_{self.feed.name}_{suffix}" for stage in stages
        )
        scratch = (
            tempfile.TemporaryDirectory(prefix="aca_staging_") if self.conn.is_duckdb else nullcontext(None)
        )
        try:
            with scratch as scratch_dir:
                step = time.perf_counter()
                with LandingFileReader(landing_file.path, landing_file.relative_path, self.feed) as reader:
                    self._bulk_load_raw(reader, raw_table, scratch_dir)
                layout, stats = reader.layout, reader.stats
                result.step_seconds["read"] = time.perf_counter() - step
                step = time.perf_counter()
                self.conn.execute(
                    build_typed_table_sql(
                        self.dictionary, self.dialect, layout, raw_table, typed_table, landing_file.load_date
                    )
                )
                result.step_seconds["type"] = time.perf_counter() - step
                step = time.perf_counter()
                self._find_duplicate_rows(layout, raw_table, typed_table, candidates_table, duplicates_table)
                self.conn.execute(
                    build_checked_table_sql(
                        self.dictionary, self.dialect, layout, typed_table, duplicates_table, checked_table
                    )
                )
                result.step_seconds["validate"] = time.perf_counter() - step
                self._count_outcome(landing_file, result, checked_table, stats.rows_read)
                if stats.blank_lines:
                    result.message += f" ({stats.blank_lines} blank lines skipped)"
                step = time.perf_counter()
                self._replace_partition(result, layout, raw_table, checked_table, started, clock)
                result.step_seconds["replace_partition"] = time.perf_counter() - step
        finally:
            if self.conn.is_duckdb:
                self.conn.execute(f"drop view if exists {raw_table}")
            for table in (raw_table, typed_table, candidates_table, duplicates_table, checked_table):
                self.conn.execute(f"drop table if exists {table}")

    def _find_duplicate_rows(
        self,
        layout: RawLayout,
        raw_table: str,
        typed_table: str,
        candidates_table: str,
        duplicates_table: str,
    ) -> None:
        """Lines that exactly repeat an earlier line: hash candidates, then (if any) a field-by-field check."""
        self.conn.execute(build_repeat_candidates_sql(typed_table, candidates_table))
        if self.conn.scalar(f"select count(*) from {candidates_table}"):
            self.conn.execute(build_duplicate_rows_sql(layout, raw_table, candidates_table, duplicates_table))
        else:
            self.conn.execute(f"create temp table {duplicates_table} (_line integer)")

    def _count_outcome(
        self, landing_file: LandingFile, result: FileLoadResult, checked_table: str, rows_read: int
    ) -> None:
        total, staged = self.conn.fetchone(
            f"select count(*), coalesce(sum(case when _reason_codes = '' then 1 else 0 end), 0) from {checked_table}"
        ) or (0, 0)
        if total != rows_read:
            raise AcaWarehouseError(
                f"{landing_file.relative_path}: the reader saw {rows_read} records but {total} reached the "
                "warehouse; this is a loader bug, please report it with the file"
            )
        code_counts: Counter[str] = Counter()
        for codes, count in self.conn.fetchall(
            f"select _reason_codes, count(*) from {checked_table} where _reason_codes <> '' group by _reason_codes"
        ):
            for code in codes.split(";"):
                code_counts[code] += count
        result.rows_read, result.rows_staged, result.rows_quarantined = total, staged, total - staged
        result.reason_code_counts = dict(sorted(code_counts.items()))
        result.status = LOADED
        result.message = f"{staged} of {total} rows staged, {total - staged} quarantined"

    def _bulk_load_raw(self, reader: LandingFileReader, raw_table: str, scratch_dir: str | None) -> None:
        """The file's normalized records as `raw_table` (DuckDB: a view over a scratch CSV; PostgreSQL: COPY)."""
        layout: RawLayout = reader.layout
        if self.conn.is_duckdb:
            assert scratch_dir is not None
            normalized = Path(scratch_dir) / "normalized.csv"
            with normalized.open("w", encoding="utf-8", newline="") as out:
                for chunk in reader.normalized_chunks():
                    out.write(chunk)
            types = ", ".join(
                f"{sql_string(c)}: {sql_string('INTEGER' if c == '_line' else 'VARCHAR')}"
                for c in layout.raw_columns
            )
            self.conn.execute(
                f"create temp view {raw_table} as select * from read_csv({sql_string(str(normalized))}, "
                f"columns = {{{types}}}, header = false, delim = ',', quote = '\"', escape = '\"', "
                f"new_line = '\\n', auto_detect = false, strict_mode = true, null_padding = false, "
                f"max_line_size = {_DUCKDB_MAX_LINE})"
            )
            return
        column_defs = ", ".join(["_line INTEGER", *[f"{c} TEXT" for c in layout.raw_columns[1:]]])
        self.conn.execute(f"create temp table {raw_table} ({column_defs})")
        with (
            self.conn.raw.cursor() as cursor,
            cursor.copy(f"copy {raw_table} from stdin with (format csv)") as copy,
        ):
            for chunk in reader.normalized_chunks():
                copy.write(chunk)
        self.conn.execute(f"analyze {raw_table}")

    def _replace_partition(
        self,
        result: FileLoadResult,
        layout: RawLayout,
        raw_table: str,
        checked_table: str,
        started: datetime,
        clock: float,
    ) -> None:
        feed = self.feed
        contract = ", ".join(feed.column_names)
        metadata = ", ".join(name for name, _, _ in METADATA_COLUMNS)
        loaded_at = datetime.now(UTC)
        load_params = [result.load_date, result.load_id, loaded_at, result.source_file]
        with self.conn.transaction():
            if not self.conn.is_duckdb:  # two runs replacing the same partition take turns
                self.conn.execute(
                    "select pg_advisory_xact_lock(hashtext(%s), %s)",
                    [staging_table(feed), result.load_date.toordinal()],
                )
            self.conn.execute(f"delete from {staging_table(feed)} where _load_date = %s", [result.load_date])
            self.conn.execute(
                f"delete from {QUARANTINE_TABLE} where feed = %s and _load_date = %s",
                [feed.name, result.load_date],
            )
            self.conn.execute(
                f"insert into {staging_table(feed)} ({contract}, {metadata}) "
                f"select {contract}, cast(%s as date), %s, cast(%s as timestamptz), %s, _line, %s, _extra_json "
                f"from {checked_table} where _reason_codes = ''",
                [*load_params, result.file_checksum],
            )
            if result.rows_quarantined:
                self.conn.execute(
                    f"insert into {QUARANTINE_TABLE} (feed, _load_date, _load_id, _loaded_at, _source_file, "
                    f"_source_line, _file_checksum, reason_codes, reason_details, raw_values) "
                    f"select %s, cast(%s as date), %s, cast(%s as timestamptz), %s, c._line, %s, c._reason_codes, "
                    f"c._reason_details, {raw_values_sql(self.dialect, layout, 'r')} "
                    f"from {checked_table} c join {raw_table} r on r._line = c._line where c._reason_codes <> ''",
                    [feed.name, *load_params, result.file_checksum],
                )
            result.duration_seconds = time.perf_counter() - clock
            self._insert_audit(result, started)

    def _insert_audit(self, result: FileLoadResult, started: datetime) -> None:
        values = {
            "load_id": result.load_id,
            "asset_key": self.asset_key,
            "feed": result.feed,
            "load_date": result.load_date,
            "source_file": result.source_file,
            "file_checksum": result.file_checksum or None,
            "file_bytes": result.file_bytes,
            "rules_version": self.rules_version,
            "status": result.status,
            "rows_read": result.rows_read,
            "rows_staged": result.rows_staged,
            "rows_quarantined": result.rows_quarantined,
            "reason_code_counts": json.dumps(result.reason_code_counts, sort_keys=True),
            "message": result.message,
            "started_at": started,
            "finished_at": datetime.now(UTC),
            "duration_seconds": result.duration_seconds,
            "dagster_run_id": self.run_id,
        }
        names = [name for name, _, _ in AUDIT_COLUMNS]
        self.conn.execute(
            f"insert into {AUDIT_TABLE} ({', '.join(names)}) values ({', '.join(['%s'] * len(names))})",
            [values[name] for name in names],
        )


def impossible_date_files(feed: Feed, ignored: list[IgnoredFile]) -> list[IgnoredFile]:
    """Files named like the feed's landing files whose date is not a real calendar day."""
    return [i for i in ignored if isinstance(parse_landing_name(feed, i.path.name), str)]


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
) -> WindowLoadReport:
    """Load every landing file of the feed whose load date is in [start, end), oldest first.

    A rejected file does not stop the others; its error is collected in the report (the caller
    decides to fail the run). Dates without a file are left as they are.
    """
    loader = FeedLoader(conn, feed_name, asset_key=asset_key, run_id=run_id)
    files, ignored = scan_feed(landing_root, loader.feed)
    report = WindowLoadReport(feed=feed_name, ignored=ignored)
    emit = log or (lambda message: None)
    for landing_file in files_in_window(files, start, end):
        try:
            result = loader.load_file(landing_file)
        except LandingFileError as exc:
            report.errors.append(exc)
            emit(f"REJECTED {exc}")
            continue
        report.results.append(result)
        emit(f"{result.status}: {result.source_file}: {result.message}")
    for bad_name in impossible_date_files(loader.feed, ignored):
        relative = bad_name.path.relative_to(landing_root).as_posix()
        report.errors.append(LandingFileError(relative, f"looks like a landing file but {bad_name.reason}"))
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
