"""Gradients that pass through a lower precision are compared at that precision, no looser.

The graph is the one ``--profile full --seed 1`` drew: a float32 input cast to float16,
a segment over it that also returns its argument, the argument used again outside. The
float16 gradient sums its contributions in another order on the two paths (one float16
ulp apart); a float32 leaf in the same graph keeps float32's ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

from forget_conformance import impl, policy
from forget_conformance.fuzz import compare
from forget_conformance.graph import (
    GraphBuilder,
    capture_leaves,
    compile_graph,
    expected_calls,
    gradient_precision,
)


def _graph(float32_leaf: bool = False, returned_twice_used: bool = False):
    b = GraphBuilder(seed=0)
    x = b.input((2, 2))
    v0 = b.cast(x, "float16")
    b.unary("tanh", b.unary("tanh", v0))
    (a,) = b.begin_forget((v0,))
    t = b.unary("tanh", a)
    outs = b.end_forget((t, t, a, b.sum(t), b.binary("mul", a, t)))
    loss = [outs[3], outs[4], v0]
    if returned_twice_used:
        loss.append(b.binary("mul", b.binary("add", outs[0], outs[1]), outs[2]))
    if float32_leaf:
        x1 = b.input((2, 3))
        (c,) = b.begin_forget((x1,))
        (y,) = b.end_forget((b.unary("sin", c),))
        loss.append(b.binary("mul", y, x1))
    return b.build(tuple(loss))


def _differences(graph, target, precision=True):
    return list(compare.check_differential(
        compile_graph(graph), impl.resolve(target).forget, "@numpy",
        expected_calls(graph, forgetting=True), tuple(sorted(capture_leaves(graph))), None,
        gradient_precision(graph) if precision else None))


def test_the_graph_model_knows_the_lowest_precision_on_each_gradient_path():
    graph = _graph(float32_leaf=True)
    assert gradient_precision(graph) == {"x0": "float16"}  # x1 stays float32


def test_reference_passes_at_the_precision_its_gradient_passed_through():
    graph = _graph(float32_leaf=True)
    assert _differences(graph, "reference") == []
    # at the leaf's own precision (float32) it is rejected by one float16 ulp: the rule
    # above is needed, not decorative
    found = _differences(graph, "reference", precision=False)
    assert [d.key for d in found] == ["x0"] and "rtol=1.91e-06" in found[0].message


def test_a_float32_path_keeps_float32_ulps_in_the_same_graph():
    found = _differences(_graph(float32_leaf=True), "tests.broken.variants:scaled_arg_grads")
    assert "x1" in {d.key for d in found}  # 1.001 on x1's float32 gradient


@pytest.mark.parametrize("target", ["tests.broken.fuzz_bugs:returned_twice_grad_once",
                                    "tests.broken.variants:first_output_grad_only"])
def test_a_lost_contribution_on_the_float16_path_is_caught(target):
    found = _differences(_graph(returned_twice_used=True), target)
    assert "x0" in {d.key for d in found}


def test_a_doubled_contribution_on_the_float16_path_is_caught():
    graph = _graph(returned_twice_used=True)
    plain = compare.run_step(compile_graph(graph), None, "@numpy").grads["x0"]
    doubled = plain + plain  # every contribution counted twice
    assert compare.mismatch(doubled, plain, through="float16") is not None
    # 16 float16 ulps of each element plus 16 of the largest: 5% is out, 0.4% is in
    assert compare.mismatch(plain * 1.05, plain, through="float16") is not None
    assert compare.mismatch(plain * (1 + 2 ** -8), plain, through="float16") is None
    assert compare.mismatch(plain * (1 + 2 ** -8), plain) is not None  # float32's ulps


@pytest.mark.parametrize("through", [None, "float16", "float32", "float64"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_inlined_lower_precision_rule_agrees_with_policy(dtype, through):
    rng = np.random.RandomState(1)
    expected = rng.uniform(-2, 2, (3, 4)).astype(dtype)
    eps = float(np.finfo(through or dtype).eps)
    for ulps in (1, 15, 17, 1e3):
        actual = expected.copy()
        actual.flat[5] += ulps * eps * np.abs(expected).max()
        assert compare.mismatch(actual, expected, through=through) == policy.mismatch(
            actual, expected, policy.same_kernels(dtype, through))


def test_inlined_memory_allowance_agrees_with_policy():
    assert compare.PER_CALL_BYTES == policy.MEMORY_PER_CALL_BYTES
    assert compare.BOOKKEEPING_BYTES == policy.MEMORY_BOOKKEEPING_BYTES
