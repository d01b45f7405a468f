"""The README's install commands, run word for word in an empty folder with no pip cache.

Slow (a fresh virtual environment, Chainer built from its sdist): the nightly job runs it
(``python3 dev.py test-slow``). The fast test checks that the block is there and names
this version's wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import forget_conformance
from tests.helpers import ROOT

WHEEL = f"forget_conformance-{forget_conformance.__version__}-py3-none-any.whl"


def install_block() -> str:
    """The shell commands between ``<!-- install -->`` and ``<!-- /install -->`` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"<!-- install -->(.*?)<!-- /install -->", text, re.S)
    assert section, "README.md has no <!-- install --> block"
    block = re.search(r"```sh\n(.*?)```", section.group(1), re.S)
    assert block, "the install block has no ```sh code"
    return block.group(1)


def test_the_readme_installs_this_versions_wheel_with_the_build_constraint():
    block = install_block()
    assert WHEEL in block
    assert "PIP_CONSTRAINT" in block and "PIP_BUILD_CONSTRAINT" in block
    assert "setuptools<74" in block


def _clean_env(tmp: Path) -> dict[str, str]:
    """The user's shell: none of dev.py's pip settings, no active venv, no pip cache."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PIP_CONSTRAINT", "PIP_BUILD_CONSTRAINT", "VIRTUAL_ENV", "PYTHONPATH")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p != venv_bin)
    env["PIP_NO_CACHE_DIR"] = "1"
    env["HOME"] = str(tmp / "home")
    return env


@pytest.mark.slow
def test_the_readme_install_commands_work_in_an_empty_folder(tmp_path):
    wheels = tmp_path / "built"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(ROOT)], check=True, env=dict(os.environ, PIP_NO_CACHE_DIR="1"))
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' leftovers
    work = tmp_path / "user"
    work.mkdir()
    (tmp_path / "home").mkdir()
    shutil.copy(wheels / WHEEL, work / WHEEL)
    script = install_block() + (
        "\nforget-conformance --version"
        "\nforget-conformance --impl reference --clause D5 --no-upstream-oracle\n")
    done = subprocess.run(["bash", "-ec", script], cwd=work, env=_clean_env(tmp_path),
                          text=True, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert forget_conformance.__version__ in done.stdout
    assert re.search(r"^D5\s+pass", done.stdout, re.M), done.stdout
