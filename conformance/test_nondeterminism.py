"""D10 (informational): a func that differs between calls is out of contract.

Reports what the implementation does with dropout inside func; asserts nothing.
"""

import chainer
import chainer.functions as F
import numpy as np
import pytest

from forget_conformance import policy
from forget_conformance.conformance.support import data, observe, weighted_sum


@pytest.mark.clause("D10")
def test_dropout_is_reported(forget, forget_device, request):
    state = np.random.get_state()
    results = []
    for use_forget in (False, True):
        np.random.set_state(state)
        x = chainer.Variable(data(forget_device, (64,)))
        y = forget(lambda a: F.dropout(a, 0.5), x) if use_forget else F.dropout(x, 0.5)
        weighted_sum([y]).backward()
        results.append(chainer.backend.CpuDevice().send(x.grad))
    differs = policy.mismatch(results[1], results[0], policy.same_kernels(np.float32))
    observe(request, "dropout inside func: gradients " + (
        f"differ from the plain path ({differs}); unsupported, as documented"
        if differs else "match the plain path (the recomputation replays the same mask)"))
