"""The JSON report (written whole or not at all) and the console table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from forget_conformance.atomic_write import write_atomically
from forget_conformance.bench.results import Row

SCHEMA = "forget-bench/2"  # /2: time ratios are medians of paired rounds, with intervals
SHIPPED = Path(__file__).parent / "baselines"


class ReportError(Exception):
    """A report or baseline file cannot be read (a usage error, exit code 2)."""


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    """Write ``report`` to ``path`` whole or not at all (the harness's atomic writer)."""
    write_atomically(path, json.dumps(report, indent=1, allow_nan=False) + "\n")


def build_report(gated_impl: str, rows: list[Row], extra: dict[str, Any]) -> dict[str, Any]:
    """The report's JSON-able form: which implementation is gated, settings, rows."""
    return {
        "schema": SCHEMA,
        "gated_impl": gated_impl,
        **extra,
        "rows": [row.to_dict() for row in rows],
    }


def shipped_baselines() -> list[str]:
    """The names of the baselines installed with the package."""
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


def locate(name: str | Path) -> Path:
    """A baseline path as given, or the shipped baseline with that name
    (``reference-cpu``: ``bench/baselines/reference-cpu.json`` of the installed package)."""
    path = Path(name)
    if path.is_file() or path.suffix == ".json" or len(path.parts) > 1:
        return path
    shipped = SHIPPED / f"{name}.json"
    if shipped.is_file():
        return shipped
    raise ReportError(f"baseline {str(name)!r} not found (shipped: "
                      f"{', '.join(shipped_baselines()) or 'none'})")


def implausible_rows(rows: list[Row]) -> list[str]:
    """One line per row whose figures cannot be true (:meth:`Row.implausible`)."""
    return [f"{r.impl} {r.workload}/{r.strategy}/depth {r.depth} on {r.device}: {why}"
            for r in rows if (why := r.implausible())]


def read_report(path: str | Path) -> tuple[str, list[Row]]:
    """The gated implementation and rows of a report (a path, or a shipped baseline's
    name); :class:`ReportError` if unusable or implausible."""
    path = locate(path)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read baseline {str(path)!r}: {exc}") from None
    if isinstance(data, dict) and data.get("schema") == "forget-bench/1":
        raise ReportError(f"baseline {str(path)!r} was written by an older forget-bench "
                          "(forget-bench/1: time ratios without intervals); write it again")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ReportError(f"baseline {str(path)!r} is not a {SCHEMA} report")
    try:
        rows = [Row.from_dict(item) for item in data["rows"]]
        impl = str(data["gated_impl"])
    except (KeyError, TypeError) as exc:
        raise ReportError(f"baseline {str(path)!r} is malformed: {exc}") from None
    for row in rows:
        ratios = row.ratios if isinstance(row.ratios, dict) else {"ratios": row.ratios}
        bad = {k: v for k, v in ratios.items() if not _is_number(v)}
        if bad:
            raise ReportError(f"baseline {str(path)!r}: {row.workload}/{row.strategy}/depth "
                              f"{row.depth} has non-numeric ratios {bad}")
    wrong = implausible_rows(rows)
    if wrong:
        raise ReportError(f"baseline {str(path)!r} is implausible ({len(wrong)} rows): "
                          f"{wrong[0]}")
    return impl, rows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def _kib(n: int) -> str:
    return f"{n / 1024:.0f}"


COLUMNS = (
    "impl", "device", "workload", "strategy", "depth", "kept KiB", "model", "peak KiB",
    "model", "kept/plain", "peak/plain", "kept/model", "peak/model", "time/plain [95% CI]",
    "expected",
)


def format_table(rows: list[Row]) -> str:
    """A fixed-width table of the rows (markdown-compatible)."""
    lines: list[tuple[str, ...]] = [COLUMNS]
    for row in rows:
        if row.error is not None:
            lines.append((row.impl, row.device, row.workload, row.strategy, str(row.depth),
                          f"ERROR: {row.error}") + ("",) * (len(COLUMNS) - 6))
            continue
        r = row.ratios
        lines.append((
            row.impl, row.device, row.workload, row.strategy, str(row.depth),
            _kib(row.retained), _kib(row.predicted_retained),
            _kib(row.peak), _kib(row.predicted_peak),
            _fmt(r.get("retained_vs_plain")), _fmt(r.get("peak_vs_plain")),
            _fmt(r.get("retained_vs_model")), _fmt(r.get("peak_vs_model")),
            _fmt_interval(r.get("time_vs_plain"), row.intervals.get("time_vs_plain")),
            _fmt(row.expected_time_ratio if row.strategy != "plain" else None),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    out = []
    for n, line in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _fmt_interval(value: float | None, interval: list[float] | None) -> str:
    if value is None or not interval:
        return _fmt(value)
    return f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"
