"""Process settings that keep CPU timings steady: one BLAS thread, a warm malloc heap.

* Threaded OpenBLAS on a shared machine is noisy (its threads wait on each other
  while other processes hold the cores), and its helper threads' work would not
  show in this thread's CPU time. ``openblas_set_num_threads`` (or its ``64_``
  variant) from the library NumPy loaded sets one thread; with another BLAS, or
  none found, nothing changes.
* glibc serves large arrays with ``mmap`` below a threshold that it moves as
  arrays are freed, and hands freed heap back to the system: how many page faults
  a run takes then depends on what ran before it (a 30% swing on conv_bn).
  ``mallopt`` fixes both thresholds high, so every configuration runs on a warm
  heap; afterwards glibc's defaults (128 KiB, fixed) are set back.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
from collections.abc import Iterator

import numpy as np

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_DEFAULT_THRESHOLD = 128 * 1024
_WARM = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 1 << 30}


def _openblas():
    paths = []
    if os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    paths = paths or glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                            "*openblas*"))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", ""):
            get = getattr(lib, f"openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                return get, put
    return None


def _mallopt():
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    except OSError:
        return None


@contextlib.contextmanager
def blas_threads(n: int = 1) -> Iterator[None]:
    """Run the body with ``n`` OpenBLAS threads, then restore the previous count."""
    found = _openblas()
    if found is None:
        yield
        return
    get, put = found
    before = get()
    put(n)
    try:
        yield
    finally:
        put(before)


@contextlib.contextmanager
def warm_heap() -> Iterator[None]:
    """Run the body with glibc's mmap and trim thresholds high (no-op without glibc)."""
    mallopt = _mallopt()
    if mallopt is None:
        yield
        return
    for param, value in _WARM.items():
        mallopt(param, value)
    try:
        yield
    finally:
        for param in _WARM:
            mallopt(param, _DEFAULT_THRESHOLD)


@contextlib.contextmanager
def steady() -> Iterator[None]:
    """Both of the above."""
    with blas_threads(1), warm_heap():
        yield
