"""Helpers for tests that drive a real Dagster webserver: `dagster dev`, free ports, polling, GraphQL.

The `dagster_dev` fixture (conftest.py) starts one `dagster dev` per test session for the modules
marked `xdist_group("webserver")` (test_webserver_smoke.py, test_ui_browser.py), which
`pytest -n 2 --dist loadgroup` runs on the same worker, so they share it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANDING_SENSOR = "landing_files_sensor"

TERMINAL_FAILURES = ("FAILURE", "CANCELED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until `predicate()` is true; connection hiccups are retried, assertion errors propagate."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class DagsterDev:
    """A running `dagster dev` and a GraphQL client for it."""

    def __init__(self, port: int, log_path: Path, landing: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.landing = landing  # where a test may drop a file for the sensor

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"http://127.0.0.1:{self.port}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=60,
        )
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def runs(self) -> list[dict]:
        data = self.graphql(RUNS)["runsOrError"]["results"]
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in data]

    def sensor_runs(self) -> list[dict]:
        """Runs the landing sensor requested."""
        return [r for r in self.runs() if r["tags"].get("dagster/sensor_name") == LANDING_SENSOR]

    def wait_for_run(self, run_id: str, timeout: float) -> None:
        def succeeded() -> bool:
            status = next(r["status"] for r in self.runs() if r["runId"] == run_id)
            if status in TERMINAL_FAILURES:
                raise AssertionError(f"run {run_id} ended {status}; log: {self.log_tail()}")
            return status == "SUCCESS"

        wait_for(succeeded, timeout, f"run {run_id} to succeed")


RUNS = """
{ runsOrError(limit: 100) { ... on Runs { results { runId status tags { key value } } } } }"""


STOP_SECONDS = 30


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies aside: this machine's PID 1 may not reap them)."""
    import psutil

    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@contextmanager
def dagster_dev_running(workdir: Path, landing: Path) -> Iterator[DagsterDev]:
    """`dagster dev` on 127.0.0.1, started as `make ui` starts it (`aca-warehouse ui`, under a parent
    that ignores SIGINT as `uv run` does), in its own process group, against a DuckDB file and a
    DAGSTER_HOME under `workdir` and the landing files in `landing`.

    On exit it gets SIGTERM, as `kill` of `make ui` gives it, and the whole group (webserver, daemon,
    code server, runs) must be gone within STOP_SECONDS, else the group is killed and it is an error.
    """
    port = free_port()
    home = workdir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.dev.yaml").read_text())
    env = {
        # no ACA_PARTITION_START: the partitions start where the demo landing files start
        **{k: v for k, v in os.environ.items() if k != "ACA_PARTITION_START"},
        "DAGSTER_HOME": str(home),
        "ACA_WAREHOUSE": "duckdb",
        "ACA_DUCKDB_PATH": str(workdir / "smoke.duckdb"),
        "ACA_LANDING_DIR": str(landing),
        "ACA_REPORTS_DIR": str(workdir / "reports"),
        "DAGSTER_EVENT_BATCH_SIZE": "1000",
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    }
    log_path = workdir / "dagster_dev.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "aca_warehouse.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `uv run` starts it
        )
        stopped_in: float | None = None
        try:
            wait_for(
                lambda: requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok,
                180,
                "the webserver",
            )
            yield DagsterDev(port, log_path, landing)
        finally:
            process.send_signal(signal.SIGTERM)  # the process only, as make passes it on: not the group
            start = time.monotonic()
            while time.monotonic() - start < STOP_SECONDS:
                if process.poll() is not None and not _group_alive(process.pid):
                    stopped_in = time.monotonic() - start
                    break
                time.sleep(0.2)
            else:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if stopped_in is None:
        raise AssertionError(f"dagster dev did not stop within {STOP_SECONDS}s of SIGTERM (killed)")
    print(f"dagster dev stopped {stopped_in:.1f}s after SIGTERM")
