"""D2: after the forward pass, forget keeps its arguments and results, not intermediates.

Intermediate results grow with the data; a fixed overhead per ``forget`` call (a 0-d
array, bookkeeping) does not, and is allowed up to ``PER_CALL`` bytes. So each check
measures (``forget_conformance.meters``: NumPy buffers through tracemalloc on CPU,
CuPy pool allocations on GPU) at two sizes of the data: what is kept beyond the
results must neither grow with the data nor exceed ``PER_CALL`` per call. ``func``
records every array it computes (:class:`Ops`), so a failure names the intermediates
still alive (op, shape, dtype) by identity. Memory is also judged across steps: after
``STEPS`` training steps with fresh inputs, the caller dropping everything in between,
what is still alive must not grow with the number of steps.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import chainer
import chainer.functions as F
import chainer.links as L
import pytest

from forget_conformance import devices, meters, policy
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import variables
from forget_conformance.symptoms import Symptomatic

SIDE = 256  # 256 x 256 float32 = 256 KiB per array
SIZES = (SIDE // 2, SIDE)  # kept memory is measured at both: data 4 times larger
#: The fixed overhead allowed per forget call (scalars, bookkeeping), in bytes; far below
#: any intermediate here (64 KiB at the smaller size).
PER_CALL = policy.MEMORY_BOOKKEEPING_BYTES  # a fixed overhead per call (policy.py)
STEPS = 5  # training steps for the across-steps check


def retained_after(forget_device, run) -> tuple[int, object]:
    """Bytes allocated by ``run()`` that are still alive once it has returned."""
    spec = devices.CPU if forget_device.xp.__name__ == "numpy" else devices.GPU
    box: list[object] = []
    reading = meters.meter_for(spec).measure(run, box.append)
    return reading.retained, box[0]


def _weak(array) -> Callable[[], object]:
    """A weak reference to ``array``; one that always reads ``None`` for an array type
    that takes none (the byte checks still judge it)."""
    try:
        return weakref.ref(array)
    except TypeError:
        return lambda: None


@dataclass(frozen=True)
class Made:
    """One array ``func`` computed: which call, which op, and a weak reference to it."""

    call: int
    op: str
    shape: tuple
    dtype: str
    ref: Callable[[], object]

    def __str__(self) -> str:
        return f"{self.op} of func's call {self.call} {self.shape} {self.dtype}"


class Ops:
    """Records every array ``func`` computes, by op, in each of its calls."""

    def __init__(self) -> None:
        self.made: list[Made] = []
        self.calls = 0

    def start(self) -> None:
        self.calls += 1

    def __call__(self, op: str, y: chainer.Variable) -> chainer.Variable:
        index = sum(m.call == self.calls for m in self.made) + 1
        self.made.append(Made(self.calls, f"op {index} ({op})", y.shape, str(y.dtype),
                              _weak(y.array)))
        return y

    def alive(self, held=()) -> list[Made]:
        """What ``func`` computed that is still alive, apart from the arrays in ``held``
        (what the caller holds: results, arguments)."""
        gc.collect()
        ids = {id(x.array if isinstance(x, chainer.Variable) else x) for x in held}
        return [m for m in self.made if m.ref() is not None and id(m.ref()) not in ids]


def deep(ops: Ops, a, b):
    ops.start()
    h = a
    for _ in range(4):
        h = ops("tanh", F.tanh(ops("add", ops("mul", h * b) + a)))
    return h


def two_outputs(ops: Ops, a, b):
    h = deep(ops, a, b)
    return h, ops("mul", a * b)


def mlp(side: int, device) -> Callable:
    """A ``func`` over one argument: Linear, relu, Linear, tanh; each layer's output
    recorded."""
    layers: list[Callable] = [L.Linear(side, side), F.relu, L.Linear(side, side), F.tanh]
    for layer in layers:
        if isinstance(layer, chainer.Link):
            layer.to_device(device)

    def func(ops: Ops, x):
        ops.start()
        for layer in layers:
            x = ops(getattr(layer, "__name__", type(layer).__name__), layer(x))
        return x

    return func


def nbytes(ys) -> int:
    ys = ys if isinstance(ys, tuple) else (ys,)
    return sum(y.array.nbytes for y in ys)


def _listed(made: list[Made]) -> str:
    return "; ".join(str(m) for m in made[:4]) + (f"; and {len(made) - 4} more"
                                                 if len(made) > 4 else "")


def judge_forward(forget, device, make_func: Callable, n_args: int, calls: int = 1) -> None:
    """Measure what ``forget`` keeps after forward at both ``SIZES``; fail (``memory-kept``)
    on an intermediate of ``func`` still alive (named), on kept memory beyond the
    results that grows with the data, or on more than ``PER_CALL`` per call beyond them."""
    excess = {}
    for side in SIZES:
        ops, func = Ops(), make_func(side)
        xs = variables(device, *[(side, side)] * n_args)
        kept, ys = retained_after(device, lambda f=func, o=ops, xs=xs: forget(
            lambda *a: f(o, *a), *xs))
        held = (ys if isinstance(ys, tuple) else (ys,)) + tuple(xs)
        alive = ops.alive(held)
        if alive:
            raise Symptomatic("memory-kept", f"after forward (side {side}), intermediates of "
                              f"func are still alive: {_listed(alive)}")
        excess[side] = kept - nbytes(ys)
    small, large = excess[SIZES[0]], excess[SIZES[1]]
    if large - small > PER_CALL:
        raise Symptomatic("memory-kept", f"what forget keeps beyond its results grows with "
                          f"the data: {small} bytes at side {SIZES[0]}, {large} at side "
                          f"{SIZES[1]} (in arrays func did not compute: copies or derived)")
    if large > calls * PER_CALL:
        raise Symptomatic("memory-kept", f"forget keeps {large} bytes beyond its results, "
                          f"more than the fixed overhead allowed ({PER_CALL} per call, "
                          f"{calls} call(s))")


@pytest.mark.clause("D2")
@pytest.mark.parametrize("func", [deep, two_outputs], ids=["one_output", "two_outputs"])
def test_keeps_only_results(forget, forget_device, func):
    judge_forward(forget, forget_device, lambda side: func, 2)


@pytest.mark.clause("D2")
def test_saves_memory(forget, forget_device):
    """Less is kept than on the plain path (which keeps every intermediate)."""
    a, b = variables(forget_device, (SIDE, SIDE), (SIDE, SIDE))
    plain_bytes, plain = retained_after(forget_device, lambda: deep(Ops(), a, b))
    del plain
    kept, ys = retained_after(forget_device, lambda: forget(lambda *x: deep(Ops(), *x), a, b))
    if kept >= plain_bytes:
        raise Symptomatic("memory-kept", f"no saving: forget kept {kept} bytes, plain "
                          f"{plain_bytes}")


@pytest.mark.clause("D2")
def test_link_intermediates_not_kept(forget, forget_device):
    judge_forward(forget, forget_device, lambda side: mlp(side, forget_device), 1)


@pytest.mark.clause("D2")
def test_freed_after_backward(forget, forget_device):
    a, b = variables(forget_device, (SIDE, SIDE), (SIDE, SIDE))
    ops = Ops()

    def step():
        F.sum(forget(lambda *x: deep(ops, *x), a, b)).backward()

    kept, _ = retained_after(forget_device, step)
    for name, x in (("a", a), ("b", b)):
        if x.grad is None:  # a gradient fault, not a memory one
            raise ClauseViolation("D3", f"gradient of argument {name}: got None, expected a value",
                                  "gradient-none")
    alive = ops.alive((a, b, a.grad, b.grad))
    if alive:
        raise Symptomatic("memory-kept", f"after backward, with the results dropped, arrays "
                          f"func computed are still alive: {_listed(alive)}")
    grads = a.grad.nbytes + b.grad.nbytes
    if kept > grads + PER_CALL:
        raise Symptomatic("memory-kept", f"{kept} bytes still alive after backward; the "
                          f"argument gradients are {grads}")


def chain(forget, recorders: list[Ops], a, b) -> list:
    """One segment per recorder, in a chain; returns every segment's result."""
    ys, h = [], a
    for ops in recorders:
        h = forget(lambda x, y, ops=ops: deep(ops, x, y), h, b)
        ys.append(h)
    return ys


@pytest.mark.clause("D2")
def test_recomputed_arrays_freed_after_backward(forget, forget_device):
    """Once backward has returned, nothing holds the arrays the recomputation made, even
    while the caller still holds the results (and so the ``forget`` nodes)."""
    a, b = variables(forget_device, (SIDE // 4, SIDE // 4), (SIDE // 4, SIDE // 4))
    recorders = [Ops() for _ in range(3)]
    ys = chain(forget, recorders, a, b)
    F.sum(ys[-1]).backward()
    for i, ops in enumerate(recorders):
        assert ops.calls >= 2, f"segment {i} was not recomputed"
        alive = ops.alive(ys + [a, b, a.grad, b.grad])
        if alive:
            raise Symptomatic("memory-kept", f"segment {i}: {len(alive)} arrays func computed "
                              f"still alive after backward while the caller holds the "
                              f"results: {_listed(alive)}")
    assert ys[-1].creator is not None  # the results, and their nodes, were alive throughout


@pytest.mark.clause("D2")
def test_backward_keeps_only_gradients(forget, forget_device):
    """After backward through a chain of segments whose results the caller still holds,
    what is alive is what the plain path's caller holds anyway: the argument gradients and
    the results. Nothing of the recomputed graph, nor gradients kept on a ``forget`` node.
    (``test_freed_after_backward``: one segment, results dropped.)"""
    side = SIDE // 2  # 64 KiB per array, still far above PER_CALL
    a, b = variables(forget_device, (side, side), (side, side))

    def step():
        ys = chain(forget, [Ops() for _ in range(3)], a, b)
        F.sum(ys[-1]).backward()
        return tuple(ys)

    kept, ys = retained_after(forget_device, step)
    grads = a.grad.nbytes + b.grad.nbytes
    bound = grads + nbytes(ys) + 3 * PER_CALL
    if kept > bound:
        raise Symptomatic("memory-kept", f"{kept} bytes still alive after backward; gradients "
                          f"{grads}, results held {nbytes(ys)} (bound {bound})")


def _steps(forget, device, n: int, side: int, seen: list) -> None:
    """``n`` training steps through two chained segments, each on fresh arguments that the
    caller drops afterwards; every argument, result and array func computed is recorded in
    ``seen`` as (step, what, weak reference)."""
    for step in range(len(seen), len(seen) + n):
        ops = Ops()
        a, b = variables(device, (side, side), (side, side), seed=step)
        ys = chain(forget, [ops, ops], a, b)
        F.sum(ys[-1]).backward()
        seen.append([(f"argument {name}", _weak(x.array)) for name, x in (("a", a), ("b", b))]
                    + [(f"result {i}", _weak(y.array)) for i, y in enumerate(ys)]
                    + [(str(m), m.ref) for m in ops.made])
        del a, b, ys, ops


@pytest.mark.clause("D2")
def test_nothing_accumulates_across_steps(forget, forget_device):
    """After ``STEPS`` steps on fresh arguments (dropped by the caller after each), what is
    still alive does not grow with the number of steps: no step's arguments, results or
    intermediates survive it, and the bytes alive after ``STEPS`` steps are those after
    one plus at most ``PER_CALL``."""
    side = SIDE // 4
    seen: list = []
    one, _ = retained_after(forget_device, lambda: _steps(forget, forget_device, 1, side, seen))
    many, _ = retained_after(forget_device,
                             lambda: _steps(forget, forget_device, STEPS, side, seen))
    gc.collect()
    survivors = [(i + 1, what) for i, step in enumerate(seen) for what, ref in step
                 if ref() is not None]
    if survivors:
        steps = sorted({i for i, _ in survivors})
        named = "; ".join(f"step {i}: {what}" for i, what in survivors[:4])
        raise Symptomatic("memory-kept", f"after {len(seen)} steps, arrays of steps {steps} "
                          f"are still alive though the caller dropped them: {named}"
                          + (f"; and {len(survivors) - 4} more" if len(survivors) > 4 else ""))
    if many - one > PER_CALL:
        raise Symptomatic("memory-kept", f"memory alive grows with the steps: {one} bytes "
                          f"after 1 step, {many} after {STEPS} more")
