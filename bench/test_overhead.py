"""pytest-benchmark timings of forward + backward, plain vs forget, on tiny workloads.

Cheap enough for the normal test run; for numbers run e.g.
``pytest bench/test_overhead.py --benchmark-only --benchmark-group-by=param:workload``.
Implementations: reference, upstream chainer, and the one chosen by ``$FORGET_IMPL``.
"""

from __future__ import annotations

import numpy as np
import pytest

from forget_conformance import graph as G
from forget_conformance.bench.timing import clear_grads
from forget_conformance.bench.workloads import WORKLOADS, build_graph
from forget_conformance.impl import chosen_name, resolve

IMPLS = sorted({"reference", "chainer", chosen_name()})


@pytest.mark.parametrize("impl_name", ["(plain)", *IMPLS])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_forward_backward(benchmark, workload, impl_name):
    plain = impl_name == "(plain)"
    built = G.build(build_graph(workload, 4, "plain" if plain else "every_2"),
                    None if plain else resolve(impl_name).forget)

    def step():
        clear_grads(built)
        _, loss = built.forward()
        loss.backward()
        return loss

    loss = benchmark(step)
    assert np.isfinite(float(loss.array))
    assert all(p.grad is not None for p in built.links.params())
