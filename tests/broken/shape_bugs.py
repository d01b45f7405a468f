"""Deliberately broken ``forget`` implementations: result shapes, numeric extremes,
size, memory after backward.

Each is the reference with one step of its backward (or its forward) replaced by a
plausible mistake; ``EXPECTED`` maps each to the conformance module that must
reject it and the clauses it must fail there. Name one as
``tests.broken.shape_bugs:NAME``.
"""

from __future__ import annotations

import collections
import weakref

import chainer
import chainer.functions as F
import numpy as np
from chainer import _backprop_utils, variable

from forget_conformance.reference import _forget as ref


class _Steps(ref._Forget):
    """The reference's backward, in steps a variant replaces."""

    def backward(self, indexes, grad_outputs):
        if chainer.config.enable_backprop:
            raise RuntimeError("double backpropagation in functions.forget is not allowed.")
        args = tuple(variable.Variable(x.array) for x in self.get_retained_inputs())
        with self.recompute_context():
            outs = self.recompute(args)
        boundary = self.walk(self.seeds(args, outs, grad_outputs))
        self.keep(outs)
        del outs
        grads = [boundary.pop(x.node, None) for x in args]
        captured = [(node, g) for node, g in boundary.items() if g is not None]
        grads, captured = self.adjust(grads, captured)
        return tuple(grads) + (self.deliver(captured),)

    def recompute(self, args: tuple) -> tuple:
        return self.call(args)

    def seeds(self, args: tuple, outs: tuple, grad_outputs: tuple) -> list:
        return [(out.node, g) for out, g in zip(outs, grad_outputs, strict=True)
                if g is not None]

    def walk(self, seeds: list) -> dict:
        return ref._backprop_to_leaves(seeds)

    def keep(self, outs: tuple) -> None:
        """What the node holds on to after backward: nothing, in the reference."""

    def adjust(self, grads: list, captured: list) -> tuple[list, list]:
        return grads, captured


def _apply(cls: type[ref._Forget], func, xs: tuple):
    return ref.apply_forget(cls(func), ref.wrap_args(xs))


# ------------------------------------------------------------------ result shapes

class _DictSeeds(_Steps):
    def seeds(self, args, outs, grad_outputs):
        return list(dict(super().seeds(args, outs, grad_outputs)).items())


def dict_seeds(func, *xs):
    """Seeds the recomputation's backward from a dict keyed by output node: a Variable
    returned twice gets the gradient of one use only."""
    return _apply(_DictSeeds, func, xs)


class _SkipsArguments(_Steps):
    def seeds(self, args, outs, grad_outputs):
        passed = {x.node for x in args}
        return [(n, g) for n, g in super().seeds(args, outs, grad_outputs) if n not in passed]


def skips_argument_results(func, *xs):
    """Backpropagates only from results ``func`` computed: an argument returned unchanged
    loses the gradient of that result."""
    return _apply(_SkipsArguments, func, xs)


def plain_tuple(func, *xs):
    """Returns every tuple result as a plain tuple: a namedtuple loses its type."""
    ys = ref.forget(func, *xs)
    return tuple(list(ys)) if isinstance(ys, tuple) else ys


class _CastsResults(ref._Forget):
    def forward(self, inputs):
        return tuple(y.astype(inputs[0].dtype) for y in super().forward(inputs))


def casts_results(func, *xs):
    """Returns every result in the first argument's dtype (integer results included)."""
    return _apply(_CastsResults, func, xs)


class _ZeroFills(_Steps):
    def seeds(self, args, outs, grad_outputs):
        return [(out.node, g if g is not None else variable.Variable(out.xp.zeros_like(out.array)))
                for out, g in zip(outs, grad_outputs, strict=True)]


def zero_fills_unused(func, *xs):
    """Seeds unused results with zero gradients, integer results included."""
    return _apply(_ZeroFills, func, xs)


# --------------------------------------------------------------- numeric extremes

class _ZeroesNonfinite(_Steps):
    def adjust(self, grads, captured):
        def finite(g):
            return None if g is None else variable.Variable(
                g.xp.nan_to_num(g.array, nan=0.0, posinf=0.0, neginf=0.0))
        return [finite(g) for g in grads], [(n, finite(g)) for n, g in captured]


def zeroes_nonfinite(func, *xs):
    """Replaces NaN and infinities in the gradients it returns by zero."""
    return _apply(_ZeroesNonfinite, func, xs)


class _InFloat32(_Steps):
    def forward(self, inputs):
        ys = super().forward(inputs)
        self.result_dtypes = [y.dtype for y in ys]
        return ys

    def recompute(self, args):
        wide = [F.cast(x, np.float32) if x.dtype == np.float16 else x for x in args]
        outs = self.call(wide)
        return tuple(o if o.dtype == dtype else F.cast(o, dtype)
                     for o, dtype in zip(outs, self.result_dtypes, strict=True))


def recomputes_in_float32(func, *xs):
    """Recomputes float16 segments in float32 and casts back: gradients that overflow
    float16 inside ``func`` on the plain path come back finite."""
    return _apply(_InFloat32, func, xs)


# ---------------------------------------------------------------------------- size

def _run_in_order(seeds: list, order: list) -> dict:
    """Backpropagate from ``seeds`` through the function nodes in ``order`` (a
    topological order); the gradients reaching the leaves."""
    grads = _backprop_utils.GradTable()
    for node, g in seeds:
        grads.accumulate(node, g)
    leaves = {node for node, _ in seeds if node.creator_node is None}
    for func in order:
        out_grad = tuple(grads.pop(y()) if y() is not None else None for y in func.outputs)
        targets = tuple(i for i, x in enumerate(func.inputs) if x.requires_grad)
        if not targets or all(g is None for g in out_grad):
            continue
        in_grad = collections.OrderedDict()
        for i in targets:
            in_grad.setdefault(func.inputs[i], grads.get_as_list(func.inputs[i]))
        _backprop_utils.backprop_step(func, targets, out_grad, in_grad, False)
        leaves.update(x for x in func.inputs if x.creator_node is None)
    return {node: grads.pop(node) for node in leaves}


def _post_order(node, seen: set, out: list) -> None:
    creator = node.creator_node
    if creator is None or creator in seen:
        return
    seen.add(creator)
    for x in creator.inputs:
        _post_order(x, seen, out)
    out.append(creator)


class _RecursiveWalk(_Steps):
    def walk(self, seeds):
        order: list = []
        seen: set = set()
        for node, _ in seeds:
            _post_order(node, seen, order)
        return _run_in_order(seeds, order[::-1])


def recursive_walk(func, *xs):
    """Orders the recomputed graph by a recursive depth-first search: a segment deeper
    than the recursion limit raises ``RecursionError``."""
    return _apply(_RecursiveWalk, func, xs)


class _ListScanWalk(_Steps):
    def walk(self, seeds):
        pending, stack = [], [node for node, _ in seeds]
        while stack:
            creator = stack.pop().creator_node
            if creator is not None and creator not in pending:
                pending.append(creator)
                stack.extend(creator.inputs)
        order = []
        while pending:
            func = max(pending, key=lambda f: f.rank)
            pending.remove(func)
            order.append(func)
        return _run_in_order(seeds, order)


def list_scan_walk(func, *xs):
    """Keeps the nodes to visit in a list and picks the highest-ranked by scanning it:
    quadratic in the segment's length."""
    return _apply(_ListScanWalk, func, xs)


_REGISTRY: list = []


def _awaiting(entry: weakref.ref, done) -> bool:
    node = entry()
    return node is not None and node is not done


class _Registered(_Steps):
    def forward(self, inputs):
        _REGISTRY.append(weakref.ref(self))
        return super().forward(inputs)

    def walk(self, seeds):
        _REGISTRY[:] = [entry for entry in _REGISTRY if _awaiting(entry, self)]
        return super().walk(seeds)


def segment_registry(func, *xs):
    """Registers every segment in a module-level list, pruned by a scan at each
    backward: quadratic in the number of segments."""
    return _apply(_Registered, func, xs)


# ---------------------------------------------------------- memory after backward

class _KeepsGraph(_Steps):
    def keep(self, outs):
        self.replay = lambda: outs  # a closure over the recomputed results, and their graph


def keeps_recomputed_graph(func, *xs):
    """Keeps a closure over the recomputed results on the node after backward: the whole
    recomputed graph stays alive as long as the result does."""
    return _apply(_KeepsGraph, func, xs)


class _KeepsGrads(_Steps):
    def adjust(self, grads, captured):
        self.last_grads = grads
        return grads, captured


def keeps_argument_grads(func, *xs):
    """Keeps the argument gradients it returned on the node after backward."""
    return _apply(_KeepsGrads, func, xs)


#: variant -> (the conformance tests that reject it: a module of ``conformance``, or one
#: test in it, as a pytest node ID relative to that folder; the clauses it fails there)
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "dict_seeds": ("test_result_shapes.py", {"D3"}),
    "skips_argument_results": ("test_result_shapes.py", {"D3"}),
    "plain_tuple": ("test_result_shapes.py", {"D6"}),
    "casts_results": ("test_result_shapes.py", {"D1"}),
    "zero_fills_unused": ("test_result_shapes.py", {"D3"}),
    "zeroes_nonfinite": ("test_numeric_extremes.py", {"D3", "T1"}),
    "recomputes_in_float32": ("test_numeric_extremes.py", {"D3", "T1"}),
    "recursive_walk": ("test_size.py::test_segment_of_thousands_of_operations", {"T4"}),
    "list_scan_walk": ("test_size.py::test_work_linear_in_segment_length", {"T4"}),
    "segment_registry": ("test_size.py::test_work_linear_in_segment_count", {"T4"}),
    "keeps_recomputed_graph": ("test_memory.py::test_recomputed_arrays_freed_after_backward",
                               {"D2"}),
    "keeps_argument_grads": ("test_memory.py::test_backward_keeps_only_gradients", {"D2"}),
}
