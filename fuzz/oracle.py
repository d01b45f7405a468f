"""The differential oracle: one graph, run plain and through ``forget``, must agree.

The runs and comparisons are in :mod:`forget_conformance.fuzz.compare` (self-contained, so that each
reproducer script carries the same code); this module runs a check on a
:class:`Graph` and raises :class:`ClauseViolation` for its first difference, naming
the clause it breaks. Both runs use identical inputs and freshly built identical
parameters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from forget_conformance import symptoms
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.fuzz import compare
from forget_conformance.graph import (
    Graph,
    capture_leaves,
    compile_graph,
    expected_calls,
    features,
    gradient_precision,
    memory_model,
    param_uses,
    shared_capture_leaves,
    walk,
)
from forget_conformance.graph.op_memory import MemoryModelError

LOSS_SCALE = compare.LOSS_SCALE
#: Structure that makes a gradient difference a T4 matter rather than plain D3.
T4_FEATURES = {"nested", "duplicate_arg", "passthrough", "multi_output", "unused_output",
               "index_arg", "mixed_dtypes"}
#: (check, what differs) -> clause, where the graph's structure does not decide it.
CLAUSES = {
    ("differential", "value"): "D1", ("differential", "calls"): "D4",
    ("differential", "leak"): "D9", ("differential", "state"): "D9",
    ("differential", "memory"): "D2",
    ("loss_scale", "param"): "T1",
    ("eval_forward", "grad"): "T2", ("eval_forward", "state"): "T2",
    ("cross_device", "value"): "D1",
    ("double_backprop", "value"): "D8", ("double_backprop", "grad"): "D8",
}
#: The clause of an exception from ``forget``, per check (None: by the phase).
ERROR_CLAUSES = {"differential": None, "loss_scale": "T1", "eval_forward": "T2",
                 "cross_device": None, "double_backprop": None}


def clause_of(graph: Graph, diff: compare.Difference) -> str:
    """The clause a difference found by a check on ``graph`` breaks."""
    if diff.what == "error":
        if diff.check == "double_backprop" and diff.key != "forward":
            return "D8"  # raised, but not a rejection, once the gradient was asked for
        if type(diff.error).__name__ == "ResultTypeError":
            return "D6"
        if "index_arg" in features(graph):
            return "T4"
        if diff.check == "differential" and diff.key == "backward" and "shared_capture" in (
                features(graph)):
            return "T3"  # a captured value used inside and outside: as a shared parameter
        return ERROR_CLAUSES[diff.check] or ("D1" if diff.key == "forward" else "D3")
    if diff.what == "grad" and diff.check in ("differential", "cross_device"):
        return _grad_clause(graph, diff.key)  # across devices the same structure decides
    return CLAUSES[diff.check, diff.what]


def _grad_clause(graph: Graph, key: str) -> str:
    """T3 for a parameter used inside and outside a segment, or for a leaf (input or
    parameter) that gets gradient both through a captured value and otherwise (the
    value, or one it was computed from, is used inside and outside a segment); else D7
    (raw arrays), T4 (T4 structure) or D3."""
    leaf = compare.leaf(key)
    if key.startswith("param ") and param_uses(graph).get(leaf) == {True, False}:
        return "T3"
    if leaf in shared_capture_leaves(graph):
        return "T3"
    found = features(graph)
    if "raw_array_arg" in found:
        return "D7"
    return "T4" if found & T4_FEATURES else "D3"


@functools.lru_cache(maxsize=256)  # a graph is replayed while hypothesis shrinks
def retained_limit(graph: Graph) -> dict | None:
    """What the graph may hold after a forward through ``forget``: the memory model's
    figure (``graph/memory_model.py``: ``bytes`` and its ``arrays``, each (shape, dtype,
    what made it)) and the number of forget ``calls`` (each may keep
    ``compare.PER_CALL_BYTES`` more); None for a graph the model does not cover
    (captured values, ops without memory facts)."""
    try:
        prediction = memory_model.predict(graph, forgetting=True)
    except MemoryModelError:
        return None
    return {"bytes": prediction.retained, "calls": len(graph.segments()),
            "arrays": [list(a) for a in prediction.arrays], "sizes": value_sizes(graph)}


def value_sizes(graph: Graph) -> list[int]:
    """Element counts of every value the graph has (inputs, results of ops and segments,
    the model's retained arrays): an array of another count is no intermediate of it."""
    shapes = [x.shape for x in graph.inputs]
    shapes += [s for step, _ in walk(graph.steps) for s in step.shapes]
    for link in graph.links:  # parameters: W, and a bias of the last size
        shapes += [link.sizes, link.sizes[-1:]]
        if link.kind == "conv2d":
            shapes.append(link.sizes[:2] + link.sizes[2:3] * 2)
    return sorted({math.prod(s) for s in shapes})


def run_check(check: str, graph: Graph, forget: Callable, device: Any = None) -> bool:
    """Run ``compare.CHECKS[check]`` on ``graph``; raise for the first difference.
    The leaves that captured values depend on are compared within their dtype's
    precision, and gradients that passed through a lower precision at that precision
    (see ``fuzz/compare.py``). Returns whether the bytes held after forward
    were checked against the memory model."""
    entry = compare.CHECKS[check][-1]
    limit = retained_limit(graph)
    found = entry(compile_graph(graph), forget, device or "@numpy",
                  expected_calls(graph, forgetting=True), tuple(sorted(capture_leaves(graph))),
                  limit, gradient_precision(graph))
    diff = next(found, None)
    if diff is not None:
        raise ClauseViolation(clause_of(graph, diff), diff.message,
                              symptom_of(diff)) from diff.error
    return limit is not None and check not in ("cross_device", "double_backprop")


def symptom_of(diff: compare.Difference) -> str:
    """The symptom (``forget_conformance.symptoms``) a difference shows."""
    if diff.what == "error":
        return symptoms.of(diff.error)
    if diff.check == "double_backprop":
        return "silently-wrong"  # double backprop neither rejected nor exact (D8)
    if diff.what == "calls":
        return "call-count"
    if diff.what in ("leak", "state"):
        return "state-changed"
    if diff.what == "memory":
        return "memory-kept"
    if "no gradient where" in diff.message:
        return "gradient-none"
    if "a gradient where" in diff.message:
        return "gradient-unexpected"
    return "value-mismatch"


def check_differential(graph: Graph, forget: Callable, device: Any = None) -> bool:
    """One training-mode forward + backward: outputs (D1, D6), calls (D4), gradients
    (D3, T3, T4, D7), link state and the ``in_recomputing`` flag (D9), bytes the graph
    holds (D2). Returns whether those were checked against the memory model."""
    return run_check("differential", graph, forget, device)


def check_loss_scale(graph: Graph, forget: Callable, device: Any = None) -> bool:
    """Backward with ``loss_scale`` then an SGD step: same parameters (T1). The graph
    must first pass :func:`check_differential`, so that only a loss-scale bug is T1."""
    return run_check("loss_scale", graph, forget, device)


def check_eval_forward(graph: Graph, forget: Callable, device: Any = None) -> bool:
    """Forward under ``train=False``, backward outside it: recomputation must use the
    forward's config, so gradients and link state match the plain graph (T2). The graph
    must first pass :func:`check_differential` (in training mode)."""
    return run_check("eval_forward", graph, forget, device)


def check_cross_device(graph: Graph, forget: Callable, device: Any = None) -> bool:
    """Through ``forget`` on ``device`` vs plain on the CPU, within ``policy.cross_device``."""
    return run_check("cross_device", graph, forget, device)


def check_double_backprop(graph: Graph, forget: Callable, device: Any = None) -> bool:
    """A gradient penalty through ``forget``: rejected, or the plain graph's first- and
    second-order gradients of every input and parameter (D8)."""
    return run_check("double_backprop", graph, forget, device)


CHECKS: dict[str, Callable[[Graph, Callable, Any], bool]] = {
    "differential": check_differential,
    "loss_scale": check_loss_scale,
    "eval_forward": check_eval_forward,
    "cross_device": check_cross_device,
    "double_backprop": check_double_backprop,
}
