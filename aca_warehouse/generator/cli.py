"""The `generate` and `simulate-day` subcommands of the aca-warehouse command."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from aca_warehouse.errors import GeneratorError


def _default_landing() -> Path:
    try:
        from aca_warehouse.settings import load_settings

        return load_settings().landing_dir
    except Exception:  # settings unreadable: fall back to the documented default
        return Path("data/landing")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.02, got {text!r}") from exc
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"the defect rate is a fraction of rows in [0, 0.5), got {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `generate` and `simulate-day` to the aca-warehouse command."""
    gen = subparsers.add_parser(
        "generate",
        help="write a synthetic landing data set (all seven feeds) and its defect manifest",
        description="Write the seven landing feeds for load dates START .. START+DAYS-1. The manifest of injected "
        "defects goes next to the landing directory (<out>.manifest.json) unless --manifest says otherwise.",
    )
    gen.add_argument(
        "--out", type=Path, default=None, help="landing directory (default: ACA_LANDING_DIR or data/landing)"
    )
    gen.add_argument(
        "--members", type=_positive, default=2000, help="members enrolled at the start (default 2000)"
    )
    gen.add_argument(
        "--start", type=_date, default=date(2025, 11, 1), help="first load date (default 2025-11-01)"
    )
    gen.add_argument("--days", type=_positive, default=120, help="number of load dates (default 120)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument(
        "--defect-rate",
        type=_fraction,
        default=0.0,
        help="fraction of rows made defective, spread over all feeds (default 0)",
    )
    gen.add_argument(
        "--malformed-file",
        action="store_true",
        help="also write one premiums file that lacks a required column",
    )
    gen.add_argument("--manifest", type=Path, default=None, help="where to write the manifest")
    gen.add_argument("--overwrite", action="store_true", help="replace landing files already in --out")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=run_generate)

    sim = subparsers.add_parser(
        "simulate-day",
        help="add the next day's landing files to a directory made by `generate`",
        description="Continue a generated landing directory by DAYS more load dates; existing files are never rewritten.",
    )
    sim.add_argument(
        "--landing",
        type=Path,
        default=None,
        help="landing directory (default: ACA_LANDING_DIR or data/landing)",
    )
    sim.add_argument("--days", type=_positive, default=1, help="how many more load dates (default 1)")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    sim.set_defaults(func=run_simulate_day)


def run_generate(args: argparse.Namespace) -> int:
    from aca_warehouse.generator import generate

    out = args.out or _default_landing()
    summary = generate(
        out,
        members=args.members,
        start=args.start,
        days=args.days,
        seed=args.seed,
        defect_rate=args.defect_rate,
        malformed_file=args.malformed_file,
        manifest_path=args.manifest,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(summary)
    return 0


def run_simulate_day(args: argparse.Namespace) -> int:
    from aca_warehouse.generator import simulate_day

    landing = args.landing or _default_landing()
    summary = simulate_day(landing, days=args.days, progress=not args.no_progress)
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (`python -m aca_warehouse.generator.cli generate ...`)."""
    parser = argparse.ArgumentParser(prog="aca-warehouse")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GeneratorError as exc:
        print(f"aca-warehouse: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
