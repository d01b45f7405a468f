"""The tree shows the architecture: a structure check that follows the package-dir mapping.

The repository's top-level folders install as subpackages of ``forget_conformance``
(``[tool.setuptools.package-dir]`` in pyproject.toml), so a tool that reads folders sees
``fuzz`` and ``bench`` as unrelated top-level packages. This check reads that mapping, gives
every module its installed name, and holds the layout's rules:

* which subpackage may import which (the graph model and the harness core import no suite
  or tool; ``fuzz`` does not import ``bench``);
* no import cycle among modules at import time (imports inside functions are deferred and
  allowed, as are ``TYPE_CHECKING`` imports);
* no two modules share a basename unless they have the same role in parallel packages;
* no function over 80 lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
#: Basenames that may repeat: the same role in parallel packages.
SAME_ROLE = {"__init__.py", "conftest.py", "cli.py", "report.py"}
#: subpackage -> subpackages it must not import (``core`` is forget_conformance's own modules).
FORBIDDEN = {
    "graph": {"fuzz", "bench", "conformance", "reference"},
    "fuzz": {"bench", "conformance"},
    "bench": {"fuzz", "conformance"},
    "reference": {"fuzz", "bench", "conformance", "graph"},
}
MAX_FUNCTION_LINES = 80


def package_dirs() -> dict[str, Path]:
    """Installed package name -> folder, from pyproject's package-dir mapping."""
    if tomllib is None:
        import pytest

        pytest.skip("tomllib needs Python 3.11")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = data["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / folder for name, folder in mapping.items()}


def modules() -> dict[str, Path]:
    """Every module of the installed package, by its installed dotted name."""
    found: dict[str, Path] = {}
    dirs = package_dirs()
    nested = {ROOT / folder.name for name, folder in dirs.items() if name != "forget_conformance"}
    for package, folder in dirs.items():
        for path in folder.rglob("*.py"):
            if package == "forget_conformance" and any(p in nested for p in path.parents):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def top_level_imports(path: Path, name: str) -> set[str]:
    """Modules ``path`` imports when it is imported (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(body) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                out.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")
                    parent = parent[: len(parent) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                out.add(base)
                out.update(f"{base}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return {m for m in out if m.startswith("forget_conformance")}


def subpackage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FORBIDDEN) else "core"


def test_subpackages_import_only_what_the_layout_allows():
    mods = modules()
    bad = []
    for name, path in mods.items():
        for target in top_level_imports(path, name) | deferred_imports(path):
            if target in mods and subpackage(target) in FORBIDDEN.get(subpackage(name), ()):
                bad.append(f"{name} imports {target}")
    assert not bad, bad


def deferred_imports(path: Path) -> set[str]:
    """Every ``forget_conformance`` import anywhere in the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("forget_conformance")}


def test_no_import_cycles():
    mods = modules()
    graph = {name: {t for t in top_level_imports(path, name) if t in mods and t != name}
             for name, path in mods.items() if not path.name.startswith("test_")}
    # A module importing a package also runs the package's __init__ (its parents).
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_basenames_name_one_job():
    by_name: dict[str, list[str]] = {}
    for name, path in modules().items():
        if not path.name.startswith("test_"):
            by_name.setdefault(path.name, []).append(name)
    shared = {base: names for base, names in by_name.items()
              if len(names) > 1 and base not in SAME_ROLE}
    assert not shared, shared


def test_no_function_over_80_lines():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert not long, long


def test_the_check_sees_the_mapped_folders():
    """The mapping is followed: fuzz/ and bench/ are found as forget_conformance.fuzz/.bench,
    and a forbidden import would be seen (the check is not vacuous)."""
    mods = modules()
    assert "forget_conformance.fuzz.oracle" in mods and "forget_conformance.bench.cli" in mods
    assert "forget_conformance.graph.memory_model" in mods
    oracle = "forget_conformance.fuzz.oracle"
    imports = top_level_imports(mods[oracle], oracle)
    assert "forget_conformance.graph" in imports
    assert subpackage("forget_conformance.bench.measure") == "bench"
    assert subpackage("forget_conformance.verdicts") == "core"
