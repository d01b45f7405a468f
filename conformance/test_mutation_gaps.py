"""Behaviours that mutants of the reference changed without any other conformance test noticing.

Found by ``dev.py mutate`` (docs/design.md, "Mutation score"); each test is the plain path
as oracle for one class of surviving mutant.
"""

import collections

import chainer
import chainer.functions as F
import chainer.links as L
import pytest
from chainer.functions.activation.tanh import Tanh

from forget_conformance.conformance.support import check_close, clone, data, variables, weighted_sum


def _plain(func, *xs):
    return func(*xs)


@pytest.mark.clause("D3")
def test_result_captured_by_two_segments_and_used_outside(forget, forget_device):
    """Two segments close over one segment's result, which is also used outside: the
    captured segment is backpropagated through once per use (D4), each time with a
    share of its parameters' gradient, before the caller's pass collects them."""
    base = L.Linear(3, 3).to_device(forget_device)
    grads = {}
    for call in (_plain, forget):
        link = clone(base)
        x, x2 = variables(forget_device, (2, 3), (2, 3), seed=5)
        y = call(link, x)
        ys = [call(lambda z, y=y: z * y, x2), call(lambda z, y=y: (z + 1) * y, x2)]
        weighted_sum(ys + [y]).backward()
        grads[call] = {"W": link.W.grad_var, "b": link.b.grad_var, "x": x.grad_var,
                       "x2": x2.grad_var}
    for name, expected in grads[_plain].items():
        check_close(f"gradient of {name}", grads[forget][name], expected)


class _BackwardCounter(chainer.FunctionHook):
    """Counts the backward calls a function hook sees, per function label."""

    name = "mutation_gaps_backward_counter"

    def __init__(self) -> None:
        self.calls: collections.Counter = collections.Counter()

    def backward_preprocess(self, function, in_data, out_grad) -> None:
        self.calls[function.label, "pre"] += 1

    def backward_postprocess(self, function, in_data, out_grad) -> None:
        self.calls[function.label, "post"] += 1


def _hooked_tanh(hook: chainer.FunctionHook):
    def func(a):
        node = Tanh()
        node.add_hook(hook)
        return node.apply((a,))[0]

    return func


@pytest.mark.clause("T4")
@pytest.mark.parametrize("scope", ["global", "local"])
def test_function_hooks_see_backward_inside_func(forget, forget_device, scope):
    """A function hook sees the backward of every function ``func`` applies, as on the
    plain path: a global one (``with hook:``) and one added to a node (``add_hook``)."""
    base = L.Linear(3, 3).to_device(forget_device)
    seen = {}
    for call in (_plain, forget):
        link, hook = clone(base), _BackwardCounter()
        (x,) = variables(forget_device, (2, 3), seed=7)
        if scope == "global":
            y = call(lambda a, link=link: F.tanh(link(a)), x)
            with hook:
                weighted_sum([y]).backward()
        else:
            y = call(_hooked_tanh(hook), x)
            weighted_sum([y]).backward()
        seen[call] = hook.calls
    expected = dict(seen[_plain])
    got = {key: seen[forget][key] for key in expected}
    if got != expected:
        raise AssertionError(f"backward hook calls per function: got {got}, expected {expected}")


@pytest.mark.clause("D3")
def test_value_inside_func_used_at_two_depths(forget, forget_device):
    """Inside ``func`` one value feeds a short and a long branch; its gradient is complete
    only after both, so the recomputation's backward must go in rank order."""

    def func(a):
        h = F.tanh(F.tanh(a))  # made by a function of rank 1, not by one of the argument
        return h * F.exp(F.sin(F.cos(h)))

    grads = []
    for call in (_plain, forget):
        (x,) = variables(forget_device, (2, 3), seed=11)
        weighted_sum([call(func, x)]).backward()
        grads.append(x.grad_var)
    check_close("gradient of the argument", grads[1], grads[0])


@pytest.mark.clause("D3")
def test_output_that_needs_no_gradient_alongside_one_that_does(forget, forget_device):
    """``func`` also returns a value computed from a constant (no input needs its
    gradient, and it ranks highest); the recomputation's backward passes it by and goes
    on to the argument's gradient."""
    const = data(forget_device, (2, 3), seed=13)

    def func(a):
        c = chainer.Variable(const, requires_grad=False)
        return a * 2, F.tanh(F.tanh(F.tanh(c)))

    grads = []
    for call in (_plain, forget):
        (x,) = variables(forget_device, (2, 3), seed=12)
        weighted_sum(call(func, x)).backward()
        grads.append(x.grad_var)
    check_close("gradient of the argument", grads[1], grads[0])


@pytest.mark.clause("D6")
def test_empty_tuple_result(forget, forget_device):
    """``func`` returning an empty tuple: ``forget`` returns an empty tuple, as the plain
    call does (D6: a tuple for a tuple; only the one-element tuple is F1's)."""
    x = chainer.Variable(data(forget_device, (2, 3)))
    got = forget(lambda a: (), x)
    assert type(got) is tuple and got == (), f"got {got!r}, func returned ()"
