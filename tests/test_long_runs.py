"""Long runs: a per-example time limit, progress lines and records, a watchdog that
follows them, and a hang or crash charged to its own test's clause."""

from __future__ import annotations

import pytest

from forget_conformance import impl, profiles, records, supervisor, verdicts
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.fuzz import property_runner, targets


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    previous = profiles.current()
    profiles.activate("ci")
    monkeypatch.setenv(property_runner.ENV_DATABASE, str(tmp_path / "db"))
    monkeypatch.setenv("FORGET_FUZZ_FAILURES", str(tmp_path / "failures"))
    monkeypatch.setenv("FORGET_FAULT_MARKER", str(tmp_path / "marker"))
    monkeypatch.delenv(property_runner.ENV_SEED, raising=False)
    monkeypatch.delenv(property_runner.ENV_MAX_EXAMPLES, raising=False)
    yield
    profiles.activate(previous)


def test_an_example_past_its_limit_is_a_hang_of_the_tests_clause_with_its_reproducer(
        monkeypatch, tmp_path):
    monkeypatch.setenv(property_runner.ENV_EXAMPLE_TIMEOUT, "1")
    log = property_runner.FuzzLog()
    with pytest.raises(ClauseViolation) as info:
        targets.run("shared_parameters", impl.resolve("tests.broken.faulty:spins_once"),
                    "@numpy", log)
    error = info.value
    assert error.clause_id == "T3" and error.symptom == "hang"  # the test's own clause
    assert "ran past its limit of 1 s" in str(error)
    assert f"example {log.progress.count} of " in str(error)  # the last run: not shrunk
    (path,) = log.reproducers
    assert path.parent == tmp_path / "failures" and f"reproducer: {path}" in error.__notes__


def test_progress_is_reported_every_period_with_done_total_elapsed_failures(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(property_runner, "PROGRESS_SECONDS", 0.0)
    log = property_runner.FuzzLog(report=lambda p: seen.append(p.line()))
    monkeypatch.setenv(property_runner.ENV_MAX_EXAMPLES, "3")
    targets.run("differential", impl.resolve("reference"), "@numpy", log)
    assert seen[-1].startswith("[fuzz differential reference] 3/3 examples, ")
    assert seen[-1].endswith(" s, 0 failing so far") and len(seen) == 3


def test_progress_records_are_records():
    line = records.dumps(records.progress("t.py::x", 5, 10, 1.234, 1))
    assert '"event": "progress"' in line and '"elapsed": 1.2' in line


class _Clock:
    """Time that passes only when the watchdog sleeps; ``on_sleep`` runs at each step."""

    def __init__(self, on_sleep) -> None:
        self.now, self.on_sleep = 0.0, on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.on_sleep(self.now)


class _Child:
    """A child process that runs until ``until`` (clock time), or until killed."""

    def __init__(self, clock: _Clock, until: float) -> None:
        self.clock, self.until, self.killed = clock, until, False

    def poll(self):
        return 0 if self.killed or self.clock.now >= self.until else None


def _watch(monkeypatch, tmp_path, every: float | None, until: float, limit: float):
    results = tmp_path / "results.jsonl"
    results.touch()

    def write(now: float) -> None:  # a progress record every ``every`` seconds
        if every and round(now / 0.2) % round(every / 0.2) == 0:
            with results.open("a") as out:
                out.write(records.dumps(records.progress("t", int(now), 0, now, 0)) + "\n")

    clock = _Clock(write)
    child = _Child(clock, until)
    monkeypatch.setattr(supervisor, "time", clock)
    monkeypatch.setattr(supervisor, "stop_group", lambda proc, grace=2.0: setattr(
        proc, "killed", True))
    return supervisor._watch(child, results, limit), clock.now


def test_the_watchdog_follows_progress_records(monkeypatch, tmp_path):
    # a test running 10 min, silent between progress records 10 s apart: never killed
    why, when = _watch(monkeypatch, tmp_path, every=10, until=600, limit=75)
    assert why is None and when >= 600


def test_the_watchdog_stops_silence(monkeypatch, tmp_path):
    why, when = _watch(monkeypatch, tmp_path, every=None, until=600, limit=75)
    assert why == "no progress for 75 s: the run was killed" and 75 < when < 76


def test_a_hang_is_charged_to_its_tests_own_clause_only():
    start = records.started("fuzz/test_fuzz_graphs.py::test_x[cpu]", ["D1", "D3", "T4"])
    recs = [start, *supervisor.charge([start], "no progress for 75 s", "hang")]
    result = {c.id: c for c in verdicts.aggregate(recs, [])}
    assert result["D1"].status == "fail" and result["D1"].checks[0].symptom == "hang"
    assert result["D3"].status == result["T4"].status == "skip"
    assert "stopped at D1" in result["D3"].detail


@pytest.mark.slow
def test_reference_passes_the_full_fuzz_profile_with_a_fixed_seed(tmp_path):
    """Issue 15: the deeper profile must not reject the reference (about 10 min on 2 cores)."""
    from tests.helpers import run_cli

    report = tmp_path / "r.json"
    proc = run_cli("--impl", "reference", "--suite", "fuzz", "--profile", "full", "--seed", "1",
                   "--no-upstream-oracle", "--report-json", str(report),
                   env={"FORGET_FUZZ_FAILURES": str(tmp_path / "failures"),
                        "FORGET_FUZZ_DATABASE": str(tmp_path / "db")}, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_an_outer_timer_survives_the_example_limit():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with property_runner._time_limit(5):
            pass
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 25 < left <= 30  # pytest-timeout's alarm is still set
        with property_runner._time_limit(60):  # the outer fires first: left alone
            assert signal.getitimer(signal.ITIMER_REAL)[0] <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not fired
