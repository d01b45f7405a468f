"""From per-test records to per-clause verdicts, and out as a table, JSON and JUnit XML."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from forget_conformance import catalogue

STATUSES = ("pass", "fail", "xfail", "xpass", "skip", "error")


@dataclass
class ClauseResult:
    id: str
    title: str
    category: str
    informational: bool
    status: str
    detail: str
    tests: dict[str, int] = field(default_factory=dict)
    skip_reasons: list[str] = field(default_factory=list)


def _final_outcomes(records: list[dict]) -> dict[str, dict]:
    """One outcome per test: its worst phase, with the message that explains it."""
    rank = {"failed": 3, "error": 3, "xpass": 2, "xfail": 2, "skipped": 1, "passed": 0}
    out: dict[str, dict] = {}
    for r in records:
        if r.get("event") != "report":
            continue
        prev = out.get(r["nodeid"])
        if prev is None or rank.get(r["status"], 0) > rank.get(prev["status"], 0):
            out[r["nodeid"]] = r
    return out


def aggregate(records: list[dict], known: dict[str, str], suite_clauses: set[str] | None = None
              ) -> list[ClauseResult]:
    """Clause verdicts. ``known`` maps clause IDs to deviation reasons."""
    per_clause: dict[str, list[dict]] = {c.id: [] for c in catalogue.CLAUSES}
    for outcome in _final_outcomes(records).values():
        clauses = outcome["clauses"]
        violated = outcome.get("violated") if outcome["status"] == "failed" else None
        if violated:
            # The test stopped at its first violation: its other clauses went unchecked.
            unchecked = dict(outcome, status="skipped", message=(
                f"not checked: {outcome['nodeid'].split('::')[-1]} stopped at {violated}"))
            for clause_id in clauses:
                if clause_id != violated:
                    per_clause.setdefault(clause_id, []).insert(0, unchecked)
            clauses = [violated]
        for clause_id in clauses:
            per_clause.setdefault(clause_id, []).append(outcome)
    results = []
    for clause in catalogue.CLAUSES:
        outcomes = per_clause[clause.id]
        if suite_clauses is not None and clause.id not in suite_clauses and not outcomes:
            continue
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
        status, detail = _verdict(clause, outcomes, counts, known.get(clause.id))
        reasons = list(dict.fromkeys(o["message"] for o in outcomes if o["status"] == "skipped"))
        results.append(ClauseResult(clause.id, clause.title, clause.category,
                                    clause.informational, status, detail, counts, reasons))
    return results


def _verdict(clause, outcomes, counts, deviation):
    failed = [o for o in outcomes if o["status"] == "failed"]
    ran = [o for o in outcomes if o["status"] in ("passed", "failed")]
    if failed and not clause.informational:
        first = failed[0]
        detail = f"{len(failed)}/{len(ran)} failed; {first['nodeid'].split('::')[-1]}: " \
                 f"{first['message']}"
        if deviation:
            return "xfail", f"known deviation ({deviation}); {detail}"
        return "fail", detail
    errors = [o for o in outcomes if o["status"] == "error"]
    if errors:
        return "error", f"{len(errors)}/{len(outcomes)} tests {errors[0]['message']}"
    if ran:
        observations = [o["message"] for o in outcomes if o["status"] == "passed" and o["message"]]
        detail = observations[0] if clause.informational and observations else \
            f"{len(ran)} passed"
        if clause.informational and failed:
            detail = f"informational: {failed[0]['message']}"
        skipped = [o for o in outcomes if o["status"] == "skipped"]
        if skipped:
            detail += f", {len(skipped)} skipped"
        if deviation:
            return "xpass", f"declared as a known deviation but passes ({detail})"
        return "pass", detail
    skipped = [o for o in outcomes if o["status"] == "skipped"]
    if skipped:
        return "skip", skipped[0]["message"] or "skipped"
    return "skip", "no test of this clause ran"


def nothing_checked(results: list[ClauseResult]) -> bool:
    """True when no clause was checked at all (every one skipped)."""
    return all(r.status == "skip" for r in results)


def exit_code(results: list[ClauseResult]) -> int:
    """1: a clause fails; 3: a clause could not be checked (error) or none was; else 0."""
    if any(r.status == "fail" for r in results):
        return 1
    if any(r.status == "error" for r in results) or nothing_checked(results):
        return 3
    return 0


def table(results: list[ClauseResult], width: int = 100) -> str:
    """One line per clause, then the full detail of each failure and the skip reasons."""
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
        if r.status in ("fail", "xfail", "xpass"):
            lines.append(f"{r.id} {r.status}: {r.detail}")
    reasons = dict.fromkeys(reason for r in results for reason in r.skip_reasons)
    lines += [f"skipped: {reason}" for reason in reasons]
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


def write_atomically(path: str | os.PathLike, text: str) -> None:
    """Write the whole file or nothing: a temporary file renamed into place, created
    with the user's umask, in a folder created when missing."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 is not what the user asked for
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def to_json(results: list[ClauseResult], meta: dict) -> str:
    doc = dict(meta, versions=versions(), exit_code=exit_code(results),
               clauses=[asdict(r) for r in results])
    return json.dumps(doc, indent=2) + "\n"


def to_junit(results: list[ClauseResult], meta: dict) -> str:
    suite = ET.Element("testsuite", name=f"forget-conformance.{meta['suite']}",
                       tests=str(len(results)),
                       failures=str(sum(r.status == "fail" for r in results)),
                       skipped=str(sum(r.status in ("skip", "xfail") for r in results)))
    props = ET.SubElement(suite, "properties")
    for key in ("implementation", "device", "profile"):
        ET.SubElement(props, "property", name=key, value=str(meta.get(key)))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"forget_conformance.{r.category}",
                             name=f"{r.id} {r.title}")
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.detail[:500]).text = r.detail
        elif r.status == "error":
            ET.SubElement(case, "error", message=r.detail[:500]).text = r.detail
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
            "known_deviations": known_file, "argv": sys.argv[1:]}
