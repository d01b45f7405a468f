"""Deliberately broken ``forget`` implementations for the harness's self-tests.

Each is the reference (``forget_impl``) with one small change, named after its
bug; ``EXPECTED`` says which clauses the conformance suite must then fail.
Name one on the command line as ``tests.broken.variants:NAME``.
"""

from __future__ import annotations

import chainer
import numpy as np
from chainer import variable

from forget_conformance.reference import _forget as ref


def _variant(node_cls: type, wrap=ref.wrap_args):
    def forget(func, *xs):
        return ref.apply_forget(node_cls(func), wrap(xs))

    forget.__doc__ = node_cls.__doc__
    return forget


# -- gradients ---------------------------------------------------------------


class _ScaledArgGrads(ref._Forget):
    """Argument gradients come back 0.1% too large."""

    def backward(self, indexes, grad_outputs):
        grads = super().backward(indexes, grad_outputs)
        return tuple(g * 1.001 if g is not None else None for g in grads[:-1]) + grads[-1:]


class _LostParamGrads(ref._Forget):
    """Parameters used inside func get no gradient."""

    def deliver(self, captured):
        return None


class _FirstOutputGradOnly(ref._Forget):
    """Gradients of every output but the first are ignored."""

    def backward(self, indexes, grad_outputs):
        return super().backward(indexes, grad_outputs[:1] + (None,) * (len(grad_outputs) - 1))


class _DuplicateArgGradLost(ref._Forget):
    """When one Variable is passed twice, the gradient of its second use is dropped."""

    def backward(self, indexes, grad_outputs):
        grads = list(super().backward(indexes, grad_outputs))
        seen = set()
        for i, node in enumerate(self.inputs[:-1]):
            if node in seen:
                grads[i] = None
            seen.add(node)
        return tuple(grads)


class _LastWriterWins(ref._Forget):
    """Parameter gradients overwrite whatever ``.grad`` held."""

    def deliver(self, captured):
        for node, g in captured:
            var = node.get_variable_or_none()
            if var is not None:
                var.grad_var = g
        return None


class _LossScaleDropped(ref._Forget):
    """Parameter gradients are added to ``.grad`` directly, as upstream does: the
    caller's loss scale is never recorded on them (and a later write may win)."""

    def deliver(self, captured):
        for node, g in captured:
            var = node.get_variable_or_none()
            if var is not None and node.creator_node is None:
                var.grad_var = g if var.grad_var is None else var.grad_var + g
                var._loss_scale = None
        return None


# -- return types --------------------------------------------------------------


def tuple_for_single(func, *xs):
    """A single Variable result comes back as a one-element tuple."""
    ys = ref.forget(func, *xs)
    return ys if isinstance(ys, tuple) else (ys,)


def list_results(func, *xs):
    """When func returns a tuple, the results come back as a list."""
    returned_tuple = []

    def spy(*args):
        out = func(*args)
        returned_tuple.append(isinstance(out, tuple))
        return out

    ys = ref.forget(spy, *xs)
    if returned_tuple and returned_tuple[0]:
        return list(ys) if isinstance(ys, tuple) else [ys]
    return ys


class _Float32Outputs(ref._Forget):
    """Results are cast to float32."""

    def forward(self, inputs):
        return tuple(y.astype(np.float32) for y in super().forward(inputs))


# -- errors ----------------------------------------------------------------------


class _WrongErrorType(ref._Forget):
    """A bad result from func raises TypeError instead of RuntimeError."""

    def call(self, xs):
        try:
            return super().call(xs)
        except RuntimeError as exc:
            raise TypeError(str(exc)) from None


class _CallableUnchecked(ref._Forget):
    """A non-callable func is accepted, and fails only when called."""

    def __init__(self, func):
        self.func = func
        self.config = ref._config_snapshot()
        self.sink = ref._Sink()
        self.device = ref.backend.CpuDevice()


class _DoubleBackpropAllowed(ref._Forget):
    """Double backpropagation is silently accepted."""

    def backward(self, indexes, grad_outputs):
        with chainer.using_config("enable_backprop", False):
            return super().backward(indexes, grad_outputs)


# -- state -------------------------------------------------------------------------


class _RecomputeNotFlagged(ref._Forget):
    """The recomputation runs without ``in_recomputing``: stateful links update twice."""

    def recompute_context(self):
        return ref._recompute_config(self.config, forced={"enable_backprop": True})


class _FlagLeaked(ref._Forget):
    """``in_recomputing`` is switched on for the recomputation and never switched off."""

    def recompute_context(self):
        chainer.config.in_recomputing = True
        return ref._recompute_config(self.config)


# -- memory ----------------------------------------------------------------------------


class _KeepsGraph(ref._Forget):
    """The forward pass builds and keeps the whole graph of func."""

    def forward(self, inputs):
        n_args = len(inputs) - 1
        self.retain_inputs(tuple(range(n_args)))
        with chainer.using_config("_will_recompute", True):
            xs = [variable.Variable(x) for x in inputs[:n_args]]
            self._kept = self.call(xs)
        return tuple(out.array for out in self._kept)


class _CopiesInputs(ref._Forget):
    """The node keeps private copies of its inputs."""

    def forward(self, inputs):
        self._copies = [x.copy() for x in inputs]
        return super().forward(inputs)


# -- configuration -----------------------------------------------------------------------


class _BackwardTimeConfig(ref._Forget):
    """The recomputation runs under the configuration in force at backward time."""

    def recompute_context(self):
        return ref._recompute_config({})


class _ExtraCall(ref._Forget):
    """func is called an extra time in forward, to check its result."""

    def forward(self, inputs):
        n_args = len(inputs) - 1
        with chainer.no_backprop_mode():
            self.call([variable.Variable(x) for x in inputs[:n_args]])
        return super().forward(inputs)


def _wrap_without_grad(xs):
    return tuple(
        x if isinstance(x, variable.Variable) else variable.Variable(x, requires_grad=False)
        for x in xs
    )


def _wrap_as_float(xs):
    def as_float(x):
        array = x.array if isinstance(x, variable.Variable) else x
        return array.astype(np.float32) if array.dtype.kind in "iu" else x

    return ref.wrap_args(tuple(as_float(x) for x in xs))


# The clause each bug is about, and every clause the suite is expected to fail with it
# (a bug in what forget returns or in global state breaks the tests of other clauses too);
# a U1 bug is judged at --level drop-in.
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "scaled_arg_grads": ("D3", {"D3", "T2", "T3", "T4"}),
    "lost_param_grads": ("D3", {"D3", "D7", "D9", "T1", "T2", "T3", "T4", "T5"}),
    "first_output_grad_only": ("T4", {"D3", "T4"}),
    "duplicate_arg_grad_lost": ("T4", {"T4"}),
    "last_writer_wins": ("T3", {"D3", "D9", "T1", "T3", "T4"}),
    "loss_scale_dropped": ("T1", {"D3", "T1", "T3", "T4"}),
    # D8 cannot be judged when the forward already breaks (charged to D1 instead).
    "tuple_for_single": ("D6", {"D1", "D2", "D3", "D6", "D7", "D9", "T1", "T2", "T3", "T4",
                                "T5"}),
    "float32_outputs": ("D1", {"D1", "D3", "T1", "T4"}),
    "wrong_error_type": ("D5", {"D5"}),
    # Still a TypeError, from the call itself: only upstream's text differs (drop-in level).
    "callable_unchecked": ("U1", {"U1"}),
    "list_results": ("D6", {"D1", "D2", "D3", "D4", "D6", "T4"}),
    "double_backprop_allowed": ("D8", {"D8"}),
    "recompute_not_flagged": ("D9", {"D9", "T4", "T5"}),
    "flag_leaked": ("D9", {"D1", "D2", "D3", "D4", "D6", "D7", "D9", "T1", "T2", "T3",
                             "T4", "T5"}),
    "keeps_graph": ("D2", {"D2", "D4", "T4"}),
    "copies_inputs": ("D2", {"D2"}),
    "backward_time_config": ("T2", {"T2"}),
    "extra_call": ("D4", {"D4", "D9", "T4", "T5"}),
    "arrays_not_wrapped": ("D7", {"D7"}),
    "int_args_cast": ("T4", {"T4"}),
}

scaled_arg_grads = _variant(_ScaledArgGrads)
lost_param_grads = _variant(_LostParamGrads)
first_output_grad_only = _variant(_FirstOutputGradOnly)
duplicate_arg_grad_lost = _variant(_DuplicateArgGradLost)
last_writer_wins = _variant(_LastWriterWins)
loss_scale_dropped = _variant(_LossScaleDropped)
float32_outputs = _variant(_Float32Outputs)
wrong_error_type = _variant(_WrongErrorType)
callable_unchecked = _variant(_CallableUnchecked)
double_backprop_allowed = _variant(_DoubleBackpropAllowed)
recompute_not_flagged = _variant(_RecomputeNotFlagged)
flag_leaked = _variant(_FlagLeaked)
keeps_graph = _variant(_KeepsGraph)
copies_inputs = _variant(_CopiesInputs)
backward_time_config = _variant(_BackwardTimeConfig)
extra_call = _variant(_ExtraCall)
arrays_not_wrapped = _variant(ref._Forget, wrap=_wrap_without_grad)
int_args_cast = _variant(ref._Forget, wrap=_wrap_as_float)
