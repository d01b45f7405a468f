"""The suite rejects every deliberately broken implementation, on the clauses expected.

Each variant's run goes through the runner (the child pytest the CLI uses) and the
verdict logic; two go through the CLI itself, for its exit code and closing line. The
default run proves each variant's primary clause with that clause's tests alone
(``--clause``); the nightly run (``-m slow``) runs the whole suite on each and pins the
exact set of failing clauses.
"""

import pytest

from forget_conformance import catalogue, supervisor, verdicts
from tests.broken import variants
from tests.helpers import failing, run_cli

#: Variants also judged through the CLI (one per level).
THROUGH_CLI = ("scaled_arg_grads", "callable_unchecked")


def _level(name: str) -> str:
    return "drop-in" if variants.EXPECTED[name][0] == "U1" else "contract"


@pytest.mark.parametrize("name", sorted(set(variants.EXPECTED) - set(THROUGH_CLI)))
def test_rejected_on_its_primary_clause(name):
    """The default run's proof of each detection: the primary clause's tests alone."""
    primary, _ = variants.EXPECTED[name]
    outcome = supervisor.run(supervisor.RunOptions(
        impl=f"tests.broken.variants:{name}", device="cpu", level=_level(name),
        clauses=[primary]))
    results = [r for r in verdicts.aggregate(outcome.records, []) if r.id == primary]
    assert [r.status for r in results] == ["fail"], f"{name}: {primary} does not fail"
    assert verdicts.exit_code(results) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(variants.EXPECTED) - set(THROUGH_CLI)))
def test_rejected_with_expected_clauses(name):
    """The whole suite: exactly the expected clauses fail (nightly)."""
    primary, expected = variants.EXPECTED[name]
    outcome = supervisor.run(supervisor.RunOptions(
        impl=f"tests.broken.variants:{name}", device="cpu", level=_level(name)))
    results = verdicts.aggregate(outcome.records, [])
    got = {r.id for r in results if r.status == "fail"}
    assert primary in got, f"{name}: {primary} not among failing clauses {sorted(got)}"
    assert got == expected, f"{name}: failing clauses {sorted(got)}, expected {sorted(expected)}"
    assert verdicts.exit_code(results) == 1


@pytest.mark.parametrize("name", THROUGH_CLI)
def test_cli_rejects_with_expected_clauses(name, tmp_path):
    primary, expected = variants.EXPECTED[name]
    path = tmp_path / "report.json"
    proc = run_cli("--impl", f"tests.broken.variants:{name}", "--report-json", str(path),
                   "--level", _level(name), "--no-upstream-oracle")  # oracle: test_verdicts_cli
    assert proc.returncode == 1, proc.stdout + proc.stderr
    got = failing(path)
    assert got == expected, f"{name}: failing clauses {sorted(got)}, expected {sorted(expected)}"
    order = [c.id for c in catalogue.CLAUSES]
    assert f"does not conform: {', '.join(sorted(got, key=order.index))}" in proc.stdout


def test_every_broken_variant_is_listed():
    exported = {n for n, v in vars(variants).items() if callable(v) and not n.startswith("_")
                and v.__module__ == variants.__name__ and n not in {"EXPECTED"}}
    assert exported == set(variants.EXPECTED)
    assert len(exported) >= 12
