"""Faults seen from outside, through the ``forget-conformance`` command: giving up
after crashes, nothing checked, signals, reproducible failure details."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from forget_conformance import supervisor
from tests.helpers import ROOT, run_cli


def _clauses(path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(path.read_text())["clauses"]}


def test_crashing_on_every_call_gives_up_with_errors_not_skips(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("--impl", "tests.broken.faulty:aborts_always", "--device", "cpu",
                   "--max-restarts", "1", "--report-json", str(out))
    assert proc.returncode == 1, proc.stderr  # the crashes themselves are failures
    assert "forget-conformance: gave up after 2 crashes;" in proc.stderr
    clauses = _clauses(out)
    statuses = {c["status"] for c in clauses.values()}
    assert statuses <= {"fail", "error", "skip"} and "error" in statuses
    assert [k for k, c in clauses.items() if c["status"] == "skip"] == ["U1"]  # contract level
    errors = [c for c in clauses.values() if c["status"] == "error"]
    assert all(c["detail"].endswith("not run, gave up after 2 crashes") for c in errors)
    assert json.loads(out.read_text())["gave_up"] is True


def test_exiting_on_every_call_gives_up_in_the_runner():
    outcome = supervisor.run(supervisor.RunOptions(impl="tests.broken.faulty:exits_always",
                                           device="cpu", max_restarts=0))
    assert outcome.gave_up and outcome.crashes == 1
    reports = [r for r in outcome.records if r["event"] == "report"]
    assert [r["status"] for r in reports].count("failed") == 1
    not_run = [r for r in reports if r["status"] == "error"]
    assert len(not_run) > 50
    assert {r["message"] for r in not_run} == {"not run, gave up after 1 crashes"}
    # Only what was to be skipped anyway (drop-in checks at --level contract) is a skip.
    skipped = {r["message"] for r in reports if r["status"] == "skipped"}
    assert skipped == {"U1 is not judged at --level contract"}


def test_every_clause_skipped_exits_3(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("--impl", "reference", "--device", "gpu", "--report-json", str(out),
                   env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 3, proc.stderr
    assert "forget-conformance: nothing was checked: every clause was skipped" in proc.stderr
    assert {c["status"] for c in _clauses(out).values()} == {"skip"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_everything_and_writes_nothing(sig, tmp_path):
    marker, out, tmp = tmp_path / "pid", tmp_path / "r.json", tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "forget_conformance.cli", "--device", "cpu",
         "--impl", "tests.broken.faulty:sleeps_forever", "--report-json", str(out)],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ, FORGET_FAULT_MARKER=str(marker), TMPDIR=str(tmp)))
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    test_process = int(marker.read_text())
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert err.splitlines()[-1] == "forget-conformance: interrupted"
    assert not out.exists()
    assert list(tmp.iterdir()) == []
    with pytest.raises(ProcessLookupError):
        os.kill(test_process, 0)


def test_failure_details_are_the_same_every_run(tmp_path):
    runs = []
    for n in range(2):
        out = tmp_path / f"r{n}.json"
        run_cli("--impl", "tests.broken.variants:lost_param_grads", "--device", "cpu",
                "--clause", "T3", "--report-json", str(out), "--no-upstream-oracle")
        runs.append({k: c["detail"] for k, c in _clauses(out).items() if c["status"] == "fail"})
    assert "max abs error" in runs[0]["T3"]
    assert runs[0] == runs[1]
