"""A pytest plug-in that intrudes on foreign suites the way this project's used to.

Loaded with ``-p tests.broken.leaky_plugin`` (and ``-p no:forget_conformance``) by
``tests/test_plugin_isolation.py``, which must tell each intrusion apart from a run
without any plug-in: Chainer imported, a hypothesis profile loaded over the user's,
NumPy's global RNG restored after each test, a ``device`` fixture parametrized, a fixture
named ``forget`` offered, a warning per test; bad input raised as a crash (INTERNALERROR)
rather than a usage error; no report header.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import settings

from forget_conformance import deviations, profiles


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--forget-impl", default=None)
    parser.addoption("--forget-level", default="contract")
    parser.addoption("--forget-known-deviations", default=None)


def pytest_configure(config: pytest.Config) -> None:
    settings.register_profile("ci", max_examples=10, derandomize=True)
    settings.load_profile("ci")
    if config.getoption("--forget-impl"):
        profiles.activate(os.environ.get("FORGET_PROFILE", "ci"))  # ValueError escapes
    known = config.getoption("--forget-known-deviations")
    if known:
        deviations.load(known)  # DeviationsError escapes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", ["cpu", "gpu"], indirect=True)


@pytest.fixture
def forget():
    return lambda func, *xs: func(*xs)


@pytest.fixture(autouse=True)
def rng_guard() -> Iterator[None]:
    import chainer  # noqa: F401 - imported into every foreign test run

    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture(autouse=True)
def noisy() -> None:
    warnings.warn("leaky plug-in", UserWarning, stacklevel=1)
