"""The generator's worker processes: forked (they inherit the simulated world, never pickled)."""

from __future__ import annotations

import multiprocessing as mp
import signal
from multiprocessing.pool import Pool


def _default_stop_signals() -> None:
    """In a forked worker: SIGTERM and SIGINT stop it again. A worker inherits its parent's Python
    signal handlers (a process that ran Dagster has its own for SIGTERM); under one that does not
    exit, the pool's terminate() could not stop an idle worker and the generator hung (seen in CI)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def fork_pool(processes: int) -> Pool:
    """A pool of forked workers that stop on SIGTERM whatever their parent's handler."""
    return mp.get_context("fork").Pool(processes, initializer=_default_stop_signals)
