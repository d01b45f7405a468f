"""The memory meters (shared by conformance D2 and bench) measure known allocations exactly
(CPU) or skip with a reason (GPU)."""

from __future__ import annotations

import numpy as np
import pytest

from forget_conformance import devices
from forget_conformance.meters import CpuMeter, GpuMeter, meter_for

MIB = 2**20


def test_cpu_meter_counts_kept_and_transient_arrays():
    kept = []

    def forward():
        kept.append(np.ones(MIB, dtype=np.uint8))  # alive after forward
        scratch = np.ones(2 * MIB, dtype=np.uint8)  # freed inside forward
        return scratch.sum()

    def backward(_):
        transient = np.ones(3 * MIB, dtype=np.uint8)
        del transient

    reading = CpuMeter().measure(forward, backward)
    assert reading.retained == MIB
    # peak: the kept MiB plus the 3 MiB of backward, and a little Python overhead
    assert 4 * MIB <= reading.peak < 4 * MIB + 64 * 1024


def test_cpu_meter_excludes_arrays_created_before():
    before = np.ones(4 * MIB, dtype=np.uint8)
    reading = CpuMeter().measure(lambda: before * 1, lambda out: None)
    assert reading.retained == 4 * MIB  # the product, not ``before``
    assert reading.peak < 5 * MIB


def test_gpu_meter_skips_with_a_reason_or_counts_pool_bytes():
    reason = devices.gpu_unavailable_reason()
    if reason is not None:
        with pytest.raises(RuntimeError, match="GPU skipped"):
            meter_for(devices.GPU)
        pytest.skip(reason)
    import cupy

    reading = GpuMeter().measure(lambda: cupy.ones(MIB, dtype=cupy.uint8), lambda out: None)
    assert reading.retained == MIB


def test_gpu_pool_counter_counts_requested_bytes():
    """Driven as CuPy's pool calls a ``MemoryHook`` (keyword arguments of CuPy 13 and 14):
    requested sizes count, the pool's rounding does not, a failed malloc (pointer 0) is
    ignored, and a free gives back what its block counted."""
    from types import SimpleNamespace

    from forget_conformance.meters import _pool_counter

    hook = _pool_counter(SimpleNamespace(cuda=SimpleNamespace(MemoryHook=object)))
    hook.malloc_postprocess(device_id=0, size=100, mem_size=512, mem_ptr=1, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=1000, mem_size=1024, mem_ptr=2, pmem_id=2)
    hook.malloc_postprocess(device_id=0, size=4096, mem_size=4096, mem_ptr=0, pmem_id=0)
    hook.free_postprocess(device_id=0, mem_size=1024, mem_ptr=2, pmem_id=2)
    assert (hook.current, hook.peak) == (100, 1100)
