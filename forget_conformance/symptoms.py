"""Symptoms: what a failed check saw, in a small machine-readable vocabulary.

A symptom is a kind, optionally with a qualifier after a colon:

* ``gradient-none``: a gradient (or value) is missing where the plain path has one;
* ``gradient-unexpected``: one is present where the plain path has none;
* ``value-scaled``: every element off by one common factor (the detail gives it);
* ``value-mismatch``: values differ otherwise (shape, dtype, elements);
* ``memory-kept``: more memory kept alive than the contract allows (D2);
* ``call-count``: ``func`` called a wrong number of times;
* ``state-changed``: configuration, hooks or link state differ from the plain path's;
* ``nothing-raised`` / ``wrong-exception``: an error the contract requires is missing, or
  of the wrong type; ``message-facts``: its message lacks a fact the contract requires;
* ``silently-wrong``: a result that is neither rejected nor correct (D8);
* ``upstream-text``: a drop-in difference from upstream 7.8.1's exact behaviour (U1);
* ``exception:<Type>``: the implementation raised ``<Type>`` unexpectedly;
* ``crash`` / ``hang``: the test process died or stopped making progress;
* ``harness-error``: the harness or its environment failed, not the implementation;
* ``not-run``: the runner gave up (too many crashes) before the test ran.

The last two give no verdict on the implementation (status ``error``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

KINDS = ("gradient-none", "gradient-unexpected", "value-scaled", "value-mismatch",
         "memory-kept", "call-count", "state-changed", "nothing-raised", "wrong-exception",
         "message-facts", "silently-wrong", "upstream-text", "exception", "crash", "hang",
         "harness-error", "not-run", "check-failed")
HARNESS = "harness-error"
NOT_RUN = "not-run"
NO_VERDICT = (HARNESS, NOT_RUN)


class Symptomatic(AssertionError):
    """An assertion failure that names its symptom."""

    def __init__(self, symptom: str, message: str) -> None:
        super().__init__(message)
        self.symptom = symptom


class HarnessError(Exception):
    """The harness, the plain path or the environment failed: no verdict on the implementation."""

    symptom = HARNESS


def of(exc: BaseException) -> str:
    """The symptom an exception shows: its own, else ``exception:<Type>`` for anything but
    a bare assertion or ``pytest.fail`` (``check-failed``) or a per-test timeout (``hang``)."""
    named = getattr(exc, "symptom", None)
    if isinstance(named, str):
        return named
    name = type(exc).__name__
    if name == "Failed":  # pytest.fail, or pytest-timeout's signal method
        return "hang" if str(exc).startswith("Timeout") else "check-failed"
    if isinstance(exc, AssertionError):
        return "check-failed"
    return f"exception:{name}"


def kind(symptom: str) -> str:
    """The kind of a symptom, without its qualifier."""
    return symptom.split(":", 1)[0]


def scale_factor(actual: np.ndarray, expected: np.ndarray) -> float | None:
    """The common factor ``actual / expected`` when all nonzero elements share one (to 1e-4
    relative) and it is not 1; else None."""
    if actual.shape != expected.shape or actual.dtype.kind != "f":
        return None
    import numpy as np  # here, not at import: the plug-in loads this module in every run

    a, e = actual.astype(np.float64).ravel(), expected.astype(np.float64).ravel()
    nonzero = np.abs(e) > 0
    if not nonzero.any() or np.any(a[~nonzero] != 0) or not np.all(np.isfinite(a)):
        return None
    ratios = a[nonzero] / e[nonzero]
    factor = float(np.median(ratios))
    if factor == 0 or abs(factor - 1) < 1e-6 or np.max(np.abs(ratios - factor)) > 1e-4 * abs(
            factor):
        return None
    return factor
