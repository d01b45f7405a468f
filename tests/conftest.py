"""The self-tests run broken implementations in-process: guard global state as the suites do."""

from forget_conformance.suite_fixtures import forget_state_guard  # noqa: F401 - autouse fixture
