"""The mutation-gap tests reject each broken variant of ``tests/broken/mutation_bugs.py``.

The tests of ``conformance/test_mutation_gaps.py`` are called directly, on the CPU,
with each variant as ``forget`` (no child pytest, no CLI run); a test that raises
(``AssertionError``, ``ClauseViolation`` or the implementation's own error) fails the
clause it is tagged with.
"""

import itertools

import pytest

from forget_conformance import devices, supervisor, verdicts
from forget_conformance.conformance import test_mutation_gaps as gaps
from forget_conformance.reference import forget as reference
from tests.broken import mutation_bugs


def _cases(test) -> list[dict]:
    """The keyword arguments of each parametrized case of ``test``."""
    axes = [[{m.args[0]: v} for v in m.args[1]]
            for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    return [dict(kv for d in combo for kv in d.items()) for combo in itertools.product(*axes)]


def _failing(forget) -> set[str]:
    failing = set()
    for name, test in vars(gaps).items():
        if not name.startswith("test_"):
            continue
        (clause,) = [m.args[0] for m in test.pytestmark if m.name == "clause"]
        for kwargs in _cases(test):
            try:
                test(forget=forget, forget_device=devices.get(devices.CPU), **kwargs)
            except Exception:  # noqa: BLE001 - as in the runner: a test that raises fails
                failing.add(clause)
    return failing


def test_reference_passes():
    assert _failing(reference) == set()


@pytest.mark.parametrize("name", sorted(mutation_bugs.EXPECTED))
def test_rejected_on_expected_clauses(name):
    assert _failing(getattr(mutation_bugs, name)) == mutation_bugs.EXPECTED[name]


def test_every_variant_is_listed():
    exported = {n for n, v in vars(mutation_bugs).items()
                if not n.startswith("_") and getattr(v, "__name__", None) == "forget"}
    assert exported == set(mutation_bugs.EXPECTED) | set(mutation_bugs.GPU_ONLY)
    assert not set(mutation_bugs.EXPECTED) & set(mutation_bugs.GPU_ONLY)


@pytest.mark.skipif(devices.gpu_unavailable_reason() is not None,
                    reason="needs a GPU (CuPy and a CUDA device)")
@pytest.mark.parametrize("name", sorted(mutation_bugs.GPU_ONLY))
def test_device_variants_rejected_on_gpu(name):
    """The device-handling variants (CPU-identical surviving mutants) fail on the GPU."""
    outcome = supervisor.run(supervisor.RunOptions(impl=f"tests.broken.mutation_bugs:{name}",
                                           device="gpu"))
    results = verdicts.aggregate(outcome.records, [])
    got = {r.id for r in results if r.status == "fail"}
    assert got == mutation_bugs.GPU_ONLY[name], f"{name}: failing clauses {sorted(got)}"
