"""Faults and bad input, in process: each is one line on stderr and exit 2 before
anything runs, or a verdict that says what could not be checked."""

from __future__ import annotations

import json
import os
import signal
import stat

import pytest

from forget_conformance import cli, report, verdicts
from forget_conformance.atomic_write import write_atomically
from forget_conformance.bench import cli as bench_cli
from forget_conformance.bench import measure, workloads
from forget_conformance.graph import memory_model
from forget_conformance.options import UsageError, probe_implementation
from forget_conformance.records import phase_report
from tests.test_bench_cli import BASELINE, QUICK

CLIS = {"forget-conformance": cli.main, "forget-bench": bench_cli.main}


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("prog", CLIS)
@pytest.mark.parametrize("fault, timeout, needle", [
    ("hang", "1", "did not finish within 1 s"),
    ("abort", "60", "killed its process (SIGABRT)"),
    ("exit", "60", "exited the process (status 7)"),
])
def test_an_import_that_hangs_or_crashes_is_a_usage_error(prog, fault, timeout, needle,
                                                          monkeypatch, capsys):
    monkeypatch.setenv("FORGET_FAULT_IMPORT", fault)
    code = CLIS[prog](["--impl", "tests.broken.faults_import:forget", "--timeout", timeout])
    assert code == 2
    _one_line_error(capsys, f"{prog}: error: importing 'tests.broken.faults_import:forget' "
                            + needle)


def test_a_good_import_gives_the_target():
    assert probe_implementation("reference", 60) == "forget_conformance.reference:forget"
    with pytest.raises(UsageError, match="has no attribute 'nope'"):
        probe_implementation("forget_conformance.reference:nope", 60)


@pytest.mark.parametrize("args, needle", [
    (["--max-examples", "0"], "--max-examples: '0' is not an integer >= 1"),
    (["--timeout", "0"], "--timeout: '0' is not a finite number > 0"),
    (["--timeout", "-1"], "--timeout: '-1' is not a finite number > 0"),
    (["--timeout", "inf"], "--timeout: 'inf' is not a finite number > 0"),
    (["--timeout", "nan"], "--timeout: 'nan' is not a finite number > 0"),
    (["--jobs", "0"], "--jobs: '0' is not an integer >= 1"),
    (["--max-restarts", "-1"], "--max-restarts: '-1' is not an integer >= 0"),
    (["--max-examples", "x"], "--max-examples: 'x' is not an integer >= 1"),
])
def test_conformance_numbers_are_validated(args, needle, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--impl", "reference", *args])
    assert exit_.value.code == 2
    _one_line_error(capsys, needle)


@pytest.mark.parametrize("args, needle", [
    (["--depth", "0"], "--depth: '0' is not an integer >= 1"),
    (["--sweep", "4", "0"], "--sweep: '0' is not an integer >= 1"),
    (["--repeats", "0"], "--repeats: '0' is not an integer >= 1"),
    (["--time-budget", "0"], "--time-budget: '0' is not a finite number > 0"),
    (["--time-budget", "nan"], "--time-budget: 'nan' is not a finite number > 0"),
    (["--max-regression", "-1"], "--max-regression: '-1' is not a finite number >= 0"),
    (["--max-memory-regression", "inf"], "'inf' is not a finite number >= 0"),
    (["--timeout", "0"], "--timeout: '0' is not a finite number > 0"),
])
def test_bench_numbers_are_validated(args, needle, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench_cli.main(["--impl", "reference", *args])
    assert exit_.value.code == 2
    _one_line_error(capsys, needle)


@pytest.mark.parametrize("content, needle", [
    (b"D4: caf\xe9\n", "not UTF-8 text"),
    (b"\x00\x00\x00\x18ftypmp42\x00", "a binary file"),
])
def test_binary_or_non_utf8_deviations_file(tmp_path, content, needle, capsys):
    devs = tmp_path / "devs.txt"
    devs.write_bytes(content)
    assert cli.main(["--impl", "reference", "--known-deviations", str(devs)]) == 2
    _one_line_error(capsys, needle)


@pytest.mark.parametrize("ratio", ["1.2", None, [1], True, "Infinity"])
def test_baseline_with_a_non_numeric_ratio(tmp_path, ratio, capsys):
    doc = json.loads(BASELINE.read_text())
    doc["rows"][1]["ratios"]["peak_vs_plain"] = float(ratio) if ratio == "Infinity" else ratio
    bad = tmp_path / "base.json"
    bad.write_text(json.dumps(doc))
    assert bench_cli.main(["--impl", "reference", "--compare", str(bad)]) == 2
    _one_line_error(capsys, "has non-numeric ratios {'peak_vs_plain'")


def _outputs(prog: str) -> tuple[str, str]:
    return ("--report-json", "--junit-xml") if prog == "forget-conformance" else \
        ("--json", "--plot")


@pytest.mark.parametrize("prog", CLIS)
@pytest.mark.parametrize("case, needle", [
    ("directory", "is a directory"),
    ("parent_is_file", "is not a directory"),
    ("unwritable", "cannot create files in /proc"),
    ("same_twice", "the same path as"),
    ("empty", "empty path"),
])
def test_bad_output_paths_are_refused_before_anything_runs(prog, case, needle, tmp_path,
                                                           monkeypatch, capsys):
    first, second = _outputs(prog)
    (tmp_path / "file").write_text("")
    paths = {"directory": [str(tmp_path)], "parent_is_file": [str(tmp_path / "file" / "r")],
             "unwritable": ["/proc/forget-conformance/r.json"], "empty": [""],
             "same_twice": [str(tmp_path / "r.png"), str(tmp_path / "." / "r.png")]}[case]
    args = [first, paths[0]] + ([second, paths[1]] if len(paths) > 1 else [])
    monkeypatch.setenv("FORGET_FAULT_IMPORT", "abort")  # an import would say so
    assert CLIS[prog](["--impl", "tests.broken.faults_import:forget", *args]) == 2
    _one_line_error(capsys, needle)
    assert {p.name for p in tmp_path.iterdir()} == {"file"}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_reports_are_created_with_the_users_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = tmp_path / "missing" / "parents" / "r.json"
        write_atomically(path, "{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert path.read_text() == "{}\n"


def test_bench_creates_missing_folders_for_every_output(tmp_path, capsys):
    out, plot = tmp_path / "a" / "r.json", tmp_path / "b" / "c" / "m.png"
    args = ["--impl", "reference", *QUICK, "--depth", "4", "--sweep", "8", "--repeats", "1",
            "--json", str(out), "--plot", str(plot)]
    assert bench_cli.main(args) == 0, capsys.readouterr().err
    assert out.is_file() and plot.is_file()


@pytest.mark.parametrize("name", workloads.WORKLOADS)
def test_memory_estimate_extrapolates_the_model_exactly(name):
    depth = measure.EXACT_DEPTH + 37
    exact = memory_model.predict(workloads.build_graph(name, depth), forgetting=False).peak
    assert measure.estimated_peak(name, depth) == exact


def test_a_case_that_cannot_fit_is_refused_before_it_runs(monkeypatch, capsys):
    monkeypatch.setattr(measure, "available_memory", lambda device: 2**30)
    monkeypatch.setattr(measure, "run", lambda *a: pytest.fail("the bench ran"))
    code = bench_cli.main(["--impl", "reference", "--only-impl", "--workloads", "elementwise",
                           "mlp", "--depth", "100000", "--sweep"])
    assert code == 2
    _one_line_error(capsys, "forget-bench: error: elementwise at depth 100000 needs about "
                            "12.2 GiB by the memory model; 1.0 GiB available on @numpy")


def test_a_compare_that_compared_nothing_is_not_a_pass(capsys):
    code = bench_cli.main(["--impl", "reference", *QUICK, "--depth", "3", "--compare",
                           str(BASELINE)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert ": 0 cases, 0 regressions" in err
    assert "forget-bench: nothing was compared" in err
    assert "gate: not measured: elementwise/per_layer/depth 8 on @numpy" in err


def test_every_clause_skipped_is_exit_3():
    skipped = [phase_report("t::a", "skipped", ["D1", "D2"], "GPU skipped", when="setup")]
    results = verdicts.aggregate(skipped, [], {"D1", "D2"})
    assert {r.status for r in results} == {"skip"}
    assert verdicts.nothing_checked(results) and verdicts.exit_code(results) == 3


def test_tests_not_run_are_errors_not_skips():
    records = [phase_report("t::a", "passed", ["D1"]),
               phase_report("t::b", "error", ["D1"], "not run, gave up after 3 crashes",
                            symptom="not-run")]  # as supervisor._not_run writes
    (d1,) = verdicts.aggregate(records, [], {"D1"})
    assert (d1.status, d1.detail) == ("error", "1/2 tests not run, gave up after 3 crashes")
    assert verdicts.exit_code([d1]) == 3
    junit = report.to_junit([d1], {"suite": "conformance"})
    assert '<error message="not run, gave up after 3 crashes" type="not-run"' in junit


def test_bench_without_a_usable_device_is_not_a_pass(monkeypatch, capsys):
    def no_device(device):
        raise RuntimeError("GPU skipped: no CUDA device")

    monkeypatch.setattr(bench_cli, "meter_for", no_device)
    assert bench_cli.main(["--impl", "reference", "--device", "gpu"]) == 3
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == \
        "forget-bench: nothing was measured: no selected device is usable"


def test_bench_interrupted_writes_nothing(monkeypatch, tmp_path, capsys):
    def interrupted(*args):
        os.kill(os.getpid(), signal.SIGINT)
        pytest.fail("the signal did not stop the run")

    monkeypatch.setattr(measure, "run", interrupted)
    out = tmp_path / "r.json"
    assert bench_cli.main(["--impl", "reference", *QUICK, "--json", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "forget-bench: interrupted"
    assert not out.exists()
