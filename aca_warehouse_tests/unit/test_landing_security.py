"""Landing files refused by their nature, before any load: links out of the landing directory, non-regular
files, files swapped after discovery; and what the sensor says about them (no warehouse, no run)."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aca_warehouse.contract import load_dictionary
from aca_warehouse.landing import scan_feed
from aca_warehouse.resources import LandingDirResource
from aca_warehouse.sensors.landing import plan_landing_runs

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
PROVIDERS = HANDMADE / "claims_system" / "providers" / "providers_2025-03-01.csv"
FEED_DIR = "claims_system/providers"
WINDOW = (date(2025, 1, 1), date(2100, 1, 1))
# Text planted in files that must not be read, or whose content must never be quoted in a message.
CANARY = "root:x:0:0:CANARY-7f3a:/root:/bin/bash"


def _landing(tmp_path: Path) -> Path:
    """A landing root with one good providers file (2025-03-01)."""
    root = tmp_path / "landing"
    (root / FEED_DIR).mkdir(parents=True)
    shutil.copy(PROVIDERS, root / FEED_DIR / PROVIDERS.name)
    return root


def _outside_csv(tmp_path: Path) -> Path:
    """A valid providers CSV outside the landing directory (another team's export, say)."""
    outside = tmp_path / "elsewhere" / "providers_export.csv"
    outside.parent.mkdir()
    shutil.copy(PROVIDERS, outside)
    return outside


def test_a_link_to_a_file_outside_the_landing_directory_is_not_a_landing_file(tmp_path: Path) -> None:
    root = _landing(tmp_path)
    link = root / FEED_DIR / "providers_2025-03-02.csv"
    link.symlink_to(_outside_csv(tmp_path))
    inside_link = root / FEED_DIR / "providers_2025-03-03.csv"
    inside_link.symlink_to(root / FEED_DIR / PROVIDERS.name)  # a link that stays inside is fine

    found, ignored = scan_feed(root, load_dictionary().feeds["providers"])

    assert [f.relative_path for f in found] == [
        f"{FEED_DIR}/providers_2025-03-01.csv",
        f"{FEED_DIR}/providers_2025-03-03.csv",
    ]
    reasons = {i.path.relative_to(root).as_posix(): i.reason for i in ignored}
    assert "outside the landing directory" in reasons[f"{FEED_DIR}/providers_2025-03-02.csv"]


def test_a_linked_feed_directory_pointing_elsewhere_loads_nothing(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "claims_system").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(PROVIDERS, elsewhere / PROVIDERS.name)
    (root / FEED_DIR).symlink_to(elsewhere, target_is_directory=True)

    found, ignored = scan_feed(root, load_dictionary().feeds["providers"])

    assert found == []
    assert [i.path.relative_to(root).as_posix() for i in ignored] == [f"{FEED_DIR}/providers_2025-03-01.csv"]


def test_non_regular_files_and_dangling_links_are_ignored_with_a_reason(tmp_path: Path) -> None:
    root = _landing(tmp_path)
    folder = root / FEED_DIR
    os.mkfifo(folder / "providers_2025-03-02.csv")  # reading it would block forever
    (folder / "providers_2025-03-03.csv").mkdir()
    (folder / "providers_2025-03-04.csv").symlink_to(tmp_path / "gone.csv")
    (folder / "providers_2025-03-05.csv").symlink_to("/etc/passwd")

    found, ignored = scan_feed(root, load_dictionary().feeds["providers"])

    assert [f.load_date for f in found] == [date(2025, 3, 1)]
    reasons = {i.path.name: i.reason for i in ignored}
    assert reasons["providers_2025-03-02.csv"] == "not a regular file"
    assert reasons["providers_2025-03-03.csv"] == "not a regular file"
    assert "leads nowhere" in reasons["providers_2025-03-04.csv"]
    assert "outside the landing directory" in reasons["providers_2025-03-05.csv"]


def test_the_sensor_names_what_it_ignores_and_requests_only_landing_files(tmp_path: Path) -> None:
    root = _landing(tmp_path)
    folder = root / FEED_DIR
    (folder / "providers_2025-03-02.csv").symlink_to(_outside_csv(tmp_path))
    shutil.copy(PROVIDERS, folder / "providers_2025-13-01.csv")
    future = datetime.now(UTC).date() + timedelta(days=3)
    shutil.copy(PROVIDERS, folder / f"providers_{future}.csv")
    past = time.time() - 3600
    for path in folder.iterdir():
        os.utime(path, (past, past), follow_symlinks=False)

    requests, _, notes = plan_landing_runs(LandingDirResource(landing_dir=str(root)), None, {"providers": []})

    assert [r.partition_key for r in requests] == ["2025-03-01"]
    ignored = sorted(n for n in notes if n.startswith("ignored "))
    assert len(ignored) == 3
    assert any(f"{FEED_DIR}/providers_2025-03-02.csv" in n and "outside" in n for n in ignored)
    assert any(f"{FEED_DIR}/providers_2025-13-01.csv" in n and "calendar" in n for n in ignored)
    assert any(f"providers_{future}.csv" in n and "future" in n for n in ignored)


def test_a_file_swapped_for_a_link_or_a_pipe_after_discovery_is_not_read(tmp_path: Path) -> None:
    """Discovery vetted the file; the reader checks again what it actually opened (a swap in between)."""
    from aca_warehouse.errors import LandingFileError
    from aca_warehouse.staging.reader import LandingFileReader

    root = _landing(tmp_path)
    feed = load_dictionary().feeds["providers"]
    (found,), _ = scan_feed(root, feed)
    found.path.unlink()
    found.path.symlink_to(_outside_csv(tmp_path))  # swapped after it was found
    with pytest.raises(LandingFileError, match="no longer a regular file inside the landing directory"):
        LandingFileReader(found.path, found.relative_path, feed)
    found.path.unlink()
    os.mkfifo(found.path)  # opening a pipe for reading would wait for a writer forever
    with pytest.raises(LandingFileError, match="no longer a regular file"):
        LandingFileReader(found.path, found.relative_path, feed)
