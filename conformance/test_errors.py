"""D5 (errors for a bad func), D8 (no double backpropagation) and U1 (drop-in texts).

The contract (D5, D8) asks for behaviour: the exception type, the facts its message
must carry (which element, which type), and that double backprop is rejected or
correct. Upstream 7.8.1's exact texts are the drop-in clause U1, judged only at
``--level drop-in``.
"""

from __future__ import annotations

import re

import chainer
import chainer.functions as F
import numpy as np
import pytest

from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import check_close, data, plain
from forget_conformance.symptoms import HarnessError, Symptomatic

NON_CALLABLES = pytest.mark.parametrize("func", [1, None, "f"], ids=["int", "None", "str"])
BAD_RESULTS = pytest.mark.parametrize("bad", [1, None, [1], "array"])
POSITIONS = pytest.mark.parametrize("position", [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101])


def _raised(call) -> BaseException | None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - judging whatever was raised
        return exc
    return None


def expect_error(call, expected: type, facts: dict[str, str | re.Pattern] = ()) -> None:
    """``call()`` raises ``expected`` whose message carries each fact (text or pattern)."""
    exc = _raised(call)
    if exc is None:
        raise Symptomatic("nothing-raised", f"nothing raised; the contract requires "
                                            f"{expected.__name__}")
    if not isinstance(exc, expected):
        raise Symptomatic("wrong-exception", f"raised {type(exc).__name__}: {exc}; the contract "
                                             f"requires {expected.__name__}")
    for fact, needle in dict(facts).items():
        found = needle.search(str(exc)) if isinstance(needle, re.Pattern) else needle in str(exc)
        if not found:
            raise Symptomatic("message-facts", f"{expected.__name__} message {str(exc)!r} does "
                                               f"not name {fact}")


def _ordinal(n: int) -> str:
    teen = n % 100 in (11, 12, 13)
    return f"{n}{'th' if teen else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def position_named(n: int) -> re.Pattern:
    """The n-th element (1-based), as an ordinal or as a numbered element/position/index."""
    return re.compile(rf"\b({_ordinal(n)}|{n}(st|nd|rd|th))\b|\b(element|position|index|item)"
                      rf"\s*#?\s*({n}|{n - 1})\b", re.IGNORECASE)


def _bad_result(bad, x):
    return x.array if bad == "array" else bad


def _tuple_func(position):
    return lambda a: (a,) * (position - 1) + (1,)


@pytest.mark.clause("D5")
@NON_CALLABLES
def test_non_callable_is_type_error(forget, forget_device, func):
    x = chainer.Variable(data(forget_device, (2,)))
    expect_error(lambda: forget(func, x), TypeError)


@pytest.mark.clause("D5")
@BAD_RESULTS
def test_non_variable_result_is_runtime_error(forget, forget_device, bad):
    x = chainer.Variable(data(forget_device, (2,)))
    value = _bad_result(bad, x)
    expect_error(lambda: forget(lambda a: value, x), RuntimeError,
                 {f"the type {type(value).__name__}": type(value).__name__})


@pytest.mark.clause("D5")
@POSITIONS
def test_tuple_element_error_names_position(forget, forget_device, position):
    x = chainer.Variable(data(forget_device, (2,)))
    expect_error(lambda: forget(_tuple_func(position), x), RuntimeError,
                 {f"position {position}": position_named(position), "the type int": "int"})


def second_order(fg, device, how: str):
    """d/dx of sum(w * dy/dx) for y = x**3 through ``fg``, by ``backward`` or ``chainer.grad``."""
    x = chainer.Variable(data(device, (3,), np.float64))
    w = device.send(np.array([0.5, 1.0, 2.0]))
    y = fg(lambda a: a * a * a, x)
    if how == "grad":
        (gx,) = chainer.grad([F.sum(y)], [x], enable_double_backprop=True)
        (ggx,) = chainer.grad([F.sum(gx * w)], [x]) if gx is not None else (None,)
        return ggx
    y.grad_var = chainer.Variable(y.xp.ones_like(y.array))
    y.backward(enable_double_backprop=True)
    gx = x.grad_var
    x.cleargrad()
    if gx is not None:
        F.sum(gx * w).backward()
    return x.grad_var


def double_backprop_outcome(forget, device, how: str) -> str:
    """D8's outcome: ``rejected`` (RuntimeError or NotImplementedError, at any step),
    ``supported`` (second-order gradients equal the plain path's); otherwise a
    ``ClauseViolation`` with symptom ``silently-wrong`` or ``exception:<Type>``."""
    expected = plain(second_order, lambda f, x: f(x), device, how)
    if expected is None:
        raise HarnessError("the plain path gives no second-order gradient")
    try:
        got = second_order(forget, device, how)
    except (RuntimeError, NotImplementedError):
        return "rejected"
    except Exception as exc:  # noqa: BLE001 - a crash is a symptom of its own
        raise ClauseViolation("D8", f"double backprop crashed: {type(exc).__name__}: {exc}",
                              f"exception:{type(exc).__name__}") from exc
    try:
        check_close("second-order gradient", got, expected)
    except Symptomatic as exc:
        raise ClauseViolation("D8", f"silently wrong: neither rejected nor correct ({exc})",
                              "silently-wrong") from None
    return "supported"


@pytest.mark.clause("D8")
@pytest.mark.parametrize("how", ["backward", "grad"])
def test_double_backprop_rejected_or_correct(forget, forget_device, how, request):
    outcome = double_backprop_outcome(forget, forget_device, how)
    if outcome == "supported":
        outcome += ": second-order gradients equal the plain path's (exceeds the contract)"
    request.node.user_properties.append(("outcome", outcome))


# -- U1: upstream 7.8.1 byte for byte (judged at --level drop-in only) ---------------


def same_as_upstream(impl_call, upstream_call) -> None:
    """Both raise the same type with the same text, or return results of the same types."""
    results = []
    for call in (impl_call, upstream_call):
        try:
            out = call()
            results.append(("returns", tuple(type(o) for o in out) if isinstance(out, tuple)
                            else type(out)))
        except Exception as exc:  # noqa: BLE001 - comparing whatever was raised
            results.append(("raises", type(exc), str(exc)))
    got, want = results
    if got != want:
        raise Symptomatic("upstream-text", f"{got}; upstream 7.8.1: {want}")


@pytest.mark.clause("U1")
@NON_CALLABLES
def test_upstream_non_callable_text(forget, forget_device, func):
    x = chainer.Variable(data(forget_device, (2,)))
    same_as_upstream(lambda: forget(func, x), lambda: F.forget(func, x))


@pytest.mark.clause("U1")
@BAD_RESULTS
def test_upstream_non_variable_text(forget, forget_device, bad):
    x = chainer.Variable(data(forget_device, (2,)))
    value = _bad_result(bad, x)
    same_as_upstream(lambda: forget(lambda a: value, x), lambda: F.forget(lambda a: value, x))


@pytest.mark.clause("U1")
@POSITIONS
def test_upstream_tuple_element_text(forget, forget_device, position):
    x = chainer.Variable(data(forget_device, (2,)))
    same_as_upstream(lambda: forget(_tuple_func(position), x),
                     lambda: F.forget(_tuple_func(position), x))


@pytest.mark.clause("U1")
@pytest.mark.parametrize("how", ["backward", "grad"])
def test_upstream_double_backprop_text(forget, forget_device, how):
    same_as_upstream(lambda: second_order(forget, forget_device, how),
                     lambda: second_order(F.forget, forget_device, how))


@pytest.mark.clause("U1")
@pytest.mark.parametrize("n_outputs", [1, 2, 3], ids=["one_F1", "two", "three"])
def test_upstream_result_types(forget, forget_device, n_outputs):
    def func(a):
        return tuple(a * (i + 1) for i in range(n_outputs))

    x = chainer.Variable(data(forget_device, (2,)))
    same_as_upstream(lambda: forget(func, x), lambda: F.forget(func, x))
    same_as_upstream(lambda: forget(lambda a: a * 2, x), lambda: F.forget(lambda a: a * 2, x))
