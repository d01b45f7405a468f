"""The analytical memory model: bytes a graph keeps after forward, and its peak.

It replays a :class:`~forget_conformance.graph.Graph` as the module printed by
``to_source`` runs it (Chainer 7.8.1, CPU), counting array bytes with reference
counts. Inputs and parameters exist before the run and are not counted.

* Forward: every op allocates its outputs and workspace (``graph.op_memory``); a node
  built with backprop holds what ``RETAINED_BY_OP`` says, plus its own ``saved``.
  Each function body's locals live until it returns (the printed code names every
  value). The loss is the source's ``weighted_sum``: one node over the loss refs that
  keeps only the weights ``w`` (from ``values()``: a float64 draw, then ``astype``).
* Layouts (:mod:`.layout`): a non-contiguous array (a transpose, conv2d's output, and
  what elementwise ops make of them) costs a copy where a reshape cannot view it,
  ``F.reshape``'s or the one ``F.linear`` applies above 2-D (whose output the linear
  node keeps instead of its argument).
* Only what the loss's graph reaches is kept: the nodes of unused branches are freed
  when the forward returns, except the retained inputs that a used node shares (Chainer
  keeps retained data on the variable node). Operators on raw arrays make no node.
* ``forget`` runs its segment without backprop and keeps its arguments (D2).
* Backward replays ``chainer._backprop._backprop_to_all`` (:mod:`.backprop_replay`):
  nodes by rank, gradients summed at once (``lazy_grad_sum`` off), leaf gradients
  held to the end. A ``forget`` node recomputes its segment with backprop and runs
  the same backward inside, dropping that graph before it returns.

Segments that capture values of an enclosing scope are not modelled (their closure
keeps the values alive, and a recomputation's backward follows them into the
caller's graph): :func:`predict` raises ``MemoryModelError`` for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forget_conformance.graph import layout
from forget_conformance.graph.analysis import RETAINED_BY_OP
from forget_conformance.graph.backprop_replay import Backprop, Buffer, Heap, Node, Var
from forget_conformance.graph.model import Forget, Graph, Op, Step
from forget_conformance.graph.op_memory import (
    MemoryModelError,
    OpMemory,
    link_params,
    nbytes,
    op_memory,
)

#: Ops the source writes as Python operators (``-x``, ``x * 0.5``, ``a + b``): on raw
#: arrays alone, NumPy computes them and no node is made.
NUMPY_OPERATORS = frozenset({"neg", "scale", "add", "sub", "mul"})


@dataclass(frozen=True)
class Prediction:
    """Bytes kept after forward, the peak over forward + backward, and over backward."""

    retained: int
    peak: int
    backward_peak: int
    #: what is kept after forward: (shape, dtype, what made it) per array
    arrays: tuple[tuple, ...] = ()


def predict(graph: Graph, forgetting: bool) -> Prediction:
    """The model's figures for running ``graph`` plainly or with ``forget``
    (``MemoryModelError`` for a graph whose segments capture values)."""
    captured = [seg.name for seg, _ in graph.segments() if seg.captures]
    if captured:
        raise MemoryModelError(f"segments {', '.join(captured)} capture values: not modelled")
    return _Replay(graph, forgetting).run()


@dataclass
class _Scope:
    """A function body's locals: each holds one reference until the body returns."""

    heap: Heap
    held: list[Buffer] = field(default_factory=list)

    def adopt(self, var: Var) -> Var:
        """Take over the one reference ``var`` was returned with."""
        self.held.append(var.buffer)
        return var

    def close(self) -> None:
        for buf in self.held:
            self.heap.drop(buf)


class _Replay:
    def __init__(self, graph: Graph, forgetting: bool) -> None:
        self.graph, self.forgetting, self.heap = graph, forgetting, Heap()
        # inputs and parameters exist before the run: zero bytes counted
        self.env: dict[str, Var] = {x.name: Var(Buffer(0), (x.shape, x.dtype),
                                                requires_grad=x.wrap and not x.is_index,
                                                raw=not x.wrap)
                                    for x in graph.inputs}
        self.params: dict[str, tuple[Var, ...]] = {}
        for link in graph.links:
            if link.kind == "weight":
                self.env[link.name] = Var(Buffer(0), (link.sizes, link.dtype))
            else:
                self.params[link.name] = tuple(Var(Buffer(0), m) for m in link_params(link))
        self.nodes: list[Node] = []

    def run(self) -> Prediction:
        scope, env = _Scope(self.heap), dict(self.env)
        self.steps(self.graph.steps, env, scope, self.nodes, backprop=True)
        loss = self.loss(env)
        scope.close()  # forward returned; the caller keeps only the loss
        self.free_unreachable(loss)
        retained, forward_peak = self.heap.current, self.heap.peak
        arrays = tuple(self.heap.arrays())
        self.heap.peak = retained
        Backprop(self.heap, self.recompute).run([(loss, self.heap.alloc(loss.nbytes))])
        return Prediction(retained, max(forward_peak, self.heap.peak), self.heap.peak, arrays)

    # ------------------------------------------------------------ forward
    # Every function below returns Vars that carry one reference each.

    def steps(self, steps: tuple[Step, ...], env: dict[str, Var], scope: _Scope,
              nodes: list[Node], backprop: bool) -> None:
        for step in steps:
            args = [env[a] for a in step.args]
            if isinstance(step, Op):
                outs = self.op(step, args, nodes, backprop)
            elif self.forgetting:
                outs = self.forget(step, args, nodes, backprop)
            else:  # a plain call: the body is a function of its own
                outs = self.body(step, args, nodes, backprop)
            env.update(zip(step.outs, map(scope.adopt, outs), strict=True))

    def op(self, op: Op, args: list[Var], nodes: list[Node], backprop: bool) -> list[Var]:
        link = self.graph.link(op.attr("link")) if op.attr("link") else None
        if op.op in NUMPY_OPERATORS and all(v.raw for v in args):  # NumPy's, no node
            lays = layout.outputs(op, [(v.meta[0], v.layout) for v in args])
            size = nbytes(op.shapes[0], op.dtypes[0])
            return [Var(self.heap.alloc(size, (op.shapes[0], op.dtypes[0], f"{op.op} -> "
                                               f"{op.outs[0]}")),
                        (op.shapes[0], op.dtypes[0]), requires_grad=False,
                        layout=lays[0], raw=True)]
        inputs = args + list(self.params[link.name] if link else ())
        kept = [v.buffer for v in inputs]
        if op.op == "linear":  # F.linear reshapes x above 2-D: a copy when its layout says so
            flat, _, copies = layout.linear_input(args[0].meta[0], args[0].layout)
            if copies:
                kept[0] = self.heap.alloc(nbytes(flat, args[0].meta[1]),
                                          (flat, args[0].meta[1], f"reshape in {op.op}"))
        mem = op_memory(op, [v.meta for v in inputs], link, [v.layout for v in inputs])
        new = sum(b for b in mem.outputs if b is not None)
        self.heap.touch(new + mem.saved + mem.forward_workspace)
        bufs = [self.heap.alloc(b, (shape, dtype, f"{op.op} -> {ref}")) if b is not None
                else self.heap.hold(inputs[0].buffer)
                for b, shape, dtype, ref in zip(mem.outputs, op.shapes, op.dtypes, op.outs,
                                                strict=True)]
        layouts = layout.outputs(op, [(v.meta[0], v.layout) for v in args])
        node = Node(op.op, inputs, mem, rank=max((v.rank for v in inputs), default=0))
        grad = any(v.requires_grad for v in inputs)
        outs = [Var(b, m, creator=node if backprop else None, rank=node.rank + 1,
                    requires_grad=grad, layout=lay)
                for b, m, lay in zip(bufs, zip(op.shapes, op.dtypes, strict=True), layouts,
                                     strict=True)]
        if backprop:
            node.outputs = outs
            kept_in, kept_out = RETAINED_BY_OP[op.op]
            node.keep(self.heap, [kept[i] for i in kept_in]
                      + [bufs[i] for i in kept_out], mem.saved, f"saved by {op.op}")
            node.retained_inputs = [inputs[i] for i in kept_in if kept[i] is inputs[i].buffer]
            nodes.append(node)
        if kept[0] is not inputs[0].buffer:
            self.heap.drop(kept[0])  # the reshape's output: only the linear node keeps it
        return outs

    def free_unreachable(self, loss: Var) -> None:
        """Free the nodes of branches the loss does not use, as Chainer does when the
        forward returns. A retained input's data lives on its variable node, not on the
        function node that retained it: it stays while a node of the loss's graph takes
        that variable as input (a raw array gets a new variable node per call)."""
        reachable = _reachable(loss)
        used = {id(v) for node in reachable for v in node.inputs}
        for node in self.nodes:
            if node in reachable:
                continue
            stay = [v.buffer for v in node.retained_inputs if id(v) in used and not v.raw]
            for buf in node.held:
                if buf in stay:
                    stay.remove(buf)
                else:
                    self.heap.drop(buf)
            node.held = []

    def forget(self, seg: Forget, args: list[Var], nodes: list[Node], backprop: bool) -> list[Var]:
        """``forget(func, *args)``: the body runs without backprop; the node keeps args."""
        outs = self.body(seg, [Var(a.buffer, a.meta, layout=a.layout) for a in args], [],
                         backprop=False)
        if not backprop:
            return outs
        node = Node("forget", args, None, rank=max((a.rank for a in args), default=0),
                    segment=seg)
        node.outputs = [Var(v.buffer, v.meta, creator=node, rank=node.rank + 1,
                            layout=v.layout) for v in outs]
        node.keep(self.heap, [a.buffer for a in args], 0)
        node.retained_inputs = list(args)
        nodes.append(node)
        return node.outputs

    def body(self, seg: Forget, params: list[Var], nodes: list[Node], backprop: bool) -> list[Var]:
        """Run a segment's body as a function of its own; returns its results."""
        scope = _Scope(self.heap)
        env = {**self.env, **dict(zip(seg.params, params, strict=True))}
        self.steps(seg.body, env, scope, nodes, backprop)
        outs = [env[r] for r in seg.returns]
        for v in outs:
            self.heap.hold(v.buffer)
        scope.close()
        return outs

    def recompute(self, node: Node) -> tuple[list[Var], list[Var], list[Node]]:
        """Backward of a forget node: fresh leaf arguments, the body with backprop."""
        dummies = [Var(a.buffer, a.meta, layout=a.layout) for a in node.inputs]
        nodes: list[Node] = []
        outs = self.body(node.segment, dummies, nodes, backprop=True)
        return dummies, outs, nodes

    def loss(self, env: dict[str, Var]) -> Var:
        """``weighted_sum`` as the source computes it: per loss ref a float64 draw, cast
        to the weight ``w`` the node keeps; its forward's temporaries per term are
        ``y * w`` and that cast to float64; its backward allocates one gradient per ref."""
        ys = [env[ref] for ref in self.graph.loss]
        if not ys:
            raise ValueError("the graph has no loss")
        weights = []
        for ref, y in zip(self.graph.loss, ys, strict=True):
            draw = self.heap.alloc(nbytes(y.meta[0], "float64"))  # RandomState.uniform
            weights.append(self.heap.alloc(nbytes(*y.meta), (*y.meta, f"loss weight of {ref}")))
            self.heap.drop(draw)
        terms = [nbytes(*y.meta) + nbytes(y.meta[0], "float64") for y in ys]
        mem = OpMemory((8,), 0, max(terms), tuple(nbytes(*y.meta) for y in ys), 0)
        self.heap.touch(8 + mem.forward_workspace)
        node = Node("loss", ys, mem, rank=max(y.rank for y in ys))
        node.outputs = [Var(self.heap.alloc(8, ((), "float64", "loss")), ((), "float64"),
                            creator=node,
                            rank=node.rank + 1, requires_grad=any(y.requires_grad for y in ys))]
        node.held = weights  # the node takes over the weights' one reference each
        self.nodes.append(node)
        return node.outputs[0]


def _reachable(root: Var) -> set[Node]:
    """The nodes of ``root``'s graph (what holding ``root`` keeps alive)."""
    found: set[Node] = set()
    stack = [root.creator]
    while stack:
        node = stack.pop()
        if node is None or node in found:
            continue
        found.add(node)
        stack += [v.creator for v in node.inputs]
    return found
