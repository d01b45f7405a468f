"""The graphs' one-node loss equals the ops it replaces, bit for bit, values and gradients."""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np
import pytest

from forget_conformance.graph.source import HEADER

SHAPES = [(3, 4), (), (2, 0), (5,)]


def _weighted_sum() -> type:
    scope: dict = {}
    exec(HEADER, scope)
    return scope["WeightedSum"]


def _ys(dtype: str, fill: str) -> list[chainer.Variable]:
    rng = np.random.RandomState(1)
    ys = [rng.uniform(-1, 1, size=s) for s in SHAPES]
    if fill == "large":
        ys = [y * float(np.finfo(dtype).max) / 4 for y in ys]
    return [chainer.Variable(np.asarray(y).astype(dtype)) for y in ys]


@pytest.mark.parametrize("loss_scale", [None, 8.0])
@pytest.mark.parametrize("fill", ["uniform", "large"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_weighted_sum_is_sum_of_cast_products(dtype, fill, loss_scale):
    fused, composed = _ys(dtype, fill), _ys(dtype, fill)
    weights = [np.asarray(np.random.RandomState(2).uniform(-1, 1, y.shape)).astype(dtype)
               for y in fused]
    with np.errstate(all="ignore"):
        loss = _weighted_sum()(weights).apply(tuple(fused))[0]
        terms = [F.sum(F.cast(y * w, "float64")) for y, w in zip(composed, weights, strict=True)]
        expected = terms[0] + terms[1] + terms[2] + terms[3]
        loss.backward(loss_scale=loss_scale)
        expected.backward(loss_scale=loss_scale)
    assert loss.dtype == expected.dtype == np.float64 and loss.shape == ()
    np.testing.assert_array_equal(loss.array, expected.array)
    for y, e in zip(fused, composed, strict=True):
        assert y.grad.dtype == e.grad.dtype and y.grad.shape == e.grad.shape
        np.testing.assert_array_equal(y.grad, e.grad)
