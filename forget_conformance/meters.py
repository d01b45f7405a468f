"""Memory meters: bytes kept alive after forward, and peak over forward + backward.

Both meters share one interface, :class:`MemoryMeter`. Only arrays allocated while
the meter runs are counted, so parameters and inputs created beforehand (alive
regardless) are excluded.

* :class:`CpuMeter` relies on NumPy reporting its data buffers to ``tracemalloc``
  (domain ``np.lib.tracemalloc_domain``). The retained figure counts NumPy buffers
  only; the peak is tracemalloc's peak, which also includes the Python objects of
  the graph (a few hundred bytes per node, small next to the arrays we use).
* :class:`GpuMeter` counts CuPy memory-pool allocations with a public
  ``cupy.cuda.MemoryHook``, by their requested sizes (the arrays' ``nbytes``, as
  on the CPU and in the model; the pool rounds each block up to 512 bytes).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from forget_conformance import devices


@dataclass(frozen=True)
class MemoryReading:
    """Bytes allocated by a forward + backward run, beyond what existed before it."""

    retained: int  # still alive after forward (what the graph keeps, plus the outputs)
    peak: int  # the most alive at any time during forward + backward


Forward = Callable[[], Any]
Backward = Callable[[Any], None]


class MemoryMeter(Protocol):
    """Runs ``backward(forward())`` and reports the memory it took."""

    device: str

    def measure(self, forward: Forward, backward: Backward) -> MemoryReading: ...


class CpuMeter:
    """NumPy buffers seen through ``tracemalloc``."""

    device = devices.CPU

    def measure(self, forward: Forward, backward: Backward) -> MemoryReading:
        if tracemalloc.is_tracing():
            raise RuntimeError("CpuMeter needs tracemalloc to itself; it is already tracing")
        gc.collect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            outputs = forward()
            forward_peak = tracemalloc.get_traced_memory()[1]
            retained = _numpy_bytes_alive()
            tracemalloc.reset_peak()  # forget the snapshot's own allocations
            backward(outputs)
            del outputs
            backward_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return MemoryReading(retained=retained, peak=max(forward_peak, backward_peak) - start)


def _numpy_bytes_alive() -> int:
    domain = np.lib.tracemalloc_domain
    snapshot = tracemalloc.take_snapshot()
    snapshot = snapshot.filter_traces([tracemalloc.DomainFilter(True, domain)])
    return sum(trace.size for trace in snapshot.traces)


class GpuMeter:
    """CuPy memory-pool allocations seen through a ``cupy.cuda.MemoryHook``."""

    device = devices.GPU

    def __init__(self) -> None:
        reason = devices.gpu_unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)

    def measure(self, forward: Forward, backward: Backward) -> MemoryReading:
        import cupy

        hook = _pool_counter(cupy)
        gc.collect()
        cupy.cuda.Device().synchronize()
        with hook:
            outputs = forward()
            cupy.cuda.Device().synchronize()
            retained = hook.current
            backward(outputs)
            del outputs
            cupy.cuda.Device().synchronize()
        return MemoryReading(retained=retained, peak=hook.peak)


def _pool_counter(cupy):
    class PoolCounter(cupy.cuda.MemoryHook):
        name = "forget_conformance_pool_counter"

        def __init__(self) -> None:
            self.current = 0
            self.peak = 0
            self._sizes: dict[int, int] = {}

        def malloc_postprocess(self, **kwargs) -> None:
            if kwargs["mem_ptr"]:  # 0 when the allocation failed
                self._sizes[kwargs["mem_ptr"]] = kwargs["size"]
                self.current += kwargs["size"]
                self.peak = max(self.peak, self.current)

        def free_postprocess(self, **kwargs) -> None:
            self.current -= self._sizes.pop(kwargs["mem_ptr"], 0)

    return PoolCounter()


def meter_for(device: str) -> MemoryMeter:
    """The meter for a device spec; ``RuntimeError`` (with the reason) if unusable."""
    if device == devices.GPU:
        return GpuMeter()
    if device == devices.CPU:
        return CpuMeter()
    raise ValueError(f"unknown device {device!r}")
