"""Seed-data generator: writes the seven landing feeds of the contract, with optional injected defects and a manifest.

    from aca_warehouse.generator import generate, simulate_day
    summary = generate(Path("data/landing"), members=2000, days=120, defect_rate=0.02)
    simulate_day(Path("data/landing"))          # drop the next day's files

See docs/GENERATOR.md for the parameters, the manifest format and what is modelled.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aca_warehouse.errors import GeneratorError

if TYPE_CHECKING:  # the engine (numpy, pandas, faker) is imported only when a generation runs
    from aca_warehouse.generator.engine import GenerationParams, GenerationSummary

STATE_FILE = ".generator.json"

MAX_MEMBERS = 2_000_000
MAX_DAYS = 3 * 366
_LANDING_NAME = re.compile(r"^(?P<prefix>[a-z_]+)_(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|jsonl)$")


def generate(
    out_dir: Path,
    *,
    members: int = 2000,
    start: date = date(2025, 11, 1),
    days: int = 120,
    seed: int = 42,
    defect_rate: float = 0.0,
    malformed_file: bool = False,
    manifest_path: Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> GenerationSummary:
    """Write every landing file for load dates start .. start + days - 1 under out_dir.

    The manifest (ground truth of injected defects and warnings) goes next to the landing
    directory (`<out_dir>.manifest.json`) unless manifest_path says otherwise; the generation
    parameters go to `<out_dir>/.generator.json` so that simulate_day can continue the series.
    """
    from aca_warehouse.generator.engine import GenerationParams, default_manifest_path, run_generation

    params = GenerationParams(
        members=members,
        start=start,
        days=days,
        seed=seed,
        defect_rate=defect_rate,
        malformed_file=malformed_file,
    )
    _validate(params)
    out_dir = Path(out_dir)
    manifest = Path(manifest_path) if manifest_path else default_manifest_path(out_dir)
    _check_manifest_outside(out_dir, manifest)
    existing = _landing_files(out_dir)
    if existing:
        if not overwrite:
            raise GeneratorError(
                f"{out_dir} already holds {len(existing)} landing file(s) (e.g. {existing[0]}); generate into an "
                "empty directory, pass overwrite=True / --overwrite to replace them, or use simulate-day to add a day"
            )
        for path in existing:
            path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = run_generation(params, out_dir, manifest, write_day=lambda d: True, progress=progress)
    _save_state(out_dir, params, manifest)
    return summary


def simulate_day(landing_dir: Path, *, days: int = 1, progress: bool = True) -> GenerationSummary:
    """Add the next `days` load dates to a landing directory made by generate (existing files are never rewritten)."""
    from aca_warehouse.generator.engine import GenerationParams, run_generation

    landing_dir = Path(landing_dir)
    state_path = landing_dir / STATE_FILE
    if not state_path.exists():
        raise GeneratorError(
            f"{landing_dir} was not made by `generate` (no {STATE_FILE}); run generate first"
        )
    if days < 1:
        raise GeneratorError(f"--days must be at least 1, got {days}")
    try:
        state = json.loads(state_path.read_text())
        old = GenerationParams.from_json(state["params"])
        manifest = Path(state["manifest_path"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GeneratorError(f"{state_path} is not a generator state file: {exc}") from exc
    new = GenerationParams(
        members=old.members,
        start=old.start,
        days=old.days + days,
        seed=old.seed,
        defect_rate=old.defect_rate,
        malformed_file=old.malformed_file,
    )
    _validate(new)
    first_new = old.last_load + timedelta(days=1)
    summary = run_generation(
        new, landing_dir, manifest, write_day=lambda d: d >= first_new, progress=progress
    )
    _save_state(landing_dir, new, manifest)
    return summary


def _validate(p: GenerationParams) -> None:
    if not 1 <= p.members <= MAX_MEMBERS:
        raise GeneratorError(f"--members must be between 1 and {MAX_MEMBERS:,}, got {p.members}")
    if not 1 <= p.days <= MAX_DAYS:
        raise GeneratorError(f"--days must be between 1 and {MAX_DAYS}, got {p.days}")
    if not 0.0 <= p.defect_rate < 0.5:
        raise GeneratorError(f"--defect-rate is a fraction of rows in [0, 0.5), got {p.defect_rate}")
    if p.malformed_file:
        from aca_warehouse.generator.engine import malformed_date

        if malformed_date(p) is None:
            raise GeneratorError(
                "--malformed-file needs a window with a Saturday or Sunday (the malformed premiums file is "
                "dated on the first weekend day, when no premiums post); use --days 7 or more"
            )
    if not date(2015, 1, 1) <= p.start <= date(2090, 1, 1):
        raise GeneratorError(f"--start must be a date between 2015-01-01 and 2090-01-01, got {p.start}")
    _check_memory(p)


# The generator simulates the whole window in memory: measured 3.4 GB peak for 100,000 members x
# 365 days (2026-12, 2 cores), i.e. about 34 KB per member-year.
BYTES_PER_MEMBER_YEAR = 34_000


def estimated_peak_bytes(p: GenerationParams) -> int:
    return int(p.members * max(p.days, 30) / 365 * BYTES_PER_MEMBER_YEAR)


def _check_memory(p: GenerationParams) -> None:
    """Refuse a window that would not fit in this machine's memory, instead of swapping or being killed."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not available on this platform: do not guess
        return
    needed = estimated_peak_bytes(p)
    if needed > 0.8 * total:
        raise GeneratorError(
            f"{p.members:,} members x {p.days} days would need about {needed / 1e9:.1f} GB of memory "
            f"(the generator simulates the whole window in memory; this machine has {total / 1e9:.1f} GB). "
            "Generate fewer members or days; for benchmark volumes, `python -m bench.replicate` makes "
            "disjoint copies of a generated population"
        )


def _check_manifest_outside(out_dir: Path, manifest: Path) -> None:
    try:
        manifest.resolve().relative_to(out_dir.resolve())
    except ValueError:
        return
    raise GeneratorError(f"the manifest {manifest} must not be inside the landing directory {out_dir}")


def _landing_files(out_dir: Path) -> list[Path]:
    """Files under out_dir that look like landing files of the seven feeds."""
    from aca_warehouse.generator.feeds import FEEDS

    found: list[Path] = []
    for feed in FEEDS:
        folder = out_dir / feed.directory
        if folder.is_dir():
            found.extend(
                sorted(
                    p
                    for p in folder.iterdir()
                    if _LANDING_NAME.match(p.name) and p.name.startswith(feed.prefix + "_")
                )
            )
    return found


def _save_state(out_dir: Path, params: GenerationParams, manifest: Path) -> None:
    state = {
        "generator_state_version": 1,
        "params": params.to_json(),
        "manifest_path": str(manifest.resolve()),
    }
    (out_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def __getattr__(name: str) -> Any:
    if name == "GenerationSummary":
        from aca_warehouse.generator.engine import GenerationSummary

        return GenerationSummary
    raise AttributeError(name)


__all__ = ["GenerationSummary", "generate", "simulate_day"]
