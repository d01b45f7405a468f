"""`dev.py mutate` bookkeeping: ids, sampling, equivalent file, score, JSON; no mutant runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forget_conformance import mutation, supervisor

SOURCE = '''\
def first(a, b):
    return a + b


class K:
    def second(self, a):
        return a - 1 + 2
'''
# (operator, cosmic-ray occurrence, line, col) as cosmic-ray would report them for SOURCE.
POINTS = [("core/ReplaceBinaryOperator_Add_Sub", 0, 2, 11),
          ("core/ReplaceBinaryOperator_Add_Sub", 1, 7, 15),
          ("core/NumberReplacer", 0, 7, 19),
          ("core/NumberReplacer", 1, 7, 23)]


def _outcome(mutant_id: str, verdict: str) -> mutation.Outcome:
    return mutation.Outcome(mutation.Mutant(mutant_id, "core/AddNot", 0, 3, 4), verdict, 1.0,
                            "- a\n+ not a", "90 s" if verdict == "timeout" else "")


def test_ids_name_operator_definition_and_rank_and_survive_edits_elsewhere():
    ids = [m.id for m in mutation.enumerate_mutants(SOURCE, POINTS)]
    assert ids == ["core/ReplaceBinaryOperator_Add_Sub@first#0",
                   "core/ReplaceBinaryOperator_Add_Sub@K.second#0",
                   "core/NumberReplacer@K.second#0", "core/NumberReplacer@K.second#1"]
    edited = "import os\n\n\n" + SOURCE  # three lines inserted above everything
    shifted = [(op, occ, line + 3, col) for op, occ, line, col in POINTS]
    assert [m.id for m in mutation.enumerate_mutants(edited, shifted)] == ids


def test_sample_is_deterministic_stratified_by_line_and_bounded():
    # 10 lines; line 1 holds 50 mutation points, the others 5 each.
    mutants = [mutation.Mutant(f"op@f#{i}", "op", i, 1 if i < 50 else 2 + (i - 50) // 5, 0)
               for i in range(95)]
    picked = mutation.sample(mutants, 20)
    assert picked == mutation.sample(list(mutants), 20)
    assert len(set(picked)) == 20 and picked == sorted(picked, key=mutants.index)
    per_line = [sum(m.line == line for m in picked) for line in range(1, 11)]
    assert per_line == [2] * 10
    assert len({m.line for m in mutation.sample(mutants, 4)}) == 4
    assert mutation.sample(mutants, 500) == mutants == mutation.sample(mutants, None)
    with pytest.raises(mutation.MutationError):
        mutation.sample(mutants, 0)


def test_score_is_killed_over_non_equivalent():
    assert mutation.score(9, 12, 2) == pytest.approx(0.9)
    assert mutation.score(0, 3, 3) is None


def test_summary_counts_and_survivor_reasons():
    equivalent = {"eq@f#0": "only reorders a dict"}
    outcomes = [_outcome("k@f#0", "killed"), _outcome("eq@f#0", "survived"),
                _outcome("s@f#0", "survived"), _outcome("t@f#0", "timeout")]
    result = json.loads(json.dumps(mutation.summary(outcomes, equivalent)))
    assert set(result) == {"tool", "mutants", "killed", "survived", "timeout", "equivalent",
                           "score", "survivors"}
    assert result["tool"].startswith("cosmic-ray ")
    assert (result["mutants"], result["killed"], result["survived"], result["timeout"],
            result["equivalent"]) == (4, 1, 2, 1, 1)
    assert result["score"] == pytest.approx(1 / 3, abs=1e-4)
    reasons = {s["id"]: s["reason"] for s in result["survivors"]}
    assert reasons == {"eq@f#0": "equivalent: only reorders a dict",
                       "s@f#0": "survived: every conformance test passed",
                       "t@f#0": "timeout: no verdict within 90 s"}
    assert all(set(s) == {"id", "location", "diff", "reason"} for s in result["survivors"])


@pytest.mark.parametrize("text", ["no-argument-here", "a@f#0:", "two words: x",
                                  "a@f#0: x\na@f#0: y"])
def test_equivalent_file_rejects_malformed_lines(text):
    with pytest.raises(mutation.MutationError):
        mutation.parse_equivalent(text)


def test_checked_in_equivalent_mutants_exist_in_the_reference(tmp_path: Path):
    listed = mutation.parse_equivalent(mutation.equivalent_file().read_text(encoding="utf-8"))
    source_path = mutation.reference_dir() / mutation.SOURCE_NAME
    source = source_path.read_text(encoding="utf-8")
    mutants = mutation.enumerate_mutants(source, mutation._cosmic_points(tmp_path, source_path))
    assert len({m.id for m in mutants}) == len(mutants)
    assert set(listed) <= {m.id for m in mutants}
    one = next(m for m in mutants if m.id in listed) if listed else mutants[0]
    assert mutation._diff(source, mutation._mutate(source, one)).startswith("-")


@pytest.mark.parametrize("argv", [["--max-mutants", "0"], ["--jobs", "0"],
                                  ["--only", "core/AddNot@nowhere#0"]])
def test_usage_errors_are_one_line_and_exit_2(capsys, monkeypatch, argv):
    monkeypatch.setattr(mutation, "_cosmic_points", lambda workdir, module: [])
    assert mutation.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dev.py mutate: error: ") and "\n" not in err


def test_fail_fast_reaches_pytest():
    opts = supervisor.RunOptions(impl="forget_conformance.reference:forget", fail_fast=True)
    assert "-x" in supervisor._command(opts, Path("r.jsonl"), [])
    plain = supervisor.RunOptions(impl=opts.impl)
    assert "-x" not in supervisor._command(plain, Path("r.jsonl"), [])
