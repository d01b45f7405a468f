"""Regular graphs for benchmarks: ``n`` layers, with ``forget`` over chosen layer ranges.

``segments`` is a list of half-open layer ranges ``(start, stop)``, sorted and
disjoint; each becomes one ``forget`` call. Helpers give common placements.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from forget_conformance.graph.builder import GraphBuilder
from forget_conformance.graph.model import Graph, Ref

Segments = list[tuple[int, int]] | None
# layer(builder, index, state, extra) -> new state; ``extra`` is the layer's own input or None
Layer = Callable[[GraphBuilder, int, Ref, Ref | None], Ref]


def per_layer(n: int) -> list[tuple[int, int]]:
    """One segment per layer."""
    return [(i, i + 1) for i in range(n)]


def every_k(n: int, k: int) -> list[tuple[int, int]]:
    """Segments of ``k`` consecutive layers (the last may be shorter)."""
    return [(i, min(i + k, n)) for i in range(0, n, k)]


def sqrt_segments(n: int) -> list[tuple[int, int]]:
    """About ``sqrt(n)`` segments of about ``sqrt(n)`` layers each."""
    return every_k(n, max(1, math.isqrt(n)))


def _layered(b: GraphBuilder, n: int, x: Ref, layer: Layer, segments: Segments,
             extras: list[Ref] | None = None) -> Ref:
    inputs: list[Ref | None] = list(extras) if extras else [None] * n
    starts = {start: stop for start, stop in (segments or [])}
    i = 0
    while i < n:
        if i not in starts:
            x = layer(b, i, x, inputs[i])
            i += 1
            continue
        stop = starts[i]
        if not i < stop <= n:
            raise ValueError(f"bad segment ({i}, {stop}) for {n} layers")
        own = [e for e in inputs[i:stop] if e is not None]
        inner = b.begin_forget((x, *own))
        inner_x, inner_extras = inner[0], iter(inner[1:])
        for j in range(i, stop):
            inner_x = layer(b, j, inner_x, next(inner_extras) if inputs[j] else None)
        (x,) = b.end_forget((inner_x,))
        i = stop
    return x


def elementwise_chain(n_layers: int, shape: tuple[int, ...] = (64, 64),
                      dtype: str = "float32", segments: Segments = None,
                      op: str = "tanh", seed: int = 0) -> Graph:
    """``n_layers`` unary ops (``op``) in a row."""
    b = GraphBuilder(seed)
    x = b.input(shape, dtype)
    y = _layered(b, n_layers, x, lambda b, i, h, e: b.unary(op, h), segments)
    return b.build((y,))


def mlp(n_layers: int, width: int = 64, batch: int = 16, dtype: str = "float32",
        segments: Segments = None, seed: int = 0) -> Graph:
    """``n_layers`` of Linear(width, width) + tanh."""
    b = GraphBuilder(seed)
    x = b.input((batch, width), dtype)
    links = [b.add_link("linear", (width, width), dtype) for _ in range(n_layers)]
    y = _layered(b, n_layers, x, lambda b, i, h, e: b.unary("tanh", b.apply_link(links[i], h)),
                 segments)
    return b.build((y,))


def conv_bn_stack(n_layers: int, channels: int = 4, size: int = 8, batch: int = 2,
                  dtype: str = "float32", segments: Segments = None, seed: int = 0) -> Graph:
    """``n_layers`` of Convolution2D(3x3, pad 1) + BatchNormalization + relu."""
    b = GraphBuilder(seed)
    x = b.input((batch, channels, size, size), dtype)
    convs = [b.add_link("conv2d", (channels, channels, 3, 1), dtype) for _ in range(n_layers)]
    norms = [b.add_link("batch_norm", (channels,), dtype) for _ in range(n_layers)]

    def layer(b: GraphBuilder, i: int, h: Ref, _: Ref | None) -> Ref:
        return b.unary("relu", b.apply_link(norms[i], b.apply_link(convs[i], h)))

    return b.build((_layered(b, n_layers, x, layer, segments),))


def unrolled_rnn(steps: int, hidden: int = 32, batch: int = 8, dtype: str = "float32",
                 segments: Segments = None, seed: int = 0) -> Graph:
    """``h = tanh(Wx x_t + Wh h)`` over ``steps`` inputs, the two links shared by all steps."""
    b = GraphBuilder(seed)
    h0 = b.input((batch, hidden), dtype)
    xs = [b.input((batch, hidden), dtype) for _ in range(steps)]
    wx = b.add_link("linear", (hidden, hidden), dtype)
    wh = b.add_link("linear", (hidden, hidden), dtype)

    def step(b: GraphBuilder, i: int, h: Ref, x: Ref | None) -> Ref:
        assert x is not None  # every step has its own input
        return b.unary("tanh", b.binary("add", b.apply_link(wx, x), b.apply_link(wh, h)))

    return b.build((_layered(b, steps, h0, step, segments, xs),))
