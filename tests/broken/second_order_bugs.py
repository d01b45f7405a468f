"""Implementations that allow double backprop through ``forget`` (D8).

``double_backprop_supported`` is exact in every conformance case: asked for a graph of
the gradients, its backward recomputes ``func`` on the caller's own argument variables and
backpropagates to them (and to the leaves ``func`` reached by itself) with that
graph recorded. Its sink (which hands over the gradients of leaves ``func`` reached
by itself) takes the arguments as inputs until backward, so that ``chainer.grad``
visits it (the reference's sink has no inputs then: ``chainer.grad`` never visits
it, and loses the gradient reaching an input through a value ``func`` closes over).
The fuzzer still finds it wrong through ``chainer.grad`` where one segment closes over
a value computed from another segment's result: ``chainer.grad`` not asking for a
parameter skips the sink holding its gradient, and the penalty's backward later hands
that stale gradient over again (a parameter's penalty gradient differs; see
``tests/test_fuzz_double_backprop.py``). The reference's sink does the same at first
order: ``chainer.grad`` of the inputs, then ``backward``, doubles such gradients.
Each other variant is it with one plausible mistake that shows in some leaves, or
through one route, only; ``EXPECTED`` gives D8's verdict on each
(``conformance/second_order.py``). Name one as ``tests.broken.second_order_bugs:NAME``.
"""

from __future__ import annotations

import collections
import heapq

import chainer
from chainer import _backprop_utils, variable

from forget_conformance.reference import _forget as ref


def _backprop(seeds: list, stop: set) -> dict:
    """Gradients from ``seeds`` down to the leaves and to the nodes in ``stop`` (not
    beyond), recording their graph when backprop is enabled; writes no ``.grad``."""
    grads, boundary, heap, seen = _backprop_utils.GradTable(), {}, [], set()

    def reach(node) -> None:
        if node in stop or node.creator_node is None:
            boundary[node] = None
        elif node.creator_node not in seen:
            seen.add(node.creator_node)
            heapq.heappush(heap, (-node.creator_node.rank, len(seen), node.creator_node))

    for node, g in seeds:
        grads.accumulate(node, g)
        reach(node)
    while heap:
        func = heapq.heappop(heap)[2]
        out_grad = tuple(grads.pop(y) if y is not None else None
                         for y in (ref_() for ref_ in func.outputs))
        targets = tuple(i for i, x in enumerate(func.inputs) if x.requires_grad)
        if not targets:
            continue
        in_grad = collections.OrderedDict()
        for i in targets:
            in_grad.setdefault(func.inputs[i], grads.get_as_list(func.inputs[i]))
        _backprop_utils.backprop_step(func, targets, out_grad, in_grad, False)
        for x, gx in in_grad.items():
            if gx:
                reach(x)
    return {node: grads.pop(node) for node in boundary}


class _Exact(ref._Forget):
    """The reference, plus double backprop done right."""

    def backward(self, indexes, grad_outputs):
        if not chainer.config.enable_backprop:
            return super().backward(indexes, grad_outputs)
        args = self.get_retained_inputs()  # the caller's variables: the graph goes on
        with self.recompute_context():
            outs = self.call(args)
        seeds = [(out.node, g) for out, g in zip(outs, grad_outputs, strict=True)
                 if g is not None]
        boundary = _backprop(seeds, {x.node for x in args})
        arg_grads = tuple(boundary.pop(x.node, None) for x in args)
        captured = [(node, g) for node, g in boundary.items() if g is not None]
        return arg_grads + (self.deliver(self.adjust(captured)),)

    def adjust(self, captured: list) -> list:
        return captured


def _constant(g):
    return variable.Variable(g.array)


def _is_param(node) -> bool:
    return isinstance(node.get_variable_or_none(), chainer.Parameter)


class _ParamsConstant(_Exact):
    def adjust(self, captured):
        return [(n, _constant(g) if _is_param(n) else g) for n, g in captured]


class _CapturedConstant(_Exact):
    def adjust(self, captured):
        return [(n, g if _is_param(n) else _constant(g)) for n, g in captured]


class _WritesGrads(_Exact):
    def adjust(self, captured):
        for node, g in captured:
            var = node.get_variable_or_none()
            if var is not None:
                var.grad_var = g if var.grad_var is None else var.grad_var + g
        return []


class _RejectsCaptured(_Exact):
    def adjust(self, captured):
        if captured:
            raise NotImplementedError("double backprop through forget: only for functions "
                                      "of the arguments alone")
        return captured


class _VisibleSink(ref._Sink):
    """The reference's sink, taking the arguments as its inputs until backward: so a
    ``chainer.grad`` from an ancestor of an argument sees the hub, visits the sink, and
    receives what ``func`` reached through values it closes over."""

    def hub_over(self, device, xs: tuple) -> chainer.Variable:
        self.inputs = tuple(x.node for x in xs)
        self.rank = max((x.rank for x in self.inputs), default=-1) + 1
        hub = self.hub(device)  # wired by hand: its node's rank follows this one's
        self.inputs = tuple(x.node for x in xs)  # hub() cleared them
        return hub


def _apply(cls: type[ref._Forget], func, xs: tuple):
    xs = ref.wrap_args(xs)
    node = cls(func)
    node.sink = _VisibleSink()
    if xs:
        node.device = chainer.backend.get_device_from_array(*(x.array for x in xs))
    ys = node.apply(xs + (node.sink.hub_over(node.device, xs),))
    if len(ys) == 1:
        return ys[0]
    return ys if node.result_type is tuple else getattr(
        node.result_type, "_make", node.result_type)(ys)


def double_backprop_supported(func, *xs):
    """Double backprop supported, exactly as on the plain path."""
    return _apply(_Exact, func, xs)


def param_second_order_lost(func, *xs):
    """Double backprop allowed, but the gradients of link parameters reached inside
    ``func`` are handed back as constants: their own graph is cut."""
    return _apply(_ParamsConstant, func, xs)


def captured_second_order_lost(func, *xs):
    """Double backprop allowed, but the gradients of values ``func`` closes over (and
    of the leaves under them) are handed back as constants."""
    return _apply(_CapturedConstant, func, xs)


def grad_route_writes_grads(func, *xs):
    """Double backprop allowed; the gradients of leaves reached inside ``func`` are
    added to their ``.grad`` directly, which ``backward`` reads but ``chainer.grad``
    never sees: wrong through ``chainer.grad`` only."""
    return _apply(_WritesGrads, func, xs)


def rejects_captured(func, *xs):
    """Exact double backprop when ``func`` reaches no leaf by itself; otherwise rejected
    (NotImplementedError): meets D8 without claiming support."""
    return _apply(_RejectsCaptured, func, xs)


#: variant -> D8's verdict: an outcome, or the symptom of its failure.
EXPECTED: dict[str, str] = {
    "double_backprop_supported": "supported",
    "param_second_order_lost": "silently-wrong",
    "captured_second_order_lost": "silently-wrong",
    "grad_route_writes_grads": "silently-wrong",
    "rejects_captured": "rejected in",
}
