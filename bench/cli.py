"""``forget-bench``: memory and time of ``forget`` implementations, side by side.

Exit status: 0 success; 1 a ratio regressed past its threshold against
``--compare`` (or an implementation failed a case the baseline has); 2 usage
error before anything ran (bad implementation, workload, number or output path;
unreadable baseline; a case the memory model says cannot fit); 3 no device was
usable, or ``--compare`` compared no case; 130 / 143 interrupted by SIGINT /
SIGTERM (nothing written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from forget_conformance import devices
from forget_conformance.bench import gate, measure, report, workloads
from forget_conformance.bench.plot import plot_depth_sweep
from forget_conformance.bench.results import TIME_RATIOS
from forget_conformance.impl import importable, resolve
from forget_conformance.meters import meter_for
from forget_conformance.options import (
    Parser,
    UsageError,
    at_least_one,
    check_outputs,
    guarded,
    non_negative_float,
    positive_float,
    probe_implementation,
)

PROG = "forget-bench"
SIDE_BY_SIDE = ("reference", "chainer")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--impl", required=True, help="MODULE:ATTR, or 'reference' / 'chainer'")
    p.add_argument("--device", choices=devices.CHOICES, default="cpu")
    p.add_argument("--workloads", nargs="+", default=list(workloads.WORKLOADS), metavar="NAME",
                   help=f"any of: {', '.join(workloads.WORKLOADS)}")
    p.add_argument("--depth", type=at_least_one, default=16, help="depth of the main table")
    p.add_argument("--sweep", type=at_least_one, nargs="*", default=[4, 8, 16, 32], metavar="DEPTH",
                   help="depths of the sweep (elementwise and mlp); none to skip")
    p.add_argument("--repeats", type=at_least_one, default=measure.Plan.repeats, metavar="N",
                   help="fewest timed rounds per comparison (default %(default)s; more are run "
                        "until --time-budget has passed)")
    p.add_argument("--time-budget", type=positive_float, default=measure.Plan.budget_s,
                   metavar="SECONDS",
                   help="least timing per comparison (default %(default)s)")
    p.add_argument("--only-impl", action="store_true",
                   help="run only --impl, not reference and chainer beside it")
    p.add_argument("--json", metavar="PATH", help="write the full report here (atomically)")
    p.add_argument("--compare", metavar="BASELINE.json", help="gate against this report")
    p.add_argument("--max-regression", type=non_negative_float, default=gate.DEFAULT_TIME_PCT,
                   metavar="PCT",
                   help="allowed growth of time ratios, in percent (default %(default)s)")
    p.add_argument("--max-memory-regression", type=non_negative_float,
                   default=gate.DEFAULT_MEMORY_PCT,
                   metavar="PCT",
                   help="allowed growth of memory ratios, in percent (default %(default)s)")
    p.add_argument("--plot", metavar="PATH.png", help="memory vs depth, measured and predicted")
    p.add_argument("--timeout", type=positive_float, default=60.0, metavar="SECONDS",
                   help="time allowed to import the implementation (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    importable([os.getcwd()])  # MODULE:ATTR may name a module here
    return guarded(PROG, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    check_outputs({"--json": args.json, "--plot": args.plot,
                   "--plot (GPU)": _gpu_plot(args.plot) if args.device != "cpu" else None})
    unknown = [w for w in args.workloads if w not in workloads.WORKLOADS]
    if unknown:
        raise UsageError(
            f"unknown workload {unknown[0]!r} (choose from {', '.join(workloads.WORKLOADS)})")
    try:
        baseline = report.read_report(args.compare) if args.compare else None
    except report.ReportError as exc:
        raise UsageError(str(exc)) from None
    names = [args.impl] if args.only_impl else list(dict.fromkeys((*SIDE_BY_SIDE, args.impl)))
    for name in names:
        probe_implementation(name, args.timeout)
    impls = [resolve(n) for n in names]  # safe now: each import ended well in a child
    plan = measure.Plan(workloads=tuple(args.workloads), depth=args.depth,
                       sweep_depths=tuple(args.sweep), repeats=args.repeats,
                       budget_s=args.time_budget)
    rows, skipped, meters = [], {}, {}
    for device in devices.selected(args.device):
        try:
            meters[device] = meter_for(device)
        except RuntimeError as exc:
            skipped[device] = str(exc)
            print(f"{device}: {exc}", file=sys.stderr)
            continue
        _check_fits(plan, device)
    for meter in meters.values():
        rows += measure.run(plan, impls, meter)
    if not meters:
        print(f"{PROG}: nothing was measured: no selected device is usable", file=sys.stderr)
        return 3

    code = _gate(args, rows, baseline, impls, plan) if baseline is not None else 0
    print(report.format_table([r for r in rows if r.depth == args.depth]))
    if args.json:
        extra = {"impls": {i.name: i.target for i in impls}, "skipped": skipped,
                 "plan": {"depth": plan.depth, "sweep": list(plan.sweep_depths),
                          "repeats": plan.repeats, "budget_s": plan.budget_s,
                          "workloads": list(plan.workloads)}}
        report.write_json(args.json, report.build_report(args.impl, rows, extra))
    if args.plot:
        for device in {r.device for r in rows}:
            path = args.plot if device == devices.CPU else _gpu_plot(args.plot)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if not plot_depth_sweep(rows, path, args.impl, device):
                print("--plot: no workload was swept over depth; nothing plotted",
                      file=sys.stderr)
    return code


def _gpu_plot(path: str | None) -> str | None:
    return None if path is None else path.replace(".png", "-gpu.png")


def _check_fits(plan: measure.Plan, device: str) -> None:
    """Refuse a plan whose largest case the memory model says cannot fit on ``device``."""
    available = measure.available_memory(device)
    refused = measure.too_large(plan, available)
    if refused:
        workload, depth, need = refused
        raise UsageError(f"{workload} at depth {depth} needs about {need / 2**30:.1f} GiB by the "
                         f"memory model; {available / 2**30:.1f} GiB available on {device}")


def _gate(args: argparse.Namespace, rows: list, baseline: tuple[str, list], impls: list,
          plan: measure.Plan) -> int:
    """Compare with the baseline; time regressions are timed again (up to
    ``gate.TIME_RETRIES`` times, each row keeping its best) before they count."""
    base_impl, base_rows = baseline
    base_rows = [r for r in base_rows if r.impl in (base_impl, measure.PLAIN_IMPL)]
    gated = [i for i in impls if i.name == args.impl]

    def compare() -> list[gate.Regression]:
        current = [r for r in rows if r.impl in (args.impl, measure.PLAIN_IMPL)]
        return gate.compare(current, base_rows, args.max_regression, args.max_memory_regression)

    found = compare()
    for _ in range(gate.TIME_RETRIES):
        slow = {f.key for f in found if f.ratio in TIME_RATIOS}
        if not slow:
            break
        print(f"gate: {len(slow)} case(s) over the time threshold; timing them again",
              file=sys.stderr)
        measure.retime(rows, slow, gated, plan)
        found = compare()
    for regression in found:
        print(gate.describe(regression), file=sys.stderr)
    measured = {r.key for r in rows if r.impl == args.impl}
    baseline_keys = {b.key for b in base_rows if b.impl == base_impl}
    for key in sorted(baseline_keys - measured, key=str):
        device, workload, strategy, depth = key
        print(f"gate: not measured: {workload}/{strategy}/depth {depth} on {device}",
              file=sys.stderr)
    compared = len(baseline_keys & measured)
    print(f"gate: {args.impl} vs baseline {base_impl} ({args.compare}): {compared} cases, "
          f"{len(found)} regressions (memory +{args.max_memory_regression:g}%, "
          f"time +{args.max_regression:g}%)", file=sys.stderr)
    if found:
        return 1
    if not compared:
        print(f"{PROG}: nothing was compared: the baseline has none of the cases measured "
              "(other workloads, depths or devices)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
