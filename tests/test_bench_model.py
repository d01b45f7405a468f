"""The analytical model predicts simple cases exactly, and matches the reference's kept bytes."""

from __future__ import annotations

import chainer
import pytest

from bench import model, workloads
from bench.meters import CpuMeter
from forget_conformance.impl import resolve

CPU = chainer.get_device("@numpy")
ACT = 16 * 32 * 4  # elementwise workload below: batch 16, width 32, float32


def _tiny(depth: int) -> workloads.Workload:
    return workloads.elementwise(depth, CPU, batch=16, width=32)


@pytest.mark.parametrize("depth", [1, 3, 4])
def test_elementwise_kept_bytes_by_hand(depth):
    w = _tiny(depth)
    # plain: per layer tanh's output, mul's inputs (tanh out and the layer input),
    # sigmoid's output = 2 new activations per layer; plus the 4-byte loss
    assert model.predict(w, []).retained == 2 * depth * ACT + 4
    # forget per layer keeps each segment's input (the first is the given input)
    per_layer = workloads.segments_for("per_layer", depth)
    assert model.predict(w, per_layer).retained == (depth - 1) * ACT + 4
    # one segment over everything keeps nothing new but the loss
    assert model.predict(w, [(0, depth)]).retained == 4


def test_segments_cover_the_depth():
    assert workloads.segments_for("every_2", 5) == [(0, 2), (2, 4), (4, 5)]
    assert workloads.segments_for("sqrt_n", 16) == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert workloads.segments_for("plain", 7) == []


@pytest.mark.parametrize("name", sorted(workloads.BUILDERS))
@pytest.mark.parametrize("strategy", workloads.STRATEGIES)
def test_reference_keeps_exactly_what_the_model_predicts(name, strategy):
    w = workloads.BUILDERS[name](4, CPU)
    segments = workloads.segments_for(strategy, 4)
    forget = resolve("reference").forget
    w.clear_grads()
    reading = CpuMeter().measure(lambda: w.forward(segments, forget), lambda y: y.backward())
    prediction = model.predict(w, segments)
    assert reading.retained == prediction.retained
    assert 0.9 <= reading.peak / prediction.peak <= 1.1 or name == "rnn"
