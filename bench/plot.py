"""Memory vs depth per strategy, measured (markers) and predicted (dashed lines), as PNG."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from forget_conformance.bench.results import PLAIN, Row


def plot_depth_sweep(rows: list[Row], path: str | Path, impl: str, device: str) -> int:
    """Plot ``impl``'s rows on ``device`` for every workload swept over depth.

    One panel per (workload, quantity) with quantity in {kept after forward, peak};
    the plain path (no ``forget``) is drawn beside the strategies.
    Returns the number of panels drawn (0: nothing to plot, no file written).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.impl in (impl, f"({PLAIN})") and row.device == device and row.error is None:
            series[row.workload][row.strategy].append(row)
    workloads = [
        w for w, by in series.items() if len({r.depth for s in by.values() for r in s}) > 1
    ]
    if not workloads:
        return 0
    fig, axes = plt.subplots(
        len(workloads), 2, figsize=(11, 3.6 * len(workloads)), squeeze=False
    )
    for axes_row, workload in zip(axes, workloads, strict=False):
        for ax, (measured, predicted, label) in zip(axes_row, (
            ("retained", "predicted_retained", "kept after forward"),
            ("peak", "predicted_peak", "peak over forward + backward"),
        ), strict=False):
            for n, (strategy, items) in enumerate(sorted(series[workload].items())):
                items = sorted(items, key=lambda r: r.depth)
                depths = [r.depth for r in items]
                color = f"C{n}"
                ax.plot(depths, [getattr(r, measured) / 2**20 for r in items], "o",
                        color=color, label=f"{strategy} measured")
                ax.plot(depths, [getattr(r, predicted) / 2**20 for r in items], "--",
                        color=color, label=f"{strategy} predicted")
            ax.set_title(f"{workload}: {label}")
            ax.set_xlabel("depth (layers)")
            ax.set_ylabel("MiB")
            ax.grid(alpha=0.3)
        axes_row[0].legend(fontsize=7)
    fig.suptitle(f"forget-bench: {impl} on {device}; markers measured, dashed lines the model")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return len(workloads) * 2
