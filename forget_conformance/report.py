"""Clause verdicts (``verdicts``) out as a table, JSON and JUnit XML."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import asdict

from forget_conformance import suites
from forget_conformance.records import SCHEMA, SCHEMA_VERSION, Case, ClauseResult
from forget_conformance.verdicts import STATUSES, exit_code


def table(results: list[ClauseResult], stale_entries: list | None = None,
          width: int = 100) -> str:
    """One line per clause, then each failure's symptom and classification, stale
    deviations and the skip reasons."""
    lines = [f"{'clause':<7}{'status':<7} detail", "-" * width]
    for r in results:
        detail = f"{r.title}: {r.detail}"
        if len(detail) > width - 15:
            detail = detail[: width - 18] + "..."
        lines.append(f"{r.id:<7}{r.status:<7} {detail}")
    lines.append("-" * width)
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for r in results:
        if r.status in ("fail", "xfail", "xpass", "error"):
            lines.append(f"{r.id} {r.status}: {r.detail}")
        for c in r.checks:
            if c.status != "pass" or c.classification:
                extra = "".join(f"; {k}: {v}" for k, v in (
                    ("accepted by", c.accepted_by), ("reproducer", c.reproducer)) if v)
                lines.append(f"  {c.status:<6}{c.test.split('::')[-1]}: {c.symptom or 'pass'}"
                             f"{f' ({c.classification})' if c.classification else ''}{extra}")
                if c.rerun:
                    lines.append(f"        rerun: {c.rerun}")
                if c.reproducer and c.status in ("fail", "error"):
                    lines.append(f"        reproduce: python3 {shlex.quote(c.reproducer)}")
    for e in stale_entries or []:
        lines.append(f"stale deviation: {e.label()} ({e.where}) matched no failure")
    reasons = dict.fromkeys(reason for r in results for reason in r.skip_reasons)
    lines += [f"skipped: {reason}" for reason in reasons]
    return "\n".join(lines)


def campaign_lines(summary: dict) -> str:
    """A campaign's totals: graphs, rate, failures, graphs per feature, features never reached."""
    features = ", ".join(f"{name} {n}" for name, n in summary["features"].items())
    lines = [f"campaign: {summary['graphs']} graphs in {summary['seconds']} s "
             f"({summary['graphs_per_second']} graphs/s) by {summary['workers']} worker(s), "
             f"shard {summary['shard']}, {summary['failures']} failure(s)",
             f"  graphs per feature: {features}"]
    if summary["features_never_reached"]:
        lines.append("  never reached: " + ", ".join(summary["features_never_reached"]))
    return "\n".join(lines)


def versions() -> dict[str, str | None]:
    import chainer
    import numpy

    try:
        import cupy

        cupy_version = cupy.__version__
    except Exception:  # noqa: BLE001 - absent or broken CUDA install
        cupy_version = None
    return {"chainer": chainer.__version__, "numpy": numpy.__version__, "cupy": cupy_version,
            "python": platform.python_version()}


def to_json(results: list[ClauseResult], meta: dict, stale_entries: list | None = None) -> str:
    doc = dict(schema=SCHEMA, schema_version=SCHEMA_VERSION, **meta, versions=versions(),
               exit_code=exit_code(results, stale_entries if meta.get("strict_deviations")
                                   else None),
               stale_deviations=[{"entry": e.label(), "where": e.where, "reason": e.reason}
                                 for e in stale_entries or []],
               clauses=[asdict(r) for r in results])
    return json.dumps(doc, indent=2) + "\n"


def to_junit(results: list[ClauseResult], meta: dict) -> str:
    """JUnit XML: one test suite per clause, one test case per test run for it (classname:
    the clause ID; name: the full node id; ``time``: the test's seconds), a failure for each
    failing check, an error for each harness error, a skip for skipped and accepted ones. A
    clause that ran no test is one skipped case, so every clause shows."""
    root = ET.Element("testsuites", name=f"forget-conformance.{meta['suite']}")
    for r in results:
        checks = {c.test: c for c in r.checks}
        cases = r.cases or [Case(f"{r.id} {r.title}", "skipped", None, r.detail)]
        suite = ET.SubElement(root, "testsuite", name=f"{r.id} {r.title}", tests=str(len(cases)),
                              time=_seconds(sum(c.seconds or 0 for c in cases)))
        props = ET.SubElement(suite, "properties")
        for key, value in (("clause", r.id), ("status", r.status), ("detail", r.detail),
                           ("level", r.level), ("implementation", _name(meta)),
                           ("device", meta.get("device")), ("profile", meta.get("profile"))):
            ET.SubElement(props, "property", name=key, value=_plain(value))
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            check = checks.get(case.test)
            element = ET.SubElement(suite, "testcase", classname=r.id, name=case.test,
                                    time=_seconds(case.seconds or 0))
            facts = {"clause": r.id, "status": check.status if check else case.status,
                     "symptom": check and check.symptom,
                     "classification": check and check.classification,
                     "accepted_by": check and check.accepted_by,
                     "reproducer": check and check.reproducer, "rerun": check and check.rerun}
            case_props = ET.SubElement(element, "properties")
            for key, value in facts.items():
                if value:
                    ET.SubElement(case_props, "property", name=key, value=_plain(value))
            if check is not None and check.status in ("fail", "error"):
                kind = "failure" if check.status == "fail" else "error"
                counts["failures" if kind == "failure" else "errors"] += 1
                text = "\n".join(x for x in (check.message, f"symptom: {check.symptom}",
                                              check.rerun and f"rerun: {check.rerun}",
                                              check.reproducer and
                                              f"reproducer: {check.reproducer}") if x)
                ET.SubElement(element, kind, message=check.message[:500],
                              type=check.symptom or kind).text = text
            elif check is not None and check.status == "xfail":
                counts["skipped"] += 1
                ET.SubElement(element, "skipped",
                              message=f"accepted by {check.accepted_by}: {check.message}"[:500])
            elif case.status in ("skipped", "xfail"):
                counts["skipped"] += 1
                ET.SubElement(element, "skipped", message=(case.message or case.status)[:500])
            elif case.status == "failed":  # an informational clause: reported, not failed
                ET.SubElement(element, "system-out").text = f"informational: {case.message}"
        for key, n in counts.items():
            suite.set(key, str(n))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, 0)) for s in root)))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _plain(value: object) -> str:
    """A property value as a plain string (no dicts or lists printed as Python)."""
    if isinstance(value, dict):
        return str(value.get("name", value))
    return str(value)


def _name(meta: dict) -> str:
    implementation = meta.get("implementation") or {}
    return str(implementation.get("name", implementation))


def rerun_command(test: str, opts) -> str:
    """A shell command that reruns one test (full node id) on the implementation of ``opts``
    (a ``supervisor.RunOptions``), from the directory the CLI ran in."""
    words = ["pytest", "-p", "no:cacheprovider", "--pyargs", suites.pyargs(test),
             "--forget-impl", opts.impl_name or opts.impl]
    for option, value, default in (("--forget-device", opts.device, "all"),
                                   ("--forget-profile", opts.profile, "ci"),
                                   ("--forget-level", opts.level, "contract")):
        if value != default:
            words += [option, value]
    env = [f"FORGET_FUZZ_SEED={opts.seed}"] if opts.seed is not None else []
    if opts.max_examples is not None:
        env.append(f"FORGET_FUZZ_MAX_EXAMPLES={opts.max_examples}")
    return " ".join(env + [shlex.quote(w) for w in words])


def add_reruns(results: list[ClauseResult], opts) -> None:
    """Give each failing check (or harness error) its rerun command."""
    for r in results:
        for c in r.checks:
            if c.status in ("fail", "error"):
                c.rerun = rerun_command(c.test, opts)


# ---------------------------------------------------------------- GitHub Actions


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(results: list[ClauseResult]) -> list[str]:
    """``::error`` workflow commands: one per failing check, one per harness error (a
    warning: no verdict)."""
    lines = []
    for r in results:
        for c in r.checks:
            if c.status not in ("fail", "error"):
                continue
            level = "error" if c.status == "fail" else "warning"
            title = f"forget-conformance {r.id} {c.status}: {c.test.split('::')[-1]}"
            body = f"{r.id} {r.title}: [{c.symptom}] {c.message}"
            if c.rerun:
                body += f"\nrerun: {c.rerun}"
            lines.append(f"::{level} title={_escape(title, prop=True)}::{_escape(body)}")
    return lines


def github_summary(results: list[ClauseResult], meta: dict, code: int) -> str:
    """The job summary: a clause x status table (Markdown)."""
    cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = [f"### forget-conformance: {cell(_name(meta))}, suite {meta.get('suite')} "
             f"(exit {code})", "", "| clause | title | status | tests | detail |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        tests = ", ".join(f"{n} {k}" for k, n in r.tests.items())
        detail = r.detail if len(r.detail) <= 160 else r.detail[:157] + "..."
        lines.append(f"| {r.id} | {cell(r.title)} | {r.status} | {tests} | {cell(detail)} |")
    return "\n".join(lines) + "\n"


def github(results: list[ClauseResult], meta: dict, code: int,
           env: dict[str, str] | None = None) -> None:
    """On GitHub Actions (``GITHUB_ACTIONS=true``): annotations on stdout, and the summary
    appended to ``$GITHUB_STEP_SUMMARY``."""
    where: Mapping[str, str] = os.environ if env is None else env
    if where.get("GITHUB_ACTIONS") != "true":
        return
    for line in github_annotations(results):
        print(line)
    path = where.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(github_summary(results, meta, code) + "\n")


def meta(opts, impl, known_file: str | None) -> dict:
    return {"implementation": {"name": impl.name, "target": impl.target},
            "suite": opts.suite, "device": opts.device, "profile": opts.profile,
            "level": opts.level, "known_deviations": known_file, "argv": sys.argv[1:]}
