"""Helpers for tests that drive a real Dagster webserver: free ports, polling, GraphQL calls."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import requests

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

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path

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

    def wait_for_run(self, run_id: str, timeout: float) -> None:
        def succeeded() -> bool:
            status = next(r["status"] for r in self.runs() if r["runId"] == run_id)
            if status in TERMINAL_FAILURES:
                raise AssertionError(f"run {run_id} ended {status}; log: {self.log_tail()}")
            return status == "SUCCESS"

        wait_for(succeeded, timeout, f"run {run_id} to succeed")


RUNS = """
{ runsOrError(limit: 100) { ... on Runs { results { runId status tags { key value } } } } }"""
