"""The harness's test suites, ``conformance`` and ``fuzz``: the one place that names them
and finds their folders (installed or editable), without importing them.

"Suite" means one of these in the whole project; what ``--suite`` takes is
:data:`CHOICES` (``all`` is both).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: ``--suite`` choice -> the suites it runs.
CHOICES: dict[str, tuple[str, ...]] = {"conformance": ("conformance",), "fuzz": ("fuzz",),
                                       "all": ("conformance", "fuzz")}
#: Each suite's package.
PACKAGES: dict[str, str] = {name: f"forget_conformance.{name}" for name in ("conformance", "fuzz")}


def folder(suite: str) -> Path | None:
    """The folder of ``suite``'s package, or None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGES[suite])
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def paths(choice: str) -> list[Path]:
    """Folders of the suites of a ``--suite`` choice; ``ModuleNotFoundError`` for a missing one."""
    found = []
    for name in CHOICES[choice]:
        path = folder(name)
        if path is None:
            raise ModuleNotFoundError(PACKAGES[name])
        found.append(path)
    return found


def missing(choice: str) -> list[str]:
    """The suites of a ``--suite`` choice that have no test modules in this installation."""
    return [name for name in CHOICES[choice]
            if (path := folder(name)) is None or not any(path.glob("test_*.py"))]


def roots() -> list[Path]:
    """Resolved folders of every installed suite (to tell the harness's tests from others)."""
    return [path.resolve() for name in PACKAGES if (path := folder(name)) is not None]


def full_id(nodeid: str, root: str | Path) -> str:
    """A node id of a run whose rootdir is ``root``, as the same for every installation:
    relative to the harness's package, ``forget_conformance/conformance/test_x.py::test[cpu]``."""
    path, sep, rest = nodeid.partition("::")
    absolute = (Path(root) / path).resolve()
    for name in PACKAGES:
        found = folder(name)
        if found is not None and (found.resolve() == absolute or found.resolve() in
                                  absolute.parents):
            relative = absolute.relative_to(found.resolve()).as_posix()
            return f"forget_conformance/{name}/{relative}{sep}{rest}"
    return nodeid


def locate(test: str) -> str:
    """A full node id (:func:`full_id`) as pytest takes it on its command line: the test
    file's absolute path in this installation, then ``::`` and the test."""
    path, sep, rest = test.partition("::")
    parts = Path(path).parts
    if len(parts) > 2 and parts[0] == "forget_conformance" and parts[1] in PACKAGES:
        found = folder(parts[1])
        if found is not None:
            return f"{found.joinpath(*parts[2:])}{sep}{rest}"
    return test


def pyargs(test: str) -> str:
    """A full node id as ``pytest --pyargs`` takes it:
    ``forget_conformance.conformance.test_x::test``."""
    path, sep, rest = test.partition("::")
    module = path.removesuffix(".py").replace("/", ".")
    return f"{module}{sep}{rest}"
