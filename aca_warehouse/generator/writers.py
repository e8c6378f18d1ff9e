"""Encoding of landing files: vectorised CSV assembly with RFC 4180 quoting, JSON Lines, and line accounting."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

BOM = "\ufeff".encode()
_SPECIAL = (",", '"', "\n", "\r")
_NEEDS_QUOTES = re.compile('[,"\r\n]')


def quote_csv_field(value: str) -> str:
    """A single field exactly as the csv module writes it (QUOTE_MINIMAL, doubled quotes)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([value])
    return buf.getvalue()[:-1]


def encode_csv_record(fields: list[str]) -> bytes:
    """One CSV record (with its `\\n`) written by the csv module."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue().encode()


def _factorized_bytes(values: np.ndarray | list, quote: bool) -> np.ndarray:
    """Encode each distinct value once (quoting it if asked and needed), then spread by position."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    encoded = []
    needs_quotes = _NEEDS_QUOTES.search
    for v in uniques.tolist():
        if isinstance(v, bytes):
            encoded.append(v)
            continue
        s = "" if v is None else str(v)
        if quote and needs_quotes(s):
            s = quote_csv_field(s)
        encoded.append(s.encode())
    vocab = np.array(encoded + [b""], dtype="S") if encoded else np.array([b""], dtype="S1")
    return vocab[codes]  # the NA sentinel -1 picks the trailing empty value


def text_column(values: np.ndarray | list) -> np.ndarray:
    """Free text as UTF-8 bytes, quoted by the csv module's rules where needed (None/'' = empty)."""
    return _factorized_bytes(values, quote=True)


def code_column(values: np.ndarray | list) -> np.ndarray:
    """Codes and identifiers known to need no quoting (ASCII, no separators)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "S":
        return arr
    if arr.dtype == object:
        return _factorized_bytes(arr, quote=False)
    return arr.astype("S") if len(arr) else np.zeros(0, dtype="S1")


_SMALL_INTS = np.arange(100_000).astype("S")


def int_column(values: np.ndarray) -> np.ndarray:
    """Integers as ASCII digits (small non-negative ones through a lookup table)."""
    arr = np.asarray(values, dtype=np.int64)
    if not len(arr):
        return np.zeros(0, dtype="S1")
    if arr.min() >= 0 and arr.max() < len(_SMALL_INTS):
        return _SMALL_INTS[arr]
    return arr.astype("S")


_CENTS = np.array([f".{i:02d}".encode() for i in range(100)], dtype="S3")


def money_column(cents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Money from integer cents as two parts (dollars, '.cc'), non-negative amounts only."""
    c = np.asarray(cents, dtype=np.int64)
    if np.any(c < 0):
        raise ValueError("negative money in clean data")
    return int_column(c // 100), _CENTS[c % 100]


def money_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    c = abs(int(cents))
    return f"{sign}{c // 100}.{c % 100:02d}"


def date_column(
    text_table: np.ndarray, first_ordinal: int, ordinals: np.ndarray, null: np.ndarray | None = None
) -> np.ndarray:
    """Dates from day ordinals through a lookup table (negative ordinal or null mask = empty)."""
    o = np.asarray(ordinals, dtype=np.int64)
    out = text_table[np.clip(o - first_ordinal, 0, len(text_table) - 1)]
    outside = (o > 0) & ((o < first_ordinal) | (o >= first_ordinal + len(text_table)))
    if outside.any():  # e.g. dates of birth: format those few through the standard library
        out = out.astype("S10")
        out[outside] = [date.fromordinal(int(x)).isoformat().encode() for x in o[outside]]
    empty = o < 0 if null is None else (null | (o < 0))
    if empty.any():
        out = out.astype("S10")
        out[empty] = b""
    return out


def assemble_records(
    fields: list[np.ndarray | tuple[np.ndarray, ...]], separator: bytes | None = b","
) -> tuple[bytes, np.ndarray]:
    """Join byte columns into `\n`-terminated records; returns the bytes and each record's start offset (+ the end).

    Each field is an 'S' array or a tuple of 'S' arrays written back to back. Every field is copied
    into its fixed slot of a byte matrix (NUL-padded), then the NUL bytes are dropped: valid text never
    contains NUL, so what remains is exactly the fields, the separators and the line ends.
    """
    parts = [(c,) if isinstance(c, np.ndarray) else c for c in fields]
    n = len(parts[0][0])
    if n == 0:
        return b"", np.zeros(1, dtype=np.int64)
    sep = separator[0] if separator else None
    width = sum(p.dtype.itemsize for col in parts for p in col) + (len(parts) if sep is not None else 1)
    mat = np.zeros((n, width), dtype=np.uint8)
    off = 0
    for k, col in enumerate(parts):
        for p in col:
            w = p.dtype.itemsize
            mat[:, off : off + w] = np.ascontiguousarray(p).view(np.uint8).reshape(n, w)
            off += w
        if sep is not None and k < len(parts) - 1:
            mat[:, off] = sep
            off += 1
    mat[:, off] = ord("\n")
    keep = mat != 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    return mat[keep].tobytes(), offsets


def assemble_csv(columns: list[np.ndarray | tuple[np.ndarray, ...]]) -> tuple[bytes, np.ndarray]:
    """Join byte columns into CSV records (comma-separated)."""
    return assemble_records(columns, b",")


def assemble_lines(lines: list[str]) -> tuple[bytes, np.ndarray]:
    """Join text lines (JSON Lines) into bytes; returns the bytes and each line's start offset (+ the end)."""
    encoded = [ln.encode() + b"\n" for ln in lines]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return b"".join(encoded), offsets


@dataclass
class FilePayload:
    """A landing file before defects: header, clean records, and warnings about clean records."""

    feed: str
    relpath: str
    load_date: date
    kind: str  # "csv" or "jsonl"
    header: list[str]
    body: bytes
    offsets: np.ndarray
    bom: bool = False
    warnings: dict[int, list[str]] = field(default_factory=dict)  # clean record index -> warning codes

    @property
    def n_records(self) -> int:
        return len(self.offsets) - 1

    def record(self, i: int) -> bytes:
        return self.body[self.offsets[i] : self.offsets[i + 1]]

    def header_bytes(self) -> bytes:
        if self.kind != "csv":
            return b""
        return (BOM if self.bom else b"") + encode_csv_record(self.header)


@dataclass
class Insertion:
    """A defective record inserted before clean record `before` (n = at the end)."""

    before: int
    data: bytes
    reason: str
    order: int = 0


def finish_file(
    payload: FilePayload, insertions: list[Insertion]
) -> tuple[bytes, list[tuple[int, str]], dict[int, int]]:
    """Final bytes with the insertions, the line of each defect, and the line of each clean record."""
    ins = sorted(insertions, key=lambda x: (x.before, x.order))
    header = payload.header_bytes()
    chunks = [header]
    line = 1 + (1 if payload.kind == "csv" else 0)
    defect_lines: list[tuple[int, str]] = []
    clean_lines: dict[int, int] = {}
    body = payload.body
    offs = payload.offsets
    n = payload.n_records
    newlines_per_record = None
    if payload.kind == "csv" and b'"' in body:
        # records of this file can span several physical lines (quoted line breaks)
        newline_at = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
        newlines_per_record = np.diff(np.searchsorted(newline_at, offs))
    cursor = 0
    lines_before = np.cumsum(
        np.concatenate(
            [[0], newlines_per_record if newlines_per_record is not None else np.ones(n, dtype=np.int64)]
        )
    )
    for k_ins in ins + [Insertion(n, b"", "__end__", 10**9)]:
        b = k_ins.before
        if b > cursor:
            chunks.append(body[offs[cursor] : offs[b]])
            for i in range(cursor, b):
                if i in payload.warnings:
                    clean_lines[i] = line + int(lines_before[i] - lines_before[cursor])
            line += int(lines_before[b] - lines_before[cursor])
            cursor = b
        if k_ins.reason == "__end__":
            break
        chunks.append(k_ins.data)
        defect_lines.append((line, k_ins.reason))
        line += max(k_ins.data.count(b"\n"), 1)
    return b"".join(chunks), defect_lines, clean_lines
