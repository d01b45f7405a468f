"""Hypothesis strategies for random, valid graphs (built through ``GraphBuilder``).

Every choice is drawn so that its simplest value (the one hypothesis shrinks to)
is listed first: few inputs, float32, 2-D, short, no segment, plain ops.
"""

from __future__ import annotations

import functools
import math

from hypothesis import strategies as st

from forget_conformance.graph import (
    FEEDBACK_LINKS,
    FLOAT_DTYPES,
    Graph,
    GraphBuilder,
    GraphError,
    feedback_links,
)
from forget_conformance.graph.builder import BINARY, UNARY

ACTIONS = ("unary", "forget", "end", "binary", "linear", "matmul", "reshape", "transpose",
           "slice", "concat", "split", "sum", "cast", "batch_norm", "batch_renorm",
           "conv2d", "embed_id", "capture")
#: Structures appended after the random steps, to reach clause-specific shapes quickly.
EXTRAS = ("none", "param_in_segment", "shared_param", "stateful_in_segment", "multi_output",
          "duplicate_arg", "index_arg", "captured_value", "nested_stateful", "result_shapes")
#: Not among EXTRAS: a segment applying one link of a ``FEEDBACK_LINKS`` kind twice
#: (outside the contract, D10); only the informational ``stateful_feedback`` target asks
#: for it, alone.
FEEDBACK_EXTRA = "stateful_feedback"
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


# Strategy objects are built once per distinct argument and reused: hypothesis validates
# and labels each new strategy object on first draw, which costs more than the draw.
# The same strategies draw the same values, so caching changes no example.
_BOOLS = st.booleans()


@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.lru_cache(maxsize=4096)
def _one_of(options: tuple) -> st.SearchStrategy:
    return st.sampled_from(options)


@functools.lru_cache(maxsize=4096)
def _lists_of(options: tuple, min_size: int = 0, max_size: int = 2,
              unique: bool = False) -> st.SearchStrategy[list]:
    return st.lists(_one_of(options), min_size=min_size, max_size=max_size, unique=unique)


@functools.cache
def _permutation(n: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(n))


@functools.cache
def _split_points(high: int) -> st.SearchStrategy[list[int]]:
    return st.lists(_ints(0, high), min_size=1, max_size=2)


@functools.cache
def _axis_or_none(high: int) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), _ints(0, high))


@st.composite
def graphs(draw, max_steps: int = 6, max_depth: int = 2, extras: tuple[str, ...] = EXTRAS,
           raw_arrays: bool = True) -> Graph:
    """A random graph of at most ``max_steps`` random steps plus one drawn extra structure
    (from ``extras``); ``raw_arrays=False`` feeds every input as a ``Variable``."""
    b = GraphBuilder(seed=draw(_ints(0, 2**16)))
    main = draw(_one_of(("float32", "float64", "float16")))
    for i in range(draw(_ints(1, 3))):
        ndim = draw(_one_of((2, 1, 3, 4)))
        shape = tuple(draw(_one_of(DIMS)) for _ in range(ndim))
        dtype = main if i == 0 else draw(_one_of((main,) + FLOAT_DTYPES))
        b.input(shape, dtype, wrap=not raw_arrays or draw(_one_of((True, False))),
                fill=draw(_one_of(FILL_DRAWS)))
    if draw(_BOOLS):
        b.index_input((draw(_ints(1, 4)),), high=5)
    ctx = _Context(draw, b, main)
    for _ in range(draw(_ints(1, max_steps))):
        ctx.step(draw(_one_of(ACTIONS)), max_depth)
    while b.depth:
        ctx._end(max_depth)
    ctx.extra(draw(_one_of(extras)))
    top = [r for r, m in b.refs().items() if not m.is_index and not r.startswith("w")]
    loss = top[-2:] + draw(_lists_of(tuple(top)))
    graph = b.build(tuple(loss))
    if bool(feedback_links(graph)) != ("stateful_feedback" in extras):
        raise AssertionError("a segment applies a feedback link twice where none was asked "
                             "for, or none where one was")  # a bug of this module
    return graph


class _Context:
    """The drawing state of one graph: the builder and its main dtype."""

    def __init__(self, draw, builder: GraphBuilder, main: str) -> None:
        self.draw, self.b, self.main = draw, builder, main

    def pick(self, refs: list[str]) -> str:
        """One of ``refs``, the most recent first (so shrinking favours chains)."""
        if not refs:
            raise GraphError("no suitable argument")
        return refs[::-1][self.draw(_ints(0, len(refs) - 1))]

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
        self.b.unary(self.draw(_one_of(UNARY)), self.pick_float())

    def _binary(self) -> None:
        a = self.pick_float()
        ma = self.b.meta(a)
        how = self.draw(_one_of(("weight", "self", "other")))
        if how == "self":
            other = a
        elif how == "other":
            other = self.pick(self.floats(lambda m: m.dtype == ma.dtype and _broadcasts(
                m.shape, ma.shape)))
        else:
            mask = [self.draw(_BOOLS) for _ in ma.shape]
            other = self.weight(tuple(1 if k else d for k, d in zip(mask, ma.shape,
                                                                    strict=True)), ma.dtype)
        self.b.binary(self.draw(_one_of(BINARY)), a, other)

    def weight(self, shape: tuple[int, ...], dtype: str) -> str:
        """An existing weight of this shape and dtype (shared), or a new one."""
        same = [w.name for w in self.b.links("weight") if w.sizes == shape and w.dtype == dtype]
        if same and self.draw(_BOOLS) is False:
            return same[0]
        return self.b.add_link("weight", shape, dtype)

    def link(self, kind: str, sizes: tuple[int, ...], dtype: str) -> str:
        """An existing link with these sizes (shared), or a new one; never a link of a
        :data:`FEEDBACK_LINKS` kind already applied in an open segment (a segment applying
        one twice is outside the contract: the ``stateful_feedback`` extra draws those)."""
        taken = self.b.links_in_open_segments() if kind in FEEDBACK_LINKS else set()
        same = [k.name for k in self.b.links(kind) if k.sizes == sizes and k.dtype == dtype
                and k.name not in taken]
        if same and self.draw(_BOOLS) is False:
            return same[0]
        return self.b.add_link(kind, sizes, dtype)

    def _linear(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) >= 2 and 0 not in m.shape))
        m = self.b.meta(x)
        out = self.draw(_one_of((3, 2, 4)))
        self.b.apply_link(self.link("linear", (math.prod(m.shape[1:]), out), m.dtype), x)

    def _matmul(self) -> None:
        a = self.pick(self.floats(lambda m: len(m.shape) == 2 and 0 not in m.shape))
        m = self.b.meta(a)
        self.b.matmul(a, self.weight((m.shape[1], self.draw(_one_of((3, 2)))), m.dtype))

    def _reshape(self) -> None:
        x = self.pick_float()
        shape = self.b.meta(x).shape
        options = [(math.prod(shape),), shape[::-1]]
        if len(shape) >= 2:
            options.append((shape[0], math.prod(shape[1:])))
            options.append((shape[0], 1) + shape[1:])
        self.b.reshape(x, self.draw(_one_of(tuple(options))))

    def _transpose(self) -> None:
        x = self.pick_float()
        n = len(self.b.meta(x).shape)
        self.b.transpose(x, tuple(self.draw(_permutation(n))))

    def _slice(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) > 0))
        shape = self.b.meta(x).shape
        axis = self.draw(_ints(0, len(shape) - 1))
        start = self.draw(_ints(0, shape[axis]))
        self.b.slice(x, axis, start, self.draw(_ints(start, shape[axis])))

    def _concat(self) -> None:
        a = self.pick(self.floats(lambda m: len(m.shape) > 0))
        ma = self.b.meta(a)
        axis = self.draw(_ints(0, len(ma.shape) - 1))
        rest = ma.shape[:axis] + ma.shape[axis + 1:]
        other = self.pick(self.floats(lambda m: m.dtype == ma.dtype and len(m.shape) == len(
            ma.shape) and m.shape[:axis] + m.shape[axis + 1:] == rest))
        self.b.concat((a, other), axis)

    def _split(self) -> None:
        x = self.pick(self.floats(lambda m: len(m.shape) > 0))
        shape = self.b.meta(x).shape
        axis = self.draw(_ints(0, len(shape) - 1))
        points = sorted(self.draw(_split_points(shape[axis])))
        self.b.split(x, tuple(points), axis)

    def _sum(self) -> None:
        x = self.pick_float()
        ndim = len(self.b.meta(x).shape)
        axis = self.draw(_axis_or_none(max(ndim - 1, 0)))
        self.b.sum(x, axis if ndim else None, self.draw(_BOOLS))

    def _cast(self) -> None:
        x = self.pick_float()
        self.b.cast(x, self.draw(_one_of(
            tuple(d for d in FLOAT_DTYPES if d != self.b.meta(x).dtype))))

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
        k = self.draw(_one_of((1, 3)))
        sizes = (m.shape[1], self.draw(_one_of((2, 3))), k, k // 2)
        self.b.apply_link(self.link("conv2d", sizes, m.dtype), x)

    def _capture(self) -> None:
        """Inside a segment: an op on a value of an enclosing scope (the body closes over
        it), alone or with one of the segment's own values."""
        c = self.pick(self.capturable(self.b.enclosing_refs()))
        mc = self.b.meta(c)
        own = self.floats(lambda m: m.dtype == mc.dtype and _broadcasts(mc.shape, m.shape))
        if own and self.draw(_BOOLS):
            self.b.binary(self.draw(_one_of(CAPTURE_BINARY)), self.pick(own), c)
        else:
            self.b.unary(self.draw(_one_of(CAPTURE_UNARY)), c)

    def _embed_id(self) -> None:
        refs = [r for r, m in self.b.refs().items() if m.is_index]
        dtype = self.draw(_one_of((self.main,) + FLOAT_DTYPES))
        self.b.apply_link(self.link("embed_id", (5, self.draw(_one_of((3, 2)))), dtype),
                          self.pick(refs))

    # -- segments --------------------------------------------------------------

    def _forget(self, max_depth: int) -> None:
        if self.b.depth >= max_depth:
            raise GraphError("deep enough")
        visible = [r for r in self.b.refs() if not r.startswith("w")]
        index = [r for r in visible if self.b.meta(r).is_index]
        args = [self.pick_float()] + self.draw(_lists_of(tuple(visible)))
        if index and self.draw(_BOOLS):
            args.append(index[-1])
        self.b.begin_forget(tuple(args))

    def _end(self, max_depth: int) -> None:
        floats = self.floats()
        returns = self.draw(_lists_of(tuple(floats), unique=True))
        self.b.end_forget(tuple([floats[-1]] + [r for r in returns if r != floats[-1]]))

    # -- extras ----------------------------------------------------------------

    def extra(self, name: str) -> None:
        if name == "none":
            return
        if name == "stateful_in_segment":
            kind = self.draw(_one_of(("batch_norm", "batch_renorm")))
            x = self.b.input((self.draw(_one_of((3, 2, 4))), 3), "float32")
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
            i = self.b.index_input((self.draw(_ints(1, 4)),), high=5)
            (a,) = self.b.begin_forget((i,))
            y = self.b.apply_link(self.link("embed_id", (5, 3), self.main), a)
        elif name == FEEDBACK_EXTRA:
            self._stateful_feedback()
            return
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

    def _stateful_feedback(self) -> None:
        """A segment that applies one BatchRenormalization link twice (outside the
        contract, D10): its second call reads the running statistics its first updated."""
        x = self.b.input((self.draw(_one_of((3, 2, 4))), 3), "float32")
        (a,) = self.b.begin_forget((x,))
        link = self.b.add_link("batch_renorm", (3,), "float32")
        y = self.b.apply_link(link, a)
        if self.draw(_BOOLS):
            y = self.b.unary(self.draw(_one_of(CAPTURE_UNARY)), y)
        self.b.end_forget((self.b.apply_link(link, y),))

    def _nested_stateful(self) -> None:
        """A segment inside a segment, with a normalization link (running statistics)
        inside the inner one, and optionally a linear link in the outer one (D9, T4)."""
        kind = self.draw(_one_of(("batch_norm", "batch_renorm")))
        x = self.b.input((self.draw(_one_of((3, 2, 4))), 3), "float32")
        (a,) = self.b.begin_forget((x,))
        if self.draw(_BOOLS):
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
        y = self.b.unary(self.draw(_one_of(UNARY)), a)
        results = [y, y, a, self.b.sum(y), self.b.binary("mul", a, y)]
        order = self.draw(_permutation(len(results)))
        outs = self.b.end_forget(tuple(results[i] for i in order))
        if not self.draw(_BOOLS):
            twice = [o for o, i in zip(outs, order, strict=True) if i in (0, 1)]
            self.b.binary("mul", self.b.binary("add", *twice), outs[order.index(3)])

    def _shared_weight(self) -> None:
        """A weight used inside a segment and outside it, in a drawn order (T3)."""
        x = self.pick_float()
        m = self.b.meta(x)
        w = self.weight(tuple(1 for _ in m.shape[:-1]) + m.shape[-1:], m.dtype)
        inside_first = self.draw(_BOOLS)
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
        nested = self.draw(_BOOLS)
        if nested:
            (src,) = self.b.begin_forget((src,))
        c = src
        if self.draw(_BOOLS):  # computed by a segment of its own
            (p,) = self.b.begin_forget((src,))
            m = self.b.meta(p)
            (c,) = self.b.end_forget((self.b.binary("mul", p, self.weight(m.shape, m.dtype)),))
        for _ in range(self.draw(_ints(1, 2))):
            c = self.b.unary(self.draw(_one_of(CAPTURE_UNARY)), c)
        where = self.draw(_one_of(("after", "before", "inside_only")))
        if where == "before":
            arg = self.b.binary("mul", c, src)
        else:  # src, a value on the way to c, or an unrelated one
            mc = self.b.meta(c)
            arg = self.pick([r for r in self.floats(lambda m: m == mc) if r != c])
        (a,) = self.b.begin_forget((arg,))
        (y,) = self.b.end_forget((self.b.binary(self.draw(_one_of(CAPTURE_BINARY)), a,
                                                c),))
        if where == "after":
            y = self.b.binary("mul", *((y, c) if self.draw(_BOOLS) else (c, y)))
        if nested:
            self.b.end_forget((y,))


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether ``small`` broadcasts to exactly ``big``."""
    if len(small) > len(big):
        return False
    return all(s in (1, b) for s, b in zip(small[::-1], big[::-1], strict=False))
