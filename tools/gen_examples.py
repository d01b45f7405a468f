"""Example runs in the docs, generated from real runs: ``python3 dev.py docs``.

A block in a Markdown file between ``<!-- example: NAME -->`` and ``<!-- /example -->`` is
the output of the ``forget-conformance`` run :data:`EXAMPLES` names: the command, its
stdout (stderr when stdout is empty: a usage error) and its exit code. ``--check`` reruns
them and fails when the docs drift from what the runs print now, comparing the structural
parts (:func:`structure`: clause and status, the counts, each check's test and symptom, the
exit code), not timings or measured numbers.

    python tools/gen_examples.py [--check] [NAME ...]
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: name -> the CLI's arguments (on the CPU, so that a GPU machine prints the same).
EXAMPLES: dict[str, list[str]] = {
    "reference": ["--impl", "reference", "--device", "cpu"],
    "chainer": ["--impl", "chainer", "--device", "cpu"],
    "chainer-deviations": ["--impl", "chainer", "--known-deviations", "chainer-7.8.1",
                           "--device", "cpu"],
    "list-clauses": ["--list-clauses"],
    "usage-error": ["--impl", "mypkg.nowhere:forget"],
}
BLOCK = re.compile(r"(<!-- example: (\S+) -->\n)(.*?)(<!-- /example -->)", re.S)
STATUS = r"(pass|fail|xfail|xpass|skip|error)"


def run(name: str) -> str:
    """The block for one example, from a real run in the project root."""
    argv = EXAMPLES[name]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FORGET_", "GITHUB_", "PYTEST_"))}
    done = subprocess.run([sys.executable, "-m", "forget_conformance.cli", *argv], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout.strip() or done.stderr.strip()
    return (f"```text\n$ forget-conformance {shlex.join(argv)}\n{out}\n"
            f"(exit {done.returncode})\n```\n")


def structure(block: str) -> list[str]:
    """What must not drift: the command, clause/status lines, the counts, the failing and
    accepted checks (test and symptom), the verdict line, errors and the exit code."""
    kept = []
    for line in block.splitlines():
        if line.startswith("$ "):
            kept.append(line)
        elif m := re.match(rf"^([A-Z]\d+)\s+{STATUS}\s", line):
            kept.append(f"{m[1]} {m[2]}")
        elif m := re.match(rf"^\d+ {STATUS}(, \d+ {STATUS})*$", line):
            kept.append(line)
        elif m := re.match(r"^  (fail|xfail|error|pass)\s+(\S+): (\S+)", line):
            kept.append(f"{m[1]} {m[2]} {m[3]}")
        elif line.startswith(("does not conform", "(exit ", "forget-conformance: error")):
            kept.append(line)
    return kept


def blocks(text: str) -> list[tuple[str, str]]:
    """(name, block) of each example block in a Markdown text."""
    return [(m[2], m[3]) for m in BLOCK.finditer(text)]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = [a for a in argv if not a.startswith("--")] or list(EXAMPLES)
    unknown = [n for n in wanted if n not in EXAMPLES]
    if unknown:
        print(f"unknown example(s): {', '.join(unknown)}; known: {', '.join(EXAMPLES)}",
              file=sys.stderr)
        return 2
    fresh = {name: run(name) for name in wanted}
    drifted = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for name, block in blocks(text):
            if name in fresh and structure(block) != structure(fresh[name]):
                drifted.append(f"{path.relative_to(ROOT)}: example {name}")
        if not check:
            new = BLOCK.sub(lambda m: m[1] + fresh.get(m[2], m[3]) + m[4], text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
    if check and drifted:
        print("drifted from real runs (python3 dev.py docs regenerates them):\n  "
              + "\n  ".join(drifted), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
