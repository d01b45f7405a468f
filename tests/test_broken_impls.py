"""The CLI rejects every deliberately broken implementation, on the clauses expected."""

import pytest

from tests.broken import variants
from tests.helpers import failing, run_cli


@pytest.mark.parametrize("name", sorted(variants.EXPECTED))
def test_rejected_with_expected_clauses(name, tmp_path):
    primary, expected = variants.EXPECTED[name]
    report = tmp_path / "report.json"
    level = "drop-in" if primary == "U1" else "contract"
    proc = run_cli("--impl", f"tests.broken.variants:{name}", "--report-json", str(report),
                   "--level", level, "--no-upstream-oracle")  # oracle: test_verdicts_cli.py
    assert proc.returncode == 1, proc.stdout + proc.stderr
    got = failing(report)
    assert primary in got, f"{name}: {primary} not among failing clauses {sorted(got)}"
    assert got == expected, f"{name}: failing clauses {sorted(got)}, expected {sorted(expected)}"
    assert f"does not conform: {', '.join(sorted(got, key=_order))}" in proc.stdout


def _order(clause_id):
    from forget_conformance import catalogue

    return [c.id for c in catalogue.CLAUSES].index(clause_id)


def test_every_broken_variant_is_listed():
    exported = {n for n, v in vars(variants).items() if callable(v) and not n.startswith("_")
                and v.__module__ == variants.__name__ and n not in {"EXPECTED"}}
    assert exported == set(variants.EXPECTED)
    assert len(exported) >= 12
