"""D8: double backprop through ``forget`` is rejected, or exact for every leaf.

"Supported" is a claim about every leaf the plain path differentiates, so it is
earned case by case: each scenario below (arguments, link parameters, values
``func`` closes over, a segment nested in a segment) is run through each route
(``backward(enable_double_backprop=True)`` and ``chainer.grad(...,
enable_double_backprop=True)``). A route takes first-order gradients with a graph,
then backpropagates a gradient penalty (the sum of the squared first-order
gradients) and reads every leaf's gradient. A case is ``rejected`` (RuntimeError or
NotImplementedError once the first-order step has begun; a failure of the forward is
charged to D1), ``exact`` (the same
first- and second-order gradients as the plain path), or wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from forget_conformance import devices
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance.support import check_close, data, plain
from forget_conformance.symptoms import HarnessError, Symptomatic

ROUTES = ("backward", "grad")
REJECTIONS = (RuntimeError, NotImplementedError)
#: What a D8 pass on every case, by exactness, says.
SUPPORTED = ("supported: first- and second-order gradients equal the plain path's for "
             "arguments, link parameters, closed-over values (also computed from the data) "
             "and nested segments, via backward and chainer.grad (exceeds the contract)")

Forget = Callable  # forget(func, *xs), or the plain call


def no_forget(func, *xs):
    """The plain path in ``forget``'s place."""
    return func(*xs)


def _linear(device, n_in: int, n_out: int, seed: int) -> chainer.Link:
    rng = np.random.default_rng(seed)
    with chainer.using_config("dtype", np.float64):
        link = L.Linear(n_in, n_out, initialW=rng.uniform(-1, 1, (n_out, n_in)),
                        initial_bias=rng.uniform(-0.5, 0.5, n_out))
    link.to_device(device)
    link.cleargrads()  # a new parameter's gradient is NaN, which every sum would hide in
    return link


def _leaf(device, shape, seed: int) -> chainer.Variable:
    return chainer.Variable(data(device, shape, np.float64, seed))


@dataclass(frozen=True)
class Scenario:
    """``build(device)`` -> (the leaves by name, the names of those that are the data
    (what a gradient penalty differentiates), ``loss(fg)``: the scalar loss with ``fg``
    as forget). Each build is fresh and identical."""

    name: str
    build: Callable


def _arguments(device):
    x, u = _leaf(device, (3, 2), 1), _leaf(device, (3, 2), 2)

    def loss(fg):
        b = F.tanh(u) * 1.5  # a non-leaf argument: its gradient flows on to u
        return F.sum(fg(lambda p, q: F.tanh(p * q) * p, x, b))

    return {"x": x, "u": u}, ("x", "u"), loss


def _link_parameters(device):
    x, link = _leaf(device, (2, 3), 3), _linear(device, 3, 4, 4)

    def loss(fg):
        return F.sum(fg(lambda h: F.tanh(link(h)), x) * 0.7)

    return {"x": x, "W": link.W, "b": link.b}, ("x",), loss


def _closed_over(device):
    x, u, v = _leaf(device, (2, 3), 5), _leaf(device, (2, 3), 6), _leaf(device, (2, 3), 7)

    def loss(fg):
        c = F.tanh(v) * 2.0  # a non-leaf value func closes over
        return F.sum(fg(lambda h: F.tanh(h * c + u) * h, x))

    return {"x": x, "u (closed over)": u, "v (under a closed-over non-leaf)": v}, ("x",), loss


def _closed_over_data(device):
    x = _leaf(device, (2, 3), 11)

    def loss(fg):
        c = F.sin(x) * 1.5  # closed over, and computed from the leaf differentiated
        return F.sum(fg(lambda h: F.tanh(h * c) * h, F.tanh(x)))

    return {"x": x}, ("x",), loss


def _nested(device):
    x, w, link = _leaf(device, (2, 3), 8), _leaf(device, (2, 3), 9), _linear(device, 3, 3, 10)

    def loss(fg):
        def outer(h):
            return F.tanh(link(fg(lambda k: F.tanh(k * w), h))) * h
        return F.sum(fg(outer, x))

    return {"x": x, "w (closed over, inner)": w, "W": link.W, "b": link.b}, ("x",), loss


SCENARIOS = (Scenario("arguments", _arguments), Scenario("link parameters", _link_parameters),
             Scenario("closed-over values", _closed_over),
             Scenario("a value closed over computed from the data", _closed_over_data),
             Scenario("nested segments", _nested))


def _host(x) -> np.ndarray | None:
    if x is None:
        return None
    return np.array(devices.to_numpy(x.array if isinstance(x, chainer.Variable) else x))


def second_order(fg: Forget, device, scenario: Scenario, route: str) -> dict:
    """:func:`differentiate` the loss of a fresh build of ``scenario`` through ``fg``."""
    leaves, data_names, loss_of = scenario.build(device)
    return differentiate(loss_of(fg), leaves, data_names, route)


def differentiate(loss, leaves: dict, data_names: tuple, route: str) -> dict:
    """First-order gradients with a graph, then the gradient penalty ``sum(g**2)`` over
    them backpropagated; every leaf's gradients, as host arrays (or None).

    ``backward``: first-order gradients of every leaf (their ``.grad``), cleared before
    the penalty. ``grad``: ``chainer.grad`` of the data leaves, as a gradient penalty
    is written; the penalty's ``backward`` then accumulates into whatever ``.grad``
    the first step left, as in a user's program."""
    names = list(leaves) if route == "backward" else list(data_names)
    if route == "grad":
        firsts = chainer.grad([loss], [leaves[n] for n in names], enable_double_backprop=True)
    else:
        loss.backward(enable_double_backprop=True)
        firsts = [leaves[n].grad_var for n in names]
        for leaf in leaves.values():
            leaf.cleargrad()
    results = {f"first-order d/d{n}": _host(g) for n, g in zip(names, firsts, strict=True)}
    terms = [F.sum(g * g) for g in firsts if g is not None]
    if not terms:
        return results
    penalty = terms[0]
    for term in terms[1:]:
        penalty = penalty + term
    penalty.backward()
    results.update({f"second-order d/d{n}": _host(leaf.grad_var) for n, leaf in leaves.items()})
    return results


def compare(got: dict, expected: dict) -> list[str]:
    """The keys of ``expected`` that ``got`` does not match, each with why. A missing
    second-order gradient matches an all-zero one (no path vs a zero path)."""
    wrong = []
    for key, e in expected.items():
        a = got.get(key)
        if key.startswith("second-order") and (a is None) != (e is None):
            present = a if a is not None else e
            a, e = (np.zeros_like(present) if x is None else x for x in (a, e))
        try:
            check_close(key, a, e)
        except Symptomatic as exc:
            wrong.append(str(exc))
    return wrong


@dataclass
class Case:
    scenario: str
    route: str
    outcome: str  # "rejected", "exact", "wrong", "crashed"
    detail: str = ""
    error: BaseException | None = None


def judge(forget: Forget, device, scenario: Scenario, route: str) -> Case:
    """One scenario through one route: rejected, exact, wrong or crashed."""
    expected = plain(second_order, no_forget, device, scenario, route)
    if not any(k.startswith("second-order") and v is not None and v.any()
               for k, v in expected.items()):
        raise HarnessError(f"{scenario.name}: the plain path gives no second-order gradient")
    leaves, data_names, loss_of = scenario.build(device)
    try:
        loss = loss_of(forget)
    except Exception as exc:  # noqa: BLE001 - before any gradient: not double backprop
        raise ClauseViolation("D1", f"{scenario.name}: the forward through forget raised "
                              f"{type(exc).__name__}: {exc}",
                              f"exception:{type(exc).__name__}") from exc
    try:
        got = differentiate(loss, leaves, data_names, route)
    except REJECTIONS:
        return Case(scenario.name, route, "rejected")
    except Exception as exc:  # noqa: BLE001 - a crash is a symptom of its own
        return Case(scenario.name, route, "crashed", f"{type(exc).__name__}: {exc}", exc)
    wrong = compare(got, expected)
    if wrong:
        others = [w.split(":")[0] for w in wrong[1:]]
        return Case(scenario.name, route, "wrong",
                    wrong[0] + (f" (also {', '.join(others)})" if others else ""))
    return Case(scenario.name, route, "exact")


def outcome(forget: Forget, device, scenarios=SCENARIOS, routes=ROUTES) -> str:
    """D8's outcome over every case: ``rejected`` (all rejected), ``supported`` (all
    exact; the claim beyond the contract), or which were rejected and which exact
    (meets the contract, claims no support). Otherwise a ``ClauseViolation``:
    ``silently-wrong`` naming each wrong case and leaf, or ``exception:<Type>``."""
    cases = [judge(forget, device, s, r) for s in scenarios for r in routes]
    wrong = [c for c in cases if c.outcome == "wrong"]
    if wrong:
        listed = " | ".join(f"{c.scenario} via {c.route}: {c.detail}" for c in wrong)
        raise ClauseViolation("D8", f"silently wrong: neither rejected nor exact in "
                              f"{len(wrong)} of {len(cases)} cases: {listed}", "silently-wrong")
    crashed = [c for c in cases if c.outcome == "crashed"]
    if crashed:
        first = crashed[0]
        raise ClauseViolation("D8", f"double backprop crashed ({first.scenario} via "
                              f"{first.route}): {first.detail}",
                              f"exception:{type(first.error).__name__}") from first.error
    rejected = [c for c in cases if c.outcome == "rejected"]
    if len(rejected) == len(cases):
        return "rejected"
    if not rejected:
        return SUPPORTED
    exact = [f"{c.scenario} via {c.route}" for c in cases if c.outcome == "exact"]
    return (f"rejected in {len(rejected)} of {len(cases)} cases, exact in "
            f"{', '.join(exact)} (not supported throughout)")
