"""T5: no state left behind when forget returns or raises."""

import chainer
import chainer.functions as F
import pytest
from forget_conformance.conformance.support import variables

from forget_conformance import state


class Boom(Exception):
    """Raised by func on purpose."""


@pytest.mark.clause("T5")
def test_config_restored_after_func_raises_in_forward(forget, forget_device):
    def func(a):
        raise Boom("func failed in the forward call")

    (x,) = variables(forget_device, (3,))
    before = state.snapshot()
    with pytest.raises(Boom):
        forget(func, x)
    leaked = state.leaks(before, state.snapshot(), rng=False)
    assert not leaked, "after func raised in forward: " + "; ".join(leaked)


@pytest.mark.clause("T5")
def test_no_backprop_mode_result_like_plain(forget, forget_device):
    (x,) = variables(forget_device, (3,))
    with chainer.no_backprop_mode():
        plain = F.tanh(x)
        got = forget(F.tanh, x)
    assert isinstance(got, chainer.Variable), f"got {type(got).__name__}, not a Variable"
    assert (got.creator is None) == (plain.creator is None), (
        f"under no_backprop_mode the result has creator {got.creator!r}; "
        f"the plain call's has {plain.creator!r}")
