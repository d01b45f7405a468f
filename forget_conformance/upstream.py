"""The three-way oracle: the failing tests of a run, run again on upstream Chainer 7.8.1.

Only failing tests are rerun, plus the passing tests that the shipped upstream
deviations file names (to tell where an implementation fixes upstream), so the extra
cost follows the failures. ``verdicts.classify`` compares the two runs per test.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time

from forget_conformance import deviations, impl, supervisor, symptoms, verdicts
from forget_conformance.records import PhaseReport, Record

TARGET = impl.ALIASES["chainer"]
SHIPPED = "chainer-7.8.1"


def to_rerun(records: list[Record]) -> list[str]:
    """Node ids worth running on upstream: failures (not harness errors), and passes of
    tests that upstream is known to fail."""
    known = deviations.load(SHIPPED)
    picked = []
    for nodeid, outcome in verdicts.final_outcomes(records).items():
        if outcome["status"] == "failed":
            if verdicts.symptom(outcome) not in symptoms.NO_VERDICT:
                picked.append(nodeid)
        elif outcome["status"] == "passed" and any(
                e.names(outcome["clauses"], nodeid.split("::")[-1]) for e in known):
            picked.append(nodeid)
    return picked


def rerun(opts: supervisor.RunOptions, records: list[Record]
          ) -> dict[str, PhaseReport] | None:
    """Node id -> final record of the same test on upstream; None if upstream could not run."""
    if opts.impl == TARGET:
        return verdicts.final_outcomes(records)
    picked = to_rerun(records)
    if not picked:
        return {}
    print(f"forget-conformance: classifying {len(picked)} check(s) on upstream 7.8.1 "
          f"({TARGET}) ...", end="", file=sys.stderr, flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="forget-upstream-") as scratch:
        # Upstream's own fuzz reproducers are of no use to the user: kept out of their folder.
        # Nor into their regression corpus, which the rerun replays but must not grow.
        env = dict(opts.extra_env, FORGET_FUZZ_FAILURES=scratch, FORGET_FUZZ_CORPUS_WRITE="0")
        result = supervisor.run(dataclasses.replace(opts, impl=TARGET, select=picked, jobs=1,
                                                    extra_env=env, progress=False,
                                                    clauses=None, keyword=None))
    print(f" done in {time.monotonic() - started:.1f} s"
          + (f" (upstream could not run: {result.usage_error})" if result.usage_error else ""),
          file=sys.stderr)
    if result.usage_error:
        return None
    return verdicts.final_outcomes(result.records)
