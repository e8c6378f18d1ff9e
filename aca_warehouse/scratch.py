"""Private scratch directories in the system temp folder, and the clean-up of those a killed run left.

Three kinds of scratch hold sensitive data for a moment: the staging loader's normalized copy of the
landing files (PHI) on DuckDB, lake mode's Parquet files of staging rows on their way to an object store
(aca_warehouse/lake.py), and dbt's target and log files (no secret: the SQL reads the member-key
secret from the session, see dbt/macros/pseudonym.sql). Each is created 0700 with the owning
process id in its name (`<prefix><pid>-...`) and removed when its step ends; a process killed before
that (kill -9, out of memory) leaves it behind, so every run starts by removing the scratch
directories of processes that no longer exist (`clean_stale_scratch_dirs`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DBT_SCRATCH_PREFIX = "aca-dbt-"
STAGING_SCRATCH_PREFIX = "aca_staging_"
LAKE_SCRATCH_PREFIX = "aca_lake_"  # lake mode: Parquet files of staging rows on their way to an object store
SCRATCH_PREFIXES = (DBT_SCRATCH_PREFIX, STAGING_SCRATCH_PREFIX, LAKE_SCRATCH_PREFIX)
# A scratch directory named before the owner's process id was part of the name: removed once this old.
_UNATTRIBUTED_SECONDS = 6 * 3600


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale_scratch_dirs(root: Path | None = None) -> list[Path]:
    """Remove this user's scratch directories (every prefix of SCRATCH_PREFIXES) in `root` (default:
    the system temp folder) whose process no longer exists; never a symbolic link. What was removed."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    now = time.time()
    for prefix in SCRATCH_PREFIXES:
        named = re.compile(rf"^{re.escape(prefix)}(?P<pid>[0-9]+)-")
        for path in root.glob(f"{prefix}*"):
            try:
                info = path.lstat()
            except OSError:
                continue
            if path.is_symlink() or not path.is_dir() or info.st_uid != os.getuid():
                continue
            owner = named.match(path.name)
            if owner and _process_alive(int(owner.group("pid"))):
                continue
            if not owner and now - info.st_mtime < _UNATTRIBUTED_SECONDS:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def new_scratch_dir(prefix: str) -> Path:
    """A new private (0700) directory `<prefix><pid>-XXXX` in the system temp folder, after removing
    the stale ones a killed process left."""
    clean_stale_scratch_dirs()
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


@contextmanager
def private_scratch_dir(prefix: str) -> Iterator[str]:
    """A private scratch directory for the duration of the block (removed after, even on error)."""
    path = new_scratch_dir(prefix)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
