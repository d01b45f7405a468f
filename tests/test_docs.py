"""The docs say what the tool does: example runs are generated from real runs and checked
for drift (``tools/gen_examples.py``, ``python3 dev.py docs``); the CI recipes' command lines
are ones the CLI accepts; the README's links lead somewhere."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from forget_conformance import cli
from tests.helpers import ROOT

spec = importlib.util.spec_from_file_location("gen_examples", ROOT / "tools" / "gen_examples.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

#: Docs that other parts of the project add; the README links them ahead.
PENDING = {"docs/profiles.md", "docs/fuzzing.md", "docs/benchmarking.md"}


def all_blocks() -> list[tuple[Path, str, str]]:
    return [(path, name, block) for path in gen.DOCS
            for name, block in gen.blocks(path.read_text(encoding="utf-8"))]


def test_every_example_block_is_a_known_generated_run():
    found = all_blocks()
    assert {name for _, name, _ in found} == set(gen.EXAMPLES), "each example shown once"
    for path, name, block in found:
        shape = gen.structure(block)
        assert shape[0] == f"$ forget-conformance {shlex.join(gen.EXAMPLES[name])}", path
        assert re.fullmatch(r"\(exit \d+\)", shape[-1]), (path, name)


def test_structure_ignores_timings_but_not_verdicts():
    block = gen.run("list-clauses")
    assert gen.structure(block) == gen.structure(block.replace("judged", "judged "))
    run = "$ x\nref: 4.1 s\nD1     pass    same: 3 passed\n1 pass\n(exit 0)\n"
    assert gen.structure(run) == gen.structure(run.replace("4.1 s", "9.9 s"))
    assert gen.structure(run) != gen.structure(run.replace("D1     pass", "D1     fail"))
    assert gen.structure(run) != gen.structure(run.replace("(exit 0)", "(exit 1)"))


@pytest.mark.parametrize("name", ["list-clauses", "usage-error"])
def test_quick_examples_match_a_real_run(name):
    shown = next(block for _, n, block in all_blocks() if n == name)
    assert gen.structure(shown) == gen.structure(gen.run(name))


@pytest.mark.slow
def test_every_example_matches_a_real_run():
    assert gen.main(["--check"]) == 0


def recipe_commands() -> list[list[str]]:
    """The forget-conformance command lines of docs/ci.md's recipes (YAML folded)."""
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    commands = []
    for recipe in re.findall(r"<!-- recipe: \w+ -->\n```yaml\n(.*?)```", text, re.S):
        for m in re.finditer(r"forget-conformance (--.*?)(?=\n\s*(?:- |\w+:)|\Z)", recipe, re.S):
            commands.append(shlex.split(m[1].replace("\n", " ")))
    return commands


def test_the_ci_recipes_use_options_the_cli_has():
    commands = recipe_commands()
    assert len(commands) == 2
    for words in commands:
        args = cli._parser().parse_args(words)  # exits 2 on an unknown option
        assert args.junit_xml and args.report_json and args.suite == "all"


def test_readme_links_lead_somewhere():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+\.md)\)", text)
    assert "docs/ci.md" in links and "docs/user-guide.md" in links
    missing = [link for link in links if not (ROOT / link).exists() and link not in PENDING]
    assert missing == []
