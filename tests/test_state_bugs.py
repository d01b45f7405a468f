"""The state, modes and config-source conformance tests reject every variant in state_bugs.

One in-process pytest session per variant, over those three modules only (no CLI run).
"""

import ast
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from forget_conformance import suites, supervisor, verdicts
from tests.broken import state_bugs

SUITE_INI = Path(supervisor.__file__).with_name("suite.ini")


def _suite_files() -> list[Path]:
    (folder,) = suites.paths("conformance")
    return [folder / name for name in state_bugs.FILES]


def _run(name: str, results: Path) -> list[dict]:
    files = _suite_files()
    args = [*map(str, files), "--rootdir", str(files[0].parent), "-c", str(SUITE_INI),
            "-q", "--no-header", "--tb=no", "-p", "no:cacheprovider", "--forget-device", "cpu",
            "--forget-impl", f"tests.broken.state_bugs:{name}", "--forget-results", str(results)]
    with redirect_stdout(io.StringIO()) as out:
        code = pytest.main(args)
    assert code == pytest.ExitCode.TESTS_FAILED, f"{name}: pytest exit {code}\n{out.getvalue()}"
    return [json.loads(line) for line in results.read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(state_bugs.EXPECTED))
def test_rejected_on_expected_clauses_and_tests(name, tmp_path):
    clauses, tests = state_bugs.EXPECTED[name]
    records = _run(name, tmp_path / "results.jsonl")
    failing = {c.id for c in verdicts.aggregate(records, []) if c.status == "fail"}
    failed_tests = {r["nodeid"].split("::")[-1].split("[")[0] for r in records
                    if r.get("status") == "failed"}
    assert failing == clauses, f"{name}: failing clauses {sorted(failing)}, want {sorted(clauses)}"
    assert failed_tests == tests, (
        f"{name}: failing tests {sorted(failed_tests)}, want {sorted(tests)}")


def test_every_variant_listed_and_every_test_rejects_one():
    exported = {n for n, v in vars(state_bugs).items() if callable(v) and not n.startswith("_")
                and getattr(v, "__module__", None) == state_bugs.__name__}
    assert exported == set(state_bugs.EXPECTED)
    defined = {node.name for path in _suite_files()
               for node in ast.parse(path.read_text()).body
               if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    rejecting = set().union(*(tests for _, tests in state_bugs.EXPECTED.values()))
    assert defined == rejecting, f"tests no variant fails: {sorted(defined - rejecting)}"
