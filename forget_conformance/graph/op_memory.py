"""What each op allocates in Chainer 7.8.1 on CPU (NumPy), beyond what it retains.

:data:`~forget_conformance.graph.analysis.RETAINED_BY_OP` says which arrays an op's
FunctionNode keeps for backward; :func:`op_memory` adds the rest a memory model
needs, read from Chainer's CPU code paths: the bytes of each output and of each
input gradient, what the node keeps itself, and the transient workspace of its
forward and of its backward (temporaries alive at the op's peak, beyond its
outputs or new gradients). NumPy's ufunc buffers (8192 elements) are counted only
where an operand must be cast (relu's backward multiplies by a bool mask).

A link op's inputs are its argument, then the link's parameters
(:func:`link_params`). Ops without facts here raise :class:`MemoryModelError`, and so
does the bench model (``graph/memory_model.py``) for a graph whose segments capture values
(their closures keep those values alive, and a recomputation's backward follows them
into the caller's graph: not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forget_conformance.graph import layout
from forget_conformance.graph.model import Link, Op, Shape

Meta = tuple[Shape, str]
_ELEMENTWISE_UNARY = {  # op -> (forward, backward) temporaries, in arrays of the input's size
    "tanh": (0, 1),  # backward: gy * (1 - y * y)
    "sigmoid": (1, 2),  # forward: tanh(x * .5) * .5 + .5; backward: gy * y * (1 - y)
    "sin": (0, 0),  # backward: cos(x), then *= gy in place
    "neg": (0, 0),
    "scale": (0, 0),  # MulConstant
    "relu": (0, 0),  # backward: gy * (y > 0), the bool mask and its cast buffer added below
}
UFUNC_BUFFER = 8192  # elements: NumPy's buffer for operands it casts on the fly


class MemoryModelError(ValueError):
    """The memory model has no facts for this op."""


@dataclass(frozen=True)
class OpMemory:
    """Bytes one op allocates: ``outputs`` (``None``: a view of input 0, no new bytes),
    ``saved`` (kept by the node itself), the forward's and the backward's workspace,
    and ``grads`` per input (``None``: the output gradient handed on, or a view of it)."""

    outputs: tuple[int | None, ...]
    saved: int
    forward_workspace: int
    grads: tuple[int | None, ...]
    backward_workspace: int


def nbytes(shape: Shape, dtype: str) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def link_params(link: Link) -> tuple[Meta, ...]:
    """The parameters a link op takes after its argument (W, b / gamma, beta)."""
    s, d = link.sizes, link.dtype
    if link.kind == "linear":
        return (((s[1], s[0]), d), ((s[1],), d))
    if link.kind == "conv2d":
        return (((s[1], s[0], s[2], s[2]), d), ((s[1],), d))
    if link.kind == "batch_norm":
        return (((s[0],), d), ((s[0],), d))
    raise MemoryModelError(f"no memory facts for link kind {link.kind!r}")


def op_memory(op: Op, inputs: Sequence[Meta], link: Link | None = None,
              layouts: Sequence[layout.Layout] = ()) -> OpMemory:
    """The allocations of ``op`` given its inputs' (shape, dtype), link parameters last,
    and their layouts (``graph.layout``; missing: C-contiguous). A reshape whose input's
    layout forbids a view allocates its output; the reshape ``F.linear`` applies above
    2-D is not part of the linear op here (see ``memory_model``)."""
    lay = tuple(layouts) + (None,) * (len(inputs) - len(layouts))
    out = tuple(nbytes(s, d) for s, d in zip(op.shapes, op.dtypes, strict=True))
    sizes = [nbytes(s, d) for s, d in inputs]
    kind = op.op
    if kind in _ELEMENTWISE_UNARY:
        fwd, bwd = _ELEMENTWISE_UNARY[kind]
        n, item = math.prod(inputs[0][0]), np.dtype(inputs[0][1]).itemsize
        mask = n + min(n, UFUNC_BUFFER) * item if kind == "relu" else 0
        return OpMemory(out, 0, fwd * sizes[0], (sizes[0],), bwd * sizes[0] + mask)
    if kind in ("add", "sub", "mul"):
        return _binary(kind, out[0], op.shapes[0], inputs)
    if kind == "cast":
        same = inputs[0][1] == op.dtypes[0]  # astype(copy=False): the same array
        return OpMemory((None,) if same else out, 0, 0, (None if same else sizes[0],), 0)
    if kind == "reshape" and layout.reshape_copies(inputs[0][0], lay[0], op.shapes[0]):
        return OpMemory(out, 0, 0, (None,), 0)
    if kind in ("reshape", "transpose"):
        return OpMemory((None,), 0, 0, (None,), 0)
    if kind == "sum":  # backward broadcasts gy: a view
        return OpMemory(out, 0, 0, (None,), 0)
    if kind == "linear":  # x.dot(W.T) into y; backward gx = gy.dot(W), gW, gb
        flat, flat_layout, _ = layout.linear_input(inputs[0][0], lay[0])
        blas = layout.linear_copies_for_blas(flat, flat_layout)
        return OpMemory(out, 0, sizes[0] if blas else 0, tuple(sizes), 0)
    if kind == "conv2d":
        return _conv2d(op, inputs, out[0], sizes, link)
    if kind == "batch_norm":  # x_hat, y, y.astype copy; keeps mean, var, inv_std
        stats = 3 * nbytes(inputs[1][0], str(np.promote_types(inputs[0][1], inputs[1][1])))
        return OpMemory(out, stats, 2 * sizes[0], tuple(sizes), 2 * sizes[0])
    raise MemoryModelError(f"no memory facts for op {kind!r}")


def _binary(kind: str, out: int, shape: Shape, inputs: Sequence[Meta]) -> OpMemory:
    """``a op b``: add hands gy on, sub hands gy and makes -gy, mul makes gy * other.
    A broadcast input's gradient is summed down from a full-size array."""
    grads: list[int | None] = []
    work = 0
    for i, (s, d) in enumerate(inputs):
        full = tuple(s) == tuple(shape)
        new = kind == "mul" or (kind == "sub" and i == 1)
        grads.append(nbytes(s, d) if new or not full else None)
        if not full and new:
            work = max(work, out)  # the full-size product before sum_to
    return OpMemory((out,), 0, 0, tuple(grads), work)


def _conv2d(op: Op, inputs: Sequence[Meta], out: int, sizes: list[int],
            link: Link | None) -> OpMemory:
    """im2col + tensordot: ``col`` (k*k times the input) and tensordot's contiguous copy
    of it. Backward: gx by deconvolution (``gcol``, then col2im into a padded buffer,
    of which gx is a view), gW by im2col again with copies of ``col`` and ``gy``."""
    if link is None:
        raise MemoryModelError("conv2d needs its link")
    (n, c, h, w), dtype = inputs[0]
    k, pad = link.sizes[2], link.sizes[3]
    oh, ow = op.shapes[0][2:]
    item = np.dtype(dtype).itemsize
    col = n * c * k * k * oh * ow * item
    padded = n * c * (h + 2 * pad) * (w + 2 * pad) * item
    forward = max(padded + col - out, 2 * col)
    backward = max(col + max(out - padded, 0), 2 * col + out)
    return OpMemory((out,), 0, forward, (padded, *sizes[1:]), backward)
