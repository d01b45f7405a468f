"""Static facts about a graph: retained arrays (memory model) and structure (features).

Call counts are in :mod:`.calls`, captured values in :mod:`.captures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forget_conformance.graph.captures import shared_capture_leaves
from forget_conformance.graph.model import Forget, Graph, Op, Ref, walk

#: For each op, which inputs and which outputs its Chainer FunctionNode keeps for backward
#: (argument positions; for link ops position 1 is the link's weight / gamma).
RETAINED_BY_OP: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "tanh": ((), (0,)), "sigmoid": ((), (0,)), "relu": ((), (0,)), "sin": ((0,), ()),
    "neg": ((), ()), "scale": ((), ()), "add": ((), ()), "sub": ((), ()),
    "mul": ((0, 1), ()), "cast": ((), ()), "matmul": ((0, 1), ()), "reshape": ((), ()),
    "transpose": ((), ()), "slice": ((), ()), "concat": ((), ()), "split": ((), ()),
    "sum": ((), ()), "linear": ((0, 1), ()), "conv2d": ((0, 1), ()),
    "batch_norm": ((0, 1), ()), "batch_renorm": ((0, 1), ()), "embed_id": ((0,), ()),
}
#: Link kinds whose call in training reads state that their own earlier calls update:
#: BatchRenormalization corrects the batch statistics by its running averages (r, d)
#: and then updates them. Called twice inside one segment, its second call reads what
#: the first wrote, and a recomputation cannot see what the forward saw: a ``func``
#: that "behaves differently in multiple calls with the same inputs", outside the
#: contract (D10). BatchNormalization normalizes by the batch's own statistics.
FEEDBACK_LINKS = frozenset({"batch_renorm"})
_LINK_WEIGHT = {"linear": "W", "conv2d": "W", "batch_norm": "gamma", "batch_renorm": "gamma",
                "embed_id": "W"}


@dataclass(frozen=True)
class Retained:
    """An array kept alive for backward: ``ref`` (a top-level or inner ref, or
    ``LINK.W`` for a link's weight), why, and its size."""

    ref: str
    shape: tuple[int, ...]
    dtype: str
    role: str  # "input of OP", "output of OP", "forget input", "forget output", "forget capture"
    is_param: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


def _aliases(graph: Graph) -> dict[Ref, Ref]:
    """Segment parameters (and pass-through outputs) map to the outer array they are."""
    alias: dict[Ref, Ref] = {}
    for step, _ in walk(graph.steps):
        if isinstance(step, Forget):
            for p, a in zip(step.params, step.args, strict=False):
                alias[p] = alias.get(a, a)
            for o, r in zip(step.outs, step.returns, strict=False):
                if r in alias:
                    alias[o] = alias[r]
    return alias


def _metas(graph: Graph) -> dict[Ref, tuple[tuple[int, ...], str]]:
    metas = {x.name: (x.shape, x.dtype) for x in graph.inputs}
    metas.update({w.name: (w.sizes, w.dtype) for w in graph.links if w.kind == "weight"})
    for step, _ in walk(graph.steps):
        metas.update(zip(step.outs, zip(step.shapes, step.dtypes, strict=False), strict=False))
        if isinstance(step, Forget):
            metas.update((p, metas[a]) for p, a in zip(step.params, step.args, strict=False))
    return metas


def retained_arrays(graph: Graph, forgetting: bool) -> list[Retained]:
    """Arrays the graph keeps after the forward pass, each once.

    Plain: what every op's FunctionNode retains (a captured value too, when an op
    inside the segment retains it). Forgetting: what ops outside any segment retain,
    plus the inputs and outputs of each top-level segment (what ``forget`` keeps);
    everything computed inside a segment is freed (D2). The values a top-level segment
    captures are not inputs of its node, but the node holds ``func``, whose closure
    holds them: they stay alive until the graph is released (role ``forget capture``;
    measured in Chainer 7.8.1, with the reference and upstream alike), even where no
    op of the plain path would retain them.
    Link weights are listed with ``is_param=True`` (the link holds them anyway).
    """
    alias, metas = _aliases(graph), _metas(graph)
    weights = {w.name for w in graph.links if w.kind == "weight"}
    kept: dict[str, Retained] = {}

    def keep(ref: str, role: str, shape=None, dtype=None, is_param=False) -> None:
        ref = alias.get(ref, ref)
        if shape is None:
            shape, dtype = metas[ref]
        kept.setdefault(ref, Retained(ref, tuple(shape), dtype, role,
                                      is_param or ref in weights))

    for step, depth in walk(graph.steps):
        if isinstance(step, Forget):
            if forgetting and depth == 1:
                for a in step.args:
                    keep(a, "forget input")
                for o in step.outs:
                    keep(o, "forget output")
                for c in step.captures:
                    keep(c, "forget capture")
            continue
        if forgetting and depth > 0:
            continue
        ins, outs = RETAINED_BY_OP[step.op]
        for i in ins:
            if i < len(step.args):
                keep(step.args[i], f"input of {step.op}")
            else:
                link = graph.link(step.attr("link"))
                name = f"{link.name}.{_LINK_WEIGHT[step.op]}"
                shape = link.sizes[:1] if step.op.startswith("batch") else _weight_shape(link)
                keep(name, f"input of {step.op}", shape, link.dtype, True)
        for i in outs:
            keep(step.outs[i], f"output of {step.op}")
    return list(kept.values())


def _weight_shape(link) -> tuple[int, ...]:
    s = link.sizes
    if link.kind == "linear":
        return (s[1], s[0])
    if link.kind == "conv2d":
        return (s[1], s[0], s[2], s[2])
    return (s[0], s[1])


def retained_bytes(graph: Graph, forgetting: bool, include_params: bool = False) -> int:
    """Total bytes of :func:`retained_arrays` (parameters excluded unless asked)."""
    return sum(r.nbytes for r in retained_arrays(graph, forgetting)
               if include_params or not r.is_param)


def param_uses(graph: Graph) -> dict[str, set[bool]]:
    """For each link or weight: whether it is used inside a segment (True), outside (False)."""
    weights = {w.name for w in graph.links if w.kind == "weight"}
    uses: dict[str, set[bool]] = {}
    for step, depth in walk(graph.steps):
        if isinstance(step, Op):
            names = [a for a in step.args if a in weights] + [step.attr("link")]
            for name in filter(None, names):
                uses.setdefault(name, set()).add(depth > 0)
    return uses


def feedback_links(graph: Graph) -> dict[str, set[str]]:
    """Segment name -> the links of :data:`FEEDBACK_LINKS` kinds it (or a segment nested
    in it) applies more than once: the segments outside the contract (D10)."""
    kinds = {link.name for link in graph.links if link.kind in FEEDBACK_LINKS}
    found: dict[str, set[str]] = {}
    for seg, _ in graph.segments():
        calls = [s.attr("link") for s, _ in walk(seg.body)
                 if isinstance(s, Op) and s.attr("link") in kinds]
        twice = {name for name in calls if calls.count(name) > 1}
        if twice:
            found[seg.name] = twice
    return found


def features(graph: Graph) -> set[str]:
    """Structural features present (used to attribute a failure to a clause):
    ``nested``, ``duplicate_arg``, ``passthrough``, ``multi_output``, ``unused_output``,
    ``index_arg``, ``raw_array_arg``, ``shared_param``, ``stateful``, ``mixed_dtypes``,
    ``zero_size``, ``captured`` (a segment closes over a value of an enclosing scope),
    ``shared_capture`` (a leaf gets gradient through such a value and otherwise too) and
    ``stateful_feedback`` (see :func:`feedback_links`)."""
    found: set[str] = set()
    inputs = {x.name: x for x in graph.inputs}
    live_refs = _used_refs(graph)
    dtypes = {x.dtype for x in graph.inputs if not x.is_index}
    for step, depth in walk(graph.steps):
        dtypes.update(d for d in step.dtypes)
        if any(0 in s for s in step.shapes):
            found.add("zero_size")
        if isinstance(step, Op):
            if step.op in ("batch_norm", "batch_renorm"):
                found.add("stateful")
            continue
        found.update(name for name, cond in (
            ("nested", depth > 1),
            ("duplicate_arg", len(set(step.args)) < len(step.args)),
            ("passthrough", bool(set(step.returns) & set(step.params))),
            ("multi_output", len(step.outs) > 1),
            ("unused_output", any(o not in live_refs for o in step.outs)),
            ("index_arg", any(a in inputs and inputs[a].is_index for a in step.args)
             or any(d.startswith("int") for d in _arg_dtypes(graph, step))),
            ("raw_array_arg", any(a in inputs and not inputs[a].wrap for a in step.args)),
            ("captured", bool(step.captures)),
        ) if cond)
    if any(len(u) == 2 for u in param_uses(graph).values()):
        found.add("shared_param")
    if "captured" in found and shared_capture_leaves(graph):
        found.add("shared_capture")
    if feedback_links(graph):
        found.add("stateful_feedback")
    if len({d for d in dtypes if d.startswith("float")}) > 1:
        found.add("mixed_dtypes")
    return found


def _arg_dtypes(graph: Graph, seg: Forget) -> list[str]:
    metas = _metas(graph)
    return [metas[a][1] for a in seg.args]


def _used_refs(graph: Graph) -> set[Ref]:
    used = set(graph.loss)
    for step, _ in walk(graph.steps):
        used.update(step.args)
        if isinstance(step, Forget):
            used.update(step.returns)
    return used


def gradient_precision(graph: Graph) -> dict[str, str]:
    """For each leaf (input, link or weight) whose gradient passes through a float dtype of
    lower precision than its own, that lowest dtype: the dtypes of the values computed from
    the leaf on the way to the loss (segment arguments and results are the values they
    pass on). A cast to float16 and back sums the leaf's contributions in float16."""
    leaf_dtype = {x.name: x.dtype for x in graph.inputs if not x.is_index}
    leaf_dtype.update((link.name, link.dtype) for link in graph.links)
    deps: dict[Ref, set[str]] = {x: {x} for x in leaf_dtype}
    dtypes: dict[Ref, str] = dict(leaf_dtype)
    edges: list[tuple[tuple[Ref, ...], tuple[Ref, ...]]] = []

    def visit(steps: tuple) -> None:
        for step in steps:
            if isinstance(step, Forget):
                for p, a in zip(step.params, step.args, strict=False):
                    deps[p] = set(deps.get(a, ()))
                    edges.append(((a,), (p,)))
                visit(step.body)
                for o, r, d in zip(step.outs, step.returns, step.dtypes, strict=False):
                    deps[o], dtypes[o] = set(deps.get(r, ())), d
                    edges.append(((r,), (o,)))
                continue
            found = set().union(*(deps.get(a, set()) for a in step.args))
            if step.attr("link"):
                found.add(step.attr("link"))
            for o, d in zip(step.outs, step.dtypes, strict=False):
                deps[o], dtypes[o] = found, d
            edges.append((step.args, step.outs))

    visit(graph.steps)
    live = set(graph.loss)
    for ins, outs in reversed(edges):  # every value is made before it is used
        if live.intersection(outs):
            live.update(ins)
    lowest: dict[str, str] = {}
    for ref in live:
        d = dtypes.get(ref, "")
        if not d.startswith("float"):
            continue
        for leaf in deps.get(ref, ()):
            current = lowest.get(leaf, leaf_dtype[leaf])
            if np.finfo(d).eps > np.finfo(current).eps:
                lowest[leaf] = d
    return lowest
