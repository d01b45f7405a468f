"""Mutation score of the harness: mutate the reference, run the conformance CLI on each mutant.

    python -m forget_conformance.mutation [--max-mutants N] [--json PATH] [--jobs N] [--only ID]

cosmic-ray (the ``dev`` extra) enumerates the mutation points of the reference
``forget`` and rewrites its source; each mutant is written into a private copy
of the reference package in a temporary folder (the checkout is never touched)
and judged by ``forget-conformance --suite all --profile ci --level drop-in --fail-fast``.
A non-zero verdict (1: does not conform, 2: does not even import) kills it;
the harness's own per-test limit turns a hang into a failing test, so it kills
too. Only a run past this tool's limit, derived from a baseline run on the
unmutated copy, counts as ``timeout``. Mutants argued equivalent in
``EQUIVALENT_MUTANTS.txt`` next to the reference leave the score's denominator.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from forget_conformance.atomic_write import write_atomically

PACKAGE = "forget_mutant"  # the copy's import name; nothing else on sys.path uses it
SOURCE_NAME = "_forget.py"
CLI_ARGS = ["--suite", "all", "--profile", "ci", "--level", "drop-in", "--fail-fast",
            "--no-upstream-oracle"]


class MutationError(Exception):
    """The run cannot start (tool missing, bad argument, reference failing unmutated)."""


@dataclass(frozen=True)
class Mutant:
    id: str  # operator@qualname#k: the k-th point of that operator in that definition
    operator: str
    occurrence: int  # cosmic-ray's index over the whole module
    line: int
    col: int


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed, survived, timeout
    seconds: float
    diff: str
    detail: str = ""


def reference_dir() -> Path:
    """The folder of the reference package (installed or editable)."""
    import forget_conformance.reference as ref
    return Path(ref.__file__).resolve().parent


def equivalent_file() -> Path:
    return reference_dir() / "EQUIVALENT_MUTANTS.txt"


def parse_equivalent(text: str) -> dict[str, str]:
    """``ID: argument`` lines (``#`` comments and blank lines ignored) as {id: argument}."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, argument = line.partition(": ")
        if not sep or not argument.strip() or " " in key:
            raise MutationError(f"equivalent-mutants line {n}: expected 'ID: argument', "
                                f"got {raw!r}")
        if key in out:
            raise MutationError(f"equivalent-mutants line {n}: {key} listed twice")
        out[key] = argument.strip()
    return out


def _qualnames(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(first line, last line, dotted name) of every def and class, outermost first."""
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                spans.append((first, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def enumerate_mutants(source: str, points: Iterable[tuple[str, int, int, int]]) -> list[Mutant]:
    """Stable ids for cosmic-ray's points ``(operator, occurrence, line, col)``, in file order.

    The id names the operator, the innermost enclosing definition and the point's
    rank among that operator's points there, so edits elsewhere leave it alone.
    """
    spans = _qualnames(ast.parse(source))
    seen: dict[tuple[str, str], int] = {}
    mutants = []
    for operator, occurrence, line, col in sorted(points, key=lambda p: (p[2], p[3], p[0], p[1])):
        inner = [name for first, last, name in spans if first <= line <= last]
        where = inner[-1] if inner else "<module>"
        k = seen.get((operator, where), 0)
        seen[(operator, where)] = k + 1
        mutants.append(Mutant(f"{operator}@{where}#{k}", operator, occurrence, line, col))
    return mutants


def _evenly(items: list, n: int) -> list:
    step = len(items) / n
    return [items[math.floor(i * step + step / 2)] for i in range(n)]


def sample(mutants: list[Mutant], n: int | None) -> list[Mutant]:
    """``n`` mutants spread over the module's lines, in file order; all when ``n`` is None.

    Stratified by line: first one mutant from each line (evenly spaced lines when
    there are more lines than ``n``), then a second from each line, and so on, so a
    line with many mutation points does not crowd out the others.
    """
    if n is None or n >= len(mutants):
        return list(mutants)
    if n < 1:
        raise MutationError("--max-mutants must be at least 1")
    lines: dict[int, list[Mutant]] = {}
    for m in mutants:
        lines.setdefault(m.line, []).append(m)
    picked: list[Mutant] = []
    for rank in range(max(len(group) for group in lines.values())):
        layer = [group[rank] for group in lines.values() if rank < len(group)]
        need = n - len(picked)
        picked += layer if len(layer) <= need else _evenly(layer, need)
        if len(picked) == n:
            break
    order = {m: i for i, m in enumerate(mutants)}
    return sorted(picked, key=order.__getitem__)


def score(killed: int, mutants: int, equivalent: int) -> float | None:
    """killed / (mutants - equivalent); None when no mutant counts."""
    counted = mutants - equivalent
    return None if counted <= 0 else killed / counted


def summary(outcomes: list[Outcome], equivalent: dict[str, str]) -> dict:
    """The JSON report: counts, score and every mutant that was not killed."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("killed", "survived", "timeout")}
    n_equivalent = sum(o.mutant.id in equivalent for o in outcomes if o.verdict != "killed")
    survivors = []
    for o in outcomes:
        if o.verdict == "killed":
            continue
        if o.mutant.id in equivalent:
            reason = "equivalent: " + equivalent[o.mutant.id]
        elif o.verdict == "timeout":
            reason = f"timeout: no verdict within {o.detail}"
        else:
            reason = "survived: every conformance test passed"
        survivors.append({"id": o.mutant.id, "location": _location(o.mutant), "diff": o.diff,
                          "reason": reason})
    value = score(counts["killed"], len(outcomes), n_equivalent)
    return {"tool": _tool_version(), "mutants": len(outcomes), **counts,
            "equivalent": n_equivalent, "score": None if value is None else round(value, 4),
            "survivors": survivors}


def _location(m: Mutant) -> str:
    return f"forget_impl/{SOURCE_NAME}:{m.line}:{m.col}"


def _tool_version() -> str:
    from importlib.metadata import version
    return f"cosmic-ray {version('cosmic-ray')}"


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return "\n".join(x for x in lines if not x.startswith(("---", "+++", "@@")))


def _cosmic_points(workdir: Path, module: Path) -> list[tuple[str, int, int, int]]:
    """cosmic-ray's mutation points of ``module``: its ``init`` into a session database."""
    from cosmic_ray.commands.init import init
    from cosmic_ray.work_db import WorkDB, use_db
    with use_db(str(workdir / "session.sqlite"), WorkDB.Mode.create) as db:
        init([module], db, {})
        specs = [item.mutations[0] for item in db.work_items]
    return [(s.operator_name, s.occurrence, s.start_pos[0], s.start_pos[1]) for s in specs]


def _mutate(source: str, mutant: Mutant) -> str:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator
    code = mutate_code(source, get_operator(mutant.operator)(), mutant.occurrence)
    if code is None:
        raise MutationError(f"cosmic-ray could not apply {mutant.id}")
    return code


def _judge(slot: Path, harness_timeout: float, limit: float) -> tuple[str, str]:
    """Run the CLI on the copy in ``slot``: (killed|survived|timeout, detail)."""
    cli = Path(sys.executable).with_name("forget-conformance")
    cmd = [str(cli), "--impl", f"{PACKAGE}._forget:forget", *CLI_ARGS,
           "--timeout", f"{harness_timeout:.0f}"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("FORGET_IMPL", None)
    try:
        done = subprocess.run(cmd, cwd=slot, env=env, capture_output=True, text=True,
                              timeout=limit, start_new_session=True)
    except subprocess.TimeoutExpired:
        return "timeout", f"{limit:.0f} s"
    if done.returncode == 0:
        return "survived", ""
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    return "killed", f"exit {done.returncode}: {last[:160]}"


def _make_slot(root: Path, name: str) -> Path:
    slot = root / name
    package = slot / PACKAGE
    shutil.copytree(reference_dir(), package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text("", encoding="utf-8")
    return slot


def run(max_mutants: int | None, jobs: int, only: set[str] | None = None,
        log=print) -> list[Outcome]:
    """Mutate a temporary copy of the reference and judge every (sampled, or named) mutant."""
    source = (reference_dir() / SOURCE_NAME).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="forget-mutation-") as tmp:
        root = Path(tmp)
        base = _make_slot(root, "baseline")
        mutants = enumerate_mutants(source, _cosmic_points(root, base / PACKAGE / SOURCE_NAME))
        if only:
            unknown = only - {m.id for m in mutants}
            if unknown:
                raise MutationError(f"no such mutant: {', '.join(sorted(unknown))}")
            mutants = [m for m in mutants if m.id in only]
        mutants = sample(mutants, max_mutants)
        started = time.monotonic()
        verdict, detail = _judge(base, 60.0, 600.0)
        baseline = time.monotonic() - started
        if verdict != "survived":
            raise MutationError(f"the unmutated reference does not pass the suite ({detail})")
        harness_timeout = max(10.0, math.ceil(baseline))
        limit = 3 * baseline + harness_timeout + 30
        log(f"baseline {baseline:.1f} s; per-test limit {harness_timeout:.0f} s, per-mutant "
            f"limit {limit:.0f} s; {len(mutants)} mutants, {jobs} in parallel")
        slots = [_make_slot(root, f"slot{i}") for i in range(jobs)]
        free = list(slots)
        lock = threading.Lock()
        outcomes: list[Outcome] = []

        def one(mutant: Mutant) -> Outcome:
            mutated = _mutate(source, mutant)
            with lock:
                slot = free.pop()
            try:
                (slot / PACKAGE / SOURCE_NAME).write_text(mutated, encoding="utf-8")
                t0 = time.monotonic()
                verdict, detail = _judge(slot, harness_timeout, limit)
                outcome = Outcome(mutant, verdict, time.monotonic() - t0,
                                  _diff(source, mutated), detail)
            finally:
                with lock:
                    free.append(slot)
            with lock:
                outcomes.append(outcome)
                log(f"[{len(outcomes):>3}/{len(mutants)}] {mutant.id}  {_location(mutant)}  "
                    f"{verdict}  {outcome.seconds:.1f} s")
            return outcome

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(one, mutants))
    return done


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dev.py mutate", description=__doc__.splitlines()[0])
    p.add_argument("--max-mutants", type=int, metavar="N",
                   help="a deterministic sample of N mutants spread over the module")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON")
    p.add_argument("--only", action="append", metavar="ID",
                   help="judge only this mutant (repeatable), e.g. a survivor after a new test")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="mutants judged in parallel (default: the core count)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.jobs < 1:
            raise MutationError("--jobs must be at least 1")
        if args.max_mutants is not None and args.max_mutants < 1:
            raise MutationError("--max-mutants must be at least 1")
        try:
            import cosmic_ray  # noqa: F401
        except ImportError as exc:
            raise MutationError("cosmic-ray is not installed: pip install -e '.[dev]'") from exc
        path = equivalent_file()
        equivalent = parse_equivalent(path.read_text(encoding="utf-8")) if path.exists() else {}
        outcomes = run(args.max_mutants, args.jobs, set(args.only or ()),
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    except MutationError as exc:
        print(f"dev.py mutate: error: {exc}", file=sys.stderr)
        return 2
    result = summary(outcomes, equivalent)
    stale = [o.mutant.id for o in outcomes if o.verdict == "killed" and o.mutant.id in equivalent]
    for mutant_id in stale:
        print(f"dev.py mutate: warning: {mutant_id} is listed as equivalent but was killed",
              file=sys.stderr)
    shown = "n/a" if result["score"] is None else f"{100 * result['score']:.1f}%"
    print(f"{result['tool']}: {result['mutants']} mutants, {result['killed']} killed, "
          f"{result['survived']} survived, {result['timeout']} timeout, "
          f"{result['equivalent']} equivalent; score {shown}")
    for s in result["survivors"]:
        print(f"  {s['id']}  {s['location']}  {s['reason']}\n    {s['diff']}".replace(
            "\n+", "\n    +"))
    if args.json:
        write_atomically(args.json, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
