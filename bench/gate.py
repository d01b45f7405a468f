"""The regression gate: compare one implementation's ratios with a baseline's.

Only ratios are compared, never absolute times or bytes. Every ratio is
"larger is worse" (memory forget/plain, measured/predicted, time forget/plain),
and a ratio regresses when::

    current > baseline * (1 + threshold / 100)

with ``threshold = max_memory_regression`` for memory ratios (deterministic on
CPU, so the default is tight) and ``max_time_regression`` for time ratios. A time
ratio is a ratio of fastest runs timed in interleaved rounds (:mod:`.timing`);
measured in CPU time it still moves by up to about 15% between runs on a shared
2-core machine (other processes' cache traffic), so the default allows 25% (one
extra forward of every segment adds 17-30%), and the CLI times a case that
exceeds it again (up to ``TIME_RETRIES`` times, keeping the best) before
counting it: noise rarely repeats, a real slowdown always does. A case the
baseline has that failed in the current run is a regression too; cases missing
from either side are ignored (the run may select fewer workloads).
"""

from __future__ import annotations

from dataclasses import dataclass

from forget_conformance.bench.results import MEMORY_RATIOS, TIME_RATIOS, Row

DEFAULT_MEMORY_PCT = 2.0
DEFAULT_TIME_PCT = 25.0
TIME_RETRIES = 2


@dataclass(frozen=True)
class Regression:
    key: tuple
    ratio: str
    baseline: float | None
    current: float | None
    message: str


def compare(
    current: list[Row],
    baseline: list[Row],
    max_time_regression: float = DEFAULT_TIME_PCT,
    max_memory_regression: float = DEFAULT_MEMORY_PCT,
) -> list[Regression]:
    """The regressions of ``current`` rows against ``baseline`` rows (matched by key)."""
    base_by_key = {row.key: row for row in baseline if row.error is None}
    found: list[Regression] = []
    for row in current:
        base = base_by_key.get(row.key)
        if base is None:
            continue
        if row.error is not None:
            found.append(Regression(row.key, "error", None, None, f"failed: {row.error}"))
            continue
        limits = [(name, max_memory_regression) for name in MEMORY_RATIOS]
        limits += [(name, max_time_regression) for name in TIME_RATIOS]
        for name, pct in limits:
            was, now = base.ratios.get(name), row.ratios.get(name)
            if was is None or now is None:
                continue
            if now > was * (1 + pct / 100):
                found.append(Regression(
                    row.key, name, was, now,
                    f"{name} {now:.3f} > baseline {was:.3f} + {pct:g}%",
                ))
    return found


def describe(regression: Regression) -> str:
    device, workload, strategy, depth = regression.key
    return f"REGRESSION {workload}/{strategy}/depth {depth} on {device}: {regression.message}"
