"""Device selection, kept thin: CPU always, ``@cupy:0`` when CuPy and CUDA are usable.

Importing it imports neither Chainer nor NumPy (the plug-in reads :data:`CHOICES`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import chainer
    import numpy as np

CPU = "@numpy"
GPU = "@cupy:0"
#: What ``--device`` / ``--forget-device`` take, in every CLI and the plug-in.
CHOICES = ("cpu", "gpu", "all")


@functools.cache
def gpu_unavailable_reason() -> str | None:
    """``None`` when a CUDA device is usable through CuPy, else why not."""
    import chainer

    try:
        import cupy  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken CUDA install
        return f"GPU skipped: CuPy is not importable ({type(exc).__name__}: {exc})"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "GPU skipped: CuPy found no CUDA device"
    except Exception as exc:  # noqa: BLE001
        return f"GPU skipped: CUDA is not usable ({type(exc).__name__}: {exc})"
    if not chainer.backends.cuda.available:
        return "GPU skipped: Chainer does not see CuPy (chainer.backends.cuda.available is False)"
    return None


def selected(choice: str) -> list[str]:
    """Device specs for ``cpu``, ``gpu`` or ``all`` (GPU listed even when absent: tests skip)."""
    return {"cpu": [CPU], "gpu": [GPU], "all": [CPU, GPU]}[choice]


def get(spec: str) -> chainer.backend.Device:
    """The Chainer device for a spec, or ``pytest.skip``-able ``RuntimeError`` if absent."""
    import chainer

    if spec == GPU and gpu_unavailable_reason() is not None:
        raise RuntimeError(gpu_unavailable_reason())
    return chainer.get_device(spec)


def to_numpy(array) -> np.ndarray:
    """A host copy of any Chainer array."""
    import chainer
    import numpy as np

    return np.asarray(chainer.backend.CpuDevice().send(array))
