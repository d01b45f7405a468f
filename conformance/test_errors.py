"""D5 (errors for a bad func) and D8 (no double backpropagation).

The expected type and message are those of upstream Chainer 7.8.1 itself, run
on the same input: a drop-in raises what upstream raises.
"""

import chainer
import chainer.functions as F
import numpy as np
import pytest
from forget_conformance.conformance.support import data


def _raised(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - comparing whatever was raised
        return type(exc), str(exc)
    return None, None


def _assert_same_error(impl_call, upstream_call, expected_type):
    got_type, got_msg = _raised(impl_call)
    want_type, want_msg = _raised(upstream_call)
    assert want_type is expected_type, f"upstream raised {want_type} (harness bug?)"
    assert got_type is not None, f"nothing raised; upstream raises {want_type.__name__}"
    assert got_type is want_type, \
        f"raised {got_type.__name__}: {got_msg!r}; upstream raises {want_type.__name__}"
    assert got_msg == want_msg, f"message {got_msg!r}; upstream says {want_msg!r}"


@pytest.mark.clause("D5")
@pytest.mark.parametrize("func", [1, None, "f"], ids=["int", "None", "str"])
def test_non_callable_is_type_error(forget, forget_device, func):
    x = chainer.Variable(data(forget_device, (2,)))
    _assert_same_error(lambda: forget(func, x), lambda: F.forget(func, x), TypeError)


@pytest.mark.clause("D5")
@pytest.mark.parametrize("bad", [1, None, [1], "array"])
def test_non_variable_result_is_runtime_error(forget, forget_device, bad):
    x = chainer.Variable(data(forget_device, (2,)))
    value = x.array if bad == "array" else bad
    _assert_same_error(lambda: forget(lambda a: value, x),
                       lambda: F.forget(lambda a: value, x), RuntimeError)


@pytest.mark.clause("D5")
@pytest.mark.parametrize("position", [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101])
def test_tuple_element_error_names_position(forget, forget_device, position):
    x = chainer.Variable(data(forget_device, (2,)))

    def func(a):
        return (a,) * (position - 1) + (1,)

    _assert_same_error(lambda: forget(func, x), lambda: F.forget(func, x), RuntimeError)


@pytest.mark.clause("D8")
def test_double_backprop_rejected(forget, forget_device):
    def attempt(fg):
        x = chainer.Variable(data(forget_device, (3,)))
        y = fg(lambda a: a * a, x)
        y.grad_var = chainer.Variable(y.xp.ones_like(y.array))
        y.backward(enable_double_backprop=True)

    _assert_same_error(lambda: attempt(forget), lambda: attempt(F.forget), RuntimeError)


@pytest.mark.clause("D8")
def test_double_backprop_rejected_with_grad(forget, forget_device):
    x = chainer.Variable(data(forget_device, (3,), np.float64))
    y = F.sum(forget(lambda a: a * a * a, x))
    with pytest.raises(RuntimeError):
        chainer.grad([y], [x], enable_double_backprop=True)
