"""D4: func runs exactly twice per step, first without a graph, then with one."""

import chainer
import chainer.functions as F
import pytest

from forget_conformance.conformance.support import CallLog, require, variables, weighted_sum


@pytest.mark.clause("D4")
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_called_once_without_graph_then_once_with(forget, forget_device, n_outputs):
    log = CallLog(lambda a: (F.tanh(a),) * n_outputs if n_outputs > 1 else F.tanh(a))
    (x,) = variables(forget_device, (3,))
    y = forget(log, x)
    require(len(log.calls) == 1, "call-count", f"forward called func {len(log.calls)} times")
    require(log.calls[0]["enable_backprop"] is False, "state-changed",
            "forward call built a graph")
    weighted_sum(y if isinstance(y, tuple) else [y]).backward()
    require(len(log.calls) == 2, "call-count",
            f"forward + backward called func {len(log.calls)} times")
    require(log.calls[1]["enable_backprop"] is True, "state-changed",
            "recomputation ran without a graph")


@pytest.mark.clause("D4")
def test_forward_only_calls_once(forget, forget_device):
    log = CallLog(lambda a: a * 2)
    (x,) = variables(forget_device, (3,))
    with chainer.using_config("enable_backprop", True):
        forget(log, x)
    require(len(log.calls) == 1, "call-count", f"forward alone called func {len(log.calls)} times")
