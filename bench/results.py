"""One benchmark row per (implementation, device, workload, strategy, depth), and its ratios."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from forget_conformance import devices
from forget_conformance.bench.stats import MIN_SAMPLES, median_interval

PLAIN = "plain"

# Ratios a baseline holds and the gate compares; larger is worse for all of them.
MEMORY_RATIOS = ("retained_vs_plain", "peak_vs_plain", "retained_vs_model", "peak_vs_model")
TIME_RATIOS = ("time_vs_plain",)
# Kept bytes below the model's by more than this fraction are impossible: forget must at
# least keep its arguments to recompute (checked on the CPU, where the model is exact).
MODEL_FLOOR_SLACK = 0.005


@dataclass
class Row:
    """Measured and predicted figures for one case; ``error`` set when the run failed."""

    impl: str
    device: str
    workload: str
    strategy: str
    depth: int
    retained: int = 0
    peak: int = 0
    predicted_retained: int = 0
    predicted_peak: int = 0
    plain_retained: int = 0
    plain_peak: int = 0
    forward_s: float = 0.0  # CPU seconds of the fastest interleaved run
    backward_s: float = 0.0
    plain_total_s: float = 0.0  # the same segmented graph with segments called plainly
    expected_time_ratio: float = 1.0
    error: str | None = None
    ratios: dict[str, float] = field(default_factory=dict)
    # per timing round: this row's time over the plain path's in the same round
    time_samples: list[float] = field(default_factory=list)
    # ratio name -> [low, high], the confidence interval of its median (:mod:`.stats`)
    intervals: dict[str, list[float]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.device, self.workload, self.strategy, self.depth)

    def compute_ratios(self) -> None:
        """Fill :attr:`ratios` from the measured and predicted figures."""
        if self.error is not None:
            self.ratios = {}
            return
        ratios = {
            "retained_vs_model": _ratio(self.retained, self.predicted_retained),
            "peak_vs_model": _ratio(self.peak, self.predicted_peak),
        }
        intervals = {}
        if self.strategy != PLAIN:
            ratios["retained_vs_plain"] = _ratio(self.retained, self.plain_retained)
            ratios["peak_vs_plain"] = _ratio(self.peak, self.plain_peak)
            if self.time_samples:
                time = median_interval(self.time_samples)
                ratios["time_vs_plain"] = time.value
                ratios["time_vs_expected"] = time.value / self.expected_time_ratio
                intervals["time_vs_plain"] = [round(time.low, 4), round(time.high, 4)]
        self.ratios = {k: round(v, 4) for k, v in ratios.items()}
        self.intervals = intervals

    def interval(self, name: str) -> tuple[float, float] | None:
        """The confidence interval of ratio ``name``; a point for a measured-exactly
        ratio (memory); ``None`` when the ratio is missing."""
        if name not in self.ratios:
            return None
        low, high = self.intervals.get(name, (self.ratios[name],) * 2)
        return low, high

    def decisive(self, name: str) -> bool:
        """Whether ratio ``name``'s interval is a 95% one: always for memory (counted
        exactly); for time, when at least ``stats.MIN_SAMPLES`` rounds were timed."""
        return name not in TIME_RATIOS or len(self.time_samples) >= MIN_SAMPLES

    def implausible(self) -> str | None:
        """Why this row cannot be a true measurement, if it cannot: forget faster than
        the plain path beyond the interval, or keeping less than the model's floor."""
        if self.error is not None:
            return None
        time = self.interval("time_vs_plain")
        if time is not None and time[1] < 1.0 and self.decisive("time_vs_plain"):
            return (f"time_vs_plain {self.ratios['time_vs_plain']:.3f} "
                    f"[{time[0]:.3f}, {time[1]:.3f}] is below 1: forget faster than the "
                    "plain path beyond noise")
        floor = self.predicted_retained * (1 - MODEL_FLOOR_SLACK)
        if self.device == devices.CPU and self.retained < floor:
            return (f"kept {self.retained} bytes, below the model's floor "
                    f"{self.predicted_retained}")
        return None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        return cls(**data)


def _ratio(measured: float, predicted: float) -> float:
    if predicted == 0:
        return 1.0 if measured == 0 else float("inf")
    return measured / predicted
