"""Benchmark entry point (`make bench`, `make bench-quick`): figures to bench/results/ and docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import psutil

from bench.measure import Measurement, run_measured, timed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "BENCHMARKS.md"
CLI = [sys.executable, "-m", "aca_warehouse.cli"]
# The generator simulates a window in memory (3.4 GB at 100k members x 1 year); beyond this many
# members a scale point is made of disjoint copies of a REPLICA_BASE_MEMBERS population.
GENERATE_MAX_MEMBERS = 200_000
REPLICA_BASE_MEMBERS = 100_000
BENCH_MEMBER_KEY_SECRET = "bench-run-member-key-secret-0123456789"


@dataclass
class ScaleResult:
    """Every figure measured at one scale point."""

    members: int
    days: int
    start: str
    generator_seconds: float = 0.0
    generator_rows: int = 0  # rows the generator itself wrote (the base population when replicated)
    replicated_copies: int = 1
    replicate_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    full_load: dict | None = None
    floor_seconds: float | None = None
    backfill_again: dict | None = None
    ui_backfill: dict | None = None
    incremental_day: dict | None = None
    incremental_day_short: dict | None = None
    queries: dict | None = None
    peer: dict | None = None
    notes: list[str] = field(default_factory=list)
    measured: str = ""  # date the scale point was measured
    commit: str = ""  # the project's commit it was measured on


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return ""
    return out.stdout.strip()


def previous_results(path: Path) -> dict[tuple[int, int], ScaleResult]:
    """Scale points measured by earlier runs (kept in the report unless measured again)."""
    if not path.exists():
        return {}
    known = set(ScaleResult.__dataclass_fields__)
    scales = json.loads(path.read_text()).get("scales", [])
    kept = [ScaleResult(**{k: v for k, v in s.items() if k in known}) for s in scales]
    return {(r.members, r.days): r for r in kept}


def _count_rows(landing: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in landing.rglob("*_????-??-??.*"):
        feed = path.parent.name
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        counts[feed] = counts.get(feed, 0) + lines - (0 if path.suffix == ".jsonl" else 1)
    return dict(sorted(counts.items()))


def _env(work: Path, landing: Path, db_name: str = "warehouse.duckdb") -> dict[str, str]:
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    return {
        "ACA_LOG_LEVEL": "DEBUG",  # step timings in the logs (step_seconds)
        "ACA_WAREHOUSE": "duckdb",
        "ACA_DUCKDB_PATH": str(work / db_name),
        "ACA_LANDING_DIR": str(landing),
        "DAGSTER_HOME": str(home),
        # synthetic data: a fixed secret of the bench's own unless the caller's environment has one
        "ACA_MEMBER_KEY_SECRET": os.environ.get("ACA_MEMBER_KEY_SECRET") or BENCH_MEMBER_KEY_SECRET,
    }


def _load(
    work: Path, landing: Path, label: str, extra: list[str] | None = None, db: str = "warehouse.duckdb"
) -> Measurement:
    m = run_measured(
        [*CLI, "run", "--quiet", "--landing", str(landing), *(extra or [])],
        _env(work, landing, db),
        work / f"{label}.log",
    )
    if m.returncode != 0:
        raise RuntimeError(f"{label} failed; see {work / (label + '.log')}")
    return m


_STEP_DONE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9hms.]+)\.')
_DURATION_PART = re.compile(r"([0-9.]+)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def step_seconds(log: Path) -> dict[str, float]:
    """Wall time of each Dagster step of a run, from its log, slowest first: the load's profile."""
    steps: dict[str, float] = {}
    for match in _STEP_DONE.finditer(log.read_text(errors="replace")):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(match.group(2)))
        steps[match.group(1)] = steps.get(match.group(1), 0.0) + seconds
    return dict(sorted(steps.items(), key=lambda kv: -kv[1]))


_DBT_NODE_DONE = re.compile(
    r"\d+ of \d+ (?:OK created|PASS|WARN \d+|ERROR creating|FAIL \d+) "
    r"(?:sql \w+ model |data test )?([\w.]+) \.+ \[.*? in ([0-9.]+)s\]"
)


def dbt_node_seconds(log: Path, top: int = 12) -> dict[str, float]:
    """Wall time of dbt's slowest nodes (models and tests) in a run, from dbt's own lines in the log."""
    nodes: dict[str, float] = {}
    for match in _DBT_NODE_DONE.finditer(log.read_text(errors="replace")):
        nodes[match.group(1)] = nodes.get(match.group(1), 0.0) + float(match.group(2))
    ranked = sorted(nodes.items(), key=lambda kv: -kv[1])
    return {"all_nodes": round(sum(nodes.values()), 2), **dict(ranked[:top])}


def _profile(log: Path) -> dict:
    return {"step_seconds": step_seconds(log), "dbt_node_seconds": dbt_node_seconds(log)}


def _one_more_day(work: Path, landing: Path, start: date, history_days: int, label: str) -> Measurement:
    """Load `history_days` days into a fresh warehouse, then measure the next day alone."""
    db = f"incremental_{label}.duckdb"
    day = start + timedelta(days=history_days)
    _load(work, landing, f"history_{label}", ["--to", (day - timedelta(days=1)).isoformat()], db=db)
    return _load(
        work, landing, f"one_day_{label}", ["--from", day.isoformat(), "--to", day.isoformat()], db=db
    )


def floor_seconds(landing: Path, work: Path, before: date | None = None) -> float:
    """The raw-engine floor: the same claim files read by DuckDB's read_csv into one table
    (the files of load dates before `before`, when given: those the full load read)."""
    con = duckdb.connect(str(work / "floor.duckdb"))
    files = sorted((landing / "claims_system" / "claims").glob("claims_*.csv"))
    if before is not None:
        files = [f for f in files if f.stem.rsplit("_", 1)[-1] < before.isoformat()]
    listing = ", ".join(f"'{f}'" for f in files)
    seconds, _ = timed(
        con.execute,
        f"create or replace table claims as select * from read_csv([{listing}], all_varchar=true)",
    )
    con.close()
    return seconds


def sample_queries() -> list[str]:
    """The README's sample queries (```sql blocks), run as written."""
    text = (ROOT / "README.md").read_text()
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", text, flags=re.S)]


def query_latency(db_path: Path, repeats: int) -> dict:
    con = duckdb.connect(str(db_path), read_only=True)
    timings: list[float] = []
    per_query: list[dict] = []
    for sql in sample_queries():
        runs = []
        for _ in range(repeats):
            seconds, _ = timed(lambda s=sql: con.execute(s).fetchall())
            runs.append(seconds * 1000)
        timings += runs
        per_query.append({"query": sql.splitlines()[0][:80], "p50_ms": statistics.median(runs)})
    con.close()
    if not timings:
        return {"p50_ms": None, "p95_ms": None, "queries": []}
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[max(0, int(len(timings) * 0.95) - 1)],
        "queries": per_query,
    }


def bench_scale(
    members: int, days: int, start: date, work: Path, quick: bool, peer: bool, light: bool = False
) -> ScaleResult:
    """Measure one scale point. `light` skips the two whole-history re-runs (UI backfill, backfill
    again), which at the largest scale would each cost as much as the full load again."""
    from aca_warehouse.generator import generate

    result = ScaleResult(
        members=members,
        days=days,
        start=start.isoformat(),
        measured=time.strftime("%Y-%m-%d"),
        commit=_commit(),
    )
    landing = work / "landing"
    print(f"== {members:,} members x {days} days", flush=True)
    if members > GENERATE_MAX_MEMBERS:  # the generator holds the window in memory: replicate a base
        from bench.replicate import replicate

        result.replicated_copies = -(-members // REPLICA_BASE_MEMBERS)
        base = work / "base_landing"
        result.generator_seconds, _ = timed(
            generate, base, members=REPLICA_BASE_MEMBERS, start=start, days=days, seed=42, progress=False
        )
        result.generator_rows = sum(_count_rows(base).values())
        result.replicate_seconds, _ = timed(replicate, base, landing, result.replicated_copies)
        shutil.rmtree(base)
        result.notes.append(
            f"{result.replicated_copies} disjoint copies of a generated {REPLICA_BASE_MEMBERS:,}-member "
            f"population (bench/replicate.py), written in {result.replicate_seconds:.0f}s"
        )
    else:
        result.generator_seconds, _ = timed(
            generate, landing, members=members, start=start, days=days, seed=42, progress=False
        )
    result.rows = _count_rows(landing)
    result.generator_rows = result.generator_rows or sum(result.rows.values())
    print(
        f"   {sum(result.rows.values()):,} landing rows; generator {result.generator_seconds:.1f}s",
        flush=True,
    )

    # The full load is every load date but the last; the last is then "one more day after all
    # history" on the same warehouse (a second whole-history load only for that would double the
    # cost of a scale point). The floor reads the same claim files as the full load.
    last = start + timedelta(days=days - 1)
    full = _load(work, landing, "full_load", ["--to", (last - timedelta(days=1)).isoformat()])
    result.full_load = {**asdict(full), **_profile(work / "full_load.log")}
    result.floor_seconds = floor_seconds(landing, work, before=last)
    print(
        f"   full load {full.seconds:.1f}s (peak {full.peak_rss_mb:.0f} MB); floor {result.floor_seconds:.2f}s",
        flush=True,
    )

    day_long = _load(work, landing, "one_day_long", ["--from", last.isoformat(), "--to", last.isoformat()])
    result.incremental_day = {
        "history_days": days - 1,
        **asdict(day_long),
        **_profile(work / "one_day_long.log"),
    }
    # Backfill as the UI launches it: every asset over every load date, through dagster dev's
    # daemon, on a fresh warehouse: the cost of rebuilding history compared with the CLI full load.
    if light:
        result.notes.append("light point: UI backfill and backfill-again not run (see the smaller scales)")
    else:
        _history_reruns(result, work, landing, start, last)
    _day_after_a_month(result, work, landing, start, days)
    result.queries = query_latency(work / "warehouse.duckdb", repeats=5 if quick else 20)
    if peer:
        from bench.peer import peer_baseline

        result.peer = peer_baseline(landing, work)
    return result


def _history_reruns(result: ScaleResult, work: Path, landing: Path, start: date, last: date) -> None:
    days = result.days
    from bench.ui_backfill import ui_backfill

    result.ui_backfill = asdict(ui_backfill(landing, work, start, last))
    print(
        f"   UI backfill of {days} days: {result.ui_backfill['seconds']:.1f}s "
        f"({result.ui_backfill['runs']} run(s), run itself {result.ui_backfill['run_seconds']:.1f}s, "
        f"{result.ui_backfill['status']})",
        flush=True,
    )

    # Backfill again: every load date re-run as one run over the loaded warehouse (unchanged files
    # are skipped by staging, everything downstream is recomputed).
    again = _load(work, landing, "backfill_again", ["--from", start.isoformat(), "--to", last.isoformat()])
    result.backfill_again = {**asdict(again), "step_seconds": step_seconds(work / "backfill_again.log")}
    print(f"   backfill of all {days} days again, one run: {again.seconds:.1f}s", flush=True)


def _day_after_a_month(result: ScaleResult, work: Path, landing: Path, start: date, days: int) -> None:
    """One more load date after about a month of history, on a fresh warehouse."""
    short_days = min(30, days - 2)
    day_short = _one_more_day(work, landing, start, short_days, "short")
    result.incremental_day_short = {
        "history_days": short_days,
        **asdict(day_short),
        **_profile(work / "one_day_short.log"),
    }
    long = (result.incremental_day or {}).get("seconds", 0.0)
    print(
        f"   one more day after {short_days} days: {day_short.seconds:.1f}s; after {days - 1} days: {long:.1f}s",
        flush=True,
    )


def _ratio(numerator: float, denominator: float | None, fmt: str = "{:.2f}") -> str:
    return fmt.format(numerator / denominator) if denominator else "n/a"


def _seconds_and_ratio(seconds: float, full: float) -> str:
    return f"{seconds:.1f} ({_ratio(seconds, full)}x)" if seconds else "not run"


def _peer_table(results: list[ScaleResult]) -> str:
    """Our full load next to the peer baseline (pandas + to_sql into PostgreSQL + dbt full refresh)."""
    rows = [r for r in results if r.peer]
    if not rows:
        return ""
    lines = [
        "Peer baseline: pandas read + `to_sql` into PostgreSQL, then `dbt build --full-refresh` of the same "
        "star and cubes (`bench/peer.py`); ours is the full load above, on the default DuckDB warehouse.",
        "",
        "| members | days | our full load s | peer load s | peer rebuild s | peer total s | peer peak MB | ours / peer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours = (r.full_load or {}).get("seconds", 0)
        peer = r.peer or {}
        total = peer.get("seconds", 0)
        ratio = f"{ours / total:.2f}" if total else "n/a"
        lines.append(
            f"| {r.members:,} | {r.days} | {ours:.1f} | {peer.get('load_seconds', 0):.1f} | "
            f"{peer.get('rebuild_seconds', 0):.1f} | {total:.1f} | {peer.get('peak_rss_mb', 0):.0f} | {ratio} |"
        )
    return "\n".join(lines)


def write_report(results: list[ScaleResult], quick: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = {
        "cores": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "quick": quick,
    }
    payload = {"machine": machine, "scales": [asdict(r) for r in results]}
    (RESULTS / ("bench_quick.json" if quick else "bench.json")).write_text(json.dumps(payload, indent=2))
    lines = [
        "| members | days | claim lines | generate rows/s | full load s | peak MB | floor s | load / floor "
        "| UI backfill s (/ full) | backfill again s (/ full) | one day s after ~30 d / all d (ratio) "
        "| query p50 / p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        claims = r.rows.get("claims", 0)
        full = (r.full_load or {}).get("seconds", 0)
        again = (r.backfill_again or {}).get("seconds", 0)
        short = (r.incremental_day_short or {}).get("seconds", 0)
        long = (r.incremental_day or {}).get("seconds", 0)
        q = r.queries or {}
        ui = (r.ui_backfill or {}).get("seconds", 0)
        lines.append(
            f"| {r.members:,} | {r.days} | {claims:,} | {_ratio(r.generator_rows, r.generator_seconds, '{:,.0f}')} "
            f"| {full:.1f} | {(r.full_load or {}).get('peak_rss_mb', 0):.0f} | {r.floor_seconds or 0:.2f} "
            f"| {_ratio(full, r.floor_seconds)}x | {_seconds_and_ratio(ui, full)} | {_seconds_and_ratio(again, full)} "
            f"| {short:.1f} / {long:.1f} ({_ratio(long, short)}x) "
            f"| {(q.get('p50_ms') or 0):.1f} / {(q.get('p95_ms') or 0):.1f} |"
        )
    table = "\n".join(lines)
    notes = [f"- {r.members:,} x {r.days}: {note}" for r in results for note in r.notes]
    if notes:
        table += "\n\n" + "\n".join(notes)
    peer_table = _peer_table(results)
    if peer_table:
        table += "\n\n" + peer_table
    marker = "<!-- results -->"
    doc = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{marker}\n{marker}\n"
    head, _, rest = doc.partition(marker)
    _, _, tail = rest.partition(marker)
    when = ", ".join(f"{r.members:,} x {r.days} on {r.measured or '?'} ({r.commit or '?'})" for r in results)
    header = (
        f"Measured on {machine['cores']} cores, {machine['memory_gb']} GB, Python {machine['python']} "
        f"({'quick mode' if quick else 'full run'}): {when}.\n\n"
    )
    if not quick:  # a quick run prints its table and keeps the measured figures in the doc
        DOC.write_text(f"{head}{marker}\n{header}{table}\n{marker}{tail}")
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small scales, a few minutes")
    parser.add_argument("--scales", help="comma list of members:days, e.g. 10000:365,100000:365")
    parser.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the peer baseline (pandas + to_sql + rebuild); default: at scales up to --peer-max-members",
    )
    parser.add_argument("--peer-max-members", type=int, default=100_000)
    parser.add_argument(
        "--light-above",
        type=int,
        default=500_000,
        help="above this many members, skip the UI backfill and backfill-again re-runs",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    parser.add_argument(
        "--fresh", action="store_true", help="report only this run's scales (default: keep earlier points)"
    )
    args = parser.parse_args(argv)
    if args.scales:
        scales = [tuple(int(x) for x in s.split(":")) for s in args.scales.split(",")]
    elif args.quick:
        scales = [(2000, 60), (5000, 120)]
    else:  # one and two years; 1M members x 1 year is about 19 million claim lines
        scales = [(10_000, 365), (10_000, 730), (100_000, 365), (1_000_000, 365)]
    earlier = {} if args.fresh or args.quick else previous_results(RESULTS / "bench.json")
    results: list[ScaleResult] = []

    def report() -> None:
        measured = {(r.members, r.days) for r in results}
        kept = [r for key, r in earlier.items() if key not in measured]
        write_report(sorted([*kept, *results], key=lambda r: (r.members, r.days)), args.quick)

    for members, days in scales:
        work = Path(tempfile.mkdtemp(prefix=f"aca_bench_{members}_{days}_"))
        try:
            # Start on 2025-01-01, or earlier when the range would run past today (partitions end today).
            start = min(date(2025, 1, 1), date.today() - timedelta(days=days))
            peer = (
                args.peer if args.peer is not None else (not args.quick and members <= args.peer_max_members)
            )
            results.append(
                bench_scale(members, days, start, work, args.quick, peer, light=members > args.light_above)
            )
            report()  # figures so far survive a later scale's failure
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    report()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
