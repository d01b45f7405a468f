"""Fuzz tests: random graphs, plain vs the ``forget`` under test (see ``fuzz/oracle.py``).

Each test names the clauses its oracle can attribute a failure to; a failure
writes a reproducer script (``$FORGET_FUZZ_FAILURES``, default ``./fuzz-failures``).
"""

from __future__ import annotations

import pytest
from forget_conformance.fuzz import suites

pytestmark = pytest.mark.timeout(3600)


@pytest.mark.clause(*suites.SUITES["differential"].clauses)
def test_forget_matches_plain_graph(forget, forget_implementation, forget_device):
    """Outputs, gradients, segment calls and link state equal the plain graph's."""
    suites.run("differential", forget_implementation, forget_device)


@pytest.mark.clause(*suites.SUITES["shared_parameters"].clauses)
def test_shared_parameters_accumulate(forget, forget_implementation, forget_device):
    """A weight, or a captured value, used inside and outside a segment, in either order,
    gets both contributions (T3)."""
    suites.run("shared_parameters", forget_implementation, forget_device)


@pytest.mark.clause(*suites.SUITES["loss_scale"].clauses)
def test_loss_scaled_step_updates_like_plain(forget, forget_implementation, forget_device):
    """``backward(loss_scale=8)`` then SGD leaves the parameters of the plain graph."""
    suites.run("loss_scale", forget_implementation, forget_device)


@pytest.mark.clause(*suites.SUITES["eval_forward"].clauses)
def test_recompute_uses_forward_config(forget, forget_implementation, forget_device):
    """Forward under ``train=False``, backward outside it: as plain (BN in a segment)."""
    suites.run("eval_forward", forget_implementation, forget_device)


@pytest.mark.clause(*suites.SUITES["cross_device"].clauses)
def test_gpu_agrees_with_cpu(forget, forget_implementation, forget_device):
    """Through ``forget`` on the GPU vs plain on the CPU, within ``policy.cross_device``."""
    if forget_device.xp.__name__ == "numpy":
        pytest.skip("cross-device comparison needs a GPU run (--forget-device gpu or all)")
    suites.run("cross_device", forget_implementation, forget_device)
