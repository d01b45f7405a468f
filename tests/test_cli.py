"""The CLI's interface: verdicts and exit codes, usage errors, reports, faults."""

import json
import xml.etree.ElementTree as ET

import pytest

from forget_conformance import catalogue, records
from tests.helpers import failing, run_cli
from tests.test_records import validate

UPSTREAM_FAILURES = {"D3", "D6", "T1", "T2", "T3", "T4"}


def test_reference_conforms(tmp_path):
    report = tmp_path / "ref.json"
    proc = run_cli("--impl", "reference", "--report-json", str(report))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(report.read_text())
    schema = records.report_schema()
    validate(doc, schema, schema)  # what the CLI writes is what the schema says
    assert {c["id"] for c in doc["clauses"]} == set(catalogue.BY_ID)
    statuses = {c["id"]: c["status"] for c in doc["clauses"]}
    assert statuses.pop("U1") == "skip"  # the drop-in clause, not judged at --level contract
    assert set(statuses.values()) == {"pass"}
    fixes = {c["id"] for c in doc["clauses"] if c["classification"] == "fixes upstream"}
    assert fixes == UPSTREAM_FAILURES  # the upstream oracle reran upstream's known failures
    assert doc["implementation"] == {"name": "reference",
                                     "target": "forget_conformance.reference:forget"}
    assert set(doc["versions"]) == {"chainer", "numpy", "cupy", "python"}
    for clause in catalogue.CLAUSES:
        assert f"{clause.id:<7}{'skip' if clause.level == 'drop-in' else 'pass'}" in proc.stdout


def test_upstream_fails_exactly_its_known_bugs(tmp_path):
    report = tmp_path / "up.json"
    proc = run_cli("--impl", "chainer", "--report-json", str(report))
    assert proc.returncode == 1
    assert failing(report) == UPSTREAM_FAILURES
    assert "does not conform: D3, D6, T1, T2, T3, T4" in proc.stdout


def test_upstream_with_shipped_deviations(tmp_path):
    report, junit = tmp_path / "up.json", tmp_path / "up.xml"
    proc = run_cli("--impl", "chainer", "--known-deviations", "chainer-7.8.1",
                   "--strict-deviations", "--report-json", str(report), "--junit-xml", str(junit))
    assert proc.returncode == 0, proc.stdout  # no stale entry on a conformance run
    statuses = {c["id"]: c["status"] for c in json.loads(report.read_text())["clauses"]}
    assert {k for k, v in statuses.items() if v == "xfail"} == UPSTREAM_FAILURES
    root = ET.parse(junit).getroot()
    assert [s.get("name").split()[0] for s in root.findall("testsuite")] == [
        c.id for c in catalogue.CLAUSES]  # one suite per clause, one case per check
    cases = root.findall(".//testcase")
    assert len(cases) == sum(sum(c["tests"].values()) or 1
                             for c in json.loads(report.read_text())["clauses"])
    accepted = {c.get("classname") for c in cases
                if (c.find("skipped") is not None
                    and c.find("skipped").get("message").startswith("accepted by"))}
    assert accepted == UPSTREAM_FAILURES
    assert not root.findall(".//failure") and not root.findall(".//error")


def test_deviation_that_passes_is_xpass_and_stale(tmp_path):
    devs = tmp_path / "devs.txt"
    devs.write_text("# comment\nD4: believed broken\n")
    report = tmp_path / "r.json"
    proc = run_cli("--impl", "reference", "--known-deviations", str(devs),
                   "--strict-deviations", "--no-upstream-oracle", "--report-json", str(report))
    assert proc.returncode == 1  # stale under --strict-deviations (exit 0 without it)
    doc = json.loads(report.read_text())
    assert {c["id"]: c["status"] for c in doc["clauses"]}["D4"] == "xpass"
    assert [s["entry"] for s in doc["stale_deviations"]] == ["D4"] and doc["exit_code"] == 1
    assert "stale deviation: D4" in proc.stdout


@pytest.mark.parametrize("impl, needle", [
    ("no_such_module_xyz:forget", "cannot import module 'no_such_module_xyz'"),
    ("forget_conformance.reference:nope", "has no attribute 'nope'"),
    ("tests.broken.faulty:not_callable", "is not callable"),
    ("forget_impl", "not of the form MODULE:ATTR"),
    ("tests.broken.import_error:forget", "raised RuntimeError: this module cannot be imported"),
])
def test_bad_implementation_name_is_a_usage_error(impl, needle):
    proc = run_cli("--impl", impl, timeout=60)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", ["T1 no colon\n", "Z9: unknown clause\n"])
def test_bad_deviations_file_is_a_usage_error(tmp_path, content):
    devs = tmp_path / "devs.txt"
    devs.write_text(content)
    proc = run_cli("--impl", "reference", "--known-deviations", str(devs), timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_deviations_file_is_a_usage_error():
    proc = run_cli("--impl", "reference", "--known-deviations", "nope-1.0", timeout=60)
    assert proc.returncode == 2 and "not found" in proc.stderr


FAULTS = [("spins_once", "Timeout"), ("stalls_once", "no progress"), ("aborts_once", "SIGABRT")]


@pytest.mark.parametrize("impl, reason", FAULTS)
def test_faulty_implementation_fails_one_of_two_clauses_and_the_run_goes_on(tmp_path, impl,
                                                                          reason):
    report = tmp_path / "r.json"
    proc = run_cli("--impl", f"tests.broken.faulty:{impl}", "--timeout", "3", "--clause", "D5",
                   "--clause", "D7", "--device", "cpu", "--report-json", str(report),
                   "--no-upstream-oracle",
                   env={"FORGET_FAULT_MARKER": str(tmp_path / "marker")}, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    clauses = json.loads(report.read_text())["clauses"]
    assert sorted(c["status"] for c in clauses) == ["fail", "pass"], clauses
    assert reason in next(c["detail"] for c in clauses if c["status"] == "fail")


@pytest.mark.slow
@pytest.mark.parametrize("impl, reason", FAULTS)
def test_faulty_implementation_fails_one_clause_and_the_run_goes_on(tmp_path, impl, reason):
    report = tmp_path / "r.json"
    proc = run_cli("--impl", f"tests.broken.faulty:{impl}", "--timeout", "3",
                   "--report-json", str(report), "--no-upstream-oracle",
                   env={"FORGET_FAULT_MARKER": str(tmp_path / "marker")}, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(report.read_text())
    failed = [c for c in doc["clauses"] if c["status"] == "fail"]
    assert len(failed) == 1, failed
    assert reason in failed[0]["detail"]
    contract = [c for c in doc["clauses"] if c["level"] == "contract"]
    assert sum(c["status"] == "pass" for c in contract) == len(contract) - 1


def test_report_not_written_on_usage_error(tmp_path):
    report = tmp_path / "r.json"
    proc = run_cli("--impl", "nope:nope", "--report-json", str(report), timeout=60)
    assert proc.returncode == 2 and not report.exists()
