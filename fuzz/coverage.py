"""Feature coverage of a fuzz run: how many examples reached each feature of the graph model.

Every suite reports one line (``coverage_line``), so a run that never reached, say, a
stateful link inside a nested segment says so instead of passing silently.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from forget_conformance.graph import Graph, Op, features, walk

#: What the line counts, in order. Segment results: ``returned_twice`` (one Variable
#: returned twice), ``passthrough`` (an argument returned unchanged), ``zero_d_output``,
#: ``many_outputs`` (three or more), ``unused_output``.
FEATURES = ("nested", "stateful_in_segment", "stateful_nested", "captured", "shared_param",
            "float16", "int_input", "large", "nonfinite", "returned_twice", "passthrough",
            "zero_d_output", "many_outputs", "unused_output")
_STATEFUL = ("batch_norm", "batch_renorm")
EVENT_PREFIX = "graph feature: "


def graph_features(graph: Graph) -> set[str]:
    """The :data:`FEATURES` that ``graph`` has."""
    found = features(graph) & {"nested", "captured", "shared_param", "passthrough",
                               "unused_output"}
    found.update(x.fill for x in graph.inputs if x.fill != "uniform")
    if any(x.is_index for x in graph.inputs):
        found.add("int_input")
    for step, depth in walk(graph.steps):
        if "float16" in step.dtypes:
            found.add("float16")
        if isinstance(step, Op):
            if step.op in _STATEFUL and depth:
                found.add("stateful_nested" if depth > 1 else "stateful_in_segment")
            continue
        if len(set(step.returns)) < len(step.returns):
            found.add("returned_twice")
        if () in step.shapes:
            found.add("zero_d_output")
        if len(step.outs) >= 3:
            found.add("many_outputs")
    if "stateful_nested" in found:
        found.add("stateful_in_segment")
    if any(x.dtype == "float16" for x in graph.inputs):
        found.add("float16")
    return found


class Coverage:
    """Counts, per feature, the examples that reached it."""

    def __init__(self) -> None:
        self.examples = 0
        self.hits: collections.Counter[str] = collections.Counter()
        self.memory_checked = 0
        self.last: set[str] = set()

    def add(self, graph: Graph) -> set[str]:
        """Count ``graph``'s features; returns them (also kept as ``last``)."""
        self.examples += 1
        self.last = graph_features(graph)
        self.hits.update(self.last)
        return self.last

    @staticmethod
    def label(found: Iterable[str]) -> None:
        """Tell hypothesis which features the current example has (``hypothesis.event``):
        its statistics (``--hypothesis-show-statistics``, HypoFuzz) then show what a
        run reached."""
        from hypothesis import event

        for name in sorted(found):
            event(EVENT_PREFIX + name)

    def missing(self, wanted: Iterable[str] = FEATURES) -> list[str]:
        """The features of ``wanted`` no example reached."""
        return [f for f in wanted if not self.hits[f]]

    def line(self, label: str) -> str:
        """``[fuzz coverage] LABEL: N examples (M memory-checked); feature n, ...``."""
        counts = ", ".join(f"{f} {self.hits[f]}" for f in FEATURES)
        return (f"[fuzz coverage] {label}: {self.examples} examples "
                f"({self.memory_checked} memory-checked); {counts}")
