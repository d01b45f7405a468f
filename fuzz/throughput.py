"""Fuzzer throughput: random graphs generated, built and run per CPU second, plain and with forget.

    python -m forget_conformance.fuzz.throughput [--graphs N] [--impl NAME]

Graphs come from ``fuzz.strategies.graphs()`` (drawn once, up front, so generation
is timed separately); each is then run forward + backward plainly and through
``forget``, and finally checked by the differential oracle (both runs plus comparison).
"""

from __future__ import annotations

import argparse
import time
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

from forget_conformance import impl
from forget_conformance.graph import Graph, build, compile_graph


def draw_graphs(n: int, strategy: SearchStrategy | None = None) -> list[Graph]:
    """``n`` graphs from ``strategy`` (default ``fuzz.strategies.graphs()``), derandomized."""
    from forget_conformance.fuzz.strategies import graphs

    found: list[Graph] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy if strategy is not None else graphs())
    def collect(graph: Graph) -> None:
        found.append(graph)

    collect()
    return found


def _rate(graphs: list[Graph], step) -> float:
    """Graphs per CPU second of this process (other processes on the cores do not count),
    each graph met for the first time (the compiled-source and memory-model caches, which
    serve replays while hypothesis shrinks, are emptied first)."""
    from forget_conformance.fuzz import oracle
    from forget_conformance.graph import runtime

    runtime._code.cache_clear()
    oracle.retained_limit.cache_clear()
    start = time.process_time()
    for graph in graphs:
        step(graph)
    return len(graphs) / (time.process_time() - start)


def measure(n: int = 300, name: str = "reference") -> dict[str, float]:
    """Graphs per second for: generation, plain run, forget run, full oracle check."""
    from forget_conformance.fuzz import oracle

    forget = impl.resolve(name).forget
    start = time.process_time()
    graphs = draw_graphs(n)
    generated = len(graphs) / (time.process_time() - start)

    def run(graph: Graph, f) -> None:
        built = build(graph, f, module=compile_graph(graph))
        _, loss = built.forward()
        loss.backward()

    return {
        "generate": generated,
        "plain": _rate(graphs, lambda g: run(g, None)),
        "forget": _rate(graphs, lambda g: run(g, forget)),
        "oracle": _rate(graphs, lambda g: oracle.check_differential(g, forget)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=300)
    parser.add_argument("--impl", default="reference")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rates = measure(args.graphs, args.impl)
    print(f"fuzz throughput ({args.graphs} graphs, {args.impl}): " + ", ".join(
        f"{key} {value:.0f} graphs/s" for key, value in rates.items()))


if __name__ == "__main__":
    main()
