"""Verdicts end to end: levels, the upstream oracle and symptom-grained deviations on real runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from forget_conformance import cli, deviations, supervisor, upstream, verdicts
from forget_conformance.records import SCHEMA, SCHEMA_VERSION
from tests.helpers import failing, run_cli

_RUNS: dict[tuple[str, str], tuple[list[dict], dict]] = {}


def _run(name: str, level: str = "contract") -> tuple[list[dict], dict]:
    """Records of a conformance run on CPU, and of its reruns on upstream (cached)."""
    if (name, level) not in _RUNS:
        opts = supervisor.RunOptions(impl=f"tests.broken.verdicts:{name}" if ":" not in name
                                 else name, device="cpu", level=level)
        records = supervisor.run(opts).records
        _RUNS[name, level] = records, upstream.rerun(opts, records)
    return _RUNS[name, level]


def _verdict(name, entries=(), accept=False):
    records, theirs = _run(name)
    results = verdicts.aggregate(records, list(entries), upstream=theirs, accept_upstream=accept)
    return {r.id: r for r in results}, records


def _failing(results):
    return {k for k, r in results.items() if r.status == "fail"}


@pytest.mark.parametrize("accept", [False, True], ids=["deviations_file", "accept_upstream"])
def test_inherited_defects_accepted_new_one_rejected(accept):
    entries = [] if accept else deviations.load("chainer-7.8.1")
    results, _ = _verdict("upstream_plus_one", entries, accept)
    assert _failing(results) == {"D5"}
    assert verdicts.exit_code(list(results.values())) == 1
    assert results["D5"].classification == verdicts.NEW
    assert results["D5"].symptoms == ["wrong-exception"]
    for clause in ("D3", "T1", "T2", "T3", "T4"):
        assert results[clause].status == "xfail"
        assert results[clause].classification == verdicts.INHERITS


@pytest.mark.parametrize("accept", [False, True], ids=["deviations_file", "accept_upstream"])
def test_upstream_under_another_name_accepted(accept):
    entries = [] if accept else deviations.load("chainer-7.8.1")
    results, records = _verdict("upstream_alias", entries, accept)
    assert not _failing(results) and verdicts.exit_code(list(results.values())) == 0
    assert {k for k, r in results.items() if r.status == "xfail"} == {"D3", "D6", "T1", "T2",
                                                                      "T3", "T4"}
    assert verdicts.stale(entries, list(results.values()), records) == []


def test_scaled_gradients_rejected_under_upstream_deviations():
    results, _ = _verdict("tests.broken.variants:scaled_arg_grads",
                          deviations.load("chainer-7.8.1"))
    assert "D3" in _failing(results)
    assert "value-scaled" in results["D3"].symptoms
    assert results["D3"].classification == verdicts.NEW


def test_reworded_conforms_at_contract_and_fixes_upstream():
    results, _ = _verdict("reworded")
    assert not _failing(results) and results["U1"].status == "skip"
    assert "not judged at --level contract" in results["U1"].detail
    assert results["D8"].outcomes == ["rejected"]
    fixes = {k for k, r in results.items() if r.classification == verdicts.FIXES}
    assert {"T1", "T2", "T3"} <= fixes


def test_reworded_fails_only_drop_in_clause(tmp_path):
    out, junit = tmp_path / "r.json", tmp_path / "r.xml"
    proc = run_cli("--impl", "tests.broken.verdicts:reworded", "--level", "drop-in",
                   "--device", "cpu", "--report-json", str(out), "--junit-xml", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert failing(out) == {"U1"} and "does not conform: U1" in proc.stdout
    doc = json.loads(out.read_text())
    assert (doc["schema"], doc["schema_version"], doc["level"]) == (
        SCHEMA, SCHEMA_VERSION, "drop-in")
    u1 = next(c for c in doc["clauses"] if c["id"] == "U1")
    assert u1["symptoms"] == ["upstream-text"] and u1["classification"] == verdicts.NEW
    assert "[upstream-text, new defect]" in proc.stdout
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    assert props["level"] == "drop-in"


def test_invalid_setting_is_a_usage_error_before_running():
    proc = run_cli("--impl", "reference", "--suite", "fuzz", "--max-examples", "-1", timeout=60)
    assert proc.returncode == 2 and "--max-examples" in proc.stderr and ">= 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_harness_failure_is_exit_3_not_a_verdict(monkeypatch, capsys):
    failed = supervisor.RunResult([], 0, "INTERNALERROR")
    monkeypatch.setattr(supervisor, "run", lambda opts: failed)
    assert cli.main(["--impl", "reference"]) == 3
    assert "not the implementation's fault" in capsys.readouterr().err
