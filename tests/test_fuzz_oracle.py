"""Self-tests of the fuzzer: the reference passes; upstream and broken variants are caught,
in the ``ci`` profile, each with a standalone reproducer script that fails when run on
the broken implementation and passes on the reference."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from forget_conformance import impl, policy, profiles
from forget_conformance.fuzz import compare, corpus, property_runner, reproducer, targets
from forget_conformance.graph import GraphBuilder, to_source

ROOT = Path(__file__).resolve().parents[1]
BROKEN = "tests.broken.variants:"
REFERENCE = "forget_conformance.reference:forget"
#: All a reproducer may import: the standard library, NumPy and Chainer.
STANDALONE_IMPORTS = {"collections", "gc", "importlib", "os", "re", "sys", "traceback", "types",
                      "weakref",
                      "zlib", "chainer", "numpy"}

#: implementation -> (suite, clauses its failure may be attributed to)
CAUGHT = {
    "chainer/T1": ("chainer", "loss_scale", {"T1"}),
    "chainer/T2": ("chainer", "eval_forward", {"T2"}),
    "chainer/T3": ("chainer", "shared_parameters", {"T3"}),
    "first_output_grad_only": (BROKEN + "first_output_grad_only", "differential", {"T4"}),
    "duplicate_arg_grad_lost": (BROKEN + "duplicate_arg_grad_lost", "differential", {"T4"}),
    "last_writer_wins": (BROKEN + "last_writer_wins", "shared_parameters", {"T3"}),
    "loss_scale_dropped": (BROKEN + "loss_scale_dropped", "loss_scale", {"T1"}),
    "lost_param_grads": (BROKEN + "lost_param_grads", "differential", {"D3"}),
    "int_args_cast": (BROKEN + "int_args_cast", "differential", {"T4", "D2"}),  # keeps floats
    "backward_time_config": (BROKEN + "backward_time_config", "eval_forward", {"T2"}),
    "scaled_arg_grads": (BROKEN + "scaled_arg_grads", "differential", {"D3", "T4"}),
    "tuple_for_single": (BROKEN + "tuple_for_single", "differential", {"D6"}),
    "float32_outputs": (BROKEN + "float32_outputs", "differential", {"D1", "D3"}),
    "recompute_not_flagged": (BROKEN + "recompute_not_flagged", "differential", {"D9"}),
    "flag_leaked": (BROKEN + "flag_leaked", "differential", {"D9"}),
    "extra_call": (BROKEN + "extra_call", "differential", {"D4"}),
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """ci profile; reproducers and the example database under ``tmp_path``; the drawn
    examples only."""
    previous = profiles.current()
    profiles.activate("ci")
    monkeypatch.setenv(property_runner.ENV_DATABASE, str(tmp_path / "db"))
    monkeypatch.setenv("FORGET_FUZZ_FAILURES", str(tmp_path / "failures"))
    monkeypatch.delenv(property_runner.ENV_SEED, raising=False)
    monkeypatch.delenv(property_runner.ENV_MAX_EXAMPLES, raising=False)
    # What the drawn ci examples catch, as fuzz/FINDINGS.md measures: no shipped corpus.
    monkeypatch.setenv(corpus.ENV_SHIPPED, "0")
    yield
    profiles.activate(previous)


@pytest.mark.parametrize("suite", ["differential", "shared_parameters", "loss_scale",
                                   "eval_forward"])
def test_reference_passes(suite):
    """... with the bytes held checked against the memory model on some examples, and
    every one counted in the coverage line."""
    examples = targets.TARGETS[suite].base_examples
    log = property_runner.FuzzLog()
    assert targets.run(suite, impl.resolve("reference"), "@numpy", log) == examples
    coverage = log.progress.coverage
    assert coverage.examples == examples and 0 < coverage.memory_checked < examples
    assert coverage.line(suite).startswith(f"[fuzz coverage] {suite}: {examples} examples (")


def _leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    return [leaf for e in inner for leaf in _leaves(e)] if inner else [exc]


def fuzz_until_caught(case: str, target: str, suite: str, clauses: set[str]
                      ) -> tuple[set[str], property_runner.FuzzLog]:
    """Run ``suite`` on ``target``; assert it fails on one of ``clauses``; return those found
    and what the run saw."""
    log = property_runner.FuzzLog()
    with pytest.raises(BaseException) as info:  # noqa: B017 - AssertionError or a group
        targets.run(suite, impl.resolve(target), "@numpy", log)
    found = {getattr(e, "clause_id", None) for e in _leaves(info.value)}
    assert found & clauses, f"{case}: expected one of {clauses}, got {found}"
    print(f"{case}: found after {log.progress.first_failure} examples ({suite})")
    return found, log


def assert_reproduces(tmp_path, script, target: str) -> None:
    """The standalone script fails on ``target`` and passes on the reference."""
    broken, reference = run_standalone(tmp_path, (script, target), (script, REFERENCE))
    assert broken.returncode == 1 and "FAILS" in broken.stdout, broken.stdout + broken.stderr
    assert reference.returncode == 0 and "passes" in reference.stdout, (
        reference.stdout + reference.stderr)


@pytest.mark.parametrize("case", list(CAUGHT))
def test_fuzzer_catches(case, tmp_path):
    target, suite, clauses = CAUGHT[case]
    found, log = fuzz_until_caught(case, target, suite, clauses)
    scripts = log.reproducers
    assert scripts and all(p.parent == tmp_path / "failures" for p in scripts)
    script = next(p for p in scripts if any(f"-{c}-" in p.name.replace("_", "-")
                                            for c in found & clauses))
    text = script.read_text()
    assert "reproduce_failure" in text and target in text
    assert_standalone(text)
    assert_reproduces(tmp_path, script, impl.resolve(target).target)


def test_reproducers_are_never_overwritten(tmp_path):
    target = BROKEN + "scaled_arg_grads"
    for _ in range(2):
        with pytest.raises(AssertionError):
            targets.run("shared_parameters", impl.resolve(target), "@numpy")
    assert len(list((tmp_path / "failures").glob("*.py"))) == 2


# -- reproducer scripts are standalone ------------------------------------------------------

#: Runs each (script, target) pair in this one process, as ``python SCRIPT TARGET`` would,
#: with the harness unimportable; prints the exit status of each after a marker line.
_RUN_EACH = """
import runpy, sys

class Harness:
    def find_spec(self, name, path=None, target=None):
        # The reference (an implementation under test) may be imported; nothing else of ours.
        if name in ("forget_conformance", "forget_conformance.reference",
                    "forget_conformance.reference._forget"):
            return None
        if name.partition(".")[0] in ("forget_conformance", "fuzz", "hypothesis"):
            raise ImportError(f"{name} is part of the harness")

sys.meta_path.insert(0, Harness())
pairs = sys.argv[1:]
for script, target in zip(pairs[::2], pairs[1::2]):
    sys.argv = [script, target]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        print(f"@@ exit {exc.code}", flush=True)
        print(f"@@ exit {exc.code}", file=sys.stderr, flush=True)
"""


def assert_standalone(text: str) -> None:
    imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", text, re.MULTILINE))
    assert imported <= STANDALONE_IMPORTS, imported - STANDALONE_IMPORTS


def run_standalone(tmp_path: Path, *pairs: tuple[Path, str]) -> list[subprocess.CompletedProcess]:
    """Run each reproducer on its target as a user would: ``python -S`` with only
    site-packages (NumPy, Chainer) on ``PYTHONPATH``, so neither the repository nor the
    harness is importable, from a project directory holding copies of the modules the
    targets need (the reference as ``forget_conformance.reference``,
    ``tests/broken/variants.py``, ``capture_bugs.py`` and ``second_order_bugs.py``)."""
    project = tmp_path / "user_project"
    if not project.exists():
        # Only the reference, under its installed name: the harness stays unimportable.
        shutil.copytree(ROOT / "forget_impl", project / "forget_conformance" / "reference",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (project / "forget_conformance" / "__init__.py").write_text("")
        (project / "tests" / "broken").mkdir(parents=True)
        for name in ("tests/__init__.py", "tests/broken/__init__.py", "tests/broken/variants.py",
                     "tests/broken/capture_bugs.py", "tests/broken/second_order_bugs.py"):
            shutil.copy(ROOT / name, project / name)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    args = [str(x) for pair in pairs for x in pair]
    done = subprocess.run([sys.executable, "-S", "-c", _RUN_EACH, *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=240)
    # [output of run 0, its exit status, output of run 1, ...]
    outs, errs = (re.split(r"@@ exit (\S+)\n", stream) for stream in (done.stdout, done.stderr))
    assert len(outs) == 2 * len(pairs) + 1, done.stdout + done.stderr
    return [subprocess.CompletedProcess(pair, int(outs[2 * i + 1]), outs[2 * i], errs[2 * i])
            for i, pair in enumerate(pairs)]


def _small_graph():
    """A linear layer and a shared weight inside a segment: every check has work to do."""
    b = GraphBuilder(seed=3)
    x = b.input((3, 4))
    lin, w = b.add_link("linear", (4, 4)), b.add_link("weight", (3, 4))
    (a,) = b.begin_forget((x,))
    (y,) = b.end_forget((b.binary("mul", b.unary("tanh", b.apply_link(lin, a)), w),))
    return b.build((b.binary("add", y, w),))


def test_reproducer_of_each_check_runs_standalone(tmp_path):
    """Every check's script (cross_device on the CPU: its tolerance is looser) passes on
    the reference and fails on a variant whose argument gradients are 0.1% off (the
    double_backprop check: on one that allows double backprop, and gets it wrong)."""
    graph, pairs = _small_graph(), []
    for check in compare.CHECKS:
        path = tmp_path / f"{check}.py"
        path.write_text(reproducer.script(graph, target=REFERENCE, check=check,
                                          device="@numpy"))
        assert_standalone(path.read_text())
        broken = ("tests.broken.second_order_bugs:param_second_order_lost"  # allows it
                  if check == "double_backprop" else BROKEN + "scaled_arg_grads")
        pairs += [(path, REFERENCE), (path, broken)]
    for done in run_standalone(tmp_path, *pairs):
        script, target = done.args
        assert done.returncode == (target != REFERENCE), done.stdout + done.stderr
        assert ("FAILS" if done.returncode else "passes") in done.stdout
        if done.returncode:
            assert "max abs error" in done.stdout, done.stdout


def test_compare_imports_only_what_the_graph_source_imports():
    head = Path(compare.__file__).read_text().split(reproducer.COPY_MARK)[0]
    source = to_source(_small_graph())
    for line in re.findall(r"^(?:import|from) .*$", head, re.MULTILINE):
        assert line in source.splitlines(), line


@pytest.mark.parametrize("cross_device", [False, True])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "bool"])
def test_inlined_tolerances_agree_with_policy(dtype, cross_device):
    """``compare.mismatch`` gives the verdict and message of ``policy.mismatch``."""
    tol = (policy.cross_device if cross_device else policy.same_kernels)(dtype)
    rng = np.random.RandomState(0)
    expected = rng.uniform(-2, 2, (4, 5)).astype(dtype)
    cases = [expected, expected[:2], expected.astype(np.float32 if dtype != "float32" else
                                                     np.float64)]
    if np.dtype(dtype).kind == "f":
        eps = float(np.finfo(dtype).eps)
        for ulps in (1, 8, 15, 17, 40, 1e5):
            step = np.zeros_like(expected)
            step.flat[7] = ulps * eps * np.abs(expected).max()
            cases.append(expected + step)
        with_nan = expected.copy()
        with_nan.flat[3] = np.nan
        cases += [with_nan, np.full_like(expected, np.nan)]
        both_nan = True
    else:
        changed = expected.copy()
        changed.flat[2] = not changed.flat[2] if dtype == "bool" else changed.flat[2] + 1
        cases.append(changed)
        both_nan = False
    for actual in cases:
        assert compare.mismatch(actual, expected, cross_device) == policy.mismatch(
            actual, expected, tol)
    if both_nan:
        assert compare.mismatch(with_nan, with_nan, cross_device) is None
    assert compare.mismatch(expected[:0], expected[:0], cross_device) is None


def test_cross_device_gradient_difference_named_by_graph_structure():
    """A lost contribution of a parameter used inside and outside a segment is T3 whether
    the differential check or the cross-device one meets it first (as upstream's was, on
    an H200); elsewhere a cross-device gradient difference is D3."""
    from forget_conformance.fuzz import oracle

    b = GraphBuilder()
    x = b.input((2, 2))
    link = b.add_link("linear", (2, 2))
    (a,) = b.begin_forget((x,))
    (y,) = b.end_forget((b.apply_link(link, a),))
    shared = b.build((b.apply_link(link, y),))
    diff = compare.Difference("cross_device", "grad", f"param /{link}/W", "", None)
    assert oracle.clause_of(shared, diff) == "T3"
    assert oracle.clause_of(shared, diff._replace(key="x0")) == "D3"
    assert oracle.clause_of(shared, diff._replace(what="value")) == "D1"


def test_a_plain_path_failure_is_a_harness_error_not_a_verdict(monkeypatch):
    """A graph the plain path rejects is the harness's bug: the oracle raises
    ``compare.HarnessBug``, whose symptom gives no verdict, never a ``ClauseViolation``."""
    from forget_conformance import symptoms
    from forget_conformance.fuzz import oracle

    b = GraphBuilder(seed=0)
    b.unary("tanh", b.input((2, 3), "float32"))
    graph = b.build(tuple(b.refs())[-1:])
    real = compare.run_step

    def plain_breaks(graph, forget, device, **step):
        run = real(graph, forget, device, **step)
        if forget is None:
            run.error, run.phase = ValueError("the plain path broke"), "forward"
        return run

    monkeypatch.setattr(compare, "run_step", plain_breaks)
    with pytest.raises(compare.HarnessBug, match="plain graph failed in forward") as info:
        oracle.check_differential(graph, impl.resolve("reference").forget, "@numpy")
    assert symptoms.of(info.value) == symptoms.HARNESS
    assert symptoms.HARNESS in symptoms.NO_VERDICT
