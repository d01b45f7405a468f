"""This suite's fixtures: ``forget`` and the global-state guard (see ``suite_fixtures``)."""

from forget_conformance.suite_fixtures import (  # noqa: F401 - fixtures and hook, by name
    forget,
    forget_state_guard,
    pytest_configure,
)
