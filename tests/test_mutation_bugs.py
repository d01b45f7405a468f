"""The mutation-gap tests reject each broken variant of ``tests/broken/mutation_bugs.py``.

One in-process pytest run per variant over ``conformance/test_mutation_gaps.py``
(not a CLI run of the whole suite); the verdicts come from ``report.aggregate``.
"""

import json
from pathlib import Path

import pytest

from forget_conformance import report
from tests.broken import mutation_bugs
from tests.helpers import ROOT

GAPS = ROOT / "conformance" / "test_mutation_gaps.py"


def _failing(target: str, tmp_path: Path) -> set[str]:
    results = tmp_path / "results.jsonl"
    code = pytest.main([str(GAPS), "-q", "-p", "no:cacheprovider", "--forget-impl", target,
                        "--forget-device", "cpu", "--forget-results", str(results)])
    assert code in (0, 1), f"pytest exited {code}"
    records = [json.loads(line) for line in results.read_text().splitlines()]
    verdicts = report.aggregate(records, {}, {c for r in records for c in r.get("clauses", [])})
    return {v.id for v in verdicts if v.status == "fail"}


@pytest.mark.parametrize("name", sorted(mutation_bugs.EXPECTED))
def test_rejected_on_expected_clauses(name, tmp_path):
    assert _failing(f"tests.broken.mutation_bugs:{name}", tmp_path) == mutation_bugs.EXPECTED[name]


def test_every_variant_is_listed():
    exported = {n for n, v in vars(mutation_bugs).items()
                if not n.startswith("_") and getattr(v, "__name__", None) == "forget"}
    assert exported == set(mutation_bugs.EXPECTED)
