"""Where the harness writes: one output directory, never the current directory.

The CLI's ``--output-dir`` (default :func:`default_dir`: ``$XDG_CACHE_HOME/forget-conformance``,
else ``~/.cache/forget-conformance``) holds, for the child pytest runs it starts:

* ``examples/``: the hypothesis example database of the fuzz suites (failures replay
  across runs); ``$FORGET_FUZZ_DATABASE`` (a folder or ``redis://...``) overrides it;
* ``fuzz-failures/``: the reproducer scripts of fuzz failures (``$FORGET_FUZZ_FAILURES``);
* ``hypothesis/``: hypothesis' own storage (``$HYPOTHESIS_STORAGE_DIRECTORY``), which
  would otherwise be ``./.hypothesis``.

pytest-benchmark (``./.benchmarks``) is not loaded into those runs at all.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATABASE = "FORGET_FUZZ_DATABASE"
ENV_FAILURES = "FORGET_FUZZ_FAILURES"
ENV_HYPOTHESIS = "HYPOTHESIS_STORAGE_DIRECTORY"
APP = "forget-conformance"


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/forget-conformance``, else ``~/.cache/forget-conformance``."""
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache) if cache and os.path.isabs(cache) else Path.home() / ".cache"
    return base / APP


def database(root: Path | None = None) -> str:
    """The example database: ``$FORGET_FUZZ_DATABASE``, else ``ROOT/examples``."""
    return os.environ.get(ENV_DATABASE) or str((root or default_dir()) / "examples")


def failures(root: Path | None = None) -> Path:
    """The reproducers' folder: ``$FORGET_FUZZ_FAILURES``, else ``ROOT/fuzz-failures``;
    absolute, so the report's paths work from anywhere."""
    given = os.environ.get(ENV_FAILURES)
    return (Path(given) if given else (root or default_dir()) / "fuzz-failures").absolute()


def child_env(root: Path, database_spec: str | None = None) -> dict[str, str]:
    """Environment for a child pytest run writing under ``root`` (an absolute path).

    An explicit ``database_spec`` (``--database``) beats ``$FORGET_FUZZ_DATABASE``, which
    beats ``root/examples``; the same holds for the reproducers and hypothesis' storage."""
    return {ENV_DATABASE: database_spec or database(root),
            ENV_FAILURES: str(failures(root)),
            ENV_HYPOTHESIS: os.environ.get(ENV_HYPOTHESIS) or str(root / "hypothesis")}
