"""Build a graph into live Chainer objects by executing its printed source."""

from __future__ import annotations

import collections
import functools
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import chainer

from forget_conformance.graph.model import Graph
from forget_conformance.graph.source import HEADER, graph_source

_HEADER: dict[str, Any] = {}
exec(compile(HEADER, "<graph header>", "exec"), _HEADER)


def compile_graph(graph: Graph) -> types.ModuleType:
    """Execute ``to_source(graph)`` as a fresh module. Its fixed header is executed once:
    each module gets the header's names, its functions rebound to the module's globals
    (so they see its ``SEED``), its classes, imports and reseeded generator shared."""
    module = types.ModuleType(f"forget_graph_{graph.seed}")
    scope = module.__dict__
    for name, value in _HEADER.items():
        if type(value) is types.FunctionType:
            value = types.FunctionType(value.__code__, scope, name, value.__defaults__)
        scope.setdefault(name, value)
    exec(_code(graph), scope)
    return module


@functools.lru_cache(maxsize=256)
def _code(graph: Graph) -> types.CodeType:
    """The compiled graph source. Cached: hypothesis replays a graph while it shrinks a
    failure, and some checks run a graph more than once; every module is still fresh."""
    return compile(graph_source(graph), f"<graph seed={graph.seed}>", "exec")


@dataclass
class Built:
    """A graph bound to fresh links and inputs on one device, and to one ``forget``
    (``None``: plain). ``calls`` counts the calls of each segment function by name."""

    graph: Graph
    forget: Callable | None
    links: chainer.Chain
    inputs: dict[str, Any]
    module: types.ModuleType
    calls: collections.Counter = field(default_factory=collections.Counter)

    def forward(self) -> tuple[dict[str, Any], chainer.Variable | None]:
        """Run the graph once: every top-level value by ref, and the float64 loss."""
        return self.module.forward(self.forget, self.links, self.inputs, self.calls)


def build(graph: Graph, forget: Callable | None = None, device: Any = None,
          module: types.ModuleType | None = None) -> Built:
    """Fresh links (identical for identical graphs) and inputs on ``device`` (default CPU).
    Pass ``module`` (from :func:`compile_graph`) to skip recompiling the source."""
    device = chainer.get_device(device or "@numpy")
    module = module or compile_graph(graph)
    return Built(graph, forget, module.make_links(device), module.make_inputs(device), module)
