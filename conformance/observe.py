"""Everything a user's program can observe of a training step, recorded so that the plain
path can be the oracle for the forgetting one.

A step records, after each of its phases (``forward``, ``backward``, ``update``), one
:class:`Seen` per observable: results, gradients and their dtypes, link parameters and
persistent values, optimizer state, reporter observations, warnings, function-hook calls,
``chainer.config``, NumPy's and Python's RNGs, and the flags and values of the input arrays.
:func:`compare` charges the first difference to the clause of what differs
(``CLAUSE_OF``) and lists the others. What the contract lets differ is in
:data:`ALLOWED_DIFFERENCES`, the one list of them (``docs/contract.md`` repeats it).
"""

from __future__ import annotations

import collections
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import chainer
import numpy as np

from forget_conformance import policy, symptoms
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import host

#: What may differ between the plain path and ``forget``, and why. The comparison below
#: relaxes exactly these and nothing else.
ALLOWED_DIFFERENCES: dict[str, str] = {
    "memory": "what the graph keeps is the point of forget (D2 judges it)",
    "time": "the recomputation costs time",
    "func calls": "func runs again in the recomputation (D4 counts the calls)",
    "forward hook calls in backward": "a function hook's forward_preprocess/postprocess "
                                      "sees func's functions again when the recomputation "
                                      "runs them, and the adds that sum gradients may be "
                                      "done by other means; during the forward pass it sees "
                                      "each function at least as often as on the plain path",
    "more backward hook calls": "ndarray arguments become Variables that require grad (D7), "
                                "so backward reaches functions that the plain path applies "
                                "to constants only; every backward the plain path's hook "
                                "sees is seen at least as often",
    "forget's own nodes": "hooks, and a walk of the graph, see the node(s) forget adds in "
                          "place of func's functions; the results' creators are those nodes",
    "repeated reports": "a report the recomputation makes may overwrite the forward "
                        "call's, in the same observation, with an equal value; it may reach "
                        "no other observation (the scope backward runs in)",
    "repeated warnings": "the recomputation runs func's warnings.warn calls again; a "
                         "warning from the same place is shown once under the default "
                         "filters (the step is observed under them): silencing it for "
                         "good is not possible thread-safely (warnings.catch_warnings "
                         "changes process-wide state)",
    "result identity": "a result that is an argument or a parameter comes back as a new "
                       "Variable (with the same values), not the object itself",
    "summation order": "a gradient summed from several contributions may differ by "
                       "reassociation ulps (policy.same_kernels)",
}

#: The clause a difference in each kind of observable is charged to.
CLAUSE_OF = {
    "result": "D1",  # values, shapes and dtypes of what func returns
    "gradient": "D3",  # gradients (and their dtypes) of arguments and parameters
    "parameter": "T1",  # parameter values: lazily initialised ones, and after the update
    "optimizer": "T1",  # optimizer state (moments, step counts)
    "reporter": "T1",  # the observations the step reports
    "persistent": "D9",  # persistent values of links (running statistics)
    "hooks": "T4",  # function-hook calls
    "config": "T5",
    "random": "T5",  # NumPy's global RNG (Chainer's initializers draw from it), Python's
    "warnings": "T5",
    "input": "T5",  # the caller's input arrays: values and flags
}


@dataclass(frozen=True)
class Seen:
    """One observable after one phase: ``kind`` is a key of ``CLAUSE_OF``; an array value
    is compared under the same-kernels policy, anything else exactly."""

    phase: str
    kind: str
    name: str
    value: Any


class HookLog(chainer.FunctionHook):
    """A function hook that counts the functions it sees, forward and backward."""

    name = "forget_conformance_observer"

    def __init__(self) -> None:
        self.forward: collections.Counter = collections.Counter()
        self.backward: collections.Counter = collections.Counter()

    def forward_preprocess(self, function, in_data):
        self.forward[function.label] += 1

    def backward_preprocess(self, function, in_data, out_grad):
        self.backward[function.label] += 1


class Recorder:
    """Collects what a step shows, phase by phase."""

    def __init__(self, inputs: dict[str, Any], warn_from: str) -> None:
        self.seen: list[Seen] = []
        self.warn_from = warn_from
        self.inputs = inputs
        self.input_values = {k: _array(v) for k, v in inputs.items()}

    def record(self, phase: str, *, results=(), grads: dict | None = None, model=None,
               optimizer=None, observation: dict | None = None, warned=(), hooks=None) -> None:
        add = self.seen.append
        for i, y in enumerate(results):
            add(Seen(phase, "result", f"result {i}", _array(y)))
        for name, v in (grads or {}).items():
            add(Seen(phase, "gradient", f"gradient of {name}", _grad(v)))
        if model is not None:
            for name, p in sorted(model.namedparams()):
                add(Seen(phase, "parameter", f"parameter {name}", _array(p)))
                if phase == "backward":
                    add(Seen(phase, "gradient", f"gradient of {name}", _grad(p)))
            for name, value in sorted(_persistents(model)):
                add(Seen(phase, "persistent", f"persistent {name}", value))
        if optimizer is not None:
            add(Seen(phase, "optimizer", "optimizer t", getattr(optimizer, "t", None)))
            for name, p in sorted(optimizer.target.namedparams()):
                rule = p.update_rule
                add(Seen(phase, "optimizer", f"update rule of {name}: t, enabled",
                         (rule.t, rule.enabled)))
                for key, value in sorted((rule.state or {}).items()):
                    add(Seen(phase, "optimizer", f"{name} state {key}", _array(value)))
        if observation is not None:
            add(Seen(phase, "reporter", "observation keys", sorted(observation)))
            for key, value in sorted(observation.items()):
                add(Seen(phase, "reporter", f"observation {key}", _array(value)))
        add(Seen(phase, "warnings", f"warnings shown from {self.warn_from}",
                 [f"{w.category.__name__}: {w.message}" for w in warned
                  if w.filename == self.warn_from]))
        if hooks is not None:
            forward = dict(hooks.forward) if phase == "forward" else None
            add(Seen(phase, "hooks", "function hook calls", (forward, dict(hooks.backward))))
        config = dict(vars(chainer.configuration.global_config))
        config.update(vars(chainer.config._local))
        add(Seen(phase, "config", "chainer.config", {k: repr(v) for k, v in config.items()}))
        state: Any = np.random.get_state()
        add(Seen(phase, "random", "numpy global RNG", (state[0], state[1].tobytes(),
                                                       *state[2:])))
        add(Seen(phase, "random", "python random", random.getstate()))
        for name, x in self.inputs.items():
            array: Any = x.array if isinstance(x, chainer.Variable) else x
            flags = array.flags
            add(Seen(phase, "input", f"input {name} flags", {
                "writeable": getattr(flags, "writeable", None),  # CuPy arrays have none
                "c_contiguous": bool(flags.c_contiguous),
                "f_contiguous": bool(flags.f_contiguous), "shape": array.shape,
                "strides": array.strides, "type": type(x).__name__}))
            now, then = _array(x), self.input_values[name]
            add(Seen(phase, "input", f"input {name} values", now is not None and then is not None
                     and bool(np.array_equal(now, then, equal_nan=True))))


def _array(x) -> np.ndarray | None:
    """A copy on the host: the optimizer updates parameters in place."""
    array = host(x)
    return None if array is None else np.array(array, copy=True)


def _grad(x) -> np.ndarray | None:
    return None if x is None else _array(x.grad_var)


def _persistents(link: chainer.Link):
    for name, link_ in link.namedlinks():
        for attr in sorted(link_._persistent):
            value = getattr(link_, attr)
            yield f"{name}/{attr}", _array(value) if hasattr(value, "shape") else value


def observe_step(step: Callable[[Recorder, HookLog, dict], None], inputs: dict,
                 warn_from: str) -> list[Seen]:
    """Run ``step`` under the default warning filters (one show per warning and place, as
    a user's program runs), recording what it shows; warnings count when raised from the
    file ``warn_from`` (func's code: Chainer's or an implementation's own deprecation
    warnings are not func's)."""
    recorder = Recorder(inputs, warn_from)
    hooks = HookLog()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        step(recorder, hooks, {"warned": shown})
    return recorder.seen


def compare(got: list[Seen], want: list[Seen], what: str) -> None:
    """Raise a ``ClauseViolation`` for the first observable where ``got`` (the forgetting
    path) differs from ``want`` (the plain path), naming the other differences too."""
    found = {(s.phase, s.kind, s.name): s for s in got}
    problems: list[tuple[str, str, str]] = []  # (clause, symptom, text)
    for s in want:
        mine = found.pop((s.phase, s.kind, s.name), None)
        if mine is None:
            problems.append((CLAUSE_OF[s.kind], "state-changed",
                             f"after {s.phase}: {s.name} missing"))
            continue
        diff = _differs(s.kind, mine.value, s.value)
        if diff is not None:
            problems.append((CLAUSE_OF[s.kind], diff[0], f"after {s.phase}: {s.name}: {diff[1]}"))
    for (phase, kind, name) in found:
        problems.append((CLAUSE_OF[kind], "state-changed",
                         f"after {phase}: {name} is not on the plain path"))
    if problems:
        clause, symptom, text = problems[0]
        more = f" (and {len(problems) - 1} more: " + "; ".join(
            p[2] for p in problems[1:4]) + ")" if len(problems) > 1 else ""
        raise ClauseViolation(clause, f"{what}, {text}{more}", symptom)


def _differs(kind: str, got, want) -> tuple[str, str] | None:
    if kind == "hooks":
        return _hook_difference(got, want)
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        if got is None or want is None:
            return ("gradient-none" if got is None else "gradient-unexpected",
                    f"got {'None' if got is None else 'a value'}, the plain path "
                    f"{'None' if want is None else 'a value'}")
        if got.dtype != want.dtype:
            return "value-mismatch", f"dtype {got.dtype}, the plain path {want.dtype}"
        reason = policy.mismatch(got, want, policy.same_kernels(want.dtype))
        if reason is None:
            return None
        factor = symptoms.scale_factor(got, want)
        if factor is not None:
            return "value-scaled", f"off by a factor of {factor:.6g} ({reason})"
        return "value-mismatch", reason
    if _equal(got, want):
        return None
    symptom = "value-mismatch" if kind in ("parameter", "optimizer", "reporter") else \
        "state-changed"
    return symptom, f"{_short(got)}, the plain path {_short(want)}"


def _hook_difference(got, want) -> tuple[str, str] | None:
    """Every function the plain path's hook sees, seen at least as often, forward (in the
    forward pass) and backward; more often, and forget's own nodes (ALLOWED_DIFFERENCES)."""
    (fwd, bwd), (plain_fwd, plain_bwd) = got, want
    fewer = {k: (fwd.get(k, 0), n) for k, n in (plain_fwd or {}).items()
             if fwd.get(k, 0) < n}
    if fewer:
        return "state-changed", f"forward of {_short(fewer)} seen (got, plain) times"
    other = {k: (bwd.get(k, 0), n) for k, n in plain_bwd.items() if bwd.get(k, 0) < n}
    if other:
        return "state-changed", f"backward of {_short(other)} seen (got, plain) times"
    return None


def _equal(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except ValueError:
        return False


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
