"""Per-call cost of a ``forget`` against upstream's, on tiny segments where it shows.

    python -m forget_conformance.bench.per_call_overhead [--impl MODULE:ATTR] [--rounds N]

Four chained ``forget(lambda a: tanh(linear(a)), h)`` calls plus backward, timed in
interleaved rounds; prints the fastest step time of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from forget_conformance import impl


def _step_seconds(forget, link: chainer.Link, x: np.ndarray, calls: int = 50) -> float:
    def step() -> None:
        link.cleargrads()
        h = chainer.Variable(x)
        for _ in range(4):
            h = forget(lambda a: F.tanh(link(a)), h)
        F.sum(h).backward()

    step()
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", default="reference")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    candidates = {"chainer": impl.resolve("chainer").forget,
                  args.impl: impl.resolve(args.impl).forget}
    for width in (4, 256):
        link = L.Linear(width, width)
        x = np.random.default_rng(0).random((8, width), dtype=np.float32)
        best = {name: float("inf") for name in candidates}
        for _ in range(args.rounds):
            for name, forget in candidates.items():
                best[name] = min(best[name], _step_seconds(forget, link, x))
        ratio = best[args.impl] / best["chainer"]
        print(f"width {width}: " + ", ".join(f"{n} {t * 1e6:.0f} us/step"
                                             for n, t in best.items())
              + f"; {args.impl}/chainer = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
