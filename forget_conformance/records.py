"""The records that pass between the harness's processes, and the report they become.

The one definition of each, used by both sides:

* the child pytest run (``plugin``) appends one JSON line per event to the results file:
  :class:`Collected`, :class:`Started`, :class:`PhaseReport`, and :class:`Progress` from
  long tests; the ``supervisor`` reads
  them back (:func:`read`) and adds its own :class:`PhaseReport` for a test that
  crashed, hung or never ran;
* ``verdicts`` turns them into :class:`ClauseResult` s, each with its :class:`Check` s;
* ``report`` writes those as the JSON report, whose JSON Schema :func:`report_schema`
  derives from these definitions (``docs/report.schema.json`` is its output).

Records are ``TypedDict`` s (they are JSON lines: dicts on both sides); the report's
parts are dataclasses. Build records with the constructors, never as dict literals.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, Union

Status = Literal["passed", "failed", "skipped", "xfail", "xpass", "error"]


class Collected(TypedDict):
    """A test the child collected: its clauses, and why it is skipped before it runs."""

    event: Literal["collected"]
    nodeid: str
    clauses: list[str]
    skip: str | None


class Started(TypedDict):
    """A test the child started (a test started but never reported crashed or hung)."""

    event: Literal["start"]
    nodeid: str
    clauses: list[str]


class PhaseReport(TypedDict):
    """One phase of one test: its status, the clause it names as violated, its symptom
    (``symptoms``), the first line of its message, its outcome (informational clauses) and
    a fuzz reproducer's path. ``error`` is the supervisor's: no verdict on the test."""

    event: Literal["report"]
    nodeid: str
    when: Literal["setup", "call", "teardown"]
    status: Status
    clauses: list[str]
    violated: str | None
    message: str
    symptom: str | None
    outcome: str | None
    reproducer: str | None
    seconds: float | None  # the phase's duration as pytest measured it


class Progress(TypedDict):
    """A long test's progress (fuzz examples done of ``total``, seconds since it started,
    failing examples so far): the supervisor's watchdog counts it as progress."""

    event: Literal["progress"]
    nodeid: str
    done: int
    total: int
    elapsed: float
    failures: int


Record = Collected | Started | PhaseReport | Progress


def collected(nodeid: str, clauses: typing.Sequence[str], skip: str | None) -> Collected:
    return Collected(event="collected", nodeid=nodeid, clauses=list(clauses), skip=skip)


def started(nodeid: str, clauses: typing.Sequence[str]) -> Started:
    return Started(event="start", nodeid=nodeid, clauses=list(clauses))


def progress(nodeid: str, done: int, total: int, elapsed: float, failures: int) -> Progress:
    return Progress(event="progress", nodeid=nodeid, done=done, total=total,
                    elapsed=round(elapsed, 1), failures=failures)


def phase_report(nodeid: str, status: Status, clauses: typing.Sequence[str], message: str = "",
                 *, when: Literal["setup", "call", "teardown"] = "call",
                 symptom: str | None = None, violated: str | None = None,
                 outcome: str | None = None, reproducer: str | None = None,
                 seconds: float | None = None) -> PhaseReport:
    return PhaseReport(event="report", nodeid=nodeid, when=when, status=status,
                       clauses=list(clauses), violated=violated, message=message,
                       symptom=symptom, outcome=outcome, reproducer=reproducer,
                       seconds=seconds)


def dumps(record: Record) -> str:
    """One results-file line."""
    return json.dumps(record)


def read(path: Path) -> list[Record]:
    """The records of a results file; a line cut short by a crash is skipped."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


# ---------------------------------------------------------------- the report's parts


@dataclass
class Check:
    """One test's failure as charged to one clause (or a pass that fixes upstream)."""

    test: str  # the pytest node id
    status: Literal["fail", "xfail", "error", "pass"]  # xfail: accepted; error: no verdict
    symptom: str | None
    message: str
    classification: str | None = None  # new defect / inherits upstream / fixes upstream
    accepted_by: str | None = None  # the deviation entry, or "upstream behaviour"
    reproducer: str | None = None
    rerun: str | None = None  # a shell command that reruns just this test on this implementation


@dataclass
class Case:
    """One test run for a clause: its full node id, final pytest status and duration."""

    test: str  # forget_conformance/<suite>/<file>.py::<name>
    status: Status
    seconds: float | None = None
    message: str = ""  # why it failed or was skipped (its first line)


@dataclass
class ClauseResult:
    """The verdict on one clause, with the counts and checks behind it."""

    id: str
    title: str
    category: str
    informational: bool
    status: Literal["pass", "fail", "xfail", "xpass", "skip", "error"]
    detail: str
    tests: dict[str, int] = field(default_factory=dict)  # pytest status -> count
    skip_reasons: list[str] = field(default_factory=list)
    level: str = "contract"
    outcomes: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    classification: str | None = None
    checks: list[Check] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)  # every test of the clause that was run


class Implementation(TypedDict):
    """The implementation under test: as named, and its ``MODULE:ATTR``."""

    name: str
    target: str


class StaleDeviation(TypedDict):
    """A known-deviation entry that matched no failure although a test it names ran."""

    entry: str
    where: str
    reason: str


class Campaign(TypedDict):
    """A fuzz campaign (``--duration``): how long, how many workers, what it reached."""

    duration: float  # seconds asked for
    seconds: float  # seconds it took, start-up and shut-down included
    workers: int
    shard: str  # I/N
    seed: int  # the base seed of the chunks' seeds
    graphs: int  # examples run, all workers and tests together
    graphs_per_second: float  # graphs / seconds
    failures: int  # tests that ended with a failure (one per test and worker at most)
    per_test: dict[str, int]  # graphs per fuzz target and device
    features: dict[str, int]  # graphs that reached each feature (fuzz/coverage.py)
    features_never_reached: list[str]
    database: str  # the example database spec shared by the workers
    corpus: str | None  # --corpus: where failures were written (and replayed from)


class Report(TypedDict):
    """The document ``--report-json`` writes."""

    schema: str
    schema_version: int
    implementation: Implementation
    suite: str
    device: str
    profile: str
    level: str
    known_deviations: str | None
    argv: list[str]
    seconds: float
    crashes: int
    gave_up: bool
    accept_upstream_behaviour: bool
    strict_deviations: bool
    upstream_oracle: Literal["run", "not run"]
    output_dir: str  # --output-dir: the example database, reproducers, hypothesis' storage
    campaign: Campaign | None  # a fuzz campaign's totals (--duration), else null
    versions: dict[str, str | None]
    exit_code: int
    stale_deviations: list[StaleDeviation]
    clauses: list[ClauseResult]


SCHEMA = "forget-conformance/report"
SCHEMA_VERSION = 3


def report_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Report`, derived from the annotations above."""
    definitions: dict[str, Any] = {}
    root = _schema(Report, definitions)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA}/v{SCHEMA_VERSION}", "title": "forget-conformance report",
            **root, "$defs": definitions}


def _schema(tp: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return {"type": "null"}
    if tp in (str, int, float, bool):
        return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(a, definitions) for a in args]}
    if origin is list:
        return {"type": "array", "items": _schema(args[0], definitions)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], definitions)}
    if dataclasses.is_dataclass(tp) or typing.is_typeddict(tp):
        name = tp.__name__
        if name not in definitions:
            definitions[name] = {}  # placeholder: recursion stops here
            hints = typing.get_type_hints(tp)
            doc = (tp.__doc__ or "").strip()
            definitions[name] = {
                "type": "object", "description": doc.splitlines()[0] if doc else name,
                "properties": {k: _schema(v, definitions) for k, v in hints.items()},
                "required": list(hints), "additionalProperties": False}
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {tp!r}")


if __name__ == "__main__":  # python -m forget_conformance.records > docs/report.schema.json
    print(json.dumps(report_schema(), indent=2))
