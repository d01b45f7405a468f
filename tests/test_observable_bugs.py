"""``conformance/test_observables.py`` rejects every variant in observable_bugs on its clause,
and accepts the reference and upstream 7.8.1. In-process: the tests' bodies are called
directly, one scenario per variant (no pytest session, no CLI run)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import chainer
import pytest

from forget_conformance import devices, records, state, supervisor, symptoms, verdicts
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance import test_observables
from tests.broken import observable_bugs


def _step(optimizer: str, lazy: bool):
    return lambda forget: test_observables.check_step(forget, CPU, optimizer, lazy)


CPU = devices.get(devices.CPU)
SUITE_INI = Path(supervisor.__file__).with_name("suite.ini")
SCENARIOS = {
    "adam-eager_sum": _step("adam", False),
    "adam-lazy_grad_sum": _step("adam", True),
    "momentum_sgd-eager_sum": _step("momentum_sgd", False),
    "many_arguments-3": lambda forget: test_observables.test_many_arguments(forget, CPU, 3),
}
TEST_CLAUSES = {"many_arguments-3": "T4"}  # an exception there is charged to its one mark


def verdict(forget, scenario: str) -> tuple[str, str] | None:
    """(clause, symptom kind) of the scenario's failure, None when it passes."""
    before = state.snapshot()
    try:
        SCENARIOS[scenario](forget)
    except ClauseViolation as exc:
        return exc.clause_id, symptoms.kind(exc.symptom)
    except Exception as exc:  # noqa: BLE001 - charged to the test's clauses, as verdicts does
        return TEST_CLAUSES.get(scenario, "all"), symptoms.kind(symptoms.of(exc))
    finally:
        state.restore(before)
    return None


@pytest.mark.parametrize("name", sorted(observable_bugs.EXPECTED))
def test_rejected_on_its_clause(name):
    clause, symptom, scenario = observable_bugs.EXPECTED[name]
    assert verdict(getattr(observable_bugs, name), scenario) == (clause, symptom)


@pytest.mark.parametrize("impl", ["reference", "upstream"])
def test_correct_and_upstream_accepted(impl):
    from forget_conformance.reference import forget as reference

    forget = reference if impl == "reference" else chainer.functions.forget
    got = {s: verdict(forget, s) for s in
           sorted({s for _, _, s in observable_bugs.EXPECTED.values()})}
    assert got == dict.fromkeys(got)


def test_every_variant_listed():
    exported = {n for n, v in vars(observable_bugs).items() if callable(v)
                and not n.startswith("_") and getattr(v, "__module__", None) ==
                observable_bugs.__name__}
    assert exported == set(observable_bugs.EXPECTED)


def test_a_crash_is_charged_to_t4_through_the_verdicts(tmp_path):
    """End to end (pytest session, results file, verdicts): an implementation that crashes
    on a third argument fails T4 and nothing else."""
    folder = Path(test_observables.__file__).parent
    results = tmp_path / "results.jsonl"
    with redirect_stdout(io.StringIO()):
        code = pytest.main([str(folder / "test_observables.py"), "--rootdir", str(folder),
                            "-c", str(SUITE_INI), "-q", "-p", "no:cacheprovider",
                            "--forget-device", "cpu", "--forget-results", str(results),
                            "-k", "many_arguments or momentum_sgd",
                            "--forget-impl", "tests.broken.observable_bugs:two_arguments_retained"])
    assert code == pytest.ExitCode.TESTS_FAILED
    failing = {c.id for c in verdicts.aggregate(records.read(results), []) if c.status == "fail"}
    assert failing == {"T4"}
