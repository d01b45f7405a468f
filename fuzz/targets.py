"""The fuzz targets: which oracle check runs on which graphs, and how many (``ci`` base).

Shared by ``fuzz/test_fuzz_graphs.py``, the self-tests and ``fuzz/FINDINGS.md``'s
measurement, so all three run exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis.strategies import SearchStrategy

from forget_conformance.fuzz import campaign_loop, property_runner
from forget_conformance.fuzz.strategies import FEEDBACK_EXTRA, graphs
from forget_conformance.impl import Implementation


@dataclass(frozen=True)
class Target:
    name: str
    check: str  # a key of fuzz.oracle.CHECKS
    strategy: SearchStrategy
    base_examples: int
    clauses: tuple[str, ...]  # what a failure can be attributed to
    informational: bool = False  # differences are observed and reported, never raised


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("differential", "differential", graphs(), 600,
           ("D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Target("shared_parameters", "differential",  # a weight, or a captured value, shared
           graphs(extras=("shared_param", "captured_value"), raw_arrays=False), 225,
           ("T3", "D1", "D3", "D4", "D6", "D9", "T4")),
    Target("loss_scale", "loss_scale",
           graphs(extras=("param_in_segment", "none", "shared_param"), raw_arrays=False), 300,
           ("T1", "D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Target("eval_forward", "eval_forward",
           graphs(extras=("stateful_in_segment", "nested_stateful"), raw_arrays=False), 225,
           ("T2", "D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Target("cross_device", "cross_device", graphs(), 40, ("D1", "D3", "D6", "T4")),
    # Judges only an implementation that allows double backprop (a rejection passes).
    Target("double_backprop", "double_backprop",
           graphs(extras=("captured_value", "param_in_segment"),
                  raw_arrays=False), 50, ("D8", "D1")),
    # outside the contract (D10): a segment applying one BatchRenormalization twice
    Target("stateful_feedback", "differential",
           graphs(extras=(FEEDBACK_EXTRA,), raw_arrays=False), 20, ("D10",),
           informational=True),
)}


def run(name: str, implementation: Implementation, device: Any,
        log: property_runner.FuzzLog | None = None, tests_left: int = 1) -> int:
    """Run one target against ``implementation`` on ``device``; returns examples run
    (``log``: see :func:`.property_runner.fuzz`). In a campaign worker it runs in chunks
    for its share of the time left, shared with ``tests_left - 1`` tests after it."""
    target = TARGETS[name]
    if campaign_loop.active():
        return campaign_loop.run(target, implementation, device,
                                 log if log is not None else property_runner.FuzzLog(),
                                 tests_left)
    return property_runner.fuzz(target.check, target.strategy, implementation, device,
                                target.base_examples, target.name, log,
                                informational=target.informational,
                                hang_clause=target.clauses[0])
