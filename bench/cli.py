"""``forget-bench``: memory and time of ``forget`` implementations, side by side.

``forget-bench --impl ...`` measures (and gates with ``--compare``);
``forget-bench history PATH --html OUT.html`` draws a history written by ``--history``.

Exit status: 0 success (an "inconclusive" time comparison included); 1 a gated
ratio regressed past its threshold against ``--compare`` (or an implementation
failed a case the baseline has); 2 usage error (bad implementation, workload,
number or output path; unreadable or implausible baseline; a case the memory
model says cannot fit; figures too implausible to write); 3 no device was usable,
or ``--compare`` compared no case; 130 / 143 interrupted by SIGINT / SIGTERM
(nothing written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from forget_conformance import devices
from forget_conformance.bench import gate, history, measure, report, workloads
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
TIME_RETRIES = 2  # times a case with an inconclusive or regressed time is timed again
SIDE_BY_SIDE = ("reference", "chainer")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0],
               epilog=f"{PROG} history PATH --html OUT.html draws a --history file "
                      "(docs/benchmarking.md).")
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
    p.add_argument("--compare", metavar="BASELINE",
                   help="gate against this report: a path, or a shipped baseline's name "
                        f"({', '.join(report.shipped_baselines())})")
    p.add_argument("--gate", choices=gate.MODES, default=None,
                   help="ratios the gate compares: memory (deterministic), time, or all "
                        "(default: memory when $CI is set, as on CI runners; else all)")
    p.add_argument("--history", metavar="PATH.jsonl",
                   help="append one JSON line per measured case (commit, date, versions, "
                        "device, ratios and intervals); draw with 'forget-bench history'")
    p.add_argument("--commit", metavar="ID",
                   help="the commit --history records (default: git rev-parse HEAD here)")
    p.add_argument("--max-regression", type=non_negative_float, default=gate.DEFAULT_TIME_PCT,
                   metavar="PCT",
                   help="allowed growth of time ratios, in percent (default %(default)s); "
                        "a regression only when the whole 95%% interval is past it")
    p.add_argument("--max-memory-regression", type=non_negative_float,
                   default=gate.DEFAULT_MEMORY_PCT,
                   metavar="PCT",
                   help="allowed growth of memory ratios, in percent (default %(default)s)")
    p.add_argument("--plot", metavar="PATH.png", help="memory vs depth, measured and predicted")
    p.add_argument("--timeout", type=positive_float, default=60.0, metavar="SECONDS",
                   help="time allowed to import the implementation (default %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["history"]:
        return guarded(PROG, lambda: history.main(argv[1:], f"{PROG} history"))
    args = _parser().parse_args(argv)
    if args.gate is None:
        args.gate = default_gate()
    importable([os.getcwd()])  # MODULE:ATTR may name a module here
    return guarded(PROG, lambda: _run(args))


def default_gate() -> str:
    """``memory`` on a CI runner (``$CI`` set, as GitHub Actions, GitLab CI and most
    others do): shared runners make time noisy, memory is exact; ``all`` elsewhere."""
    return "memory" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "all"


def _run(args: argparse.Namespace) -> int:
    check_outputs({"--json": args.json, "--plot": args.plot,
                   "--plot (GPU)": _gpu_plot(args.plot) if args.device != "cpu" else None})
    if args.history:
        check_outputs({"--history": args.history})
        commit: str | None = args.commit or history.git_commit()
        if commit is None:
            raise UsageError("--history: no commit to record (not in a git checkout); "
                             "pass --commit ID")
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
    wrong = report.implausible_rows(rows)
    if wrong and (args.json or args.history):
        raise UsageError(f"not writing {args.json or args.history}: {len(wrong)} implausible "
                         f"rows (noise this large, or a broken meter; rerun): {wrong[0]}")
    if args.history:
        history.append(args.history, [r for r in rows if r.impl == args.impl], str(commit))
    if args.json:
        extra = {"impls": {i.name: i.target for i in impls}, "skipped": skipped,
                 "plan": {"depth": plan.depth, "sweep": list(plan.sweep_depths),
                          "repeats": plan.repeats, "budget_s": plan.budget_s,
                          "workloads": list(plan.workloads)}}
        report.write_json(args.json, report.build_report(args.impl, rows, extra))
    if args.plot:
        for device in {r.device for r in rows}:
            path = str(args.plot if device == devices.CPU else _gpu_plot(args.plot))
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
    """Compare with the baseline. Cases whose time is inconclusive or regressed are
    timed again (up to ``TIME_RETRIES`` times), their new rounds pooled with the
    earlier ones, so the interval narrows before the verdict is final."""
    base_impl, base_rows = baseline
    base_rows = [r for r in base_rows if r.impl in (base_impl, measure.PLAIN_IMPL)]
    gated = [i for i in impls if i.name == args.impl]

    def compare() -> list[gate.Finding]:
        current = [r for r in rows if r.impl in (args.impl, measure.PLAIN_IMPL)]
        return gate.compare(current, base_rows, args.max_regression,
                            args.max_memory_regression, args.gate)

    found = compare()
    for _ in range(TIME_RETRIES):
        unsure = {f.key for f in found if f.ratio in TIME_RATIOS}
        if not unsure:
            break
        print(f"gate: {len(unsure)} case(s) at or over the time threshold; timing them again",
              file=sys.stderr)
        measure.retime(rows, unsure, gated, plan)
        found = compare()
    for finding in found:
        print(gate.describe(finding), file=sys.stderr)
    measured = {r.key for r in rows if r.impl == args.impl}
    baseline_keys = {b.key for b in base_rows if b.impl == base_impl}
    for key in sorted(baseline_keys - measured, key=str):
        device, workload, strategy, depth = key
        print(f"gate: not measured: {workload}/{strategy}/depth {depth} on {device}",
              file=sys.stderr)
    compared = len(baseline_keys & measured)
    failed = gate.regressions(found)
    limits = {"memory": f"memory +{args.max_memory_regression:g}%",
              "time": f"time +{args.max_regression:g}% (whole 95% interval)"}
    shown = [limits[m] for m in ("memory", "time") if args.gate in (m, "all")]
    print(f"gate {args.gate}: {args.impl} vs baseline {base_impl} ({args.compare}): "
          f"{compared} cases, {len(failed)} regressions, {len(found) - len(failed)} "
          f"inconclusive ({', '.join(shown)})", file=sys.stderr)
    if failed:
        return 1
    if not compared:
        print(f"{PROG}: nothing was compared: the baseline has none of the cases measured "
              "(other workloads, depths or devices)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
