"""Run profiles shared by every suite: how many hypothesis examples, how random.

``ci`` is deterministic and bounded (derandomized, fixed example counts);
``dev`` is random with moderate counts; ``full`` and ``nightly`` run many examples.
Suites scale their own example counts by ``examples(base)``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

NAMES = ("ci", "dev", "full", "nightly")
_SCALE = {"ci": 1, "dev": 3, "full": 10, "nightly": 30}
_current = "ci"


def register() -> None:
    common = dict(
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture,
                               HealthCheck.filter_too_much],
    )
    settings.register_profile("ci", max_examples=10, derandomize=True, **common)
    settings.register_profile("dev", max_examples=30, **common)
    settings.register_profile("full", max_examples=100, **common)
    settings.register_profile("nightly", max_examples=300, **common)


def activate(name: str) -> None:
    global _current
    if name not in NAMES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(NAMES)}")
    register()
    settings.load_profile(name)
    _current = name


def current() -> str:
    return _current


def examples(base: int) -> int:
    """``base`` examples in ``ci``, scaled up for the other profiles."""
    return base * _SCALE[_current]
