"""Fuzz campaigns and shards (issue 18): options, disjoint seeds, shared example databases,
the regression corpus replayed first, and a short campaign end to end (slow)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forget_conformance import campaign, impl, outputs, profiles
from forget_conformance.fuzz import corpus, oracle, property_runner, targets
from forget_conformance.fuzz.coverage import FEATURES
from tests.helpers import ROOT, run_cli

#: Drops the loss scale of parameters inside the segment: the loss_scale target catches it.
PLANTED = "tests.broken.variants:loss_scale_dropped"


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800),
                                           ("2h", 7200), ("1h30m", 5400), ("0.5", 0.5)])
def test_durations(text, seconds):
    assert campaign.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "2x", "h", "1.5.5", "10 20", "1h30"])
def test_bad_durations(text):
    with pytest.raises(argparse.ArgumentTypeError):
        campaign.parse_duration(text)


def test_shards():
    assert campaign.parse_shard("1/4") == (1, 4)
    for bad in ("0/4", "5/4", "a/b", "1", "1/0"):
        with pytest.raises(argparse.ArgumentTypeError):
            campaign.parse_shard(bad)


@pytest.mark.parametrize("args, says", [
    (["--suite", "fuzz", "--duration", "2x"], "--duration"),
    (["--suite", "fuzz", "--shard", "5/4"], "--shard"),
    (["--duration", "10"], "needs --suite fuzz"),
    (["--suite", "fuzz", "--workers", "2"], "needs --duration"),
    (["--suite", "fuzz", "--duration", "10", "--jobs", "2"], "use --workers"),
])
def test_usage_errors_are_one_line_exit_2(args, says):
    proc = run_cli("--impl", "reference", *args, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr


def test_seeds_are_disjoint_across_shards_workers_and_chunks():
    seeds = [campaign.chunk_seed(7, campaign.stream((i, 4), w), c)
             for i in range(1, 5) for w in range(3) for c in range(200)]
    assert len(set(seeds)) == len(seeds)
    assert campaign.chunk_seed(7, 0, 0) != campaign.chunk_seed(8, 0, 0)  # --seed moves them


def test_totals_sum_workers_and_list_features_never_reached(tmp_path):
    stats = []
    for w, hits in enumerate(({"nested": 3}, {"nested": 1, "float16": 2})):
        path = tmp_path / f"stats-{w}.jsonl"
        lines = [{"test": "differential[@numpy]", "examples": n, "failed": False,
                  "seconds": 1, "features": hits} for n in (5, 10)]  # running totals: last wins
        path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"cut sho')
        stats.append(campaign.read_stats(path))
    total = campaign.totals(stats)
    assert total["graphs"] == 20 and total["per_test"] == {"differential[@numpy]": 20}
    assert total["features"]["nested"] == 4 and total["features"]["float16"] == 2
    assert "20 graphs, 2.0 graphs/s, 2/14 features, 0 failures" in campaign.progress_line(
        total, 10)


def test_a_worker_runs_chunks_with_fresh_seeds_until_its_share_is_spent(monkeypatch, tmp_path):
    stats = tmp_path / "stats.jsonl"
    monkeypatch.setenv(campaign.ENV_UNTIL, repr(time.time() + 3))
    monkeypatch.setenv(campaign.ENV_STATS, str(stats))
    monkeypatch.setenv(property_runner.ENV_MAX_EXAMPLES, "3")
    seeds = []
    real = property_runner.fuzz
    monkeypatch.setattr(property_runner, "fuzz", lambda *a, **k: (
        seeds.append(k["seed"]), real(*a, **k))[1])
    log = property_runner.FuzzLog()
    examples = targets.run("differential", impl.resolve("reference"), "@numpy", log,
                           tests_left=2)  # half of the time left: about 1.5 s
    assert len(seeds) >= 1 and len(set(seeds)) == len(seeds)
    assert examples == log.progress.count == 3 * len(seeds)
    last = campaign.read_stats(stats)["differential[@numpy]"]
    assert last["examples"] == examples and not last["failed"]
    assert sum(last["features"].values()) > 0


def _draws(monkeypatch, check: str) -> list:
    """The graphs the oracle's ``check`` is run on, in order."""
    seen: list = []
    real = oracle.CHECKS[check]
    monkeypatch.setitem(oracle.CHECKS, check, lambda g, *a: (seen.append(g), real(g, *a))[1])
    return seen


def _run_shard(index: int | None, log: property_runner.FuzzLog) -> None:
    """The loss_scale target on the planted bug: shard ``index`` of 2 (None: a ci run)."""
    target = targets.TARGETS["loss_scale"]
    seed = None if index is None else campaign.chunk_seed(0, campaign.stream((index, 2), 0), 0)
    with pytest.raises(AssertionError):
        property_runner.fuzz(target.check, target.strategy, impl.resolve(PLANTED), "@numpy",
                             target.base_examples, target.name, log, seed=seed, examples=50)


def test_a_failure_one_shard_finds_is_replayed_first_by_the_other_and_by_ci(
        monkeypatch, tmp_path):
    monkeypatch.setenv(outputs.ENV_DATABASE, str(tmp_path / "shared-db"))
    monkeypatch.setenv(outputs.ENV_FAILURES, str(tmp_path / "failures"))
    monkeypatch.setenv(corpus.ENV_CORPUS, str(tmp_path / "corpus"))
    monkeypatch.setattr(corpus, "SHIPPED", tmp_path / "no-shipped-corpus")
    seen = _draws(monkeypatch, "loss_scale")
    _run_shard(1, property_runner.FuzzLog())
    found = seen[-1]  # hypothesis runs the shrunk failure last
    entries = sorted(p.suffix for p in (tmp_path / "corpus").iterdir())
    assert entries == [".json", ".py"]  # the example, and its reproducer script
    doc = json.loads(next((tmp_path / "corpus").glob("*.json")).read_text())
    assert doc["target"] == "loss_scale" and doc["clause"] == "T1" and doc["found_on"] == (
        "tests.broken.variants:loss_scale_dropped")
    # Shard 2 draws other graphs; the shared database gives it shard 1's failure first.
    # (A fresh seed's first draw is the simplest graph, which has no segment.)
    seen.clear()
    log = property_runner.FuzzLog()
    _run_shard(2, log)
    assert seen[0] == found and log.progress.first_failure == 1
    # The next ci run (derandomized: it replays no database) replays the corpus first.
    seen.clear()
    monkeypatch.setenv(outputs.ENV_DATABASE, str(tmp_path / "fresh-db"))
    monkeypatch.setattr(profiles, "_current", "ci")
    log = property_runner.FuzzLog()
    _run_shard(None, log)
    assert seen[0] == found and log.progress.first_failure == 1


def test_corpus_write_off_adds_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(corpus.ENV_CORPUS, str(tmp_path / "c"))
    assert corpus.add("differential", b"x", None, {}) is not None
    monkeypatch.setenv(corpus.ENV_WRITE, "0")  # the upstream oracle's reruns
    assert corpus.add("differential", b"y", None, {}) is None
    assert corpus.examples("differential", [tmp_path / "c"]) == [b"x"]


def test_corpus_entries_that_do_not_parse_are_skipped(tmp_path):
    (tmp_path / "differential-x.json").write_text("{not json")
    (tmp_path / "differential-y.json").write_text(json.dumps({"target": "differential",
                                                              "example": "AAAA"}))
    (tmp_path / "loss_scale-z.json").write_text(json.dumps({"target": "loss_scale",
                                                            "example": "AQID"}))
    assert corpus.examples("differential", [tmp_path]) == [b"\0\0\0"]


def test_the_shipped_corpus_holds_entries_for_the_fuzz_targets():
    entries = [json.loads(p.read_text()) for p in corpus.SHIPPED.glob("*.json")]
    assert entries and {e["target"] for e in entries} <= set(targets.TARGETS)
    assert all((corpus.SHIPPED / e["reproducer"]).exists() for e in entries)


@pytest.mark.slow
def test_short_campaign_on_the_reference(tmp_path):
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    report = out / "campaign.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for key in (outputs.ENV_DATABASE, outputs.ENV_FAILURES, outputs.ENV_HYPOTHESIS):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "forget_conformance.cli", "--impl", "reference", "--suite",
         "fuzz", "--duration", "20s", "--workers", "2", "--output-dir", str(out),
         "--report-json", str(report)], cwd=cwd, env=env, text=True, capture_output=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cwd.iterdir()) == []
    summary = json.loads(report.read_text())["campaign"]
    assert summary["workers"] == 2 and summary["graphs"] > 0 and summary["failures"] == 0
    assert set(summary["features"]) == set(FEATURES)
    assert summary["features_never_reached"] == [f for f in FEATURES
                                                 if not summary["features"][f]]
    assert "graphs per feature:" in proc.stdout and "[campaign" in proc.stderr
    assert Path(summary["database"]).is_relative_to(out)


#: The fuzz test that runs each target (``fuzz/test_fuzz_graphs.py``), as deviations name it.
TESTS = {"differential": "test_forget_matches_plain_graph[cpu]",
         "shared_parameters": "test_shared_parameters_accumulate[cpu]",
         "loss_scale": "test_loss_scaled_step_updates_like_plain[cpu]",
         "eval_forward": "test_recompute_uses_forward_config[cpu]"}


@pytest.mark.parametrize("entry", sorted(p.name for p in corpus.SHIPPED.glob("*.json")))
def test_shipped_corpus_fails_upstream_as_declared_and_passes_on_the_reference(entry):
    from forget_conformance import deviations, symptoms
    from forget_conformance.catalogue import ClauseViolation

    doc = json.loads((corpus.SHIPPED / entry).read_text())
    spec = targets.TARGETS[doc["target"]]
    graph = corpus.draw(corpus.examples(spec.name, [corpus.SHIPPED])[0], spec.strategy)
    assert graph is not None, "the entry no longer decodes: regenerate the corpus"
    with pytest.raises(ClauseViolation) as failure:
        oracle.CHECKS[spec.check](graph, impl.resolve("chainer").forget, "@numpy")
    clause, symptom = failure.value.clause_id, symptoms.of(failure.value)
    assert any(e.matches(clause, TESTS[spec.name], symptom)
               for e in deviations.load("chainer-7.8.1")), (clause, symptom)
    oracle.CHECKS[spec.check](graph, impl.resolve("reference").forget, "@numpy")


def test_each_graph_is_labelled_with_its_features(monkeypatch):
    import hypothesis

    from forget_conformance.fuzz import coverage

    events: list[str] = []
    monkeypatch.setattr(hypothesis, "event", lambda value, payload="": events.append(value))
    counted = coverage.Coverage()
    real_add = coverage.Coverage.add
    monkeypatch.setattr(coverage.Coverage, "add", lambda self, g: (
        real_add(counted, g), real_add(self, g))[1])
    spec = targets.TARGETS["differential"]
    property_runner.fuzz(spec.check, spec.strategy, impl.resolve("reference"), "@numpy",
                         spec.base_examples, spec.name, examples=20)
    labelled = [e.removeprefix(coverage.EVENT_PREFIX) for e in events]
    assert all(e.startswith(coverage.EVENT_PREFIX) for e in events) and labelled
    assert sorted(labelled) == sorted(f for f, n in counted.hits.items() for _ in range(n))


@pytest.mark.slow
def test_properties_module_runs_under_plain_pytest(tmp_path):
    """The module-level @given tests a coverage-guided fuzzer would drive."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env[outputs.ENV_DATABASE] = str(tmp_path / "db")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "fuzz" / "properties.py"), "-q",
         "-p", "no:cacheprovider", "-p", "no:benchmark", "--forget-impl",
         "tests.broken.variants:loss_scale_dropped", "--hypothesis-profile", "default",
         "-k", "loss_scale", "--hypothesis-show-statistics"],
        cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300)
    assert "1 failed, 3 deselected" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "graph feature: " in proc.stdout  # the labels, in hypothesis' statistics
