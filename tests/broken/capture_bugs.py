"""Deliberately broken ``forget`` implementations whose bugs need captured values.

A segment's function may close over a non-leaf variable of the caller's graph
(``forget(lambda h: F.matmul(h, W2), x)`` with ``W2 = F.tanh(W * 2)``). Each variant
is the reference (``forget_impl``) with its private backward pass stopping at such
a variable instead of backpropagating through it; they differ in what they do with
the gradient that reaches it. Name one as ``tests.broken.capture_bugs:NAME``.
"""

from __future__ import annotations

import collections
import heapq

import chainer
from chainer import _backprop_utils, backend, variable

from forget_conformance.reference import _forget as ref


class _Recorder(chainer.FunctionHook):
    """Records the function nodes created while it is active."""

    def __init__(self) -> None:
        self.name = f"capture_bugs_recorder_{id(self)}"  # unique: recomputations may nest
        self.created: set = set()

    def forward_postprocess(self, function, in_data) -> None:
        self.created.add(function)


class _StopsAtCaptures(ref._Forget):
    """The reference before captures were handled: the recomputation's backward runs
    only through the nodes it created, and the gradients reaching any other variable
    (parameters, and captured non-leaf variables alike) go to the sink, whose rank is
    raised above the captured nodes'. When a captured variable's creator ranks above
    the ``forget`` node and the caller's backward has already visited it (the variable
    is also used outside, after the segment), Chainer's ``assert_no_grads`` fails."""

    def backward(self, indexes, grad_outputs):
        if chainer.config.enable_backprop:
            raise RuntimeError("double backpropagation in functions.forget is not allowed.")
        args = tuple(variable.Variable(x.array) for x in self.get_retained_inputs())
        recorder = _Recorder()
        with self.recompute_context(), recorder:
            outs = self.call(args)
        seeds = [(out.node, g) for out, g in zip(outs, grad_outputs, strict=True) if g is not None]
        boundary = _backprop_within(seeds, recorder.created)
        del outs, recorder
        arg_grads = tuple(boundary.pop(x.node, None) for x in args)
        captured = [(node, g) for node, g in boundary.items() if g is not None]
        return arg_grads + (self.deliver(captured),)

    def deliver(self, captured: list):
        if not captured:
            return None
        nodes = [n for n, _ in captured]
        self.sink.attach(nodes, [g for _, g in captured], self.rank)
        self.sink.rank = max([self.rank] + [node.rank for node in nodes])
        return variable.Variable(ref._scalar(self.device))


class _DropsCapturedGrads(_StopsAtCaptures):
    """Gradients reaching captured non-leaf variables are dropped (parameters and other
    leaves still get theirs): whatever those variables depend on misses the
    contribution of their use inside the segment."""

    def deliver(self, captured: list):
        return super().deliver([(n, g) for n, g in captured if n.creator_node is None])


def _backprop_within(seeds: list, interior: set) -> dict:
    """Backpropagate from ``seeds`` through the nodes in ``interior`` only; returns the
    gradients reaching the boundary (arguments, parameters, and any variable created
    outside the recomputation). Nothing is written to ``.grad``."""
    grads = _backprop_utils.GradTable()
    boundary: dict = {}
    heap: list = []
    seen: set = set()

    def reach(node) -> None:
        creator = node.creator_node
        if creator is not None and creator in interior:
            if creator not in seen:
                seen.add(creator)
                heapq.heappush(heap, (-creator.rank, len(seen), creator))
        else:
            boundary[node] = None

    for node, g in seeds:
        grads.accumulate(node, g)
        reach(node)
    while heap:
        func = heapq.heappop(heap)[2]
        targets = tuple(i for i, x in enumerate(func.inputs) if x.requires_grad)
        out_grad = tuple(grads.pop(y()) if y() is not None else None for y in func.outputs)
        if not targets:
            continue
        in_grad = collections.OrderedDict()
        for i in targets:
            in_grad.setdefault(func.inputs[i], grads.get_as_list(func.inputs[i]))
        arrays = tuple(x.data for x in func.inputs) + tuple(
            g.raw_array for g in out_grad if g is not None)
        with chainer.using_device(backend.get_device_from_array(*arrays)):
            _backprop_utils.backprop_step(func, targets, out_grad, in_grad, False)
        for x, gx in in_grad.items():
            if gx:
                reach(x)
    return {node: grads.pop(node) for node in boundary}


def _variant(node_cls: type):
    def forget(func, *xs):
        return ref.apply_forget(node_cls(func), ref.wrap_args(xs))

    forget.__doc__ = node_cls.__doc__
    return forget


crashes_on_late_capture = _variant(_StopsAtCaptures)
drops_captured_grads = _variant(_DropsCapturedGrads)
