"""T2: the configuration both calls of func run under, wherever it was set; none of it changed."""

import contextlib
import functools

import chainer
import chainer.links as L
import pytest

from forget_conformance import state
from forget_conformance.conformance.support import (
    check_close,
    check_params,
    clone,
    data,
    weighted_sum,
)

KEY = "forget_conformance_scale"
GLOBAL_KEY = "forget_conformance_global"


class ScaledBN(chainer.Chain):
    """BatchNormalization (depends on ``train``) scaled by a user key of the config."""

    def __init__(self) -> None:
        super().__init__()
        with self.init_scope():
            self.bn = L.BatchNormalization(4)

    def forward(self, x):
        return self.bn(x) * getattr(chainer.config, KEY)


def _prepared(device) -> ScaledBN:
    model = ScaledBN().to_device(device)
    model.bn.avg_mean[...] = 0.5  # eval mode (train=False) then differs from training mode
    return model


def _gradients_like_plain(forget, device, forward_config, backward_config) -> None:
    """Forward under one configuration, backward under another: gradients as plain."""
    base = _prepared(device)
    plain, forgetting = clone(base), clone(base)
    for model, use_forget in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(device, (6, 4)))
        with forward_config():
            y = forget(model, x) if use_forget else model(x)
        with backward_config():
            weighted_sum([y]).backward()
    check_params("gradient of", forgetting, plain)


@contextlib.contextmanager
def global_config(**values):
    """Set keys on ``chainer.global_config`` for the block; check forget left them alone."""
    g = chainer.configuration.global_config
    saved = dict(vars(g))
    for key, value in values.items():
        setattr(g, key, value)
    try:
        yield
        changed = {k: getattr(g, k, "<unset>") for k, v in values.items()
                   if getattr(g, k, "<unset>") != v}
        assert not changed, f"forget changed chainer.global_config: {changed}"
    finally:
        vars(g).clear()
        vars(g).update(saved)


@contextlib.contextmanager
def local_config(**values):
    """``using_config`` for several keys."""
    with contextlib.ExitStack() as stack:
        for key, value in values.items():
            stack.enter_context(chainer.using_config(key, value))
        yield


@pytest.mark.clause("T2")
def test_global_config_reaches_recomputation(forget, forget_device):
    """Keys set on chainer.global_config for the forward, changed before backward."""
    _gradients_like_plain(forget, forget_device,
                          functools.partial(global_config, train=False, **{KEY: 3.0}),
                          functools.partial(global_config, train=True, **{KEY: 5.0}))


@pytest.mark.clause("T2")
def test_key_changed_between_forward_and_backward(forget, forget_device):
    """Keys set with using_config for the forward, set differently around backward."""
    _gradients_like_plain(forget, forget_device,
                          functools.partial(local_config, train=False, **{KEY: 3.0}),
                          functools.partial(local_config, train=True, **{KEY: 5.0}))


@pytest.mark.clause("T2")
def test_func_runs_under_callers_config(forget, forget_device):
    """Both calls of func see the caller's keys (type_check, train, user keys, global) as plain."""
    keys = ("type_check", "train", GLOBAL_KEY, KEY)
    seen: list[dict] = []

    def func(a):
        seen.append({k: getattr(chainer.config, k) for k in keys})
        return a * 2.0

    x = chainer.Variable(data(forget_device, (3,)))
    caller = {"type_check": False, "train": False, KEY: "caller's"}
    with global_config(**{GLOBAL_KEY: "global"}), local_config(**caller):
        before = state.snapshot()
        func(x)
        y = forget(func, x)
        leaked = state.leaks(before, state.snapshot(), rng=False)
    weighted_sum([y]).backward()
    assert not leaked, "after the forward call: " + "; ".join(leaked)
    assert len(seen) >= 3, f"func called {len(seen) - 1} times by forget, want 2"
    plain, forward, recompute = seen[0], seen[1], seen[-1]
    assert forward == plain, f"forward call of func ran under {forward}, the caller's is {plain}"
    assert recompute == plain, f"recomputation ran under {recompute}, the forward's is {plain}"
    plain_x = chainer.Variable(x.array.copy())
    weighted_sum([plain_x * 2.0]).backward()
    check_close("gradient", x.grad_var, plain_x.grad_var)
