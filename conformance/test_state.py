"""T5: no state left behind when forget returns or raises, in every mode."""

import chainer
import chainer.functions as F
import chainer.links as L
import pytest

from forget_conformance import state
from forget_conformance.conformance.support import (
    check_close,
    check_params,
    clone,
    data,
    variables,
    weighted_sum,
)

FORWARD, RECOMPUTE = 0, 1  # the index of func's call that raises


class Boom(Exception):
    """Raised by func on purpose."""


class FailOn:
    """Calls ``inner``, then raises on the call numbered ``failing`` (0 is the forward call)."""

    def __init__(self, inner, failing: int) -> None:
        self.inner, self.failing, self.calls = inner, failing, 0

    def __call__(self, *args):
        out = self.inner(*args)
        self.calls += 1
        if self.calls - 1 == self.failing:
            raise Boom(f"func failed on call {self.failing}")
        return out


def _forget_step(forget, func, x) -> None:
    weighted_sum([forget(func, x)]).backward()


@pytest.mark.clause("T5")
@pytest.mark.parametrize("failing", [FORWARD, RECOMPUTE], ids=["forward", "recompute"])
def test_config_restored_after_func_raises(forget, forget_device, failing):
    (x,) = variables(forget_device, (3,))
    func = FailOn(F.tanh, failing)
    with chainer.using_config("train", False), \
            chainer.using_config("forget_conformance_key", "caller's"):
        before = state.snapshot()
        with pytest.raises(Boom):
            _forget_step(forget, func, x)
        leaked = state.leaks(before, state.snapshot(), rng=False)
    where = ("forward call", "recomputation")[failing]
    assert not leaked, f"after func raised in the {where}: " + "; ".join(leaked)


def _bn_model():
    return chainer.Sequential(L.Linear(4, 4), L.BatchNormalization(4), F.tanh)


@pytest.mark.clause("T5")
@pytest.mark.parametrize("failing", [FORWARD, RECOMPUTE], ids=["forward", "recompute"])
def test_next_step_after_exception_like_plain(forget, forget_device, failing):
    """A failed step, then a normal one: gradients and BatchNormalization state as plain."""
    base = _bn_model().to_device(forget_device)
    plain, forgetting = clone(base), clone(base)
    for model, use_forget in ((plain, False), (forgetting, True)):
        x = chainer.Variable(data(forget_device, (6, 4)))
        with pytest.raises(Boom):  # the plain path fails in its only call
            if use_forget:
                _forget_step(forget, FailOn(model, failing), x)
            else:
                FailOn(model, FORWARD)(x)
        model.cleargrads()
        x = chainer.Variable(data(forget_device, (6, 4), seed=1))
        weighted_sum([forget(model, x) if use_forget else model(x)]).backward()
    where = ("forward call", "recomputation")[failing]
    check_params(f"after func raised in the {where}, next step's gradient of",
                 forgetting, plain)
    for key in ("avg_mean", "avg_var"):
        check_close(f"after func raised in the {where}, next step's BatchNormalization {key}",
                    getattr(forgetting[1], key), getattr(plain[1], key))


def _plain_and_forget(forget, link, x):
    """Both calls under the current mode, and what forget left changed."""
    before = state.snapshot()
    plain, got = link(x), forget(link, x)
    return plain, got, state.leaks(before, state.snapshot(), rng=False)


@pytest.mark.clause("T5")
@pytest.mark.parametrize("how", ["context", "assignment"])
def test_no_backprop_mode_like_plain(forget, forget_device, how):
    """Under no_backprop_mode (or enable_backprop set False): result and config as plain."""
    link = L.Linear(3, 2).to_device(forget_device)
    (x,) = variables(forget_device, (4, 3))
    if how == "context":
        with chainer.no_backprop_mode():
            plain, got, leaked = _plain_and_forget(forget, link, x)
    else:
        outer = state.snapshot()
        try:
            chainer.config.enable_backprop = False
            plain, got, leaked = _plain_and_forget(forget, link, x)
        finally:
            state.restore(outer)
    assert not leaked, "after forget with backprop disabled: " + "; ".join(leaked)
    assert isinstance(got, chainer.Variable), f"got {type(got).__name__}, not a Variable"
    assert (got.creator is None) == (plain.creator is None), (
        f"with backprop disabled the result has creator {got.creator!r}; "
        f"the plain call's has {plain.creator!r}")
    check_close("result with backprop disabled", got, plain)


def _outcome(forget, func, x) -> str:
    """What forget returns (its structure) or raises (the exception's type)."""
    try:
        out = forget(func, x)
    except Exception as exc:  # noqa: BLE001 - the type is the outcome
        return f"raises {type(exc).__name__}"
    if isinstance(out, tuple):
        return f"returns a tuple of {[type(o).__name__ for o in out]}"
    return f"returns a {type(out).__name__}"


OUTCOME_FUNCS = {
    "variable": lambda a: a * 2,
    "one_tuple": lambda a: (a * 2,),
    "two_tuple": lambda a: (a * 2, a + 1),
    "ndarray": lambda a: a.array * 2,
    "tuple_with_ndarray": lambda a: (a * 2, a.array),
}


@pytest.mark.clause("T5")
@pytest.mark.parametrize("kind", sorted(OUTCOME_FUNCS))
def test_no_backprop_mode_returns_and_rejects_as_with_backprop(forget, forget_device, kind):
    """Under no_backprop_mode forget returns, and rejects, what it does with backprop on."""
    func = OUTCOME_FUNCS[kind]
    (x,) = variables(forget_device, (3,))
    want = _outcome(forget, func, x)
    with chainer.no_backprop_mode():
        got = _outcome(forget, func, x)
    assert got == want, f"under no_backprop_mode forget {got}; with backprop it {want}"
