"""Interleaved timing: every configuration gets its rounds, paired ratios and their
interval, and the expected overhead (no assertion depends on how fast the machine is)."""

from __future__ import annotations

import random

import pytest

from forget_conformance import graph as G
from forget_conformance.bench import stats, steady, timing
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
    assert timing.expected_overhead(timing.fastest(runs["segmented"])) > 1.0
    assert timing.expected_overhead(timing.StepTimes(1.0, 2.0, 0.6)) == pytest.approx(1.2)


def test_ratios_are_paired_round_by_round():
    a = [timing.StepTimes(1, 1), timing.StepTimes(3, 3)]
    b = [timing.StepTimes(1, 0), timing.StepTimes(2, 2)]
    assert timing.paired_ratios(a, b) == [2.0, 1.5]
    with pytest.raises(ValueError):
        timing.paired_ratios(a, b[:1])


@pytest.mark.parametrize("n,ranks,coverage", [
    (5, (1, 5), 0.9375),  # too few rounds for 95%: the whole range, its coverage said
    (11, (2, 10), 0.9883),
    (20, (6, 15), 0.9586),
])
def test_the_median_interval_is_the_order_statistics_one(n, ranks, coverage):
    samples = [float(v) for v in range(1, n + 1)][::-1]  # order does not matter
    est = stats.median_interval(samples)
    assert (est.low, est.high) == ranks and est.value == (n + 1) / 2
    assert est.coverage == pytest.approx(coverage, abs=1e-4)


def test_the_median_interval_covers_the_true_median_about_95_percent():
    rng = random.Random(1)
    hits = sum(stats.median_interval([rng.lognormvariate(0, 0.3) for _ in range(30)])
               .straddles(1.0) for _ in range(400))
    assert 0.93 * 400 <= hits <= 400


def test_blas_threads_is_restored():
    found = steady._openblas()
    if found is None:
        pytest.skip("NumPy does not use OpenBLAS here")
    get, _ = found
    before = get()
    with steady.blas_threads(1):
        assert get() == 1
    assert get() == before
