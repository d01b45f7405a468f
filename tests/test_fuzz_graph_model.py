"""Self-tests of the shared graph model: generation, building, printing, memory model."""

from __future__ import annotations

import subprocess
import sys

import chainer
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import forget_conformance.reference as forget_impl
from forget_conformance.fuzz.strategies import graphs
from forget_conformance.graph import (
    GraphBuilder,
    build,
    conv_bn_stack,
    elementwise_chain,
    every_k,
    expected_calls,
    mlp,
    per_layer,
    retained_arrays,
    retained_bytes,
    sqrt_segments,
    to_source,
    unrolled_rnn,
)

_QUICK = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))


@_QUICK
@given(graphs())
def test_generated_graphs_build_and_run(graph):
    built = build(graph)
    values, loss = built.forward()
    loss.backward()
    assert loss.dtype == np.float64
    for step in graph.steps:
        for ref, shape, dtype in zip(step.outs, step.shapes, step.dtypes, strict=True):
            assert values[ref].shape == shape and values[ref].dtype == np.dtype(dtype), ref
    assert dict(built.calls) == expected_calls(graph, forgetting=False)


_FOOTER = """
import collections, sys
import forget_conformance.reference as forget_impl
device = chainer.get_device("@numpy")
for forget in (None, forget_impl.forget):
    calls = collections.Counter()
    links = make_links(device)
    _, loss = forward(forget, links, make_inputs(device), calls)
    loss.backward()
    print(repr(float(loss.array)), sum(float(abs(p.grad).sum()) for p in links.params()))
"""


def test_printed_source_runs_standalone(tmp_path):
    b = GraphBuilder(seed=5)
    x, i = b.input((3, 4)), b.index_input((3,), high=5)
    lin, emb = b.add_link("linear", (4, 2)), b.add_link("embed_id", (5, 2))
    a, c, k = b.begin_forget((x, x, i))
    left, right = b.split(b.binary("add", b.apply_link(lin, a), b.apply_link(emb, k)), (1,), 1)
    outs = b.end_forget((left, right, c))
    graph = b.build((b.binary("mul", outs[0], outs[1]),))
    script = tmp_path / "graph.py"
    # The graph source imports Chainer first: apply the compatibility layer before it, as
    # the README tells users who import Chainer themselves (NumPy 2, Python 3.12+).
    script.write_text("import forget_conformance.chainer_compat\n" + to_source(graph) + _FOOTER)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=True)
    plain, forgetting = done.stdout.split("\n")[:2]
    built = build(graph)
    _, loss = built.forward()
    assert plain.split()[0] == repr(float(loss.array))
    assert plain == forgetting


def test_retained_arrays_model_of_a_tanh_chain():
    graph = elementwise_chain(9, shape=(4, 8), segments=sqrt_segments(9))
    per_array = 4 * 8 * 4
    assert retained_bytes(graph, forgetting=False) == 9 * per_array  # tanh keeps its output
    kept = retained_arrays(graph, forgetting=True)
    assert {r.role for r in kept} == {"forget input", "forget output"}
    assert retained_bytes(graph, forgetting=True) == 4 * per_array  # x and 3 segment outputs


def test_retained_arrays_lists_link_weights_as_parameters():
    graph = mlp(2, width=3, batch=2)
    params = [r for r in retained_arrays(graph, forgetting=False) if r.is_param]
    assert {(r.ref, r.shape) for r in params} == {("l0.W", (3, 3)), ("l1.W", (3, 3))}
    assert retained_bytes(graph, False, include_params=True) > retained_bytes(graph, False)


def test_nested_segments_expect_one_more_call_per_level():
    b = GraphBuilder()
    (a,) = b.begin_forget((b.input((2, 2)),))
    (inner,) = b.begin_forget((a,))
    (y,) = b.end_forget((b.unary("tanh", inner),))
    (z,) = b.end_forget((y,))
    graph = b.build((z,))
    assert expected_calls(graph, forgetting=True) == {"f0": 2, "f1": 3}
    built = build(graph, forget_impl.forget)
    built.forward()[1].backward()
    assert dict(built.calls) == {"f0": 2, "f1": 3}


@pytest.mark.parametrize("graph", [
    elementwise_chain(6, shape=(3, 3), segments=every_k(6, 4)),
    mlp(3, width=4, batch=3, segments=per_layer(3)),
    conv_bn_stack(2, channels=2, size=4, batch=2, segments=[(0, 2)]),
    unrolled_rnn(4, hidden=3, batch=2, segments=sqrt_segments(4)),
], ids=["chain", "mlp", "conv_bn", "rnn"])
def test_workloads_give_the_same_gradients_with_forget(graph):
    results = []
    for forget in (None, forget_impl.forget):
        built = build(graph, forget)
        _, loss = built.forward()
        loss.backward()
        results.append([p.grad.copy() for _, p in sorted(built.links.namedparams())])
    for plain, forgetting in zip(*results, strict=True):
        np.testing.assert_allclose(forgetting, plain, rtol=1e-5, atol=1e-6)
    assert graph.segments()


def test_builder_rejects_invalid_ops():
    b = GraphBuilder()
    x = b.input((2, 3))
    with pytest.raises(ValueError):
        b.matmul(x, x)
    with pytest.raises(ValueError):
        b.binary("add", x, b.input((4,)))
    with pytest.raises(ValueError):
        b.apply_link(b.add_link("batch_norm", (4,)), x)
    assert chainer.config.train


# ---- stateful feedback: a link whose later call in a segment reads what an earlier wrote ----


def _renorm_twice(inside_one_segment: bool):
    from forget_conformance.graph import feedback_links

    b = GraphBuilder()
    x = b.input((4, 3))
    link = b.add_link("batch_renorm", (3,))
    (a,) = b.begin_forget((x,))
    y = b.apply_link(link, a)
    if not inside_one_segment:
        (y,) = b.end_forget((y,))
        (y,) = b.begin_forget((y,))
    (z,) = b.end_forget((b.apply_link(link, b.unary("tanh", y)),))
    return feedback_links(b.build((z,)))


def test_the_graph_model_knows_which_segments_feed_state_back():
    assert _renorm_twice(inside_one_segment=True) == {"f0": {"l0"}}
    assert _renorm_twice(inside_one_segment=False) == {}  # one call per segment: in contract


def test_judged_targets_never_draw_feedback_and_the_informational_one_always_does():
    from forget_conformance.fuzz import targets
    from forget_conformance.fuzz.throughput import draw_graphs
    from forget_conformance.graph import feedback_links

    for name, target in targets.TARGETS.items():
        drawn = draw_graphs(20, target.strategy)
        assert all(bool(feedback_links(g)) == target.informational for g in drawn), name


def test_feedback_graphs_are_reported_never_failed(tmp_path, monkeypatch):
    from forget_conformance import impl
    from forget_conformance.fuzz import property_runner, targets

    monkeypatch.setenv("FORGET_FUZZ_FAILURES", str(tmp_path))
    monkeypatch.setenv(property_runner.ENV_DATABASE, str(tmp_path / "db"))
    monkeypatch.setenv(property_runner.ENV_MAX_EXAMPLES, "4")
    log = property_runner.FuzzLog()
    assert targets.run("stateful_feedback", impl.resolve("reference"), "@numpy", log) == 4
    line = log.observation("stateful_feedback")
    assert log.differences and "graphs differ from the plain path; unsupported" in line
    assert len(log.reproducers) == 1 and "reproducer: " in line
