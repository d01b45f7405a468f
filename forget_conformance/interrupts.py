"""SIGINT and SIGTERM as an exception, so that every ``finally`` runs (children are
stopped, temporary files removed) and no partial report is written."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was stopped by a signal; :attr:`exit_status` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_status = 128 + signum


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """End the whole process group of ``proc`` (started with ``start_new_session``):
    SIGTERM, then SIGKILL after ``grace`` s (``grace=0``: SIGKILL at once)."""
    if grace and proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    signal_group(proc.pid, signal.SIGKILL)  # workers (xdist) may outlive the leader
    proc.wait()


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def raised_on_signals() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
