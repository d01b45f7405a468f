"""The regression gate: compare one implementation's ratios with a baseline's.

Only ratios are compared, never absolute times or bytes. Every ratio is "larger
is worse" (memory forget/plain, measured/predicted; time forget/plain), and the
threshold of a ratio is::

    threshold = baseline * (1 + pct / 100)

with ``pct = max_memory_regression`` for memory ratios and ``max_time_regression``
for time. Memory is counted, not sampled (the same bytes on every run), so a
memory ratio regresses as soon as it exceeds its threshold. A time ratio is the
median of per-round paired ratios with a confidence interval (:mod:`.stats`), and
it is judged by the whole interval:

* interval entirely above the threshold: a **regression** (if it is a 95% interval:
  from fewer than ``stats.MIN_SAMPLES`` rounds it is inconclusive);
* interval straddling the threshold: **inconclusive** (not a failure; rerun, or
  time longer with ``--time-budget``);
* otherwise it passes.

A case the baseline has that failed in the current run is a regression too;
cases missing from either side are ignored (the run may select fewer workloads).
Which ratios are gated is the gate *mode*: ``memory``, ``time`` or ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass

from forget_conformance.bench.results import MEMORY_RATIOS, TIME_RATIOS, Row
from forget_conformance.bench.stats import MIN_SAMPLES

DEFAULT_MEMORY_PCT = 2.0
DEFAULT_TIME_PCT = 25.0
MODES = ("memory", "time", "all")
REGRESSION, INCONCLUSIVE = "regression", "inconclusive"


@dataclass(frozen=True)
class Finding:
    """A gated ratio that regressed, or (time only) could not be decided."""

    key: tuple
    ratio: str
    baseline: float | None
    current: float | None
    message: str
    kind: str = REGRESSION


def gated_ratios(mode: str) -> tuple[str, ...]:
    """The ratio names a gate ``mode`` compares."""
    return {"memory": MEMORY_RATIOS, "time": TIME_RATIOS,
            "all": MEMORY_RATIOS + TIME_RATIOS}[mode]


def compare(
    current: list[Row],
    baseline: list[Row],
    max_time_regression: float = DEFAULT_TIME_PCT,
    max_memory_regression: float = DEFAULT_MEMORY_PCT,
    mode: str = "all",
) -> list[Finding]:
    """The findings of ``current`` rows against ``baseline`` rows (matched by key)."""
    base_by_key = {row.key: row for row in baseline if row.error is None}
    found: list[Finding] = []
    for row in current:
        base = base_by_key.get(row.key)
        if base is None:
            continue
        if row.error is not None:
            found.append(Finding(row.key, "error", None, None, f"failed: {row.error}"))
            continue
        for name in gated_ratios(mode):
            pct = max_time_regression if name in TIME_RATIOS else max_memory_regression
            finding = _judge(row, base, name, pct)
            if finding is not None:
                found.append(finding)
    return found


def _judge(row: Row, base: Row, name: str, pct: float) -> Finding | None:
    was, interval = base.ratios.get(name), row.interval(name)
    if was is None or interval is None:
        return None
    now, (low, high) = row.ratios[name], interval
    threshold = was * (1 + pct / 100)
    shown = f"{name} {now:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low != high else "")
    limit = f"baseline {was:.3f} + {pct:g}% = {threshold:.3f}"
    if low > threshold and row.decisive(name):
        return Finding(row.key, name, was, now, f"{shown} > {limit}")
    if low > threshold:
        return Finding(row.key, name, was, now,
                       f"{shown} > {limit}, but from {len(row.time_samples)} rounds, too few "
                       f"for a 95% interval (inconclusive: rerun with --repeats "
                       f"{MIN_SAMPLES} or more)", INCONCLUSIVE)
    if high > threshold:
        return Finding(row.key, name, was, now, f"{shown} straddles {limit} (inconclusive: rerun)",
                       INCONCLUSIVE)
    return None


def regressions(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.kind == REGRESSION]


def describe(finding: Finding) -> str:
    device, workload, strategy, depth = finding.key
    label = "REGRESSION" if finding.kind == REGRESSION else "INCONCLUSIVE"
    return f"{label} {workload}/{strategy}/depth {depth} on {device}: {finding.message}"
