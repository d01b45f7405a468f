"""D9: stateful links update once per iteration; only the recomputation sees in_recomputing."""

import functools

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest
from chainer.link_hooks import SpectralNormalization

from forget_conformance.conformance.support import (
    CallLog,
    check_close,
    check_params,
    clone,
    data,
    require,
    weighted_sum,
)


class CountingLink(chainer.Link):
    """A user link that counts its updates and skips them when recomputing."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.w = chainer.Parameter(np.ones((4,), np.float32))
        self.updates = 0

    def forward(self, x):
        if not chainer.config.in_recomputing:
            self.updates += 1
        return x * self.w


def _links():
    return {
        "bn": lambda: L.BatchNormalization(4),
        "bn_finetune": lambda: L.BatchNormalization(4),
        "brn": lambda: L.BatchRenormalization(4, rmax=1.5, dmax=0.5),
        "dbn": lambda: L.DecorrelatedBatchNormalization(4, groups=2),
        "spectral": lambda: L.Linear(4, 4).add_hook(SpectralNormalization()),
        "user": CountingLink,
    }


STATE = ("avg_mean", "avg_var", "N", "expected_mean", "expected_projection", "updates")


def _state(link):
    out = {k: getattr(link, k) for k in STATE if hasattr(link, k)}
    for hook in link.local_link_hooks.values():
        out["spectral_u"] = getattr(link, hook.vector_name)
    return out


@pytest.mark.clause("D9")
@pytest.mark.parametrize("kind", sorted(_links()))
def test_state_updates_once(forget, forget_device, kind):
    base = _links()[kind]().to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for link, use_forget in ((plain, False), (forgetting, True)):
        call = functools.partial(link, finetune=True) if kind == "bn_finetune" else link
        for step in range(2):  # two iterations: a second update exposes double counting
            x = chainer.Variable(data(forget_device, (6, 4), seed=step))
            y = forget(call, x) if use_forget else call(x)
            weighted_sum([y]).backward()
    want, got = _state(plain), _state(forgetting)
    for key in want:
        if isinstance(want[key], int):
            require(got[key] == want[key], "state-changed",
                    f"{key}: {got[key]} after 2 steps, plain {want[key]}")
        else:
            check_close(f"link state {key} after 2 steps", got[key], want[key])
    check_params("gradient of", forgetting, plain)


@pytest.mark.clause("D9")
def test_only_recomputation_is_flagged(forget, forget_device):
    log = CallLog(lambda a: F.tanh(a))
    x = chainer.Variable(data(forget_device, (3,)))
    y = forget(log, x)
    require(chainer.config.in_recomputing is False, "state-changed",
            "in_recomputing left set after forward")
    weighted_sum([y]).backward()
    flags = [c["in_recomputing"] for c in log.calls]
    require(flags == [False, True], "state-changed",
            f"in_recomputing per call: {flags}, want [False, True]")
    require(chainer.config.in_recomputing is False, "state-changed",
            "in_recomputing left set after backward")


@pytest.mark.clause("D9")
def test_eval_after_training_matches(forget, forget_device):
    base = L.BatchNormalization(4).to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    x = chainer.Variable(data(forget_device, (6, 4)))
    weighted_sum([plain(x)]).backward()
    weighted_sum([forget(forgetting, x)]).backward()
    with chainer.using_config("train", False):
        check_close("output in test mode", forgetting(x), plain(x))
