"""Broken ``forget`` implementations that leave state behind or take config from the wrong place.

Each is the reference with one plausible change, named after its bug; ``EXPECTED``
maps each name to the clauses, and the test functions, of ``FILES`` (the state,
modes and config-source conformance modules) that must then fail. Name one as
``tests.broken.state_bugs:NAME``.
"""

from __future__ import annotations

import contextlib

import chainer
from chainer import backend, variable

from forget_conformance.reference import _forget as ref

FILES = ("test_state.py", "test_modes.py", "test_config_sources.py")


def _variant(node_cls: type):
    def forget(func, *xs):
        return ref.apply_forget(node_cls(func), ref.wrap_args(xs))

    forget.__doc__ = node_cls.__doc__
    return forget


def _call_without_graph(node: ref._Forget, inputs) -> tuple:
    n_args = len(inputs) - 1
    node.retain_inputs(tuple(range(n_args)))
    outs = node.call([variable.Variable(x) for x in inputs[:n_args]])
    return tuple(out.array for out in outs)


# -- exceptions ------------------------------------------------------------------------


class _RestoreOnlyOnSuccess(ref._Forget):
    """The forward call sets its flags by assignment and restores them only when func returns."""

    def forward(self, inputs):
        local = vars(chainer.config._local)
        saved = dict(local)
        chainer.config.enable_backprop = False
        chainer.config._will_recompute = True
        outs = _call_without_graph(self, inputs)
        local.clear()
        local.update(saved)
        return outs


class _RecomputeFlagsKeptOnRaise(ref._Forget):
    """The recomputation's configuration is undone after the block, but not if func raises."""

    @contextlib.contextmanager
    def recompute_context(self):
        local = vars(chainer.config._local)
        saved = dict(local)
        local.update(self.config)
        local.update(ref._FORCED_IN_RECOMPUTE)
        yield
        local.clear()
        local.update(saved)


# -- modes and APIs ----------------------------------------------------------------------


class _DropsBackpropOverride(ref._Forget):
    """The forward call turns backprop off, then drops the thread's override (not restores it)."""

    def forward(self, inputs):
        chainer.config.enable_backprop = False
        try:
            with chainer.using_config("_will_recompute", True):
                return _call_without_graph(self, inputs)
        finally:
            vars(chainer.config._local).pop("enable_backprop", None)


def always_builds_node(func, *xs):
    """The node is applied under force_backprop_mode, so the result has a creator regardless."""
    with chainer.force_backprop_mode():
        return ref.forget(func, *xs)


def shortcut_without_backprop(func, *xs):
    """With backprop off there is nothing to recompute, so func's result is returned as is."""
    if not chainer.config.enable_backprop:
        return func(*xs)
    return ref.forget(func, *xs)


def device_of_first_argument(func, *xs):
    """The device is taken from the first argument, so forget(func) with no arguments fails."""
    xs = ref.wrap_args(xs)
    node = ref._Forget(func)
    node.device = backend.get_device_from_array(xs[0].array)
    return ref.apply_forget(node, xs)


class _MemoisedBackward(ref._Forget):
    """The first backward's gradients are kept and returned by every later backward."""

    def backward(self, indexes, grad_outputs):
        if not hasattr(self, "memo"):
            self.memo = super().backward(indexes, grad_outputs)
        return self.memo


class _FreesAfterBackward(ref._Forget):
    """The saved arguments are dropped after the first backward, to free memory early."""

    def forward(self, inputs):
        self.saved = inputs[:-1]
        with chainer.no_backprop_mode(), chainer.using_config("_will_recompute", True):
            outs = self.call([variable.Variable(x) for x in self.saved])
        return tuple(out.array for out in outs)

    def get_retained_inputs(self):
        return tuple(variable.Variable(x) for x in self.saved)

    def backward(self, indexes, grad_outputs):
        grads = super().backward(indexes, grad_outputs)
        self.saved = None
        return grads


class _WritesEmptyGrads(ref._Forget):
    """Parameters whose ``.grad`` is empty get the gradient written straight into it."""

    def deliver(self, captured):
        routed = []
        for node, grad in captured:
            var = node.get_variable_or_none()
            if var is not None and var.grad_var is None:
                var.grad_var = grad
            else:
                routed.append((node, grad))
        return super().deliver(routed)


_SHARED_CONFIG: dict = {}


class _SharedConfigSlot(ref._Forget):
    """The captured configuration lives in one module-level dict: the last forward's wins."""

    def __init__(self, func) -> None:
        super().__init__(func)
        _SHARED_CONFIG.clear()
        _SHARED_CONFIG.update(self.config)
        self.config = _SHARED_CONFIG


class _GlobalRecomputeFlag(ref._Forget):
    """``in_recomputing`` is switched on in ``chainer.global_config``, seen by every thread."""

    @contextlib.contextmanager
    def recompute_context(self):
        snapshot = {k: v for k, v in self.config.items() if k != "in_recomputing"}
        g = chainer.configuration.global_config
        with ref._recompute_config(snapshot, {"enable_backprop": True}):
            g.in_recomputing = True
            try:
                yield
            finally:
                g.in_recomputing = False


# -- where configuration comes from ------------------------------------------------------


class _LocalOnlySnapshot(ref._Forget):
    """The captured configuration is the thread's overrides only: global keys are missed."""

    def __init__(self, func) -> None:
        super().__init__(func)
        self.config = dict(vars(chainer.config._local))


class _GlobalOnlySnapshot(ref._Forget):
    """The captured configuration is read from ``chainer.global_config``, not the thread's."""

    def __init__(self, func) -> None:
        super().__init__(func)
        self.config = dict(vars(chainer.configuration.global_config))


class _ForwardUnderDefaults(ref._Forget):
    """The forward call runs under the global configuration, the caller's overrides removed."""

    def forward(self, inputs):
        local = vars(chainer.config._local)
        saved = dict(local)
        local.clear()
        try:
            return super().forward(inputs)
        finally:
            local.clear()
            local.update(saved)


restore_only_on_success = _variant(_RestoreOnlyOnSuccess)
recompute_flags_kept_on_raise = _variant(_RecomputeFlagsKeptOnRaise)
drops_backprop_override = _variant(_DropsBackpropOverride)
memoised_backward = _variant(_MemoisedBackward)
frees_after_backward = _variant(_FreesAfterBackward)
writes_empty_grads = _variant(_WritesEmptyGrads)
shared_config_slot = _variant(_SharedConfigSlot)
global_recompute_flag = _variant(_GlobalRecomputeFlag)
local_only_snapshot = _variant(_LocalOnlySnapshot)
global_only_snapshot = _variant(_GlobalOnlySnapshot)
forward_under_defaults = _variant(_ForwardUnderDefaults)

_RAISES = {"test_config_restored_after_func_raises", "test_next_step_after_exception_like_plain"}
_OUTCOMES = "test_no_backprop_mode_returns_and_rejects_as_with_backprop"
_THREADS = "test_threads_keep_their_own_config"
_CALLERS = "test_func_runs_under_callers_config"

EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "restore_only_on_success": ({"T5"}, _RAISES | {_OUTCOMES}),
    "recompute_flags_kept_on_raise": ({"T5"}, _RAISES),
    "drops_backprop_override": ({"T5"}, {"test_no_backprop_mode_like_plain", _OUTCOMES}),
    "always_builds_node": ({"T5"}, {"test_no_backprop_mode_like_plain"}),
    "shortcut_without_backprop": ({"T5"}, {_OUTCOMES}),
    "device_of_first_argument": ({"T4"}, {"test_no_arguments"}),
    "memoised_backward": ({"T4"}, {"test_backward_twice_like_plain"}),
    "frees_after_backward": ({"T4"}, {"test_backward_twice_like_plain"}),
    "writes_empty_grads": ({"T4"}, {"test_chainer_grad_like_plain"}),
    "shared_config_slot": ({"T4"}, {_THREADS}),
    "global_recompute_flag": ({"T4"}, {_THREADS}),
    "local_only_snapshot": ({"T2"}, {"test_global_config_reaches_recomputation", _CALLERS}),
    "global_only_snapshot": ({"T2", "T4"}, {
        _THREADS, "test_key_changed_between_forward_and_backward", _CALLERS}),
    "forward_under_defaults": ({"T2", "T4"}, {
        _THREADS, "test_key_changed_between_forward_and_backward", _CALLERS}),
}
