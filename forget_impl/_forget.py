"""The reference ``forget``: Chainer 7.8.1's semantics, plus transparency (T1-T4).

How it differs from upstream, and why (clause IDs from ``docs/contract.md``):

* Gradients for variables that ``func`` reaches without receiving them as
  arguments (parameters of links, closed-over variables) are not written to
  ``.grad`` by a private backward pass. They are handed back to the caller's
  backward pass through a small "sink" node hanging off the ``Forget`` node, so
  they are accumulated in the caller's gradient table like any other
  contribution: ``loss_scale`` reaches them (T1) and a parameter used inside and
  outside ``func`` gets both contributions in either order (T3).
  The sink's scalar is an input of the ``Forget`` node that requires grad, so
  the result requires grad even when no argument does, and parameters inside
  ``func`` still get their gradients (D3, T4), as on the plain path.
* The recomputation runs under the ``chainer.config`` captured when ``forget``
  was called, not under whatever is active when ``backward`` runs (T2).
* The recomputation's ``chainer.report`` calls are discarded: the forward call
  made the plain path's reports, and a repeat would land in whatever observation
  is current at backward (T1).

Everything a user can observe otherwise (return types including the
one-element-tuple quirk F1, exception types and messages for D5/D8, the
``in_recomputing`` / ``_will_recompute`` flags for D9) matches upstream.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import weakref
from collections.abc import Callable
from typing import Any

import chainer
import numpy
from chainer import _backprop_utils, backend, function_node, variable

_FORCED_IN_RECOMPUTE = {"enable_backprop": True, "in_recomputing": True}


def _ordinal(n: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
    return f"{n}{suffix}"


def _call_func(func: Callable, xs) -> tuple:
    """Call ``func`` and check it returned a Variable or a tuple of them (D5)."""
    outs = func(*xs)
    if isinstance(outs, tuple):
        for i, out in enumerate(outs):
            if not isinstance(out, variable.Variable):
                position = _ordinal(i + 1)
                raise RuntimeError(
                    f"{position} element of a returned tuple is not Variable, but is {type(out)}"
                )
        return outs
    if isinstance(outs, variable.Variable):
        return (outs,)
    raise RuntimeError(
        f"A tuple of Variables or a Variable are expected, but {type(outs)} is returned."
    )


def _config_snapshot() -> dict[str, Any]:
    """Every key visible in ``chainer.config`` (thread-local over global)."""
    snapshot = dict(vars(chainer.configuration.global_config))
    snapshot.update(vars(chainer.config._local))
    return snapshot


@contextlib.contextmanager
def _recompute_config(snapshot: dict[str, Any], forced: dict[str, Any] = _FORCED_IN_RECOMPUTE):
    """Make ``snapshot``, with ``forced`` on top, the thread's configuration; undo on exit.

    One dictionary swap instead of a ``using_config`` per key: this runs once per
    forgotten segment per backward pass.
    """
    local = vars(chainer.config._local)
    saved = dict(local)
    local.update(snapshot)
    local.update(forced)
    try:
        yield
    finally:
        local.clear()
        local.update(saved)


class _Sink(function_node.FunctionNode):
    """Carries the gradients of leaves ``func`` reached by itself into the outer backward.

    Its inputs are replaced during ``_Forget.backward`` by those leaves' nodes, and
    its rank raised to the ``_Forget`` node's, so the outer pass visits it next and
    the gradients it holds are handed over at once.
    """

    def __init__(self) -> None:
        self._pending: dict = {}

    def hub(self, device) -> variable.Variable:
        """The sink's only output: a scalar the ``_Forget`` node takes as its last input.

        Wired by hand (public ``set_creator_node`` and ``outputs``) rather than by
        ``apply``, which would cost as much as a small function call per ``forget``.
        """
        hub = variable.Variable(_scalar(device), requires_grad=True)
        self.inputs = ()
        self.outputs = (weakref.ref(hub.node),)
        hub.set_creator_node(self)
        return hub

    def attach(self, nodes: list, grads: list, rank: int) -> None:
        """Add gradients to hand over at the next visit.

        The ``_Forget`` node can be visited again before its sink is (another
        segment that closed over its result backpropagates through it), so
        deliveries accumulate; whichever pass visits the sink first carries them all,
        and a later visit hands over nothing.
        """
        for node, grad in zip(nodes, grads, strict=True):
            pending = self._pending.get(node)
            self._pending[node] = grad if pending is None else pending + grad
        self.inputs = tuple(self._pending)
        self.rank = rank

    def backward(self, indexes, grad_outputs):
        pending, self._pending = self._pending, {}
        return tuple(pending.get(node) for node in self.inputs)


@contextlib.contextmanager
def _reports_discarded():
    """Run with no reporter in force, so ``chainer.report`` reaches no observation (as
    when backward runs outside every reporter's scope)."""
    stack = chainer.reporter._get_reporters()
    saved = list(stack)
    stack.clear()
    try:
        yield
    finally:
        stack[:] = saved


class _Forget(function_node.FunctionNode):
    def __init__(self, func: Callable) -> None:
        if not callable(func):
            raise TypeError("func must be callable")
        self.func = func
        self.config = _config_snapshot()
        self.sink = _Sink()
        self.device = backend.CpuDevice()
        self.result_type: type = tuple

    def forward(self, inputs):
        n_args = len(inputs) - 1  # the last input is the sink's scalar
        self.retain_inputs(tuple(range(n_args)))
        with chainer.no_backprop_mode(), chainer.using_config("_will_recompute", True):
            xs = [variable.Variable(x) for x in inputs[:n_args]]
            outs = self.call(xs)
        return tuple(out.array for out in outs)

    def call(self, xs) -> tuple:
        """Call ``func`` and validate what it returns (D5)."""
        outs = _call_func(self.func, xs)
        # Keep a tuple subclass (a namedtuple) for the caller, as func(*xs) gives it
        # (D6; upstream returns a plain tuple). A Variable result needs nothing.
        self.result_type = type(outs)
        return outs

    def recompute_context(self):
        """The configuration the recomputation runs under (T2, D9)."""
        return _recompute_config(self.config)

    def backward(self, indexes, grad_outputs):
        if chainer.config.enable_backprop:
            raise RuntimeError("double backpropagation in functions.forget is not allowed.")
        args = tuple(variable.Variable(x.array) for x in self.get_retained_inputs())
        # The forward call made the plain path's reports; a repeat would land in
        # whatever observation is current now (T1).
        with self.recompute_context(), _reports_discarded():
            outs = self.call(args)
        assert len(outs) == len(grad_outputs)
        seeds = [(out.node, g) for out, g in zip(outs, grad_outputs, strict=True) if g is not None]
        boundary = _backprop_to_leaves(seeds)
        del outs
        arg_grads = tuple(boundary.pop(x.node, None) for x in args)
        captured = [(node, g) for node, g in boundary.items() if g is not None]
        return arg_grads + (self.deliver(captured),)

    def deliver(self, captured: list) -> variable.Variable | None:
        """Route gradients of captured variables into the caller's backward (T1, T3).

        Returns the gradient for the sink's scalar: ``None`` when there is nothing
        to deliver, so the sink is not visited.
        """
        if not captured:
            return None
        self.sink.attach([n for n, _ in captured], [g for _, g in captured], self.rank)
        return variable.Variable(_scalar(self.device))


def _scalar(device):
    """A float32 zero on ``device``: the sink's anchor and its gradient."""
    if device.xp is numpy:
        return numpy.zeros((), dtype="f")
    with chainer.using_device(device):
        return device.xp.zeros((), dtype="f")


def _backprop_to_leaves(seeds: list) -> dict:
    """Backpropagate from ``seeds`` to the leaves, writing nothing to ``.grad``.

    Returns the gradients reaching each leaf: the recomputation's arguments and
    the parameters (or other leaf variables) ``func`` reached by itself. A
    non-leaf variable ``func`` captured from the caller's graph is backpropagated
    through here, as Chainer does: its creator may rank below this node, so the
    caller's pass may already have visited it.
    """
    grads = _backprop_utils.GradTable()
    boundary: dict = {}
    heap: list = []
    seen: set = set()

    def reach(node) -> None:
        creator = node.creator_node
        if creator is None:
            boundary[node] = None
        elif creator not in seen:
            seen.add(creator)
            heapq.heappush(heap, (-creator.rank, len(seen), creator))

    for node, g in seeds:
        grads.accumulate(node, g)
        reach(node)

    is_debug = chainer.is_debug()
    base_hooks = tuple(chainer.get_function_hooks().values())
    while heap:
        func = heapq.heappop(heap)[2]
        inputs = func.inputs
        targets = tuple(i for i, x in enumerate(inputs) if x.requires_grad)
        outputs = [y() for y in func.outputs]
        out_grad = tuple(grads.pop(y) if y is not None else None for y in outputs)
        if not targets:
            continue
        in_grad = collections.OrderedDict()
        for i in targets:
            in_grad.setdefault(inputs[i], grads.get_as_list(inputs[i]))
        hooks = list(base_hooks)
        if func._n_local_function_hooks:
            hooks += func.local_function_hooks.values()
        in_data = tuple(x.data for x in inputs)
        out_arrays = tuple(None if g is None else g.raw_array for g in out_grad)
        with chainer.using_device(backend.get_device_from_array(*(in_data + out_arrays))):
            for hook in hooks:
                hook.backward_preprocess(func, in_data, out_arrays)
            _backprop_utils.backprop_step(func, targets, out_grad, in_grad, is_debug)
            for hook in hooks:
                hook.backward_postprocess(func, in_data, out_arrays)
        del out_grad
        for x, gx in in_grad.items():
            if gx:
                reach(x)
    return {node: grads.pop(node) for node in boundary}


def wrap_args(xs: tuple) -> tuple:
    """ndarray arguments become Variables that require gradients (D7)."""
    return tuple(
        x if isinstance(x, variable.Variable) else variable.Variable(x, requires_grad=True)
        for x in xs
    )


def apply_forget(node: _Forget, xs: tuple):
    """Apply a ``_Forget`` node to Variables; unwrap a single result as upstream does (F1)."""
    if xs:
        node.device = backend.get_device_from_array(*(x.array for x in xs))
    ys = node.apply(xs + (node.sink.hub(node.device),))
    if len(ys) == 1:
        (ys,) = ys
    elif node.result_type is not tuple:
        ys = getattr(node.result_type, "_make", node.result_type)(ys)
    return ys


def forget(func: Callable, *xs):
    """Call ``func`` without storing intermediate results; recompute on backward.

    A drop-in for ``chainer.functions.forget`` of Chainer 7.8.1 that also keeps
    a training step identical to the one without it (clauses T1-T4).
    """
    xs = wrap_args(xs)
    return apply_forget(_Forget(func), xs)
