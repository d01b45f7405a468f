"""How many times ``forget`` calls each segment's function (D4), and which are live."""

from __future__ import annotations

import collections
import heapq

from forget_conformance.graph.model import Forget, Graph, Op, Ref, Step, walk


def live_segments(graph: Graph) -> dict[str, bool]:
    """Whether each segment has an output the loss depends on (so backward reaches it),
    directly or through a live segment that captures it."""
    live: dict[str, bool] = {}

    def visit(steps: tuple[Step, ...], needed: set[Ref]) -> None:
        for step in reversed(steps):
            if isinstance(step, Op):
                if needed.intersection(step.outs):
                    needed.update(step.args)
                continue
            inner = {r for o, r in zip(step.outs, step.returns, strict=False) if o in needed}
            live[step.name] = bool(inner)
            visit(step.body, inner)
            needed.update(a for a, p in zip(step.args, step.params, strict=False) if p in inner)
            needed.update(c for c in step.captures if c in inner)

    visit(graph.steps, set(graph.loss))
    return live


def expected_calls(graph: Graph, forgetting: bool) -> dict[str, int]:
    """Calls of each segment function in one forward + backward (D4).

    Plain: once each. With ``forget``: once in the forward of the enclosing function,
    and once more for each backward pass that reaches its node (a recomputation, which
    also calls the nested segments' functions once each). The loss's backward is one
    pass; each recomputation backpropagates its own graph in a pass of its own, which
    follows captured values back into the caller's graph (as Chainer's backward
    does): a segment whose result is captured by another is then recomputed once
    more. Without captures: 2 per top-level live segment, one more per nesting level.
    """
    if not forgetting:
        return {seg.name: 1 for seg, _ in graph.segments()}
    return _CallCounter(graph).run()


class _CallCounter:
    """Replays the backward passes of a forgetting run, counting segment calls."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.calls: collections.Counter = collections.Counter()
        self.steps: list[Step] = [step for step, _ in walk(graph.steps)]
        self.producer = {o: i for i, step in enumerate(self.steps) for o in step.outs}

    def run(self) -> dict[str, int]:
        for step in self.graph.steps:
            if isinstance(step, Forget):
                self.call(step)
        self.backprop(set(self.graph.loss))
        return {seg.name: self.calls[seg.name] for seg, _ in self.graph.segments()}

    def call(self, seg: Forget) -> None:
        """One call of ``seg``'s function: nested ``forget`` s run their functions once."""
        self.calls[seg.name] += 1
        for step in seg.body:
            if isinstance(step, Forget):
                self.call(step)

    def backprop(self, seeds: set[Ref]) -> set[Ref]:
        """One backward pass from ``seeds`` (refs with a gradient), nodes latest first;
        returns every ref it gives a gradient to. A segment's parameters are leaves."""
        reached, queued = set(seeds), set()
        heap: list[int] = []

        def reach(ref: Ref) -> None:
            reached.add(ref)
            i = self.producer.get(ref)
            if i is not None and i not in queued:
                queued.add(i)
                heapq.heappush(heap, -i)

        for ref in seeds:
            reach(ref)
        while heap:
            step = self.steps[-heapq.heappop(heap)]
            if isinstance(step, Op):
                for a in step.args:
                    reach(a)
                continue
            self.call(step)  # the recomputation
            inner = self.backprop({r for o, r in zip(step.outs, step.returns, strict=True)
                                   if o in reached})
            for a, p in zip(step.args, step.params, strict=True):
                if p in inner:
                    reach(a)
        return reached
