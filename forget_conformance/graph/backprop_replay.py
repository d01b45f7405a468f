"""The model's machinery: reference-counted buffers, and a replay of Chainer's backward.

:class:`Backprop` follows ``chainer._backprop._backprop_to_all`` step for step:
function nodes leave a heap by rank (highest first, ties in insertion order); a
node's output gradients are popped from the table and dropped after its step;
its new input gradients join the table and, with ``lazy_grad_sum`` off (the
default), lists of two are summed at once (a new array). A leaf's gradient is
loaded from ``.grad`` when first touched and stays in the table to the end.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from forget_conformance.graph.op_memory import OpMemory


@dataclass(eq=False)
class Buffer:
    """An ndarray's memory; ``refs`` counts what holds it."""

    nbytes: int
    refs: int = 1
    label: tuple | None = None  # (shape, dtype, what made it), for the arrays kept


class Heap:
    """Bytes alive now, and the most ever alive (``touch`` adds momentary bytes)."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0
        self.live: dict[int, Buffer] = {}  # labelled buffers alive now

    def arrays(self) -> list[tuple]:
        """The labels of the labelled buffers alive now."""
        return [buf.label for buf in self.live.values() if buf.label is not None]

    def touch(self, extra: int = 0) -> None:
        self.peak = max(self.peak, self.current + extra)

    def alloc(self, nbytes: int, label: tuple | None = None) -> Buffer:
        self.current += nbytes
        self.touch()
        buf = Buffer(nbytes, label=label)
        if label is not None and nbytes:
            self.live[id(buf)] = buf
        return buf

    def hold(self, buf: Buffer) -> Buffer:
        buf.refs += 1
        return buf

    def drop(self, buf: Buffer) -> None:
        buf.refs -= 1
        if buf.refs == 0:
            self.current -= buf.nbytes
            self.live.pop(id(buf), None)
        assert buf.refs >= 0, "dropped a freed buffer"


@dataclass(eq=False)
class Var:
    """A Variable: its buffer, (shape, dtype), creator node and rank; ``grad`` is
    ``.grad`` of a leaf; ``layout`` its array's strides (``graph.layout``)."""

    buffer: Buffer
    meta: tuple
    creator: Node | None = None
    rank: int = 0
    requires_grad: bool = True
    grad: Buffer | None = None
    layout: tuple[int, ...] | None = None  # element strides; None: C-contiguous
    raw: bool = False  # an ndarray, not a Variable

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes


@dataclass(eq=False)
class Node:
    """A FunctionNode: an op (``mem`` its allocations) or a forget call (``segment``)."""

    kind: str
    inputs: list[Var]
    mem: OpMemory | None
    rank: int = 0
    segment: Any = None
    outputs: list[Var] = field(default_factory=list)
    held: list[Buffer] = field(default_factory=list)
    retained_inputs: list[Var] = field(default_factory=list)  # whose held data it holds

    def keep(self, heap: Heap, buffers: list[Buffer], saved: int, label: str = "") -> None:
        """Retain ``buffers`` (and allocate ``saved`` bytes, ``label``) for backward."""
        self.held += [heap.hold(b) for b in buffers]
        if saved:
            self.held.append(heap.alloc(saved, ((saved,), "bytes", label) if label else None))

    def free(self, heap: Heap) -> None:
        for buf in self.held:
            heap.drop(buf)
        self.held = []


# recompute(node) -> (fresh leaf arguments, outputs (one reference each), new nodes)
Recompute = Callable[[Node], tuple[list[Var], list[Var], list[Node]]]


class Backprop:
    """One ``_backprop_to_all`` over the nodes reachable from its seeds."""

    def __init__(self, heap: Heap, recompute: Recompute) -> None:
        self.heap, self.recompute = heap, recompute
        self.table: dict[Var, list[Buffer]] = {}
        self.leaves: dict[Var, None] = {}
        self.cands: list = []
        self.seen: set[Node] = set()
        self.order = itertools.count()

    def run(self, seeds: list[tuple[Var, Buffer]]) -> None:
        """Backpropagate from ``(output, gradient)`` pairs (the table takes one
        reference to each gradient); leaf gradients end in ``.grad``."""
        for y, g in seeds:
            self.slot(y).append(g)
            self.reach(y)
        while self.cands:
            node = heapq.heappop(self.cands)[2]
            gys = [self.pop(y) for y in node.outputs]
            targets = [i for i, x in enumerate(node.inputs) if x.requires_grad]
            if targets:
                lists = {id(node.inputs[i]): self.slot(node.inputs[i]) for i in targets}
                for i, g in zip(targets, self.step(node, gys, targets), strict=True):
                    if g is not None:
                        lists[id(node.inputs[i])].append(g)
                for grads in lists.values():
                    self.reduce(grads)
            for gy in gys:
                if gy is not None:
                    self.heap.drop(gy)
            for i in targets:
                if self.table.get(node.inputs[i]):
                    self.reach(node.inputs[i])
        for x in self.leaves:
            x.grad = self.pop(x)

    def slot(self, x: Var) -> list[Buffer]:
        if x not in self.table:
            loaded = [x.grad] if x.creator is None and x.grad is not None else []
            x.grad = None if x.creator is None else x.grad
            self.table[x] = loaded
        return self.table[x]

    def pop(self, y: Var) -> Buffer | None:
        grads = self.table.pop(y, None)
        if not grads:
            return None
        self.reduce(grads)
        return grads[0]

    def reduce(self, grads: list[Buffer]) -> None:
        if len(grads) >= 2:
            total = self.heap.alloc(grads[0].nbytes)  # F.add(*grads)
            for g in grads:
                self.heap.drop(g)
            grads[:] = [total]

    def reach(self, x: Var) -> None:
        node = x.creator
        if node is None:
            self.leaves[x] = None
        elif node not in self.seen:
            self.seen.add(node)
            heapq.heappush(self.cands, (-node.rank, next(self.order), node))

    def step(self, node: Node, gys: list[Buffer | None], targets: list[int]) -> list:
        """The node's backward: new gradient buffers (one reference each) per target."""
        if node.segment is not None:
            return self.forget_step(node, gys, targets)
        mem = node.mem
        assert mem is not None  # only a segment's node (handled above) has no memory facts
        new = [mem.grads[i] for i in targets]
        self.heap.touch(sum(b for b in new if b is not None) + mem.backward_workspace)
        gy = gys[0]
        return [self.heap.alloc(b) if b is not None else
                (self.heap.hold(gy) if gy is not None else None) for b in new]

    def forget_step(self, node: Node, gys: list[Buffer | None], targets: list[int]) -> list:
        """Recompute the segment with backprop, backpropagate through it, free it."""
        dummies, outs, nodes = self.recompute(node)
        seeds = [(y, self.heap.hold(g)) for y, g in zip(outs, gys, strict=True) if g is not None]
        Backprop(self.heap, self.recompute).run(seeds)
        for y in outs:
            self.heap.drop(y.buffer)
        for n in nodes:
            n.free(self.heap)
        return [dummies[i].grad for i in targets]
