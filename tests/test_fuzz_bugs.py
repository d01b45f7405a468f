"""The fuzzer catches the bugs of ``tests/broken/fuzz_bugs.py`` (numeric extremes, result
shapes, memory) and its ``ci`` profile reaches every feature of the graph model.

Cheaply: each suite's ``ci`` examples are drawn once (derandomized, as ``ci`` draws them)
and each broken implementation is run through the suite's oracle check until one fails,
without a hypothesis run (and its shrinking) per implementation.
"""

from __future__ import annotations

import functools

import pytest

from forget_conformance import impl
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.fuzz import oracle, targets
from forget_conformance.fuzz.coverage import FEATURES, Coverage
from forget_conformance.fuzz.throughput import draw_graphs
from tests.broken import fuzz_bugs


@functools.cache
def ci_graphs(suite: str) -> tuple:
    return tuple(draw_graphs(targets.TARGETS[suite].base_examples, targets.TARGETS[suite].strategy))


def first_violation(target: str, suite: str) -> tuple[int, ClauseViolation] | None:
    """The index of the first ``ci`` example of ``suite`` on which ``target`` fails, and why."""
    forget = impl.resolve(target).forget
    for i, graph in enumerate(ci_graphs(suite)):
        try:
            oracle.CHECKS[targets.TARGETS[suite].check](graph, forget, "@numpy")
        except ClauseViolation as violation:
            return i, violation
    return None


@pytest.mark.parametrize("name", sorted(fuzz_bugs.EXPECTED))
def test_ci_examples_catch(name):
    suite, clauses = fuzz_bugs.EXPECTED[name]
    found = first_violation(f"tests.broken.fuzz_bugs:{name}", suite)
    assert found is not None, f"{name}: no {suite} ci example fails"
    index, violation = found
    assert violation.clause_id in clauses, f"{name}: example {index}: {violation}"


def test_ci_examples_are_memory_checked_where_the_model_covers_them():
    covered = [oracle.retained_limit(g) is not None for g in ci_graphs("differential")]
    assert 0 < sum(covered) < len(covered)


@pytest.mark.parametrize("suite", ["differential"])
def test_ci_reaches_every_feature(suite):
    coverage = Coverage()
    for graph in ci_graphs(suite):
        coverage.add(graph)
    assert coverage.missing(FEATURES) == [], coverage.line(suite)


@pytest.mark.parametrize("name", fuzz_bugs.CORRECT)
def test_ci_examples_accept_correct_variants(name):
    """A fixed overhead per forget call (a 0-d float32, or an RNG state table) is not D2."""
    covered = [g for g in ci_graphs("differential") if oracle.retained_limit(g) is not None]
    assert len(covered) >= 100
    forget = impl.resolve(f"tests.broken.fuzz_bugs:{name}").forget
    for graph in covered[:100]:  # where the memory model covers the graph: D2 is checked
        oracle.check_differential(graph, forget, "@numpy")


def test_a_d2_failure_names_the_arrays_kept_beyond_the_model():
    from forget_conformance.graph import GraphBuilder

    b = GraphBuilder()
    x = b.input((4, 3))
    (a,) = b.begin_forget((x,))
    (y,) = b.end_forget((b.unary("tanh", b.unary("sin", a)),))
    graph = b.build((y,))
    with pytest.raises(ClauseViolation) as info:
        oracle.check_differential(graph, impl.resolve(
            "tests.broken.fuzz_bugs:forward_keeps_graph").forget)
    message = str(info.value)
    assert info.value.clause_id == "D2" and "16 per forget call (1)" in message
    # sin keeps its input (the argument, a copy of x here) and tanh its output: the
    # intermediates of func, named by shape, dtype and the op that made them
    assert "kept beyond the model: " in message and "(4, 3) float32 (made by Tanh)" in message
