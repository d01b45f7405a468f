"""T1-T4: a training step with forget is the step without it."""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest

from forget_conformance.conformance.support import (
    CallLog,
    check_close,
    check_params,
    clone,
    data,
    run_both,
    variables,
    weighted_sum,
)
from forget_conformance.symptoms import Symptomatic


def _mlp():
    first = chainer.Sequential(L.Linear(5, 6), L.BatchNormalization(6), F.relu)
    return chainer.Sequential(first, L.Linear(6, 3))


def _step(model, forget, x, loss_scale, wrap):
    optimizer = chainer.optimizers.MomentumSGD(lr=0.1)
    optimizer.setup(model)
    model.cleargrads()
    first, rest = model[0], model[1]
    h = forget(first, x) if wrap else first(x)
    loss = weighted_sum([rest(h)])
    loss.backward(loss_scale=loss_scale)
    optimizer.update()


@pytest.mark.clause("T1")
@pytest.mark.parametrize("loss_scale", [None, 8.0], ids=["no_scale", "loss_scale_8"])
@pytest.mark.parametrize("x_requires_grad", [True, False], ids=["x_grad", "x_no_grad"])
def test_optimizer_step_unchanged(forget, forget_device, loss_scale, x_requires_grad):
    base = _mlp().to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for model, wrap in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, (4, 5)), requires_grad=x_requires_grad)
        _step(model, forget, x, loss_scale, wrap)
    check_params("gradient of", forgetting, plain)  # a missing one is gradient-none
    before = dict(base.namedparams())
    for (name, p), (_, q) in zip(sorted(plain.namedparams()), sorted(forgetting.namedparams()),
                                 strict=True):
        # Updates rather than values: a wrong scale shows as value-scaled with its factor.
        check_close(f"update of {name}", q.array - before[name].array,
                    p.array - before[name].array)


@pytest.mark.clause("T2")
def test_recompute_under_forward_train_flag(forget, forget_device):
    base = _mlp().to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for model, wrap in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, (4, 5)))
        with chainer.using_config("train", False):
            y = forget(model, x) if wrap else model(x)
        weighted_sum([y]).backward()  # outside the train=False context
    check_params("gradient of", forgetting, plain)


@pytest.mark.clause("T2")
def test_recompute_sees_user_config(forget, forget_device):
    log = CallLog(lambda a: a * chainer.config.forget_conformance_scale)
    x = chainer.Variable(data(forget_device, (3,)))
    with chainer.using_config("forget_conformance_scale", 3.0):
        y = forget(log, x)
    try:
        weighted_sum([y]).backward()
    except AttributeError as exc:
        raise Symptomatic("state-changed", "recomputation did not see the forward's config: "
                                           f"{exc}") from None
    plain_x = chainer.Variable(data(forget_device, (3,)))
    weighted_sum([plain_x * 3.0]).backward()
    check_close("gradient", x.grad_var, plain_x.grad_var)


@pytest.mark.clause("T3")
@pytest.mark.parametrize("order", ["inside_first", "outside_first"])
def test_shared_weight_accumulates(forget, forget_device, order):
    base = L.Linear(4, 4).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for link, wrap in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, (3, 4)))
        inside = (lambda h, link=link: forget(link, h)) if wrap else link
        if order == "inside_first":
            y = F.linear(F.tanh(inside(x)), link.W)
        else:
            y = inside(F.tanh(F.linear(x, link.W)))
        weighted_sum([y]).backward(loss_scale=4.0)
    check_close("gradient of the shared W", forgetting.W.grad_var, plain.W.grad_var)
    check_close("gradient of b", forgetting.b.grad_var, plain.b.grad_var)


@pytest.mark.clause("T3")
@pytest.mark.parametrize("order", ["inside_first", "outside_first"])
def test_captured_derived_weight_accumulates(forget, forget_device, order):
    """func closes over a weight computed in the caller's graph, also used outside."""
    grads = []
    for wrap in (False, True):
        w = chainer.Variable(data(forget_device, (4, 4), seed=3))
        derived = F.tanh(F.tanh(w * 2))  # ranks above the argument's: visited late
        x = chainer.Variable(data(forget_device, (3, 4)))

        def inside(h, derived=derived, wrap=wrap):
            return forget(lambda a: F.matmul(a, derived), h) if wrap else F.matmul(h, derived)

        if order == "inside_first":
            y = F.matmul(F.tanh(inside(x)), derived)
        else:
            y = inside(F.tanh(F.matmul(x, derived)))
        weighted_sum([y]).backward(loss_scale=4.0)
        grads.append((w.grad_var, x.grad_var))
    check_close("gradient of the weight", grads[1][0], grads[0][0])
    check_close("gradient of the argument", grads[1][1], grads[0][1])


@pytest.mark.clause("T3")
def test_weight_in_two_segments(forget, forget_device):
    base = L.Linear(4, 4).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for link, wrap in ((plain, False), (forgetting, True)):
        call = (lambda h, link=link: forget(link, h)) if wrap else link
        x = chainer.Variable(data(forget_device, (3, 4)))
        weighted_sum([call(F.tanh(call(x)))]).backward()
    check_close("gradient of W", forgetting.W.grad_var, plain.W.grad_var)


@pytest.mark.clause("T4")
def test_unused_output(forget, forget_device):
    def func(a, b):
        return F.tanh(a * b), F.exp(a), a + b

    plain_args = variables(forget_device, (3,), (3,))
    forget_args = variables(forget_device, (3,), (3,))
    weighted_sum([func(*plain_args)[1]]).backward()
    weighted_sum([forget(func, *forget_args)[1]]).backward()
    for i, (p, f) in enumerate(zip(plain_args, forget_args, strict=True)):
        check_close(f"gradient of argument {i} (outputs 0 and 2 unused)", f.grad_var, p.grad_var)


@pytest.mark.clause("T4")
def test_same_variable_twice(forget, forget_device):
    _, plain_args, _, forget_args = run_both(
        forget, lambda a, b: F.tanh(a) * b + a, lambda: [variables(forget_device, (3, 4))[0]] * 2)
    check_close("gradient of the variable passed twice", forget_args[0].grad_var,
                plain_args[0].grad_var)


@pytest.mark.clause("T4")
def test_argument_passed_through(forget, forget_device):
    _, plain_args, _, forget_args = run_both(
        forget, lambda a, b: (a, F.sigmoid(a) * b, b), lambda: variables(forget_device, (3,), (3,)))
    for i, (p, f) in enumerate(zip(plain_args, forget_args, strict=True)):
        check_close(f"gradient of argument {i}", f.grad_var, p.grad_var)


@pytest.mark.clause("T4")
def test_integer_index_arguments(forget, forget_device):
    base = L.EmbedID(10, 4).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    grads = []
    for link, wrap in ((plain, False), (forgetting, True)):
        ids = data(forget_device, (5,), np.int32, low=0, high=10)
        scale = chainer.Variable(data(forget_device, (5, 4), np.float64))

        def func(i, s, link=link):
            return F.cast(link(i), np.float64) * s

        y = forget(func, ids, scale) if wrap else func(ids, scale)
        weighted_sum([y]).backward()
        grads.append(scale.grad_var)
    check_close("gradient of the float64 argument", grads[1], grads[0])
    check_close("gradient of the embedding", forgetting.W.grad_var, plain.W.grad_var)


@pytest.mark.clause("T4")
def test_index_only_argument(forget, forget_device):
    base = L.EmbedID(10, 4).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for link, wrap in ((plain, False), (forgetting, True)):
        # An index array is a Variable that cannot (and so does not) require grad.
        ids = chainer.Variable(data(forget_device, (5,), np.int32, low=0, high=10),
                               requires_grad=False)
        weighted_sum([forget(link, ids) if wrap else link(ids)]).backward()
    check_close("gradient of the embedding (an index Variable is the only argument)",
                forgetting.W.grad_var, plain.W.grad_var)


@pytest.mark.clause("T4")
def test_nested_forget(forget, forget_device):
    base = chainer.Sequential(L.Linear(4, 4), F.tanh, L.Linear(4, 4))
    base.to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    inner_log = CallLog(lambda h, m=forgetting: F.tanh(m[0](h)))

    def outer(h):
        return forgetting[2](forget(inner_log, h)) * 2

    xp_, xf = (chainer.Variable(data(forget_device, (3, 4))) for _ in range(2))
    weighted_sum([plain[2](F.tanh(plain[0](xp_))) * 2]).backward()
    weighted_sum([forget(outer, xf)]).backward()
    check_close("gradient of the input", xf.grad_var, xp_.grad_var)
    check_params("gradient of", forgetting, plain)
