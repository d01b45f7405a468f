"""Run profiles of the harness's own suites: how many hypothesis examples, how random.

``ci`` is deterministic and bounded (derandomized, fixed example counts);
``dev`` is random with moderate counts; ``full`` and ``nightly`` run many examples.
Suites scale their own example counts by ``examples(base)``.

The profiles are never registered with, or loaded into, hypothesis: the harness's
``@given`` tests take ``hypothesis_settings()`` explicitly, so a user's own property
tests keep their profile (``load_profile``, ``--hypothesis-profile``) in the same run.
Hypothesis is imported only when those settings are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis import settings

NAMES = ("ci", "dev", "full", "nightly")
_SCALE = {"ci": 1, "dev": 3, "full": 10, "nightly": 30}
_MAX_EXAMPLES = {"ci": 10, "dev": 30, "full": 100, "nightly": 300}
_current = "ci"


def activate(name: str) -> None:
    """Make ``name`` the profile of the harness's suites (hypothesis' own profile is untouched)."""
    global _current
    if name not in NAMES:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(NAMES)}")
    _current = name


def current() -> str:
    return _current


def examples(base: int) -> int:
    """``base`` examples in ``ci``, scaled up for the other profiles."""
    return base * _SCALE[_current]


def hypothesis_settings(**overrides: Any) -> settings:
    """Settings for a harness ``@given`` test under the current profile.

    Built on hypothesis' built-in ``default`` profile, not on whatever profile the
    user has loaded, so the harness runs the same in every environment.
    """
    from hypothesis import HealthCheck, settings

    profile = settings(
        settings.get_profile("default"),
        max_examples=_MAX_EXAMPLES[_current],
        derandomize=_current == "ci",
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture,
                               HealthCheck.filter_too_much],
    )
    return settings(profile, **overrides)
