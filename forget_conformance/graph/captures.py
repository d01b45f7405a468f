"""Captured values: refs of enclosing scopes that a segment's function closes over.

A :class:`~forget_conformance.graph.model.Forget` lists them in ``captures``. These
helpers say where each captured ref is used (inside a segment that captures it, or
also outside one: the analogue of a parameter shared inside and outside ``func``,
T3) and which leaves (inputs, weights, links) a ref depends on, so that a gradient
difference at a leaf can be traced to a captured value: a leaf reached both through
a captured value and otherwise sums contributions from inside and outside the
segment, as a shared parameter does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from forget_conformance.graph.model import Forget, Graph, Op, Ref, Step

Path = tuple[str, ...]  # names of the segments enclosing a use, outermost first


def _uses(steps: tuple[Step, ...], path: Path) -> Iterator[tuple[Ref, Path]]:
    """Every use of a ref, with the segments enclosing it: op and forget arguments, and a
    segment's returns (a use inside that segment)."""
    for step in steps:
        yield from ((a, path) for a in step.args)
        if isinstance(step, Forget):
            inner = path + (step.name,)
            yield from ((r, inner) for r in step.returns)
            yield from _uses(step.body, inner)


def capture_uses(graph: Graph) -> dict[Ref, set[bool]]:
    """For each captured ref: ``True`` (used inside a segment that captures it) and
    ``False`` if it is also used outside such a segment: in its own scope (before or
    after the segment, as an argument, a return or a loss term) or in another segment."""
    uses = list(_uses(graph.steps, ())) + [(r, ()) for r in graph.loss]
    found: dict[Ref, set[bool]] = {}
    for seg, _ in graph.segments():
        for ref in seg.captures:
            outside = any(r == ref and seg.name not in path for r, path in uses)
            found.setdefault(ref, set()).update({True} | ({False} if outside else set()))
    return found


def shared_captures(graph: Graph) -> set[Ref]:
    """Captured refs also used outside a segment that captures them."""
    return {ref for ref, where in capture_uses(graph).items() if where == {True, False}}


def _index(graph: Graph) -> tuple[dict, dict]:
    """ref -> (the step producing it, the segment that step is in, or None at top level);
    segment parameter -> (its argument, the segment the ``forget`` call is in)."""
    producer: dict[Ref, tuple[Step, Forget | None]] = {}
    param_arg: dict[Ref, tuple[Ref, Forget | None]] = {}

    def visit(steps: tuple[Step, ...], owner: Forget | None) -> None:
        for step in steps:
            producer.update((o, (step, owner)) for o in step.outs)
            if isinstance(step, Forget):
                param_arg.update((p, (a, owner)) for p, a in zip(step.params, step.args,
                                                                  strict=True))
                visit(step.body, step)

    visit(graph.steps, None)
    return producer, param_arg


def leaves_of(graph: Graph, refs: Iterable[Ref], through_captures: bool = True) -> set[str]:
    """The inputs, weights and links (by name) that ``refs`` (top-level uses) depend on,
    through ops, segment results (their returns) and segment parameters (their
    arguments); with ``through_captures=False``, not through a segment's captures."""
    producer, param_arg = _index(graph)
    leaves: set[str] = set()
    stack: list[tuple[Ref, Forget | None]] = [(r, None) for r in refs]
    seen: set[tuple[Ref, str]] = set()
    while stack:
        ref, scope = stack.pop()
        key = (ref, scope.name if scope else "")
        if key in seen or (not through_captures and scope and ref in scope.captures):
            continue
        seen.add(key)
        if ref in producer:
            step, owner = producer[ref]
            if isinstance(step, Op):
                stack += [(a, owner) for a in step.args]
                leaves.update(filter(None, [step.attr("link")]))
            else:
                stack.append((step.returns[step.outs.index(ref)], step))
        elif ref in param_arg:
            stack.append(param_arg[ref])
        else:
            leaves.add(ref)
    return leaves


def capture_leaves(graph: Graph) -> set[str]:
    """The leaves that captured values depend on: their gradients may be summed from
    contributions backpropagated apart (see ``fuzz/compare.py``)."""
    return leaves_of(graph, {c for seg, _ in graph.segments() for c in seg.captures})


def shared_capture_leaves(graph: Graph) -> set[str]:
    """Leaves whose gradient sums a contribution that flows through a captured value and
    one that does not (the value, or an ancestor, is also used outside the segment):
    a lost or misordered contribution there is the shared-parameter case (T3)."""
    inside = capture_leaves(graph)
    return inside & leaves_of(graph, graph.loss, through_captures=False) if inside else set()
