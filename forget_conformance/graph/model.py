"""The graph as plain data: frozen dataclasses that print as valid Python (``repr``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]
Ref = str

FILLS = ("uniform", "large", "nonfinite")
LINK_KINDS = ("linear", "conv2d", "batch_norm", "batch_renorm", "embed_id", "weight")


@dataclass(frozen=True)
class Input:
    """A graph input. ``index_high > 0`` makes it an int32 index array in ``[0, index_high)``;
    ``wrap=False`` feeds it as a raw ndarray instead of a ``Variable``. ``fill`` is one of
    :data:`FILLS`: data in [-1, 1), or ``large`` (near the dtype's largest value, so
    that products and loss-scaled gradients overflow to inf), or ``nonfinite`` (an inf,
    a -inf and a NaN among data in [-1, 1))."""

    name: Ref
    shape: Shape
    dtype: str
    index_high: int = 0
    wrap: bool = True
    fill: str = "uniform"

    @property
    def is_index(self) -> bool:
        return self.index_high > 0


@dataclass(frozen=True)
class Link:
    """A parameterised link, or (``kind='weight'``) a bare shared ``chainer.Parameter``.

    ``sizes`` are the constructor sizes: linear ``(in, out)``, conv2d
    ``(in_ch, out_ch, ksize, pad)``, batch_norm / batch_renorm ``(channels,)``,
    embed_id ``(vocab, dim)``, weight: its shape. A weight is referenced as an
    argument by its ``name``; the others through an op's ``link`` attribute.
    """

    name: str
    kind: str
    sizes: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class Op:
    """One Chainer call: ``outs = op(*args, **attrs)``, with inferred shapes and dtypes."""

    op: str
    args: tuple[Ref, ...]
    outs: tuple[Ref, ...]
    shapes: tuple[Shape, ...]
    dtypes: tuple[str, ...]
    attrs: tuple[tuple[str, Any], ...] = ()

    def attr(self, key: str, default: Any = None) -> Any:
        return dict(self.attrs).get(key, default)


@dataclass(frozen=True)
class Forget:
    """``outs = forget(name, *args)``: ``body`` runs with ``args`` bound to ``params`` and
    returns ``returns`` (inner refs; may be params, i.e. arguments passed through).
    A single return is returned as a ``Variable``, several as a tuple.

    ``captures`` are the refs of enclosing scopes (inputs, values computed earlier at
    top level or in an enclosing segment) that the body, or a segment nested in it,
    uses without receiving them as arguments: the function closes over them.
    """

    name: str
    args: tuple[Ref, ...]
    params: tuple[Ref, ...]
    body: tuple[Step, ...]
    returns: tuple[Ref, ...]
    outs: tuple[Ref, ...]
    shapes: tuple[Shape, ...]
    dtypes: tuple[str, ...]
    captures: tuple[Ref, ...] = ()


Step = Op | Forget


@dataclass(frozen=True)
class Graph:
    """Inputs, links, top-level steps, and the refs whose weighted sums form the loss."""

    inputs: tuple[Input, ...]
    links: tuple[Link, ...]
    steps: tuple[Step, ...]
    loss: tuple[Ref, ...]
    seed: int = 0
    meta: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def segments(self) -> list[tuple[Forget, int]]:
        """Every ``Forget`` with its nesting depth (1 = top level), outer first."""
        return [(s, d) for s, d in walk(self.steps) if isinstance(s, Forget)]

    def link(self, name: str) -> Link:
        return next(link for link in self.links if link.name == name)

    def count_ops(self) -> int:
        return sum(1 for s, _ in walk(self.steps) if isinstance(s, Op))


def walk(steps: tuple[Step, ...], depth: int = 0) -> Iterator[tuple[Step, int]]:
    """Every step, recursively, with the number of ``Forget`` s enclosing it (a Forget
    itself is yielded with its own depth, counting itself)."""
    for step in steps:
        if isinstance(step, Forget):
            yield step, depth + 1
            yield from walk(step.body, depth + 1)
        else:
            yield step, depth
