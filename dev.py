#!/usr/bin/env python3
"""One-command set-up and entry points; needs only Python 3.10 or 3.11 with venv and pip.

    python3 dev.py check   # conformance on the reference and on upstream Chainer
    python3 dev.py test    # the whole test suite (what CI runs)
    python3 dev.py lint    # ruff
    python3 dev.py shell   # print the command that activates the environment

It creates ``.venv`` next to this file and installs the project into it,
editable, with ``constraints/build.txt`` applied both to the install and to
pip's isolated build environments (Chainer 7.8.1's sdist needs setuptools < 81
to build). The install is redone only when ``pyproject.toml`` or the
constraints change. Set ``FORGET_VENV`` to use another location.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("FORGET_VENV", ROOT / ".venv"))
CONSTRAINTS = ROOT / "constraints" / "build.txt"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _say(msg: str) -> None:
    print(f"[dev.py] {msg}", flush=True)


def _run(cmd: list[str], **kw) -> int:
    _say("$ " + " ".join(str(c) for c in cmd))
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)


def ensure_env() -> dict[str, str]:
    """Create and fill the virtual environment if needed; return the env to run in."""
    env = dict(os.environ)
    # pip < 25.3 applies PIP_CONSTRAINT to isolated builds; newer pip reads PIP_BUILD_CONSTRAINT.
    env["PIP_CONSTRAINT"] = str(CONSTRAINTS)
    env["PIP_BUILD_CONSTRAINT"] = str(CONSTRAINTS)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONHOME", None)
    if not PY.exists():
        _say(f"creating virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS):
        digest.update(path.read_bytes())
    stamp = VENV / ".forget-conformance-installed"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        _say("installing forget-conformance and its dependencies (first run: about a minute)")
        rc = _run([PY, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, "-e", ".[dev]"], env=env)
        if rc != 0:
            sys.exit(f"[dev.py] installation failed (exit {rc})")
        stamp.write_text(digest.hexdigest())
    return env


def mutate(extra: list[str], env: dict[str, str]) -> int:
    """Mutation score: mutants of the reference judged by the conformance CLI (README)."""
    return _run([PY, "-m", "forget_conformance.mutation"] + extra, env=env)


def main(argv: list[str]) -> int:
    if not (3, 10) <= sys.version_info[:2] < (3, 12):
        sys.exit("[dev.py] Chainer 7.8.1 runs on Python 3.10 and 3.11 only (it imports "
                 f"numpy.distutils, gone from NumPy on 3.12+); this is {sys.version.split()[0]}")
    command = argv[0] if argv else "help"
    extra = argv[1:]
    if command not in {"check", "test", "lint", "shell", "mutate"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    env = ensure_env()
    if command == "shell":
        print(f". {BIN / 'activate'}")
        return 0
    if command == "lint":
        return _run([BIN / "ruff", "check", "."] + extra, env=env)
    if command == "mutate":
        return mutate(extra, env)
    if command == "test":
        return _run([PY, "-m", "pytest", "-q", "-n", "2"] + extra, env=env)
    # check: the reference must conform; upstream must conform up to its shipped deviations.
    rc_ref = _run([BIN / "forget-conformance", "--impl", "reference"] + extra, env=env)
    rc_up = _run([BIN / "forget-conformance", "--impl", "chainer",
                  "--known-deviations", "chainer-7.8.1"] + extra, env=env)
    return rc_ref or rc_up


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
