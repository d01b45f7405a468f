"""Numeric extremes: ``inf`` and ``nan`` pass through ``forget`` as through the plain
call (D1, D3), and float16 overflow under loss scaling stays visible to the
optimizer's overflow check (T1).

Comparisons are exact on non-finite values: NaN where the plain path has NaN,
infinities of the same sign in the same places (``policy.mismatch``).
"""

from __future__ import annotations

import warnings

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest

from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import check_close, data

SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 0.5])


def extreme_args(device, dtype=np.float32):
    """Two (2, 8) arrays whose first row holds NaN, both infinities, signed zeros, huge values."""
    a = data(device, (2, 8), dtype, seed=3)
    b = data(device, (2, 8), dtype, seed=4)
    a[0] = device.send(SPECIALS.astype(dtype))
    b[0] = device.send(SPECIALS[::-1].astype(dtype))
    return [chainer.Variable(a), chainer.Variable(b)]


def compare(forget, func, make_args, seed_grads) -> None:
    """Results (D1) and argument gradients (D3) of plain and forgetting runs, each
    backpropagated from the result gradients ``seed_grads(outputs)`` gives."""
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow and invalid, on purpose
        with np.errstate(all="ignore"):
            for use_forget in (False, True):
                args = make_args()
                out = forget(func, *args) if use_forget else func(*args)
                outs = out if isinstance(out, tuple) else (out,)
                for y, g in zip(outs, seed_grads(outs), strict=True):
                    y.grad = g
                chainer.backward(list(outs), [y.grad_var for y in outs])
                runs.append((outs, args))
    (plain, plain_args), (got, got_args) = runs
    for i, (g, e) in enumerate(zip(got, plain, strict=True)):
        check_close(f"result {i}", g, e, clause="D1")
    for i, (g, e) in enumerate(zip(got_args, plain_args, strict=True)):
        check_close(f"gradient of argument {i}", g.grad_var, e.grad_var, clause="D3")


def ones(outs):
    return [y.xp.ones_like(y.array) for y in outs]


FUNCS = {
    "product": lambda a, b: a * b,
    "exp_log": lambda a, b: (F.exp(a), F.log(F.absolute(b) + 1)),
    "tanh_sum": lambda a, b: F.tanh(a) + F.sum(b, axis=1, keepdims=True),
    "max_div": lambda a, b: F.maximum(a, b) / (b + 2),
}


@pytest.mark.clause("D1", "D3")
@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_nonfinite_inputs(forget, forget_device, name, dtype):
    compare(forget, FUNCS[name], lambda: extreme_args(forget_device, dtype), ones)


@pytest.mark.clause("D3")
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_nonfinite_result_gradients(forget, forget_device, dtype):
    """Finite inputs, result gradients holding NaN and infinities."""
    def seed_grads(outs):
        return [y.xp.asarray(np.resize(SPECIALS, y.shape).astype(y.dtype)) for y in outs]

    def make():
        return [chainer.Variable(data(forget_device, (2, 8), dtype, seed=s)) for s in (5, 6)]

    compare(forget, lambda a, b: (F.tanh(a) * b, a - b), make, seed_grads)


@pytest.mark.clause("D3")
@pytest.mark.parametrize("loss_scale", [2.0 ** 10, 2.0 ** 14])
def test_float16_intermediate_overflow(forget, forget_device, loss_scale):
    """A gradient that overflows float16 inside ``func`` is ``inf`` on the plain path, even
    where a wider type would bring it back in range: ``(a * 1e-3) * 1e3`` under a large
    loss scale. The forgetting path must overflow the same way."""
    def func(a, b):
        return (a * 1e-3) * 1e3 + b * 1e-3

    def make():
        return [chainer.Variable(data(forget_device, (4, 4), np.float16, seed=s))
                for s in (7, 8)]

    def seed_grads(outs):
        return [y.xp.full(y.shape, loss_scale, dtype=y.dtype) for y in outs]

    compare(forget, func, make, seed_grads)


class Net(chainer.Chain):
    """float16 layers; ``forget`` (when given) wraps them all, so that the overflow check
    sees only gradients that came through ``forget``."""

    def __init__(self) -> None:
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(6, 6, initialW=chainer.initializers.Uniform(1.0, np.float16),
                               initial_bias=chainer.initializers.Zero(np.float16))
            self.l2 = L.Linear(6, 3, initialW=chainer.initializers.Uniform(1.0, np.float16),
                               initial_bias=chainer.initializers.Zero(np.float16))

    def __call__(self, x, forget=None):
        def inner(h):
            return self.l2(F.tanh(self.l1(h)))
        return F.sum(forget(inner, x) if forget is not None else inner(x))


def train_steps(net, x, scales, forget=None) -> list[tuple[float, bool]]:
    """Steps of SGD with dynamic loss scaling, each from a given scale; returns, per
    step, the scale after the update and whether the overflow check let it through."""
    opt = chainer.optimizers.SGD(lr=1e-3)
    opt.setup(net)
    opt.loss_scaling()
    trail = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Non finite number found in param.grad": expected
        for scale in scales:
            opt._loss_scale = scale  # no public setter keeps the scaling dynamic
            opt.update(net, x, forget)
            trail.append((opt._loss_scale, opt.is_safe_to_update()))
    return trail


@pytest.mark.clause("T1")
def test_dynamic_loss_scaling_sees_overflow(forget, forget_device):
    """A step whose float16 gradients overflow under the loss scale is skipped and the
    scale halved; a later step in range updates. Same steps, same parameters as the
    plain path."""
    scales = [2.0 ** 4, 2.0 ** 20, 2.0 ** 5]
    x = data(forget_device, (5, 6), np.float16, seed=9, low=-4, high=4)
    plain_net = Net().to_device(forget_device)
    net = plain_net.copy(mode="copy")
    want = train_steps(plain_net, x, scales)
    assert [safe for _, safe in want] == [True, False, True], f"setup: plain steps {want}"
    got = train_steps(net, x, scales, forget)
    if got != want:
        raise ClauseViolation("T1", f"(scale, update done) per step {got}, plain path {want}")
    for (name, p), (_, q) in zip(sorted(plain_net.namedparams()), sorted(net.namedparams()),
                                 strict=True):
        check_close(f"parameter {name} after training", q, p, clause="T1")
