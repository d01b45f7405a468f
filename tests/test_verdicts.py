"""Verdict logic in-process: symptoms, D5/D8 outcomes, deviations, statuses, classifications."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import chainer
import numpy as np
import pytest

from forget_conformance import catalogue, deviations, devices, report, symptoms, verdicts
from forget_conformance.conformance import (
    second_order,
    support,
    test_calls,
    test_errors,
    test_stateful,
)
from forget_conformance.records import SCHEMA, SCHEMA_VERSION, phase_report
from forget_conformance.reference import forget as reference
from tests.broken import second_order_bugs, variants
from tests.broken import verdicts as broken_verdicts

CPU = devices.get(devices.CPU)


def _rec(nodeid, status, clauses, symptom=None, violated=None, message="m", outcome=None):
    return phase_report(nodeid, status, clauses, message, symptom=symptom, violated=violated,
                        outcome=outcome)


def _by_id(results):
    return {r.id: r for r in results}


def _entries(text, tmp_path):
    path = tmp_path / "devs.txt"
    path.write_text(text)
    return deviations.load(str(path))


# -- symptoms where the failure is detected ------------------------------------------


@pytest.mark.parametrize("actual, symptom", [
    (None, "gradient-none"),
    (np.arange(1, 5, dtype=np.float32) * np.float32(1.001), "value-scaled"),
    (np.arange(1, 5, dtype=np.float32) * 8, "value-scaled"),
    (np.array([1, 2, 3, 5], dtype=np.float32), "value-mismatch"),
    (np.zeros(4, np.float32), "value-mismatch"),
])
def test_check_close_names_the_symptom(actual, symptom):
    with pytest.raises(catalogue.ClauseViolation) as caught:
        support.check_close("g", actual, np.arange(1, 5, dtype=np.float32), clause="D3")
    assert caught.value.symptom == symptom and caught.value.clause_id == "D3"
    with pytest.raises(symptoms.Symptomatic) as caught:
        support.check_close("g", actual, np.arange(1, 5, dtype=np.float32))
    assert symptoms.of(caught.value) == symptom


@pytest.mark.parametrize("check, impl, symptom", [
    (test_calls.test_forward_only_calls_once, variants.extra_call, "call-count"),
    (test_stateful.test_only_recomputation_is_flagged, variants.flag_leaked, "state-changed"),
    (test_stateful.test_only_recomputation_is_flagged, variants.recompute_not_flagged,
     "state-changed"),
])
def test_failures_name_their_symptom(check, impl, symptom):
    check(reference, CPU)
    with chainer.using_config("in_recomputing", False), pytest.raises(
            symptoms.Symptomatic) as caught:
        check(impl, CPU)
    assert caught.value.symptom == symptom


def test_unexpected_gradient_and_factor_in_message():
    with pytest.raises(symptoms.Symptomatic, match="got a value") as caught:
        support.check_close("g", np.ones(2), None)
    assert caught.value.symptom == "gradient-unexpected"
    with pytest.raises(symptoms.Symptomatic, match="factor of 1.001"):
        support.check_close("g", np.arange(1.0, 4.0) * 1.001, np.arange(1.0, 4.0))


def test_exceptions_classified():
    assert symptoms.of(ValueError("x")) == "exception:ValueError"
    assert symptoms.of(AssertionError("x")) == "check-failed"
    assert symptoms.of(symptoms.HarnessError("x")) == symptoms.HARNESS
    with pytest.raises(BaseException) as caught:
        pytest.fail("Timeout >3.0s")
    assert symptoms.of(caught.value) == "hang"


def test_plain_path_failure_is_a_harness_error():
    def broken(x):
        raise ZeroDivisionError("plain")

    with pytest.raises(symptoms.HarnessError, match="not the implementation's fault"):
        support.run_both(reference, broken, lambda: [chainer.Variable(np.ones(2))])


# -- D5 and D8 judge behaviour ----------------------------------------------------------


@pytest.mark.parametrize("n, text, named", [
    (2, "2nd element of a returned tuple", True), (2, "element 2 is an int", True),
    (2, "index 1 is bad", True), (12, "12th element", True), (11, "1st element", False),
    (11, "11st", True), (3, "2nd element", False), (21, "21st element", True),
    (1, "element 10", False),
])
def test_position_named(n, text, named):
    assert bool(test_errors.position_named(n).search(text)) is named


@pytest.mark.parametrize("call, symptom", [
    (lambda: None, "nothing-raised"),
    (lambda: (_ for _ in ()).throw(ValueError("position 2, int")), "wrong-exception"),
    (lambda: (_ for _ in ()).throw(RuntimeError("something")), "message-facts"),
])
def test_expect_error_symptoms(call, symptom):
    with pytest.raises(symptoms.Symptomatic) as caught:
        test_errors.expect_error(call, RuntimeError, {"position 2": "2"})
    assert caught.value.symptom == symptom


@pytest.mark.parametrize("check, arg", [
    (test_errors.test_tuple_element_error_names_position, 2),
    (test_errors.test_non_variable_result_is_runtime_error, None),
])
def test_d5_requires_the_facts_not_the_wording(check, arg):
    check(broken_verdicts.reworded, CPU, arg)
    with pytest.raises(symptoms.Symptomatic) as caught:
        check(broken_verdicts.vague_errors, CPU, arg)
    assert caught.value.symptom == "message-facts"


def _rejects_with_type_error(func, *xs):
    y = reference(func, *xs)
    if y.creator_node is not None:  # none inside the forward of an outer segment
        y.creator_node.backward = lambda *a: (_ for _ in ()).throw(TypeError("no"))
    return y


@pytest.mark.parametrize("impl, expected", [
    (reference, "rejected"), (broken_verdicts.reworded, "rejected"),
    (broken_verdicts.upstream_alias, "rejected"),
    (second_order.no_forget, "supported"), (variants.double_backprop_allowed, "silently-wrong"),
    (_rejects_with_type_error, "exception:TypeError"),
    *((getattr(second_order_bugs, name), verdict)
      for name, verdict in second_order_bugs.EXPECTED.items()),
], ids=lambda v: getattr(v, "__name__", v))
def test_double_backprop_outcomes(impl, expected):
    """D8 claims ``supported`` only when every scenario, through both routes, is exact;
    a variant wrong in one kind of leaf, or through one route, is ``silently-wrong``."""
    if expected.startswith(("rejected", "supported")):
        assert second_order.outcome(impl, CPU).startswith(expected)
        return
    with pytest.raises(catalogue.ClauseViolation) as caught:
        second_order.outcome(impl, CPU)
    assert (caught.value.clause_id, caught.value.symptom) == ("D8", expected)


def test_double_backprop_failure_names_the_case_and_leaf():
    with pytest.raises(catalogue.ClauseViolation) as caught:
        second_order.outcome(second_order_bugs.param_second_order_lost, CPU)
    message = str(caught.value)
    assert "link parameters via backward" in message and "second-order d/dW" in message
    assert "via grad" not in message  # exact through chainer.grad


# -- deviations files --------------------------------------------------------------------


def test_deviation_entries_parse_and_match(tmp_path):
    plain, pinned = _entries("T1: anything in T1\n"
                             "D3 test=test_a[cpu-*] symptom=gradient-none: pinned # c\n", tmp_path)
    assert plain.matches("T1", "test_x", "value-mismatch") and not plain.matches("D3", "t", None)
    assert pinned.matches("D3", "test_a[cpu-x]", "gradient-none")
    assert not pinned.matches("D3", "test_a[cpu-x]", "value-scaled")
    assert not pinned.matches("D3", "test_ab", "gradient-none")
    assert pinned.label() == "D3 test=test_a[cpu-*] symptom=gradient-none"


@pytest.mark.parametrize("line, needle", [
    ("T1 no colon", "expected 'CLAUSE"), ("Z9: x", "unknown clause"),
    ("T1 tests=x: y", "expected test=GLOB"), ("T1 symptom=bogus: y", "unknown symptom"),
    ("T1 test=a test=b: y", "expected test=GLOB"),
])
def test_bad_entries_rejected(tmp_path, line, needle):
    with pytest.raises(deviations.DeviationsError, match=needle):
        _entries(line + "\n", tmp_path)


def test_shipped_upstream_file_is_symptom_grained():
    entries = deviations.load("chainer-7.8.1")
    assert entries and all(e.test and e.symptom for e in entries)
    assert {e.clause for e in entries} == {"D3", "D4", "D6", "T1", "T2", "T3", "T4"}


# -- statuses, classifications, exit codes --------------------------------------------


def test_deviation_excuses_only_its_symptom(tmp_path):
    entries = _entries("D3 symptom=gradient-none: known\nT2 test=t_gone: stale\n"
                       "T3 test=t3: stale too\n", tmp_path)
    records = [_rec("m::t1", "failed", ["D3"], "gradient-none"),
               _rec("m::t2", "failed", ["D3"], "value-scaled"),
               _rec("m::t3", "passed", ["T3"])]
    results = _by_id(verdicts.aggregate(records, entries))
    assert results["D3"].status == "fail" and results["D3"].symptoms == ["gradient-none",
                                                                          "value-scaled"]
    assert [c.status for c in results["D3"].checks] == ["xfail", "fail"]
    assert results["T3"].status == "xpass"
    stale = verdicts.stale(entries, list(results.values()), records)
    assert [e.label() for e in stale] == ["T3 test=t3"]  # t_gone did not run: not stale
    ok = _by_id(verdicts.aggregate(records[:1], entries))
    assert ok["D3"].status == "xfail" and verdicts.exit_code(list(ok.values())) == 0
    assert verdicts.exit_code(list(ok.values()), stale) == 1


def test_harness_error_is_status_error_and_exit_3():
    records = [_rec("m::a", "failed", ["D1"], symptoms.HARNESS, message="plain path failed"),
               _rec("m::b", "passed", ["D1"]), _rec("m::c", "failed", ["D4"], "call-count")]
    results = _by_id(verdicts.aggregate(records, []))
    assert results["D1"].status == "error" and "not the implementation's fault" in \
        results["D1"].detail
    assert verdicts.exit_code(list(results.values())) == 1  # a fail wins
    results.pop("D4")
    assert verdicts.exit_code(list(results.values())) == 3
    assert verdicts.exit_code([]) == 3  # nothing checked: no verdict either


def test_three_way_classification_and_acceptance():
    ours = [_rec("m::same", "failed", ["T1"], "value-scaled"),
            _rec("m::other", "failed", ["T2"], "value-mismatch"),
            _rec("m::new", "failed", ["D5"], "wrong-exception"),
            _rec("m::fixed", "passed", ["T3"]), _rec("m::both", "passed", ["D4"])]
    theirs = {r["nodeid"]: r for r in [
        _rec("m::same", "failed", ["T1"], "value-scaled"),
        _rec("m::other", "failed", ["T2"], "gradient-none"),
        _rec("m::new", "passed", ["D5"]), _rec("m::fixed", "failed", ["T3"], "value-mismatch"),
        _rec("m::both", "passed", ["D4"])]}
    results = _by_id(verdicts.aggregate(ours, [], upstream=theirs))
    assert results["T1"].classification == verdicts.INHERITS and results["T1"].status == "fail"
    assert results["T2"].classification == verdicts.NEW  # same test, other symptom
    assert results["D5"].classification == verdicts.NEW
    assert results["T3"].status == "pass" and results["T3"].classification == verdicts.FIXES
    assert "fixes upstream" in results["T3"].detail and results["D4"].classification is None
    accepted = _by_id(verdicts.aggregate(ours, [], upstream=theirs, accept_upstream=True))
    assert accepted["T1"].status == "xfail" and accepted["T1"].checks[0].accepted_by == \
        verdicts.UPSTREAM
    assert accepted["T2"].status == accepted["D5"].status == "fail"


def test_outcome_is_reported():
    results = _by_id(verdicts.aggregate([_rec("m::a", "passed", ["D8"], outcome="rejected")], []))
    assert results["D8"].outcomes == ["rejected"] and "rejected" in results["D8"].detail


def test_reports_carry_level_symptom_classification_reproducer():
    records = [_rec("m::a", "failed", ["D3"], "gradient-none"),
               dict(_rec("f::b", "failed", ["T3"], "value-mismatch"), reproducer="r/x.py"),
               _rec("m::c", "failed", ["D1"], symptoms.HARNESS)]
    theirs = {"m::a": _rec("m::a", "passed", ["D3"])}
    results = verdicts.aggregate(records, [], upstream=theirs)
    meta = {"implementation": {"name": "x"}, "suite": "conformance", "device": "cpu",
            "profile": "ci", "level": "contract"}
    doc = json.loads(report.to_json(results, meta, []))
    assert (doc["schema"], doc["schema_version"], doc["level"]) == (
        SCHEMA, SCHEMA_VERSION, "contract")
    clauses = {c["id"]: c for c in doc["clauses"]}
    assert clauses["D3"]["checks"][0]["symptom"] == "gradient-none"
    assert clauses["D3"]["classification"] == verdicts.NEW
    assert clauses["T3"]["checks"][0]["reproducer"] == "r/x.py"
    assert clauses["D1"]["status"] == "error" and doc["exit_code"] == 1
    root = ET.fromstring(report.to_junit(results, meta).split("?>", 1)[1])
    cases = {c.get("classname"): c for c in root.iter("testcase")}
    assert cases["D1"].find("error") is not None and root.get("errors") == "1"
    assert cases["D1"].get("name") == "m::c"  # the node id, one case per check
    props = {p.get("name"): p.get("value") for p in cases["T3"].iter("property")}
    assert props["symptom"] == "value-mismatch" and props["reproducer"] == "r/x.py"
    table = report.table(results)
    assert "gradient-none (new defect)" in table and "reproducer: r/x.py" in table
