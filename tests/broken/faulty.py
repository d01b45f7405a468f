"""Implementations that misbehave as processes: they hang or crash, once or always.

"Once" is tracked by a marker file named in ``$FORGET_FAULT_MARKER`` so that the
runner's fresh process, started after a crash, behaves.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from forget_conformance.reference import forget as _reference


def _first_time() -> bool:
    marker = Path(os.environ["FORGET_FAULT_MARKER"])
    if marker.exists():
        return False
    marker.write_text("fault injected\n")
    return True


def spins_once(func, *xs):
    """Loops forever in Python on its first call (a per-test timeout can stop it)."""
    if _first_time():
        while True:
            pass
    return _reference(func, *xs)


def stalls_once(func, *xs):
    """Blocks the timeout signal, then sleeps forever on its first call."""
    if _first_time():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    return _reference(func, *xs)


def aborts_once(func, *xs):
    """Kills its process (SIGABRT) on its first call."""
    if _first_time():
        os.abort()
    return _reference(func, *xs)


def aborts_always(func, *xs):
    """Kills its process (SIGABRT) on every call."""
    os.abort()


def exits_always(func, *xs):
    """Ends its process with status 0, skipping pytest's reporting, on every call."""
    os._exit(0)


def sleeps_forever(func, *xs):
    """Writes its process ID to ``$FORGET_FAULT_MARKER``, then sleeps (to be interrupted)."""
    Path(os.environ["FORGET_FAULT_MARKER"]).write_text(str(os.getpid()))
    time.sleep(3600)


not_callable = 42
