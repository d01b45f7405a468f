#!/usr/bin/env python3
"""One-command set-up and entry points; needs only Python 3.10 to 3.13 with venv and pip.

    python3 dev.py check   # conformance on the reference and on upstream Chainer
    python3 dev.py test    # the test suite (what CI runs; long self-tests left out)
    python3 dev.py test-slow  # the long self-tests (marked slow; the nightly job)
    python3 dev.py lint    # ruff
    python3 dev.py shell   # print the command that activates the environment
    python3 dev.py bundle  # .bundle/: wheels and gpu-check.sh for an offline GPU machine
    python3 dev.py mutate  # mutation score of the reference ([--max-mutants N] [--json PATH])
    python3 dev.py typecheck  # mypy, on the package as it installs (see pyproject)
    python3 dev.py docs    # regenerate the docs' example runs ([--check] [NAME ...])

It creates ``.venv`` next to this file and installs the project into it,
editable, with ``constraints/build.txt`` applied both to the install and to
pip's isolated build environments (Chainer 7.8.1's sdist needs setuptools < 81
to build). The install is redone only when ``pyproject.toml`` or the
constraints change. Set ``FORGET_VENV`` to use another location, and
``FORGET_NUMPY=1`` or ``2`` to choose NumPy's major version (default: 1 before
Python 3.12, 2 from 3.12 on).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("FORGET_VENV", ROOT / ".venv"))
CONSTRAINTS = ROOT / "constraints" / "build.txt"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
BUNDLE = ROOT / ".bundle"
BUNDLE_LIMIT = 48 * 2**20
CHAINER = "chainer==7.8.1"
# NumPy of the environment: FORGET_NUMPY=1 or 2; by default 1 before Python 3.12 (the
# measured baselines' NumPy), 2 from 3.12 on (Python 3.13 has no NumPy 1 wheels).
NUMPY_CHOICES = {"1": "numpy<2", "2": "numpy>=2"}
NUMPY_MAJOR = os.environ.get("FORGET_NUMPY", "1" if sys.version_info < (3, 12) else "2")


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
    digest.update(NUMPY_MAJOR.encode())
    stamp = VENV / ".forget-conformance-installed"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        _say("installing forget-conformance and its dependencies (first run: about a minute)")
        rc = _run([PY, "-m", "pip", "install", "-q", "-c", CONSTRAINTS, "-e", ".[dev]",
                   NUMPY_CHOICES[NUMPY_MAJOR]], env=env)
        if rc != 0:
            sys.exit(f"[dev.py] installation failed (exit {rc})")
        stamp.write_text(digest.hexdigest())
    return env


def cmd_mutate(env: dict[str, str], extra: list[str]) -> int:
    """Mutation score: mutants of the reference judged by the conformance CLI (README)."""
    return _run([PY, "-m", "forget_conformance.mutation"] + extra, env=env)


def cmd_check(env: dict[str, str], extra: list[str]) -> int:
    """The reference must conform; upstream must conform up to its shipped deviations."""
    rc_ref = _run([BIN / "forget-conformance", "--impl", "reference"] + extra, env=env)
    rc_up = _run([BIN / "forget-conformance", "--impl", "chainer",
                  "--known-deviations", "chainer-7.8.1"] + extra, env=env)
    return rc_ref or rc_up


def cmd_test(env: dict[str, str], extra: list[str]) -> int:
    return _run([PY, "-m", "pytest", "-q", "-n", "2"] + extra, env=env)


def cmd_test_slow(env: dict[str, str], extra: list[str]) -> int:
    """The long self-tests (``@pytest.mark.slow``) that the default run leaves out."""
    return _run([PY, "-m", "pytest", "-q", "-n", "2", "-m", "slow"] + extra, env=env)


def cmd_docs(env: dict[str, str], extra: list[str]) -> int:
    """The docs' example outputs, from real runs (``--check``: fail where they drifted)."""
    return _run([PY, ROOT / "tools" / "gen_examples.py"] + extra, env=env)


def cmd_lint(env: dict[str, str], extra: list[str]) -> int:
    return _run([BIN / "ruff", "check", "."] + extra, env=env)


def cmd_typecheck(env: dict[str, str], extra: list[str]) -> int:
    """mypy on the package as it installs: a view of the tree that follows package-dir."""
    view = ROOT / "build" / "typecheck"
    shutil.rmtree(view, ignore_errors=True)
    package = view / "forget_conformance"
    package.mkdir(parents=True)
    for name, folder in _package_dirs().items():
        sub = name.split(".")[1:]
        if not sub:  # the root package: its own files, not its mapped subfolders
            for item in (ROOT / folder).iterdir():
                (package / item.name).symlink_to(item)
        else:
            (package / sub[0]).symlink_to(ROOT / folder)
    return _run([PY, "-m", "mypy", "--config-file", ROOT / "pyproject.toml",
                 "-p", "forget_conformance"] + extra, env=dict(env, MYPYPATH=str(view)))


def _package_dirs() -> dict[str, str]:
    """``[tool.setuptools.package-dir]`` of pyproject.toml (read without tomllib: 3.10)."""
    mapping, inside = {}, False
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("["):
            inside = line.strip() == "[tool.setuptools.package-dir]"
        elif inside and "=" in line:
            key, value = (part.strip().strip('"') for part in line.split("=", 1))
            mapping[key] = value
    return mapping


def cmd_shell(env: dict[str, str], extra: list[str]) -> int:
    print(f". {BIN / 'activate'}")
    return 0


def cmd_bundle(env: dict[str, str], extra: list[str]) -> int:
    """Wheels of Chainer 7.8.1 (built here) and this project, plus gpu-check.sh, in .bundle/."""
    wheels = BUNDLE / "wheels"
    for stale in (BUNDLE, ROOT / "build"):  # build/: setuptools would pack what is left there
        shutil.rmtree(stale, ignore_errors=True)
    wheels.mkdir(parents=True)
    for target in (CHAINER, "."):
        rc = _run([PY, "-m", "pip", "wheel", "-q", "--no-deps", "-c", CONSTRAINTS, "-w", wheels,
                   target], env=env)
        if rc != 0:
            return rc
    shutil.copy(ROOT / "tools" / "gpu-check.sh", BUNDLE / "gpu-check.sh")
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    _say(f"{BUNDLE}: {', '.join(sorted(p.name for p in wheels.iterdir()))}, gpu-check.sh; "
         f"{size / 2**20:.1f} MiB")
    if size > BUNDLE_LIMIT:
        _say(f"the bundle exceeds {BUNDLE_LIMIT // 2**20} MiB")
        return 1
    return 0


COMMANDS = {"check": cmd_check, "test": cmd_test, "test-slow": cmd_test_slow, "lint": cmd_lint,
            "shell": cmd_shell, "bundle": cmd_bundle, "mutate": cmd_mutate,
            "typecheck": cmd_typecheck, "docs": cmd_docs}


def main(argv: list[str]) -> int:
    if not (3, 10) <= sys.version_info[:2] <= (3, 13):
        sys.exit(f"[dev.py] needs Python 3.10 to 3.13; this is {sys.version.split()[0]}")
    if NUMPY_MAJOR not in NUMPY_CHOICES:
        print(f"[dev.py] FORGET_NUMPY must be 1 or 2, not {NUMPY_MAJOR!r}", file=sys.stderr)
        return 2
    command = argv[0] if argv else "help"
    if command not in COMMANDS:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    return COMMANDS[command](ensure_env(), argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
