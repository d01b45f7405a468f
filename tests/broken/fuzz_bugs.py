"""Broken ``forget`` implementations the fuzzer must catch (numeric extremes, result
shapes, memory): each is the reference with one change, named after its bug.

``EXPECTED`` maps each to the fuzz suite that must catch it and the clauses its failure
may be attributed to. Name one on the command line as ``tests.broken.fuzz_bugs:NAME``.
"""

from __future__ import annotations

import chainer
import numpy
from chainer import backend, variable

from forget_conformance.reference import _forget as ref

_GRADS = {"D3", "T3", "T4", "D7"}  # where a wrong gradient is attributed, by graph structure
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "zeroes_nonfinite_grads": ("differential", _GRADS),
    "returned_twice_grad_once": ("differential", _GRADS),
    "drops_0d_output_grads": ("differential", _GRADS),
    "keeps_recomputed_graph": ("differential", {"D2"}),
    "hoards_input_copies": ("differential", {"D2"}),
    "forward_keeps_graph": ("differential", {"D2"}),
}
#: Written differently from the reference, and correct: the fuzzer must accept them.
CORRECT = ("keeps_scalar_per_call", "keeps_rng_state")


def _variant(node_cls: type):
    def forget(func, *xs):
        return ref.apply_forget(node_cls(func), ref.wrap_args(xs))

    forget.__doc__ = node_cls.__doc__
    return forget


class _ZeroesNonfiniteGrads(ref._Forget):
    """Argument gradients have their inf and NaN entries replaced by 0 (an "overflow
    guard" that hides the inf a loss-scaling optimizer must see)."""

    def backward(self, indexes, grad_outputs):
        grads = super().backward(indexes, grad_outputs)
        return tuple(None if g is None else variable.Variable(backend.get_array_module(
            g.array).nan_to_num(g.array, nan=0.0, posinf=0.0, neginf=0.0))
            for g in grads[:-1]) + grads[-1:]


class _ReturnedTwiceGradOnce(ref._Forget):
    """When ``func`` returns one Variable twice, only its first result's gradient counts."""

    def call(self, xs):
        outs = super().call(xs)
        self._repeats = [i for i, out in enumerate(outs) if any(out is o for o in outs[:i])]
        return outs

    def backward(self, indexes, grad_outputs):
        grads = list(grad_outputs)
        for i in self._repeats:
            grads[i] = None
        return super().backward(indexes, tuple(grads))


class _Drops0dOutputGrads(ref._Forget):
    """The gradients of 0-d results (a sum returned next to other values) are ignored."""

    def backward(self, indexes, grad_outputs):
        return super().backward(indexes, tuple(
            None if g is not None and g.ndim == 0 else g for g in grad_outputs))


class _KeepsRecomputedGraph(ref._Forget):
    """The node keeps the recomputation's results (and so its whole graph) after backward."""

    def call(self, xs):
        outs = super().call(xs)
        if chainer.config.enable_backprop:
            self._recomputed = outs
        return outs


class _HoardsInputCopies(ref._Forget):
    """The node keeps private copies of its inputs from forward on."""

    def forward(self, inputs):
        self._copies = [x.copy() for x in inputs]
        return super().forward(inputs)


class _ForwardKeepsGraph(ref._Forget):
    """The forward runs ``func`` with backprop on and keeps its results: every
    intermediate that func's ops retain stays alive until the graph is released."""

    def call(self, xs):
        if chainer.config.enable_backprop:  # the recomputation
            return super().call(xs)
        with chainer.using_config("enable_backprop", True):
            self._kept = super().call([variable.Variable(x.array) for x in xs])
        return self._kept


class _KeepsScalarPerCall(ref._Forget):
    """Correct: keeps one 0-d float32 per call (bookkeeping), a fixed overhead per call
    that does not grow with the data (allowed by D2)."""

    def forward(self, inputs):
        self._count = backend.get_array_module(inputs[0]).zeros((), "f")
        return super().forward(inputs)


class _KeepsRngState(ref._Forget):
    """Correct: keeps NumPy's RNG state (a (624,) uint32 table, 2.5 KiB) per call, to
    replay it in the recomputation: fixed bookkeeping, no intermediate of func (D2)."""

    def forward(self, inputs):
        self._rng = numpy.random.get_state()
        return super().forward(inputs)


zeroes_nonfinite_grads = _variant(_ZeroesNonfiniteGrads)
returned_twice_grad_once = _variant(_ReturnedTwiceGradOnce)
drops_0d_output_grads = _variant(_Drops0dOutputGrads)
keeps_recomputed_graph = _variant(_KeepsRecomputedGraph)
hoards_input_copies = _variant(_HoardsInputCopies)
forward_keeps_graph = _variant(_ForwardKeepsGraph)
keeps_scalar_per_call = _variant(_KeepsScalarPerCall)
keeps_rng_state = _variant(_KeepsRngState)
