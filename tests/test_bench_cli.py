"""forget-bench's exit codes (0, 1, 2), its JSON, and the gate against broken variants.

No test here depends on real timings: those that run the CLI replace the timing
layer with synthetic rounds (``synthetic_timing``); memory is measured for real.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forget_conformance.bench import cli, gate, report, timing
from forget_conformance.bench.results import Row
from tests.bench_timing import Synthetic

BASELINE = Path(__file__).resolve().parents[1] / "bench" / "baselines" / "reference-cpu.json"
# elementwise at depth 8 is in the shipped baseline (the depth sweep); fast to run
QUICK = ["--workloads", "elementwise", "--depth", "8", "--sweep", "--repeats", "2",
         "--time-budget", "0.001", "--only-impl"]


@pytest.fixture
def synthetic_timing(monkeypatch) -> Synthetic:
    """forget-bench's timing layer replaced by a :class:`Synthetic` (adjust its fields)."""
    fake = Synthetic()
    monkeypatch.setattr(timing, "time_interleaved", fake)
    return fake


def test_reference_passes_its_own_baseline_and_writes_json(tmp_path, capsys,
                                                          synthetic_timing):
    out = tmp_path / "r.json"
    code = cli.main(["--impl", "reference", *QUICK, "--gate", "memory",
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


@pytest.mark.parametrize("variant,ratio", [
    ("keeps_graph", "retained_vs_plain"),
    ("copies_inputs", "retained_vs_model"),
])
def test_gate_flags_broken_variants(variant, ratio, capsys, synthetic_timing):
    code = cli.main(["--impl", f"tests.broken.variants:{variant}", *QUICK,
                     "--gate", "memory", "--compare", str(BASELINE)])
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


def _timed(value: float, low: float, high: float, rounds: int = 20) -> Row:
    row = _row(time_vs_plain=value)
    row.intervals = {"time_vs_plain": [low, high]}
    row.time_samples = [value] * rounds
    return row


@pytest.mark.parametrize("interval,kind", [
    ((1.70, 1.60, 1.80), None),  # wholly below 1.5 + 25% = 1.875
    ((1.85, 1.70, 1.95), gate.INCONCLUSIVE),  # straddles it
    ((2.00, 1.90, 2.10), gate.REGRESSION),  # wholly above
])
def test_time_is_judged_by_its_whole_interval(interval, kind):
    found = gate.compare([_timed(*interval)], [_row(time_vs_plain=1.5)])
    assert [f.kind for f in found] == ([kind] if kind else [])


def test_too_few_rounds_decide_nothing():
    """Under 6 rounds no interval reaches 95%: neither a regression nor implausible."""
    (found,) = gate.compare([_timed(2.0, 1.9, 2.1, rounds=5)], [_row(time_vs_plain=1.5)])
    assert found.kind == gate.INCONCLUSIVE and "--repeats 6 or more" in found.message
    fast = Row(impl="x", device="@numpy", workload="w", strategy="s", depth=1,
               time_samples=[0.8] * 5)
    fast.compute_ratios()
    assert fast.implausible() is None
    fast.time_samples = [0.8] * 6
    fast.compute_ratios()
    assert "faster than the plain path" in fast.implausible()


@pytest.mark.parametrize("mode,ratios", [
    ("memory", {"retained_vs_model"}), ("time", {"time_vs_plain"}),
    ("all", {"retained_vs_model", "time_vs_plain"}),
])
def test_gate_modes_choose_the_ratios(mode, ratios):
    base = [_row(retained_vs_model=1.0, time_vs_plain=1.5)]
    found = gate.compare([_row(retained_vs_model=1.5, time_vs_plain=3.0)], base, mode=mode)
    assert {f.ratio for f in found} == ratios


@pytest.mark.parametrize("env,mode", [({}, "all"), ({"CI": "true"}, "memory"),
                                      ({"CI": "false"}, "all")])
def test_default_gate_is_memory_on_ci_runners(monkeypatch, env, mode):
    monkeypatch.delenv("CI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert cli.default_gate() == mode


def test_json_is_written_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(ValueError):
        report.write_json(path, {"bad": float("nan")})
    assert path.read_text() == "old"
    report.write_json(path, {"ok": 1})
    assert json.loads(path.read_text()) == {"ok": 1}


# -- the gate under noise, with synthetic timings ------------------------------------------

def _baseline(tmp_path: Path, *extra: str) -> Path:
    base = tmp_path / "base.json"
    assert cli.main(["--impl", "reference", *QUICK, "--json", str(base), *extra]) == 0
    return base


def _gate(base: Path, *extra: str) -> int:
    return cli.main(["--impl", "reference", *QUICK, "--gate", "all", "--compare", str(base),
                     *extra])


def test_noisy_but_equal_time_is_not_a_regression(tmp_path, capsys, synthetic_timing):
    base = _baseline(tmp_path)
    synthetic_timing.jitter, synthetic_timing.load = 0.3, 6.0  # much noisier than before
    code = _gate(base)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "REGRESSION" not in err and ", 0 regressions" in err


def test_a_slower_implementation_is_a_time_regression_with_its_interval(
        tmp_path, capsys, synthetic_timing):
    base = _baseline(tmp_path)
    synthetic_timing.factor *= 1.5
    code = _gate(base)
    err = capsys.readouterr().err
    assert code == 1, err
    assert re.search(r"REGRESSION elementwise/per_layer/depth 8 on @numpy: time_vs_plain "
                     r"\d\.\d+ \[\d\.\d+, \d\.\d+\] > baseline \d\.\d+ \+ 25% = \d\.\d+", err)
    assert code == 1 and ", 3 regressions" in err
    assert _gate(base, "--gate", "memory") == 0  # time is not gated


def test_a_time_straddling_the_threshold_is_inconclusive_and_passes(
        tmp_path, capsys, synthetic_timing):
    base = _baseline(tmp_path)
    synthetic_timing.factor *= 1.25  # right at the threshold
    synthetic_timing.jitter = 0.3
    code = _gate(base)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "REGRESSION" not in err
    assert re.search(r"INCONCLUSIVE elementwise/\w+/depth 8 on @numpy: time_vs_plain \d\.\d+ "
                     r"\[\d\.\d+, \d\.\d+\] straddles baseline .*\(inconclusive: rerun\)", err)
    assert err.count("timing them again") == cli.TIME_RETRIES  # rounds pooled, then decided


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(w in err for w in words), err
    return err


def test_implausible_figures_are_not_written(tmp_path, capsys, synthetic_timing):
    synthetic_timing.factor = 0.6  # forget faster than the plain path: a broken clock
    out = tmp_path / "base.json"
    capsys.readouterr()
    assert cli.main(["--impl", "reference", *QUICK, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not writing" in err and "below 1: forget faster than the plain path" in err
    assert not out.exists()


@pytest.mark.parametrize("spoil,words", [
    (lambda row: row["intervals"].update(time_vs_plain=[0.5, 0.7]), ["faster than the plain"]),
    (lambda row: row.update(retained=row["predicted_retained"] // 2), ["below the model's floor"]),
])
def test_implausible_baselines_are_refused(tmp_path, capsys, synthetic_timing, spoil, words):
    base = _baseline(tmp_path)
    data = json.loads(base.read_text())
    spoil(next(r for r in data["rows"] if r["strategy"] == "every_2"))
    base.write_text(json.dumps(data))
    capsys.readouterr()
    assert _gate(base) == 2
    _one_line_error(capsys, "implausible", *words)


def test_baselines_of_the_old_schema_are_refused(tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema": "forget-bench/1", "gated_impl": "x", "rows": []}))
    assert _gate(old) == 2
    _one_line_error(capsys, "older forget-bench", "write it again")


def test_shipped_baselines_are_found_by_name_outside_a_checkout(
        tmp_path, monkeypatch, capsys, synthetic_timing):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--impl", "reference", *QUICK, "--gate", "memory",
                     "--compare", "reference-cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "(reference-cpu): 3 cases, 0 regressions" in err
    assert cli.main(["--impl", "reference", "--compare", "no-such-baseline"]) == 2
    _one_line_error(capsys, "'no-such-baseline' not found (shipped: reference-cpu)")
