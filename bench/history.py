"""Benchmark history: one JSON line per measured case and run, and its HTML page.

``forget-bench --history PATH`` appends, per case of the gated implementation, one
line of ``SCHEMA``: commit, date, versions, device, the case, its ratios and their
intervals. ``forget-bench history PATH --html OUT.html`` draws, per (device,
implementation, workload, strategy, depth), kept/model, peak/model and time/plain
over the commits in the order they first appear in the file (a commit measured
again shows its latest run), and marks each *step change*: between consecutive
commits,

* a memory ratio moved by more than ``MEMORY_STEP_PCT`` percent (memory is
  counted exactly, so any move beyond rounding is real), or
* time/plain moved by more than ``TIME_STEP_PCT`` percent *and* the two 95%
  intervals do not overlap (a move within the noise is not a step);

each step is credited to the later commit, the one that introduced it. The page is
one self-contained file: plots are PNGs inlined as base64, no scripts, no links.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forget_conformance.atomic_write import write_atomically
from forget_conformance.bench.results import Row
from forget_conformance.options import Parser, UsageError, check_outputs

SCHEMA = "forget-bench-history/1"
MEMORY_STEP_PCT = 1.0
TIME_STEP_PCT = 10.0
METRICS = (  # (ratio, label)
    ("retained_vs_model", "kept/model"),
    ("peak_vs_model", "peak/model"),
    ("time_vs_plain", "time/plain"),
)


def git_commit(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd`` (default: here), or ``None`` outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    from forget_conformance.report import versions

    try:
        own = version("forget-conformance")
    except PackageNotFoundError:
        own = None
    return {"forget_conformance": own, **versions()}


def _device_name(device: str) -> str:
    if device.startswith("@cupy"):
        try:
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            return props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        except Exception:  # noqa: BLE001 - a name is a nicety
            return device
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def record(row: Row, commit: str, date: str, versions: dict) -> dict[str, Any]:
    """One history line for ``row``."""
    return {
        "schema": SCHEMA, "commit": commit, "date": date, "versions": versions,
        "device": row.device, "device_name": _device_name(row.device), "impl": row.impl,
        "workload": row.workload, "strategy": row.strategy, "depth": row.depth,
        "error": row.error, "ratios": row.ratios, "intervals": row.intervals,
        "rounds": len(row.time_samples),
        "bytes": {"retained": row.retained, "peak": row.peak,
                  "predicted_retained": row.predicted_retained,
                  "predicted_peak": row.predicted_peak},
    }


def append(path: str | Path, rows: list[Row], commit: str, date: str | None = None) -> None:
    """Append one line per row to the history at ``path`` (created if missing)."""
    date = date or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    versions = _versions()
    text = "".join(json.dumps(record(r, commit, date, versions), allow_nan=False) + "\n"
                   for r in rows)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:  # one write: lines are never interleaved
        out.write(text)


def load(path: str | Path) -> list[dict[str, Any]]:
    """The history's records; ``UsageError`` for a missing file or a foreign line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read history {str(path)!r}: {exc.strerror}") from None
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{n}: not JSON") from None
        if not isinstance(item, dict) or item.get("schema") != SCHEMA:
            raise UsageError(f"{path}:{n}: not a {SCHEMA} line")
        records.append(item)
    return records


@dataclass(frozen=True)
class Point:
    commit: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Step:
    series: tuple
    metric: str
    before: Point
    after: Point

    @property
    def change_pct(self) -> float:
        return 100 * (self.after.value - self.before.value) / self.before.value


def series(records: list[dict[str, Any]]) -> tuple[list[str], dict[tuple, dict[str, list[Point]]]]:
    """Commits in first-seen order, and per series key (device, impl, workload,
    strategy, depth) per metric its points in that order (a commit's latest run)."""
    commits = list(dict.fromkeys(r["commit"] for r in records))
    latest: dict[tuple, dict[str, dict]] = {}
    for r in records:
        if r.get("error") is None:
            key = (r["device"], r["impl"], r["workload"], r["strategy"], r["depth"])
            latest.setdefault(key, {})[r["commit"]] = r
    out: dict[tuple, dict[str, list[Point]]] = {}
    for key, by_commit in latest.items():
        out[key] = {}
        for metric, _ in METRICS:
            points = []
            for commit in commits:
                found = by_commit.get(commit)
                if found is None or metric not in found["ratios"]:
                    continue
                value = found["ratios"][metric]
                low, high = found.get("intervals", {}).get(metric, (value, value))
                points.append(Point(commit, value, low, high))
            out[key][metric] = points
    return commits, out


def steps(key: tuple, metric: str, points: list[Point]) -> list[Step]:
    """The step changes of one series (the rule in the module's docstring)."""
    found = []
    for a, b in zip(points, points[1:], strict=False):
        if a.value <= 0:
            continue
        moved = abs(b.value - a.value) / a.value * 100
        if metric == "time_vs_plain":
            real = moved > TIME_STEP_PCT and (b.low > a.high or b.high < a.low)
        else:
            real = moved > MEMORY_STEP_PCT
        if real:
            found.append(Step(key, metric, a, b))
    return found


def _short(commit: str) -> str:
    return commit[:10]


def _plot(key: tuple, by_metric: dict[str, list[Point]], commits: list[str],
          marked: list[Step]) -> str:
    """One PNG (base64) with a panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    position = {c: n for n, c in enumerate(commits)}
    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3.2), squeeze=False)
    for ax, (metric, label) in zip(axes[0], METRICS, strict=True):
        points = by_metric.get(metric, [])
        xs = [position[p.commit] for p in points]
        ys = [p.value for p in points]
        errors = [[p.value - p.low for p in points], [p.high - p.value for p in points]]
        ax.errorbar(xs, ys, yerr=errors, fmt="o-", capsize=3, color="C0")
        for step in marked:
            if step.metric == metric:
                x = position[step.after.commit]
                ax.axvline(x - 0.5, color="C3", linestyle="--")
                ax.annotate(f"{_short(step.after.commit)} {step.change_pct:+.0f}%",
                            (x - 0.5, max(ys)), color="C3", fontsize=7, rotation=90,
                            ha="right", va="top")
        ax.set_title(label)
        ax.set_xticks(range(len(commits)))
        ax.set_xticklabels([_short(c)[:7] for c in commits], rotation=45, fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(_title(key), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _title(key: tuple) -> str:
    device, impl, workload, strategy, depth = key
    return f"{workload} / {strategy} / depth {depth} — {impl} on {device}"


def render(records: list[dict[str, Any]]) -> str:
    """The self-contained HTML page of a history."""
    commits, all_series = series(records)
    e = html.escape
    first: dict[str, dict[str, Any]] = {}
    for r in records:
        first.setdefault(r["commit"], r)
    all_steps = [s for key, by in sorted(all_series.items(), key=str)
                 for metric, _ in METRICS for s in steps(key, metric, by.get(metric, []))]
    labels = dict(METRICS)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>forget-bench history</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;font-size:90%}"
        "img{max-width:100%}.step{color:#b00}</style></head><body>",
        "<h1>forget-bench history</h1>",
        f"<p>{len(commits)} commits, {len(all_series)} series. A step change is a memory "
        f"ratio moving by more than {MEMORY_STEP_PCT:g}%, or time/plain moving by more than "
        f"{TIME_STEP_PCT:g}% with disjoint 95% intervals, between consecutive commits; "
        "it is credited to the later commit.</p>",
        "<h2>Step changes</h2>",
    ]
    if all_steps:
        parts.append("<table><tr><th>commit</th><th>series</th><th>ratio</th>"
                     "<th>before</th><th>after</th><th>change</th></tr>")
        for s in all_steps:
            parts.append(
                f'<tr class="step"><td>{e(_short(s.after.commit))}</td><td>{e(_title(s.series))}'
                f"</td><td>{e(labels[s.metric])}</td><td>{s.before.value:.3f}</td>"
                f"<td>{s.after.value:.3f}</td><td>{s.change_pct:+.1f}%</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>none</p>")
    parts.append("<h2>Series</h2>")
    for key, by_metric in sorted(all_series.items(), key=str):
        marked = [s for s in all_steps if s.series == key]
        parts.append(f"<h3>{e(_title(key))}</h3>")
        parts.append(f'<img alt="{e(_title(key))}" '
                     f'src="data:image/png;base64,{_plot(key, by_metric, commits, marked)}">')
    parts.append("<h2>Commits</h2><table><tr><th>#</th><th>commit</th><th>date</th>"
                 "<th>device</th><th>versions</th></tr>")
    for n, commit in enumerate(commits):
        r = first[commit]
        versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items() if v)
        parts.append(f"<tr><td>{n}</td><td>{e(commit)}</td><td>{e(str(r.get('date')))}</td>"
                     f"<td>{e(str(r.get('device_name', r['device'])))}</td>"
                     f"<td>{e(versions)}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str], prog: str) -> int:
    """``forget-bench history PATH --html OUT.html``."""
    p = Parser(prog=prog, description="Draw a forget-bench --history file as one HTML page.")
    p.add_argument("path", metavar="PATH.jsonl", help="a history written by --history")
    p.add_argument("--html", required=True, metavar="OUT.html", help="the page to write")
    args = p.parse_args(list(argv))
    check_outputs({"--html": args.html})
    records = load(args.path)
    if not records:
        raise UsageError(f"history {args.path!r} has no records")
    Path(args.html).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.html, render(records))
    commits, all_series = series(records)
    print(f"{prog}: {len(commits)} commits, {len(all_series)} series -> {args.html}")
    return 0
