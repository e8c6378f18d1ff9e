"""Smoke test of the real UI stack: `dagster dev` (webserver + daemon) serves the code location and runs a partition."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def dagster_dev(tmp_path: Path, demo_landing: Path):  # noqa: ANN201
    """`dagster dev` on 127.0.0.1 in its own process group, against a temp DuckDB and DAGSTER_HOME."""
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.dev.yaml").read_text())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ACA_WAREHOUSE": "duckdb",
        "ACA_DUCKDB_PATH": str(tmp_path / "smoke.duckdb"),
        "ACA_LANDING_DIR": str(demo_landing),
    }
    log = (tmp_path / "dagster_dev.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok, 120, "the webserver"
        )
        yield port, tmp_path / "dagster_dev.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_webserver_lists_assets_and_runs_a_partition(dagster_dev, demo_landing_first_date: str) -> None:
    port, log_path = dagster_dev
    query = "{ assetNodes { assetKey { path } groupName description } }"
    nodes = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30).json()
    asset_nodes = nodes["data"]["assetNodes"]
    groups = {n["groupName"] for n in asset_nodes}
    assert {"landing", "staging", "core", "marts"} <= groups
    assert all(n["description"] for n in asset_nodes)

    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    run_id = client.submit_job_execution(
        "load_everything", tags={"dagster/partition": demo_landing_first_date}
    )

    def finished() -> bool:
        status = client.get_run_status(run_id).value
        if status in ("FAILURE", "CANCELED"):
            raise AssertionError(f"run {run_id} ended {status}; log: {log_path.read_text()[-3000:]}")
        return status == "SUCCESS"

    try:
        _wait_for(finished, 300, f"run {run_id} to succeed")
    except DagsterGraphQLClientError as exc:  # pragma: no cover - diagnostic
        raise AssertionError(f"{exc}; log: {log_path.read_text()[-3000:]}") from exc
