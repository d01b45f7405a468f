"""Fuzz tests: random graphs, plain vs the ``forget`` under test (see ``fuzz/oracle.py``).

Each test names the clauses its oracle can attribute a failure to; a failure
writes a reproducer script (``$FORGET_FUZZ_FAILURES``, default under
``forget_conformance.outputs.default_dir()``).
Each test reports its feature coverage (``fuzz/coverage.py``): a line on the terminal
and, when it passes, the message of its result; while it runs, a progress line (examples
done of total, elapsed, failing examples so far) every ``property_runner.PROGRESS_SECONDS``.
"""

from __future__ import annotations

import pytest

from forget_conformance import devices, plugin
from forget_conformance.fuzz import property_runner, targets

# No per-test limit: each example has its own (``property_runner.example_limit``, the
# CLI's --timeout), and the supervisor's watchdog follows the tests' progress records.
pytestmark = pytest.mark.timeout(0)


def run(name: str, implementation, device, request: pytest.FixtureRequest) -> None:
    """Run the suite; then report its coverage line (on failure too)."""
    def report(progress: property_runner.Progress) -> None:
        _report(request, progress.line(), observe=False)
        plugin.emit_progress(request.node, progress.count, progress.total, progress.elapsed,
                             progress.failures)

    log = property_runner.FuzzLog(report=report)
    try:
        targets.run(name, implementation, device, log, _tests_left(request))
        if targets.TARGETS[name].informational:
            _report(request, log.observation(f"{name} (outside the contract)"))
    finally:
        if log.progress is not None:
            _report(request, log.progress.coverage.line(name))


def _tests_left(request: pytest.FixtureRequest) -> int:
    """This test and those after it in the run that will not skip at once (a campaign
    shares the time left between them)."""
    items = request.session.items
    later = items[items.index(request.node):] if request.node in items else [request.node]
    return max(1, sum(not _skips(item) for item in later))


def _skips(item: pytest.Item) -> bool:
    """GPU tests without a GPU, and the cross-device test on the CPU, skip at once."""
    spec = getattr(getattr(item, "callspec", None), "params", {}).get("forget_device")
    if spec == devices.GPU:
        return devices.gpu_unavailable_reason() is not None
    return getattr(item, "originalname", "") == "test_gpu_agrees_with_cpu"


def _report(request: pytest.FixtureRequest, line: str, observe: bool = True) -> None:
    """``line`` on the terminal (past output capture) and, if ``observe``, in the result's
    message."""
    if observe:
        request.node.user_properties.append(("observation", line))
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if terminal is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            terminal.write_line(line)


@pytest.mark.clause(*targets.TARGETS["differential"].clauses)
def test_forget_matches_plain_graph(forget, forget_implementation, forget_device, request):
    """Outputs, gradients, segment calls and link state equal the plain graph's."""
    run("differential", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["shared_parameters"].clauses)
def test_shared_parameters_accumulate(forget, forget_implementation, forget_device, request):
    """A weight, or a captured value, used inside and outside a segment, in either order,
    gets both contributions (T3)."""
    run("shared_parameters", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["loss_scale"].clauses)
def test_loss_scaled_step_updates_like_plain(forget, forget_implementation, forget_device, request):
    """``backward(loss_scale=8)`` then SGD leaves the parameters of the plain graph."""
    run("loss_scale", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["eval_forward"].clauses)
def test_recompute_uses_forward_config(forget, forget_implementation, forget_device, request):
    """Forward under ``train=False``, backward outside it: as plain (BN in a segment)."""
    run("eval_forward", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["double_backprop"].clauses)
def test_gradient_penalty_rejected_or_exact(forget, forget_implementation, forget_device,
                                            request):
    """A gradient penalty (``chainer.grad`` and ``backward`` with
    ``enable_double_backprop``, then the penalty's backward): rejected, or the plain
    graph's first- and second-order gradients of every input and parameter (D8)."""
    run("double_backprop", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["cross_device"].clauses)
def test_gpu_agrees_with_cpu(forget, forget_implementation, forget_device, request):
    """Through ``forget`` on the GPU vs plain on the CPU, within ``policy.cross_device``."""
    if forget_device.xp.__name__ == "numpy":
        pytest.skip("cross-device comparison needs a GPU run (--forget-device gpu or all)")
    run("cross_device", forget_implementation, forget_device, request)


@pytest.mark.clause(*targets.TARGETS["stateful_feedback"].clauses)
def test_stateful_feedback_is_reported(forget, forget_implementation, forget_device, request):
    """A segment applying one BatchRenormalization link twice (its second call reads the
    running statistics its first updated) is outside the contract: what differs from the
    plain path is reported, never judged (D10)."""
    run("stateful_feedback", forget_implementation, forget_device, request)
