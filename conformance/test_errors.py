"""D5 (errors for a bad func), D8 (double backprop rejected or exact) and U1 (drop-in texts).

The contract (D5, D8) asks for behaviour: the exception type, the facts its message
must carry (which element, which type), and that double backprop is rejected or
correct. Upstream 7.8.1's exact texts are the drop-in clause U1, judged only at
``--level drop-in``.
"""

from __future__ import annotations

import re

import chainer
import chainer.functions as F
import pytest

from forget_conformance.conformance import second_order
from forget_conformance.conformance.support import data
from forget_conformance.symptoms import Symptomatic

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


@pytest.mark.clause("D8")
def test_double_backprop_rejected_or_exact(forget, forget_device, request):
    """Every scenario through every route (``conformance/second_order.py``) rejected or
    exact; ``supported`` is claimed only when all are exact."""
    request.node.user_properties.append(("outcome", second_order.outcome(forget, forget_device)))


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
    (arguments, *_) = second_order.SCENARIOS
    same_as_upstream(lambda: second_order.second_order(forget, forget_device, arguments, how),
                     lambda: second_order.second_order(F.forget, forget_device, arguments, how))


@pytest.mark.clause("U1")
@pytest.mark.parametrize("n_outputs", [1, 2, 3], ids=["one_F1", "two", "three"])
def test_upstream_result_types(forget, forget_device, n_outputs):
    def func(a):
        return tuple(a * (i + 1) for i in range(n_outputs))

    x = chainer.Variable(data(forget_device, (2,)))
    same_as_upstream(lambda: forget(func, x), lambda: F.forget(func, x))
    same_as_upstream(lambda: forget(lambda a: a * 2, x), lambda: F.forget(lambda a: a * 2, x))
