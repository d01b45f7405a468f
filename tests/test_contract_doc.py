"""``docs/contract.md`` covers every clause and names the tests that check each one."""

from __future__ import annotations

import re

from forget_conformance import catalogue
from tests.helpers import ROOT

CONTRACT = ROOT / catalogue.SPEC


def sections() -> dict[str, str]:
    """Clause ID -> the text of its ``### ID - title`` section."""
    text = CONTRACT.read_text(encoding="utf-8")
    parts = re.split(r"^### (\w+) - .*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def marked_tests() -> dict[str, set[str]]:
    """Conformance test function -> the clause IDs its marks name."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "conformance").glob("test_*.py")):
        pending: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            mark = re.search(r"mark\.clause\(([^)]*)\)", line)
            if mark:
                pending |= set(re.findall(r'"(\w+)"', mark.group(1)))
            test = re.match(r"def (test_\w+)", line)
            if test:
                found[test.group(1)] = pending
                pending = set()
    return found


def test_every_clause_has_a_section_with_its_title():
    text = CONTRACT.read_text(encoding="utf-8")
    for clause in catalogue.CLAUSES:
        assert re.search(rf"^### {clause.id} - {re.escape(clause.title)}", text, re.MULTILINE), \
            f"{catalogue.SPEC} has no section '### {clause.id} - {clause.title}'"
    assert set(sections()) == set(catalogue.BY_ID)


def test_each_conformance_test_is_named_under_its_clause():
    named = {test: clause for clause, body in sections().items()
             for test in re.findall(r"::(test_\w+)", body)}
    marks = marked_tests()
    assert set(named) == set(marks), (
        f"not in the contract: {sorted(set(marks) - set(named))}; "
        f"no such test: {sorted(set(named) - set(marks))}")
    wrong = {t: (c, sorted(marks[t])) for t, c in named.items() if c not in marks[t]}
    assert wrong == {}, "tests named under a clause they are not marked with"


def test_allowed_differences_listed_once_in_code_and_in_the_contract():
    from forget_conformance.conformance import observe

    text = CONTRACT.read_text(encoding="utf-8")
    missing = [k for k in observe.ALLOWED_DIFFERENCES if f"**{k}**" not in text]
    assert missing == [], f"allowed differences not in {catalogue.SPEC}: {missing}"
    listed = re.findall(r"^\* \*\*([^*]+)\*\*:", text.split("## Everything a user can observe")[1]
                        .split("\n## ")[0], flags=re.MULTILINE)
    assert sorted(listed) == sorted(observe.ALLOWED_DIFFERENCES)
