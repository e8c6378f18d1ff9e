"""A backfill as the UI launches it: `dagster dev` (webserver + daemon), one asset backfill over a range.

What a user does to rebuild history: select every asset and a range of daily partitions,
"Materialize selected". The daemon turns it into runs (one, with the single-run backfill policy),
launched in a subprocess through the code location, on a fresh warehouse. Measured: seconds from
the launch request to the backfill's completion, the run's own duration, the number of runs, and
the peak RSS of the whole `dagster dev` process tree (the run's process included).

Run alone: `uv run python -m bench.ui_backfill --landing DIR --work DIR --from D --to D`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import psutil
import requests

from bench.measure import _tree_rss

ROOT = Path(__file__).resolve().parent.parent

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  }
}"""
STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 20) { runId status startTime endTime } }
  }
}"""


@dataclass
class BackfillMeasurement:
    seconds: float  # launch request -> backfill complete
    run_seconds: float  # the run's own start -> end, summed over its runs
    runs: int
    status: str
    partitions: int
    peak_rss_mb: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = requests.post(
        f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}}, timeout=120
    ).json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def ui_backfill(
    landing: Path, work: Path, start: date, end: date, timeout: float = 4 * 3600
) -> BackfillMeasurement:
    """Backfill every asset over [start, end] through `dagster dev` on a fresh DuckDB warehouse."""
    home = work / "ui_dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.dev.yaml").read_text())
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ACA_WAREHOUSE": "duckdb",
        "ACA_DUCKDB_PATH": str(work / "ui_backfill.duckdb"),
        "ACA_LANDING_DIR": str(landing),
        "ACA_SENSOR_DEFAULT_STATUS": "stopped",  # the backfill, not the sensor's catch-up, loads the files
        "DAGSTER_EVENT_BATCH_SIZE": "1000",
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    }
    log = (work / "ui_backfill.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        ps = psutil.Process(process.pid)
        while not stop.is_set():
            peak = max(peak, _tree_rss(ps))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _wait(lambda: bool(_graphql(port, "{ assetNodes { id } }")["assetNodes"]), 300, "the code location")
        keys = [n["assetKey"] for n in _graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]]
        days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        launched_at = time.perf_counter()
        launched = _graphql(
            port, LAUNCH, {"params": {"assetSelection": keys, "partitionNames": days, "title": "bench"}}
        )["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {launched}")
        state: dict = {}

        def done() -> bool:
            state.update(_graphql(port, STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"])
            return state["status"] not in ("REQUESTED", "CANCELING", "FAILING")

        _wait(done, timeout, "the backfill")
        seconds = time.perf_counter() - launched_at
        runs = state.get("runs") or []
        return BackfillMeasurement(
            seconds=seconds,
            run_seconds=sum((r["endTime"] or 0) - (r["startTime"] or 0) for r in runs),
            runs=len(runs),
            status=state["status"],
            partitions=len(days),
            peak_rss_mb=peak / 1e6,
        )
    finally:
        stop.set()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(asdict(ui_backfill(args.landing.resolve(), args.work.resolve(), args.start, args.end))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
