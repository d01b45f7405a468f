"""This suite's fixtures: ``forget``, the global-state guard and the seeded RNG
(see ``suite_fixtures``)."""

from forget_conformance.suite_fixtures import (  # noqa: F401 - fixtures and hook, by name
    forget,
    forget_seeded_rng,
    forget_state_guard,
    pytest_configure,
)
