"""Interleaved timing: every configuration gets its rounds, and the expected overhead."""

from __future__ import annotations

import pytest

from forget_conformance import graph as G
from forget_conformance.bench import steady, timing
from forget_conformance.bench.workloads import build_graph


def _built(strategy: str, forget=None) -> G.Built:
    return G.build(build_graph("mlp", 4, strategy), forget)


def test_rounds_rotate_and_keep_the_fastest_run(monkeypatch):
    order = []
    real = timing.run_once

    def run_once(built):
        order.append(built.graph.segments() != [])
        return real(built)

    monkeypatch.setattr(timing, "run_once", run_once)
    runs = timing.time_interleaved({"a": _built("plain"), "b": _built("every_2")},
                                   min_rounds=3, budget_s=0)
    assert order == [False, True, True, False, False, True, True, False]  # warm-up + 3
    assert {k: len(v) for k, v in runs.items()} == {"a": 3, "b": 3}
    best = timing.fastest(runs["b"])
    assert best.total == min(t.total for t in runs["b"]) > 0


def test_expected_overhead_counts_the_forgotten_segments_forward():
    runs = timing.time_interleaved({"plain": _built("plain", timing.SegmentTimer()),
                                    "segmented": _built("every_2", timing.SegmentTimer())},
                                   min_rounds=2, budget_s=0)
    assert timing.expected_overhead(timing.fastest(runs["plain"])) == 1.0  # no segment called
    assert 1.05 < timing.expected_overhead(timing.fastest(runs["segmented"])) < 2.0


def test_blas_threads_is_restored():
    found = steady._openblas()
    if found is None:
        pytest.skip("NumPy does not use OpenBLAS here")
    get, _ = found
    before = get()
    with steady.blas_threads(1):
        assert get() == 1
    assert get() == before
