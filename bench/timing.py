"""Interleaved timing of forward + backward, robust to a shared, noisy machine.

On CPU, times are the thread's CPU time (``time.thread_time``), not wall time:
when other processes hold the cores this thread waits, but its CPU clock stops,
so preemption, the largest noise on a shared 2-core machine, drops out (on a GPU:
wall time, synchronized). Meanwhile OpenBLAS keeps to one thread and malloc to a
warm heap (:mod:`forget_conformance.bench.steady`). The configurations of one comparison run in
rounds, one run of each per round, in an order that rotates every round. A time
ratio is taken per round (:func:`paired_ratios`: this round's forget run over this
round's plain run, so load that lasts a round slows both sides of it), and the
figure reported is the median of those with its interval (:mod:`.stats`).
Rounds go on until ``min_rounds`` are done and ``budget_s`` has passed (at most
``max_rounds``), so small workloads get more of them.

The expected cost of ``forget`` is one extra forward of every forgotten segment::

    expected = (fwd + bwd + fwd_of_forgotten) / (fwd + bwd)

measured on the plain path by a :class:`SegmentTimer` standing in for ``forget``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import chainer

from forget_conformance.bench.steady import steady
from forget_conformance.graph import Built


@dataclass(frozen=True)
class StepTimes:
    """The fastest run: its forward and backward seconds, and (under a
    :class:`SegmentTimer`) the seconds spent in segment calls during its forward."""

    forward: float
    backward: float
    segments_forward: float = 0.0

    @property
    def total(self) -> float:
        return self.forward + self.backward


def clock_for(built: Built) -> Callable[[], float]:
    """This thread's CPU time; on a GPU, wall time once the device has finished."""
    device = built.links.device
    if isinstance(device, chainer.backend.GpuDevice):
        def clock() -> float:
            device.device.synchronize()
            return time.perf_counter()

        return clock
    return time.thread_time


class SegmentTimer:
    """A stand-in for ``forget`` that calls ``func`` plainly and times each call."""

    def __init__(self, clock: Callable[[], float] = time.thread_time) -> None:
        self.elapsed = 0.0
        self.clock = clock

    def __call__(self, func: Callable, *xs: Any) -> Any:
        start = self.clock()
        result = func(*xs)
        self.elapsed += self.clock() - start
        return result


def clear_grads(built: Built) -> None:
    """Drop the gradients a previous run left on the links and inputs."""
    built.links.cleargrads()
    for x in built.inputs.values():
        if hasattr(x, "cleargrad"):
            x.cleargrad()


def run_once(built: Built) -> StepTimes:
    """One timed forward + backward of ``built`` (gradients cleared first)."""
    clear_grads(built)
    clock = clock_for(built)
    timer = built.forget if isinstance(built.forget, SegmentTimer) else None
    if timer is not None:
        timer.elapsed, timer.clock = 0.0, clock
    start = clock()
    _, loss = built.forward()
    assert loss is not None, "a workload graph has a loss"
    middle = clock()
    loss.backward()
    end = clock()
    return StepTimes(middle - start, end - middle, timer.elapsed if timer else 0.0)


def time_interleaved(configs: dict[str, Built], min_rounds: int = 7, budget_s: float = 0.4,
                     max_rounds: int = 60) -> dict[str, list[StepTimes]]:
    """Each configuration's runs, round by round, timed in rotating rounds (after one
    warm-up round)."""
    names = list(configs)
    runs: dict[str, list[StepTimes]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        with steady():
            clock = clock_for(configs[names[0]])
            start, rounds = clock(), 0
            while rounds <= min_rounds or (clock() - start < budget_s
                                           and rounds <= max_rounds):
                shift = rounds % len(names)
                for name in names[shift:] + names[:shift]:
                    times = run_once(configs[name])
                    gc.collect(0)  # the run's cycles are young; a full pass costs ~10 runs
                    if rounds:
                        runs[name].append(times)
                rounds += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    return runs


def paired_ratios(numerator: list[StepTimes], denominator: list[StepTimes]) -> list[float]:
    """Per round, the numerator's total time over the denominator's (same round)."""
    if len(numerator) != len(denominator):
        raise ValueError("paired runs need the same rounds on both sides")
    return [a.total / b.total for a, b in zip(numerator, denominator, strict=True)
            if b.total > 0]


def fastest(runs: list[StepTimes]) -> StepTimes:
    """The run with the least total time."""
    return min(runs, key=lambda t: t.total)


def expected_overhead(plain: StepTimes) -> float:
    """(fwd + bwd + fwd_of_forgotten) / (fwd + bwd), from a :class:`SegmentTimer` run."""
    return (plain.total + plain.segments_forward) / plain.total
