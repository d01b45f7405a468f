"""The plug-in in a user's own project, run with the plain ``pytest`` command (issue 17 §2).

``pytest`` (unlike ``python -m pytest``) does not put the current directory on
``sys.path``; the plug-in finds ``--forget-impl MODULE:ATTR`` as the CLI does, from the
directory pytest was started in and from the rootdir (``impl.importable``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forget_conformance import impl
from tests.helpers import ROOT

PYTEST = Path(sys.executable).with_name("pytest")

USER_TEST = '''
def test_mine(forget_implementation, forget_device):
    assert forget_implementation.target == "mypkg.ckpt:forget"
'''


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "ckpt.py").write_text(
        "from forget_conformance.reference import forget  # noqa: F401\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mine.py").write_text(USER_TEST)
    return tmp_path


def plain_pytest(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The ``pytest`` console script, with no PYTHONPATH and no FORGET_* settings."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYTEST_", "FORGET_")) and k != "PYTHONPATH"}
    return subprocess.run([str(PYTEST), "-q", "-p", "no:cacheprovider", *args], cwd=where,
                          env=dict(clean, **env), capture_output=True, text=True, timeout=120)


def test_the_suites_find_a_local_implementation(project):
    proc = plain_pytest(project, "--pyargs", "forget_conformance.conformance.test_errors",
                        "-k", "test_non_callable_is_type_error",
                        "--forget-impl", "mypkg.ckpt:forget", "--forget-device", "cpu")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout.splitlines()[-1]


def test_the_fixtures_find_it_from_the_rootdir_too(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = plain_pytest(elsewhere, "--rootdir", str(project), str(project / "tests"),
                        FORGET_IMPL="mypkg.ckpt:forget", FORGET_DEVICE="cpu")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("variable", ["FORGET_PROFILE", "FORGET_DEVICE"])
def test_a_bad_setting_is_one_line_and_exit_4(project, variable):
    proc = plain_pytest(project, "tests", **{variable: "bogus", "FORGET_IMPL": "mypkg.ckpt:forget"})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert len(lines) == 1 and f"${variable}='bogus' is not one of" in lines[0], lines
    assert "Traceback" not in proc.stdout and "pluggy" not in proc.stdout


def test_importable_puts_folders_first_but_never_the_harness_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    added = impl.importable([tmp_path, ROOT / "forget_conformance", tmp_path])
    assert added == [str(tmp_path.resolve())] and sys.path[0] == str(tmp_path.resolve())
    assert impl.importable([tmp_path]) == []  # already there
