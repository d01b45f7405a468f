"""The analytical model: exact on hand-counted cases, and the reference measures as predicted."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from forget_conformance import graph as G
from forget_conformance.bench.workloads import STRATEGIES, WORKLOADS
from forget_conformance.graph import memory_model
from forget_conformance.graph.op_memory import MemoryModelError
from forget_conformance.impl import resolve
from forget_conformance.meters import CpuMeter

ACT = 16 * 32 * 4  # the tiny elementwise chain below: (16, 32) float32


def _chain(depth: int, segments=None, op: str = "tanh") -> G.Graph:
    return G.elementwise_chain(depth, shape=(16, 32), segments=segments, op=op)


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_kept_bytes_by_hand(depth):
    # plain: every tanh keeps its output; the loss node keeps its weights (one more
    # activation); the float64 loss is 8 bytes. The input exists before and is free.
    assert memory_model.predict(_chain(depth), False).retained == (depth + 1) * ACT + 8
    # forget per layer keeps each segment's input (the first is the free input); the
    # loss node keeps its weights, not its inputs
    assert memory_model.predict(_chain(depth, G.per_layer(depth)), True).retained == depth * ACT + 8
    # one segment over everything: only the loss weights
    assert memory_model.predict(_chain(depth, [(0, depth)]), True).retained == ACT + 8


def test_plain_peak_by_hand():
    # forward: the printed code names every value, so all 3 tanh outputs live until the
    # loss: weights drawn as float64 (2 ACT) then cast (ACT) -> 3 + 3 = 6 ACT; then the
    # loss node's y * w (1) and its float64 cast (2) with the weights kept: 3 + 1 + 3 = 7 ACT.
    # backward, at the first TanhGrad: kept 4 ACT + 8, its gy, its gx and gy * (1 - y * y)'s
    # temporary (3 ACT), the 8-byte gradient of the loss freed by then: 7 ACT + 8 again
    prediction = memory_model.predict(_chain(3), False)
    assert prediction.peak == prediction.backward_peak == 7 * ACT + 8


def _measure(graph: G.Graph, forget) -> tuple[int, int]:
    built = G.build(graph, forget)
    reading = CpuMeter().measure(lambda: built.forward()[1], lambda loss: loss.backward())
    return reading.retained, reading.peak


@pytest.mark.parametrize("name", sorted(WORKLOADS))
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_reference_measures_as_predicted(name, strategy):
    graph = WORKLOADS[name](4, STRATEGIES[strategy](4))
    forget = None if strategy == "plain" else resolve("reference").forget
    retained, peak = _measure(graph, forget)
    prediction = memory_model.predict(graph, forget is not None)
    assert retained == prediction.retained
    assert 0.97 <= peak / prediction.peak <= 1.07


@pytest.mark.parametrize("op", ["sigmoid", "sin", "relu", "neg", "scale"])
def test_other_unary_ops_measure_as_predicted(op):
    graph = G.elementwise_chain(3, shape=(64, 256), segments=[(0, 2)], op=op)
    for forget in (None, resolve("reference").forget):
        retained, peak = _measure(graph, forget)
        prediction = memory_model.predict(graph, forget is not None)
        assert retained == prediction.retained
        assert 0.95 <= peak / prediction.peak <= 1.1


def _rnn_on_constant_inputs(steps: int, hidden: int = 128, batch: int = 256) -> G.Graph:
    """``unrolled_rnn`` with the per-step inputs fed as raw arrays (no gradient)."""
    b = G.GraphBuilder()
    h = b.input((batch, hidden))
    xs = [b.input((batch, hidden), wrap=False) for _ in range(steps)]
    wx, wh = b.add_link("linear", (hidden, hidden)), b.add_link("linear", (hidden, hidden))
    for x in xs:
        h = b.unary("tanh", b.binary("add", b.apply_link(wx, x), b.apply_link(wh, h)))
    return b.build((h,))


def test_backward_visits_nodes_by_rank():
    """Every ``Wx x_t`` node has rank 0 (its inputs are leaves), so Chainer visits them
    all last and each step's gradient of ``Wx x_t`` waits in the table until then: the
    backward peak holds one activation per step (visiting in reverse creation order
    would predict less than half of it)."""
    graph = _rnn_on_constant_inputs(8)
    built = G.build(graph)
    gc.collect()
    tracemalloc.start()
    try:
        loss = built.forward()[1]
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loss.backward()
        measured = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    predicted = memory_model.predict(graph, False)
    assert 0.97 <= measured / (predicted.backward_peak - predicted.retained) <= 1.07


def test_ops_without_facts_are_refused():
    b = G.GraphBuilder()
    x = b.input((4, 4))
    graph = b.build((b.matmul(x, x),))
    with pytest.raises(MemoryModelError, match="matmul"):
        memory_model.predict(graph, False)


def test_graphs_with_captured_values_are_refused():
    b = G.GraphBuilder()
    x = b.input((4, 4))
    c = b.unary("tanh", x)
    (a,) = b.begin_forget((x,))
    (y,) = b.end_forget((b.binary("mul", a, c),))
    with pytest.raises(MemoryModelError, match="capture"):
        memory_model.predict(b.build((y,)), True)


# ---- layouts: a non-contiguous array costs a copy where a reshape cannot view it ----


def _measured_retained(graph: G.Graph, forget) -> int:
    from forget_conformance.fuzz import compare

    run = compare.run_step(G.compile_graph(graph), forget, "@numpy")
    assert run.error is None
    return run.retained


def _transpose_tanh_linear(reshapes: bool) -> G.Graph:
    b = G.GraphBuilder()
    x = b.input((2, 2, 3) if reshapes else (3, 4))
    t = b.transpose(x, (0, 2, 1) if reshapes else (1, 0))  # a view, not C-contiguous
    y = b.unary("tanh", t)  # NumPy lays it out like its input (order 'K')
    n_in = 6 if reshapes else 3
    return b.build((b.apply_link(b.add_link("linear", (n_in, 2)), y),))


def test_linear_keeps_the_copy_its_reshape_makes_of_a_transposed_array():
    # tanh keeps its (2, 3, 2) output (48 bytes); F.linear reshapes it to (2, 6), which
    # NumPy must copy (48 more), and the linear node keeps that copy; the (2, 2) output's
    # loss weights (16) and the float64 loss (8)
    graph = _transpose_tanh_linear(reshapes=True)
    assert memory_model.predict(graph, False).retained == 48 + 48 + 16 + 8
    assert _measured_retained(graph, None) == 48 + 48 + 16 + 8
    # a 2-D transposed input is F-contiguous: linear's dot reads it as it is, no copy
    graph = _transpose_tanh_linear(reshapes=False)
    assert memory_model.predict(graph, False).retained == 48 + 32 + 8  # (4, 2) output
    assert _measured_retained(graph, None) == 48 + 32 + 8


def test_reshape_copies_only_what_it_cannot_view():
    for shape, axes, copies in (((2, 3), (1, 0), True), ((1, 3), (1, 0), False),  # size-1
                                ((2, 3), (0, 1), False)):  # axes in order: the same array
        b = G.GraphBuilder()
        x = b.input(shape)
        y = b.unary("tanh", b.transpose(x, axes))  # tanh keeps y (24 bytes)
        r = b.reshape(y, (6,) if 6 in (shape[0] * shape[1],) else (3,))
        n = 4 * shape[0] * shape[1]
        graph = b.build((b.binary("mul", r, b.add_link("weight", (n // 4,))),))
        # mul keeps r: a view of y, or a copy of it (n more); loss weights n, the loss 8
        expected = n + (n if copies else 0) + n + 8
        assert memory_model.predict(graph, False).retained == expected, (shape, axes)
        assert _measured_retained(graph, None) == expected, (shape, axes)


def test_conv2d_output_is_a_rolled_view_that_a_reshape_copies():
    b = G.GraphBuilder()
    x = b.input((2, 3, 4, 4))
    c = b.apply_link(b.add_link("conv2d", (3, 2, 1, 0)), x)  # (2, 2, 4, 4), channels last
    y = b.unary("tanh", c)  # keeps y (256 bytes), laid out like c
    r = b.reshape(y, (2, 32))
    graph = b.build((b.binary("mul", r, b.add_link("weight", (2, 32))),))
    # conv keeps x and W (free); the reshape copies y (256), mul keeps the copy;
    # loss weights 256 and the loss 8
    assert memory_model.predict(graph, False).retained == 3 * 256 + 8
    assert _measured_retained(graph, None) == 3 * 256 + 8


def test_unused_branches_are_freed_but_shared_retained_inputs_stay():
    b = G.GraphBuilder()
    x = b.input((2, 3), wrap=False)  # a raw array: its sum is a new, unshared array
    s = b.sum(x, axis=0, keepdims=True)  # (1, 3), 12 bytes
    y = b.unary("tanh", s)  # keeps y (12)
    b.binary("mul", s, y)  # unused, but mul retained s on s's variable node, which tanh
    graph = b.build((y,))  # (used) takes as input: s stays; y's loss weights 12, loss 8
    assert memory_model.predict(graph, False).retained == 12 + 12 + 12 + 8
    assert _measured_retained(graph, None) == 12 + 12 + 12 + 8


def test_the_model_measures_as_predicted_on_drawn_graphs():
    """Model vs measurement on fuzz graphs (plain and through the reference), exactly:
    layouts, unused branches, raw arrays, segments."""
    from hypothesis import HealthCheck, given, settings

    from forget_conformance.fuzz.strategies import graphs

    forget = resolve("reference").forget
    covered = []

    @settings(max_examples=120, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(graphs())
    def agree(graph):
        try:
            predicted = [memory_model.predict(graph, f is not None).retained
                         for f in (None, forget)]
        except MemoryModelError:
            return
        covered.append(graph)
        for f, p in zip((None, forget), predicted, strict=True):
            from forget_conformance.fuzz import compare

            run = compare.run_step(G.compile_graph(graph), f, "@numpy")
            if run.error is None:
                assert run.retained == p, (f is not None, run.retained, p, graph)

    agree()
    assert len(covered) >= 40


def test_an_unused_forget_call_leaves_the_arguments_it_retained_to_their_users():
    # found by --profile full: forget retains its arguments on their variable nodes; an
    # unused call's node is freed, but v0's data stays while tanh (used) takes v0 as input
    b = G.GraphBuilder()
    x = b.input((2, 2))
    v0 = b.sum(x)
    v2 = b.unary("tanh", b.unary("tanh", v0))
    _, passed = b.begin_forget((v2, v0))
    b.end_forget((passed,))  # passes v0 through; its result is unused
    w = b.add_link("weight", ())
    v4 = b.binary("mul", v2, w)
    (a,) = b.begin_forget((v4,))
    (v6,) = b.end_forget((b.binary("mul", a, w),))
    graph = b.build((v4, v6))
    # loss weights 4 + 4 and the loss 8; tanh outputs v1, v2 (4 + 4); v0 (4), kept by
    # the unused call for tanh; f1 keeps v4 (4)
    assert memory_model.predict(graph, True).retained == 32
    assert _measured_retained(graph, resolve("reference").forget) == 32
