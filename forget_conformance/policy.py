"""Comparison policy: how close the forgetting path must be to the plain path.

The one place that says why each tolerance is what it is.

* Same device (``same_kernels``): ``forget`` re-runs exactly the kernels the
  plain path runs, on the same inputs, in the same order. Outputs and every
  gradient are therefore equal bit for bit, except where a gradient is a sum of
  several contributions: the plain path adds them in one order, the forgetting
  path partly inside the recomputation and partly outside it. Reassociating a
  sum of ``k`` terms moves the result by at most about ``k`` ulps of the
  largest partial sum. We allow ``REASSOCIATION_ULPS`` ulps of the largest
  magnitude in the array: tight enough that any real bug (a lost or doubled
  contribution, a missing loss scale, a wrong config) is thousands of ulps away.
* Lower precision on the way: a gradient that passed through a lower precision than
  its own dtype (a float32 input cast to float16, used inside and outside a segment)
  is summed in that precision, in another order on the two paths. Reassociation is
  allowed at the lowest precision on the gradient's path (``through``; the graph
  model knows it: ``graph.gradient_precision``), and no looser: a leaf whose gradient
  stays in float32 keeps float32's ulps in the same graph.
* Captured values (fuzz graphs only): gradients of inputs and parameters that
  reach a value ``func`` closed over from the caller's graph are compared within
  the dtype's precision (``cross_device``). Their inside contribution comes back
  through a separate backward pass over the caller's graph, as in Chainer's own
  ``forget``, so cancelling contributions are summed in a different grouping
  than ulps can bound. ``fuzz/compare.py`` inlines this rule for its standalone
  reproducers.
* Integer and boolean arrays compare exactly.
* CPU vs GPU (``cross_device``): different kernels (cuBLAS, cuDNN, fused
  reductions). Tolerances follow the dtype's precision, as in Chainer's tests.
* Numerical gradients (``numerical``): central differences in float64.
* Memory (D2): what the graph keeps after forward may exceed the memory model by
  ``MEMORY_PER_CALL_BYTES`` per forget call, a fixed overhead that does not grow with
  the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REASSOCIATION_ULPS = 16
#: D2: bytes a forget call may keep beyond what the memory model predicts, a fixed overhead
#: per call (bookkeeping such as a 0-d array), not an intermediate result, which grows with
#: the data. ``fuzz/compare.py`` inlines it (``PER_CALL_BYTES``).
MEMORY_PER_CALL_BYTES = 16
#: D2: besides, bytes of bookkeeping arrays a forget call may keep: arrays whose element
#: count is that of no value func computes (an RNG state, a table of the implementation's
#: own), so no intermediate result. The conformance D2 checks allow the same per call.
#: ``fuzz/compare.py`` inlines it (``BOOKKEEPING_BYTES``).
MEMORY_BOOKKEEPING_BYTES = 4096


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol_scale: float  # multiplied by max |expected| to give atol

    def describe(self) -> str:
        return f"rtol={self.rtol:.3g}, atol={self.atol_scale:.3g}*max|expected|"


def same_kernels(dtype, through=None) -> Tolerance:
    """Plain vs forget on one device: a few ulps of reassociation, no more; ulps of
    ``through`` where the value was summed in that lower precision."""
    if not np.issubdtype(dtype, np.floating):
        return Tolerance(0.0, 0.0)
    eps = max(float(np.finfo(dtype).eps), float(np.finfo(through or dtype).eps))
    return Tolerance(rtol=REASSOCIATION_ULPS * eps, atol_scale=REASSOCIATION_ULPS * eps)


_CROSS_DEVICE = {
    np.dtype(np.float16): Tolerance(rtol=1e-2, atol_scale=1e-2),
    np.dtype(np.float32): Tolerance(rtol=1e-4, atol_scale=1e-4),
    np.dtype(np.float64): Tolerance(rtol=1e-9, atol_scale=1e-9),
}


def cross_device(dtype) -> Tolerance:
    """CPU vs GPU: different kernels, so the dtype's precision decides."""
    return _CROSS_DEVICE.get(np.dtype(dtype), Tolerance(0.0, 0.0))


def numerical() -> dict:
    """Keyword arguments for ``chainer.gradient_check.check_backward`` in float64."""
    return {"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3, "dtype": np.float64}


def mismatch(actual, expected, tol: Tolerance) -> str | None:
    """``None`` when ``actual`` matches ``expected`` under ``tol``, else a one-line reason."""
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        return f"shape {a.shape} != expected {e.shape}"
    if a.dtype != e.dtype:
        return f"dtype {a.dtype} != expected {e.dtype}"
    if a.size == 0:
        return None
    if not np.issubdtype(e.dtype, np.floating):
        bad = int(np.count_nonzero(a != e))
        return None if bad == 0 else f"{bad} of {a.size} elements differ (exact comparison)"
    a64 = a.astype(np.float64)
    e64 = e.astype(np.float64)
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    if not np.array_equal(nan_a, nan_e):
        return "NaN pattern differs"
    # Infinities match exactly, sign included; they take no part in the scale (an
    # infinite scale would allow any error everywhere).
    for sign, name in ((1, "+inf"), (-1, "-inf")):
        if not np.array_equal(a64 == sign * np.inf, e64 == sign * np.inf):
            return f"{name} pattern differs"
    ok = np.isfinite(e64)
    scale = float(np.max(np.abs(e64[ok]), initial=0.0))
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf: masked out
        allowed = np.where(ok, tol.rtol * np.abs(e64) + tol.atol_scale * scale, np.inf)
        err = np.where(ok, np.abs(a64 - e64), 0.0)
    if np.all(err <= allowed):
        return None
    worst = int(np.argmax(err - allowed))
    return (
        f"max abs error {float(err.flat[worst]):.3g} at flat index {worst} "
        f"(got {float(a64.flat[worst]):.6g}, expected {float(e64.flat[worst]):.6g}; "
        f"{tol.describe()})"
    )
