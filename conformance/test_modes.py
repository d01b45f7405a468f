"""T4: every way of getting gradients, and every way of calling, works as on the plain path."""

import threading

import chainer
import chainer.functions as F
import chainer.links as L
import pytest

from forget_conformance.conformance.support import (
    check_close,
    check_params,
    clone,
    data,
    weighted_sum,
)

BARRIER_TIMEOUT = 5.0  # seconds; the threads meet in every call of func


def _net():
    return chainer.Sequential(L.Linear(3, 4), F.tanh, L.Linear(4, 2))


def _grads(link: chainer.Link) -> dict:
    return {name: p.grad for name, p in link.namedparams()}


def _each_path(forget, device):
    """``(net, x, y)`` on the plain path, then through ``forget``: fresh clones of one
    net, identical arguments."""
    base = _net().to_device(device)
    for use_forget in (False, True):
        net = clone(base)
        x = chainer.Variable(data(device, (5, 3)))
        yield net, x, (forget(net, x) if use_forget else net(x))


@pytest.mark.clause("T4")
def test_chainer_grad_like_plain(forget, forget_device):
    """First-order chainer.grad: same values, and no .grad written where plain writes none."""
    runs = []
    for net, x, y in _each_path(forget, forget_device):
        (gx,) = chainer.grad([weighted_sum([y])], [x])
        runs.append((gx, x.grad, _grads(net)))
    (want_gx, want_xgrad, want_grads), (gx, xgrad, grads) = runs
    check_close("chainer.grad w.r.t. the argument", gx, want_gx)
    check_close("argument .grad after chainer.grad", xgrad, want_xgrad)
    for name, want in want_grads.items():
        check_close(f"parameter {name} .grad after chainer.grad", grads[name], want)


@pytest.mark.clause("T4")
def test_backward_twice_like_plain(forget, forget_device):
    """backward(retain_grad=True), then a second backward through the same result."""
    runs = []
    for net, x, y in _each_path(forget, forget_device):
        weighted_sum([y], seed=1).backward(retain_grad=True)
        first = y.grad
        weighted_sum([y], seed=2).backward()
        runs.append((net, x.grad, first))
    (plain, want_x, want_y), (got, got_x, got_y) = runs
    check_close("result's retained gradient after the first backward", got_y, want_y)
    check_close("argument gradient after two backward calls", got_x, want_x)
    check_params("after two backward calls, gradient of", got, plain)


@pytest.mark.clause("T4")
def test_no_arguments(forget, forget_device):
    """forget(func) with no arguments: func reaches its parameters by itself."""
    base = L.Linear(3, 2).to_device(forget_device)
    x = data(forget_device, (4, 3))
    results = {}
    for use_forget in (False, True):
        link = clone(base)

        def func(link=link):
            return F.tanh(link(x))

        y = forget(func) if use_forget else func()
        weighted_sum([y]).backward()
        results[use_forget] = link, y
    (plain, want), (got, y) = results[False], results[True]
    check_close("result of forget(func)", y, want)
    check_params("after forget(func), gradient of", got, plain)


FLAGS = ("enable_backprop", "in_recomputing", "train")
EXPECTED_FLAGS = {  # per kind of call of func: what D4, D9 and T2 say it runs under
    "forward": {"enable_backprop": False, "in_recomputing": False},
    "recompute": {"enable_backprop": True, "in_recomputing": True},
    "plain": {"enable_backprop": True, "in_recomputing": False},
}
# Each thread's calls of func, slot by slot; the threads meet in each slot, so every
# kind of call of one thread runs while the other thread is inside another kind.
PLANS = {False: ("forward", "plain", "recompute", "plain"),
         True: ("plain", "forward", "plain", "recompute")}


def _worker(forget, device, train: bool, barrier: threading.Barrier, out: dict) -> None:
    seen: list[dict] = []

    def func(a):
        barrier.wait()  # both threads are now inside a call of func
        seen.append({k: getattr(chainer.config, k) for k in FLAGS})
        barrier.wait()  # neither leaves its call before both have looked
        return a * (2.0 if chainer.config.train else 3.0)

    try:
        with chainer.using_config("train", train):
            x = chainer.Variable(data(device, (3,)))
            for kind in PLANS[train]:
                if kind == "forward":
                    y = forget(func, x)
                elif kind == "recompute":
                    weighted_sum([y]).backward()
                else:
                    func(chainer.Variable(data(device, (3,))))
        out[train] = seen, x.grad_var
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        barrier.abort()
        out[train] = exc


@pytest.mark.clause("T4")
def test_threads_keep_their_own_config(forget, forget_device):
    """Two threads, train=False and train=True, interleaved call by call."""
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    out: dict = {}
    threads = [threading.Thread(target=_worker, args=(forget, forget_device, t, barrier, out),
                                daemon=True) for t in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=4 * len(PLANS[True]) * BARRIER_TIMEOUT)
    for train in (False, True):
        result = out.get(train, "did not finish")
        if isinstance(result, BaseException | str):
            pytest.fail(f"thread with train={train}: {result!r} (the two threads' calls "
                        "of func must be able to run at the same time, as without forget)")
        seen, grad = result
        want = [dict(EXPECTED_FLAGS[kind], train=train) for kind in PLANS[train]]
        for slot, (got, expected) in enumerate(zip(seen, want, strict=False)):
            assert got == expected, (
                f"thread with train={train}, call {slot} ({PLANS[train][slot]}) ran under "
                f"{got}, want {expected}")
        assert len(seen) == len(want), f"thread with train={train}: {len(seen)} calls"
        plain = chainer.Variable(data(forget_device, (3,)))
        weighted_sum([plain * (2.0 if train else 3.0)]).backward()
        check_close(f"thread with train={train}: argument gradient", grad, plain.grad_var)
