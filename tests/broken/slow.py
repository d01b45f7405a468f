"""A ``forget`` that is correct but 1.5x slower than the reference, for the time gate.

Every forward and backward of a ``forget`` node does the reference's work, then
spends half as much CPU time again in a busy loop (on this thread's CPU clock, the
clock forget-bench times with; no sleeping, no allocation, so memory is unchanged).
Name it as ``tests.broken.slow:forget``.
"""

from __future__ import annotations

import time

from forget_conformance.reference import _forget as ref

EXTRA = 0.5  # extra CPU time, as a fraction of the work it follows


def _burn_after(start: float) -> None:
    end = time.thread_time() + EXTRA * (time.thread_time() - start)
    while time.thread_time() < end:
        pass


class _Slow(ref._Forget):
    def backward(self, indexes, grad_outputs):
        start = time.thread_time()
        grads = super().backward(indexes, grad_outputs)
        _burn_after(start)
        return grads


def forget(func, *xs):
    """The reference's forget, 1.5x slower in CPU time."""
    start = time.thread_time()
    outs = ref.apply_forget(_Slow(func), ref.wrap_args(xs))
    _burn_after(start)
    return outs
