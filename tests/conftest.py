"""The self-tests run broken implementations in-process: guard global state as the suites do.

They write nothing into the checkout or the user's cache: the harness's default output
directory (``$XDG_CACHE_HOME/forget-conformance``) points into a temporary folder for the
whole session, child processes included.
"""

import os
import shutil
import tempfile

from forget_conformance.suite_fixtures import forget_state_guard  # noqa: F401 - autouse fixture

_CACHE = tempfile.mkdtemp(prefix="forget-selftest-cache-")
_SAVED = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "HYPOTHESIS_STORAGE_DIRECTORY")}


def pytest_configure(config) -> None:
    os.environ["XDG_CACHE_HOME"] = _CACHE
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(_CACHE, "hypothesis"))


def pytest_unconfigure(config) -> None:
    for key, value in _SAVED.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(_CACHE, ignore_errors=True)
