"""The fuzz targets as plain module-level hypothesis tests, for coverage-guided fuzzers.

The fuzz suite (``test_fuzz_graphs.py``) builds its ``@given`` property inside each test
(profile, example counts, reproducers, campaigns); tools that drive hypothesis tests
themselves, such as HypoFuzz, look for ``@given`` tests at module level. These are the same
targets, on the CPU, with the same oracle and the same example database. This module is not
collected by a suite run (its name does not start with ``test_``); name it explicitly::

    pytest fuzz/properties.py --forget-impl mypkg.ckpt:forget
    hypothesis fuzz -- fuzz/properties.py --forget-impl mypkg.ckpt:forget   # HypoFuzz

(installed: ``python -c "import forget_conformance.fuzz.properties as m; print(m.__file__)"``
gives the path). HypoFuzz is not a dependency of this project (its licence is not a free
one for commercial use): install it yourself if its terms suit you.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from forget_conformance import databases, devices, outputs
from forget_conformance.fuzz import oracle, targets
from forget_conformance.fuzz.coverage import Coverage, graph_features

_SETTINGS = settings(deadline=None, database=databases.open_database(outputs.database()),
                     suppress_health_check=list(HealthCheck))


def _check(name: str, graph, implementation) -> None:
    target = targets.TARGETS[name]
    try:
        oracle.CHECKS[target.check](graph, implementation.forget, devices.CPU)
    finally:
        Coverage.label(graph_features(graph))


@pytest.mark.clause(*targets.TARGETS["differential"].clauses)
@_SETTINGS
@given(graph=targets.TARGETS["differential"].strategy)
def test_differential(graph, forget_implementation):
    _check("differential", graph, forget_implementation)


@pytest.mark.clause(*targets.TARGETS["shared_parameters"].clauses)
@_SETTINGS
@given(graph=targets.TARGETS["shared_parameters"].strategy)
def test_shared_parameters(graph, forget_implementation):
    _check("shared_parameters", graph, forget_implementation)


@pytest.mark.clause(*targets.TARGETS["loss_scale"].clauses)
@_SETTINGS
@given(graph=targets.TARGETS["loss_scale"].strategy)
def test_loss_scale(graph, forget_implementation):
    _check("loss_scale", graph, forget_implementation)


@pytest.mark.clause(*targets.TARGETS["eval_forward"].clauses)
@_SETTINGS
@given(graph=targets.TARGETS["eval_forward"].strategy)
def test_eval_forward(graph, forget_implementation):
    _check("eval_forward", graph, forget_implementation)
