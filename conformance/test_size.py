"""Size: a segment of thousands of operations, and hundreds of segments in one graph,
backpropagate as the plain path does (D3, T4), under Python's default recursion
limit, and with work that grows linearly.

Growth is measured by counting calls per function (``cProfile``'s deterministic
counts, Python and built-in functions alike), not by timing: a walk that rescans a
list of nodes per node, or every segment per segment, calls some function a number
of times that grows with the square of the size; on a linear walk every count
grows at most linearly.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from collections.abc import Callable

import chainer
import chainer.functions as F
import pytest

from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import check_close, data

DEFAULT_RECURSION_LIMIT = 1000  # CPython's default
DEEP = 1200  # operations in one segment: beyond the default recursion limit
MANY = 200  # segments in one chain
#: how much the call count may grow for four times the size (a linear walk: about 4;
#: a quadratic one, even over these small sizes, grows by 8 or more)
GROWTH_LIMIT = 5.0


@pytest.fixture
def default_recursion_limit():
    """Run under CPython's default recursion limit, whatever the runner set."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
    yield
    sys.setrecursionlimit(saved)


def chain_of_ops(n: int) -> Callable:
    def func(x, w):
        h = x
        for i in range(n):
            h = h * w if i % 2 else h + w
        return h
    return func


def segments(forget, n: int, ops: int = 2) -> Callable:
    """``n`` segments in a chain, each of ``ops`` operations (plain when forget is None)."""
    inner = chain_of_ops(ops)

    def run(x, w):
        h = x
        for _ in range(n):
            h = forget(inner, h, w) if forget is not None else inner(h, w)
        return h
    return run


def args(device):
    x = chainer.Variable(data(device, (4,), seed=1))
    w = chainer.Variable(data(device, (4,), seed=2, low=0.999, high=1.0))
    return x, w


def step(device, run: Callable) -> tuple:
    """Forward with ``run``, backward from the sum; the arguments, with their gradients."""
    x, w = args(device)
    F.sum(run(x, w)).backward()
    return x, w


def compare_with_plain(device, plain: Callable, forgetting: Callable) -> None:
    want = step(device, plain)
    try:
        got = step(device, forgetting)
    except RecursionError as exc:
        raise ClauseViolation("T4", f"RecursionError under the default recursion limit "
                                    f"({DEFAULT_RECURSION_LIMIT}): {exc}") from exc
    for name, g, e in zip("xw", got, want, strict=True):
        check_close(f"gradient of {name}", g.grad_var, e.grad_var, clause="D3")


def call_counts(device, run: Callable) -> dict[str, int]:
    """Calls per function made by one forward and backward through ``run``, with eager
    gradient summation: under ``lazy_grad_sum`` Chainer's own backward does work quadratic
    in the number of pending terms, on the plain path too."""
    profile = cProfile.Profile()
    with chainer.using_config("lazy_grad_sum", False):
        profile.enable()
        try:
            step(device, run)
        finally:
            profile.disable()
    return {pstats.func_std_string(f): v[1] for f, v in pstats.Stats(profile).stats.items()}


def check_linear_growth(what: str, small: int, counts: Callable[[int], dict[str, int]]) -> None:
    """No function is called, at four times the size, more than ``GROWTH_LIMIT`` times as
    often (among those called at least once per unit of size)."""
    low, high = counts(small), counts(4 * small)
    busy = {f: n for f, n in high.items() if n >= 4 * small}
    name = max(busy, key=lambda f: busy[f] / max(low.get(f, 0), 1))
    before, after = low.get(name, 0), busy[name]
    if after > GROWTH_LIMIT * max(before, 1):
        raise ClauseViolation("T4", f"{what}: {name} called {before} times at size {small}, "
                                    f"{after} times at {4 * small} (a linear walk: about 4x)")


@pytest.mark.clause("D3", "T4")
@pytest.mark.usefixtures("default_recursion_limit")
def test_segment_of_thousands_of_operations(forget, forget_device):
    ops = chain_of_ops(DEEP)
    compare_with_plain(forget_device, lambda x, w: ops(x, w), lambda x, w: forget(ops, x, w))


@pytest.mark.clause("D3", "T4")
@pytest.mark.usefixtures("default_recursion_limit")
def test_hundreds_of_segments(forget, forget_device):
    compare_with_plain(forget_device, segments(None, MANY), segments(forget, MANY))


@pytest.mark.clause("T4")
def test_work_linear_in_segment_length(forget, forget_device):
    check_linear_growth("one segment", 50, lambda n: call_counts(
        forget_device, lambda x, w: forget(chain_of_ops(n), x, w)))


@pytest.mark.clause("T4")
def test_work_linear_in_segment_count(forget, forget_device):
    check_linear_growth("segments in a chain", 20,
                        lambda n: call_counts(forget_device, segments(forget, n)))
