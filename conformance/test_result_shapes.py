"""Result shapes: whatever ``func`` returns, ``forget`` returns it and backpropagates it
as the plain call does (D1, D3, D6, T4).

The plain path is the oracle: the same Variable returned twice, an argument
returned unchanged, a namedtuple, many outputs of mixed shapes and dtypes (0-d,
empty, integer), and outputs left unused by the loss.
"""

from __future__ import annotations

import collections

import chainer
import chainer.functions as F
import numpy as np
import pytest

from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import check_close, data, weighted_sum

Pair = collections.namedtuple("Pair", "value index")


def make_args(device) -> list:
    return [chainer.Variable(data(device, (3, 4), seed=s)) for s in (1, 2)]


def check_runs(forget, func, device, n_checked=None) -> None:
    """Results (D1) and argument gradients (D3) of ``forget(func)`` match the plain call's;
    the loss weighs each float result (or the first ``n_checked``) differently."""
    results = []
    for use_forget in (False, True):
        args = make_args(device)
        out = forget(func, *args) if use_forget else func(*args)
        outs = out if isinstance(out, tuple) else (out,)
        used = [y for y in outs[:n_checked] if y.dtype.kind == "f"]
        sum(F.cast(weighted_sum([y], seed=i), np.float32) for i, y in enumerate(used)).backward()
        results.append((outs, args))
    (plain, plain_args), (got, got_args) = results
    if len(got) != len(plain):
        raise ClauseViolation("D1", f"{len(got)} results, func returned {len(plain)}")
    for i, (g, e) in enumerate(zip(got, plain, strict=True)):
        check_close(f"result {i} {e.shape} {e.dtype}", g, e, clause="D1")
    for i, (g, e) in enumerate(zip(got_args, plain_args, strict=True)):
        check_close(f"gradient of argument {i}", g.grad_var, e.grad_var, clause="D3")


def same_twice(a, b):
    h = F.tanh(a * b)
    return h, h


def same_twice_among_others(a, b):
    h = a * b
    return h, F.sin(a), h, h


@pytest.mark.clause("D1", "D3", "T4")
@pytest.mark.parametrize("func", [same_twice, same_twice_among_others])
def test_same_variable_returned_twice(forget, forget_device, func):
    """Each use of the repeated result contributes its own gradient."""
    check_runs(forget, func, forget_device)


@pytest.mark.clause("D1", "D3", "T4")
@pytest.mark.parametrize("func", [
    lambda a, b: (a, a * b),
    lambda a, b: (a * b, b),
    lambda a, b: (b, a),
    lambda a, b: (a, F.tanh(a), a),
], ids=["first", "last", "both_swapped", "twice_around_computed"])
def test_argument_returned_unchanged(forget, forget_device, func):
    check_runs(forget, func, forget_device)


@pytest.mark.clause("D6", "D1", "D3")
def test_namedtuple_kept(forget, forget_device):
    """A namedtuple result comes back as that namedtuple, fields and all (plain path)."""
    def func(a, b):
        return Pair(F.tanh(a * b), F.argmax(a, axis=1))

    got = forget(func, *make_args(forget_device))
    if type(got) is not Pair:
        raise ClauseViolation("D6", f"got a {type(got).__name__}, func returned a Pair "
                                    "(namedtuple)")
    check_runs(forget, func, forget_device)


def mixed_outputs(n: int):
    """``n`` results cycling through shapes and dtypes: 0-d, empty, matrix, integer."""
    def func(a, b):
        h = a * b
        kinds = [
            lambda i: F.sum(h) * (i + 1),  # 0-d
            lambda i: F.cast(h[:, :2] + i, np.float16),
            lambda i: h[:0] * i,  # empty
            lambda i: F.argmax(h + i, axis=0),  # int32, no gradient
            lambda i: F.cast(F.tanh(h) * (i + 1), np.float64),
            lambda i: F.reshape(F.max(a), (1, 1)) - i,
        ]
        return tuple(kinds[i % len(kinds)](i) for i in range(n))
    return func


@pytest.mark.clause("D1", "D3", "T4")
@pytest.mark.parametrize("n", [6, 60])
def test_many_outputs_of_mixed_kinds(forget, forget_device, n):
    check_runs(forget, mixed_outputs(n), forget_device)


@pytest.mark.clause("D1", "D3", "T4")
@pytest.mark.parametrize("used", range(6), ids=["scalar", "float16", "empty", "integer_only",
                                                 "float64", "keepdims"])
def test_unused_outputs_of_every_kind(forget, forget_device, used):
    """Only one result (of each kind in turn) enters the loss; the others get no
    gradient and cause no error. With only the integer result used, nothing is
    backpropagated, so the results alone are compared."""
    func = mixed_outputs(6)
    if used == 3:
        plain = func(*make_args(forget_device))
        got = forget(func, *make_args(forget_device))
        for i, (g, e) in enumerate(zip(got, plain, strict=True)):
            check_close(f"result {i}", g, e, clause="D1")
        return

    def one_used(a, b):
        outs = func(a, b)
        return (outs[used],) + outs[:used] + outs[used + 1:]

    check_runs(forget, one_used, forget_device, n_checked=1)

