"""pytest plug-in: chooses the implementation, the devices and the profile; tags results.

Options: ``--forget-impl MODULE:ATTR`` (or ``$FORGET_IMPL``; aliases ``reference``,
``chainer``), ``--forget-device cpu|gpu|all`` (or ``$FORGET_DEVICE``),
``--forget-profile ci|dev|full|nightly`` (or ``$FORGET_PROFILE``), ``--forget-level
contract|drop-in`` (drop-in clauses are skipped at ``contract``),
``--forget-known-deviations FILE`` (a failure an entry of FILE excuses is reported as
xfail, as the CLI accepts it: same entries, same matching, in ``verdicts``; stale entries
are listed at the end) and ``--forget-results PATH`` (one JSON line per collected test and
per test phase, read by the CLI).

Installed, it is loaded into every pytest run of the environment, so it stays inert
there: it imports neither Chainer nor hypothesis, loads no hypothesis profile, touches
no RNG and only offers fixtures named ``forget_*``. It acts when the run is a harness
run (``--forget-impl`` given, or the arguments name the harness's suites); the
``forget`` fixture and the global-state guard come from those suites' ``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import pytest

from forget_conformance import (
    catalogue,
    deviations,
    devices,
    impl,
    profiles,
    records,
    suites,
    symptoms,
    verdicts,
)

LEVELS = catalogue.LEVELS


@dataclass(frozen=True)
class Choice:
    """What a harness run is under test with; ``problem`` is a bad environment value."""

    impl: str
    device: str
    profile: str
    level: str
    problem: str | None = None


CHOICE_KEY = pytest.StashKey[Choice]()
ACTIVE_KEY = pytest.StashKey[bool]()
KNOWN_KEY = pytest.StashKey[list[deviations.Entry]]()
RESULTS_KEY = pytest.StashKey["TextIO | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("forget-conformance")
    group.addoption("--forget-impl", default=None,
                    help=f"implementation under test, MODULE:ATTR or an alias "
                         f"({', '.join(impl.ALIASES)}); default ${impl.ENV_VAR} or "
                         f"{impl.DEFAULT}")
    group.addoption("--forget-device", default=None, choices=devices.CHOICES,
                    help="devices (default $FORGET_DEVICE, else all: GPU tests skip with "
                         "the reason when absent)")
    group.addoption("--forget-profile", default=None, choices=profiles.NAMES,
                    help="run profile of the harness's suites (default $FORGET_PROFILE, else ci)")
    group.addoption("--forget-level", default="contract", choices=LEVELS,
                    help="contract (default) or drop-in (also upstream 7.8.1's exact behaviour)")
    group.addoption("--forget-known-deviations", default=None, metavar="FILE",
                    help="known deviations (path or shipped name): a failure an entry "
                         "excuses (clause, test and symptom, as the CLI) is an xfail; "
                         "stale entries are listed at the end")
    group.addoption("--forget-clause", action="append", default=None, metavar="ID",
                    help="run only the tests of this clause (repeatable)")
    group.addoption("--forget-results", default=None, metavar="PATH",
                    help="append one JSON line per test phase to PATH")


def _from_env(config: pytest.Config, option: str, env: str, choices: tuple[str, ...],
              default: str) -> tuple[str, str | None]:
    """The option, else the environment variable, else ``default``; and a bad env value."""
    given = config.getoption(option)
    if given is not None:
        return given, None
    value = os.environ.get(env)
    if value is None:
        return default, None
    if value not in choices:
        return default, f"${env}={value!r} is not one of {', '.join(choices)}"
    return value, None


def choice(config: pytest.Config) -> Choice:
    """The implementation, device, profile and level chosen for this run."""
    device, bad_device = _from_env(config, "--forget-device", "FORGET_DEVICE",
                                   devices.CHOICES, "all")
    profile, bad_profile = _from_env(config, "--forget-profile", "FORGET_PROFILE",
                                     profiles.NAMES, "ci")
    return Choice(impl=impl.chosen_name(config.getoption("--forget-impl")), device=device,
                  profile=profile, level=config.getoption("--forget-level"),
                  problem=bad_device or bad_profile)


def _names_a_suite(config: pytest.Config) -> bool:
    """Whether the command line (or ``testpaths``) names a harness suite or a file in one."""
    roots = suites.roots()
    for arg in config.args:
        target = arg.split("::", 1)[0]
        if config.option.pyargs and target.startswith(tuple(suites.PACKAGES.values())):
            return True
        path = (config.invocation_params.dir / target).resolve()
        if any(path == root or root in path.parents for root in roots):
            return True
    return False


def is_active(config: pytest.Config) -> bool:
    """A harness run: ``--forget-impl`` given, or the harness's suites named."""
    return config.stash.get(ACTIVE_KEY, False)


def enter_harness(config: pytest.Config) -> None:
    """Set up a run of the harness's suites: check the choice, register marks, pick the profile.

    Called when the run is a harness run, and by the suites' ``conftest.py`` when collected.
    """
    chosen = config.stash.setdefault(CHOICE_KEY, choice(config))
    if chosen.problem:
        raise pytest.UsageError(f"forget-conformance: {chosen.problem}")
    profiles.activate(chosen.profile)
    config.addinivalue_line(
        "markers", "clause(*ids): the contract clauses (catalogue IDs) a test checks")
    # chainer.testing (imported by gradient_check) decorates with an unregistered mark.
    config.addinivalue_line("markers", "gpu: chainer.testing's GPU mark")


def pytest_configure(config: pytest.Config) -> None:
    active = config.getoption("--forget-impl") is not None or _names_a_suite(config)
    config.stash[ACTIVE_KEY] = active
    config.stash.setdefault(CHOICE_KEY, choice(config))
    if active:
        enter_harness(config)
    known = config.getoption("--forget-known-deviations")
    try:
        config.stash[KNOWN_KEY] = deviations.load(known) if known else []
    except deviations.DeviationsError as exc:
        raise pytest.UsageError(f"forget-conformance: {exc}") from None
    if config.stash[KNOWN_KEY]:
        config.pluginmanager.register(DeviationLog(config.stash[KNOWN_KEY]),
                                      "forget-conformance-deviations")
    path = config.getoption("--forget-results")
    try:
        config.stash[RESULTS_KEY] = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
    except OSError as exc:
        raise pytest.UsageError(f"forget-conformance: cannot write results to {path}: "
                                f"{exc.strerror}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    stream = config.stash.get(RESULTS_KEY, None)
    if stream is not None:
        stream.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    if not is_active(config):
        return None
    chosen = config.stash[CHOICE_KEY]
    target = impl.ALIASES.get(chosen.impl, chosen.impl)
    return (f"forget-conformance: implementation {chosen.impl} ({target}), device "
            f"{chosen.device}, profile {chosen.profile}, level {chosen.level}")


def clause_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("clause"):
        ids.extend(mark.args)
    return tuple(dict.fromkeys(ids))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.stash[CHOICE_KEY]
    if chosen.problem and any(name.startswith("forget_") for item in items
                              for name in getattr(item, "fixturenames", ())):
        # A foreign suite that uses the forget_* fixtures: one line, exit 4, no traceback.
        raise pytest.UsageError(f"forget-conformance: {chosen.problem}")
    roots = suites.roots()
    level = config.getoption("--forget-level")
    wanted = config.getoption("--forget-clause")
    if wanted:
        for clause_id in wanted:
            try:
                catalogue.get(clause_id)
            except KeyError as exc:
                raise pytest.UsageError(f"forget-conformance: {exc.args[0]}") from None
        keep = [i for i in items if set(clause_ids(i)) & set(wanted)]
        dropped = [i for i in items if not set(clause_ids(i)) & set(wanted)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    for item in items:
        if not (is_active(config) or any(root in item.path.parents for root in roots)):
            continue  # a foreign test's own ``clause`` mark is none of our business
        ids = clause_ids(item)
        for clause_id in ids:
            clause = catalogue.get(clause_id)  # an unknown ID is a collection error
            if clause.level == "drop-in" and level == "contract":
                item.add_marker(pytest.mark.skip(reason=f"{clause_id} is not judged at --level "
                                                        "contract"))
        skip = item.get_closest_marker("skip")
        _emit(config, records.collected(item.nodeid, ids,
                                        skip.kwargs.get("reason", "skipped") if skip else None))


def _emit(config: pytest.Config, record: records.Record) -> None:
    stream = config.stash.get(RESULTS_KEY, None)
    if stream is not None:
        stream.write(records.dumps(record) + "\n")
        stream.flush()


def emit_progress(item: pytest.Item, done: int, total: int, elapsed: float,
                  failures: int) -> None:
    """A :class:`~forget_conformance.records.Progress` line for a long test (the supervisor's
    watchdog follows it)."""
    _emit(item.config, records.progress(item.nodeid, done, total, elapsed, failures))


def report_record(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport
                  ) -> records.PhaseReport:
    """The ``--forget-results`` line for one test phase (what ``supervisor``/``verdicts`` read)."""
    violated = symptom = reproducer = None
    if call.excinfo is not None and isinstance(call.excinfo.value, catalogue.ClauseViolation):
        violated = call.excinfo.value.clause_id
    message = ""
    if call.excinfo is not None:
        value = call.excinfo.value
        symptom = {"setup": symptoms.HARNESS, "teardown": "state-changed"}.get(
            report.when, symptoms.of(value))
        reproducer = next((n.split(": ", 1)[1] for n in getattr(value, "__notes__", ())
                           if n.startswith("reproducer: ")), None)
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
    return records.phase_report(
        item.nodeid, status, clause_ids(item), message.splitlines()[0][:500] if message else "",
        when=report.when, symptom=symptom, violated=violated, reproducer=reproducer,
        outcome=next((v for k, v in item.user_properties if k == "outcome"), None),
        seconds=round(report.duration, 4))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _emit(item.config, records.started(item.nodeid, clause_ids(item)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    entries = item.config.stash.get(KNOWN_KEY, [])
    if report.when != "call" and report.outcome == "passed":
        return report
    if item.config.stash.get(RESULTS_KEY, None) is None and not entries:
        return report
    record = report_record(item, call, report)  # the failure as it is, before any excuse
    _emit(item.config, record)
    if entries:
        report.forget_record = record  # type: ignore[attr-defined]  # DeviationLog reads it
        accepted = verdicts.excused(entries, record) if report.failed else []
        if accepted:
            report.outcome = "skipped"
            report.wasxfail = "known deviation " + "; ".join(
                f"{e.label()}: {e.reason}" for e in accepted)
    return report


class DeviationLog:
    """Registered when a known-deviations file is given: keeps each test phase's record (as
    the CLI reads them; on the xdist controller too) and, at the end, says which failures
    the file accepted and which of its entries are stale, by the CLI's own code."""

    def __init__(self, entries: list[deviations.Entry]) -> None:
        self.entries = entries
        self.seen: list[records.Record] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "forget_record", None)
        if record is not None:
            self.seen.append(record)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = verdicts.aggregate(self.seen, self.entries)
        accepted = [c for r in results for c in r.checks if c.status == "xfail"]
        terminalreporter.write_sep("-", "forget-conformance known deviations")
        terminalreporter.write_line(f"{len(accepted)} failing check(s) accepted by "
                                    f"{len({c.accepted_by for c in accepted})} entries")
        for e in verdicts.stale(self.entries, results, self.seen):
            terminalreporter.write_line(f"stale deviation: {e.label()} ({e.where}) matched no "
                                        "failure although a test it names ran")


# ---------------------------------------------------------------- fixtures
# Only ``forget_*`` names: the plug-in is loaded into foreign suites too.


@pytest.fixture(scope="session")
def forget_implementation(request: pytest.FixtureRequest) -> impl.Implementation:
    """The implementation under test."""
    config = request.config
    # As the CLI finds it: the directory pytest was started in, then the rootdir.
    impl.importable([config.invocation_params.dir, config.rootpath])
    try:
        return impl.resolve(config.stash[CHOICE_KEY].impl)
    except impl.ImplementationError as exc:
        pytest.exit(f"forget-conformance: {exc}", returncode=2)


@pytest.fixture(scope="session")
def forget_reference() -> Any:
    """This project's reference ``forget`` (for comparisons that need a known-good one)."""
    from forget_conformance.reference import forget as reference

    return reference


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "forget_device" in metafunc.fixturenames:
        chosen = metafunc.config.stash[CHOICE_KEY]
        if chosen.problem:
            if hasattr(metafunc.config, "workerinput"):  # an xdist worker: a collection error
                raise pytest.UsageError(f"forget-conformance: {chosen.problem}")
            return  # pytest_collection_modifyitems says it, as a usage error (exit 4)
        specs = devices.selected(chosen.device)
        ids = ["cpu" if s == devices.CPU else "gpu" for s in specs]
        metafunc.parametrize("forget_device", specs, ids=ids, indirect=True)


@pytest.fixture
def forget_device(request: pytest.FixtureRequest) -> Any:
    """A Chainer device to run on; GPU runs skip with the reason when absent."""
    spec = getattr(request, "param", devices.CPU)
    if spec == devices.GPU and devices.gpu_unavailable_reason() is not None:
        pytest.skip(devices.gpu_unavailable_reason())
    return devices.get(spec)
