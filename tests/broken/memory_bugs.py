"""``forget`` implementations for D2 (what the forward pass keeps): one correct one with
a fixed overhead per call, and broken ones that keep what grows with the data, or keep
everything they ever made. Each is the reference with one change; ``EXPECTED`` maps each
to the D2 conformance tests and the clauses it must fail there (none: it must pass).
Name one as ``tests.broken.memory_bugs:NAME``.
"""

from __future__ import annotations

import chainer
import numpy

from forget_conformance.reference import _forget as ref


class _KeepsScalar(ref._Forget):
    def forward(self, inputs):
        xp = chainer.backend.get_array_module(*inputs)
        self.calls_seen = xp.ones((), dtype=numpy.float32)  # a per-call counter, 4 bytes
        return super().forward(inputs)


class _LastOpInputs(chainer.FunctionHook):
    """Keeps the arrays the last op of ``func`` read (a profiling hook left in)."""

    def __init__(self) -> None:
        self.name = f"forget_last_op_inputs_{id(self)}"  # nested segments: one hook each
        self.last = ()

    def forward_postprocess(self, function, in_data):
        self.last = in_data


class _KeepsLastOpInputs(ref._Forget):
    def call(self, xs):
        if chainer.config.enable_backprop:  # the recomputation: nothing kept
            return super().call(xs)
        hook = _LastOpInputs()
        with hook:
            outs = super().call(xs)
        self.inspected = hook.last
        return outs


_EVERY_NODE: list = []


class _KeepsEveryNode(ref._Forget):
    def forward(self, inputs):
        _EVERY_NODE.append(self)
        return super().forward(inputs)


def _apply(cls: type[ref._Forget], func, xs: tuple):
    return ref.apply_forget(cls(func), ref.wrap_args(xs))


def keeps_scalar_per_call(func, *xs):
    """Correct, with one 0-d float32 kept on each ``forget`` node: a fixed overhead per
    call, not an intermediate result."""
    return _apply(_KeepsScalar, func, xs)


def keeps_last_op_inputs(func, *xs):
    """Keeps, on the node, the arrays the last op of ``func`` read in the forward pass:
    intermediates, as large as the data."""
    return _apply(_KeepsLastOpInputs, func, xs)


def keeps_every_node(func, *xs):
    """Appends every node it makes to a module-level list: each step looks clean while
    the caller holds the arguments, but nothing a node retains is ever freed."""
    return _apply(_KeepsEveryNode, func, xs)


#: variant -> (the conformance tests that judge it, as for ``shape_bugs``; the clauses it
#: fails there: none for a correct one)
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "keeps_scalar_per_call": ("test_memory.py", set()),
    "keeps_last_op_inputs": ("test_memory.py", {"D2"}),
    "keeps_every_node": ("test_memory.py", {"D2"}),
}
