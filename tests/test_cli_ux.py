"""What a user of the CLI expects (issue 17): run a part (--clause, -k), --list-clauses,
--version, a rerun command per failing check, a labelled upstream rerun, and a run from a
folder holding a ``forget_conformance/`` of its own (a checkout) that still uses the
installed harness."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from forget_conformance import __version__, catalogue, cli

BIN = Path(sys.executable).parent

# D5 broken one way: a non-callable func raises ValueError instead of TypeError.
BROKEN = '''
from forget_conformance.reference import forget as _forget


def forget(func, *xs):
    if not callable(func):
        raise ValueError("not callable")
    return _forget(func, *xs)
'''


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and __version__ in capsys.readouterr().out


def test_list_clauses(capsys):
    assert cli.main(["--list-clauses"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [c.id for c in catalogue.CLAUSES]
    d10 = next(line for line in lines if line.startswith("D10"))
    u1 = next(line for line in lines if line.startswith("U1"))
    assert "informational" in d10 and "drop-in" in u1


def test_an_unknown_clause_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--clause", "D99"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "unknown clause 'D99'" in err[0]


@pytest.fixture(scope="module")
def checkout_like(tmp_path_factory) -> Path:
    """A user's folder: their broken implementation, and a ``forget_conformance/`` folder
    that must not shadow the installed harness (as in a checkout of this project)."""
    where = tmp_path_factory.mktemp("user")
    (where / "mypkg").mkdir()
    (where / "mypkg" / "__init__.py").write_text("")
    (where / "mypkg" / "ckpt.py").write_text(BROKEN)
    (where / "forget_conformance").mkdir()
    (where / "forget_conformance" / "__init__.py").write_text(
        "raise ImportError('the folder in the current directory shadowed the harness')\n")
    return where


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FORGET_", "GITHUB_", "PYTEST_")) and k != "PYTHONPATH"}
    return dict(env, **extra)


@pytest.fixture(scope="module")
def failing_run(checkout_like) -> tuple[subprocess.CompletedProcess, Path]:
    junit = checkout_like / "out" / "report.xml"
    summary = checkout_like / "summary.md"
    proc = subprocess.run(
        [str(BIN / "forget-conformance"), "--impl", "mypkg.ckpt:forget", "--clause", "d5",
         "-k", "non_callable", "--device", "cpu", "--junit-xml", str(junit)],
        cwd=checkout_like, capture_output=True, text=True, timeout=300,
        env=_env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary)))
    return proc, checkout_like


def test_a_clause_runs_and_reports_only_that_clause(failing_run):
    proc, _ = failing_run
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = re.findall(r"^([A-Z]\d+)\s+(pass|fail|xfail|xpass|skip|error)\s", proc.stdout, re.M)
    assert verdicts == [("D5", "fail")]
    assert "deselected" in proc.stderr  # the other clauses' tests did not run


def test_the_upstream_rerun_is_labelled_and_quiet(failing_run):
    proc, _ = failing_run
    after = proc.stderr.split("classifying", 1)
    assert len(after) == 2 and re.match(r" \d+ check\(s\) on upstream 7\.8\.1", after[1])
    assert not re.search(r"^[.FsExX]+\s*(\[\s*\d+%\])?$", after[1], re.M), after[1]


def test_each_failing_check_prints_a_command_that_reruns_it(failing_run):
    proc, where = failing_run
    reruns = re.findall(r"^\s+rerun: (.*)$", proc.stdout, re.M)
    assert reruns and len(reruns) == len(re.findall(r"^  fail  ", proc.stdout, re.M))
    words = shlex.split(reruns[0])
    assert words[0] == "pytest" and "--forget-impl" in words
    again = subprocess.run([str(BIN / "pytest"), *words[1:], "-q"], cwd=where,
                           capture_output=True, text=True, timeout=120, env=_env())
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout + again.stderr


def test_junit_has_one_case_per_check(failing_run):
    proc, where = failing_run
    root = ET.parse(where / "out" / "report.xml").getroot()
    assert root.tag == "testsuites" and [s.get("name") for s in root] == ["D5 errors for bad func"]
    cases = root.findall("testsuite/testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == len(re.findall(r"^  fail  ", proc.stdout, re.M)) >= 1
    assert int(root.get("failures")) == len(failed) and int(root.get("tests")) == len(cases)
    for case in cases:
        assert case.get("classname") == "D5"
        assert case.get("name").startswith("forget_conformance/conformance/test_errors.py::")
        assert float(case.get("time")) >= 0
        for prop in case.iter("property"):
            assert isinstance(prop.get("value"), str) and not prop.get("value").startswith("{")
    rerun = next(p.get("value") for p in failed[0].iter("property") if p.get("name") == "rerun")
    assert rerun.startswith("pytest ")


def test_on_github_actions_annotations_and_a_summary(failing_run):
    proc, where = failing_run
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert annotations and all(re.match(r"::error title=[^:]*D5 fail%3A [^:]+::", a)
                               for a in annotations), annotations
    summary = (where / "summary.md").read_text()
    assert "| clause | title | status |" in summary
    assert re.search(r"^\| D5 \| errors for bad func \| fail \|", summary, re.M)


def _failing_fuzz_result():
    from forget_conformance import records, verdicts

    record = records.phase_report(
        "forget_conformance/fuzz/test_fuzz_graphs.py::test_forget_matches_plain_graph[cpu]",
        "failed", ["D3"], "gradients differ:\nsee: the script", symptom="value-mismatch",
        reproducer="/tmp/out/fuzz-failures/d3 case.py", seconds=1.5)
    return verdicts.aggregate([record], [], {"D3"})


def test_a_fuzz_failure_prints_its_rerun_with_the_seed_and_its_reproducer():
    from forget_conformance import report, supervisor

    results = _failing_fuzz_result()
    report.add_reruns(results, supervisor.RunOptions(impl="mypkg.ckpt:forget", suite="fuzz",
                                                     seed=7, impl_name="mypkg.ckpt:forget"))
    table = report.table(results)
    rerun = re.search(r"^\s+rerun: (.*)$", table, re.M)[1]
    assert rerun.startswith("FORGET_FUZZ_SEED=7 pytest ")
    assert shlex.split(rerun)[5] == ("forget_conformance.fuzz.test_fuzz_graphs::"
                                     "test_forget_matches_plain_graph[cpu]")
    assert "reproduce: python3 '/tmp/out/fuzz-failures/d3 case.py'" in table


def test_github_annotations_are_one_line_each_with_escaped_text(tmp_path):
    from forget_conformance import report

    results = _failing_fuzz_result()
    summary = tmp_path / "summary.md"
    lines = report.github_annotations(results)
    assert len(lines) == 1 and "\n" not in lines[0] and "%0A" in lines[0]
    title = lines[0].split("::")[1]
    assert title.startswith("error title=") and ":" not in title.removeprefix("error title=")
    report.github(results, {"implementation": {"name": "x"}, "suite": "fuzz"}, 1,
                  env={"GITHUB_ACTIONS": "false", "GITHUB_STEP_SUMMARY": str(summary)})
    assert not summary.exists()  # only on GitHub Actions
    cases = ET.fromstring(report.to_junit(results, {"suite": "fuzz"}).split("?>", 1)[1])
    (case,) = cases.iter("testcase")
    assert case.get("time") == "1.500" and case.find("failure") is not None
