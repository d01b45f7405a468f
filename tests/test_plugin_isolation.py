"""Installed, the plug-in leaves a foreign test suite alone (issue 10, section 1).

A small foreign suite runs in a subprocess without any plug-in of this project
(``-p no:forget_conformance``), with the installed one, and with
``tests/broken/leaky_plugin.py`` (which intrudes the way this plug-in used to). The first
two must agree on outcomes, test IDs, hypothesis example counts, random draws, imported
modules and warnings; the leaky one must differ in each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

CONFTEST = '''
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=7)
settings.register_profile("mine", max_examples=5)
settings.load_profile("ci")
np.random.seed(1234)


@pytest.fixture
def device():
    return "the user's device"


@pytest.fixture
def observe(request):
    def write(**fields):
        with open(Path(__file__).with_name("observed.jsonl"), "a") as log:
            log.write(json.dumps({"test": request.node.nodeid, **fields}) + "\\n")
    return write
'''

TESTS = '''
import sys

import numpy as np
from hypothesis import given, settings, strategies as st

EXAMPLES = []


def test_draw_first(observe):
    observe(draw=float(np.random.rand()))


def test_draw_second(observe):
    observe(draw=float(np.random.rand()))


@given(st.integers())
def test_property(x):
    EXAMPLES.append(x)


def test_after_property(observe):
    observe(examples=len(EXAMPLES), max_examples=settings.default.max_examples)


def test_device(device, observe):
    observe(device=device)


def test_modules(observe):
    observe(chainer="chainer" in sys.modules)


def test_needs_an_undefined_forget(forget):
    pass
'''

ASPECTS = ("outcomes", "test ids", "random draws", "example counts", "imports", "warnings")


def run_pytest(where: Path, *args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess:
    """``python -m pytest`` in ``where``, with none of this project's configuration."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYTEST_", "FORGET_", "HYPOTHESIS"))}
    clean.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=where, env=clean, capture_output=True, text=True, timeout=120)


def observe_run(where: Path, *plugin_args: str) -> dict[str, object]:
    """Run the foreign suite; what it saw, aspect by aspect."""
    log = where / "observed.jsonl"
    log.unlink(missing_ok=True)
    proc = run_pytest(where, "-rA", "--hypothesis-profile", "mine", *plugin_args,
                      env={"FORGET_PROFILE": "bogus", "FORGET_DEVICE": "bogus"})
    assert "INTERNALERROR" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    return {
        "outcomes": sorted(re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", proc.stdout,
                                      re.MULTILINE)),
        "test ids": sorted(r["test"] for r in records),
        "random draws": [r["draw"] for r in records if "draw" in r],
        "example counts": [(r["examples"], r["max_examples"]) for r in records
                           if "examples" in r],
        "imports": [r["chainer"] for r in records if "chainer" in r],
        "warnings": re.findall(r"(\d+) warnings?", summary),
    }


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    """The foreign suite, and what it sees with no plug-in of this project."""
    where = tmp_path_factory.mktemp("foreign")
    (where / "conftest.py").write_text(CONFTEST)
    (where / "test_foreign.py").write_text(TESTS)
    alone = observe_run(where, "-p", "no:forget_conformance")
    draws = alone["random draws"]
    assert len(draws) == 2 and draws[0] != draws[1], alone
    assert alone["example counts"] == [(5, 5)] and alone["imports"] == [False], alone
    assert ("ERROR", "test_foreign.py::test_needs_an_undefined_forget") in alone["outcomes"]
    return where, alone


def test_foreign_suite_runs_as_without_the_plugin(foreign):
    where, alone = foreign
    assert observe_run(where) == alone


def test_a_leaky_plugin_is_told_apart_in_every_aspect(foreign):
    where, alone = foreign
    leaky = observe_run(where, "-p", "no:forget_conformance", "-p", "tests.broken.leaky_plugin")
    assert [a for a in ASPECTS if leaky[a] == alone[a]] == []


PLUGINS = {"installed": (), "leaky": ("-p", "no:forget_conformance",
                                      "-p", "tests.broken.leaky_plugin")}


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_bad_input_is_one_line_and_a_usage_error(foreign, plugin):
    where, _ = foreign
    cases = [(("--forget-known-deviations", "no-such-file.txt"), {},
              "known-deviations file 'no-such-file.txt' not found"),
             (("--forget-impl", "reference"), {"FORGET_PROFILE": "bogus"},
              "$FORGET_PROFILE='bogus' is not one of ci, dev, full, nightly")]
    problems = []
    for args, env, message in cases:
        proc = run_pytest(where, "--co", *PLUGINS[plugin], *args, env=env)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        if proc.returncode != pytest.ExitCode.USAGE_ERROR or len(lines) != 1 or (
                message not in lines[0]) or "INTERNALERROR" in proc.stdout:
            problems.append(f"{args} {env}: exit {proc.returncode}, stderr {lines[:3]}")
    header = run_pytest(where, "--co", *PLUGINS[plugin], "--forget-impl", "reference",
                        "--forget-level", "drop-in")
    if ("forget-conformance: implementation reference (forget_conformance.reference:forget), "
            "device all, profile ci, level drop-in") not in header.stdout:
        problems.append(f"no report header: {header.stdout[:300]}")
    assert (problems == []) == (plugin == "installed"), problems
