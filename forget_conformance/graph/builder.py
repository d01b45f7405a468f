"""``GraphBuilder``: appends ops with shapes and dtypes inferred, so every graph is valid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from forget_conformance.graph.model import (
    FILLS,
    Forget,
    Graph,
    Input,
    Link,
    Op,
    Ref,
    Shape,
    Step,
    walk,
)

UNARY = ("tanh", "sigmoid", "sin", "relu", "neg", "scale")
BINARY = ("add", "sub", "mul")
FLOAT_DTYPES = ("float16", "float32", "float64")


class GraphError(ValueError):
    """An op was asked for on arguments it cannot take (shape, dtype or scope)."""


@dataclass(frozen=True)
class Meta:
    shape: Shape
    dtype: str

    @property
    def is_index(self) -> bool:
        return not self.dtype.startswith("float")


@dataclass
class _Scope:
    refs: dict[Ref, Meta] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    name: str = ""
    args: tuple[Ref, ...] = ()
    params: tuple[Ref, ...] = ()
    captures: dict[Ref, None] = field(default_factory=dict)  # enclosing refs used, in order


def broadcast(a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting of two shapes; ``GraphError`` when incompatible."""
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise GraphError(f"shapes {a} and {b} do not broadcast") from None


class GraphBuilder:
    """Build a :class:`Graph` step by step; ``begin_forget`` / ``end_forget`` open a segment.

    Inside a segment, ops may use refs of enclosing scopes (the segment's function then
    closes over them): each such ref is recorded as a capture of every segment between
    its own scope and the current one.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._inputs: list[Input] = []
        self._links: dict[str, Link] = {}
        self._scopes = [_Scope()]
        self._count = 0
        self._segments = 0
        self._sources: dict[Ref, tuple[str, tuple[Ref, ...]]] = {}  # ref -> (op, what it used)

    # ----------------------------------------------------------- inspection

    @property
    def depth(self) -> int:
        """How many ``forget`` segments are open."""
        return len(self._scopes) - 1

    def refs(self) -> dict[Ref, Meta]:
        """The refs of the current scope (weights included), in creation order."""
        weights = {n: Meta(link.sizes, link.dtype) for n, link in self._links.items()
                   if link.kind == "weight"}
        return {**self._scopes[-1].refs, **weights}

    def enclosing_refs(self) -> dict[Ref, Meta]:
        """The refs of the enclosing scopes (outermost first): what a segment's body may
        capture. Empty at top level."""
        return {r: m for scope in self._scopes[:-1] for r, m in scope.refs.items()}

    def meta(self, ref: Ref) -> Meta:
        """The shape and dtype of a ref of the current or an enclosing scope, or a weight."""
        for scope in reversed(self._scopes):
            if ref in scope.refs:
                return scope.refs[ref]
        link = self._links.get(ref)
        if link is not None and link.kind == "weight":
            return Meta(link.sizes, link.dtype)
        raise GraphError(f"{ref!r} is not visible in this scope")

    def _use(self, ref: Ref) -> Meta:
        """``meta(ref)``, recording a ref of an enclosing scope as captured by every
        segment open inside that scope."""
        meta = self.meta(ref)
        level = next((i for i, s in enumerate(self._scopes) if ref in s.refs), len(self._scopes))
        for scope in self._scopes[level + 1:]:
            scope.captures[ref] = None
        return meta

    def history(self, ref: Ref) -> tuple[set[str], set[Ref]]:
        """The ops ``ref`` was computed by (``forget`` itself not included), and the inputs
        and weights it was computed from, all the way back (through segments)."""
        ops: set[str] = set()
        leaves: set[Ref] = set()
        stack, seen = [ref], set()
        while stack:
            r = stack.pop()
            if r in seen:
                continue
            seen.add(r)
            if r not in self._sources:
                leaves.add(r)
                continue
            op, used = self._sources[r]
            ops.update((op,) if op != "forget" else ())
            stack += used
        return ops, leaves

    def links_in_open_segments(self) -> set[str]:
        """The links applied so far inside the open segments (nested ones included)."""
        return {step.attr("link") for scope in self._scopes[1:]
                for step, _ in walk(tuple(scope.steps))
                if isinstance(step, Op) and step.attr("link")}

    def inputs(self) -> list[Input]:
        """The graph inputs so far."""
        return list(self._inputs)

    def links(self, kind: str | None = None) -> list[Link]:
        return [link for link in self._links.values() if kind in (None, link.kind)]

    # ----------------------------------------------------------- leaves

    def input(self, shape: Shape, dtype: str = "float32", wrap: bool = True,
              fill: str = "uniform") -> Ref:
        """A float input; ``fill`` (see :class:`Input`) may ask for numeric extremes."""
        if fill not in FILLS:
            raise GraphError(f"unknown fill {fill!r}")
        return self._add_input(Input(f"x{len(self._inputs)}", tuple(shape), dtype, 0, wrap,
                                     fill))

    def index_input(self, shape: Shape, high: int) -> Ref:
        return self._add_input(Input(f"x{len(self._inputs)}", tuple(shape), "int32", high))

    def _add_input(self, inp: Input) -> Ref:
        if self.depth:
            raise GraphError("inputs are added at top level")
        self._inputs.append(inp)
        self._scopes[0].refs[inp.name] = Meta(inp.shape, inp.dtype)
        return inp.name

    def add_link(self, kind: str, sizes: tuple[int, ...], dtype: str = "float32") -> str:
        """Create a link (or a ``weight`` parameter, whose name is then a ref)."""
        prefix = "w" if kind == "weight" else "l"
        name = f"{prefix}{sum(1 for n in self._links if n[0] == prefix)}"
        self._links[name] = Link(name, kind, tuple(int(s) for s in sizes), dtype)
        return name

    # ----------------------------------------------------------- ops

    def _emit(self, op: str, args: tuple[Ref, ...], shapes: list[Shape], dtypes: list[str],
              **attrs) -> tuple[Ref, ...]:
        for a in args:
            self._use(a)
        outs = []
        for shape, dtype in zip(shapes, dtypes, strict=False):
            ref = f"v{self._count}"
            self._count += 1
            self._scopes[-1].refs[ref] = Meta(tuple(shape), dtype)
            outs.append(ref)
            self._sources[ref] = (op, tuple(args))
        self._scopes[-1].steps.append(Op(op, tuple(args), tuple(outs), tuple(map(tuple, shapes)),
                                         tuple(dtypes), tuple(sorted(attrs.items()))))
        return tuple(outs)

    def _float(self, ref: Ref) -> Meta:
        m = self.meta(ref)
        if m.is_index:
            raise GraphError(f"{ref} is an index array")
        return m

    def unary(self, op: str, x: Ref) -> Ref:
        if op not in UNARY:
            raise GraphError(f"unknown unary op {op}")
        m = self._float(x)
        return self._emit(op, (x,), [m.shape], [m.dtype])[0]

    def binary(self, op: str, a: Ref, b: Ref) -> Ref:
        if op not in BINARY:
            raise GraphError(f"unknown binary op {op}")
        ma, mb = self._float(a), self._float(b)
        if ma.dtype != mb.dtype:
            raise GraphError(f"dtypes {ma.dtype} and {mb.dtype} differ")
        return self._emit(op, (a, b), [broadcast(ma.shape, mb.shape)], [ma.dtype])[0]

    def cast(self, x: Ref, dtype: str) -> Ref:
        self._float(x)
        return self._emit("cast", (x,), [self.meta(x).shape], [dtype], dtype=dtype)[0]

    def matmul(self, a: Ref, b: Ref) -> Ref:
        ma, mb = self._float(a), self._float(b)
        if len(ma.shape) != 2 or len(mb.shape) != 2 or ma.shape[1] != mb.shape[0]:
            raise GraphError(f"matmul of {ma.shape} and {mb.shape}")
        if ma.dtype != mb.dtype or 0 in ma.shape + mb.shape:
            raise GraphError("matmul needs one dtype and non-empty operands")
        return self._emit("matmul", (a, b), [(ma.shape[0], mb.shape[1])], [ma.dtype])[0]

    def reshape(self, x: Ref, shape: Shape) -> Ref:
        m = self._float(x)
        if math.prod(shape) != math.prod(m.shape) or any(s < 0 for s in shape):
            raise GraphError(f"cannot reshape {m.shape} to {shape}")
        return self._emit("reshape", (x,), [tuple(shape)], [m.dtype], shape=tuple(shape))[0]

    def transpose(self, x: Ref, axes: tuple[int, ...]) -> Ref:
        m = self._float(x)
        if sorted(axes) != list(range(len(m.shape))):
            raise GraphError(f"bad axes {axes} for {m.shape}")
        shape = tuple(m.shape[a] for a in axes)
        return self._emit("transpose", (x,), [shape], [m.dtype], axes=tuple(axes))[0]

    def slice(self, x: Ref, axis: int, start: int, stop: int) -> Ref:
        m = self._float(x)
        if not (0 <= axis < len(m.shape) and 0 <= start <= stop <= m.shape[axis]):
            raise GraphError(f"bad slice {start}:{stop} on axis {axis} of {m.shape}")
        shape = m.shape[:axis] + (stop - start,) + m.shape[axis + 1:]
        return self._emit("slice", (x,), [shape], [m.dtype], axis=axis, start=start,
                          stop=stop)[0]

    def concat(self, xs: tuple[Ref, ...], axis: int) -> Ref:
        ms = [self._float(x) for x in xs]
        first = ms[0]
        for m in ms:
            if (m.dtype != first.dtype or len(m.shape) != len(first.shape) or axis >= len(m.shape)
                    or m.shape[:axis] + m.shape[axis + 1:]
                    != first.shape[:axis] + first.shape[axis + 1:]):
                raise GraphError(f"cannot concat {[m.shape for m in ms]} on axis {axis}")
        shape = first.shape[:axis] + (sum(m.shape[axis] for m in ms),) + first.shape[axis + 1:]
        return self._emit("concat", tuple(xs), [shape], [first.dtype], axis=axis)[0]

    def split(self, x: Ref, points: tuple[int, ...], axis: int) -> tuple[Ref, ...]:
        """``F.split_axis`` at the given indices: ``len(points) + 1`` outputs."""
        m = self._float(x)
        if axis >= len(m.shape) or list(points) != sorted(points) or any(
                not 0 <= p <= m.shape[axis] for p in points):
            raise GraphError(f"bad split {points} on axis {axis} of {m.shape}")
        bounds = (0,) + tuple(points) + (m.shape[axis],)
        shapes = [m.shape[:axis] + (hi - lo,) + m.shape[axis + 1:]
                  for lo, hi in zip(bounds, bounds[1:], strict=False)]
        return self._emit("split", (x,), shapes, [m.dtype] * len(shapes), axis=axis,
                          points=tuple(points))

    def sum(self, x: Ref, axis: int | None = None, keepdims: bool = False) -> Ref:
        m = self._float(x)
        if axis is None:
            shape: Shape = (1,) * len(m.shape) if keepdims else ()
        elif 0 <= axis < len(m.shape):
            shape = m.shape[:axis] + ((1,) if keepdims else ()) + m.shape[axis + 1:]
        else:
            raise GraphError(f"bad axis {axis} for {m.shape}")
        return self._emit("sum", (x,), [shape], [m.dtype], axis=axis, keepdims=keepdims)[0]

    def apply_link(self, link: str, x: Ref) -> Ref:
        """Call a link (linear, conv2d, batch_norm, batch_renorm, embed_id) on ``x``."""
        spec = self._links[link]
        m = self.meta(x)
        shape = _link_output_shape(spec, m)
        return self._emit(spec.kind, (x,), [shape], [spec.dtype], link=link)[0]

    # ----------------------------------------------------------- segments

    def begin_forget(self, args: tuple[Ref, ...]) -> tuple[Ref, ...]:
        """Open a segment taking ``args`` (repeats allowed; refs of enclosing scopes too);
        returns the inner names."""
        metas = [self._use(a) for a in args]
        name = f"f{self._segments}"
        self._segments += 1
        params = tuple(f"{name}_a{i}" for i in range(len(args)))
        self._sources.update((p, ("forget", (a,))) for p, a in zip(params, args, strict=True))
        scope = _Scope(dict(zip(params, metas, strict=False)), [], name, tuple(args), params)
        self._scopes.append(scope)
        return params

    def end_forget(self, returns: tuple[Ref, ...]) -> tuple[Ref, ...]:
        """Close the innermost segment returning ``returns`` (its own refs, or weights; not
        captured ones); returns the outer refs."""
        if not self.depth or not returns:
            raise GraphError("no open segment, or nothing returned")
        metas = [self.meta(r) for r in returns]
        if any(m.is_index for m in metas):
            raise GraphError("segments return float arrays only")
        if any(r in self.enclosing_refs() for r in returns):
            raise GraphError("a segment returns its own refs, not captured ones")
        scope = self._scopes.pop()
        outs = []
        for m in metas:
            ref = f"v{self._count}"
            self._count += 1
            self._scopes[-1].refs[ref] = m
            outs.append(ref)
        self._sources.update((o, ("forget", (r,))) for o, r in zip(outs, returns, strict=True))
        self._scopes[-1].steps.append(Forget(
            scope.name, scope.args, scope.params, tuple(scope.steps), tuple(returns),
            tuple(outs), tuple(m.shape for m in metas), tuple(m.dtype for m in metas),
            tuple(scope.captures)))
        return tuple(outs)

    def build(self, loss: tuple[Ref, ...]) -> Graph:
        """The finished graph; ``loss`` refs (top level, float) are summed into the loss."""
        if self.depth:
            raise GraphError("a segment is still open")
        for ref in loss:
            self._float(ref)
        return Graph(tuple(self._inputs), tuple(self._links.values()),
                     tuple(self._scopes[0].steps), tuple(dict.fromkeys(loss)), self.seed)


def _link_output_shape(spec: Link, m: Meta) -> Shape:
    shape, kind = m.shape, spec.kind
    if kind == "embed_id":
        if not m.is_index or 0 in shape:
            raise GraphError("embed_id takes a non-empty index array")
        return shape + (spec.sizes[1],)
    if m.is_index or m.dtype != spec.dtype or 0 in shape:
        raise GraphError(f"{kind} needs a non-empty {spec.dtype} array, got {m}")
    if kind == "linear":
        if len(shape) < 2 or math.prod(shape[1:]) != spec.sizes[0]:
            raise GraphError(f"linear({spec.sizes}) on {shape}")
        return (shape[0], spec.sizes[1])
    if kind == "conv2d":
        c_in, c_out, k, pad = spec.sizes
        if len(shape) != 4 or shape[1] != c_in:
            raise GraphError(f"conv2d({spec.sizes}) on {shape}")
        h, w = (d + 2 * pad - k + 1 for d in shape[2:])
        if h <= 0 or w <= 0:
            raise GraphError(f"conv2d kernel {k} larger than {shape}")
        return (shape[0], c_out, h, w)
    if kind in ("batch_norm", "batch_renorm"):
        if len(shape) not in (2, 4) or shape[1] != spec.sizes[0] or shape[0] < 2:
            raise GraphError(f"{kind}({spec.sizes}) on {shape}")
        return shape
    raise GraphError(f"{spec.name} ({kind}) is not callable")
