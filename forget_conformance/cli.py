"""``forget-conformance``: a per-clause verdict for a ``forget`` implementation.

Exit codes: 0 when every failure is accepted (a matching known deviation, or with
``--accept-upstream-behaviour`` one upstream 7.8.1 shares), 1 when the implementation
does not conform, 2 on a usage error, 3 when the harness or environment failed (no verdict).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from forget_conformance import catalogue, deviations, impl, profiles, report, runner, upstream


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="forget-conformance",
        description="Check a chainer.functions.forget implementation against its contract.")
    p.add_argument("--impl", default=None,
                   help="MODULE:ATTR, or an alias: " + ", ".join(impl.ALIASES)
                   + f" (default: ${impl.ENV_VAR} or {impl.DEFAULT})")
    p.add_argument("--suite", choices=sorted(runner.SUITES), default="conformance")
    p.add_argument("--device", choices=("cpu", "gpu", "all"), default="all",
                   help="default all: CPU always, GPU when CuPy and CUDA are present "
                        "(skipped with the reason otherwise)")
    p.add_argument("--profile", choices=profiles.NAMES, default="ci")
    p.add_argument("--known-deviations", metavar="FILE",
                   help="clauses expected to fail (path, or a shipped name: "
                   + ", ".join(sorted(x.stem for x in deviations.SHIPPED.glob("*.txt"))) + ")")
    p.add_argument("--level", choices=catalogue.LEVELS, default="contract",
                   help="contract (default): the documented behaviour; drop-in: also upstream "
                        "7.8.1's exact texts, F1 quirk and result types (clause U1)")
    p.add_argument("--accept-upstream-behaviour", action="store_true",
                   help="accept failures that upstream 7.8.1 has too, with the same symptom")
    p.add_argument("--strict-deviations", action="store_true",
                   help="fail on known-deviation entries that match no failure (stale)")
    p.add_argument("--upstream-oracle", action=argparse.BooleanOptionalAction, default=True,
                   help="classify failures by rerunning them on upstream 7.8.1 (default on)")
    p.add_argument("--report-json", metavar="PATH")
    p.add_argument("--junit-xml", metavar="PATH")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per test (default 60)")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (pytest-xdist)")
    p.add_argument("--max-examples", type=int, help="fuzz: hypothesis examples per test")
    p.add_argument("--seed", type=int, help="fuzz: hypothesis seed")
    return p


def _usage(message: str) -> int:
    print(f"forget-conformance: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.path.insert(0, os.getcwd())
    try:
        implementation = impl.resolve(impl.chosen_name(args.impl))
        known = deviations.load(args.known_deviations) if args.known_deviations else []
    except (impl.ImplementationError, deviations.DeviationsError) as exc:
        return _usage(str(exc))
    missing = runner.missing_suites(args.suite)
    if missing:
        return _usage(f"suite {'/'.join(missing)} is not available in this installation yet")
    if args.timeout <= 0 or args.jobs < 1:
        return _usage("--timeout must be positive and --jobs at least 1")
    if args.max_examples is not None and args.max_examples < 1:
        return _usage(f"--max-examples must be at least 1, got {args.max_examples}")
    if args.accept_upstream_behaviour and not args.upstream_oracle:
        return _usage("--accept-upstream-behaviour needs the upstream oracle")
    opts = runner.RunOptions(impl=implementation.target, suite=args.suite, device=args.device,
                             profile=args.profile, timeout=args.timeout, jobs=args.jobs,
                             max_examples=args.max_examples, seed=args.seed, level=args.level)
    print(f"forget-conformance: {implementation.name} ({implementation.target}), "
          f"suite {args.suite}, device {args.device}, profile {args.profile}", file=sys.stderr)
    started = time.monotonic()
    outcome = runner.run(opts)
    if outcome.usage_error:
        print(f"forget-conformance: harness error, not the implementation's fault: the test "
              f"run could not start: {outcome.usage_error}", file=sys.stderr)
        return 3
    suite_clauses = None if args.suite != "fuzz" else {
        c for r in outcome.records for c in r.get("clauses", [])}
    theirs = upstream.rerun(opts, outcome.records) if args.upstream_oracle else None
    results = report.aggregate(outcome.records, known, suite_clauses, theirs,
                               args.accept_upstream_behaviour)
    stale = report.stale(known, results, outcome.records)
    meta = report.meta(opts, implementation, args.known_deviations)
    meta["seconds"] = round(time.monotonic() - started, 2)
    meta["crashes"] = outcome.crashes
    meta["accept_upstream_behaviour"] = args.accept_upstream_behaviour
    meta["strict_deviations"] = args.strict_deviations
    meta["upstream_oracle"] = "not run" if theirs is None else "run"
    print(f"\n{implementation.name}: {meta['seconds']} s"
          + (f", {outcome.crashes} crash/hang recoveries" if outcome.crashes else ""))
    print(report.table(results, stale))
    if results and all(r.status == "skip" for r in results):
        print("forget-conformance: warning: every clause was skipped; nothing was checked",
              file=sys.stderr)
    if args.report_json:
        report.write_atomically(args.report_json, report.to_json(results, meta, stale))
    if args.junit_xml:
        report.write_atomically(args.junit_xml, report.to_junit(results, meta))
    code = report.exit_code(results, stale if args.strict_deviations else None)
    failing = ", ".join(r.id for r in results if r.status == "fail")
    if code == 1 and failing:
        print(f"does not conform{' beyond its known deviations' if known else ''}: {failing}")
    elif code == 1:
        print("stale known deviations (--strict-deviations): "
              + ", ".join(e.label() for e in stale))
    elif code == 3:
        print("no verdict: harness error, not the implementation's fault: "
              + ", ".join(r.id for r in results if r.status == "error"))
    return code


if __name__ == "__main__":
    sys.exit(main())
