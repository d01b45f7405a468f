"""The pytest plug-in and the CLI give one meaning to a known-deviations file.

The same broken implementation, the same file and the same tests, run through the plug-in
(``pytest --pyargs forget_conformance.conformance --forget-known-deviations``) and through
the CLI's verdict code (on the records the same run writes, as the CLI's runner reads them;
the slow test runs the CLI itself): every test's verdict, and the stale entries, agree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from forget_conformance import deviations, records, verdicts
from tests.helpers import ROOT, run_cli

IMPL = "tests.broken.variants:scaled_arg_grads"  # every argument gradient 0.1% too large
#: An unrelated D3 entry (upstream's), one that matches, one whose symptom does not, and
#: one about tests that pass (stale).
ENTRIES = """\
D3 test=test_parameters_get_gradients_when_no_argument_requires_grad[*] symptom=gradient-none: \
unrelated to argument gradients
D3 test=test_argument_gradients_match_plain[*-chain] symptom=value-scaled: accepted on purpose
T4 test=test_same_variable_twice[*] symptom=gradient-none: the wrong symptom, so it stands
D3 test=test_parameter_gradients_match_plain[*]: these pass, so the entry is stale
"""
SELECTION = ("test_argument_gradients_match_plain or test_parameters_get_gradients_when or "
             "test_same_variable_twice or test_parameter_gradients_match_plain")
SHORT = re.compile(r"^(PASSED|FAILED|XFAIL|XPASS|SKIPPED|ERROR) (\S+)", re.MULTILINE)
PLUGIN_WORD = {"PASSED": "pass", "FAILED": "fail", "XFAIL": "xfail"}


def run_plugin(deviations_file, *args: str) -> tuple[int, dict[str, str], list[str]]:
    """Exit status, each test's verdict (by node id under the suite) and the stale entries."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "forget_conformance.conformance",
         "--forget-impl", IMPL, "--forget-known-deviations", str(deviations_file),
         "--forget-device", "cpu", "-rA", "-p", "no:cacheprovider", "-p", "no:warnings",
         "--no-header", *args],
        cwd=deviations_file.parent, text=True, capture_output=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    tests = {m[2]: PLUGIN_WORD.get(m[1], m[1]) for m in SHORT.finditer(proc.stdout)}
    stale = re.findall(r"^stale deviation: (.*) \(", proc.stdout, re.MULTILINE)
    assert tests, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.returncode, tests, stale


def cli_verdicts(results, nodeids) -> dict[str, str]:
    """Each test's verdict as the CLI's checks give it: fail if any clause's failure stands,
    xfail if every one was accepted, pass otherwise."""
    checks: dict[str, set[str]] = {}
    for r in results:
        for c in r.checks:
            checks.setdefault(c.test, set()).add(c.status)
    out = {}
    for nodeid in nodeids:
        statuses = checks.get(nodeid, {"pass"})
        out[nodeid] = next(s for s in ("fail", "error", "xfail", "pass") if s in statuses)
    return out


def test_plugin_and_cli_agree_on_every_test_and_stale_entry(tmp_path):
    path = tmp_path / "deviations.txt"
    path.write_text(ENTRIES)
    code, plugin_tests, plugin_stale = run_plugin(path, "-k", SELECTION, "--forget-results",
                                                  str(tmp_path / "results.jsonl"))
    entries = deviations.load(str(path))
    recorded = records.read(tmp_path / "results.jsonl")  # failures as they were, unexcused
    results = verdicts.aggregate(recorded, entries)
    stale = verdicts.stale(entries, results, recorded)
    assert cli_verdicts(results, plugin_tests) == plugin_tests
    assert plugin_stale == [e.label() for e in stale]
    assert (code == pytest.ExitCode.TESTS_FAILED) == (verdicts.exit_code(results) == 1)
    # The file does what it says: an unrelated entry of the same clause excuses nothing.
    words = {t.split("::")[-1]: w for t, w in plugin_tests.items()}
    assert words["test_argument_gradients_match_plain[cpu-chain]"] == "xfail"
    assert words["test_argument_gradients_match_plain[cpu-product]"] == "fail"
    assert words["test_same_variable_twice[cpu]"] == "fail"
    assert plugin_stale == [
        "D3 test=test_parameters_get_gradients_when_no_argument_requires_grad[*] "
        "symptom=gradient-none",
        "T4 test=test_same_variable_twice[*] symptom=gradient-none",
        "D3 test=test_parameter_gradients_match_plain[*]"]


@pytest.mark.slow
def test_plugin_and_cli_agree_on_the_whole_suite(tmp_path):
    """The CLI itself (its report) against the plug-in, over the whole conformance suite."""
    path, report = tmp_path / "deviations.txt", tmp_path / "report.json"
    path.write_text(ENTRIES)
    code, plugin_tests, plugin_stale = run_plugin(path)
    proc = run_cli("--impl", IMPL, "--device", "cpu", "--known-deviations", str(path),
                   "--no-upstream-oracle", "--report-json", str(report))
    doc = json.loads(report.read_text())
    checks: dict[str, set[str]] = {}
    for clause in doc["clauses"]:
        for c in clause["checks"]:
            checks.setdefault(c["test"], set()).add(c["status"])
    ran = {t: w for t, w in plugin_tests.items() if w in ("pass", "fail", "xfail")}
    cli = {t: next(s for s in ("fail", "error", "xfail", "pass") if s in checks.get(t, {"pass"}))
           for t in ran}
    assert cli == ran
    assert plugin_stale == [s["entry"] for s in doc["stale_deviations"]]
    assert (code == pytest.ExitCode.TESTS_FAILED) == (proc.returncode == 1)
