"""Reproducible tests: NumPy's global RNG (which link initializers draw from) is
seeded from each test's ID for the test, and given back as it was afterwards."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seeded_global_rng(request: pytest.FixtureRequest) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(zlib.crc32(request.node.nodeid.encode()))
    try:
        yield
    finally:
        np.random.set_state(state)
