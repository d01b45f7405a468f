"""``forget-conformance``: a per-clause verdict for a ``forget`` implementation.

Exit codes: 0 when every failure is accepted (a matching known deviation, or with
``--accept-upstream-behaviour`` one upstream 7.8.1 shares), 1 when the implementation
does not conform, 2 on a usage error (nothing ran), 3 when clauses could not be checked
(harness or environment errors, or every clause skipped: no verdict), 130 / 143 when
interrupted by SIGINT / SIGTERM (no report is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from forget_conformance import (
    __version__,
    campaign,
    catalogue,
    databases,
    deviations,
    devices,
    impl,
    outputs,
    profiles,
    report,
    suites,
    supervisor,
    upstream,
    verdicts,
)
from forget_conformance.atomic_write import write_atomically
from forget_conformance.options import (
    Parser,
    UsageError,
    at_least_one,
    check_outputs,
    guarded,
    non_negative_int,
    positive_float,
    probe_implementation,
)

PROG = "forget-conformance"
CORPUS_ENV = "FORGET_FUZZ_CORPUS"  # fuzz.corpus.ENV_CORPUS (the fuzz suite may be absent)


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="forget-conformance",
        description="Check a chainer.functions.forget implementation against its contract.")
    p.add_argument("--impl", default=None,
                   help="MODULE:ATTR, or an alias: " + ", ".join(impl.ALIASES)
                   + f" (default: ${impl.ENV_VAR} or {impl.DEFAULT})")
    p.add_argument("--suite", choices=sorted(suites.CHOICES), default="conformance")
    p.add_argument("--device", choices=devices.CHOICES, default="all",
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
    p.add_argument("--timeout", type=positive_float, default=60.0,
                   help="seconds per test (per example in fuzz tests), and to import the "
                   "implementation (default 60)")
    p.add_argument("--jobs", type=at_least_one, default=1, help="parallel workers (pytest-xdist)")
    p.add_argument("--max-restarts", type=non_negative_int, default=supervisor.MAX_RESTARTS,
                   help="child processes restarted after crashes or hangs before giving up "
                        "(default %(default)s)")
    p.add_argument("--max-examples", type=at_least_one,
                   help="fuzz: hypothesis examples per test (a campaign: per chunk)")
    p.add_argument("--seed", type=int, help="fuzz: hypothesis seed")
    p.add_argument("--output-dir", metavar="DIR",
                   help="where runs write: example database, fuzz reproducers, hypothesis' "
                        "storage (default: " + str(outputs.default_dir()).replace(
                            os.path.expanduser("~"), "~", 1) + "; never the current directory)")
    p.add_argument("--database", metavar="SPEC",
                   help="fuzz: hypothesis example database, a folder or redis://HOST:PORT/DB "
                        "(default $FORGET_FUZZ_DATABASE, else DIR/examples); see docs/fuzzing.md")
    p.add_argument("--duration", type=campaign.parse_duration, metavar="TIME",
                   help="fuzz campaign: run the fuzz suite until TIME is up (seconds, or e.g. "
                        "30m, 2h), in chunks with fresh seeds; see docs/fuzzing.md")
    p.add_argument("--workers", type=at_least_one, default=1,
                   help="fuzz campaign: worker processes (default 1)")
    p.add_argument("--shard", type=campaign.parse_shard, metavar="I/N",
                   help="fuzz: this job is shard I of N (1-based): seeds disjoint from the "
                        "other shards', derived from I, N and --seed")
    p.add_argument("--corpus", metavar="DIR",
                   help="fuzz: regression corpus (a folder in your repository): its examples "
                        "are replayed first, in every profile; new failures are added to it")
    p.add_argument("--fail-fast", action="store_true",
                   help="stop at the first failing test (the verdict covers what ran)")
    p.add_argument("--clause", action="append", metavar="ID", type=_clause_id,
                   help="run only the tests of this clause and report only it (repeatable)")
    p.add_argument("-k", dest="keyword", metavar="EXPR",
                   help="run only the tests matching this pytest -k expression")
    p.add_argument("--list-clauses", action="store_true",
                   help="list the clauses (id, level, kind, title) and exit")
    p.add_argument("--version", action="version",
                   version=f"%(prog)s {__version__} (Chainer 7.8.1's forget contract)")
    return p


def _clause_id(text: str) -> str:
    clause_id = text.strip().upper()
    if clause_id not in catalogue.BY_ID:
        raise argparse.ArgumentTypeError(
            f"unknown clause {text!r} (known: {', '.join(catalogue.BY_ID)})")
    return clause_id


def list_clauses() -> str:
    """One line per clause: id, level, whether it is informational, title."""
    return "\n".join(f"{c.id:<5}{c.level:<10}{'informational' if c.informational else 'judged':<15}"
                     f"{c.title}" for c in catalogue.CLAUSES)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_clauses:
        print(list_clauses())
        return 0
    impl.importable([os.getcwd()])
    return guarded(PROG, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    check_outputs({"--report-json": args.report_json, "--junit-xml": args.junit_xml})
    try:
        known = deviations.load(args.known_deviations) if args.known_deviations else []
    except deviations.DeviationsError as exc:
        raise UsageError(str(exc)) from None
    missing = suites.missing(args.suite)
    if missing:
        raise UsageError(f"suite {'/'.join(missing)} is not available in this installation yet")
    if args.accept_upstream_behaviour and not args.upstream_oracle:
        raise UsageError("--accept-upstream-behaviour needs the upstream oracle")
    output_dir = _outputs(args)
    name = impl.chosen_name(args.impl)
    target = probe_implementation(name, args.timeout)
    implementation = impl.resolve(name)  # safe now: the import ended well in a child
    opts = supervisor.RunOptions(impl=target, suite=args.suite, device=args.device,
                             profile=args.profile, timeout=args.timeout, jobs=args.jobs,
                             max_examples=args.max_examples, seed=_seed(args),
                             max_restarts=args.max_restarts, level=args.level,
                             fail_fast=args.fail_fast, impl_name=name,
                             clauses=args.clause, keyword=args.keyword,
                             extra_env=_child_env(args, output_dir))
    print(f"{PROG}: {name} ({target}), "
          f"suite {args.suite}, device {args.device}, profile {args.profile}", file=sys.stderr)
    started = time.monotonic()
    outcome = _execute(args, opts)
    if outcome.usage_error:
        print(f"{PROG}: harness error, not the implementation's fault: the test run could "
              f"not start: {outcome.usage_error}", file=sys.stderr)
        return 3
    suite_clauses = None if args.suite != "fuzz" else {
        c for r in outcome.records for c in r.get("clauses", [])}
    theirs = upstream.rerun(opts, outcome.records) if args.upstream_oracle else None
    results = verdicts.aggregate(outcome.records, known, suite_clauses, theirs,
                               args.accept_upstream_behaviour)
    if args.clause:
        results = [r for r in results if r.id in args.clause]
    report.add_reruns(results, opts)
    stale = verdicts.stale(known, results, outcome.records)
    meta = report.meta(opts, implementation, args.known_deviations)
    meta["seconds"] = round(time.monotonic() - started, 2)
    meta["crashes"] = outcome.crashes
    meta["gave_up"] = outcome.gave_up
    meta["accept_upstream_behaviour"] = args.accept_upstream_behaviour
    meta["strict_deviations"] = args.strict_deviations
    meta["upstream_oracle"] = "not run" if theirs is None else "run"
    meta["output_dir"] = str(output_dir)
    meta["campaign"] = getattr(outcome, "summary", None)
    print(f"\n{name}: {meta['seconds']} s"
          + (f", {outcome.crashes} crash/hang recoveries" if outcome.crashes else ""))
    print(report.table(results, stale))
    if meta["campaign"] is not None:
        print(report.campaign_lines(meta["campaign"]))
    if outcome.gave_up:
        not_run = sum(r["status"] == "error" for r in outcome.records if r["event"] == "report")
        print(f"{PROG}: gave up after {outcome.crashes} crashes; {not_run} tests not run",
              file=sys.stderr)
    if verdicts.nothing_checked(results):
        print(f"{PROG}: nothing was checked: every clause was skipped", file=sys.stderr)
    if args.report_json:
        write_atomically(args.report_json, report.to_json(results, meta, stale))
    if args.junit_xml:
        write_atomically(args.junit_xml, report.to_junit(results, meta))
    code = verdicts.exit_code(results, stale if args.strict_deviations else None)
    report.github(results, meta, code)
    failing = ", ".join(r.id for r in results if r.status == "fail")
    errors = ", ".join(r.id for r in results if r.status == "error")
    if code == 1 and failing:
        print(f"does not conform{' beyond its known deviations' if known else ''}: {failing}")
    elif code == 1:
        print("stale known deviations (--strict-deviations): "
              + ", ".join(e.label() for e in stale))
    if errors:
        print(f"{PROG}: no verdict on {errors}: harness or environment error, not the "
              "implementation's fault", file=sys.stderr)
    return code


def _outputs(args: argparse.Namespace) -> Path:
    """Check the campaign and output options; the output directory, created."""
    _check_campaign(args)
    output_dir = _output_dir(args.output_dir)
    if args.database:
        try:
            databases.check(args.database)
        except databases.DatabaseError as exc:
            raise UsageError(f"--database: {exc}") from None
    return output_dir


def _execute(args: argparse.Namespace, opts: supervisor.RunOptions
             ) -> supervisor.RunResult | campaign.Outcome:
    """One supervised run, or a campaign (``--duration``)."""
    if args.duration is None:
        return supervisor.run(opts)
    plan = campaign.Plan(args.duration, args.workers, args.shard or (1, 1), args.seed or 0)
    return campaign.run(dataclasses.replace(opts, seed=None), plan,
                        opts.extra_env[outputs.ENV_DATABASE])


def _check_campaign(args: argparse.Namespace) -> None:
    if args.duration is not None and args.suite != "fuzz":
        raise UsageError("--duration runs a fuzz campaign: it needs --suite fuzz")
    if args.workers > 1 and args.duration is None:
        raise UsageError("--workers runs a fuzz campaign: it needs --duration")
    if args.duration is not None and args.jobs > 1:
        raise UsageError("--jobs does not apply to a campaign: use --workers")
    if args.shard is not None and args.suite == "conformance":
        raise UsageError("--shard splits fuzz seeds: it needs --suite fuzz or all")


def _child_env(args: argparse.Namespace, output_dir: Path) -> dict[str, str]:
    env = outputs.child_env(output_dir, args.database)
    if args.corpus:
        env[CORPUS_ENV] = str(Path(args.corpus).expanduser().absolute())
    return env


def _seed(args: argparse.Namespace) -> int | None:
    """``--seed``; for ``--shard I/N``, this shard's own seed derived from it."""
    if args.shard is None:
        return args.seed
    return campaign.chunk_seed(args.seed or 0, campaign.stream(args.shard, 0), 0)


def _output_dir(given: str | None) -> Path:
    """``--output-dir`` (default ``outputs.default_dir()``), absolute and created."""
    path = Path(given).expanduser().absolute() if given else outputs.default_dir()
    if given == "":
        raise UsageError("--output-dir: empty path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise UsageError(f"--output-dir {path}: cannot create files there "
                         f"({exc.strerror})") from None
    return path


if __name__ == "__main__":
    sys.exit(main())
