"""Runs write only under the output directory: never ``.hypothesis/``, ``.benchmarks/`` or
``fuzz-failures/`` in the current directory (issue 17, "Litter")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forget_conformance import outputs, supervisor
from tests.helpers import ROOT

FUZZ_TEST = "forget_conformance/fuzz/test_fuzz_graphs.py::test_forget_matches_plain_graph[cpu]"
HYPOTHESIS_TEST = ("forget_conformance/conformance/test_results.py::"
                   "test_values_shapes_dtypes_device_match[cpu]")


def test_default_dir_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert outputs.default_dir() == tmp_path / "forget-conformance"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/not/allowed")  # the XDG rule: ignored
    assert outputs.default_dir() == Path.home() / ".cache" / "forget-conformance"


def test_child_env_puts_everything_under_the_root(monkeypatch, tmp_path):
    for key in (outputs.ENV_DATABASE, outputs.ENV_FAILURES, outputs.ENV_HYPOTHESIS):
        monkeypatch.delenv(key, raising=False)
    env = outputs.child_env(tmp_path)
    assert all(Path(v).is_relative_to(tmp_path) for v in env.values()), env
    monkeypatch.setenv(outputs.ENV_DATABASE, "redis://somewhere:6379/0")
    assert outputs.child_env(tmp_path)[outputs.ENV_DATABASE] == "redis://somewhere:6379/0"
    assert outputs.child_env(tmp_path, "db")[outputs.ENV_DATABASE] == "db"  # --database wins


def test_child_pytest_loads_no_benchmark_plugin(tmp_path):
    cmd = supervisor._command(supervisor.RunOptions(impl="x:y"), tmp_path / "r", [])
    assert cmd[cmd.index("no:benchmark") - 1] == "-p"


def _run_in(cwd: Path, out: Path, *nodeids: str, impl: str) -> list:
    """The supervisor's child pytest on ``nodeids`` (full node ids), run from ``cwd``
    with only what ``outputs.child_env`` sets (not the self-tests' session settings)."""
    saved = {k: os.environ.pop(k, None) for k in (
        outputs.ENV_DATABASE, outputs.ENV_FAILURES, outputs.ENV_HYPOTHESIS)}
    here = os.getcwd()
    os.chdir(cwd)
    try:
        suite = nodeids[0].split("/")[1]
        opts = supervisor.RunOptions(impl=impl, suite=suite, device="cpu", max_examples=3,
                                     select=list(nodeids), extra_env={
                                         **outputs.child_env(out), "PYTHONPATH": str(ROOT)})
        return supervisor.run(opts).records
    finally:
        os.chdir(here)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def test_child_run_leaves_the_working_directory_empty(tmp_path):
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    found = _run_in(cwd, out, FUZZ_TEST, impl="tests.broken.fuzz_bugs:zeroes_nonfinite_grads")
    assert list(cwd.iterdir()) == []
    assert [r for r in found if r["event"] == "report" and r["when"] == "call"]  # it ran
    failed = [r for r in found if r["event"] == "report" and r["status"] == "failed"]
    # Three examples may or may not meet a non-finite input: when one does, the
    # reproducer is under the output directory, by an absolute path.
    for record in failed:
        path = Path(record["reproducer"])
        assert path.is_absolute() and path.is_relative_to(out) and path.exists()


@pytest.mark.slow
def test_cli_run_from_an_empty_directory_writes_only_the_output_dir(tmp_path):
    cwd, out, home = tmp_path / "cwd", tmp_path / "out", tmp_path / "home"
    cwd.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(home), XDG_CACHE_HOME="")
    for key in (outputs.ENV_DATABASE, outputs.ENV_FAILURES, outputs.ENV_HYPOTHESIS):
        env.pop(key, None)
    report = out / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "forget_conformance.cli", "--suite", "all", "--max-examples",
         "40", "--no-upstream-oracle", "--impl", "tests.broken.fuzz_bugs:zeroes_nonfinite_grads",
         "--output-dir", str(out), "--report-json", str(report)],
        cwd=cwd, env=env, text=True, capture_output=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert list(cwd.iterdir()) == []
    assert not home.exists()  # not even the default cache: --output-dir was given
    doc = json.loads(report.read_text())
    assert doc["output_dir"] == str(out)
    paths = [c["reproducer"] for r in doc["clauses"] for c in r["checks"] if c["reproducer"]]
    for path in paths:
        assert Path(path).is_absolute() and Path(path).is_relative_to(out) and Path(path).exists()


def test_conformance_property_test_leaves_no_hypothesis_folder(tmp_path):
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    found = _run_in(cwd, out, HYPOTHESIS_TEST, impl="reference")
    assert [r["status"] for r in found if r["event"] == "report"] == ["passed"]
    assert list(cwd.iterdir()) == []
