"""D2: after the forward pass, forget keeps its arguments and results only.

Measured, not inferred, with the project's memory meters
(``forget_conformance.meters``: NumPy buffers through tracemalloc on CPU, CuPy
pool allocations on GPU): bytes allocated by the forward pass that are still
alive after it. Arguments exist before the measurement starts, so what forget
may add is its results plus a little for its own scalars. After backward, through
one segment or a chain of them, what may stay is the argument gradients (and the
results while the caller holds them): nothing of the recomputation.
"""

import gc
import weakref

import chainer
import chainer.functions as F
import chainer.links as L
import pytest

from forget_conformance import devices, meters
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import data, variables
from forget_conformance.symptoms import Symptomatic

SIDE = 256  # 256 x 256 float32 = 256 KiB per array
SLACK = 4 * 1024  # an implementation's own bookkeeping arrays (scalars)


def retained_after(forget_device, run) -> tuple[int, object]:
    """Bytes allocated by ``run()`` that are still alive once it has returned."""
    spec = devices.CPU if forget_device.xp.__name__ == "numpy" else devices.GPU
    box = []
    reading = meters.meter_for(spec).measure(run, box.append)
    return reading.retained, box[0]


def deep(a, b):
    h = a
    for _ in range(6):
        h = F.tanh(h * b + a)
    return h


def nbytes(ys) -> int:
    ys = ys if isinstance(ys, tuple) else (ys,)
    return sum(y.array.nbytes for y in ys)


@pytest.mark.clause("D2")
@pytest.mark.parametrize("func", [deep, lambda a, b: (deep(a, b), a * b)],
                         ids=["one_output", "two_outputs"])
def test_keeps_only_results(forget, forget_device, func):
    a, b = variables(forget_device, (SIDE, SIDE), (SIDE, SIDE))
    plain_bytes, plain = retained_after(forget_device, lambda: func(a, b))
    del plain
    kept, ys = retained_after(forget_device, lambda: forget(func, a, b))
    bound = nbytes(ys) + SLACK
    if kept > bound:
        raise Symptomatic("memory-kept", f"forget kept {kept} bytes after forward; its results "
                          f"are {nbytes(ys)} bytes (bound {bound}); the plain path keeps "
                          f"{plain_bytes}")
    if kept >= plain_bytes:
        raise Symptomatic("memory-kept", f"no saving: forget kept {kept} bytes, plain "
                          f"{plain_bytes}")


@pytest.mark.clause("D2")
def test_link_intermediates_not_kept(forget, forget_device):
    model = chainer.Sequential(L.Linear(SIDE, SIDE), F.relu, L.Linear(SIDE, SIDE), F.tanh)
    model.to_device(forget_device)
    x = chainer.Variable(data(forget_device, (SIDE, SIDE)))
    kept, y = retained_after(forget_device, lambda: forget(model, x))
    if kept > nbytes(y) + SLACK:
        raise Symptomatic("memory-kept", f"forget kept {kept} bytes after forward; its result "
                          f"is {nbytes(y)} bytes")


@pytest.mark.clause("D2")
def test_freed_after_backward(forget, forget_device):
    a, b = variables(forget_device, (SIDE, SIDE), (SIDE, SIDE))

    def step():
        F.sum(forget(deep, a, b)).backward()

    kept, _ = retained_after(forget_device, step)
    for name, x in (("a", a), ("b", b)):
        if x.grad is None:  # a gradient fault, not a memory one
            raise ClauseViolation("D3", f"gradient of argument {name}: got None, expected a value",
                                  "gradient-none")
    grads = a.grad.nbytes + b.grad.nbytes
    if kept > grads + SLACK:
        raise Symptomatic("memory-kept", f"{kept} bytes still alive after backward; the "
                          f"argument gradients are {grads}")


class Recorder:
    """``deep``, recording weak references to every array it computes in the calls that
    build a graph (the recomputations; the forward call builds none)."""

    def __init__(self) -> None:
        self.refs: list[weakref.ref] = []
        self.recomputations = 0

    def __call__(self, a, b):
        recording = chainer.config.enable_backprop
        self.recomputations += recording
        h = a
        for _ in range(6):
            h = F.tanh(h * b + a)
            if recording:
                self.refs.append(weakref.ref(h.array))
        return h


def chain(forget, recorders, a, b) -> list:
    """One segment per recorder, in a chain; returns every segment's result."""
    ys, h = [], a
    for record in recorders:
        h = forget(record, h, b)
        ys.append(h)
    return ys


@pytest.mark.clause("D2")
def test_recomputed_arrays_freed_after_backward(forget, forget_device):
    """Once backward has returned, nothing holds the arrays the recomputation made, even
    while the caller still holds the results (and so the ``forget`` nodes)."""
    a, b = variables(forget_device, (SIDE // 4, SIDE // 4), (SIDE // 4, SIDE // 4))
    recorders = [Recorder() for _ in range(3)]
    ys = chain(forget, recorders, a, b)
    F.sum(ys[-1]).backward()
    gc.collect()
    for i, record in enumerate(recorders):
        assert record.recomputations, f"segment {i} was not recomputed with a graph"
        alive = sum(ref() is not None for ref in record.refs)
        if alive:
            raise Symptomatic("memory-kept", f"segment {i}: {alive} arrays of the "
                              "recomputation still alive after backward while the caller "
                              "holds the results")
    assert ys[-1].creator is not None  # the results, and their nodes, were alive throughout


@pytest.mark.clause("D2")
def test_backward_keeps_only_gradients(forget, forget_device):
    """After backward through a chain of segments whose results the caller still holds,
    what is alive is what the plain path's caller holds anyway: the argument gradients and
    the results. Nothing of the recomputed graph, nor gradients kept on a ``forget`` node.
    (``test_freed_after_backward``: one segment, results dropped.)"""
    side = SIDE // 2  # 64 KiB per array, still far above SLACK
    a, b = variables(forget_device, (side, side), (side, side))

    def step():
        ys = chain(forget, [deep] * 3, a, b)
        F.sum(ys[-1]).backward()
        return tuple(ys)

    kept, ys = retained_after(forget_device, step)
    grads = a.grad.nbytes + b.grad.nbytes
    bound = grads + nbytes(ys) + 3 * SLACK
    if kept > bound:
        raise Symptomatic("memory-kept", f"{kept} bytes still alive after backward; gradients "
                          f"{grads}, results held {nbytes(ys)} (bound {bound})")
