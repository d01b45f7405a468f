"""D1 (same result), D6 (result type follows func), F1 (one-element tuple)."""

import chainer
import chainer.functions as F
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forget_conformance import profiles
from forget_conformance.conformance.support import check_close, data, observe

FUNCS = {
    "affine": lambda a, b: (a + b) * a,
    "tanh_sum": lambda a, b: F.tanh(a) - F.sum(b, axis=0, keepdims=True),
    "two_outputs": lambda a, b: (F.exp(a * 0.1), F.maximum(a, b)),
    "three_outputs": lambda a, b: (a * b, a - b, F.sigmoid(a)),
}


@pytest.mark.clause("D1")
@profiles.hypothesis_settings()
@given(
    name=st.sampled_from(sorted(FUNCS)),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_values_shapes_dtypes_device_match(forget, forget_device, name, shape, dtype, seed):
    func = FUNCS[name]
    a, b = (chainer.Variable(data(forget_device, shape, dtype, seed + i)) for i in range(2))
    expected = func(a, b)
    got = forget(func, a, b)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got_t = got if isinstance(got, tuple) else (got,)
    assert len(got_t) == len(expected), f"{len(got_t)} results, func returned {len(expected)}"
    for i, (g, e) in enumerate(zip(got_t, expected, strict=True)):
        assert isinstance(g, chainer.Variable), f"result {i} is a {type(g).__name__}"
        assert g.shape == e.shape and g.dtype == e.dtype, \
            f"result {i}: {g.shape} {g.dtype}, func gave {e.shape} {e.dtype}"
        where = chainer.backend.get_device_from_array(g.array)
        assert where == forget_device, f"result {i} is on {where}, not {forget_device}"
        check_close(f"result {i}", g, e)


@pytest.mark.clause("D1")
def test_link_result_matches(forget, forget_device):
    link = chainer.links.Linear(5, 3).to_device(forget_device)
    x = chainer.Variable(data(forget_device, (4, 5)))
    check_close("Linear result", forget(link, x), link(x))


@pytest.mark.clause("D6")
def test_single_variable_gives_variable(forget, forget_device):
    (x,) = (chainer.Variable(data(forget_device, (2, 3))),)
    y = forget(lambda a: a * 2, x)
    assert isinstance(y, chainer.Variable), f"got {type(y).__name__}, func returned a Variable"


@pytest.mark.clause("D6")
@pytest.mark.parametrize("n", [2, 3, 5])
def test_tuple_gives_tuple(forget, forget_device, n):
    x = chainer.Variable(data(forget_device, (2, 3)))
    ys = forget(lambda a: tuple(a * (i + 1) for i in range(n)), x)
    assert isinstance(ys, tuple), f"got {type(ys).__name__}, func returned a {n}-tuple"
    assert len(ys) == n and all(isinstance(y, chainer.Variable) for y in ys)


@pytest.mark.clause("F1")
def test_one_element_tuple(forget, forget_device, request):
    x = chainer.Variable(data(forget_device, (2,)))
    y = forget(lambda a: (a * 2,), x)
    if isinstance(y, chainer.Variable):
        observe(request, "one-element tuple -> Variable (upstream 7.8.1 behaviour; "
                         "contradicts D6)")
    elif isinstance(y, tuple) and len(y) == 1:
        observe(request, "one-element tuple -> 1-tuple (follows D6; not a drop-in for "
                         "upstream 7.8.1)")
    else:
        pytest.fail(f"one-element tuple -> {type(y).__name__}: neither upstream's nor D6's")
