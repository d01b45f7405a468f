"""Print a graph as standalone Python source that only needs NumPy and Chainer.

The printed module defines ``make_links(device)``, ``make_inputs(device)`` and
``forward(forget, links, xs, calls)``; :mod:`.runtime` executes exactly this
text, so the printed source is what was run. The links and inputs are tables
(``LINKS``, ``INPUTS``) that the fixed header's ``make_links`` and ``make_inputs``
read: a table of constants compiles several times faster than the equivalent
calls, and compiling is a sizeable part of the fuzzer's cost per graph. Each
segment is a nested ``def``; the values it captures are the enclosing function's
locals, which a nested ``def`` closes over (every ref is assigned once, so the
recomputation in backward sees the value the forward saw).
"""

from __future__ import annotations

from forget_conformance.graph.model import LINK_KINDS, Forget, Graph, Op, Step

HEADER = '''\
import collections
import gc
import types
import weakref
import zlib

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

_RNG = np.random.RandomState(0)  # reseeded per draw: cheaper than a new RandomState


class ResultTypeError(TypeError):
    """forget returned a tuple where func returned a Variable, or the reverse (D6)."""


def values(key, shape, dtype, high=0, fill="uniform"):
    """Deterministic test data for ``key``: uniform in [-1, 1), or indices below ``high``;
    ``fill="large"`` scales the data to 1/64 of the dtype's largest value,
    ``fill="nonfinite"`` puts an inf, a -inf and a NaN in (numeric extremes)."""
    rng = _RNG
    rng.seed(zlib.crc32(f"{SEED}/{key}".encode()))
    if high:
        return rng.randint(0, high, size=shape).astype(dtype)
    data = rng.uniform(-1, 1, size=shape)
    if fill == "large":
        data *= float(np.finfo(dtype).max) / 64
    elif fill == "nonfinite" and data.size:
        data.reshape(-1)[rng.randint(0, data.size, 3)] = (np.inf, -np.inf, np.nan)
    return data.astype(dtype)


#: Link kind -> constructor, called with the link's sizes (``LINKS``).
LINK_CONSTRUCTORS = {
    "linear": lambda n_in, n_out: L.Linear(n_in, n_out),
    "conv2d": lambda c_in, c_out, k, pad: L.Convolution2D(c_in, c_out, ksize=k, pad=pad),
    "batch_norm": lambda size: L.BatchNormalization(size),
    "batch_renorm": lambda size: L.BatchRenormalization(size, rmax=1.5, dmax=0.5),
    "embed_id": lambda n, size: L.EmbedID(n, size),
}


def make_links(device):
    """The links of ``LINKS`` (name -> (kind, sizes, dtype); kind ``weight`` is a bare
    parameter) in one Chain, with reproducible values, on ``device``."""
    links = chainer.Chain()
    with links.init_scope():
        for name, (kind, sizes, dtype) in LINKS.items():
            if kind == "weight":
                setattr(links, name, chainer.Parameter(np.zeros(sizes, dtype)))
            else:
                with chainer.using_config("dtype", np.dtype(dtype)):
                    setattr(links, name, LINK_CONSTRUCTORS[kind](*sizes))
    fill(links)
    links.cleargrads()
    return links.to_device(device)


def make_inputs(device):
    """The inputs of ``INPUTS`` (name -> (shape, dtype, index_high, fill, wrap)) on
    ``device``: index arrays as Variables that need no gradient, the others as Variables
    or, where ``wrap`` is False, as raw arrays."""
    xs = {}
    for name, (shape, dtype, high, fill, wrap) in INPUTS.items():
        array = device.send(values(name, shape, dtype, high, fill))
        if high:
            array = chainer.Variable(array, requires_grad=False)
        elif wrap:
            array = chainer.Variable(array)
        xs[name] = array
    return xs


def fill(links):
    """Give every parameter and running statistic reproducible values."""
    for name, param in sorted(links.namedparams()):
        fan_in = int(np.prod(param.shape[1:])) if param.ndim > 1 else 1
        v = values(name, param.shape, param.dtype)
        param.array[...] = 1 + 0.5 * v if name.endswith("gamma") else v / np.sqrt(fan_in)
    for name, link in sorted(links.namedlinks()):
        if hasattr(link, "avg_mean"):
            link.avg_mean[...] = 0.2 * values(name + "/avg_mean", link.avg_mean.shape,
                                              link.avg_mean.dtype)
            link.avg_var[...] = 1 + 0.5 * values(name + "/avg_var", link.avg_var.shape,
                                                 link.avg_var.dtype)


class WeightedSum(chainer.FunctionNode):
    """The loss in one node: the float64 sum of ``F.sum(F.cast(y * w, 'float64'))``
    over its inputs ``y`` (same values and gradients); keeps only the weights ``w``."""

    def __init__(self, weights):
        self.weights = weights

    def forward(self, ys):
        total = None
        for y, w in zip(ys, self.weights):
            term = (y * w).astype(np.float64).sum()
            total = term if total is None else total + term
        return chainer.backend.get_array_module(*ys).asarray(total, np.float64),

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array
        return tuple(chainer.Variable(chainer.utils.force_array(
            gy.astype(self.weights[i].dtype) * self.weights[i])) for i in indexes)


def weighted_sum(device, ys):
    """The loss over ``ys`` (ref -> value), with test weights ``values('loss/<ref>')``."""
    weights = [device.send(values("loss/" + ref, y.shape, y.dtype)) for ref, y in ys.items()]
    return WeightedSum(weights).apply(tuple(ys.values()))[0]


def call(forget, func, n_out, *args):
    """Run a segment plainly (``forget is None``) or through ``forget``."""
    if forget is None:
        return func(*args)
    out = forget(func, *args)
    if (n_out == 1) != isinstance(out, chainer.Variable):
        raise ResultTypeError(f"{func.__name__} returns {n_out} value(s); forget gave "
                              f"{type(out).__name__}")
    return out
'''

_UNARY_EXPR = {"tanh": "F.tanh({0})", "sigmoid": "F.sigmoid({0})", "sin": "F.sin({0})",
               "relu": "F.relu({0})", "neg": "-{0}", "scale": "{0} * 0.5"}
_BINARY_EXPR = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}"}


def to_source(graph: Graph) -> str:
    """The graph as a Python module (see the module docstring)."""
    return HEADER + graph_source(graph)


def graph_source(graph: Graph) -> str:
    """The part of :func:`to_source` after the fixed :data:`HEADER`: the seed, the link
    and input tables and the graph's ``forward`` (the runtime compiles the header once)."""
    lines = ["", f"SEED = {graph.seed}", *_table("LINKS", [
        (link.name, (link.kind, link.sizes, link.dtype)) for link in graph.links]),
        *_table("INPUTS", [(x.name, (x.shape, x.dtype, x.index_high, x.fill, x.wrap))
                           for x in graph.inputs]), "", *_forward(graph)]
    return "\n".join(lines) + "\n"


def _table(name: str, rows: list[tuple[str, tuple]]) -> list[str]:
    if not rows:
        return [f"{name} = {{}}"]
    return [f"{name} = {{", *(f"    {key!r}: {value!r}," for key, value in rows), "}"]


def _forward(graph: Graph) -> list[str]:
    weights = {link.name for link in graph.links if link.kind == "weight"}
    out = ['def forward(forget, links, xs, calls):',
           '    """Run the graph (plain when ``forget`` is None); returns (values, loss)."""']
    if graph.inputs:
        names = ", ".join(x.name for x in graph.inputs)
        names += "," if len(graph.inputs) == 1 else ""
        out.append(f"    {names} = (xs[name] for name in INPUTS)")
    out += _steps(graph.steps, weights, "    ")
    terms = ", ".join(f"{r!r}: {_ref(r, weights)}" for r in graph.loss)
    out.append(f"    loss = weighted_sum(links.device, {{{terms}}})" if terms else
               "    loss = None")
    refs = [x.name for x in graph.inputs] + [o for s in graph.steps for o in s.outs]
    out.append("    return {" + ", ".join(f"{r!r}: {r}" for r in refs) + "}, loss")
    return out


def _ref(ref: str, weights: set[str]) -> str:
    return f"links.{ref}" if ref in weights else ref


def _steps(steps: tuple[Step, ...], weights: set[str], pad: str) -> list[str]:
    out: list[str] = []
    for step in steps:
        args = [_ref(a, weights) for a in step.args]
        if isinstance(step, Forget):
            closes = f"  # closes over {', '.join(step.captures)}" if step.captures else ""
            out.append(f"{pad}def {step.name}({', '.join(step.params)}):{closes}")
            out.append(f"{pad}    calls[{step.name!r}] += 1")
            out += _steps(step.body, weights, pad + "    ")
            out.append(f"{pad}    return {', '.join(_ref(r, weights) for r in step.returns)}")
            lhs = ", ".join(step.outs)
            out.append(f"{pad}{lhs} = call(forget, {step.name}, {len(step.outs)}, "
                       f"{', '.join(args)})")
        else:
            lhs = ", ".join(step.outs) + ("," if step.op == "split" and len(step.outs) == 1 else "")
            out.append(f"{pad}{lhs} = {_expr(step, args)}")
    return out


def _expr(op: Op, args: list[str]) -> str:
    a = args[0]
    if op.op in _UNARY_EXPR:
        return _UNARY_EXPR[op.op].format(a)
    if op.op in _BINARY_EXPR:
        return _BINARY_EXPR[op.op].format(*args)
    if op.op in LINK_KINDS:
        return f"links.{op.attr('link')}({a})"
    if op.op == "slice":
        index = "slice(None), " * op.attr("axis") + f"slice({op.attr('start')}, {op.attr('stop')})"
        return f"F.get_item({a}, ({index},))"
    return {
        "cast": lambda: f"F.cast({a}, {op.attr('dtype')!r})",
        "matmul": lambda: f"F.matmul({a}, {args[1]})",
        "reshape": lambda: f"F.reshape({a}, {op.attr('shape')})",
        "transpose": lambda: f"F.transpose({a}, {op.attr('axes')})",
        "concat": lambda: f"F.concat(({', '.join(args)},), axis={op.attr('axis')})",
        "split": lambda: f"F.split_axis({a}, {list(op.attr('points'))}, {op.attr('axis')}, "
                         "force_tuple=True)",
        "sum": lambda: f"F.sum({a}, axis={op.attr('axis')}, keepdims={op.attr('keepdims')})",
    }[op.op]()
