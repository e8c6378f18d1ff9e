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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from aca_warehouse.contract.dictionary import Feed
from aca_warehouse.resources.warehouse import WarehouseConnection
from aca_warehouse.staging.dialect import Dialect, sql_string
from aca_warehouse.staging.reader import RawLayout

ENGINE, PYTHON = "engine", "python"
_CHUNK_BYTES = 1 << 20  # one sample line per chunk
_MAX_SAMPLES = 4000
_BOM = b"\xef\xbb\xbf"
_LINE_DELIMITER = "\x01"  # a byte absent from the file: JSON Lines are read as one text column
_UNREADABLE = "engine_unreadable"  # marks raw rows the engine could not read exactly (then removed)

# A flat JSON object without escapes: string, number, true, false or null values (JSON's number
# grammar; strings without backslash or control characters). Such a line's values are its tokens.
_JSON_STRING = r'"[^"\\\x00-\x1f]*"'
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?(?:[eE][+-]?[0-9]+)?"
_JSON_PAIR = rf"{_JSON_STRING}[ \t]*:[ \t]*(?:{_JSON_STRING}|{_JSON_NUMBER}|true|false|null)"
FLAT_OBJECT_RE = rf"^[ \t]*\{{[ \t]*(?:{_JSON_PAIR}(?:[ \t]*,[ \t]*{_JSON_PAIR})*)?[ \t]*\}}[ \t]*$"
# On a line matching FLAT_OBJECT_RE: every key (group 1) and its value token (group 2), in order.
PAIR_RE = r'"([^"\\\x00-\x1f]*)"[ \t]*:[ \t]*("[^"\\\x00-\x1f]*"|[^ \t,}]+)'


@dataclass
class FileScan:
    """One pass over a landing file: its checksum, and whether the engine can read it exactly."""

    checksum: str
    size: int
    lines: int  # physical lines (a last line without a line break counts)
    engine_problem: str | None  # why the engine cannot read the file exactly; None: it can
    padded: bool = False  # CSV: some field may have surrounding whitespace
    first_line: str = ""  # CSV: the header line as text
    samples: list[tuple[int, str]] = field(default_factory=list)  # (line number, line text)

    def records(self, is_jsonl: bool) -> int:
        """Records in an engine-readable file (every line but a CSV header)."""
        return self.lines if is_jsonl else max(self.lines - 1, 0)


class _Scanner:
    """State of the one pass of `scan_landing_file`."""

    def __init__(self, is_jsonl: bool) -> None:
        self.is_jsonl = is_jsonl
        self.digest = hashlib.sha256()
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.size = 0
        self.newlines = 0
        self.carriage_returns = 0
        self.crlf = 0
        self.problem: str | None = None
        self.padded = False
        self.previous = b""  # the last byte of the previous chunk
        self.head = b""
        self.samples: list[tuple[int, str]] = []

    def feed(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        if len(self.head) < 64 << 10:
            self.head += chunk[: (64 << 10) - len(self.head)]
        if self.problem is None:
            self._check(chunk)
        if self.problem is None and len(self.samples) < _MAX_SAMPLES:
            self._sample(chunk)
        self.newlines += chunk.count(b"\n")
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
            checksum=self.digest.hexdigest(),
            size=self.size,
            lines=lines,
            engine_problem=self.problem,
            padded=self.padded,
            first_line=first_line,
            samples=self.samples,
        )


def scan_landing_file(path: Path, feed: Feed) -> FileScan:
    """sha256 and engine eligibility of a landing file, in one streaming pass."""
    scanner = _Scanner(feed.is_jsonl)
    with path.open("rb", buffering=0) as handle:
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
    return None


@dataclass
class EngineFile:
    """A file of the batch for the engine: its index in the batch, path and scan."""

    index: int
    path: Path
    scan: FileScan


class EngineRawLoader:
    """Appends engine-readable files of one batch to the batch's raw table.

    `load` returns, per file it could not read exactly, why; those files have no rows in the raw
    table and are read by the Python normaliser instead.
    """

    def __init__(self, conn: WarehouseConnection, layout: RawLayout, raw_table: str) -> None:
        self.conn = conn
        self.layout = layout
        self.raw_table = raw_table
        self.dialect = Dialect(conn.kind)
        self.lines_table = f"{raw_table}_lines"
        self.sequence = f"{raw_table}_line_seq"
        self._pg_sequence = False

    # -- public ------------------------------------------------------------------------------
    def load(self, files: Sequence[EngineFile]) -> dict[int, str]:
        if not files:
            return {}
        failed: dict[int, str] = {}
        if self.layout.is_jsonl:
            self._create_lines_table()
            for engine_file in files:
                problem = self._append_lines(engine_file)
                if problem:
                    failed[engine_file.index] = problem
            read = [f for f in files if f.index not in failed]
            failed.update(self._parse_lines(read))
        else:
            for engine_file in files:
                problem = self._append_csv(engine_file)
                if problem:
                    failed[engine_file.index] = problem
            if self.conn.is_duckdb:
                failed.update(self._number_csv_lines([f for f in files if f.index not in failed]))
        failed.update(self._check_samples([f for f in files if f.index not in failed]))
        if failed:
            self._remove(sorted(failed))
        return failed

    # -- CSV ---------------------------------------------------------------------------------
    def _csv_source(self, path: Path) -> str:
        columns = ", ".join(f"{sql_string(c)}: 'VARCHAR'" for c in self.layout.data_columns)
        return (
            f"read_csv({sql_string(str(path))}, columns = {{{columns}}}, header = true, delim = ',', "
            "quote = '', escape = '', auto_detect = false, strict_mode = true, null_padding = false, "
            "parallel = true)"
        )

    def _append_csv(self, engine_file: EngineFile) -> str | None:
        """Append the file's records (line numbers: DuckDB later, from the row ids; PostgreSQL: COPY
        fills them from a sequence); why not, if the engine refused the file."""
        index, scan = engine_file.index, engine_file.scan
        trim = "'t'" if scan.padded else "null"
        data = ", ".join(self.layout.data_columns)
        expected = scan.records(is_jsonl=False)
        try:
            if self.conn.is_duckdb:
                count = self.conn.fetchone(
                    f"insert into {self.raw_table} (_file, _trim, {data}) "
                    f"select {index}, {trim}, * from {self._csv_source(engine_file.path)}"
                )
                copied = int(count[0]) if count else -1
            else:
                self._pg_defaults(index, first_line=2, trim=scan.padded)
                copied = self._pg_copy(
                    engine_file.path,
                    f"copy {self.raw_table} ({data}) from stdin with (format csv, header true)",
                )
        except Exception as exc:  # the engine's reader refused the file (a ragged row, ...)
            if not _is_data_error(exc):
                raise
            return f"the engine's CSV reader refused it ({type(exc).__name__}: a ragged or malformed row)"
        if copied != expected:
            self._remove([index])
            return f"the engine read {copied} records, the file has {expected}"
        return None

    def _number_csv_lines(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """DuckDB: line numbers from the row ids (rows of one insert are contiguous, in file order)."""
        if not files:
            return {}
        spans = {
            index: (int(first), int(last), int(count))
            for index, first, last, count in self.conn.fetchall(
                f"select _file, min(rowid), max(rowid), count(*) from {self.raw_table} "
                "where _line is null group by _file"
            )
        }
        failed: dict[int, str] = {}
        bases = []
        for engine_file in files:
            first, last, count = spans.get(engine_file.index, (0, -1, 0))
            if last - first + 1 != count:
                failed[engine_file.index] = "its rows were not stored contiguously"
            elif count:
                bases.append(f"({engine_file.index}, {first})")
        if bases:
            self.conn.execute(
                f"update {self.raw_table} set _line = cast({self.raw_table}.rowid - b._base + 2 as integer) "
                f"from (values {', '.join(bases)}) b(_b_file, _base) "
                f"where {self.raw_table}._file = b._b_file and {self.raw_table}._line is null"
            )
        return failed

    # -- JSON Lines --------------------------------------------------------------------------
    def _create_lines_table(self) -> None:
        text = self.dialect.text
        if self.conn.is_duckdb:
            self.conn.execute(f"create temp table {self.lines_table} (_file INTEGER, _raw {text})")
        else:
            self._pg_sequence = True
            self.conn.execute(f"create temp sequence {self.sequence}")
            self.conn.execute(
                f"create temp table {self.lines_table} (_file INTEGER, "
                f"_line INTEGER default nextval('{self.sequence}'), _raw {text})"
            )

    def _append_lines(self, engine_file: EngineFile) -> str | None:
        """Append the file's lines as text; why not, if the engine refused it."""
        index, scan = engine_file.index, engine_file.scan
        if scan.lines == 0:  # an empty file: no records
            return None
        try:
            if self.conn.is_duckdb:
                source = (
                    f"read_csv({sql_string(str(engine_file.path))}, columns = {{'_raw': 'VARCHAR'}}, "
                    f"header = false, delim = {sql_string(_LINE_DELIMITER)}, quote = '', escape = '', "
                    "auto_detect = false, strict_mode = true, null_padding = false)"
                )
                count = self.conn.fetchone(
                    f"insert into {self.lines_table} (_file, _raw) select {index}, _raw from {source}"
                )
                copied = int(count[0]) if count else -1
            else:
                self.conn.execute(f"alter table {self.lines_table} alter column _file set default {index}")
                self.conn.execute("select setval(%s, 1, false)", [self.sequence])
                copied = self._pg_copy(
                    engine_file.path,
                    f"copy {self.lines_table} (_raw) from stdin with (format text, delimiter E'\\x01')",
                )
        except Exception as exc:
            if not _is_data_error(exc):
                raise
            return f"the engine refused its lines ({type(exc).__name__})"
        if copied != scan.records(is_jsonl=True):
            self.conn.execute(f"delete from {self.lines_table} where _file = {index}")
            return f"the engine read {copied} lines, the file has {scan.records(is_jsonl=True)}"
        return None

    def _parse_lines(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """Lines -> raw records (values as the normaliser gives them); files with a line the SQL
        cannot parse exactly (not a flat object, a repeated key) are left to the normaliser."""
        if not files:
            return {}
        names = self.layout.header
        known = ", ".join(sql_string(n) for n in names)
        columns = ", ".join(["_file", "_line", "_problem", "_raw", *self.layout.data_columns])
        if self.conn.is_duckdb:
            values = [_duckdb_value_text(f"v[list_position(k, {sql_string(n)})]") for n in names]
            unknown = f"list_filter(range(1, len(k) + 1), lambda i: not list_contains([{known}], k[i]))"
            extra = (
                f"case when len({unknown}) > 0 then '{{' || array_to_string(list_transform({unknown}, "
                "lambda i: '\"' || k[i] || '\": ' || v[i]), ', ') || '}' end"
            )
            unreadable = "not regexp_full_match(_raw, $flat) or len(k) <> len(list_distinct(k))"
            sql = (
                f"insert into {self.raw_table} ({columns}) "
                f"select _file, cast(_rn + 1 as integer), case when {unreadable} then '{_UNREADABLE}' end, "
                f"_raw, {', '.join(values)}, {extra} from ("
                f"select _file, _raw, rowid - min(rowid) over (partition by _file) as _rn, "
                f"regexp_extract_all(_raw, $pair, 1) as k, regexp_extract_all(_raw, $pair, 2) as v "
                f"from {self.lines_table})"
            )
            sql = sql.replace("$flat", sql_string(FLAT_OBJECT_RE)).replace("$pair", sql_string(PAIR_RE))
            failed = self._check_line_spans(files)
            self.conn.execute(sql)
        else:
            failed = {}
            record = ", ".join(f"{_pg_ident(n)} text" for n in names)
            values = [f"nullif(btrim(r.{_pg_ident(n)}, ' '), '')" for n in names]
            sql = (
                f"insert into {self.raw_table} ({columns}) "
                f"select l._file, l._line, case when not l._ok or x._repeats > 0 then '{_UNREADABLE}' end, "
                f"l._raw, {', '.join(values)}, x._extra "
                f"from (select *, _raw ~ {sql_string(FLAT_OBJECT_RE)} as _ok from {self.lines_table}) l "
                f"cross join lateral json_to_record(case when l._ok then l._raw::json end) as r({record}) "
                f"cross join lateral (select count(*) - count(distinct e.key) as _repeats, "
                f"'{{' || string_agg(to_json(e.key)::text || ': ' || e.value::text, ', ' order by e.n) "
                f"filter (where e.key not in ({known})) || '}}' as _extra "
                f"from json_each(case when l._ok then l._raw::json end) with ordinality e(key, value, n)) x"
            )
            self.conn.execute(sql)
        for (index,) in self.conn.fetchall(
            f"select distinct _file from {self.raw_table} where _problem = '{_UNREADABLE}'"
        ):
            failed[int(index)] = "a line is not a flat JSON object without escapes or repeated keys"
        self.conn.execute(f"drop table if exists {self.lines_table}")
        return failed

    def _check_line_spans(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """DuckDB: the lines of every file have contiguous row ids (they were appended in one insert)."""
        spans = {
            int(index): (int(first), int(last), int(count))
            for index, first, last, count in self.conn.fetchall(
                f"select _file, min(rowid), max(rowid), count(*) from {self.lines_table} group by _file"
            )
        }
        failed: dict[int, str] = {}
        for engine_file in files:
            first, last, count = spans.get(engine_file.index, (0, -1, 0))
            if last - first + 1 != count:
                failed[engine_file.index] = "its lines were not stored contiguously"
        return failed

    # -- checks ------------------------------------------------------------------------------
    def _check_samples(self, files: Sequence[EngineFile]) -> dict[int, str]:
        """Every sample line of the scan must be the raw record at its line number."""
        samples = [(f.index, line, text) for f in files for line, text in f.scan.samples]
        if not samples:
            return {}
        text = self.dialect.text
        if self.layout.is_jsonl:
            record = "r._raw"
        else:
            record = "concat(" + ", ',', ".join(f"r.{c}" for c in self.layout.data_columns) + ")"
        self.conn.execute(
            f"create temp table {self.raw_table}_samples (_file INTEGER, _line INTEGER, _text {text})"
        )
        try:
            for first in range(0, len(samples), 1000):
                chunk = samples[first : first + 1000]
                params = [value for sample in chunk for value in sample]
                self.conn.execute(
                    f"insert into {self.raw_table}_samples values {', '.join(['(%s, %s, %s)'] * len(chunk))}",
                    params,
                )
            matching = dict(
                self.conn.fetchall(
                    f"select s._file, count(*) from {self.raw_table}_samples s join {self.raw_table} r "
                    f"on r._file = s._file and r._line = s._line where {record} = s._text group by s._file"
                )
            )
        finally:
            self.conn.execute(f"drop table if exists {self.raw_table}_samples")
        failed: dict[int, str] = {}
        for engine_file in files:
            if matching.get(engine_file.index, 0) != len(engine_file.scan.samples):
                failed[engine_file.index] = "its sample lines were not where the engine put them"
        return failed

    def _remove(self, indexes: Sequence[int]) -> None:
        listed = ", ".join(str(i) for i in indexes)
        self.conn.execute(f"delete from {self.raw_table} where _file in ({listed})")

    # -- PostgreSQL --------------------------------------------------------------------------
    def _pg_defaults(self, index: int, *, first_line: int, trim: bool) -> None:
        """PostgreSQL: the raw columns COPY does not fill: the file's index, a line sequence, `_trim`."""
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


def drop_engine_tables(conn: WarehouseConnection, raw_table: str) -> None:
    """Drop what an `EngineRawLoader` of `raw_table` may have left (after an error)."""
    for table in (f"{raw_table}_lines", f"{raw_table}_samples"):
        conn.execute(f"drop table if exists {table}")
    if not conn.is_duckdb:  # the raw table's default depends on the sequence
        conn.execute(f"drop sequence if exists {raw_table}_line_seq cascade")


def _duckdb_value_text(token: str) -> str:
    """The normaliser's text of a JSON value token: strings unquoted and trimmed (blank -> null),
    null -> null, numbers and booleans as written."""
    return (
        f"case when {token} is null or {token} = 'null' then null "
        f"when starts_with({token}, '\"') then nullif(trim(substr({token}, 2, length({token}) - 2), ' '), '') "
        f"else {token} end"
    )


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_data_error(exc: Exception) -> bool:
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
