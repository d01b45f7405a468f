"""Per-clause aggregation and report writing."""

import json

import pytest

from forget_conformance import atomic_write, deviations, verdicts
from forget_conformance.atomic_write import write_atomically
from forget_conformance.records import phase_report


def _rec(nodeid, status, clauses, violated=None, message=""):
    return phase_report(nodeid, status, clauses, message, violated=violated)


def _by_id(results):
    return {r.id: r for r in results}


def test_violation_is_charged_to_its_clause_only():
    records = [_rec("t::a", "failed", ["D3", "T3"], violated="T3", message="lost"),
               _rec("t::b", "passed", ["D3"])]
    results = _by_id(verdicts.aggregate(records, []))
    assert results["T3"].status == "fail" and "lost" in results["T3"].detail
    assert results["D3"].status == "pass"
    assert any("not checked" in r for r in results["D3"].skip_reasons)


def test_unattributed_failure_fails_every_clause_of_the_test():
    results = _by_id(verdicts.aggregate([_rec("t::a", "failed", ["D1", "D6"])], []))
    assert results["D1"].status == results["D6"].status == "fail"


def test_known_deviation_turns_fail_into_xfail_and_pass_into_xpass():
    records = [_rec("t::a", "failed", ["T1"]), _rec("t::b", "passed", ["T2"])]
    entries = [deviations.Entry("T1", "why"), deviations.Entry("T2", "why")]
    results = _by_id(verdicts.aggregate(records, entries))
    assert results["T1"].status == "xfail" and results["T2"].status == "xpass"
    assert verdicts.exit_code(list(results.values())) == 0


def test_worst_phase_wins():
    records = [_rec("t::a", "passed", ["D4"]),
               dict(_rec("t::a", "failed", ["D4"], message="leaked"), when="teardown")]
    results = _by_id(verdicts.aggregate(records, []))
    assert results["D4"].status == "fail" and "leaked" in results["D4"].detail


def test_informational_clause_never_fails():
    results = _by_id(verdicts.aggregate([_rec("t::a", "failed", ["D10"], message="x")], []))
    assert results["D10"].status == "pass"


def test_clause_without_tests_is_skip():
    results = _by_id(verdicts.aggregate([], []))
    assert results["D1"].status == "skip" and "no test" in results["D1"].detail


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_write.os, "replace", boom)
    with pytest.raises(OSError):
        write_atomically(target, json.dumps({"new": 1}))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
