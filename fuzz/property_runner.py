"""Runs one fuzz property under the active profile; writes reproducers for final failures.

Settings: ``profiles.examples(base)`` examples unless ``$FORGET_FUZZ_MAX_EXAMPLES``;
``$FORGET_FUZZ_SEED`` fixes the seed (and turns off the ``ci`` derandomisation);
the example database is ``$FORGET_FUZZ_DATABASE`` (a folder or ``redis://...``, see
``databases``; default ``examples/`` under ``outputs.default_dir()``, never the working
directory): every failing example is saved there, and replayed first by the next run in
every profile but the deterministic ``ci``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import given, note, settings
from hypothesis.control import current_build_context
from hypothesis.database import ExampleDatabase

from forget_conformance import databases, outputs, profiles
from forget_conformance.catalogue import ClauseViolation
from forget_conformance.fuzz import corpus, oracle, reproducer
from forget_conformance.fuzz.coverage import Coverage
from forget_conformance.impl import Implementation

ENV_MAX_EXAMPLES = "FORGET_FUZZ_MAX_EXAMPLES"
ENV_SEED = "FORGET_FUZZ_SEED"
ENV_DATABASE = outputs.ENV_DATABASE
ENV_EXAMPLE_TIMEOUT = "FORGET_EXAMPLE_TIMEOUT"
PROGRESS_SECONDS = 10.0


def max_examples(base: int) -> int:
    return int(os.environ.get(ENV_MAX_EXAMPLES) or profiles.examples(base))


class Progress:
    """Examples run, failing examples seen, feature coverage; every ``every`` seconds (at
    the end of an example) ``report`` gets it, for a progress line on the terminal and a
    progress record the supervisor's watchdog follows."""

    def __init__(self, label: str, total: int = 0, every: float | None = None,
                 report: Callable[[Progress], None] | None = None) -> None:
        self.label, self.total, self.report = label, total, report
        self.every = PROGRESS_SECONDS if every is None else every
        self.count = self.failures = 0
        self.start = self.last = time.monotonic()
        self.coverage = Coverage()
        self.first_failure: int | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def failed(self) -> None:
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = self.count

    def tick(self, graph) -> None:
        self.count += 1
        self.coverage.add(graph)

    def done_one(self) -> None:
        """An example finished: report if ``every`` seconds passed since the last report."""
        now = time.monotonic()
        if self.report is not None and now - self.last >= self.every:
            self.last = now
            self.report(self)

    def line(self) -> str:
        return (f"[fuzz {self.label}] {self.count}/{self.total} examples, "
                f"{self.elapsed:.0f} s, {self.failures} failing so far")


class ExampleHang(BaseException):
    """One example ran past its limit. A BaseException, so that hypothesis stops at once
    instead of shrinking (each shrinking step could hang as long)."""


def example_limit() -> float:
    """Seconds one example may run: ``$FORGET_EXAMPLE_TIMEOUT`` (the CLI's ``--timeout``),
    default 60; 0 turns the limit off."""
    return float(os.environ.get(ENV_EXAMPLE_TIMEOUT) or 60)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ExampleHang` in the main thread after ``seconds`` (SIGALRM; nothing
    where signals are not available). An outer timer (pytest-timeout's) that would fire
    first is left alone; a later one is set again, less the time this took."""
    usable = seconds > 0 and hasattr(signal, "setitimer") and (
        threading.current_thread() is threading.main_thread())
    outer = signal.getitimer(signal.ITIMER_REAL)[0] if usable else 0.0
    if not usable or 0 < outer <= seconds:
        yield
        return

    def expired(signum, frame):
        raise ExampleHang(f"ran past its limit of {seconds:g} s")

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3))


@dataclass
class FuzzLog:
    """What one :func:`fuzz` call saw, filled in as it runs (so it is there when it raises):
    its :class:`Progress` (examples, first failure, coverage) and the reproducers written."""

    progress: Progress | None = None
    reproducers: list[Path] = field(default_factory=list)
    report: Callable[[Progress], None] | None = None  # progress, every PROGRESS_SECONDS
    differences: list[str] = field(default_factory=list)  # informational targets: observed

    def observation(self, what: str) -> str:
        """An informational target's report: how many graphs differed, the first."""
        count = self.progress.count if self.progress else 0
        if not self.differences:
            return f"{what}: all {count} graphs agree with the plain path"
        where = f"; reproducer: {self.reproducers[0]}" if self.reproducers else ""
        return (f"{what}: {len(self.differences)} of {count} graphs differ from the plain path; "
                f"unsupported, as documented (first: {self.differences[0]}{where})")


class _SaveOnly(ExampleDatabase):
    """Saves failures to ``inner`` but replays none: keeps ``ci`` runs deterministic."""

    def __init__(self, inner: ExampleDatabase) -> None:
        super().__init__()
        self.inner = inner

    def save(self, key: bytes, value: bytes) -> None:
        self.inner.save(key, value)

    def fetch(self, key: bytes):
        return iter(())

    def delete(self, key: bytes, value: bytes) -> None:
        self.inner.delete(key, value)


def _database(deterministic: bool, test: str) -> corpus.Replaying:
    """The example database: failures are always kept; ``ci`` does not replay them, but
    every profile replays the regression corpora's examples of ``test`` first."""
    directory = databases.open_database(outputs.database())
    return corpus.Replaying(_SaveOnly(directory) if deterministic else directory,
                            corpus.examples(test))


def fuzz(check: str, strategy: hypothesis.strategies.SearchStrategy, implementation:
         Implementation, device: Any, base_examples: int, test: str,
         log: FuzzLog | None = None, informational: bool = False,
         hang_clause: str = "D1", *, seed: int | None = None,
         examples: int | None = None) -> int:
    """Run ``oracle.CHECKS[check]`` on graphs from ``strategy``; returns examples run.

    On failure the final (shrunk) example is written as a reproducer script, whose
    path is added to the failure report, then the failure is re-raised. ``log``, when
    given, receives the progress and the reproducers' paths; a log that has a progress
    already (a campaign's earlier chunk) keeps counting in it. ``seed`` and ``examples``
    override ``$FORGET_FUZZ_SEED`` and the profile's example count. ``informational``:
    graphs outside the contract; a difference from the plain path (a ``ClauseViolation``)
    is recorded in ``log.differences`` (a reproducer for the first), never raised.
    An example that runs past :func:`example_limit` stops the run at once: a
    ``ClauseViolation`` of ``hang_clause`` (the test's own clause), symptom ``hang``,
    with that example's reproducer.
    """
    device_name = getattr(device, "name", str(device))
    log = log if log is not None else FuzzLog()
    total = examples or max_examples(base_examples)
    progress = log.progress = log.progress or Progress(
        f"{test} {implementation.name}", report=log.report)
    progress.total = progress.count + total  # a campaign's chunks add up
    limit = example_limit()
    hung: list[tuple[int, Path, str]] = []  # the example that ran past its limit
    written = log.reproducers
    chosen = str(seed) if seed is not None else os.environ.get(ENV_SEED)
    options = _options(total, chosen, test)

    @settings(**options)
    @given(graph=strategy)
    def prop(graph) -> None:
        progress.tick(graph)
        try:
            with _time_limit(limit):
                if oracle.CHECKS[check](graph, implementation.forget, device):
                    progress.coverage.memory_checked += 1
        except ExampleHang as exc:
            progress.failed()
            path = reproducer.write(graph, exc, implementation.target, check, device_name, test)
            written.append(path)
            hung.append((progress.count, path, str(exc)))
            raise
        except Exception as exc:
            if informational and isinstance(exc, ClauseViolation):
                log.differences.append(' '.join(str(exc).split())[:200])
                if len(log.differences) == 1:
                    written.append(reproducer.write(graph, exc, implementation.target, check,
                                                    device_name, test))
                return
            progress.failed()
            if current_build_context().is_final:
                path = reproducer.write(graph, exc, implementation.target, check, device_name,
                                        test)
                written.append(path)
                note(f"reproducer: {path}")
            raise
        finally:
            progress.done_one()
            progress.coverage.label(progress.coverage.last)

    prop._hypothesis_internal_add_digest = f"{test}|{implementation.target}".encode()
    if chosen:
        # Not hypothesis.seed(), which also turns the example database off: seeded runs
        # (shards, campaign chunks) save their failures and replay the others'.
        setattr(prop, "_hypothesis_internal_use_seed", int(chosen))  # noqa: B010 - for mypy
    try:
        prop()
    except ExampleHang:
        raise _hang(hang_clause, total, *hung[-1]) from None
    except BaseException as exc:
        _record_replay(exc, chosen, written)
        _add_to_corpus(options["database"], test, check, implementation, device_name, exc,
                       written)
        raise
    return progress.count


def _options(total: int, seed: str | None, test: str) -> dict[str, Any]:
    """The hypothesis settings of one run.

    One failure per test, so it is attributed to one clause (the plug-in reads a single
    ClauseViolation); further bugs show up once the first is fixed. The profile comes in
    as ``parent``: ``prop``'s source, which seeds derandomized runs, stays as it was, so
    ci draws the graphs that fuzz/FINDINGS.md measured.
    """
    options: dict[str, Any] = {"parent": profiles.hypothesis_settings(), "max_examples": total,
                               "report_multiple_bugs": False,
                               "database": _database(not seed and profiles.current() == "ci",
                                                     test)}
    if seed:
        options["derandomize"] = False
    return options


def _hang(clause: str, total: int, number: int, path: Path, why: str) -> ClauseViolation:
    """The failure of a run stopped by an example past its limit, charged to ``clause``."""
    error = ClauseViolation(clause, f"example {number} of {total} {why} (a hang); "
                                    f"reproducer: {path}", "hang")
    setattr(error, "__notes__", [f"reproducer: {path}"])  # noqa: B010 - as add_note does
    return error


def _record_replay(exc: BaseException, seed: str | None, written: list[Path]) -> None:
    """Copy each failure's ``@reproduce_failure`` line into its own reproducer."""
    where = f"seed={seed}" if seed else f"profile={profiles.current()} (derandomized)" if (
        profiles.current() == "ci") else f"profile={profiles.current()}"
    for leaf in _leaves(exc):
        lines = [line.strip() for n in getattr(leaf, "__notes__", []) for line in n.splitlines()]
        blob = next((ln for ln in lines if "reproduce_failure" in ln), "no blob printed")
        for path in written:
            if any(str(path) in ln for ln in lines):
                reproducer.add_replay(path, f"{where}; {blob}")


def _add_to_corpus(database: corpus.Replaying, test: str, check: str, implementation:
                   Implementation, device: str, exc: BaseException, written: list[Path]) -> None:
    """A failure's example (and its reproducer) into ``--corpus``, when one is given."""
    blob = next((line.strip() for n in getattr(exc, "__notes__", []) for line in n.splitlines()
                 if "reproduce_failure" in line), None)
    for example in database.failures()[-1:]:
        corpus.add(test, example, written[-1] if written else None, {
            "clause": getattr(exc, "clause_id", None), "check": check, "device": device,
            "found_on": implementation.target, "reproduce_failure": blob})


def _leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup: several distinct bugs
    return [leaf for e in inner for leaf in _leaves(e)] if inner else [exc]
