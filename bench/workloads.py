"""The benchmark workloads: graphs of the shared graph model, and where ``forget`` goes.

A workload is one of the regular graphs of :mod:`forget_conformance.graph`
(``depth`` layers, then the printed source's weighted-sum loss) at sizes that make
every activation 64-128 KiB: large beside Chainer's per-node Python objects, and
below NumPy's 256 KiB threshold for eliding temporaries (which would make the
workspace depend on array size). A strategy picks the layer ranges run under
``forget``; ``plain`` runs the graph without segments.
"""

from __future__ import annotations

from collections.abc import Callable

from forget_conformance import graph as G
from forget_conformance.bench.results import PLAIN

WORKLOADS: dict[str, Callable[..., G.Graph]] = {
    # tanh over (32, 1024) float32: the activation is 128 KiB
    "elementwise": lambda depth, segments: G.elementwise_chain(
        depth, shape=(32, 1024), segments=segments),
    # Linear(128, 128) + tanh on a batch of 256
    "mlp": lambda depth, segments: G.mlp(depth, width=128, batch=256, segments=segments),
    # Conv 3x3 + BatchNormalization + relu, 8 channels of 16x16, batch 8 (64 KiB)
    "conv_bn": lambda depth, segments: G.conv_bn_stack(
        depth, channels=8, size=16, batch=8, segments=segments),
    # tanh(Wx x_t + Wh h) over depth steps, Wx and Wh shared by all steps
    "rnn": lambda depth, segments: G.unrolled_rnn(
        depth, hidden=128, batch=256, segments=segments),
}

STRATEGIES: dict[str, Callable[[int], list[tuple[int, int]] | None]] = {
    PLAIN: lambda depth: None,
    "per_layer": G.per_layer,
    "every_2": lambda depth: G.every_k(depth, 2),
    "sqrt_n": G.sqrt_segments,
}


def build_graph(workload: str, depth: int, strategy: str = PLAIN) -> G.Graph:
    """The graph of ``workload`` at ``depth``, segmented by ``strategy``."""
    return WORKLOADS[workload](depth, STRATEGIES[strategy](depth))
