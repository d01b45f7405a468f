"""``forget-conformance``: a per-clause verdict for a ``forget`` implementation.

Exit codes: 0 when every failing clause is a declared known deviation, 1 when
the implementation does not conform, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from forget_conformance import deviations, impl, profiles, report, runner


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
    p.add_argument("--report-json", metavar="PATH")
    p.add_argument("--junit-xml", metavar="PATH")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per test (default 60)")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (pytest-xdist)")
    p.add_argument("--max-examples", type=int, help="fuzz: hypothesis examples per test")
    p.add_argument("--seed", type=int, help="fuzz: hypothesis seed")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first failing test (the verdict covers what ran)")
    return p


def _usage(message: str) -> int:
    print(f"forget-conformance: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.path.insert(0, os.getcwd())
    try:
        implementation = impl.resolve(impl.chosen_name(args.impl))
        known = deviations.load(args.known_deviations) if args.known_deviations else {}
    except (impl.ImplementationError, deviations.DeviationsError) as exc:
        return _usage(str(exc))
    missing = runner.missing_suites(args.suite)
    if missing:
        return _usage(f"suite {'/'.join(missing)} is not available in this installation yet")
    if args.timeout <= 0 or args.jobs < 1:
        return _usage("--timeout must be positive and --jobs at least 1")
    opts = runner.RunOptions(impl=implementation.target, suite=args.suite, device=args.device,
                             profile=args.profile, timeout=args.timeout, jobs=args.jobs,
                             max_examples=args.max_examples, seed=args.seed,
                             fail_fast=args.fail_fast)
    print(f"forget-conformance: {implementation.name} ({implementation.target}), "
          f"suite {args.suite}, device {args.device}, profile {args.profile}", file=sys.stderr)
    started = time.monotonic()
    outcome = runner.run(opts)
    if outcome.usage_error:
        return _usage(f"the test run could not start: {outcome.usage_error}")
    suite_clauses = None if args.suite != "fuzz" else {
        c for r in outcome.records for c in r.get("clauses", [])}
    results = report.aggregate(outcome.records, known, suite_clauses)
    meta = report.meta(opts, implementation, args.known_deviations)
    meta["seconds"] = round(time.monotonic() - started, 2)
    meta["crashes"] = outcome.crashes
    print(f"\n{implementation.name}: {meta['seconds']} s"
          + (f", {outcome.crashes} crash/hang recoveries" if outcome.crashes else ""))
    print(report.table(results))
    if results and all(r.status == "skip" for r in results):
        print("forget-conformance: warning: every clause was skipped; nothing was checked",
              file=sys.stderr)
    if args.report_json:
        report.write_atomically(args.report_json, report.to_json(results, meta))
    if args.junit_xml:
        report.write_atomically(args.junit_xml, report.to_junit(results, meta))
    code = report.exit_code(results)
    if code and not known:
        failing = [r.id for r in results if r.status == "fail"]
        print(f"does not conform: {', '.join(failing)}")
    elif code:
        print("does not conform beyond its known deviations: "
              + ", ".join(r.id for r in results if r.status == "fail"))
    return code


if __name__ == "__main__":
    sys.exit(main())
