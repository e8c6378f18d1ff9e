"""Calendar arithmetic on day ordinals, seeded random streams and stable hashing for the generator."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Random streams: every independent decision of the simulation draws from its own stream, keyed by
# (seed, purpose, unit) where unit is a plan year, a month or a load date.  A stream never depends on
# how many days are generated, which is what makes the output prefix-stable.
STREAM_CATALOG = 1
STREAM_PROVIDERS = 2
STREAM_PROVIDER_MONTH = 3
STREAM_YEAR = 4
STREAM_IDENTITY = 5
STREAM_CLAIMS = 6
STREAM_PREMIUMS = 7
STREAM_EVENTS = 8
STREAM_DEFECTS = 9


def stream(seed: int, purpose: int, *unit: int) -> np.random.Generator:
    """An independent random generator for one purpose and unit of time."""
    return np.random.default_rng([seed & 0xFFFFFFFF, purpose, *[int(u) & 0xFFFFFFFF for u in unit]])


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a stable bijective scramble of 64-bit integers."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def pseudo_uuid_bytes(keys: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic UUID-shaped identifiers (version-4 layout) from integer keys, as an S36 array."""
    keys = np.asarray(keys)
    with np.errstate(over="ignore"):
        salted = keys.astype(np.uint64) * np.uint64(0x2545F4914F6CDD1D) + np.uint64(seed & 0xFFFFFFFF)
        hi = mix64(salted)
        lo = mix64(salted ^ np.uint64(0xD1B54A32D192ED03))
    hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)  # version 4
    lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)  # RFC 4122 variant
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = np.concatenate(
        [(hi[:, None] >> shifts) & np.uint64(15), (lo[:, None] >> shifts) & np.uint64(15)], axis=1
    )
    digits = _HEX[nibbles.astype(np.int64)]
    out = np.full((len(keys), 36), ord("-"), dtype=np.uint8)
    for src, dst, w in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        out[:, dst : dst + w] = digits[:, src : src + w]
    return out.reshape(-1).view("S36") if len(keys) else np.zeros(0, dtype="S36")


def pseudo_uuid(keys: np.ndarray, seed: int) -> list[str]:
    """Deterministic UUID-shaped identifiers (version-4 layout) from integer keys."""
    return [b.decode() for b in pseudo_uuid_bytes(keys, seed).tolist()]


class Calendar:
    """Lookup tables over a range of days: date text, year, month, day, weekday, month arithmetic."""

    def __init__(self, first: date, last: date) -> None:
        self.first = first.toordinal()
        self.last = last.toordinal()
        n = self.last - self.first + 1
        days = [first + timedelta(days=i) for i in range(n)]
        self.text = np.array([d.isoformat() for d in days], dtype="S10")
        self.year = np.array([d.year for d in days], dtype=np.int32)
        self.month = np.array([d.month for d in days], dtype=np.int32)
        self.day = np.array([d.day for d in days], dtype=np.int32)
        self.weekday = np.array([d.weekday() for d in days], dtype=np.int32)

    def _idx(self, ordinals: np.ndarray | int) -> np.ndarray:
        idx = np.asarray(ordinals) - self.first
        if np.any(idx < 0) or np.any(idx > self.last - self.first):
            raise IndexError("day outside the generator calendar")
        return idx

    def date_text(self, ordinals: np.ndarray) -> np.ndarray:
        return self.text[self._idx(ordinals)]

    def month_index(self, ordinals: np.ndarray | int) -> np.ndarray:
        """Months since year 0 (year * 12 + month - 1)."""
        i = self._idx(ordinals)
        return self.year[i] * 12 + self.month[i] - 1

    def weekday_of(self, ordinals: np.ndarray) -> np.ndarray:
        return self.weekday[self._idx(ordinals)]

    def day_of_month(self, ordinals: np.ndarray) -> np.ndarray:
        return self.day[self._idx(ordinals)]

    def year_of(self, ordinals: np.ndarray) -> np.ndarray:
        return self.year[self._idx(ordinals)]

    def next_business_day(self, ordinals: np.ndarray) -> np.ndarray:
        """The same day if Monday-Friday, else the following Monday."""
        wd = self.weekday_of(ordinals)
        return ordinals + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def month_start(month_index: np.ndarray | int) -> np.ndarray:
    """Ordinal of the first day of a month index (year * 12 + month - 1)."""
    mi = np.atleast_1d(np.asarray(month_index, dtype=np.int64))
    uniq, inv = np.unique(mi, return_inverse=True)
    firsts = np.array([date(int(m) // 12, int(m) % 12 + 1, 1).toordinal() for m in uniq], dtype=np.int64)
    out = firsts[inv].reshape(mi.shape)
    return out if np.ndim(month_index) else out[0]


def month_end(month_index: np.ndarray | int) -> np.ndarray:
    """Ordinal of the last day of a month index."""
    return month_start(np.asarray(month_index) + 1) - 1


def ordinal(d: date) -> int:
    return d.toordinal()


def from_ordinal(o: int) -> date:
    return date.fromordinal(int(o))


def eastern_offset_hours(utc_seconds: np.ndarray) -> np.ndarray:
    """UTC offset of US Eastern time (-4 in daylight saving time, else -5) for epoch seconds."""
    years = (1970 + utc_seconds // (365.2425 * 86400)).astype(np.int64)
    out = np.full(utc_seconds.shape, -5, dtype=np.int64)
    for y in np.unique(years):
        march = date(int(y), 3, 1)
        second_sunday_march = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
        nov = date(int(y), 11, 1)
        first_sunday_nov = nov + timedelta(days=(6 - nov.weekday()) % 7)
        epoch = date(1970, 1, 1).toordinal()
        start = (second_sunday_march.toordinal() - epoch) * 86400 + 7 * 3600  # 2:00 EST = 7:00 UTC
        end = (first_sunday_nov.toordinal() - epoch) * 86400 + 6 * 3600  # 2:00 EDT = 6:00 UTC
        sel = years == y
        out[sel & (utc_seconds >= start) & (utc_seconds < end)] = -4
    return out


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_day_of(utc_seconds: np.ndarray) -> np.ndarray:
    """Day ordinal (US Eastern) of epoch seconds."""
    local = utc_seconds + eastern_offset_hours(utc_seconds) * 3600
    return local // 86400 + EPOCH_ORDINAL


_CLOCK = np.array(
    [f"T{h:02d}:{m:02d}:{x:02d}".encode() for h in range(24) for m in range(60) for x in range(60)],
    dtype="S9",
)
_SUFFIX = np.array([b"Z", b"-04:00", b"-05:00"], dtype="S6")


def format_timestamps(utc_seconds: np.ndarray, as_utc: np.ndarray, cal: Calendar) -> tuple[np.ndarray, ...]:
    """ISO 8601 timestamps as byte parts (date, time, offset): US Eastern with its offset, or UTC with `Z`."""
    eastern = eastern_offset_hours(utc_seconds)
    offsets = np.where(as_utc, 0, eastern)
    local = utc_seconds + offsets * 3600
    day = local // 86400 + EPOCH_ORDINAL
    suffix = _SUFFIX[np.where(as_utc, 0, np.where(eastern == -4, 1, 2))]
    return cal.date_text(day), _CLOCK[local % 86400], suffix
