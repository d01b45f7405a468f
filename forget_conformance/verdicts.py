"""From per-test records to per-clause verdicts: the one place that decides outcomes.

A test's final outcome is its worst phase; a failure is charged to the clause it names
(``ClauseViolation``), else to all of the test's clauses; each charged failure becomes a
:class:`~forget_conformance.records.Check`, accepted (``xfail``) by a known-deviation entry
that matches its clause, test and symptom, or by upstream's same behaviour when asked, and
classified against upstream 7.8.1's run of the same test. ``report`` writes the result.
"""

from __future__ import annotations

from forget_conformance import catalogue, deviations, symptoms
from forget_conformance.records import Case, Check, ClauseResult, PhaseReport, Record

STATUSES = ("pass", "fail", "xfail", "xpass", "skip", "error")
NEW, INHERITS, FIXES = "new defect", "inherits upstream", "fixes upstream"
UPSTREAM = "upstream behaviour"  # what --accept-upstream-behaviour accepts by


def final_outcomes(records: list[Record]) -> dict[str, PhaseReport]:
    """One outcome per test: its worst phase, with the message that explains it."""
    rank = {"failed": 3, "xpass": 2, "xfail": 2, "skipped": 1, "passed": 0}
    out: dict[str, PhaseReport] = {}
    for record in records:
        if record["event"] != "report":
            continue
        r = record
        if r["status"] == "error":  # no verdict on it (e.g. not run: the runner gave up)
            r = r.copy()
            r["status"], r["symptom"] = "failed", r.get("symptom") or symptoms.HARNESS
        prev = out.get(r["nodeid"])
        if prev is None or rank.get(r["status"], 0) > rank.get(prev["status"], 0):
            out[r["nodeid"]] = r
    return out


def charged(outcome: PhaseReport) -> list[str]:
    """The clauses a test's failure is charged to: the one it names, else all of its own."""
    violated = outcome.get("violated") if outcome["status"] == "failed" else None
    return [violated] if violated else list(outcome["clauses"])


def symptom(outcome: PhaseReport) -> str:
    return outcome.get("symptom") or "check-failed"


def classify(outcome: PhaseReport, clause_id: str,
             upstream: dict[str, PhaseReport] | None) -> str | None:
    """Compare one test with the same test run on upstream 7.8.1 (None: not run there)."""
    theirs = (upstream or {}).get(outcome["nodeid"])
    if theirs is None or theirs["status"] not in ("passed", "failed"):
        return None
    upstream_failed = theirs["status"] == "failed" and clause_id in charged(theirs)
    if outcome["status"] == "passed":
        return FIXES if upstream_failed else None
    same = upstream_failed and symptom(theirs) == symptom(outcome)
    return INHERITS if same else NEW


def aggregate(records: list[Record], entries: list[deviations.Entry],
              suite_clauses: set[str] | None = None, upstream: dict[str, PhaseReport] | None = None,
              accept_upstream: bool = False) -> list[ClauseResult]:
    """Clause verdicts from the records of one run. ``entries`` are known deviations;
    ``upstream`` the final records of the same tests on upstream 7.8.1, where run."""
    per_clause: dict[str, list[PhaseReport]] = {c.id: [] for c in catalogue.CLAUSES}
    for outcome in final_outcomes(records).values():
        clauses = charged(outcome)
        if outcome.get("violated") and outcome["status"] == "failed":
            # The test stopped at its first violation: its other clauses went unchecked.
            unchecked = outcome.copy()
            unchecked["status"] = "skipped"
            unchecked["message"] = (f"not checked: {outcome['nodeid'].split('::')[-1]} "
                                    f"stopped at {outcome['violated']}")
            for clause_id in outcome["clauses"]:
                if clause_id != outcome["violated"]:
                    per_clause.setdefault(clause_id, []).insert(0, unchecked)
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
        checks = [_check(clause, o, entries, upstream, accept_upstream) for o in outcomes
                  if o["status"] == "failed" or classify(o, clause.id, upstream) == FIXES]
        result = ClauseResult(
            clause.id, clause.title, clause.category, clause.informational, "skip", "", counts,
            list(dict.fromkeys(o["message"] for o in outcomes if o["status"] == "skipped")),
            clause.level, list(dict.fromkeys(x for o in outcomes if (x := o.get("outcome")))),
            list(dict.fromkeys(c.symptom for c in checks if c.symptom)), None, checks,
            [Case(o["nodeid"], o["status"], o.get("seconds"),
                  o["message"] if o["status"] != "passed" else "") for o in outcomes])
        declared = [e for e in entries if e.clause == clause.id]
        result.status, result.detail = _verdict(clause, outcomes, checks, declared)
        classes = {c.classification for c in checks if c.status != "pass"} or {
            c.classification for c in checks}
        result.classification = next((k for k in (NEW, INHERITS, FIXES) if k in classes), None)
        results.append(result)
    return results


def accepting(entries: list[deviations.Entry], clause_id: str, outcome: PhaseReport
              ) -> deviations.Entry | None:
    """The known-deviation entry that excuses ``outcome``'s failure as charged to
    ``clause_id``: the first whose clause, test glob and symptom glob match; None for a
    pass or a failure that gives no verdict (harness error, not run)."""
    kind = symptom(outcome)
    if outcome["status"] != "failed" or kind in symptoms.NO_VERDICT:
        return None
    test = outcome["nodeid"].split("::")[-1]
    return next((e for e in entries if e.matches(clause_id, test, kind)), None)


def excused(entries: list[deviations.Entry], outcome: PhaseReport) -> list[deviations.Entry]:
    """The entries that excuse a failed test on every clause it is charged to (what the
    plug-in turns into an xfail); empty when any charged clause's failure stands."""
    found = [accepting(entries, c, outcome) for c in charged(outcome)]
    kept = [e for e in found if e is not None]
    return list(dict.fromkeys(kept)) if found and len(kept) == len(found) else []


def _check(clause, outcome, entries, upstream, accept_upstream) -> Check:
    kind = symptom(outcome) if outcome["status"] == "failed" else None
    check = Check(outcome["nodeid"], "pass", kind, outcome["message"],
                  classify(outcome, clause.id, upstream), reproducer=outcome.get("reproducer"))
    if outcome["status"] != "failed":
        return check
    if kind in symptoms.NO_VERDICT:
        check.status, check.classification = "error", None
        return check
    entry = accepting(entries, clause.id, outcome)
    if entry is not None:
        check.status, check.accepted_by = "xfail", entry.label()
    elif accept_upstream and check.classification == INHERITS:
        check.status, check.accepted_by = "xfail", UPSTREAM
    else:
        check.status = "fail"
    return check


def _describe(check: Check, ran: int, failed: int) -> str:
    note = f", {check.classification}" if check.classification else ""
    return (f"{failed}/{ran} failed; {check.test.split('::')[-1]}: [{check.symptom}{note}] "
            f"{check.message}")


def _verdict(clause, outcomes, checks, declared):
    ran = [o for o in outcomes if o["status"] in ("passed", "failed")]
    judged = [o for o in ran if o["status"] == "passed" or symptom(o) not in symptoms.NO_VERDICT]
    failed = [c for c in checks if c.status in ("fail", "xfail")]
    errors = [c for c in checks if c.status == "error"]
    if clause.informational and errors and not judged:
        return "error", f"{len(errors)}/{len(outcomes)} tests {errors[0].message}"
    if not clause.informational:
        for status in ("fail", "error", "xfail"):
            found = [c for c in checks if c.status == status]
            if not found:
                continue
            detail = _describe(found[0], len(judged), len(failed))
            if status == "error" and found[0].symptom == symptoms.NOT_RUN:
                detail = f"{len(found)}/{len(outcomes)} tests {found[0].message}"
            elif status == "error":
                detail = f"harness error, not the implementation's fault: {found[0].message}"
            if status == "xfail":
                why = found[0].accepted_by
                reason = next((e.reason for e in declared if e.label() == why), why)
                detail = f"accepted ({reason}); {detail}"
            return status, detail
    if ran:
        observations = [o["message"] for o in outcomes if o["status"] == "passed" and o["message"]]
        detail = observations[0] if clause.informational and observations else \
            f"{len(ran)} passed"
        failed = [o for o in outcomes if o["status"] == "failed"]
        if clause.informational and failed:
            detail = f"informational: {failed[0]['message']}"
        outs = list(dict.fromkeys(o["outcome"] for o in outcomes if o.get("outcome")))
        if outs:
            detail += f" ({'; '.join(outs)})"
        fixes = [c for c in checks if c.classification == FIXES]
        if fixes:
            detail += f"; {FIXES}: {len(fixes)} check(s) upstream 7.8.1 fails"
        skipped = [o for o in outcomes if o["status"] == "skipped"]
        if skipped:
            detail += f", {len(skipped)} skipped"
        if any(e.names((clause.id,), o["nodeid"].split("::")[-1])
               for e in declared for o in ran):  # an entry whose tests ran and passed
            return "xpass", f"declared as a known deviation but passes ({detail})"
        return "pass", detail
    skipped = [o for o in outcomes if o["status"] == "skipped"]
    if skipped:
        return "skip", skipped[0]["message"] or "skipped"
    return "skip", "no test of this clause ran"


def stale(entries: list[deviations.Entry], results: list[ClauseResult],
          records: list[Record]) -> list[deviations.Entry]:
    """Entries that excused no failure though a test they name ran."""
    used = {(r.id, c.accepted_by) for r in results for c in r.checks}
    ran = [(o["nodeid"].split("::")[-1], o["clauses"]) for o in final_outcomes(records).values()
           if o["status"] in ("passed", "failed")]
    return [e for e in entries if (e.clause, e.label()) not in used and any(
        e.names(clauses, test) for test, clauses in ran)]


def nothing_checked(results: list[ClauseResult]) -> bool:
    """True when no clause was checked at all (every one skipped)."""
    return all(r.status == "skip" for r in results)


def exit_code(results: list[ClauseResult], stale_entries: list | None = None) -> int:
    """0 conforming; 1 any fail (or, given them, stale entries); 3 no verdict: a clause could
    not be checked (harness error, or not run) or none was, and nothing failed."""
    if any(r.status == "fail" for r in results) or stale_entries:
        return 1
    if any(r.status == "error" for r in results) or nothing_checked(results):
        return 3
    return 0
