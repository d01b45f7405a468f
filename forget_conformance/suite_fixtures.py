"""Fixtures of the harness's own suites, provided by their ``conftest.py`` files.

They are kept out of the entry-point plug-in so that a foreign test suite in the same
environment gets neither a fixture named ``forget`` nor a guard that resets NumPy's
global RNG after every test.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import pytest

from forget_conformance import impl, plugin


def pytest_configure(config: pytest.Config) -> None:
    plugin.enter_harness(config)


@pytest.fixture(scope="session")
def forget(forget_implementation: impl.Implementation) -> Callable:
    """The ``forget`` callable under test."""
    return forget_implementation.forget


@pytest.fixture(autouse=True)
def forget_state_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose implementation leaks config or hooks; always restore state."""
    from forget_conformance import state

    before = state.snapshot()
    yield
    after = state.snapshot()
    leaked = state.leaks(before, after, rng=False)
    state.restore(before)
    if leaked and request.node.get_closest_marker("clause") is not None:
        pytest.fail("global state leaked past the test: " + "; ".join(leaked), pytrace=False)


@pytest.fixture(autouse=True)
def forget_seeded_rng(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reproducible failure details: NumPy's global RNG (which link initializers draw
    from) is seeded from the test's file and name (not its node ID, which depends on the
    rootdir) for the test, and given back as it was afterwards."""
    import numpy as np

    state = np.random.get_state()
    test = f"{request.node.path.name}::{request.node.name}"
    np.random.seed(zlib.crc32(test.encode()))
    try:
        yield
    finally:
        np.random.set_state(state)
