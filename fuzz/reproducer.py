"""Reproducer scripts: a failing graph as a standalone Python file.

The script needs only NumPy, Chainer and the implementation under test (imported by
its ``MODULE:ATTR`` target, from the current directory or ``PYTHONPATH``): it is a copy
of :func:`forget_conformance.chainer_compat.apply` (run before Chainer is imported), the
graph as plain Chainer code (``graph.to_source``), the check that failed (copied
from :mod:`.compare`, which the oracle runs) and a ``main`` that exits 1 while
the failure reproduces. Files are never overwritten: names are made unique.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from forget_conformance import catalogue, chainer_compat, outputs
from forget_conformance.fuzz import compare
from forget_conformance.fuzz.oracle import retained_limit
from forget_conformance.graph import (
    Graph,
    capture_leaves,
    expected_calls,
    gradient_precision,
    to_source,
)

ENV_DIR = outputs.ENV_FAILURES
REPLAY_MARK = "# hypothesis replay: "
COPY_MARK = "# ---- reproducer scripts copy from here ----\n"

_HEADER = '''\
#!/usr/bin/env python3
# Reproducer written by the forget-conformance fuzzer.
#
# clause:          {clause} ({title})
# failure:         {message}
# implementation:  {target}
# check:           {check} on {device}
{replay_line}
#
# Run: python {name} [MODULE:ATTR]
#   Runs the graph below plainly and through forget (the implementation above, or
#   MODULE:ATTR; importable from the current directory or PYTHONPATH) and compares:
#   exit status 1 while the failure reproduces, 0 once fixed. Needs NumPy and Chainer.
import importlib
import os
import sys
import traceback

# ---- Chainer 7.8.1 on NumPy 2 and Python 3.12+ (forget_conformance/chainer_compat.py) ----

{compat}

apply()

# ---- the graph, as plain Chainer code (forward(None, ...) runs it without forget) ----
'''

_MAIN = '''

# ---- what the fuzzer ran ----

TARGET = {target!r}
DEVICE = {device!r}
EXPECTED_CALLS = {calls!r}  # calls of each segment function with forget (D4)
LOOSE = {loose!r}  # leaves of captured values: gradients within the dtype's precision
LIMIT = {limit!r}  # bytes the graph may hold after forward (the memory model; None: not covered)
PRECISION = {precision!r}  # leaf -> lowest precision its gradient passes through
GRAPH = sys.modules[__name__]  # make_links, make_inputs and forward, above


def load(target):
    """``MODULE:ATTR`` (ATTR may be dotted), importable from the current directory."""
    sys.path.insert(0, os.getcwd())
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def main(argv):
    target = argv[0] if argv else TARGET
    if ":" not in target:
        print("usage: python " + sys.argv[0] + " [MODULE:ATTR]", file=sys.stderr)
        return 2
    found = list({entry}(GRAPH, load(target), DEVICE, EXPECTED_CALLS, LOOSE, LIMIT,
                               PRECISION))
    if not found:
        print(f"passes: {{target}} agrees with the plain graph ({check} check)")
        return 0
    print(f"FAILS {{target}} ({check} check): {{len(found)}} difference(s) from the plain graph")
    for diff in found:
        print("  " + diff.message)
        if diff.error is not None:
            traceback.print_exception(type(diff.error), diff.error, diff.error.__traceback__)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def failures_dir() -> Path:
    """``$FORGET_FUZZ_FAILURES``, else ``fuzz-failures/`` under ``outputs.default_dir()``
    (absolute either way)."""
    return outputs.failures()


def check_source(check: str) -> str:
    """The part of :mod:`.compare` a reproducer of ``check`` needs, as source text."""
    text = inspect.getsource(compare)
    common = text.split(COPY_MARK, 1)[1].split("\n# ---- the checks", 1)[0]
    return common.strip() + "\n\n\n" + "\n\n".join(
        inspect.getsource(f) for f in compare.CHECKS[check])


def script(graph: Graph, *, target: str, check: str, device: str, clause: str = "?",
           message: str = "", name: str = "repro.py",
           replay: str = "(pending)") -> str:
    """The text of a reproducer of ``check`` on ``graph`` against ``target``."""
    title = catalogue.BY_ID[clause].title if clause in catalogue.BY_ID else "not attributed"
    header = _HEADER.format(clause=clause, title=title, message=message, target=target,
                            check=check, device=device, replay_line=REPLAY_MARK + replay,
                            name=name, compat=inspect.getsource(chainer_compat.apply).strip())
    main = _MAIN.format(target=target, device=device, check=check,
                        entry=compare.CHECKS[check][-1].__name__,
                        calls=expected_calls(graph, forgetting=True),
                        loose=tuple(sorted(capture_leaves(graph))),
                        limit=retained_limit(graph), precision=gradient_precision(graph))
    return (header + to_source(graph) + "\n\n# ---- the check (as the fuzzer's oracle) ----\n\n"
            + check_source(check) + main)


def write(graph: Graph, exc: BaseException, target: str, check: str, device: str,
          test: str) -> Path:
    """Write the reproducer under :func:`failures_dir` with a fresh unique name."""
    clause = getattr(exc, "clause_id", "?")
    directory = failures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{test}-{target}-{clause}").strip("_")
    message = " ".join(str(exc).split())[:300]
    for n in range(1, 100000):
        path = directory / f"{stem}-{n:03d}.py"
        text = script(graph, target=target, check=check, device=device, clause=clause,
                      message=message, name=path.name)
        try:
            with open(path, "x", encoding="utf-8") as stream:
                stream.write(text)
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"no free reproducer name in {directory}")


def add_replay(path: Path, replay: str) -> None:
    """Fill in hypothesis' replay information once the run has finished."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(REPLAY_MARK + "(pending)", REPLAY_MARK + replay, 1),
                    encoding="utf-8")
