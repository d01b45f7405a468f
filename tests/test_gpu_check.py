"""``forget_conformance.gpu_check`` (what ``.bundle/gpu-check.sh`` runs): usage errors, the
time limit, the files it leaves and its summary. The end-to-end dry run is in the README."""

from __future__ import annotations

import json
import sys

import pytest

from forget_conformance import devices, gpu_check


def test_gpu_run_without_a_gpu_is_a_usage_error(tmp_path, capsys):
    if devices.gpu_unavailable_reason() is None:
        pytest.skip("a GPU is present")
    assert gpu_check.main([str(tmp_path / "out"), "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device cpu" in err, err
    assert not (tmp_path / "out").exists()


def test_runs_are_logged_timed_out_and_summarised(tmp_path, monkeypatch):
    """A run past the time limit is stopped (exit 124); OUTDIR holds only the known files."""
    out = tmp_path / "out"
    fake = [("reference", [sys.executable, "-c", "", "--x"], None),
            ("bench", [sys.executable, "-c", "import time; print('t'); time.sleep(30)"],
             out / "bench.txt")]
    monkeypatch.setattr(gpu_check, "steps", lambda out, device: fake)
    monkeypatch.setattr(gpu_check, "TIME_LIMIT_S", 2)
    assert gpu_check.run(out, "cpu") == 1
    assert {p.name for p in out.iterdir()} <= set(gpu_check.FILES)
    summary = (out / "summary.md").read_text()
    assert "- reference: exit 0" in summary and "- bench: exit 124" in summary, summary
    assert "==== reference: --x" in (out / "log.txt").read_text()


def test_summary_tables_clauses_and_bench_ratios(tmp_path):
    versions = {"python": "3.12.1", "numpy": "2.5.5"}
    for impl, t1 in (("reference", "pass"), ("upstream", "xfail")):
        (tmp_path / f"{impl}.json").write_text(json.dumps({"versions": versions, "clauses": [
            {"id": "D1", "status": "pass"}, {"id": "T1", "status": t1}]}))
    rows = [{"error": None, "ratios": {"retained_vs_model": r, "peak_vs_model": p}}
            for r, p in ((1.0, 1.02), (0.998, 1.05))] + [{"error": "boom", "ratios": {}}]
    (tmp_path / "bench.json").write_text(json.dumps({"rows": rows}))
    text = gpu_check.summary(tmp_path, "cpu", [("reference", 0, 12.5)])
    for line in ("- reference: exit 0, 12.5 s", "versions: python 3.12.1, numpy 2.5.5",
                 "| D1 | pass | pass |", "| T1 | pass | xfail |",
                 "bench: 3 rows, 1 failed; kept/model 0.9980-1.0000, peak/model 1.0200-1.0500"):
        assert line in text, text
