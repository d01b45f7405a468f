"""Helpers shared by the clause tests: data, comparisons, plain-vs-forget runs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import chainer
import chainer.functions as F
import numpy as np
import pytest

from forget_conformance import devices, policy, symptoms
from forget_conformance.catalogue import ClauseViolation


def data(device, shape, dtype=np.float32, seed=0, low=-1.0, high=1.0):
    """A reproducible array on ``device`` (own generator: the global RNG is left alone)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return device.send(rng.integers(int(low), int(high), size=shape).astype(dtype))
    return device.send(rng.uniform(low, high, size=shape).astype(dtype))


def variables(device, *shapes, dtype=np.float32, seed=0):
    return [chainer.Variable(data(device, s, dtype, seed + i)) for i, s in enumerate(shapes)]


def host(x) -> np.ndarray | None:
    if x is None:
        return None
    return devices.to_numpy(x.array if isinstance(x, chainer.Variable) else x)


def check_close(what: str, actual, expected, clause: str | None = None) -> None:
    """Assert ``actual`` matches ``expected`` under the same-kernels policy; the failure
    names its symptom (``gradient-none``, ``value-scaled``, ...)."""
    a, e = host(actual), host(expected)
    if e is None or a is None:
        if a is not None or e is not None:
            symptom = "gradient-none" if a is None else "gradient-unexpected"
            _fail(clause, symptom, f"{what}: got {'None' if a is None else 'a value'}, "
                                   f"expected {'None' if e is None else 'a value'}")
        return
    reason = policy.mismatch(a, e, policy.same_kernels(e.dtype))
    if reason is not None:
        factor = symptoms.scale_factor(a, e)
        if factor is not None:
            _fail(clause, "value-scaled", f"{what}: off by a factor of {factor:.6g} ({reason})")
        _fail(clause, "value-mismatch", f"{what}: {reason}")


def require(condition: bool, symptom: str, message: str) -> None:
    """Fail with ``symptom`` (``forget_conformance.symptoms``) unless ``condition`` holds."""
    if not condition:
        raise symptoms.Symptomatic(symptom, message)


def _fail(clause: str | None, symptom: str, message: str):
    if clause:
        raise ClauseViolation(clause, message, symptom)
    raise symptoms.Symptomatic(symptom, message)


def check_params(what: str, got: chainer.Link, want: chainer.Link, grads: bool = True) -> None:
    """Compare every parameter's gradient (or, with ``grads=False``, its value) by name."""
    for (name, p), (_, q) in zip(sorted(want.namedparams()), sorted(got.namedparams()),
                                 strict=True):
        check_close(f"{what} {name}", q.grad_var if grads else q, p.grad_var if grads else p)


def clone(link: chainer.Link) -> chainer.Link:
    """An independent copy with identical parameters and state, gradients cleared.

    (Chainer fills a new parameter's gradient with NaN; backward accumulates into it.)
    """
    twin = copy.deepcopy(link)
    twin.cleargrads()
    return twin


def weighted_sum(ys: Iterable[chainer.Variable], seed: int = 99) -> chainer.Variable:
    """A scalar loss with a distinct random weight per element (no symmetric cancellations)."""
    total = None
    for i, y in enumerate(ys):
        w = np.random.default_rng(seed + i).uniform(0.5, 1.5, size=y.shape).astype(y.dtype)
        term = F.sum(y * chainer.backend.get_device_from_array(y.array).send(w))
        total = term if total is None else total + term
    return total


def run_both(forget: Callable, func: Callable, make_args: Callable[[], list], **backward_kw):
    """Run ``func`` plainly and through ``forget`` on fresh identical arguments.

    Returns ``(plain_outputs, plain_args, forget_outputs, forget_args)`` after a
    backward pass of ``weighted_sum`` over the outputs. A failure of the plain run is a
    ``HarnessError``: it says nothing about ``forget``.
    """
    results = []
    for use_forget in (False, True):
        args = make_args()
        if use_forget:
            outs = _step(lambda *a: forget(func, *a), args, backward_kw)
        else:
            outs = plain(_step, func, args, backward_kw)
        results += [outs, args]
    return tuple(results)


def _step(func: Callable, args: list, backward_kw: dict) -> tuple:
    out = func(*args)
    outs = out if isinstance(out, tuple) else (out,)
    weighted_sum(outs).backward(**backward_kw)
    return outs


def plain(func: Callable, *args):
    """``func(*args)`` on the plain path; its failure is the harness's, not the implementation's."""
    try:
        return func(*args)
    except Exception as exc:
        raise symptoms.HarnessError(
            f"the plain path failed ({type(exc).__name__}: {exc}); not the implementation's "
            "fault") from exc


class CallLog:
    """Wraps a function and records, per call, the config flags it ran under."""

    def __init__(self, func: Callable) -> None:
        self.func = func
        self.calls: list[dict] = []

    def __call__(self, *args):
        self.calls.append({
            "enable_backprop": chainer.config.enable_backprop,
            "in_recomputing": chainer.config.in_recomputing,
            "train": chainer.config.train,
        })
        return self.func(*args)


def observe(request: pytest.FixtureRequest, text: str) -> None:
    """Attach an observation to the report (informational clauses)."""
    request.node.user_properties.append(("observation", text))
