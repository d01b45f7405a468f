"""The graph model shared by ``fuzz/`` and ``bench/``: a Chainer function graph as data.

A :class:`Graph` (frozen dataclasses; ``repr`` is valid Python given these names)
holds :class:`Input` s (float, or int32 index arrays), :class:`Link` s (linear,
conv2d, batch_norm, batch_renorm, embed_id, or a bare ``weight`` parameter),
top-level steps (:class:`Op` with inferred shapes/dtypes, or :class:`Forget`:
a segment that ``forget`` wraps, possibly nested, whose body may close over values
of enclosing scopes: its ``captures``), and the ``loss`` refs.

Public API::

    GraphBuilder(seed=0)                         # build valid graphs, shapes inferred
      .input(shape, dtype="float32", wrap=True) -> Ref
      .index_input(shape, high) -> Ref
      .add_link(kind, sizes, dtype="float32") -> str      # a weight's name is a Ref
      .unary(op, x) / .binary(op, a, b) / .cast(x, dtype) / .matmul(a, b)
      .reshape(x, shape) / .transpose(x, axes) / .slice(x, axis, start, stop)
      .concat(xs, axis) / .split(x, points, axis) -> tuple / .sum(x, axis, keepdims)
      .apply_link(link, x) -> Ref
      .begin_forget(args) -> inner refs ; .end_forget(returns) -> outer refs
      .refs() / .enclosing_refs() -> {ref: meta}   # inside a segment, ops may use either:
                                                 # enclosing refs become its captures
      .history(ref) -> (op names, inputs and weights) it was computed from
      .build(loss) -> Graph
    to_source(graph) -> str                      # standalone module: make_links,
                                                 # make_inputs, forward(forget, links, xs, calls)
    build(graph, forget=None, device=None) -> Built   # .links (Chain), .inputs,
                                                 # .calls (Counter), .forward() -> (values, loss)
    compile_graph(graph) -> module               # reuse with build(..., module=)
    retained_arrays(graph, forgetting) -> list[Retained]  # .ref .shape .dtype .role
                                                 # .is_param .nbytes
    retained_bytes(graph, forgetting, include_params=False) -> int
    RETAINED_BY_OP                               # op -> (retained input positions, outputs)
    expected_calls(graph, forgetting) -> {segment: calls}; live_segments(graph)
    features(graph) -> set[str]; param_uses(graph) -> {link: {inside?}}
    capture_uses(graph) -> {ref: {inside?}}; shared_captures(graph) -> {ref}
    leaves_of(graph, refs, through_captures=True) -> {input, weight or link name}
    capture_leaves(graph) / shared_capture_leaves(graph) -> leaves reached through a
                                                 # capture / through one and otherwise too
    elementwise_chain / mlp / conv_bn_stack / unrolled_rnn(n, ..., segments=None) -> Graph
    per_layer(n) / every_k(n, k) / sqrt_segments(n) -> [(start, stop), ...]
"""

from forget_conformance.graph.analysis import (
    FEEDBACK_LINKS,
    RETAINED_BY_OP,
    Retained,
    features,
    feedback_links,
    gradient_precision,
    param_uses,
    retained_arrays,
    retained_bytes,
)
from forget_conformance.graph.builder import BINARY, FLOAT_DTYPES, UNARY, GraphBuilder, GraphError
from forget_conformance.graph.calls import expected_calls, live_segments
from forget_conformance.graph.captures import (
    capture_leaves,
    capture_uses,
    leaves_of,
    shared_capture_leaves,
    shared_captures,
)
from forget_conformance.graph.families import (
    conv_bn_stack,
    elementwise_chain,
    every_k,
    mlp,
    per_layer,
    sqrt_segments,
    unrolled_rnn,
)
from forget_conformance.graph.model import Forget, Graph, Input, Link, Op, walk
from forget_conformance.graph.runtime import Built, build, compile_graph
from forget_conformance.graph.source import to_source

__all__ = [
    "BINARY", "FLOAT_DTYPES", "RETAINED_BY_OP", "UNARY", "Built", "Forget", "Graph",
    "GraphBuilder", "GraphError", "Input", "Link", "Op", "Retained", "build", "capture_leaves",
    "capture_uses",
    "compile_graph", "conv_bn_stack", "elementwise_chain", "every_k", "expected_calls",
    "FEEDBACK_LINKS", "features", "feedback_links", "gradient_precision", "leaves_of",
    "live_segments", "mlp", "param_uses", "per_layer",
    "retained_arrays", "retained_bytes", "shared_capture_leaves", "shared_captures",
    "sqrt_segments", "to_source",
    "unrolled_rnn", "walk",
]
