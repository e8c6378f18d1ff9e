"""Loading a batch of landing files of one feed and one header layout through one set of SQL statements.

A batch is read into ONE temporary raw table (each record tagged with its file's index `_file`),
typed in one pass (the typed table) and judged in one pass over it by the validation SQL of
`validation.py` (every per-file rule partitioned by `_file`), which writes only the rejected
records with their reason codes; counted per file, and then, in ONE transaction, every partition
of the batch is replaced: its staged and quarantined rows deleted, the typed records without a
rejection inserted (one statement), the rejected ones into the quarantine (one), one audit row per
file. The statement count no longer grows with the number of files, which is what made
many small daily files slow. `plan_batches` groups a window's files: same header layout, at
most `max_bytes` of landing text and `MAX_FILES_PER_BATCH` files per batch.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from aca_warehouse.contract.dictionary import Dictionary, Feed
from aca_warehouse.errors import AcaWarehouseError, LandingFileError
from aca_warehouse.landing import LandingFile
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.scratch import STAGING_SCRATCH_PREFIX, private_scratch_dir
from aca_warehouse.staging.dialect import Dialect, sql_string
from aca_warehouse.staging.engine_reader import (
    ENGINE,
    PYTHON,
    EngineFile,
    EngineRawLoader,
    FileScan,
    drop_engine_tables,
    engine_problem_for_layout,
    is_data_error,
)
from aca_warehouse.staging.reader import LandingFileReader, RawLayout, ReadStats
from aca_warehouse.staging.results import LOADED, FileLoadResult
from aca_warehouse.staging.tables import METADATA_COLUMNS, QUARANTINE_TABLE, staging_table
from aca_warehouse.staging.validation import (
    build_duplicate_rows_sql,
    build_key_sharers_sql,
    build_rejected_table_sql,
    build_repeat_candidates_sql,
    build_shared_records_sql,
    build_typed_table_sql,
    raw_values_sql,
)

# PostgreSQL holds one advisory lock per replaced partition until the batch commits; the shared
# lock table (max_locks_per_transaction x max_connections) must fit several feeds loading at once.
MAX_FILES_PER_BATCH = 366
_DUCKDB_MAX_LINE = 64 << 20
# DuckDB's CSV buffer defaults to 16 x max_line_size (1 GiB here) per reading thread, sized down
# only for smaller files: a 1.5 GB batch (a 1M-member first day of enrollment events) then asked
# for 1 GiB blocks and ran out of the 2 GB memory limit. Two maximal lines per buffer suffice.
_DUCKDB_READ_BUFFER = 2 * _DUCKDB_MAX_LINE


@dataclass
class BatchFile:
    """A file to load: where it is, its result (filled in by the load), its index in the batch."""

    landing_file: LandingFile
    result: FileLoadResult
    index: int = 0
    error: LandingFileError | None = None  # set when the reader rejects the file halfway through
    scan: FileScan | None = None  # the loader's one pass: checksum and engine eligibility
    python_reason: str = ""  # why the Python normaliser reads it (empty: the engine does)


@dataclass
class Batch:
    """Files with the identical header layout, loaded together."""

    layout: RawLayout
    files: list[BatchFile] = field(default_factory=list)


def plan_batches(
    files: Sequence[tuple[BatchFile, RawLayout]], max_bytes: int, max_files: int = MAX_FILES_PER_BATCH
) -> list[Batch]:
    """Group files by header layout, oldest first, into batches of at most `max_bytes` of landing
    text (a larger file is a batch of its own) and `max_files` files; batches in load-date order."""
    groups: dict[tuple[str, ...], list[tuple[BatchFile, RawLayout]]] = defaultdict(list)
    for item in sorted(files, key=lambda item: item[0].result.load_date):
        groups[item[1].header].append(item)
    batches: list[Batch] = []
    for members in groups.values():
        batch, size = Batch(members[0][1]), 0
        for batch_file, _ in members:
            file_bytes = batch_file.result.file_bytes
            if batch.files and (size + file_bytes > max_bytes or len(batch.files) >= max_files):
                batches.append(batch)
                batch, size = Batch(members[0][1]), 0
            batch_file.index = len(batch.files)
            batch.files.append(batch_file)
            size += file_bytes
        batches.append(batch)
    return sorted(batches, key=lambda b: b.files[0].result.load_date)


@dataclass(frozen=True)
class _Tables:
    """Names of one batch's temporary tables."""

    raw: str
    files: str
    typed: str
    sharers: str
    shared: str
    candidates: str
    duplicates: str
    rejected: str

    @classmethod
    def new(cls, feed: str) -> _Tables:
        suffix = uuid.uuid4().hex[:10]
        return cls(*(f"{stage.name}_{feed}_{suffix}" for stage in fields(cls)))


class BatchLoader:
    """Loads batches of one feed through one open connection; `audit` writes the loaded files' audit
    rows inside the batch's transaction."""

    def __init__(
        self,
        conn: WarehouseConnection,
        dictionary: Dictionary,
        feed: Feed,
        audit: Callable[[list[FileLoadResult]], None],
        *,
        engine_reader: bool = True,
    ) -> None:
        self.conn = conn
        self.engine_reader = engine_reader
        self.dictionary = dictionary
        self.feed = feed
        self.dialect = Dialect(conn.kind)
        self.audit = audit

    def load(self, batch: Batch) -> None:
        """Replace the partitions of the batch's files in one transaction.

        A file the reader rejects halfway through gets `error` and loads nothing; the others load.
        Any other error propagates, and then no partition of the batch has changed.
        """
        tables = _Tables.new(self.feed.name)
        try:
            self._load(batch, tables)
        except BaseException:
            with suppress(Exception):  # a broken connection must not hide the original error
                self._drop(tables)
            raise
        self._drop(tables)

    def _load(self, batch: Batch, tables: _Tables) -> None:
        clock = time.perf_counter()
        started = datetime.now(UTC)
        for batch_file in batch.files:
            batch_file.result.started_at = started
        steps: dict[str, float] = {}
        scratch = private_scratch_dir(STAGING_SCRATCH_PREFIX) if self.conn.is_duckdb else nullcontext(None)
        with scratch as scratch_dir:
            step = time.perf_counter()
            stats, loaded = self._read_and_type(batch, tables, scratch_dir, steps)
            if not loaded:
                return
            steps["type"] = time.perf_counter() - step - steps["read"]
            self._analyze(tables.typed, self._join_columns())
            step = time.perf_counter()
            self._find_duplicate_rows(batch.layout, tables)
            self.conn.execute(
                build_rejected_table_sql(
                    self.dictionary,
                    self.dialect,
                    batch.layout,
                    tables.typed,
                    tables.duplicates,
                    tables.rejected,
                )
            )
            self._analyze(tables.rejected, ["_file", "_line"])
            steps["validate"] = time.perf_counter() - step
            self._count_outcomes(loaded, stats, tables)
            step = time.perf_counter()
            self._replace_partitions(batch.layout, loaded, tables, steps, clock)
            steps["replace_partition"] = time.perf_counter() - step
            _share(loaded, steps, None)

    def _read_and_type(
        self, batch: Batch, tables: _Tables, scratch_dir: str | None, steps: dict[str, float]
    ) -> tuple[dict[int, ReadStats], list[BatchFile]]:
        """Read the batch into its raw table and type it; the read stats and the files read to the end.

        DuckDB reads the engine's files lazily, when the typed table is made: the engine's
        verdict on them (a refused file, a record count or sample line that disagrees, a line it
        cannot parse) comes after that; those files then go to the Python normaliser and the batch
        is read again (once).
        """
        for attempt in (1, 2):
            step = time.perf_counter()
            stats, engine_files = self._bulk_load_raw(batch, tables.raw, scratch_dir)
            steps["read"] = time.perf_counter() - step
            loaded = [f for f in batch.files if f.error is None]
            for batch_file in batch.files:
                batch_file.result.reader = PYTHON if batch_file.python_reason else ENGINE
            if not loaded:
                return stats, loaded
            engine = EngineRawLoader(self.conn, batch.layout, tables.raw)
            self._create_files_table(loaded, tables.files)
            verified = self.conn.is_duckdb and engine_files  # DuckDB checks the engine's records after typing
            try:
                self.conn.execute(
                    build_typed_table_sql(
                        self.dictionary,
                        self.dialect,
                        batch.layout,
                        tables.raw,
                        tables.typed,
                        tables.files,
                        sample_lines=engine.samples_table if verified else None,
                    )
                )
            except Exception as exc:
                if not (self.conn.is_duckdb and engine_files and attempt == 1 and is_data_error(exc)):
                    raise
                failed = engine.duckdb_probe(engine_files)
                if not failed:
                    raise
            else:
                if not verified:
                    return stats, loaded
                failed = engine.duckdb_verify(engine_files, tables.typed)
                if not failed:
                    return stats, loaded
                if attempt == 2:  # pragma: no cover - the second read has no engine files left
                    raise AcaWarehouseError(f"engine reader disagreed twice: {failed}")
            for index, reason in failed.items():
                batch.files[index].python_reason = reason
            self._drop(tables)
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self, tables: _Tables) -> None:
        if self.conn.is_duckdb:
            self.conn.execute(f"drop view if exists {tables.raw}")
        drop_engine_tables(self.conn, tables.raw)
        for table in (
            tables.raw,
            tables.files,
            tables.typed,
            tables.sharers,
            tables.shared,
            tables.candidates,
            tables.duplicates,
            tables.rejected,
        ):
            self.conn.execute(f"drop table if exists {table}")

    # -- steps -------------------------------------------------------------------------------
    def _stream(
        self, files: Sequence[BatchFile], layout: RawLayout, write: Callable[[str], object]
    ) -> dict[int, ReadStats]:
        """Every file's normalized records through `write`; the stats of the files read to the end."""
        stats: dict[int, ReadStats] = {}
        for batch_file in files:
            landing_file = batch_file.landing_file
            try:
                with LandingFileReader(
                    landing_file.path, landing_file.relative_path, self.feed, batch_file.index
                ) as reader:
                    if reader.layout.header != layout.header:
                        raise reader.reject(
                            "the header changed while the file was being loaded; load it again"
                        )
                    for chunk in reader.normalized_chunks():
                        write(chunk)
            except LandingFileError as exc:  # its records so far stay out: typing joins the files table
                batch_file.error = exc
                continue
            stats[batch_file.index] = reader.stats
        return stats

    def _engine_candidates(self, batch: Batch) -> list[EngineFile]:
        """The files the engine may read (the others get `python_reason`)."""
        candidates: list[EngineFile] = []
        for batch_file in batch.files:
            scan = batch_file.scan
            if batch_file.python_reason:
                continue
            if not self.engine_reader:
                batch_file.python_reason = "the engine reader is turned off"
            elif scan is None:
                batch_file.python_reason = "it was not scanned"
            elif problem := engine_problem_for_layout(scan, batch.layout):
                batch_file.python_reason = problem
            elif _changed_since_scan(batch_file):
                batch_file.python_reason = "it changed since it was scanned"
            else:
                candidates.append(EngineFile(batch_file.index, batch_file.landing_file.path, scan))
        return candidates

    def _bulk_load_raw(
        self, batch: Batch, raw_table: str, scratch_dir: str | None
    ) -> tuple[dict[int, ReadStats], list[EngineFile]]:
        """The batch's records as `raw_table`, and the files the engine reads: the engine reads the
        files it can read exactly, the Python normaliser the others. DuckDB: a view of the union of
        the engine's view and a `read_csv` of the normaliser's scratch CSV; PostgreSQL: a table
        filled by COPY."""
        layout = batch.layout
        engine = EngineRawLoader(self.conn, layout, raw_table)
        candidates = self._engine_candidates(batch)
        stats: dict[int, ReadStats] = {}
        if not self.conn.is_duckdb:
            text = self.dialect.text
            column_defs = ", ".join(
                ["_file INTEGER", "_line INTEGER", *[f"{c} {text}" for c in layout.raw_columns[2:]]]
            )
            self.conn.execute(f"create temp table {raw_table} ({column_defs})")
            for index, reason in engine.pg_load(candidates).items():
                batch.files[index].python_reason = reason
            candidates = [c for c in candidates if not batch.files[c.index].python_reason]
        for candidate in candidates:
            scan = candidate.scan
            stats[candidate.index] = ReadStats(
                rows_read=scan.records(layout.is_jsonl), physical_lines=scan.lines
            )
        python_files = [f for f in batch.files if f.python_reason]
        sources: list[str] = []
        if self.conn.is_duckdb:
            if candidates:
                sources.append(f"select * from {engine.duckdb_view(candidates)}")
            if python_files:
                assert scratch_dir is not None
                normalized = Path(scratch_dir) / "normalized.csv"
                with normalized.open("w", encoding="utf-8", newline="") as out:
                    stats.update(self._stream(python_files, layout, out.write))
                types = ", ".join(
                    f"{sql_string(c)}: {sql_string('INTEGER' if c in ('_file', '_line') else 'VARCHAR')}"
                    for c in layout.raw_columns
                )
                sources.append(
                    f"select * from read_csv({sql_string(str(normalized))}, "
                    f"columns = {{{types}}}, header = false, delim = ',', quote = '\"', escape = '\"', "
                    f"new_line = '\\n', auto_detect = false, strict_mode = true, null_padding = false, "
                    f"max_line_size = {_DUCKDB_MAX_LINE}, buffer_size = {_DUCKDB_READ_BUFFER})"
                )
            self.conn.execute(f"create temp view {raw_table} as {' union all '.join(sources)}")
            return stats, candidates
        if python_files:
            with (
                self.conn.raw.cursor() as cursor,
                cursor.copy(
                    f"copy {raw_table} ({', '.join(layout.raw_columns)}) from stdin with (format csv)"
                ) as copy,
            ):
                stats.update(self._stream(python_files, layout, copy.write))
        self._analyze(raw_table, ["_file", "_line"])
        return stats, []

    def _analyze(self, table: str, columns: Sequence[str]) -> None:
        """PostgreSQL: statistics of the columns a scratch table is joined and grouped on. Without
        them the planner takes a batch's keys for a few dozen rows and may join them on the file
        alone (quadratic in the rows of a file)."""
        if not self.conn.is_duckdb:
            self.conn.execute(f"analyze {table} ({', '.join(dict.fromkeys(columns))})")

    def _join_columns(self) -> list[str]:
        """Typed columns the checks join or group on: keys and the columns of overlap rules."""
        columns = ["_file", "_line", "_problem", *self.feed.key]
        for rule in self.feed.rules:
            if rule.kind == "overlap_with_earlier_row":
                columns += [*rule.same, *rule.different, *(rule.period or ())]
        return columns

    def _create_files_table(self, loaded: list[BatchFile], files_table: str) -> None:
        """One row per file read to the end: its index and the metadata its rows are staged with."""
        text = self.dialect.text
        self.conn.execute(
            f"create temp table {files_table} (_file INTEGER, _load_date DATE, _load_id {text}, "
            f"_source_file {text}, _file_checksum {text})"
        )
        params: list[object] = []
        for batch_file in loaded:
            result = batch_file.result
            params += [
                batch_file.index,
                result.load_date,
                result.load_id,
                result.source_file,
                result.file_checksum,
            ]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(loaded))
        self.conn.execute(f"insert into {files_table} values {rows}", params)

    def _find_duplicate_rows(self, layout: RawLayout, tables: _Tables) -> None:
        """Lines that exactly repeat an earlier line of their file: only records whose key repeats (or
        lacks a part) can; if there are any, their raw records are hashed (one read of the raw table)
        and the hash candidates checked field by field."""
        self.conn.execute(build_key_sharers_sql(self.feed, tables.typed, tables.sharers))
        if self.conn.scalar(f"select count(*) from {tables.sharers}"):
            self.conn.execute(
                build_shared_records_sql(self.dialect, layout, tables.raw, tables.sharers, tables.shared)
            )
            self.conn.execute(build_repeat_candidates_sql(tables.shared, tables.candidates))
            self.conn.execute(
                build_duplicate_rows_sql(layout, tables.shared, tables.candidates, tables.duplicates)
            )
        else:
            self.conn.execute(f"create temp table {tables.duplicates} (_file INTEGER, _line INTEGER)")

    def _count_outcomes(self, loaded: list[BatchFile], stats: dict[int, ReadStats], tables: _Tables) -> None:
        """Rows read, staged and quarantined and the reason-code counts of every file: records per
        file of the typed table, rejected ones per file and reason codes."""
        totals: Counter[int] = Counter(
            dict(self.conn.fetchall(f"select _file, count(*) from {tables.typed} group by _file"))
        )
        staged: Counter[int] = Counter(totals)
        codes: defaultdict[int, Counter[str]] = defaultdict(Counter)
        for index, reason_codes, count in self.conn.fetchall(
            f"select _file, _reason_codes, count(*) from {tables.rejected} group by _file, _reason_codes"
        ):
            staged[index] -= count
            for code in reason_codes.split(";"):
                codes[index][code] += count
        for batch_file in loaded:
            result, read = batch_file.result, stats[batch_file.index]
            total = totals[batch_file.index]
            if total != read.rows_read:
                raise AcaWarehouseError(
                    f"{result.source_file}: the reader saw {read.rows_read} records but {total} reached the "
                    "warehouse; this is a loader bug, please report it with the file"
                )
            good = staged[batch_file.index]
            result.rows_read, result.rows_staged, result.rows_quarantined = total, good, total - good
            result.reason_code_counts = dict(sorted(codes[batch_file.index].items()))
            result.status = LOADED
            result.message = f"{good} of {total} rows staged, {total - good} quarantined"
            if read.blank_lines:
                result.message += f" ({read.blank_lines} blank lines skipped)"
            if batch_file.python_reason:
                result.message += f"; read by the Python normaliser: {batch_file.python_reason}"
            else:
                result.message += "; read by the engine"

    def _replace_partitions(
        self,
        layout: RawLayout,
        loaded: list[BatchFile],
        tables: _Tables,
        steps: dict[str, float],
        clock: float,
    ) -> None:
        """One transaction: delete the batch's partitions (staged and quarantined rows), insert the typed
        records without a rejection, the rejected ones and the audit rows."""
        feed = self.feed
        columns = ", ".join(feed.column_names)
        contract = ", ".join(f"t.{name}" for name in feed.column_names)
        rejected = any(f.result.rows_quarantined for f in loaded)
        accepted = (  # an anti-join only when some record was rejected (a clean batch is copied as it is)
            f" where not exists (select 1 from {tables.rejected} q where q._file = t._file and q._line = t._line)"
            if rejected
            else ""
        )
        metadata = ", ".join(name for name, _, _ in METADATA_COLUMNS)
        load_dates = sorted(f.result.load_date for f in loaded)
        partitions = ", ".join(f"date {sql_string(d.isoformat())}" for d in load_dates)
        loaded_at = datetime.now(UTC)
        with self.conn.transaction():
            if not self.conn.is_duckdb:  # two runs replacing the same partition take turns; date order
                for load_date in load_dates:  # (the same in every run) keeps them from deadlocking
                    self.conn.execute(
                        "select pg_advisory_xact_lock(hashtext(%s), %s)",
                        [staging_table(feed), load_date.toordinal()],
                    )
            self.conn.execute(f"delete from {staging_table(feed)} where _load_date in ({partitions})")
            self.conn.execute(
                f"delete from {QUARANTINE_TABLE} where feed = %s and _load_date in ({partitions})",
                [feed.name],
            )
            self.conn.execute(
                f"insert into {staging_table(feed)} ({columns}, {metadata}) "
                f"select {contract}, fl._load_date, fl._load_id, cast(%s as timestamptz), fl._source_file, t._line, "
                f"fl._file_checksum, t._extra_json "
                f"from {tables.typed} t join {tables.files} fl on fl._file = t._file{accepted}",
                [loaded_at],
            )
            if rejected:
                self.conn.execute(
                    f"insert into {QUARANTINE_TABLE} (feed, _load_date, _load_id, _loaded_at, _source_file, "
                    f"_source_line, _file_checksum, reason_codes, reason_details, raw_values) "
                    f"select %s, fl._load_date, fl._load_id, cast(%s as timestamptz), fl._source_file, c._line, "
                    f"fl._file_checksum, c._reason_codes, c._reason_details, {raw_values_sql(self.dialect, layout, 'r')} "
                    f"from {tables.rejected} c join {tables.files} fl on fl._file = c._file "
                    f"join {tables.raw} r on r._file = c._file and r._line = c._line",
                    [feed.name, loaded_at],
                )
            _share(loaded, steps, time.perf_counter() - clock)
            self.audit([f.result for f in loaded])


def _share(loaded: list[BatchFile], steps: dict[str, float], duration: float | None) -> None:
    """Give every file its share (by size) of the batch's step times and, if given, its duration."""
    total = sum(f.result.file_bytes for f in loaded)
    for batch_file in loaded:
        result = batch_file.result
        weight = result.file_bytes / total if total else 1 / len(loaded)
        result.step_seconds = {step: seconds * weight for step, seconds in steps.items()}
        if duration is not None:
            result.duration_seconds = duration * weight


def _changed_since_scan(batch_file: BatchFile) -> bool:
    """True when the file's size differs from the scan's (it is being rewritten: read it carefully)."""
    assert batch_file.scan is not None
    try:
        return batch_file.landing_file.path.stat().st_size != batch_file.scan.size
    except OSError:
        return True
