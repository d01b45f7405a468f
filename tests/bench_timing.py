"""Synthetic timings for forget-bench's tests: the gate's behaviour under noise,
with no dependence on how loaded the machine running the tests is."""

from __future__ import annotations

import random

from forget_conformance.bench import timing

PLAIN_SIDES = ("timer", "(plain)")  # configurations the ratios divide by


class Synthetic:
    """Stands in for :func:`timing.time_interleaved`: every round draws a load (1x to
    ``load``x, slowing every run of the round alike, as a busy machine does) and each
    run its own jitter (+-``jitter``); an implementation's run does ``factor`` times
    the plain side's work. Each call draws new rounds (a case timed again differs)."""

    def __init__(self, factor: float = 1.4, jitter: float = 0.1, load: float = 3.0,
                 rounds: int = 40, seed: int = 0) -> None:
        self.factor, self.jitter, self.load, self.rounds = factor, jitter, load, rounds
        self.rng = random.Random(seed)
        self.calls = 0

    def __call__(self, configs, min_rounds=7, budget_s=0.4, max_rounds=60):
        self.calls += 1
        runs: dict[str, list[timing.StepTimes]] = {name: [] for name in configs}
        for _ in range(self.rounds):
            load = self.rng.uniform(1.0, self.load)
            for name in configs:
                work = 1.0 if name in PLAIN_SIDES else self.factor
                seconds = 1e-3 * work * load * self.rng.uniform(1 - self.jitter,
                                                               1 + self.jitter)
                runs[name].append(timing.StepTimes(0.4 * seconds, 0.6 * seconds,
                                                   0.1 * seconds if name == "timer" else 0))
        return runs
