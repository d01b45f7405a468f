"""Broken ``forget`` implementations that change what a user's program observes.

Each is the reference with one plausible change, named after its bug: one per class of
issue 15 section 5, one for function hooks and one for many arguments. ``EXPECTED`` maps
each name to the clause and symptom ``test_observables`` must charge, in the scenario
named. Name one as ``tests.broken.observable_bugs:NAME``.
"""

from __future__ import annotations

import warnings
from unittest import mock

import chainer
import numpy
from chainer import _backprop_utils, variable

from forget_conformance.reference import _forget as ref


def _variant(node_cls: type):
    def forget(func, *xs):
        return ref.apply_forget(node_cls(func), ref.wrap_args(xs))

    forget.__doc__ = node_cls.__doc__
    return forget


class _ForwardReportsDropped(ref._Forget):
    """The no-graph forward call reports into a throwaway observation (so that its reports
    do not count twice); the recomputation's reports arrive only at backward."""

    def forward(self, inputs):
        reporters = chainer.reporter._get_reporters()
        if not reporters:
            return super().forward(inputs)
        with reporters[-1].scope({}):
            return super().forward(inputs)


class _FirstTermTable(_backprop_utils.GradTable):
    def pop(self, node):
        pending = self.grads.get(node)
        if pending is not None and len(pending) > 1:
            self.grads[node] = pending[:1]
        return super().pop(node)


class _LazySumFirstTermOnly(ref._Forget):
    """The recomputation's gradient table hands over the first pending term of each
    gradient, as if it were the sum (true with eager summation, not under lazy_grad_sum)."""

    def backward(self, indexes, grad_outputs):
        with mock.patch.object(_backprop_utils, "GradTable", _FirstTermTable):
            return super().backward(indexes, grad_outputs)


class _LeafResultsNotSeeded(ref._Forget):
    """Results that func returned as they were (an argument, a parameter: leaves of the
    recomputation) are not backpropagated: the gradient they receive is dropped."""

    def backward(self, indexes, grad_outputs):
        args = tuple(variable.Variable(x.array) for x in self.get_retained_inputs())
        with self.recompute_context():
            outs = self.call(args)
        seeds = [(out.node, g) for out, g in zip(outs, grad_outputs, strict=True)
                 if g is not None and out.creator_node is not None]
        boundary = ref._backprop_to_leaves(seeds)
        arg_grads = tuple(boundary.pop(x.node, None) for x in args)
        return arg_grads + (self.deliver([(n, g) for n, g in boundary.items()
                                          if g is not None]),)


class _FrozenParamsSkipped(ref._Forget):
    """Parameters whose update rule is disabled (``disable_update()``) get no gradient:
    "the optimizer will not use it anyway"."""

    def deliver(self, captured):
        def enabled(node):
            rule = getattr(node.get_variable_or_none(), "update_rule", None)
            return rule is None or rule.enabled

        return super().deliver([(n, g) for n, g in captured if enabled(n)])


class _RandomStateReplayed(ref._Forget):
    """The recomputation replays NumPy's global RNG from where the forward call began (so
    that dropout masks agree) and leaves it there: draws made in the forward call, such as
    a lazily initialised link's weights, are drawn again by whatever comes next."""

    def forward(self, inputs):
        self.rng_state = numpy.random.get_state()
        return super().forward(inputs)

    def backward(self, indexes, grad_outputs):
        numpy.random.set_state(self.rng_state)
        return super().backward(indexes, grad_outputs)


class _ArgumentsFrozen(ref._Forget):
    """The retained arguments are made read-only (so func cannot change them before the
    recomputation), and left so: the caller's arrays, views included, stay read-only."""

    def forward(self, inputs):
        for x in inputs[:-1]:
            if isinstance(x, numpy.ndarray):
                x.flags.writeable = False
        return super().forward(inputs)


class _ForwardWarningsSilenced(ref._Forget):
    """Warnings of the no-graph forward call are silenced (they would be shown twice); the
    recomputation's reach the user at backward, or never if backward is not run."""

    def forward(self, inputs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return super().forward(inputs)


class _ForwardHooksHidden(ref._Forget):
    """Function hooks are taken away during the no-graph forward call (so that a profiler
    does not count func twice): a hook never sees func's forward pass."""

    def forward(self, inputs):
        hooks = chainer.get_function_hooks()
        saved = dict(hooks)
        hooks.clear()
        try:
            return super().forward(inputs)
        finally:
            hooks.update(saved)


class _TwoArgumentsRetained(ref._Forget):
    """Retains the first two arguments only (the most any test of it used)."""

    def forward(self, inputs):
        outs = super().forward(inputs)
        self.retain_inputs(tuple(range(min(2, len(inputs) - 1))))
        return outs


#: name -> (clause, symptom kind, scenario of test_observables that must charge it)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "forward_reports_dropped": ("T1", "value-mismatch", "adam-eager_sum"),
    "lazy_sum_first_term_only": ("D3", "value-scaled", "adam-lazy_grad_sum"),
    "leaf_results_not_seeded": ("D3", "value-mismatch", "adam-eager_sum"),
    "frozen_params_skipped": ("D3", "gradient-none", "momentum_sgd-eager_sum"),
    "random_state_replayed": ("T5", "state-changed", "adam-eager_sum"),
    "arguments_frozen": ("T5", "state-changed", "momentum_sgd-eager_sum"),
    "forward_warnings_silenced": ("T5", "state-changed", "adam-eager_sum"),
    "forward_hooks_hidden": ("T4", "state-changed", "adam-eager_sum"),
    "two_arguments_retained": ("T4", "exception", "many_arguments-3"),
}

forward_reports_dropped = _variant(_ForwardReportsDropped)
lazy_sum_first_term_only = _variant(_LazySumFirstTermOnly)
leaf_results_not_seeded = _variant(_LeafResultsNotSeeded)
frozen_params_skipped = _variant(_FrozenParamsSkipped)
random_state_replayed = _variant(_RandomStateReplayed)
arguments_frozen = _variant(_ArgumentsFrozen)
forward_warnings_silenced = _variant(_ForwardWarningsSilenced)
forward_hooks_hidden = _variant(_ForwardHooksHidden)
two_arguments_retained = _variant(_TwoArgumentsRetained)
