"""Runs a suite under pytest in a child process that a crash or a hang cannot take down.

The child appends one JSON line per test event to a results file (see
``plugin``), and long fuzz tests a progress record every few seconds. If it dies, or
goes silent past the per-test limit, the test it was in (the first started of those
unfinished) is recorded as failed with the reason, charged to that test's own clause,
and a new child resumes after it (running again the tests killed alongside it).
After ``max_restarts`` such restarts the runner gives up: the tests not yet run
are recorded as errors. The child runs in its own process group, which is
killed whatever way ``run`` ends (an interrupt included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from forget_conformance import suites, symptoms
from forget_conformance.interrupts import stop_group
from forget_conformance.records import PhaseReport, Record, Started, phase_report
from forget_conformance.records import read as read_records

MAX_RESTARTS = 25

#: The child's ``python -c``: pytest, without the current directory that ``-c`` (like ``-m``)
#: puts first on ``sys.path``, so that a checkout's ``forget_conformance/`` folder cannot
#: shadow the installed harness (xdist workers copy this path). The plug-in makes the
#: current directory importable for ``MODULE:ATTR`` once the harness is imported
#: (``impl.importable``).
CHILD_BOOT = ("import sys; sys.path[:1] = [] if sys.path[:1] == [''] else sys.path[:1]; "
              "import pytest; sys.exit(pytest.console_main())")


@dataclass
class RunOptions:
    impl: str
    suite: str = "conformance"
    device: str = "all"
    profile: str = "ci"
    timeout: float = 60.0
    jobs: int = 1
    max_examples: int | None = None
    seed: int | None = None
    level: str = "contract"
    select: list[str] | None = None  # full node ids: run only these (the upstream oracle's rerun)
    clauses: list[str] | None = None  # run only the tests of these clauses (--clause)
    keyword: str | None = None  # pytest's -k
    max_restarts: int = MAX_RESTARTS
    fail_fast: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    impl_name: str | None = None  # as the user named it (an alias, or MODULE:ATTR)
    progress: bool = True  # pytest's progress on stderr (off: the upstream oracle's rerun)
    # Fuzz campaigns (``campaign``): seconds without a new record before the child counts
    # as hung (default: timeout + 15), and an event that stops the run when set.
    silence_limit: float | None = None
    stop: threading.Event | None = None


@dataclass
class RunResult:
    records: list[Record]
    crashes: int
    usage_error: str | None = None
    gave_up: bool = False


def _command(opts: RunOptions, results: Path, deselect: list[str]) -> list[str]:
    paths = suites.paths(opts.suite)
    root = os.path.commonpath(paths)
    targets = map(str, paths) if opts.select is None else map(suites.locate, opts.select)
    cmd = [sys.executable, "-c", CHILD_BOOT, *targets, "--rootdir", root,
           "-c", str(Path(__file__).with_name("suite.ini")),
           "-q", "--no-header", "--tb=no", "-rN", "-p", "no:cacheprovider",
           "-p", "no:benchmark",  # pytest-benchmark would create ./.benchmarks
           "--forget-impl", opts.impl, "--forget-device", opts.device,
           "--forget-profile", opts.profile, "--forget-level", opts.level,
           "--forget-results", str(results),
           "--timeout", str(opts.timeout), "--timeout-method", "signal"]
    if opts.jobs > 1:
        cmd += ["-n", str(opts.jobs)]
    if opts.fail_fast:
        cmd.append("-x")
    for clause in opts.clauses or ():
        cmd += ["--forget-clause", clause]
    if opts.keyword:
        cmd += ["-k", opts.keyword]
    for nodeid in deselect:
        cmd += ["--deselect", nodeid]
    return cmd


def _env(opts: RunOptions) -> dict[str, str]:
    env = dict(os.environ, **opts.extra_env)
    env.pop("FORGET_IMPL", None)
    if opts.max_examples is not None:
        env["FORGET_FUZZ_MAX_EXAMPLES"] = str(opts.max_examples)
    if opts.seed is not None:
        env["FORGET_FUZZ_SEED"] = str(opts.seed)
    env["FORGET_EXAMPLE_TIMEOUT"] = str(opts.timeout)  # per fuzz example
    return env


def _unfinished(records: list[Record]) -> list[Started]:
    """Tests that started but never reported their call or teardown phase."""
    done = {r["nodeid"] for r in records
            if r["event"] == "report" and r["when"] in ("call", "teardown")}
    done |= {r["nodeid"] for r in records
             if r["event"] == "report" and r["status"] in ("failed", "skipped", "xfail")}
    return [r for r in records if r["event"] == "start" and r["nodeid"] not in done]


def charge(unfinished: list[Started], reason: str, symptom: str) -> list[PhaseReport]:
    """The failure records of tests that hung or crashed: each charged to its test's own
    clause (its first), its other clauses left unchecked, as a test that stops at its first
    violation."""
    return [phase_report(start["nodeid"], "failed", start["clauses"], reason, symptom=symptom,
                         violated=start["clauses"][0] if start["clauses"] else None)
            for start in unfinished]


def _watch(proc: subprocess.Popen, results: Path, silence_limit: float,
           stop: threading.Event | None = None) -> str | None:
    """Wait for the child; kill it if the results file stays unchanged too long (a test
    appends its start and end, and long tests progress records, see ``records.progress``),
    or as soon as ``stop`` is set."""
    last_size, last_change = -1, time.monotonic()
    while proc.poll() is None and not (stop is not None and stop.is_set()):
        size = results.stat().st_size if results.exists() else 0
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        elif time.monotonic() - last_change > silence_limit:
            stop_group(proc, grace=0)
            return f"no progress for {silence_limit:.0f} s: the run was killed"
        time.sleep(0.2)
    return None


def _not_run(records: list[Record], crashes: int) -> list[PhaseReport]:
    """Error records for the collected tests that never started (skip records for those
    that were to be skipped anyway, e.g. drop-in checks at ``--level contract``)."""
    started = {r["nodeid"] for r in records if r["event"] == "start"}
    collected = {r["nodeid"]: r for r in records if r["event"] == "collected"}
    return [phase_report(nodeid, "skipped" if r.get("skip") else "error", r["clauses"],
                         r.get("skip") or f"not run, gave up after {crashes} crashes",
                         symptom=None if r.get("skip") else symptoms.NOT_RUN)
            for nodeid, r in collected.items() if nodeid not in started]


def run(opts: RunOptions) -> RunResult:
    """Run the suite to the end, surviving crashes and hangs of the implementation.
    The records' node ids are full ones (``suites.full_id``)."""
    result = _run(opts)
    root = os.path.commonpath(suites.paths(opts.suite))
    result.records = [dict(r, nodeid=suites.full_id(r["nodeid"], root))  # type: ignore[misc]
                      for r in result.records]
    return result


def _run(opts: RunOptions) -> RunResult:
    records: list[Record] = []
    crashes = 0
    with tempfile.TemporaryDirectory(prefix="forget-conformance-") as tmp:
        for attempt in range(opts.max_restarts + 1):
            results = Path(tmp) / f"results-{attempt}.jsonl"
            started = [r["nodeid"] for r in records if r["event"] == "start"]
            errors = Path(tmp) / f"stderr-{attempt}.txt"
            with errors.open("w", encoding="utf-8") as err:
                proc = subprocess.Popen(_command(opts, results, started), env=_env(opts),
                                        stdout=sys.stderr if opts.progress else
                                        subprocess.DEVNULL, stderr=err, text=True,
                                        start_new_session=True)
                try:
                    hung = _watch(proc, results, opts.silence_limit or opts.timeout + 15,
                                  opts.stop)
                finally:
                    stop_group(proc)
            if opts.stop is not None and opts.stop.is_set():
                return RunResult(records + read_records(results), crashes)
            stderr = errors.read_text(encoding="utf-8", errors="replace")
            new = read_records(results)
            records += new
            code = proc.returncode
            if code == 4 or (code == 2 and not new) or code == 3 and not new:
                last = stderr.strip().splitlines()[-1:] or [f"pytest exited {code}"]
                return RunResult(records, crashes, usage_error=last[0])
            unfinished = _unfinished(records)
            if not unfinished and code in (0, 1, 5) and hung is None:
                break
            crashes += 1
            reason = hung or _death(code, stderr)
            culprit, bystanders = unfinished[:1], unfinished[1:]
            records.extend(charge(culprit, reason, "hang" if hung else "crash"))
            # tests killed alongside it (other workers) did nothing wrong: run them again
            records = [r for r in records if r not in bystanders]
            if not unfinished or opts.fail_fast:
                break
        else:
            return RunResult([*records, *_not_run(records, crashes)], crashes, gave_up=True)
    return RunResult(records, crashes)


def _death(code: int, stderr: str) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the implementation crashed the test process ({name})"
    tail = stderr.strip().splitlines()[-1:] or [""]
    return f"the test process exited with code {code} mid-test {tail[0][:200]}".strip()
