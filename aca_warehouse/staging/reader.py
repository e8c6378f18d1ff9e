"""Reading one landing file into a normalized raw stream: exact source lines, whole-file rejections.

The engines' own CSV readers cannot report the physical line where a record starts (a quoted
field may span lines) and PostgreSQL's `COPY` refuses blank lines and ragged rows, so one
streaming Python pass tokenizes the file and writes a *normalized* CSV that both engines bulk
load (DuckDB `read_csv`, PostgreSQL `COPY`):

    _file, _line, _problem, _detail, _raw, _trim, <one text field per source column / contract column>

- `_file`: the file's index in its load batch (several files share one raw table).
- `_line`: physical line (1-based, header = line 1) where the record starts.
- `_problem`: a record-level reason code (`wrong_field_count`, `not_json_object`) or empty.
- `_detail`: what the problem was; `_raw`: the raw record as JSON text for problem rows, and
  for JSON Lines the original line text of every row.
- `_trim`: `t` when some field of the record may have surrounding whitespace (SQL trims only
  those records: trimming every value costs more than the rest of the validation).

Lines without a double quote (almost all of them) are passed through as they are, after a
cheap field count; only records containing quotes go through the `csv` module. Values are
not trimmed or typed here: that is SQL's job, generated from the data dictionary.

Per-row problems never reject the file. A record longer than the dictionary's
`limits.record_max_chars` (all its physical lines; also the `csv` module's field size limit, so
quoted and unquoted fields share one bound) becomes one `field_too_long` row: the file is read in
blocks, so such a record is skipped (its end found by counting quotes) without ever being held in
memory, and only its beginning is kept for the quarantine. A JSON Lines line whose JSON decodes to
text that is not valid Unicode (an escaped unpaired surrogate) or holds NUL is an `invalid_text` row.
Whole-file rejections never quote the file's content: at most the contract's own column names.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aca_warehouse.contract.dictionary import Feed, load_dictionary
from aca_warehouse.errors import LandingFileError

FIXED_RAW_COLUMNS = ("_file", "_line", "_problem", "_detail", "_raw", "_trim")
WHITESPACE = " \t\r\n"  # what "surrounding whitespace is trimmed" removes (SQL trims the same set)
_CHUNK_CHARS = 8 << 20  # flush the normalized stream every ~8 MB
_BLOCK_CHARS = 1 << 20  # text read and checked at once
_READ_BUFFER = 1 << 20
_LIMITS = load_dictionary().limits
# One bound for a record, quoted or not (the staging loader's normalized line bound is 16 times it).
MAX_RECORD_CHARS = _LIMITS.record_max_chars
QUARANTINE_VALUE_MAX_CHARS = _LIMITS.quarantine_value_max_chars
csv.field_size_limit(MAX_RECORD_CHARS)
# Text a JSON escape can produce that no warehouse column can hold: NUL and unpaired surrogates.
_INVALID_TEXT = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class RawLayout:
    """Column layout of the raw table of one file and how it maps to the feed's contract columns."""

    feed: Feed
    header: tuple[str, ...]  # CSV: trimmed header names in file order; JSON Lines: contract columns
    data_columns: tuple[str, ...]  # raw table columns after FIXED_RAW_COLUMNS
    contract_source: dict[str, str]  # contract column -> raw column
    extra_columns: tuple[tuple[str, str], ...] = ()  # CSV: (header name, raw column) of unknown columns
    extra_json_column: str | None = None  # JSON Lines: raw column holding unknown keys as JSON text

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return FIXED_RAW_COLUMNS + self.data_columns

    @property
    def is_jsonl(self) -> bool:
        return self.extra_json_column is not None

    @property
    def duplicate_row_columns(self) -> tuple[str, ...]:
        """Raw columns two lines must share to be an exact repeat (JSON Lines: the line text)."""
        return ("_raw",) if self.is_jsonl else self.data_columns

    @property
    def raw_record_pairs(self) -> tuple[tuple[str, str], ...]:
        """(source name, raw column) of a well-formed CSV record, in file order."""
        return tuple(zip(self.header, self.data_columns, strict=True))


@dataclass
class ReadStats:
    """What the pass saw: records (rows read), blank lines, physical lines, bytes of normalized output."""

    rows_read: int = 0
    blank_lines: int = 0
    physical_lines: int = 0
    problem_rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _Sink:
    """A write target for `csv.writer` that collects parts until the next flush."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.write = self.parts.append

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def first_invalid_utf8(path: Path) -> tuple[int, str, str] | None:
    """(line, byte in hex, why) of the first byte of the file that is not UTF-8, or None. The text
    reader decodes ahead of the lines it has counted, so its own error cannot say the line: this scans
    the bytes again (UTF-8 never hides a newline byte inside a character, so lines count exactly)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_BLOCK_CHARS):
            pending = decoder.getstate()[0]  # an incomplete character carried over: never a newline
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                line = newlines + data[: exc.start].count(b"\n") + 1
                return line, data[exc.start : exc.start + 1].hex(), exc.reason
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return (
                newlines + 1,
                bytes(exc.object[exc.start : exc.start + 1]).hex(),
                "truncated at the end of the file",
            )
    return None


def _decode_error(path: Path, relative_path: str, exc: UnicodeDecodeError) -> LandingFileError:
    found = first_invalid_utf8(path)
    if found is None:  # the file changed under us; say what the decoder said
        return LandingFileError(relative_path, f"not UTF-8: {exc.reason}")
    line, byte, why = found
    return LandingFileError(
        relative_path, f"not UTF-8: byte 0x{byte} on line {line} cannot be decoded ({why})"
    )


def _opened_inside_landing(descriptor: int, path: Path, relative_path: str) -> bool:
    """Whether the open file lies inside the landing root (the path minus its landing-relative part).
    Linux tells which file a descriptor opened (/proc/self/fd); elsewhere discovery's check stands."""
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
    except OSError:
        return True
    text = str(path)
    if not relative_path or not text.endswith(relative_path):
        return True
    root = Path(text[: len(text) - len(relative_path)] or ".").resolve()
    return root in opened.parents


def open_landing_descriptor(path: Path, relative_path: str) -> int:
    """An open, blocking descriptor of a landing file, refusing what is not the regular file inside
    the landing root that discovery found (a file swapped for a link out of the landing directory, or
    for a pipe, after it was found). Non-blocking open, so a pipe cannot hang the load."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode) or not _opened_inside_landing(
            descriptor, path, relative_path
        ):
            raise LandingFileError(
                relative_path,
                "is no longer a regular file inside the landing directory (replaced after it was found); not read",
            )
        os.set_blocking(descriptor, True)
        return descriptor
    except BaseException:
        os.close(descriptor)
        raise


def open_landing_file(path: Path, relative_path: str) -> IO[str]:
    """Open a landing file as text for the normaliser (see `open_landing_descriptor`)."""
    descriptor = open_landing_descriptor(path, relative_path)
    try:
        return open(  # noqa: SIM115 - the reader closes it
            descriptor, encoding="utf-8-sig", errors="strict", newline="\n", buffering=_READ_BUFFER
        )
    except BaseException:
        os.close(descriptor)
        raise


def truncated(text: str, limit: int = QUARANTINE_VALUE_MAX_CHARS, total: int | None = None) -> str:
    """`text` as the quarantine keeps it: whole, or its first `limit` characters and a marker."""
    length = len(text) if total is None else total
    if length <= limit and total is None:
        return text
    return f"{text[:limit]}...[truncated: {length} characters]"


class _Oversized(Exception):  # noqa: N818 - a signal inside the reader, never leaves it
    """The next line is longer than the record bound; nothing of it has been consumed."""


class _LineSource:
    """The lines of a text stream read in blocks, never holding more than the record bound and one block.

    `block()` gives the text of whole lines (about a block of them), `next_line()` one line with its
    terminator ('' at the end); both raise _Oversized, consuming nothing, when the next line is longer
    than `limit`; `skip_record()` then consumes that record without keeping it.
    """

    def __init__(self, handle: IO[str], limit: int) -> None:
        self._handle = handle
        self._limit = limit
        self._buffer = ""
        self._pos = 0
        self._eof = False

    def _more(self) -> bool:
        if self._eof:
            return False
        chunk = self._handle.read(_BLOCK_CHARS)
        if not chunk:
            self._eof = True
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def _line_end(self) -> int:
        """Index just past the next line (its newline, or the end of the stream); -1 at the end."""
        while True:
            newline = self._buffer.find("\n", self._pos)
            if newline >= 0:
                if newline + 1 - self._pos > self._limit:
                    raise _Oversized
                return newline + 1
            if len(self._buffer) - self._pos > self._limit:
                raise _Oversized
            if not self._more():
                return len(self._buffer) if self._pos < len(self._buffer) else -1

    def next_line(self) -> str:
        end = self._line_end()
        if end < 0:
            return ""
        line = self._buffer[self._pos : end]
        self._pos = end
        return line

    def block(self) -> str:
        """Whole lines from here, up to the last complete line read so far ('' at the end)."""
        end = self._line_end()  # the first line may span reads; the ones after it lie in the last read
        if end < 0:
            return ""
        cut = len(self._buffer) if self._eof else max(end, self._buffer.rfind("\n") + 1)
        text = self._buffer[self._pos : cut]
        self._pos = cut
        return text

    def skip_record(self, quoted: bool, quotes_before: int = 0) -> tuple[int, int, str, bool]:
        """Consume the record starting at the current line: up to the first line end where the number of
        double quotes since the record started is even (`quoted`), else to the end of the line.
        Returns (physical lines, characters, its first characters, whether it ended before the end of
        the stream with its quotes closed)."""
        head = self._buffer[self._pos : self._pos + QUARANTINE_VALUE_MAX_CHARS]
        lines = chars = 0
        odd = quotes_before % 2 == 1
        while True:
            buffer, start = self._buffer, self._pos
            while (newline := buffer.find("\n", start)) >= 0:
                if quoted:
                    odd ^= buffer.count('"', start, newline) % 2 == 1
                lines += 1
                chars += newline + 1 - start
                start = newline + 1
                if not odd:
                    self._pos = start
                    return lines, chars, head, True
            if quoted:
                odd ^= buffer.count('"', start) % 2 == 1
            chars += len(buffer) - start
            tail = len(buffer) > start
            self._pos = len(buffer)
            if not self._more():
                return lines + (1 if tail else 0), chars, head, not odd


def _strip_terminator(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


class LandingFileReader:
    """Streams one landing file as normalized CSV text chunks; rejects unreadable files on the way.

    Open it as a context manager: the constructor reads the header (CSV), so a file missing a
    column is rejected before anything is written to the warehouse. Every record starts with
    `file_index`, the file's place in its load batch.
    """

    def __init__(self, path: Path, relative_path: str, feed: Feed, file_index: int = 0) -> None:
        self.path = path
        self.relative_path = relative_path
        self.feed = feed
        self.file_index = file_index
        self._prefix = f"{file_index},"
        self.stats = ReadStats()
        self._handle: IO[str] = open_landing_file(path, relative_path)
        self._source = _LineSource(self._handle, MAX_RECORD_CHARS)
        self._line_no = 0
        try:
            self.layout = self._read_header() if not feed.is_jsonl else self._jsonl_layout()
        except BaseException:
            self._handle.close()
            raise

    def __enter__(self) -> LandingFileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def reject(self, problem: str) -> LandingFileError:
        return LandingFileError(self.relative_path, problem)

    # -- layouts -----------------------------------------------------------------------------
    def _jsonl_layout(self) -> RawLayout:
        names = tuple(self.feed.column_names)
        data_columns = tuple(f"_c_{name}" for name in names) + ("_extra",)
        return RawLayout(
            feed=self.feed,
            header=names,
            data_columns=data_columns,
            contract_source={name: f"_c_{name}" for name in names},
            extra_json_column="_extra",
        )

    def _read_header(self) -> RawLayout:
        header: list[str] | None = None
        try:
            while line := self._source.next_line():
                self._line_no += 1
                if not _strip_terminator(line).strip():
                    self.stats.blank_lines += 1
                    continue
                parsed = self._parse_quoted_record(line)
                if isinstance(parsed, _OversizedRecord):
                    raise self.reject(
                        f"the header (line {parsed.line}) is longer than {MAX_RECORD_CHARS:,} characters"
                    )
                header = parsed
                break
        except _Oversized:
            raise self.reject(
                f"the header (line {self._line_no + 1}) is longer than {MAX_RECORD_CHARS:,} characters"
            ) from None
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, self.relative_path, exc) from None
        if header is None:
            raise self.reject("no header: the file is empty or has only blank lines")
        # Messages name the contract's columns only: a header is file content (a file that is not a
        # landing file at all would otherwise be quoted in the audit and the run's logs).
        names = tuple(name.strip() for name in header)
        if "\x00" in "".join(names):
            raise self.reject("contains NUL bytes (binary content?)")
        contract = set(self.feed.column_names)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            known = [n for n in repeated if n in contract]
            others = len(repeated) - len(known)
            named = ", ".join(known) + (f"{', ' if known else ''}{others} other name(s)" if others else "")
            raise self.reject(f"header repeats column name(s): {named}")
        missing = [c for c in self.feed.column_names if c not in names]
        if missing:
            found = len(contract.intersection(names))
            raise self.reject(
                f"header lacks column(s) of the {self.feed.name} contract: {', '.join(missing)} "
                f"(the header has {len(names)} column(s), {found} of the contract's {len(contract)})"
            )
        data_columns = tuple(f"_f{i + 1}" for i in range(len(names)))
        return RawLayout(
            feed=self.feed,
            header=names,
            data_columns=data_columns,
            contract_source={n: data_columns[i] for i, n in enumerate(names) if n in contract},
            extra_columns=tuple((n, data_columns[i]) for i, n in enumerate(names) if n not in contract),
        )

    def _parse_quoted_record(
        self, first_line: str, rest: Iterator[str] | None = None
    ) -> list[str] | _OversizedRecord:
        """Tokenize one record starting with `first_line`, pulling continuation lines from `rest` (then
        from the file). A record beyond the record bound is skipped and returned as _OversizedRecord."""
        start = self._line_no
        consumed = [0, 0, 0]  # lines, double quotes, characters taken by the tokenizer

        def lines() -> Iterator[str]:
            for line in itertools.chain((first_line,), rest or (), iter(self._source.next_line, "")):
                consumed[0] += 1
                consumed[1] += line.count('"')
                consumed[2] += len(line)
                yield line

        reader = csv.reader(lines(), strict=True)
        try:
            fields = next(reader)
        except _Oversized:  # a continuation line alone is over the bound
            return self._skip_oversized(start, consumed, first_line)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                return self._skip_oversized(start, consumed, first_line)
            raise self.reject(f"not tokenizable as CSV: {exc} (record starting at line {start})") from None
        self._line_no = start + reader.line_num - 1
        if sum(map(len, fields)) > MAX_RECORD_CHARS:  # many fields, each under the bound
            return _OversizedRecord(start, consumed[2], truncated(first_line, total=consumed[2]))
        return fields

    def _skip_oversized(self, start: int, consumed: list[int], first_line: str) -> _OversizedRecord:
        """The rest of a record the tokenizer gave up on: skipped without being kept."""
        lines, chars, closed = consumed[0], consumed[2], consumed[1] % 2 == 0
        if not closed:
            more_lines, more_chars, _, closed = self._source.skip_record(
                quoted=True, quotes_before=consumed[1]
            )
            lines, chars = lines + more_lines, chars + more_chars
        if not closed:
            raise self.reject(
                f"not tokenizable as CSV: unterminated quoted field (record starting at line {start})"
            )
        self._line_no = start + lines - 1
        return _OversizedRecord(start, chars, truncated(first_line, total=chars))

    def _oversized_line(self, quoted: bool) -> _OversizedRecord:
        """The record starting at the next line, which is over the bound by itself: skipped."""
        start = self._line_no + 1
        lines, chars, head, closed = self._source.skip_record(quoted=quoted)
        if not closed:
            raise self.reject(
                f"not tokenizable as CSV: unterminated quoted field (record starting at line {start})"
            )
        self._line_no += lines
        return _OversizedRecord(start, chars, truncated(head, total=chars))

    def _write_oversized(self, writer: Any, record: _OversizedRecord, padding: list[None]) -> int:
        self.stats.rows_read += 1
        self.stats.problem_rows += 1
        writer.writerow(
            [self.file_index, record.line, "field_too_long",
             f"record of {record.chars:,} characters, over the reader's bound of {MAX_RECORD_CHARS:,}",
             json.dumps(record.head, ensure_ascii=False), None, *padding]
        )  # fmt: skip
        return len(record.head) + 64

    # -- streaming ---------------------------------------------------------------------------
    def normalized_chunks(self) -> Iterator[str]:
        """The normalized CSV text, in chunks of about 8 MB; stats are final once exhausted."""
        try:
            if self.feed.is_jsonl:
                yield from self._jsonl_chunks()
            else:
                yield from self._csv_chunks()
        except UnicodeDecodeError as exc:
            raise _decode_error(self.path, self.relative_path, exc) from None
        self.stats.physical_lines = self._line_no

    def _check_chunk(self, text: str) -> str:
        if "\x00" in text:
            raise self.reject("contains NUL bytes (binary content?)")
        return text

    def _csv_chunks(self) -> Iterator[str]:
        """Blocks of ~1 MB of lines: a block of plain lines (the usual case) is passed through in
        one go; any other block goes line by line, quoted records through the csv module."""
        sink = _Sink()
        size = 0
        source = self._source
        padding: list[None] = [None] * len(self.layout.header)
        while True:
            try:
                text = source.block()
            except _Oversized:
                size += self._write_oversized(
                    csv.writer(sink, lineterminator="\n"), self._oversized_line(quoted=True), padding
                )
                continue
            if not text:
                break
            if "\x00" in text:  # binary content, wherever it is (also inside a ragged or quoted record)
                line = self._line_no + text.count("\n", 0, text.index("\x00")) + 1
                raise self.reject(f"contains NUL bytes (binary content?) on line {line}")
            plain = self._plain_block(text)
            if plain is not None:
                sink.write(plain)
                size += len(plain)
            else:
                size += self._careful_block(text, sink)
            if size >= _CHUNK_CHARS:
                yield self._check_chunk(sink.take())
                size = 0
        if sink.parts:
            yield self._check_chunk(sink.take())

    def _plain_block(self, text: str) -> str | None:
        """The normalized text of lines that need no care (no quote, CR, tab, padding, blank line,
        wrong field count), or None when one of them does."""
        if '"' in text or "\t" in text:  # one-character searches are nearly free; look for padding
            return None  # (a space next to a comma or a line end) only when the block has a space
        if " " in text and (" ," in text or ", " in text or "\n " in text or " \n" in text or text[0] == " "):
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text or " \n" in text:
                return None
        if text[-1] == " ":
            return None
        bodies = text.split("\n")
        if bodies[-1] == "":
            bodies.pop()
        separators = len(self.layout.header) - 1
        if [b.count(",") for b in bodies].count(separators) != len(bodies):
            return None  # a blank line or a wrong field count (or an empty last field of a 1-column feed)
        first = self._line_no + 1
        self._line_no += len(bodies)
        self.stats.rows_read += len(bodies)
        prefix = self._prefix
        return "".join(
            [f"{prefix}{n},,,,,{b}\n" for n, b in zip(range(first, first + len(bodies)), bodies, strict=True)]
        )

    def _careful_block(self, text: str, sink: _Sink) -> int:
        """Normalize lines one by one (quoted records may pull lines from the file); chars written."""
        pieces = text.split("\n")
        lines = [piece + "\n" for piece in pieces[:-1]]
        if pieces[-1]:  # the last line of the file, without a line end
            lines.append(pieces[-1])
        width = len(self.layout.header)
        separators = width - 1
        padding = [None] * width
        writer = csv.writer(sink, lineterminator="\n")
        stats = self.stats
        index, prefix = self.file_index, self._prefix
        size = 0
        remaining = iter(lines)
        for line in remaining:
            self._line_no += 1
            if '"' in line:
                start = self._line_no
                fields = self._parse_quoted_record(line, remaining)
                if isinstance(fields, _OversizedRecord):
                    size += self._write_oversized(writer, fields, padding)
                    continue
                stats.rows_read += 1
                if len(fields) == width:
                    writer.writerow([index, start, None, None, None, "t", *fields])
                else:
                    stats.problem_rows += 1
                    writer.writerow(
                        [index, start, "wrong_field_count", f"{len(fields)} fields, header has {width}",
                         json.dumps(fields, ensure_ascii=False), None, *padding]
                    )  # fmt: skip
                size += len(line) + 64
                continue
            body = line[:-1] if line[-1:] == "\n" else line
            if body[-1:] == "\r":
                body = body[:-1]
            if "\r" in body:  # a bare carriage return: let the csv module explain the problem
                self._parse_quoted_record(line, remaining)
                raise self.reject(f"not tokenizable as CSV: bare carriage return on line {self._line_no}")
            if not body or body.isspace():
                stats.blank_lines += 1
                continue
            stats.rows_read += 1
            if body.count(",") == separators:
                padded = "\t" in body or " ," in body or ", " in body or body[0] == " " or body[-1] == " "
                sink.write(f"{prefix}{self._line_no},,,,{'t' if padded else ''},{body}\n")
            else:
                stats.problem_rows += 1
                fields = body.split(",")
                writer.writerow(
                    [index, self._line_no, "wrong_field_count", f"{len(fields)} fields, header has {width}",
                     json.dumps(fields, ensure_ascii=False), None, *padding]
                )  # fmt: skip
            size += len(body)
        return size

    def _jsonl_chunks(self) -> Iterator[str]:
        """One normalized record per non-blank line. A record whose fields need no CSV quoting (the
        usual case: ids, dates, numbers) is formatted directly; any other goes through `csv.writer`."""
        names = self.layout.header
        known = set(names)
        width = len(names)
        padding = [None] * (width + 1)  # the contract columns and _extra
        sink = _Sink()
        writer = csv.writer(sink, lineterminator="\n")
        size = 0
        source = self._source
        while True:
            try:
                text = source.block()
            except _Oversized:
                size += self._write_oversized(writer, self._oversized_line(quoted=False), padding)
                continue
            if not text:
                break
            bodies = text.split("\n")
            if bodies[-1] == "":
                bodies.pop()
            for body in bodies:
                size += self._jsonl_record(body, names, known, width, padding, sink, writer)
            if size >= _CHUNK_CHARS:
                yield self._check_chunk(sink.take())
                size = 0
        if sink.parts:
            yield self._check_chunk(sink.take())

    def _jsonl_record(
        self,
        body: str,
        names: tuple[str, ...],
        known: set[str],
        width: int,
        padding: list[None],
        sink: _Sink,
        writer: Any,
    ) -> int:
        """Normalize one JSON Lines line (without its line end); about the characters written."""
        stats, index, prefix = self.stats, self.file_index, self._prefix
        self._line_no += 1
        if body[-1:] == "\r":
            body = body[:-1]
        if not body or body.isspace():  # the same whitespace as str.strip()
            stats.blank_lines += 1
            return 0
        stats.rows_read += 1
        parsed, problem = _parse_json_object(body)
        if parsed is not None and "\\u" in body and _holds_invalid_text(parsed):
            stats.problem_rows += 1
            detail = "a \\u escape decodes to an unpaired surrogate or NUL, which is not valid text"
            writer.writerow(
                [index, self._line_no, "invalid_text", detail, json.dumps(truncated(body)), None, *padding]
            )
        elif parsed is None:
            stats.problem_rows += 1
            writer.writerow(
                [
                    index,
                    self._line_no,
                    "not_json_object",
                    problem,
                    json.dumps(truncated(body)),
                    None,
                    *padding,
                ]
            )
        else:
            values = [  # _json_value_text, inlined for the usual plain string
                (v.strip(WHITESPACE) or None) if type(v) is str else _json_value_text(v)
                for v in map(parsed.get, names)
            ]
            extra = None
            if not known.issuperset(parsed):  # unknown keys, kept as a JSON object
                extra = _dump_json({k: v for k, v in parsed.items() if k not in known})
            fields = ",".join([v or "" for v in values])
            plain = extra is None and '"' not in fields and fields.count(",") == width - 1
            if plain and "\n" not in fields and "\r" not in fields and "\r" not in body:
                raw = body if _plain_field(body) else _quoted_field(body)
                sink.write(f"{prefix}{self._line_no},,,{raw},,{fields},\n")
            else:
                writer.writerow([index, self._line_no, None, None, body, None, *values, extra])
        return len(body) + 64


@dataclass(frozen=True)
class _OversizedRecord:
    """A record over the reader's bound, skipped: where it started, its length, its beginning."""

    line: int
    chars: int
    head: str


def _holds_invalid_text(value: Any) -> bool:
    """True when a parsed JSON value (keys included) holds NUL or an unpaired surrogate."""
    if isinstance(value, str):
        return _INVALID_TEXT.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_invalid_text(k) or _holds_invalid_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_invalid_text(v) for v in value)
    return False


def _plain_field(text: str) -> bool:
    """True when csv.writer writes the text as it is: no delimiter, quote or line break in it."""
    return not ("," in text or '"' in text or "\n" in text or "\r" in text)


def _quoted_field(text: str) -> str:
    """A text with a quote or comma but no line break, as csv.writer writes it: quoted, quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


class _JsonNumber(str):
    """A JSON number kept as its exact text (412.50 stays 412.50)."""


def _dump_json(value: Any) -> str:
    """JSON text of a parsed value, numbers written back exactly as they came."""
    if isinstance(value, _JsonNumber):
        return str(value)
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_dump_json(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_dump_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every line (json.loads with hooks builds a new one per call).
_DECODER = json.JSONDecoder(parse_float=_JsonNumber, parse_int=_JsonNumber, parse_constant=_reject_constant)


def _parse_json_object(body: str) -> tuple[dict[str, Any] | None, str]:
    """The line's object with numbers kept as their exact text, or None and why it is not one."""
    try:
        # json.loads refuses a leading byte-order mark with its own message; keep that message.
        value = json.loads(body) if body.startswith("\ufeff") else _DECODER.decode(body)
    except (ValueError, RecursionError) as exc:
        return None, f"invalid JSON: {str(exc)[:200]}"
    if not isinstance(value, dict):
        kind = {"[": "an array", '"': "a string"}.get(body.lstrip()[:1], "a number or literal")
        return None, f"JSON {kind}, not an object"
    return value, ""


def _json_value_text(value: Any) -> str | None:
    """A JSON value as trimmed text (numbers keep their exact text); null, empty and blank -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else _dump_json(value)
    return text.strip(WHITESPACE) or None


def normalized_text(path: Path, relative_path: str, feed: Feed) -> tuple[RawLayout, str, ReadStats]:
    """The whole normalized stream of a (small) file at once; for tests and debugging."""
    with LandingFileReader(path, relative_path, feed) as reader:
        buffer = io.StringIO()
        for chunk in reader.normalized_chunks():
            buffer.write(chunk)
        return reader.layout, buffer.getvalue(), reader.stats
