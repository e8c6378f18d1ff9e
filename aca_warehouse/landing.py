"""Landing-file discovery: which files are landing files, their feed, load date and fingerprint."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aca_warehouse.contract import Feed, load_dictionary

_DATE_RE = r"(?P<date>\d{4}-\d{2}-\d{2})"


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
    """A file found in a feed directory that is not a landing file, and why."""

    path: Path
    reason: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _name_pattern(feed: Feed) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(feed.file_prefix)}_{_DATE_RE}\.{re.escape(feed.extension)}$")


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


def scan_feed(landing_root: Path, feed: Feed) -> tuple[list[LandingFile], list[IgnoredFile]]:
    """Landing files of one feed, sorted by load date, and the other files found beside them."""
    directory = landing_root / feed.directory
    found: list[LandingFile] = []
    ignored: list[IgnoredFile] = []
    if not directory.is_dir():
        return found, ignored
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        parsed = parse_landing_name(feed, path.name)
        if isinstance(parsed, date):
            found.append(
                LandingFile(
                    feed=feed.name,
                    path=path,
                    relative_path=path.relative_to(landing_root).as_posix(),
                    load_date=parsed,
                )
            )
        elif parsed is None:
            ignored.append(IgnoredFile(path, f"name is not {feed.file_prefix}_YYYY-MM-DD.{feed.extension}"))
        else:
            ignored.append(IgnoredFile(path, parsed))
    found.sort(key=lambda f: f.load_date)
    return found, ignored


def scan_landing(landing_root: Path, feeds: Iterable[str] | None = None) -> dict[str, list[LandingFile]]:
    """Landing files of every feed (or the named ones), by feed name."""
    dictionary = load_dictionary()
    names = list(feeds) if feeds is not None else list(dictionary.feeds)
    return {name: scan_feed(landing_root, dictionary.feeds[name])[0] for name in names}


def files_in_window(files: Iterable[LandingFile], start: date, end: date) -> list[LandingFile]:
    """Files whose load date is in the half-open window [start, end)."""
    return [f for f in files if start <= f.load_date < end]
