"""pytest plug-in: chooses the implementation, the devices and the profile; tags results.

Options: ``--forget-impl MODULE:ATTR`` (or ``$FORGET_IMPL``; aliases ``reference``,
``chainer``), ``--forget-device cpu|gpu|all``, ``--forget-profile ci|dev|full|nightly``,
``--forget-known-deviations FILE`` (marks those clauses' tests xfail) and
``--forget-results PATH`` (one JSON line per collected test and per test phase,
read by the CLI).
"""

from __future__ import annotations

import json
import os

import pytest

from forget_conformance import catalogue, deviations, devices, impl, profiles, state


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("forget-conformance")
    group.addoption("--forget-impl", default=None,
                    help=f"implementation under test, MODULE:ATTR or an alias "
                         f"({', '.join(impl.ALIASES)}); default ${impl.ENV_VAR} or "
                         f"{impl.DEFAULT}")
    group.addoption("--forget-device", default=os.environ.get("FORGET_DEVICE", "all"),
                    choices=("cpu", "gpu", "all"),
                    help="devices (default all: GPU tests skip with the reason when absent)")
    group.addoption("--forget-profile", default=os.environ.get("FORGET_PROFILE", "ci"),
                    choices=profiles.NAMES, help="run profile (default ci)")
    group.addoption("--forget-known-deviations", default=None, metavar="FILE",
                    help="clauses listed there are expected to fail (xfail, not strict)")
    group.addoption("--forget-results", default=None, metavar="PATH",
                    help="append one JSON line per test phase to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(*ids): the contract clauses (catalogue IDs) a test checks")
    # chainer.testing (imported by gradient_check) decorates with an unregistered mark.
    config.addinivalue_line("markers", "gpu: chainer.testing's GPU mark")
    profiles.activate(config.getoption("--forget-profile"))
    path = config.getoption("--forget-results")
    config._forget_results = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
    known = config.getoption("--forget-known-deviations")
    config._forget_known = deviations.load(known) if known else {}


def pytest_unconfigure(config: pytest.Config) -> None:
    stream = getattr(config, "_forget_results", None)
    if stream is not None:
        stream.close()


def clause_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("clause"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = config._forget_known
    for item in items:
        ids = clause_ids(item)
        for clause_id in ids:
            catalogue.get(clause_id)  # an unknown ID is a collection error
        _emit(config, {"event": "collected", "nodeid": item.nodeid, "clauses": ids})
        declared = [c for c in ids if c in known]
        if declared:
            reason = "; ".join(f"{c}: {known[c]}" for c in declared)
            item.add_marker(pytest.mark.xfail(reason=f"known deviation {reason}", strict=False))


def _emit(config: pytest.Config, record: dict) -> None:
    stream = config._forget_results
    if stream is not None:
        stream.write(json.dumps(record) + "\n")
        stream.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem) -> None:
    _emit(item.config, {"event": "start", "nodeid": item.nodeid, "clauses": clause_ids(item)})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    violated = None
    if call.excinfo is not None and isinstance(call.excinfo.value, catalogue.ClauseViolation):
        violated = call.excinfo.value.clause_id
    message = ""
    if call.excinfo is not None:
        value = call.excinfo.value
        message = f"{type(value).__name__}: {value}".strip()
        if call.excinfo.errisinstance(pytest.skip.Exception):
            message = str(getattr(value, "msg", value))
    if report.passed:
        message = "; ".join(str(v) for k, v in item.user_properties if k == "observation")
    if getattr(report, "wasxfail", None) is not None and report.skipped:
        status = "xfail"
    elif getattr(report, "wasxfail", None) is not None and report.passed:
        status = "xpass"
    else:
        status = report.outcome
    if report.when == "call" or report.outcome != "passed":
        _emit(item.config, {
            "event": "report", "nodeid": item.nodeid, "when": report.when,
            "status": status, "clauses": clause_ids(item), "violated": violated,
            "message": message.splitlines()[0][:500] if message else "",
        })


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def forget_implementation(request: pytest.FixtureRequest) -> impl.Implementation:
    """The implementation under test."""
    name = impl.chosen_name(request.config.getoption("--forget-impl"))
    try:
        return impl.resolve(name)
    except impl.ImplementationError as exc:
        pytest.exit(f"forget-conformance: {exc}", returncode=2)


@pytest.fixture(scope="session")
def forget(forget_implementation: impl.Implementation):
    """The ``forget`` callable under test."""
    return forget_implementation.forget


@pytest.fixture(scope="session")
def forget_reference():
    """This project's reference ``forget`` (for comparisons that need a known-good one)."""
    from forget_conformance.reference import forget as reference

    return reference


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "forget_device" in metafunc.fixturenames:
        specs = devices.selected(metafunc.config.getoption("--forget-device"))
        ids = ["cpu" if s == devices.CPU else "gpu" for s in specs]
        metafunc.parametrize("forget_device", specs, ids=ids, indirect=True)


@pytest.fixture
def forget_device(request: pytest.FixtureRequest):
    """A Chainer device to run on; GPU runs skip with the reason when absent."""
    spec = getattr(request, "param", devices.CPU)
    if spec == devices.GPU and devices.gpu_unavailable_reason() is not None:
        pytest.skip(devices.gpu_unavailable_reason())
    return devices.get(spec)


@pytest.fixture(autouse=True)
def _global_state_guard(request: pytest.FixtureRequest):
    """Fail a test whose implementation leaks config or hooks; always restore state."""
    before = state.snapshot()
    yield
    after = state.snapshot()
    leaked = state.leaks(before, after, rng=False)
    state.restore(before)
    if leaked and request.node.get_closest_marker("clause") is not None:
        pytest.fail("global state leaked past the test: " + "; ".join(leaked), pytrace=False)
