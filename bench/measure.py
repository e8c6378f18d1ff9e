"""Wall time and peak resident memory of a command and all its child processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Measurement:
    """One measured command: seconds, peak RSS summed over the process tree, exit code."""

    seconds: float
    peak_rss_mb: float
    returncode: int


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        procs = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def run_measured(cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Measurement:
    """Run `cmd`, sampling the RSS of its whole process tree every 100 ms."""
    peak = 0
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        ps = psutil.Process(proc.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(ps))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
    return Measurement(elapsed, peak / 1e6, code)


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN201
    """(seconds, result) of a call."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result
