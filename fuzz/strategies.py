"""Hypothesis strategies for random, valid graphs (built through ``GraphBuilder``).

Every choice is drawn so that its simplest value (the one hypothesis shrinks to)
is listed first: few inputs, float32, 2-D, short, no segment, plain ops.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from forget_conformance.graph import FLOAT_DTYPES, Graph, GraphBuilder, GraphError
from forget_conformance.graph.builder import BINARY, UNARY

ACTIONS = ("unary", "forget", "end", "binary", "linear", "matmul", "reshape", "transpose",
           "slice", "concat", "split", "sum", "cast", "batch_norm", "batch_renorm",
           "conv2d", "embed_id", "capture")
#: Structures appended after the random steps, to reach clause-specific shapes quickly.
EXTRAS = ("none", "param_in_segment", "shared_param", "stateful_in_segment", "multi_output",
          "duplicate_arg", "index_arg", "captured_value", "nested_stateful", "result_shapes")
#: An input's fill, drawn per float input: mostly data in [-1, 1), one in three numeric
#: extremes (values near the dtype's largest, whose products and loss-scaled gradients
#: overflow to inf, or an inf, a -inf and a NaN among the data).
FILL_DRAWS = ("uniform", "uniform", "uniform", "uniform", "large", "nonfinite")
DIMS = (2, 3, 1, 4, 0)
#: Ops that make a value unfit for capture. The forget path backpropagates the gradient
#: of a captured value's use inside the segment separately from its other uses (as
#: Chainer's backward does; plain Chainer sums them first), so leaf gradients differ
#: from plain ones by the rounding of each contribution, which the oracle allows for
#: within the dtype's precision (``fuzz/compare.py``). Through a cast to a lower
#: precision, or a normalization (whose bias gradients cancel to rounding noise), or in
#: float16 (where contributions that partly cancel leave too few bits), it exceeds that.
NOT_CAPTURED = frozenset({"cast", "batch_norm", "batch_renorm"})
#: Ops on captured values: increasing on the data's range ([-1, 1] and around), and no
#: subtraction, so the contributions of a value's uses do not cancel by construction.
CAPTURE_UNARY = ("tanh", "sigmoid", "sin", "relu", "scale")
CAPTURE_BINARY = ("mul", "add")


@st.composite
def graphs(draw, max_steps: int = 6, max_depth: int = 2, extras: tuple[str, ...] = EXTRAS,
           raw_arrays: bool = True) -> Graph:
    """A random graph of at most ``max_steps`` random steps plus one drawn extra structure
    (from ``extras``); ``raw_arrays=False`` feeds every input as a ``Variable``."""
    b = GraphBuilder(seed=draw(st.integers(0, 2**16)))
    main = draw(st.sampled_from(("float32", "float64", "float16")))
    for i in range(draw(st.integers(1, 3))):
        ndim = draw(st.sampled_from((2, 1, 3, 4)))
        shape = tuple(draw(st.sampled_from(DIMS)) for _ in range(ndim))
        dtype = main if i == 0 else draw(st.sampled_from((main,) + FLOAT_DTYPES))
        b.input(shape, dtype, wrap=not raw_arrays or draw(st.sampled_from((True, False))),
                fill=draw(st.sampled_from(FILL_DRAWS)))
    if draw(st.booleans()):
        b.index_input((draw(st.integers(1, 4)),), high=5)
    ctx = _Context(draw, b, main)
    for _ in range(draw(st.integers(1, max_steps))):
        ctx.step(draw(st.sampled_from(ACTIONS)), max_depth)
    while b.depth:
        ctx._end(max_depth)
    ctx.extra(draw(st.sampled_from(extras)))
    top = [r for r, m in b.refs().items() if not m.is_index and not r.startswith("w")]
    loss = top[-2:] + draw(st.lists(st.sampled_from(top), max_size=2))
    return b.build(tuple(loss))


class _Context:
    """The drawing state of one graph: the builder and its main dtype."""

    def __init__(self, draw, builder: GraphBuilder, main: str) -> None:
        self.draw, self.b, self.main = draw, builder, main

    def pick(self, refs: list[str]) -> str:
        """One of ``refs``, the most recent first (so shrinking favours chains)."""
        if not refs:
            raise GraphError("no suitable argument")
        return refs[::-1][self.draw(st.integers(0, len(refs) - 1))]

    def floats(self, ok=lambda m: True) -> list[str]:
        return [r for r, m in self.b.refs().items()
                if not m.is_index and not r.startswith("w") and ok(m)]

    def pick_float(self) -> str:
        return self.pick(self.floats())

    def capturable(self, refs) -> list[str]:
        """The refs among ``refs`` that a segment may close over: float32 or float64
        Variables (nothing computed from a raw array, which arithmetic would keep an
        ndarray, nor from numeric extremes, where the rounding of split contributions
        can decide an overflow), computed without the ops in NOT_CAPTURED."""
        raw = {x.name for x in self.b.inputs() if not x.wrap or x.fill != "uniform"}
        found = []
        for r in refs:
            ops, leaves = self.b.history(r)
            if not (self.b.meta(r).dtype in ("int32", "float16") or r.startswith("w")
                    or ops & NOT_CAPTURED or leaves & raw):
                found.append(r)
        return found

    def step(self, action: str, max_depth: int) -> None:
        try:
            if action in ("forget", "end"):
                getattr(self, f"_{action}")(max_depth)
            else:
                getattr(self, f"_{action}")()
        except (GraphError, IndexError, ValueError):
            self._unary()  # not applicable here: fall back to the simplest op

    # -- ops ---------------------------------------------------------------

    def _unary(self) -> None:
        self.b.unary(self.draw(st.sampled_from(UNARY)), self.pick_float())

    def _binary(self) -> None:
        a = self.pick_float()
        ma = self.b.meta(a)
        how = self.draw(st.sampled_from(("weight", "self", "other")))
        if how == "self":
            other = a
        elif how == "other":
            other = self.pick(self.floats(lambda m: m.dtype == ma.dtype and _broadcasts(
                m.shape, ma.shape)))
        else:
            mask = [self.draw(st.booleans()) for _ in ma.shape]
            other = self.weight(tuple(1 if k else d for k, d in zip(mask, ma.shape,
                                                                    strict=True)), ma.dtype)
        self.b.binary(self.draw(st.sampled_from(BINARY)), a, other)

    def weight(self, shape: tuple[int, ...], dtype: str) -> str:
        """An existing weight of this shape and dtype (shared), or a new one."""
        same = [w.name for w in self.b.links("weight") if w.sizes == shape and w.dtype == dtype]
        if same and self.draw(st.booleans()) is False:
            return same[0]
        return self.b.add_link("weight", shape, dtype)

    def link(self, kind: str, sizes: tuple[int, ...], dtype: str) -> str:
        """An existing link with these sizes (shared), or a new one."""
        same = [k.name for k in self.b.links(kind) if k.sizes == sizes and k.dtype == dtype]
        if same and self.draw(st.booleans()) is False:
            return same[0]
        return self.b.add_link(kind, sizes, dtype)

    def _linear(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) >= 2 and 0 not in m.shape))
        m = self.b.meta(x)
        out = self.draw(st.sampled_from((3, 2, 4)))
        self.b.apply_link(self.link("linear", (math.prod(m.shape[1:]), out), m.dtype), x)

    def _matmul(self) -> None:
        a = self.pick(self.floats(lambda m: len(m.shape) == 2 and 0 not in m.shape))
        m = self.b.meta(a)
        self.b.matmul(a, self.weight((m.shape[1], self.draw(st.sampled_from((3, 2)))), m.dtype))

    def _reshape(self) -> None:
        x = self.pick_float()
        shape = self.b.meta(x).shape
        options = [(math.prod(shape),), shape[::-1]]
        if len(shape) >= 2:
            options.append((shape[0], math.prod(shape[1:])))
            options.append((shape[0], 1) + shape[1:])
        self.b.reshape(x, self.draw(st.sampled_from(options)))

    def _transpose(self) -> None:
        x = self.pick_float()
        n = len(self.b.meta(x).shape)
        self.b.transpose(x, tuple(self.draw(st.permutations(range(n)))))

    def _slice(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) > 0))
        shape = self.b.meta(x).shape
        axis = self.draw(st.integers(0, len(shape) - 1))
        start = self.draw(st.integers(0, shape[axis]))
        self.b.slice(x, axis, start, self.draw(st.integers(start, shape[axis])))

    def _concat(self) -> None:
        a = self.pick(self.floats(lambda m: len(m.shape) > 0))
        ma = self.b.meta(a)
        axis = self.draw(st.integers(0, len(ma.shape) - 1))
        rest = ma.shape[:axis] + ma.shape[axis + 1:]
        other = self.pick(self.floats(lambda m: m.dtype == ma.dtype and len(m.shape) == len(
            ma.shape) and m.shape[:axis] + m.shape[axis + 1:] == rest))
        self.b.concat((a, other), axis)

    def _split(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) > 0))
        shape = self.b.meta(x).shape
        axis = self.draw(st.integers(0, len(shape) - 1))
        points = sorted(self.draw(st.lists(st.integers(0, shape[axis]), min_size=1,
                                           max_size=2)))
        self.b.split(x, tuple(points), axis)

    def _sum(self) -> None:
        x = self.pick_float()
        ndim = len(self.b.meta(x).shape)
        axis = self.draw(st.one_of(st.none(), st.integers(0, max(ndim - 1, 0))))
        self.b.sum(x, axis if ndim else None, self.draw(st.booleans()))

    def _cast(self) -> None:
        x = self.pick_float()
        self.b.cast(x, self.draw(st.sampled_from(
            [d for d in FLOAT_DTYPES if d != self.b.meta(x).dtype])))

    def _norm(self, kind: str) -> None:
        dtypes = FLOAT_DTYPES if kind == "batch_norm" else ("float32", "float64")
        x = self.pick(self.floats(lambda m: len(m.shape) in (2, 4) and m.shape[0] >= 2
                                  and 0 not in m.shape and m.dtype in dtypes))
        m = self.b.meta(x)
        self.b.apply_link(self.link(kind, (m.shape[1],), m.dtype), x)

    def _batch_norm(self) -> None:
        self._norm("batch_norm")

    def _batch_renorm(self) -> None:
        self._norm("batch_renorm")

    def _conv2d(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) == 4 and 0 not in m.shape))
        m = self.b.meta(x)
        k = self.draw(st.sampled_from((1, 3)))
        sizes = (m.shape[1], self.draw(st.sampled_from((2, 3))), k, k // 2)
        self.b.apply_link(self.link("conv2d", sizes, m.dtype), x)

    def _capture(self) -> None:
        """Inside a segment: an op on a value of an enclosing scope (the body closes over
        it), alone or with one of the segment's own values."""
        c = self.pick(self.capturable(self.b.enclosing_refs()))
        mc = self.b.meta(c)
        own = self.floats(lambda m: m.dtype == mc.dtype and _broadcasts(mc.shape, m.shape))
        if own and self.draw(st.booleans()):
            self.b.binary(self.draw(st.sampled_from(CAPTURE_BINARY)), self.pick(own), c)
        else:
            self.b.unary(self.draw(st.sampled_from(CAPTURE_UNARY)), c)

    def _embed_id(self) -> None:
        refs = [r for r, m in self.b.refs().items() if m.is_index]
        dtype = self.draw(st.sampled_from((self.main,) + FLOAT_DTYPES))
        self.b.apply_link(self.link("embed_id", (5, self.draw(st.sampled_from((3, 2)))), dtype),
                          self.pick(refs))

    # -- segments --------------------------------------------------------------

    def _forget(self, max_depth: int) -> None:
        if self.b.depth >= max_depth:
            raise GraphError("deep enough")
        visible = [r for r in self.b.refs() if not r.startswith("w")]
        index = [r for r in visible if self.b.meta(r).is_index]
        args = [self.pick_float()] + self.draw(st.lists(st.sampled_from(visible), max_size=2))
        if index and self.draw(st.booleans()):
            args.append(index[-1])
        self.b.begin_forget(tuple(args))

    def _end(self, max_depth: int) -> None:
        floats = self.floats()
        returns = self.draw(st.lists(st.sampled_from(floats), min_size=0, max_size=2,
                                     unique=True))
        self.b.end_forget(tuple([floats[-1]] + [r for r in returns if r != floats[-1]]))

    # -- extras ----------------------------------------------------------------

    def extra(self, name: str) -> None:
        if name == "none":
            return
        if name == "stateful_in_segment":
            kind = self.draw(st.sampled_from(("batch_norm", "batch_renorm")))
            x = self.b.input((self.draw(st.sampled_from((3, 2, 4))), 3), "float32")
            (a,) = self.b.begin_forget((x,))
            y = self.b.apply_link(self.link(kind, (3,), "float32"), a)
        elif name == "param_in_segment":
            x = self.pick(self.floats(lambda m: len(m.shape) == 2 and 0 not in m.shape)
                          or [self.b.input((2, 3), self.main)])
            (a,) = self.b.begin_forget((x,))
            m = self.b.meta(a)
            y = self.b.apply_link(self.link("linear", (m.shape[1], 2), m.dtype), a)
        elif name == "multi_output":
            (a,) = self.b.begin_forget((self.pick_float(),))
            m = self.b.meta(a)
            w = self.weight(m.shape, m.dtype)
            self.b.end_forget((self.b.binary("mul", a, w), self.b.unary("tanh", a)))
            return
        elif name == "duplicate_arg":
            x = self.pick_float()
            a, c = self.b.begin_forget((x, x))
            y = self.b.binary("mul", a, self.b.unary("sin", c))
        elif name == "index_arg":
            i = self.b.index_input((self.draw(st.integers(1, 4)),), high=5)
            (a,) = self.b.begin_forget((i,))
            y = self.b.apply_link(self.link("embed_id", (5, 3), self.main), a)
        elif name == "captured_value":
            self._captured_value()
            return
        elif name == "nested_stateful":
            self._nested_stateful()
            return
        elif name == "result_shapes":
            self._result_shapes()
            return
        else:
            self._shared_weight()
            return
        self.b.end_forget((y,))

    def _nested_stateful(self) -> None:
        """A segment inside a segment, with a normalization link (running statistics)
        inside the inner one, and optionally a linear link in the outer one (D9, T4)."""
        kind = self.draw(st.sampled_from(("batch_norm", "batch_renorm")))
        x = self.b.input((self.draw(st.sampled_from((3, 2, 4))), 3), "float32")
        (a,) = self.b.begin_forget((x,))
        if self.draw(st.booleans()):
            a = self.b.apply_link(self.link("linear", (3, 3), "float32"), a)
        (c,) = self.b.begin_forget((a,))
        (y,) = self.b.end_forget((self.b.apply_link(self.link(kind, (3,), "float32"), c),))
        self.b.end_forget((self.b.unary("tanh", y),))

    def _result_shapes(self) -> None:
        """A segment returning many results, in a drawn order: one Variable twice, an
        argument passed through, a 0-d sum and a computed value. Mostly both copies of
        the Variable and the 0-d sum are used afterwards (``(y1 + y2) * s``), else which
        results go unused is left to the loss (which uses the last two refs) (T4, D6)."""
        (a,) = self.b.begin_forget((self.pick_float(),))
        y = self.b.unary(self.draw(st.sampled_from(UNARY)), a)
        results = [y, y, a, self.b.sum(y), self.b.binary("mul", a, y)]
        order = self.draw(st.permutations(range(len(results))))
        outs = self.b.end_forget(tuple(results[i] for i in order))
        if not self.draw(st.booleans()):
            twice = [o for o, i in zip(outs, order, strict=True) if i in (0, 1)]
            self.b.binary("mul", self.b.binary("add", *twice), outs[order.index(3)])

    def _shared_weight(self) -> None:
        """A weight used inside a segment and outside it, in a drawn order (T3)."""
        x = self.pick_float()
        m = self.b.meta(x)
        w = self.weight(tuple(1 for _ in m.shape[:-1]) + m.shape[-1:], m.dtype)
        inside_first = self.draw(st.booleans())
        if not inside_first:
            x = self.b.binary("mul", x, w)
        (a,) = self.b.begin_forget((x,))
        (y,) = self.b.end_forget((self.b.binary("mul", a, w),))
        if inside_first:
            self.b.binary("mul", y, w)

    def _captured_value(self) -> None:
        """A segment closing over a non-leaf value computed before it (at top level, or
        in an enclosing segment; from the result of another segment with a weight inside,
        or not), which is also used outside the segment, before or after it, or not at
        all (T3 when used on both sides, like a shared weight)."""
        src = self.pick(self.capturable(self.b.refs()) or [self.b.input((2, 3), "float32")])
        nested = self.draw(st.booleans())
        if nested:
            (src,) = self.b.begin_forget((src,))
        c = src
        if self.draw(st.booleans()):  # computed by a segment of its own
            (p,) = self.b.begin_forget((src,))
            m = self.b.meta(p)
            (c,) = self.b.end_forget((self.b.binary("mul", p, self.weight(m.shape, m.dtype)),))
        for _ in range(self.draw(st.integers(1, 2))):
            c = self.b.unary(self.draw(st.sampled_from(CAPTURE_UNARY)), c)
        where = self.draw(st.sampled_from(("after", "before", "inside_only")))
        if where == "before":
            arg = self.b.binary("mul", c, src)
        else:  # src, a value on the way to c, or an unrelated one
            mc = self.b.meta(c)
            arg = self.pick([r for r in self.floats(lambda m: m == mc) if r != c])
        (a,) = self.b.begin_forget((arg,))
        (y,) = self.b.end_forget((self.b.binary(self.draw(st.sampled_from(CAPTURE_BINARY)), a,
                                                c),))
        if where == "after":
            y = self.b.binary("mul", *((y, c) if self.draw(st.booleans()) else (c, y)))
        if nested:
            self.b.end_forget((y,))


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether ``small`` broadcasts to exactly ``big``."""
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(small[::-1], big[::-1], strict=False))
