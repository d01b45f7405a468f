"""Behaviours that mutants of the reference changed without any other conformance test noticing.

Found by ``dev.py mutate`` (README, "Mutation score"); each test is the plain path
as oracle for one class of surviving mutant.
"""

import chainer.links as L
import pytest
from forget_conformance.conformance.support import check_close, clone, variables, weighted_sum


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
