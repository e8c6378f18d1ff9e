"""Benchmark of the seed-data generator: 100,000 members over one year, wall time and rows per second per feed.

Run: `uv run python bench/bench_generator.py [--members N] [--days D]`; writes bench/results/generator.json.
Not a test: it takes about a minute and needs a few GB of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from aca_warehouse.generator import generate

RESULTS = Path(__file__).resolve().parent / "results" / "generator.json"


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the parallel file writers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 1))
    parser.add_argument("--defect-rate", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aca-bench-") as tmp:
        landing = Path(tmp) / "landing"
        load_before = os.getloadavg()
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        summary = generate(
            landing,
            members=args.members,
            start=args.start,
            days=args.days,
            defect_rate=args.defect_rate,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    result = {
        "members": args.members,
        "days": args.days,
        "start": args.start.isoformat(),
        "defect_rate": args.defect_rate,
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "phase_seconds": {k: round(v, 2) for k, v in summary.phase_seconds.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "files": summary.files_total,
        "bytes": size,
        "rows_by_feed": summary.rows_by_feed,
        "rows_per_second_by_feed": {k: round(v / seconds) for k, v in summary.rows_by_feed.items()},
        "rows_total": sum(summary.rows_by_feed.values()),
        "rows_per_second_total": round(sum(summary.rows_by_feed.values()) / seconds),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
