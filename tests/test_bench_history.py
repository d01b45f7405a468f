"""forget-bench's history: lines appended per run, and the HTML page drawn from them."""

from __future__ import annotations

import json
import re

import pytest

from forget_conformance.bench import cli, history, timing
from forget_conformance.bench.results import Row
from tests.bench_timing import Synthetic

CASES = [("elementwise", "per_layer"), ("elementwise", "sqrt_n"), ("mlp", "every_2")]


def _row(workload: str, strategy: str, kept: float, time: float, spread: float = 0.05) -> Row:
    row = Row(impl="reference", device="@numpy", workload=workload, strategy=strategy, depth=8,
              retained=int(1000 * kept), predicted_retained=1000, peak=1100,
              predicted_peak=1000, ratios={"retained_vs_model": kept, "peak_vs_model": 1.1,
                                           "time_vs_plain": time})
    row.intervals = {"time_vs_plain": [time - spread, time + spread]}
    return row


def _three_commits(path) -> None:
    """aaa and bbb alike (within noise); ccc keeps 20% more on elementwise/per_layer
    and is 50% slower on mlp/every_2."""
    for commit, kept, slow in (("aaa1111", 1.0, 1.0), ("bbb2222", 1.0, 1.03),
                               ("ccc3333", 1.2, 1.5)):
        rows = [_row(w, s, kept if s == "per_layer" else 1.0,
                     1.4 * (slow if w == "mlp" else 1.0)) for w, s in CASES]
        history.append(path, rows, commit, date=f"2026-01-0{len(commit)}T00:00:00+00:00")


def test_the_page_has_a_plot_per_series_and_marks_steps_with_their_commit(tmp_path, capsys):
    path, page = tmp_path / "history.jsonl", tmp_path / "out" / "history.html"
    _three_commits(path)
    assert len(path.read_text().splitlines()) == 9  # one line per case and run
    assert cli.main(["history", str(path), "--html", str(page)]) == 0
    assert "3 commits, 3 series" in capsys.readouterr().out
    text = page.read_text()
    for workload, strategy in CASES:
        title = f"{workload} / {strategy} / depth 8"
        assert re.search(rf'<img alt="{title}[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+',
                         text), title
    steps = re.findall(r'<tr class="step"><td>(\w+)</td><td>([^<]+)</td><td>([^<]+)</td>', text)
    assert sorted((c, t.split(" —")[0], r) for c, t, r in steps) == [
        ("ccc3333", "elementwise / per_layer / depth 8", "kept/model"),
        ("ccc3333", "mlp / every_2 / depth 8", "time/plain"),
    ]  # bbb2222's 3% time move is within its interval: no step
    assert not re.search(r"https?:|<script|<link|src=\"(?!data:)", text)  # self-contained
    for commit in ("aaa1111", "bbb2222", "ccc3333"):
        assert commit in text


def test_a_change_within_the_interval_is_not_a_step():
    a = history.Point("a", 1.40, 1.20, 1.60)
    assert history.steps((), "time_vs_plain", [a, history.Point("b", 1.58, 1.50, 1.70)]) == []
    assert history.steps((), "time_vs_plain", [a, history.Point("b", 1.80, 1.65, 1.95)])
    assert history.steps((), "peak_vs_model", [history.Point("a", 1.0, 1.0, 1.0),
                                               history.Point("b", 1.02, 1.02, 1.02)])


def test_runs_append_to_the_history_with_their_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(timing, "time_interleaved", Synthetic())
    path = tmp_path / "h.jsonl"
    args = ["--impl", "reference", "--only-impl", "--workloads", "elementwise", "--depth", "4",
            "--sweep", "--history", str(path)]
    assert cli.main([*args, "--commit", "abc123"]) == 0
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["strategy"] for r in records] == ["per_layer", "every_2", "sqrt_n"]
    first = records[0]
    assert first["commit"] == "abc123" and first["device"] == "@numpy"
    assert first["versions"]["chainer"] == "7.8.1"
    assert set(first["ratios"]) >= {"retained_vs_model", "peak_vs_model", "time_vs_plain"}
    low, high = first["intervals"]["time_vs_plain"]
    assert low <= first["ratios"]["time_vs_plain"] <= high


def test_history_usage_errors(tmp_path, capsys):
    assert cli.main(["history", "/nonexistent.jsonl", "--html", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "cannot read history" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        cli.main(["history", "PATH"])
    assert exit_.value.code == 2 and "--html" in capsys.readouterr().err


def test_history_needs_a_commit_outside_a_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(history, "git_commit", lambda cwd=None: None)
    assert cli.main(["--impl", "reference", "--history", "h.jsonl"]) == 2
    assert "pass --commit" in capsys.readouterr().err
