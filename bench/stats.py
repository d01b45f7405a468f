"""The median of paired ratios and a distribution-free confidence interval for it.

Each timing round runs every configuration once (:mod:`.timing`), so a round
gives one *paired* ratio, forget's time over the plain path's in that round.
Load that comes and goes slows both runs of a round alike and cancels in their
ratio; what is left scatters both ways. The estimate is the median of the
paired ratios, and its interval comes from order statistics: with ``n``
ratios, the number below the true median is Binomial(n, 1/2), so the ``l``-th
smallest and the ``l``-th largest ratio enclose the median with probability
``1 - 2 P(B < l)``; ``l`` is the largest rank that keeps this at least the
confidence asked for. No resampling, no normality: the same interval for the
same samples, every time. With fewer than 6 rounds no pair of ranks reaches
95%, and the interval is the whole range (its coverage is reported).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95
MIN_SAMPLES = 6  # the fewest whose range covers the median with >= 95% (1 - 2/2**6)


@dataclass(frozen=True)
class Estimate:
    """A median with its confidence interval, from ``n`` samples."""

    value: float
    low: float
    high: float
    n: int
    coverage: float  # the interval's actual confidence (>= the one asked for when n allows)

    def straddles(self, threshold: float) -> bool:
        return self.low <= threshold < self.high


def _below(n: int, k: int) -> float:
    """P(B < k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def median_interval(samples: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """The median of ``samples`` and an order-statistics interval around it."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    n = len(ordered)
    rank = 1  # 1-based rank of the lower bound; the range itself at worst
    while rank + 1 <= (n + 1) // 2 and 1 - 2 * _below(n, rank + 1) >= confidence:
        rank += 1
    return Estimate(value=statistics.median(ordered), low=ordered[rank - 1],
                    high=ordered[n - rank], n=n, coverage=1 - 2 * _below(n, rank))
