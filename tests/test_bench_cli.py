"""forget-bench's exit codes (0, 1, 2), its JSON, and the gate against broken variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forget_conformance.bench import cli, gate, measure, report, timing
from forget_conformance.bench.results import Row

BASELINE = Path(__file__).resolve().parents[1] / "bench" / "baselines" / "reference-cpu.json"
# elementwise at depth 8 is in the shipped baseline (the depth sweep); fast to run
QUICK = ["--workloads", "elementwise", "--depth", "8", "--sweep", "--repeats", "2",
         "--time-budget", "0.001", "--only-impl"]


def test_reference_passes_its_own_baseline_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = cli.main(["--impl", "reference", *QUICK, "--max-regression", "1000",
                     "--json", str(out), "--compare", str(BASELINE)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "[1/1] @numpy elementwise depth 8" in err  # progress
    impl, rows = report.read_report(out)
    assert impl == "reference"
    assert {r.strategy for r in rows} == {"plain", "per_layer", "every_2", "sqrt_n"}
    assert all(r.ratios["retained_vs_model"] == 1.0 for r in rows)
    assert all(0.9 <= r.ratios["peak_vs_model"] <= 1.1 for r in rows)
    assert not list(tmp_path.glob(".*tmp"))  # the temp file was renamed away


def _slowed(monkeypatch, calls: int):
    """Make the gated implementation look twice as slow in the first ``calls`` timings."""
    real, seen = measure.time_strategy, []

    def time_strategy(*args, **kwargs):
        times = real(*args, **kwargs)
        seen.append(1)
        if len(seen) <= calls:
            t = times["reference"]
            times["reference"] = timing.StepTimes(2 * t.forward, 2 * t.backward)
        return times

    monkeypatch.setattr(measure, "time_strategy", time_strategy)


def test_a_slow_timing_that_does_not_repeat_passes(monkeypatch, capsys):
    _slowed(monkeypatch, calls=1)  # per_layer only, and only the first time
    code = cli.main(["--impl", "reference", *QUICK, "--max-regression", "60",
                     "--compare", str(BASELINE)])
    err = capsys.readouterr().err
    assert "1 case(s) over the time threshold; timing them again" in err
    assert code == 0, err


def test_a_slowdown_that_repeats_fails(monkeypatch, capsys):
    _slowed(monkeypatch, calls=100)
    code = cli.main(["--impl", "reference", *QUICK, "--max-regression", "60",
                     "--compare", str(BASELINE)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("timing them again") == gate.TIME_RETRIES
    assert ": time_vs_plain " in err


@pytest.mark.parametrize("variant,ratio", [
    ("keeps_graph", "retained_vs_plain"),
    ("copies_inputs", "retained_vs_model"),
])
def test_gate_flags_broken_variants(variant, ratio, capsys):
    code = cli.main(["--impl", f"tests.broken.variants:{variant}", *QUICK,
                     "--max-regression", "1000", "--compare", str(BASELINE)])
    err = capsys.readouterr().err
    assert code == 1
    assert f": {ratio} " in err


@pytest.mark.parametrize("args,message", [
    (["--impl", "no_such_module:forget"], "cannot import module"),
    (["--impl", "reference", "--workloads", "bogus"], "unknown workload 'bogus'"),
    (["--impl", "reference", "--compare", "/nonexistent/base.json"], "cannot read baseline"),
])
def test_usage_errors_exit_2_with_one_line(args, message, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unparseable_baseline_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["--impl", "reference", "--compare", str(bad)]) == 2


def _row(**ratios) -> Row:
    return Row(impl="x", device="@numpy", workload="w", strategy="s", depth=1, ratios=ratios)


def test_gate_thresholds_memory_tight_time_loose():
    base = [_row(retained_vs_model=1.0, time_vs_plain=1.5)]
    assert gate.compare([_row(retained_vs_model=1.01, time_vs_plain=1.85)], base) == []
    found = gate.compare([_row(retained_vs_model=1.03, time_vs_plain=1.9)], base)
    assert {f.ratio for f in found} == {"retained_vs_model", "time_vs_plain"}


def test_json_is_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(ValueError):
        report.write_json(path, {"bad": float("nan")})
    assert path.read_text() == "old"
    report.write_json(path, {"ok": 1})
    assert json.loads(path.read_text()) == {"ok": 1}
