"""The conformance tests for result shapes, numeric extremes, size and memory after
backward reject each broken variant of ``tests.broken.shape_bugs`` on exactly the
clauses expected. (The reference passes them in the project's own test run.)

Each variant runs the conformance tests of its class in-process (``pytest.main``
with the plug-in's ``--forget-results``, aggregated by ``report``), not through the
CLI; plug-ins that only slow a nested run down are left out.
"""

from __future__ import annotations

import json

import pytest

from forget_conformance import suites, verdicts
from tests.broken import shape_bugs

QUIET = ["-q", "-p", "no:randomly", "-p", "no:benchmark", "-p", "no:unraisableexception",
         "-p", "no:threadexception"]


def failing_clauses(target: str, selection: str, tmp_path) -> set[str]:
    """Run conformance tests (``selection`` in that folder) against ``target``; the
    clauses that fail."""
    (folder,) = suites.paths("conformance")
    results = tmp_path / "results.jsonl"
    code = pytest.main([f"{folder}/{selection}", *QUIET, "--forget-impl", target,
                        "--forget-device", "cpu", "--forget-results", str(results)])
    assert code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), f"pytest exit {code}"
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert records, f"no test ran for {selection}"
    return {r.id for r in verdicts.aggregate(records, []) if r.status == "fail"}


@pytest.mark.parametrize("name", sorted(shape_bugs.EXPECTED))
def test_rejected_on_expected_clauses(name, tmp_path):
    selection, expected = shape_bugs.EXPECTED[name]
    got = failing_clauses(f"tests.broken.shape_bugs:{name}", selection, tmp_path)
    assert got == expected, f"{name} in {selection}: failing {sorted(got)}, " \
                            f"expected {sorted(expected)}"


def test_every_variant_is_listed():
    exported = {n for n, v in vars(shape_bugs).items() if callable(v) and not n.startswith("_")
                and getattr(v, "__module__", None) == shape_bugs.__name__}
    assert exported == set(shape_bugs.EXPECTED)
    modules = {selection.split("::")[0] for selection, _ in shape_bugs.EXPECTED.values()}
    assert modules == {"test_result_shapes.py", "test_numeric_extremes.py", "test_size.py",
                       "test_memory.py"}
