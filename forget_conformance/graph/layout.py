"""Array layouts in Chainer 7.8.1's CPU ops: the strides of each output, and which
ops copy an input because of its layout.

A layout is a tuple of strides in elements (``None``: C-contiguous). Views keep
their input's buffer with other strides (``F.transpose``, conv2d's output is
``numpy.rollaxis`` of a new array); NumPy's ufuncs, ``astype`` and reductions
allocate their outputs in the input's memory order (``order='K'``). So a
non-contiguous layout travels through elementwise ops until a ``reshape`` needs
a copy: ``F.reshape`` and the reshape ``F.linear`` applies to inputs of more than
two dimensions (a node of its own, whose output the linear node keeps).

Layouts are computed by NumPy itself, on a 1-byte probe with the same shape and
element strides, so they follow NumPy's own rules (size-1 axes, broadcasting).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from forget_conformance.graph.model import Op, Shape

Layout = tuple[int, ...] | None
#: Elementwise ops whose outputs NumPy lays out like their inputs (order 'K').
ELEMENTWISE = frozenset({"tanh", "sigmoid", "sin", "neg", "scale", "relu", "add", "sub",
                         "mul", "cast"})


def probe(shape: Shape, layout: Layout) -> np.ndarray:
    """A uint8 array of ``shape`` laid out as ``layout`` (element strides = byte strides)."""
    if layout is None or 0 in shape:
        return np.zeros(shape, np.uint8)
    extent = 1 + sum((d - 1) * abs(s) for d, s in zip(shape, layout, strict=True))
    return as_strided(np.zeros(extent, np.uint8), shape, layout)


def of(array: np.ndarray) -> Layout:
    """The layout of ``array`` (``None`` when C-contiguous)."""
    if array.flags.c_contiguous:
        return None
    return tuple(s // array.itemsize for s in array.strides)


def contiguous(shape: Shape, layout: Layout) -> bool:
    return layout is None or probe(shape, layout).flags.c_contiguous


def reshape_copies(shape: Shape, layout: Layout, new_shape: Shape) -> bool:
    """Whether ``x.reshape(new_shape)`` copies an ``x`` of this shape and layout."""
    if layout is None or math.prod(shape) == 0:
        return False
    p = probe(shape, layout)
    return not np.shares_memory(p.reshape(new_shape), p)


def linear_input(shape: Shape, layout: Layout) -> tuple[Shape, Layout, bool]:
    """The shape and layout of what ``F.linear`` hands its node (``x.reshape(len(x), -1)``
    above 2-D), and whether that reshape copies."""
    if len(shape) <= 2:
        return shape, layout, False
    flat = (shape[0], math.prod(shape[1:]))
    if reshape_copies(shape, layout, flat):
        return flat, None, True
    return flat, None if layout is None else of(probe(shape, layout).reshape(flat)), False


def linear_copies_for_blas(shape: Shape, layout: Layout) -> bool:
    """``LinearFunction.forward``'s ``ascontiguousarray``: neither C- nor F-contiguous
    with a 1 in the shape (a transient copy, not kept)."""
    if layout is None:
        return False
    p = probe(shape, layout)
    return not (p.flags.c_contiguous or p.flags.f_contiguous) and 1 in shape


def outputs(op: Op, inputs: Sequence[tuple[Shape, Layout]]) -> list[Layout]:
    """The layout of each output of ``op`` given its inputs' (shape, layout)."""
    kind = op.op
    if kind in ELEMENTWISE:
        if all(lay is None for _, lay in inputs):
            return [None]
        # 'K' order over the (broadcast) operands, as NumPy lays out ``a + b``
        probes = [probe(s, lay) for s, lay in inputs]
        result = probes[0] + probes[1] if len(probes) > 1 else np.negative(probes[0])
        return [of(result)]
    if kind == "transpose":
        (shape, lay), axes = inputs[0], op.attr("axes")
        if lay is None and sorted(axes) == list(axes):
            return [None]
        return [of(probe(shape, lay).transpose(axes))]
    if kind == "reshape":
        (shape, lay), new = inputs[0], tuple(op.attr("shape"))
        if lay is None or reshape_copies(shape, lay, new):
            return [None]
        return [of(probe(shape, lay).reshape(new))]
    if kind == "sum":
        shape, lay = inputs[0]
        if lay is None:
            return [None]
        return [of(np.asarray(probe(shape, lay).sum(axis=op.attr("axis"),
                                                     keepdims=op.attr("keepdims"))))]
    if kind == "conv2d":  # numpy.rollaxis(y, 3, 1) of a new (n, oh, ow, c) array
        n, c, h, w = op.shapes[0]
        return [of(np.rollaxis(np.zeros((n, h, w, c), np.uint8), 3, 1))]
    if kind == "batch_norm":  # gamma * (x - mean) * inv_std + beta, all 'K' order
        shape, lay = inputs[0]
        if lay is None:
            return [None]
        stat = tuple(d if i == 1 else 1 for i, d in enumerate(shape))
        return [of(probe(shape, lay) + np.zeros(stat, np.uint8))]
    return [None for _ in op.outs]  # new arrays (linear, matmul, ...)
