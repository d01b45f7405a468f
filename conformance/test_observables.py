"""The plain path is the oracle for everything a user's program can observe.

A realistic training step (convolution, batch normalization, a lazily initialised
linear layer, an embedding, frozen links and a frozen parameter, Adam or MomentumSGD
with an optimizer hook, a reporter and a function hook) runs once plainly and once with
its two blocks through ``forget``; ``observe.compare`` checks every observable after
forward, backward and update, with only ``observe.ALLOWED_DIFFERENCES`` relaxed. The
blocks report, warn, return a parameter and an argument among their results, and take
read-only and view arrays and integer indices. Also: reports that must land only where
the plain call's do, and ``forget`` with many arguments.
"""

from __future__ import annotations

import warnings

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest

from forget_conformance import symptoms
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.conformance import observe
from forget_conformance.conformance.support import check_close, data, plain, weighted_sum

BATCH, CLASSES, VOCAB = 16, 10, 100
SEED = 20240607  # NumPy's global RNG: the lazily initialised layer draws from it


class Net(chainer.Chain):
    """Two blocks a user would wrap in ``forget``, and a loss outside them."""

    def __init__(self) -> None:
        super().__init__()
        with self.init_scope():
            self.conv1 = L.Convolution2D(3, 16, 3, pad=1)
            self.bn1 = L.BatchNormalization(16)
            self.conv2 = L.Convolution2D(16, 16, 3, pad=1)
            self.fc1 = L.Linear(None, 64)  # initialised by its first call
            self.embed = L.EmbedID(VOCAB, 64)
            self.fc2 = L.Linear(64, CLASSES)

    def features(self, x, scale):
        """conv1 and conv2 each applied twice (gradients with several terms); reports."""
        h = self.conv1(x) + self.conv1(x * 0.5)
        h = F.relu(self.bn1(h))
        h = self.conv2(F.relu(self.conv2(h))) * F.reshape(scale, (1, -1, 1, 1))
        chainer.report({"feature_mean": F.mean(h)}, self)
        return F.max_pooling_2d(F.relu(h), 2)

    def head(self, h, ids, bias, shift):
        """Warns; returns a parameter and an argument among its results."""
        warnings.warn("head: a warning func emits", UserWarning, stacklevel=1)
        z = F.relu(self.fc1(h) + self.embed(ids) + bias + shift)
        return self.fc2(z), self.fc2.W, bias

    def loss(self, logits, w, bias, t):
        loss = F.softmax_cross_entropy(logits, t) + 1e-3 * F.sum(w * w) + \
            1e-2 * F.sum(bias * bias)
        chainer.report({"loss": loss}, self)
        return loss


OPTIMIZERS = {
    "adam": lambda: _with_hook(chainer.optimizers.Adam(alpha=1e-3),
                               chainer.optimizer_hooks.WeightDecay(1e-4)),
    "momentum_sgd": lambda: _with_hook(chainer.optimizers.MomentumSGD(lr=0.05),
                                       chainer.optimizer_hooks.GradientClipping(1.0)),
}


def _with_hook(optimizer, hook):
    optimizer.hook = hook
    return optimizer


def _inputs(device) -> dict:
    """A read-only image batch, a strided view, integer ids, a bias Variable and a
    read-only Fortran-ordered array."""
    x = data(device, (BATCH, 3, 16, 16))
    scale = data(device, (32,), seed=1, low=0.5, high=1.5)[::2]
    shift = data(device, (64, BATCH), seed=4).T
    for array in (x, shift):
        if isinstance(array, np.ndarray):
            array.flags.writeable = False
    return {"x": chainer.Variable(x), "scale": scale,
            "ids": data(device, (BATCH,), np.int32, seed=2, low=0, high=VOCAB),
            "bias": chainer.Variable(data(device, (64,), seed=3)), "shift": shift,
            "t": data(device, (BATCH,), np.int32, seed=5, low=0, high=CLASSES)}


def training_step(forget, device, optimizer_name: str, use_forget: bool) -> list[observe.Seen]:
    np.random.seed(SEED)
    model = Net()
    model.conv2.disable_update()  # a frozen link
    model.to_device(device)
    optimizer = OPTIMIZERS[optimizer_name]()
    hook = optimizer.hook
    optimizer.setup(model)
    optimizer.add_hook(hook)
    model.fc2.b.update_rule.enabled = False  # type: ignore[union-attr]  # a frozen parameter
    inputs = _inputs(device)
    reporter = chainer.Reporter()
    reporter.add_observer("main", model)
    observation: dict = {}
    call = (lambda f, *a: forget(f, *a)) if use_forget else (lambda f, *a: plain(f, *a))

    def step(rec: observe.Recorder, hooks: observe.HookLog, shown: dict) -> None:
        x, scale, ids, bias, shift, t = (inputs[k] for k in
                                         ("x", "scale", "ids", "bias", "shift", "t"))
        with reporter.scope(observation):
            model.cleargrads()
            with hooks:
                h = call(model.features, x, scale)
                logits, w, passed = call(model.head, h, ids, bias, shift)
                loss = model.loss(logits, w, passed, t)
            rec.record("forward", results=(h, logits, w, passed, loss), model=model,
                       observation=observation, warned=shown["warned"], hooks=hooks)
            with hooks:
                loss.backward()
            rec.record("backward", grads={"x": x, "bias": bias}, model=model,
                       observation=observation, warned=shown["warned"], hooks=hooks)
            optimizer.update()
            rec.record("update", model=model, optimizer=optimizer, observation=observation,
                       warned=shown["warned"])

    return observe.observe_step(step, inputs, warn_from=__file__)


@pytest.mark.clause("D1", "D3", "D9", "T1", "T4", "T5")
@pytest.mark.parametrize(("optimizer_name", "lazy_grad_sum"), [
    ("adam", False), ("adam", True), ("momentum_sgd", False)],
    ids=["adam-eager_sum", "adam-lazy_grad_sum", "momentum_sgd-eager_sum"])
def test_training_step_observables_like_plain(forget, forget_device, optimizer_name,
                                              lazy_grad_sum):
    """Every observable of a training step after forward, backward and update."""
    check_step(forget, forget_device, optimizer_name, lazy_grad_sum)


def check_step(forget, device, optimizer_name: str, lazy_grad_sum: bool) -> None:
    """The step plainly, then through forget; an exception only the forgetting step raises
    is T4 (the call does not behave like the rest of the graph)."""
    with chainer.using_config("lazy_grad_sum", lazy_grad_sum):
        want = training_step(forget, device, optimizer_name, use_forget=False)
        try:
            got = training_step(forget, device, optimizer_name, use_forget=True)
        except ClauseViolation:
            raise
        except Exception as exc:
            raise ClauseViolation("T4", f"{optimizer_name} step through forget raised "
                                  f"{type(exc).__name__}: {exc}; the plain path did not",
                                  symptoms.of(exc)) from exc
    observe.compare(got, want, f"{optimizer_name} step")


# ---------------------------------------------------------------- reports and scopes


def _scoped_reports(forget, device, where: str, use_forget: bool) -> dict:
    """Forward in an inner reporter scope (or none), backward in an outer one: what each
    observation holds afterwards."""
    np.random.seed(SEED)
    model = Net().to_device(device)
    inputs = _inputs(device)
    outer, inner = chainer.Reporter(), chainer.Reporter()
    for reporter in (outer, inner):
        reporter.add_observer("main", model)
    seen: dict[str, dict] = {"outer": {}, "inner": {}}
    with outer.scope(seen["outer"]):
        if where == "inner_scope":
            with inner.scope(seen["inner"]):
                h = forget(model.features, inputs["x"], inputs["scale"]) if use_forget \
                    else plain(model.features, inputs["x"], inputs["scale"])
        else:
            stack = chainer.reporter._get_reporters()
            saved = list(stack)
            stack[:] = []  # the forward call runs where no reporter is in force
            try:
                h = forget(model.features, inputs["x"], inputs["scale"]) if use_forget \
                    else plain(model.features, inputs["x"], inputs["scale"])
            finally:
                stack[:] = saved
        weighted_sum([h]).backward()
    return {scope: {k: observe._array(v) for k, v in obs.items()} for scope, obs in seen.items()}


@pytest.mark.clause("T1")
@pytest.mark.parametrize("where", ["inner_scope", "no_reporter"])
def test_reports_only_where_the_plain_call_reports(forget, forget_device, where):
    """func reports in the forward call; backward runs in another reporter's scope: every
    observation holds what the plain path's holds (the recomputation's reports land in none
    of them)."""
    want = _scoped_reports(forget, forget_device, where, use_forget=False)
    got = _scoped_reports(forget, forget_device, where, use_forget=True)
    for scope in want:
        if sorted(got[scope]) != sorted(want[scope]):
            raise ClauseViolation("T1", f"forward {where.replace('_', ' ')}, backward in "
                                  f"another scope: the {scope} observation holds "
                                  f"{sorted(got[scope])}, the plain path's {sorted(want[scope])}",
                                  "value-mismatch")
        for key, value in want[scope].items():
            check_close(f"{scope} observation {key}", got[scope][key], value, clause="T1")


# ---------------------------------------------------------------- many arguments


def _many_args(device, n: int) -> list:
    """``n`` arguments cycling through a float Variable, a float ndarray, an int index
    ndarray and an int index Variable; the float ones of different shapes."""
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(chainer.Variable(data(device, (6, 5), seed=i)))
        elif kind == 1:
            out.append(data(device, (5,), seed=i))
        elif kind == 2:
            out.append(data(device, (6,), np.int32, seed=i, low=0, high=7))
        else:
            out.append(chainer.Variable(data(device, (6,), np.int32, seed=i, low=0, high=7)))
    return out


def many_func(table):
    def func(*args):
        h = None
        for a in args:
            array = a.array if isinstance(a, chainer.Variable) else a
            term = F.embed_id(a, table) if array.dtype.kind == "i" else F.tanh(a * 2)
            h = term if h is None else h * 0.5 + F.broadcast_to(term, h.shape)
        return (h, *(F.sin(a) for a in args[::4]))  # the float Variables
    return func


@pytest.mark.clause("T4")
@pytest.mark.parametrize("n", [3, 5, 8])
def test_many_arguments(forget, forget_device, n):
    """forget with n arguments, mixed Variables, ndarrays and index arrays: results and
    the gradients of the Variables and of a table func closes over, as on the plain path."""
    runs = []
    for use_forget in (False, True):
        table = chainer.Parameter(data(forget_device, (7, 5), seed=99))
        args = _many_args(forget_device, n)
        func = many_func(table)
        outs = forget(func, *args) if use_forget else plain(func, *args)
        weighted_sum(outs).backward()
        runs.append((outs, args, table))
    (want, want_args, want_table), (got, got_args, got_table) = runs
    for i, (g, e) in enumerate(zip(got, want, strict=True)):
        check_close(f"{n} arguments: result {i}", g, e, clause="T4")
    for i, (g, e) in enumerate(zip(got_args, want_args, strict=True)):
        if isinstance(e, chainer.Variable) and e.dtype.kind == "f":
            check_close(f"{n} arguments: gradient of argument {i}", g.grad_var, e.grad_var,
                        clause="T4")
    check_close(f"{n} arguments: gradient of the closed-over table", got_table.grad_var,
                want_table.grad_var, clause="T4")
