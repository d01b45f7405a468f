"""The fuzz suites: which oracle check runs on which graphs, and how many (``ci`` base).

Shared by ``fuzz/test_fuzz_graphs.py``, the self-tests and ``fuzz/FINDINGS.md``'s
measurement, so all three run exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forget_conformance.fuzz import runner
from forget_conformance.fuzz.strategies import graphs
from hypothesis.strategies import SearchStrategy

from forget_conformance.impl import Implementation


@dataclass(frozen=True)
class Suite:
    name: str
    check: str  # a key of fuzz.oracle.CHECKS
    strategy: SearchStrategy
    base_examples: int
    clauses: tuple[str, ...]  # what a failure can be attributed to


SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("differential", "differential", graphs(), 600,
          ("D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Suite("shared_parameters", "differential",  # a weight, or a captured value, shared
          graphs(extras=("shared_param", "captured_value"), raw_arrays=False), 225,
          ("T3", "D1", "D3", "D4", "D6", "D9", "T4")),
    Suite("loss_scale", "loss_scale",
          graphs(extras=("param_in_segment", "none", "shared_param"), raw_arrays=False), 300,
          ("T1", "D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Suite("eval_forward", "eval_forward",
          graphs(extras=("stateful_in_segment", "nested_stateful"), raw_arrays=False), 225,
          ("T2", "D1", "D3", "D4", "D6", "D7", "D9", "T3", "T4")),
    Suite("cross_device", "cross_device", graphs(), 40, ("D1", "D3", "D6", "T4")),
)}


def run(name: str, implementation: Implementation, device: Any) -> int:
    """Run one suite against ``implementation`` on ``device``; returns examples run."""
    suite = SUITES[name]
    return runner.fuzz(suite.check, suite.strategy, implementation, device,
                       suite.base_examples, suite.name)
