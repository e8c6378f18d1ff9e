"""Reading landing files straight into a batch's raw table with the engine, when that is exact.

The Python normaliser (`reader.py`) handles every file, but costs a Python pass over every byte.
Most files are plain: no quotes, no blank lines, no escapes. Those the engine can read itself,
with the same raw table as the normaliser would write, at engine speed:

- `scan_landing_file` reads a file once: its sha256, and with C-speed byte operations whether
  the engine can read it exactly (`FileScan.engine_problem` says why not), its physical line
  count, and a few sample lines (one per MiB) with their line numbers.
- `EngineRawLoader` appends eligible files to the raw table: CSV with the engine's CSV reader
  (all columns text, no quoting, strict field counts), JSON Lines as line text parsed in SQL (a
  flat object of strings, numbers, booleans and nulls without escapes, so every value keeps its
  exact text). Record i of a file is on line i + 2 (CSV; header = line 1) or i + 1 (JSON Lines):
  the scan proved there are no quotes (no record spans lines), and the row count read by the
  engine must equal the scan's count (a skipped blank line would show). File order is the
  engine's documented scan order (DuckDB: insertion order; PostgreSQL: COPY assigns a sequence
  row by row), and is checked for every file against the scan's sample lines.

Whatever the engine cannot read exactly (a ragged row, a line that is not a flat JSON object, a
duplicate key, a count or sample that disagrees) is removed from the raw table and left to the
Python normaliser, which gives the quarantine rows and messages of today. Never a wrong line.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aca_warehouse.contract.dictionary import Feed
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.dialect import Dialect, sql_string
from aca_warehouse.staging.reader import RawLayout, open_landing_descriptor

ENGINE, PYTHON = "engine", "python"
_CHUNK_BYTES = 1 << 20  # one sample line per chunk
# Longer lines go to the Python normaliser: it holds the record bound and quarantines what exceeds a
# field's limit with the line number; the engines' own line limits would reject the whole batch.
MAX_ENGINE_LINE_BYTES = 1 << 20
_MAX_SAMPLES = 4000
_BOM = b"\xef\xbb\xbf"
_LINE_DELIMITER = "\x01"  # a byte absent from the file: JSON Lines are read as one text column
_UNREADABLE = "engine_unreadable"  # marks raw records the engine could not read exactly

# A flat JSON object without escapes: string, number, true, false or null values (JSON's number
# grammar; strings without backslash or control characters). Such a line's values are its tokens.
_JSON_STRING = r'"[^"\\\x00-\x1f]*"'
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?(?:[eE][+-]?[0-9]+)?"
_JSON_PAIR = rf"{_JSON_STRING}[ \t]*:[ \t]*(?:{_JSON_STRING}|{_JSON_NUMBER}|true|false|null)"
FLAT_OBJECT_RE = rf"^[ \t]*\{{[ \t]*(?:{_JSON_PAIR}(?:[ \t]*,[ \t]*{_JSON_PAIR})*)?[ \t]*\}}[ \t]*$"
# On a line matching FLAT_OBJECT_RE: every key (group 1) and its value token (group 2), in order.
_AFTER_KEY = r"[ \t]*:[ \t]*([^ \t,}]+)"  # after a key on a flat line: its value token (group 1)
PAIR_RE = r'"([^"\\\x00-\x1f]*)"[ \t]*:[ \t]*("[^"\\\x00-\x1f]*"|[^ \t,}]+)'


@dataclass
class FileScan:
    """One pass over a landing file: its checksum, and whether the engine can read it exactly."""

    checksum: str
    size: int
    lines: int  # physical lines (a last line without a line break counts)
    engine_problem: str | None  # why the engine cannot read the file exactly; None: it can
    padded: bool = False  # CSV: some field may have surrounding whitespace
    commas: int = 0  # CSV: commas in the file (every line of a plain file has the header's count)
    first_line: str = ""  # CSV: the header line as text
    samples: list[tuple[int, str]] = field(default_factory=list)  # (line number, line text)

    def records(self, is_jsonl: bool) -> int:
        """Records in an engine-readable file (every line but a CSV header)."""
        return self.lines if is_jsonl else max(self.lines - 1, 0)


class _Scanner:
    """State of the one pass of `scan_landing_file`."""

    def __init__(self, is_jsonl: bool, checksum: str | None = None) -> None:
        self.is_jsonl = is_jsonl
        self.checksum = checksum  # known already (hashed once, by the landing asset or sensor): not hashed
        self.digest = hashlib.sha256()
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.size = 0
        self.newlines = 0
        self.commas = 0
        self.carriage_returns = 0
        self.crlf = 0
        self.problem: str | None = None
        self.padded = False
        self.previous = b""  # the last byte of the previous chunk
        self.head = b""
        self.samples: list[tuple[int, str]] = []
        self.line_run = 0  # bytes of the current (unfinished) line

    def feed(self, chunk: bytes) -> None:
        if self.checksum is None:
            self.digest.update(chunk)
        if len(self.head) < 64 << 10:
            self.head += chunk[: (64 << 10) - len(self.head)]
        if self.problem is None:
            self._check(chunk)
        if self.problem is None:
            self._measure_lines(chunk)
        if self.problem is None and len(self.samples) < _MAX_SAMPLES:
            self._sample(chunk)
        self.newlines += chunk.count(b"\n")
        if not self.is_jsonl and self.problem is None:
            self.commas += chunk.count(b",")
        self.size += len(chunk)
        self.previous = chunk[-1:]

    def _check(self, chunk: bytes) -> None:
        """C-speed searches only; the rare chunk with a space or a CR gets a closer look."""
        if b"\x00" in chunk:
            self.problem = "it contains NUL bytes"
            return
        if not chunk.isascii():
            try:
                self.decoder.decode(chunk)
            except UnicodeDecodeError:
                self.problem = "it is not valid UTF-8"
                return
        if b"\r" in chunk:
            if self.is_jsonl:
                self.problem = "it has carriage returns"
                return
            self.carriage_returns += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n") + (self.previous == b"\r" and chunk[:1] == b"\n")
        if self.is_jsonl:
            if b"\\" in chunk:
                self.problem = "it has backslashes (JSON escapes)"
            elif _LINE_DELIMITER.encode() in chunk:
                self.problem = "it has control characters"
            return
        if b'"' in chunk:
            self.problem = "it has double quotes"
            return
        if not self.padded and (b"\t" in chunk or b" " in chunk):
            joined = self.previous + chunk
            self.padded = (
                b"\t" in chunk
                or b" ," in joined
                or b", " in joined
                or b" \n" in joined
                or b"\n " in joined
                or b" \r" in joined
                or (self.size == 0 and chunk.removeprefix(_BOM)[:1] == b" ")
            )

    def _measure_lines(self, chunk: bytes) -> None:
        """A line longer than MAX_ENGINE_LINE_BYTES spans a chunk boundary (chunks are no longer)."""
        first = chunk.find(b"\n")
        if first < 0:
            self.line_run += len(chunk)
        else:
            if self.line_run + first > MAX_ENGINE_LINE_BYTES:
                self.problem = f"it has a line over {MAX_ENGINE_LINE_BYTES:,} bytes"
                return
            self.line_run = len(chunk) - chunk.rfind(b"\n") - 1
        if self.line_run > MAX_ENGINE_LINE_BYTES:
            self.problem = f"it has a line over {MAX_ENGINE_LINE_BYTES:,} bytes"

    def _sample(self, chunk: bytes) -> None:
        """The first whole line starting in the chunk after its first line break, with its number."""
        start = chunk.find(b"\n")
        if start < 0:
            return
        end = chunk.find(b"\n", start + 1)
        if end < 0:
            return
        text = chunk[start + 1 : end].removesuffix(b"\r")
        self.samples.append((self.newlines + 2, text.decode("utf-8", errors="replace")))

    def finish(self, last_line: str | None) -> FileScan:
        if self.problem is None:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.problem = "it is not valid UTF-8"
        if self.problem is None and self.carriage_returns != self.crlf:
            self.problem = "it has carriage returns that do not end lines"
        lines = self.newlines + (1 if self.size and self.previous != b"\n" else 0)
        if self.problem is None and lines == 0 and not self.is_jsonl:
            self.problem = "it is empty"  # no header: the normaliser explains
        if self.size and self.previous == b" ":
            self.padded = True
        head = self.head.removeprefix(_BOM)
        first_line = head.split(b"\n", 1)[0].removesuffix(b"\r").decode("utf-8", errors="replace")
        if self.problem is None and lines > 1 and last_line is not None:
            self.samples.append((lines, last_line))  # a dropped or extra tail would show
        if not self.is_jsonl:  # line 1 is the header, not a record
            self.samples = [(n, t) for n, t in self.samples if n > 1]
        return FileScan(
            checksum=self.checksum or self.digest.hexdigest(),
            size=self.size,
            lines=lines,
            engine_problem=self.problem,
            padded=self.padded,
            commas=self.commas,
            first_line=first_line,
            samples=self.samples,
        )


def scan_landing_file(
    path: Path, feed: Feed, relative_path: str = "", *, checksum: str | None = None
) -> FileScan:
    """sha256 and engine eligibility of a landing file, in one streaming pass (refusing a file that is
    no longer the regular file inside the landing root that discovery found). With `checksum` (the
    file's digest from earlier in the run) the bytes are not hashed again."""
    scanner = _Scanner(feed.is_jsonl, checksum)
    with open(open_landing_descriptor(path, relative_path), "rb", buffering=0) as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            scanner.feed(chunk)
        last_line = _read_last_line(handle, scanner.size) if scanner.size else None
    return scanner.finish(last_line)


def _read_last_line(handle: BinaryIO, size: int) -> str | None:
    """The last line of an open binary file (without its line break), if it is under 64 KiB."""
    back = min(size, 64 << 10)
    handle.seek(size - back)
    block = handle.read(back)
    body = block[:-1] if block.endswith(b"\n") else block
    cut = body.rfind(b"\n")
    if cut < 0 and back < size:
        return None
    return body[cut + 1 :].removesuffix(b"\r").decode("utf-8", errors="replace")


def engine_problem_for_layout(scan: FileScan, layout: RawLayout) -> str | None:
    """Why the engine cannot read this file for this layout (None: it can)."""
    if scan.engine_problem is not None:
        return scan.engine_problem
    if not layout.is_jsonl:
        names = tuple(name.strip() for name in scan.first_line.split(","))
        if names != layout.header:
            return "its header is not a plain first line"
        if scan.commas != (len(names) - 1) * scan.lines:
            return "not every line has the header's field count (or there are blank lines)"
    return None


@dataclass
class EngineFile:
    """A file of the batch for the engine: its index in the batch, path and scan."""

    index: int
    path: Path
    scan: FileScan


class EngineRawLoader:
    """Reads the engine-readable files of one batch for the batch's raw table.

    DuckDB: `duckdb_view` is a view of their raw records, read when the batch's typed table is
    made; `duckdb_verify` then checks every file's record count and sample lines against the
    typed table, and `duckdb_probe` finds the files the engine refused; the batch is read again
    with the Python normaliser for those files. PostgreSQL: `pg_load` COPYs them into the raw
    table and checks them at once. Either way: per file it could not read exactly, why.
    """

    def __init__(self, conn: WarehouseConnection, layout: RawLayout, raw_table: str) -> None:
        self.conn = conn
        self.layout = layout
        self.raw_table = raw_table
        self.dialect = Dialect(conn.kind)
        self.lines_table = f"{raw_table}_lines"
        self.samples_table = f"{raw_table}_samples"
        self.sequence = f"{raw_table}_line_seq"
        self.view = f"{raw_table}_engine"
        self._pg_sequence = False

    # -- DuckDB ------------------------------------------------------------------------------
    def duckdb_view(self, files: Sequence[EngineFile]) -> str:
        """A view of the files' raw records (one multi-file scan, numbered in scan order), and the
        samples table of their sample lines: the typed table hashes the records on those lines
        (`build_typed_table_sql`'s `sample_lines`) for `duckdb_verify`."""
        self._create_samples_table(files)
        return self._duckdb_view(files)

    def _duckdb_view(self, files: Sequence[EngineFile]) -> str:
        is_jsonl = self.layout.is_jsonl
        offsets, total = [], 0
        for engine_file in files:
            offsets.append(str(total))
            total += engine_file.scan.records(is_jsonl)
        paths = "[" + ", ".join(sql_string(str(f.path)) for f in files) + "]"
        indexes = "[" + ", ".join(str(f.index) for f in files) + "]"
        starts = "[" + ", ".join(offsets) + "]"
        first = 0 if is_jsonl else 1  # record k (from 1) of a file is on line k (+ 1 under a CSV header)
        number = (
            f"cast({indexes}[cast(file_index as BIGINT) + 1] as INTEGER) as _file, "
            f"cast(_rn - {starts}[cast(file_index as BIGINT) + 1] + {first} as INTEGER) as _line"
        )
        if not is_jsonl:
            trims = "[" + ", ".join("'t'" if f.scan.padded else "NULL" for f in files) + "]"
            columns = ", ".join(f"{sql_string(c)}: 'VARCHAR'" for c in self.layout.data_columns)
            source = (
                f"read_csv({paths}, columns = {{{columns}}}, header = true, delim = ',', quote = '', "
                "escape = '', auto_detect = false, strict_mode = true, null_padding = false)"
            )
            self.conn.execute(
                f"create or replace temp view {self.view} as select {number}, cast(null as VARCHAR) as _problem, "
                f"cast(null as VARCHAR) as _detail, cast(null as VARCHAR) as _raw, "
                f"cast({trims}[cast(file_index as BIGINT) + 1] as VARCHAR) as _trim, {', '.join(self.layout.data_columns)} "
                f"from (select file_index, row_number() over () as _rn, * from {source})"
            )
            return self.view
        source = (
            f"read_csv({paths}, columns = {{'_raw': 'VARCHAR'}}, header = false, "
            f"delim = {sql_string(_LINE_DELIMITER)}, quote = '', escape = '', auto_detect = false, "
            "strict_mode = true, null_padding = false)"
        )
        names = self.layout.header
        paths_list = "[" + ", ".join(sql_string(_json_path(n)) for n in names) + "]"
        # the list elements as scalars first: a CASE over `_t[i]` would extract them once per branch
        elements = ", ".join(f"_s[{i}] as _s{i}, _t[{i}] as _t{i}" for i in range(1, len(names) + 1))
        values = [
            f"{_duckdb_json_value(f'_s{i}', f'_t{i}', n)} as {column}"
            for i, (n, column) in enumerate(zip(names, self.layout.data_columns, strict=False), start=1)
        ]
        known = "[" + ", ".join(sql_string(n) for n in names) + "]"
        unknown = f"list_filter(_k, lambda k: not list_contains({known}, k))"
        token = _duckdb_json_token("_j", "k")
        extra = (
            f"case when len(_k) <> list_count(_t) and len({unknown}) > 0 then '{{' || array_to_string(list_transform({unknown}, "
            f"lambda k: '\"' || k || '\": ' || {token}), ', ') || '}}' end as {self.layout.extra_json_column}"
        )
        self.conn.execute(
            f"create or replace temp view {self.view} as select _file, _line, "
            f"case when _j is null then '{_UNREADABLE}' when len(_k) <> list_count(_t) "
            f"and len(_k) <> len(list_distinct(_k)) then '{_UNREADABLE}' end as _problem, "
            f"cast(null as VARCHAR) as _detail, _raw, cast(null as VARCHAR) as _trim, "
            f"{', '.join(values)}, {extra} "
            f"from (select *, {elements} from (select *, json_keys(_j) as _k, "
            f"json_extract_string(_j, {paths_list}) as _s, json_type(_j, {paths_list}) as _t from ("
            f"select {number}, _raw, case when regexp_full_match(_raw, {sql_string(FLAT_OBJECT_RE)}) "
            f"then _raw end as _j from (select file_index, row_number() over () as _rn, _raw from {source}))))"
        )
        return self.view

    def duckdb_verify(self, files: Sequence[EngineFile], typed_table: str) -> dict[int, str]:
        """Check the typed records of the files: every line parsed, the scan's record count, and
        every sample line at its line number (by the typed table's `_sample_hash`)."""
        if not files:
            return {}
        is_jsonl = self.layout.is_jsonl
        failed: dict[int, str] = {}
        listed = ", ".join(str(f.index) for f in files)
        counts = dict(
            self.conn.fetchall(
                f"select _file, count(*) from {typed_table} where _file in ({listed}) group by _file"
            )
        )
        if is_jsonl:
            for (index,) in self.conn.fetchall(
                f"select distinct _file from {typed_table} where _problem = '{_UNREADABLE}'"
            ):
                failed[int(index)] = "a line is not a flat JSON object without escapes or repeated keys"
        for engine_file in files:
            expected = engine_file.scan.records(is_jsonl)
            if engine_file.index not in failed and counts.get(engine_file.index, 0) != expected:
                failed[engine_file.index] = (
                    f"the engine read {counts.get(engine_file.index, 0)} records, the file has {expected}"
                )
        if is_jsonl:
            expected_hash = "hash(s._text)"
        else:
            fields = ", ".join(f"_l[{i}]" for i in range(1, len(self.layout.data_columns) + 1))
            expected_hash = f"hash({fields})"
        failed.update(
            self._mismatched_samples(
                [f for f in files if f.index not in failed],
                f"select s._file, count(*) from (select *, list_transform(string_split(_text, ','), "
                f"lambda x: nullif(x, '')) as _l from {self.samples_table}) s join {typed_table} t "
                f"on t._file = s._file and t._line = s._line where t._sample_hash = {expected_hash} "
                "group by s._file",
            )
        )
        return failed

    def duckdb_probe(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """The files the engine's reader refuses (after an error reading the batch's view)."""
        failed: dict[int, str] = {}
        for engine_file in files:
            try:
                self._duckdb_view([engine_file])
                self.conn.fetchall(f"select count(*), count(_line) from {self.view}")
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                failed[engine_file.index] = f"the engine's reader refused it ({type(exc).__name__})"
            finally:
                self.conn.execute(f"drop view if exists {self.view}")
        return failed

    # -- PostgreSQL --------------------------------------------------------------------------
    def pg_load(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """COPY the files into the raw table; the files it could not read exactly (removed again)."""
        if not files:
            return {}
        failed: dict[int, str] = {}
        if self.layout.is_jsonl:
            self._create_lines_table()
            for engine_file in files:
                problem = self._append_lines(engine_file)
                if problem:
                    failed[engine_file.index] = problem
            failed.update(self._parse_lines([f for f in files if f.index not in failed]))
        else:
            for engine_file in files:
                problem = self._append_csv(engine_file)
                if problem:
                    failed[engine_file.index] = problem
        record = "r._raw" if self.layout.is_jsonl else self._csv_record_sql("r")
        checked = [f for f in files if f.index not in failed]
        self._create_samples_table(checked)
        try:
            failed.update(
                self._mismatched_samples(
                    checked,
                    f"select s._file, count(*) from {self.samples_table} s join {self.raw_table} r "
                    f"on r._file = s._file and r._line = s._line where {record} = s._text group by s._file",
                )
            )
        finally:
            self.conn.execute(f"drop table if exists {self.samples_table}")
        if failed:
            listed = ", ".join(str(i) for i in sorted(failed))
            self.conn.execute(f"delete from {self.raw_table} where _file in ({listed})")
        return failed

    def _csv_record_sql(self, alias: str) -> str:
        return "concat(" + ", ',', ".join(f"{alias}.{c}" for c in self.layout.data_columns) + ")"

    def _append_csv(self, engine_file: EngineFile) -> str | None:
        """COPY the file's records (COPY fills the line numbers from a sequence); why not, if the
        engine refused the file."""
        index, scan = engine_file.index, engine_file.scan
        data = ", ".join(self.layout.data_columns)
        expected = scan.records(is_jsonl=False)
        try:
            self._pg_defaults(index, first_line=2, trim=scan.padded)
            copied = self._pg_copy(
                engine_file.path, f"copy {self.raw_table} ({data}) from stdin with (format csv, header true)"
            )
        except Exception as exc:  # the engine's reader refused the file (a ragged row, ...)
            if not is_data_error(exc):
                raise
            return f"the engine's CSV reader refused it ({type(exc).__name__}: a ragged or malformed row)"
        if copied != expected:
            self.conn.execute(f"delete from {self.raw_table} where _file = {index}")
            return f"the engine read {copied} records, the file has {expected}"
        return None

    def _create_lines_table(self) -> None:
        self._pg_sequence = True
        self.conn.execute(f"create temp sequence {self.sequence}")
        self.conn.execute(
            f"create temp table {self.lines_table} (_file INTEGER, "
            f"_line INTEGER default nextval('{self.sequence}'), _raw TEXT)"
        )

    def _append_lines(self, engine_file: EngineFile) -> str | None:
        """COPY the file's lines as text; why not, if the engine refused it."""
        index, scan = engine_file.index, engine_file.scan
        if scan.lines == 0:  # an empty file: no records
            return None
        try:
            self.conn.execute(f"alter table {self.lines_table} alter column _file set default {index}")
            self.conn.execute("select setval(%s, 1, false)", [self.sequence])
            copied = self._pg_copy(
                engine_file.path,
                f"copy {self.lines_table} (_raw) from stdin with (format text, delimiter E'\\x01')",
            )
        except Exception as exc:
            if not is_data_error(exc):
                raise
            return f"the engine refused its lines ({type(exc).__name__})"
        if copied != scan.records(is_jsonl=True):
            self.conn.execute(f"delete from {self.lines_table} where _file = {index}")
            return f"the engine read {copied} lines, the file has {scan.records(is_jsonl=True)}"
        return None

    def _parse_lines(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """Lines -> raw records (values as the normaliser gives them, with `json`, which keeps every
        number's text); files with a line that is not a flat object or repeats a key are left to
        the normaliser. (`offset 0` keeps the line's regular-expression match computed once: the
        planner would otherwise evaluate it for each of its three uses.)"""
        if not files:
            return {}
        names = self.layout.header
        known = ", ".join(sql_string(n) for n in names)
        columns = ", ".join(["_file", "_line", "_problem", "_raw", *self.layout.data_columns])
        record = ", ".join(f"{_pg_ident(n)} text" for n in names)
        values = [f"nullif(btrim(r.{_pg_ident(n)}, ' '), '')" for n in names]
        self.conn.execute(
            f"insert into {self.raw_table} ({columns}) "
            f"select l._file, l._line, case when not l._ok or x._repeats > 0 then '{_UNREADABLE}' end, "
            f"l._raw, {', '.join(values)}, x._extra "
            f"from (select *, _raw ~ {sql_string(FLAT_OBJECT_RE)} as _ok from {self.lines_table} offset 0) l "
            f"cross join lateral json_to_record(case when l._ok then l._raw::json end) as r({record}) "
            f"cross join lateral (select count(*) - count(distinct e.key) as _repeats, "
            f"'{{' || string_agg(to_json(e.key)::text || ': ' || e.value::text, ', ' order by e.n) "
            f"filter (where e.key not in ({known})) || '}}' as _extra "
            f"from json_each(case when l._ok then l._raw::json end) with ordinality e(key, value, n)) x"
        )
        self.conn.execute(f"drop table if exists {self.lines_table}")
        return {
            int(index): "a line is not a flat JSON object without escapes or repeated keys"
            for (index,) in self.conn.fetchall(
                f"select distinct _file from {self.raw_table} where _problem = '{_UNREADABLE}'"
            )
        }

    def _pg_defaults(self, index: int, *, first_line: int, trim: bool) -> None:
        """The raw columns COPY does not fill: the file's index, a line sequence, `_trim`."""
        if not self._pg_sequence:
            self._pg_sequence = True
            self.conn.execute(f"create temp sequence {self.sequence}")
            self.conn.execute(
                f"alter table {self.raw_table} alter column _line set default nextval('{self.sequence}')"
            )
        self.conn.execute(f"alter table {self.raw_table} alter column _file set default {index}")
        self.conn.execute(
            f"alter table {self.raw_table} alter column _trim "
            + ("set default 't'" if trim else "drop default")
        )
        self.conn.execute("select setval(%s, %s, false)", [self.sequence, first_line])

    def _pg_copy(self, path: Path, statement: str) -> int:
        """Stream the file's bytes (without a leading byte-order mark) through COPY; rows copied."""
        with self.conn.raw.cursor() as cursor:
            with cursor.copy(statement) as copy, path.open("rb") as handle:
                chunk = handle.read(_CHUNK_BYTES).removeprefix(_BOM)
                while chunk:
                    copy.write(chunk)
                    chunk = handle.read(_CHUNK_BYTES)
            return cursor.rowcount

    # -- both --------------------------------------------------------------------------------
    def _create_samples_table(self, files: Sequence[EngineFile]) -> None:
        """The samples table: the files' sample lines (file, line number, text)."""
        self.conn.execute(
            f"create temp table {self.samples_table} (_file INTEGER, _line INTEGER, _text {self.dialect.text})"
        )
        samples = [(f.index, line, text) for f in files for line, text in f.scan.samples]
        for first in range(0, len(samples), 1000):
            chunk = samples[first : first + 1000]
            self.conn.execute(
                f"insert into {self.samples_table} values {', '.join(['(%s, %s, %s)'] * len(chunk))}",
                [value for sample in chunk for value in sample],
            )

    def _mismatched_samples(self, files: Sequence[EngineFile], count_sql: str) -> dict[int, str]:
        """Run `count_sql` (file -> samples of the samples table found where they belong); the files
        with a sample out of place."""
        if not any(f.scan.samples for f in files):
            return {}
        matching = dict(self.conn.fetchall(count_sql))
        return {
            f.index: "its sample lines were not where the engine put them"
            for f in files
            if matching.get(f.index, 0) != len(f.scan.samples)
        }


def drop_engine_tables(conn: WarehouseConnection, raw_table: str) -> None:
    """Drop what an `EngineRawLoader` of `raw_table` may have left (after an error)."""
    if conn.is_duckdb:
        conn.execute(f"drop view if exists {raw_table}_engine")
    for table in (f"{raw_table}_lines", f"{raw_table}_samples"):
        conn.execute(f"drop table if exists {table}")
    if not conn.is_duckdb:  # the raw table's default depends on the sequence
        conn.execute(f"drop sequence if exists {raw_table}_line_seq cascade")


def _json_path(name: str) -> str:
    return '$."' + name + '"'


def _number_token_sql(line: str, key_pattern: str) -> str:
    """The exact text of the number following key `key_pattern` (a regex) on a flat JSON line."""
    return f"regexp_extract({line}, {key_pattern} || {sql_string(_AFTER_KEY)}, 1)"


def _duckdb_json_value(text: str, kind: str, name: str) -> str:
    """The normaliser's text of a known key's value: strings trimmed (blank -> null), booleans as
    written, numbers as written (from the line: the JSON functions reformat numbers), null -> null."""
    pattern = sql_string('"' + re.escape(name) + '"' + _AFTER_KEY)  # one literal: compiled once
    return (
        f"case when {kind} is null or {kind} = 'NULL' then null "
        f"when {kind} = 'VARCHAR' then {_trim_spaces_sql(text)} when {kind} = 'BOOLEAN' then {text} "
        f"else regexp_extract(_j, {pattern}, 1) end"
    )


def _trim_spaces_sql(text: str) -> str:
    """`text` without surrounding spaces, blank -> null; DuckDB's trim with a character list costs
    a microsecond a value, so only values that start or end with a space pay for it."""
    return (
        f"case when {text} like ' %' or {text} like '% ' then nullif(trim({text}, ' '), '') "
        f"else nullif({text}, '') end"
    )


def _duckdb_json_token(line: str, key: str) -> str:
    """The JSON text of the value of key `key` (a SQL expression) as the normaliser writes it."""
    path = f"'$.\"' || {key} || '\"'"
    return (
        f"case json_type({line}, {path}) when 'VARCHAR' then '\"' || json_extract_string({line}, {path}) || '\"' "
        f"when 'NULL' then 'null' when 'BOOLEAN' then json_extract_string({line}, {path}) "
        f"else {_number_token_sql(line, chr(39) + chr(34) + chr(39) + ' || regexp_escape(' + key + ') || ' + chr(39) + chr(34) + chr(39))} end"
    )


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_data_error(exc: Exception) -> bool:
    """True for the engines' errors about the data read (not a broken connection or a bug)."""
    try:
        import duckdb

        if isinstance(exc, duckdb.InvalidInputException | duckdb.ConversionException):
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        import psycopg

        if isinstance(exc, psycopg.errors.DataError | psycopg.errors.BadCopyFileFormat):
            return True
    except ImportError:  # pragma: no cover
        pass
    return False
