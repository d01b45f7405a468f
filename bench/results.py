"""One benchmark row per (implementation, device, workload, strategy, depth), and its ratios."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

PLAIN = "plain"

# Ratios a baseline holds and the gate compares; larger is worse for all of them.
MEMORY_RATIOS = ("retained_vs_plain", "peak_vs_plain", "retained_vs_model", "peak_vs_model")
TIME_RATIOS = ("time_vs_plain",)


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
        if self.strategy != PLAIN:
            total = self.forward_s + self.backward_s
            ratios["retained_vs_plain"] = _ratio(self.retained, self.plain_retained)
            ratios["peak_vs_plain"] = _ratio(self.peak, self.plain_peak)
            if self.plain_total_s > 0:
                ratios["time_vs_plain"] = total / self.plain_total_s
                ratios["time_vs_expected"] = ratios["time_vs_plain"] / self.expected_time_ratio
        self.ratios = {k: round(v, 4) for k, v in ratios.items()}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        return cls(**data)


def _ratio(measured: float, predicted: float) -> float:
    if predicted == 0:
        return 1.0 if measured == 0 else float("inf")
    return measured / predicted
