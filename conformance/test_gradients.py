"""D3 (gradients by recomputation) and D7 (ndarray arguments join the graph)."""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest
from chainer import gradient_check

from forget_conformance import policy
from forget_conformance.conformance.support import (
    check_close,
    check_params,
    clone,
    data,
    run_both,
    variables,
    weighted_sum,
)

ARG_FUNCS = {
    "product": lambda a, b: (a + b) * a,
    "chain": lambda a, b: F.tanh(F.exp(a * 0.5) * b) + F.relu(a - b),
    "broadcast": lambda a, b: a * F.broadcast_to(F.sum(b, axis=0), a.shape),
    "two_outputs": lambda a, b: (F.sigmoid(a) * b, F.softplus(b - a)),
}


@pytest.mark.clause("D3")
@pytest.mark.parametrize("name", sorted(ARG_FUNCS))
def test_argument_gradients_match_plain(forget, forget_device, name):
    func = ARG_FUNCS[name]
    _, plain_args, _, forget_args = run_both(
        forget, func, lambda: variables(forget_device, (3, 4), (3, 4)))
    for i, (p, f) in enumerate(zip(plain_args, forget_args, strict=True)):
        check_close(f"gradient of argument {i}", f.grad_var, p.grad_var)


@pytest.mark.clause("D3")
@pytest.mark.parametrize("kind", ["linear", "mlp", "conv"])
def test_parameter_gradients_match_plain(forget, forget_device, kind):
    if kind == "linear":
        model, shape = L.Linear(4, 3), (5, 4)
    elif kind == "mlp":
        model, shape = chainer.Sequential(L.Linear(4, 6), F.relu, L.Linear(6, 2)), (5, 4)
    else:
        model, shape = chainer.Sequential(L.Convolution2D(2, 3, 3, pad=1), F.tanh), (2, 2, 5, 5)
    model.to_device(forget_device)
    plain, forgetting = clone(model), clone(model)
    for m, use_forget in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, shape))
        y = forget(m, x) if use_forget else m(x)
        weighted_sum([y]).backward()
    check_params("gradient of parameter", forgetting, plain)


@pytest.mark.clause("D3")
def test_parameters_get_gradients_when_no_argument_requires_grad(forget, forget_device):
    base = chainer.Sequential(L.Linear(4, 3), F.tanh).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for model, use_forget in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, (5, 4)), requires_grad=False)
        weighted_sum([forget(model, x) if use_forget else model(x)]).backward()
    check_params("(argument needs no grad) gradient of parameter", forgetting, plain)


@pytest.mark.clause("D3")
def test_gradients_match_numerical(forget, forget_device):
    link = L.Linear(3, 2).to_device(forget_device)
    link.cleargrads()
    for p in link.params():
        p.array = p.array.astype(np.float64)

    def f(a, b):
        return forget(lambda u, v: (F.tanh(link(u)) * v, u * u), a, b)

    xs = (data(forget_device, (4, 3), np.float64, 1), data(forget_device, (4, 2), np.float64, 2))
    gys = (data(forget_device, (4, 2), np.float64, 3), data(forget_device, (4, 3), np.float64, 4))
    gradient_check.check_backward(f, xs, gys, params=(link.W, link.b), **policy.numerical())


@pytest.mark.clause("D7")
def test_ndarray_arguments_join_the_graph(forget, forget_device):
    a, b = data(forget_device, (3, 4), seed=1), data(forget_device, (3, 4), seed=2)
    y = forget(ARG_FUNCS["chain"], a, b)
    assert isinstance(y, chainer.Variable), f"result is a {type(y).__name__}"
    assert y.creator_node is not None, "the result is not part of a graph"
    assert y.requires_grad, "the result does not require grad: backward cannot reach the call"
    inputs = [n for n in y.creator_node.inputs if n.shape == a.shape]
    assert len(inputs) >= 2 and all(n.requires_grad for n in inputs[:2]), \
        "ndarray arguments were not wrapped as Variables that require grad"


@pytest.mark.clause("D7")
def test_ndarray_arguments_reach_parameters(forget, forget_device):
    link = clone(L.Linear(4, 3).to_device(forget_device))
    plain = clone(link)
    x = data(forget_device, (2, 4))
    weighted_sum([forget(link, x)]).backward()
    weighted_sum([plain(x)]).backward()
    assert link.W.grad is not None, "backward never reached func's parameters"
    check_close("gradient of W", link.W.grad_var, plain.W.grad_var)
