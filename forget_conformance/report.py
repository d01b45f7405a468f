"""Clause verdicts (``verdicts``) out as a table, JSON and JUnit XML."""

from __future__ import annotations

import json
import platform
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict

from forget_conformance.records import SCHEMA, SCHEMA_VERSION, ClauseResult
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
    suite = ET.Element("testsuite", name=f"forget-conformance.{meta['suite']}",
                       tests=str(len(results)),
                       failures=str(sum(r.status == "fail" for r in results)),
                       errors=str(sum(r.status == "error" for r in results)),
                       skipped=str(sum(r.status in ("skip", "xfail") for r in results)))
    props = ET.SubElement(suite, "properties")
    for key in ("implementation", "device", "profile", "level"):
        ET.SubElement(props, "property", name=key, value=str(meta.get(key)))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"forget_conformance.{r.category}",
                             name=f"{r.id} {r.title}")
        facts = {"status": r.status, "level": r.level, "outcome": "; ".join(r.outcomes),
                 "symptom": ", ".join(r.symptoms), "classification": r.classification,
                 "reproducer": ", ".join(c.reproducer for c in r.checks if c.reproducer)}
        case_props = ET.SubElement(case, "properties")
        for key, value in facts.items():
            if value:
                ET.SubElement(case_props, "property", name=key, value=str(value))
        if r.status in ("fail", "error"):
            tag = "failure" if r.status == "fail" else "error"
            ET.SubElement(case, tag, message=r.detail[:500]).text = r.detail
        elif r.status in ("skip", "xfail"):
            ET.SubElement(case, "skipped", message=f"{r.status}: {r.detail}"[:500])
        else:
            ET.SubElement(case, "system-out").text = f"{r.status}: {r.detail}"
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def meta(opts, impl, known_file: str | None) -> dict:
    return {"implementation": {"name": impl.name, "target": impl.target},
            "suite": opts.suite, "device": opts.device, "profile": opts.profile,
            "level": opts.level, "known_deviations": known_file, "argv": sys.argv[1:]}
