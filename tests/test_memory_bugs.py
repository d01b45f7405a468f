"""D2 judges what grows with the data, and across steps: a fixed overhead per call passes,
an intermediate kept (named in the failure) and memory kept from step to step fail.
Each variant of ``tests.broken.memory_bugs`` runs ``conformance/test_memory.py`` in-process."""

from __future__ import annotations

import pytest

from forget_conformance.conformance import test_memory
from forget_conformance.devices import CPU, get
from forget_conformance.symptoms import Symptomatic
from tests.broken import memory_bugs
from tests.test_shape_bugs import failing_clauses


@pytest.mark.parametrize("name", sorted(memory_bugs.EXPECTED))
def test_judged_on_expected_clauses(name, tmp_path):
    selection, expected = memory_bugs.EXPECTED[name]
    got = failing_clauses(f"tests.broken.memory_bugs:{name}", selection, tmp_path)
    assert got == expected, f"{name}: failing {sorted(got)}, expected {sorted(expected)}"


@pytest.mark.parametrize("check, named", [
    (test_memory.test_link_intermediates_not_kept, "op 3 (Linear) of func's call 1 (128, 128)"),
    (test_memory.test_nothing_accumulates_across_steps, "step 1: argument a"),
])
def test_failure_names_what_is_kept(check, named):
    forget = (memory_bugs.keeps_last_op_inputs if "Linear" in named
              else memory_bugs.keeps_every_node)
    with pytest.raises(Symptomatic) as caught:
        check(forget, get(CPU))
    assert caught.value.symptom == "memory-kept"
    assert named in str(caught.value) and "float32" in str(caught.value)
