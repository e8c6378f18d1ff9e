"""Landing-file discovery: which files are landing files, their feed, load date and fingerprint."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from aca_warehouse.contract import Feed, load_dictionary

# ASCII digits only: `\d` would also match full-width and other Unicode digits.
_DATE_RE = r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"


@dataclass(frozen=True)
class LandingFile:
    """A file that follows the landing contract's naming: `<feed dir>/<prefix>_YYYY-MM-DD.<ext>`."""

    feed: str
    path: Path
    relative_path: str
    load_date: date

    @property
    def partition_key(self) -> str:
        return self.load_date.isoformat()

    def fingerprint(self) -> str:
        """Size and mtime: cheap, changes whenever the file is rewritten."""
        stat = self.path.stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"

    def checksum(self) -> str:
        return file_sha256(self.path)


@dataclass(frozen=True)
class IgnoredFile:
    """A file found in a feed directory that is not a landing file (or not one to load yet), and why."""

    path: Path
    reason: str
    relative_path: str = ""

    @property
    def name(self) -> str:
        """How to name the file in a report: its path relative to the landing root."""
        return self.relative_path or self.path.name

    @property
    def is_hidden(self) -> bool:
        return self.path.name.startswith(".")

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class FileDigest:
    """What one read of a landing file tells: its content hash and line count, for the fingerprint
    (size and mtime, LandingFile.fingerprint()) the file had when it was read."""

    fingerprint: str
    sha256: str
    size: int
    lines: int


# Each landing file is hashed once per fingerprint in a process: the landing sensor, the landing asset
# and the staging loader (one process per run: the in-process executor) share these digests, and a
# run started by the sensor is handed the sensor's (the landing asset reads them back from the
# sensor's state, see sensors/landing.py). A file rewritten in any way gets a new fingerprint (size or
# mtime) and is read again: a corrected re-delivery under the same name is never taken for the old one.
_DIGESTS: dict[tuple[str, str], FileDigest] = {}
_DIGESTS_MAX = 50_000
# How many times each path was hashed in this process (tests check "once"; cheap to keep).
HASH_PASSES: Counter[str] = Counter()


def remember_digest(path: Path, digest: FileDigest) -> None:
    """Keep a digest made elsewhere (the sensor's state, the loader's scan) for `path`."""
    if len(_DIGESTS) >= _DIGESTS_MAX:
        _DIGESTS.clear()
    _DIGESTS[(str(path.absolute()), digest.fingerprint)] = digest


def known_digest(landing_file: LandingFile) -> FileDigest | None:
    """The digest of the file as it is now, if this process has one (no read)."""
    try:
        fingerprint = landing_file.fingerprint()
    except OSError:
        return None
    return _DIGESTS.get((str(landing_file.path.absolute()), fingerprint))


def file_digest(landing_file: LandingFile) -> FileDigest:
    """sha256 and line count of a landing file in one streaming pass, or the digest this process
    already has for the file's current fingerprint."""
    known = known_digest(landing_file)
    if known is not None:
        return known
    before = landing_file.fingerprint()
    digest = hashlib.sha256()
    newlines = 0
    last = b"\n"
    size = 0
    with landing_file.path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    HASH_PASSES[str(landing_file.path.absolute())] += 1
    result = FileDigest(before, digest.hexdigest(), size, newlines + (0 if last == b"\n" else 1))
    if landing_file.fingerprint() == before and size == int(before.split("-", 1)[0]):
        remember_digest(landing_file.path, result)  # not a file that changed while it was read
    return result


def latest_load_date() -> date:
    """The newest load date that has a partition: today in UTC (the partitions' time zone)."""
    return datetime.now(UTC).date()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _name_pattern(feed: Feed) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(feed.file_prefix)}_{_DATE_RE}\.{re.escape(feed.extension)}$", re.ASCII)


def parse_landing_name(feed: Feed, name: str) -> date | None | str:
    """The load date in a file name; None if the name is not of the feed's form; a reason string if
    the form matches but the date is not a real calendar date."""
    match = _name_pattern(feed).match(name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group("date"))
    except ValueError:
        return f"{match.group('date')} is not a real calendar date"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def file_problem(path: Path, resolved_root: Path) -> str | None:
    """Why `path` cannot be a landing file whatever its name: it does not resolve to a regular file
    inside the landing root (a symbolic link out of it, a directory, a pipe, a dangling link)."""
    try:
        resolved = path.resolve(strict=True)
        mode = os.stat(resolved).st_mode
    except (OSError, RuntimeError):  # dangling or looping link, vanished, unreadable directory
        return "a symbolic link that leads nowhere" if path.is_symlink() else "cannot be read"
    if not _inside(resolved, resolved_root):
        return "resolves to a file outside the landing directory (symbolic link); not read"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def scan_feed(
    landing_root: Path, feed: Feed, *, today: date | None = None
) -> tuple[list[LandingFile], list[IgnoredFile]]:
    """Landing files of one feed, sorted by load date, and the other files found beside them, each with
    why it is ignored. A landing file is a regular file whose real path is inside the landing root and
    whose name is `<prefix>_YYYY-MM-DD.<ext>` (ASCII digits) with a real calendar date no later than
    `today` (default: latest_load_date()); a future-dated file waits for its day."""
    directory = landing_root / feed.directory
    found: list[LandingFile] = []
    ignored: list[IgnoredFile] = []
    if not directory.is_dir():
        return found, ignored
    root = landing_root.resolve()
    newest = today or latest_load_date()
    for path in sorted(directory.iterdir()):
        relative = path.relative_to(landing_root).as_posix()
        parsed = parse_landing_name(feed, path.name)
        problem = file_problem(path, root)
        if problem is not None:
            if parsed is not None or not path.is_dir():  # a sub-directory with a foreign name is no news
                ignored.append(IgnoredFile(path, problem, relative))
            continue
        if isinstance(parsed, date):
            if parsed > newest:
                ignored.append(
                    IgnoredFile(
                        path,
                        f"load date {parsed} is in the future (partitions exist up to {newest}); "
                        "it loads on that day",
                        relative,
                    )
                )
                continue
            found.append(LandingFile(feed=feed.name, path=path, relative_path=relative, load_date=parsed))
        elif parsed is None:
            ignored.append(
                IgnoredFile(path, f"name is not {feed.file_prefix}_YYYY-MM-DD.{feed.extension}", relative)
            )
        else:
            ignored.append(IgnoredFile(path, f"looks like a landing file but {parsed}", relative))
    found.sort(key=lambda f: f.load_date)
    return found, ignored


def scan_landing_with_ignored(
    landing_root: Path, feeds: Iterable[str] | None = None
) -> tuple[dict[str, list[LandingFile]], list[IgnoredFile]]:
    """Landing files of every feed (or the named ones), by feed name, and every ignored file."""
    dictionary = load_dictionary()
    names = list(feeds) if feeds is not None else list(dictionary.feeds)
    files: dict[str, list[LandingFile]] = {}
    ignored: list[IgnoredFile] = []
    for name in names:
        files[name], feed_ignored = scan_feed(landing_root, dictionary.feeds[name])
        ignored += feed_ignored
    return files, ignored


def scan_landing(landing_root: Path, feeds: Iterable[str] | None = None) -> dict[str, list[LandingFile]]:
    """Landing files of every feed (or the named ones), by feed name."""
    return scan_landing_with_ignored(landing_root, feeds)[0]


def files_in_window(files: Iterable[LandingFile], start: date, end: date) -> list[LandingFile]:
    """Files whose load date is in the half-open window [start, end)."""
    return [f for f in files if start <= f.load_date < end]


def earliest_load_date(landing_root: Path) -> date | None:
    """The earliest load date of any landing file (None: no landing files), from names only: cheap
    enough for import time (the partitions' start, aca_warehouse/partitions.py)."""
    dates = [files[0].load_date for files in scan_landing(landing_root).values() if files]
    return min(dates, default=None)
