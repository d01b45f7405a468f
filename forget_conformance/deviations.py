"""Known-deviations files: failures an implementation is known to have, with reasons.

One entry per line, ``CLAUSE [test=GLOB] [symptom=GLOB]: reason``; blank lines and
``#`` comments are ignored. An entry excuses a failing check of that clause whose test
name (the last part of its node id, parameters included) and symptom
(``forget_conformance.symptoms``) match its globs; a part left out matches anything. A
failure no entry matches still fails, and an entry that matches no failure is *stale*.
Shipped files live in ``known_deviations/`` and can be named by their stem
(``chainer-7.8.1``) as well as by path. In globs only ``*`` and ``?`` are wildcards
(brackets are literal, as in test parameters ``[cpu]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from forget_conformance import catalogue, symptoms

SHIPPED = Path(__file__).parent / "known_deviations"


class DeviationsError(Exception):
    """The file is missing or malformed (a usage error)."""


@dataclass(frozen=True)
class Entry:
    clause: str
    reason: str
    test: str | None = None
    symptom: str | None = None
    where: str = ""  # file:line

    def names(self, clauses: Iterable[str], test: str) -> bool:
        """Whether this entry is about ``test`` (a test function's name with its
        parameters), which checks ``clauses``."""
        return self.clause in clauses and (self.test is None or glob(self.test, test))

    def matches(self, clause: str, test: str, symptom: str | None) -> bool:
        """Whether this entry excuses a failure of ``clause`` in ``test`` showing ``symptom``."""
        return self.names((clause,), test) and (
            self.symptom is None or glob(self.symptom, symptom or ""))

    def label(self) -> str:
        parts = [self.clause] + [f"{k}={v}" for k, v in (("test", self.test),
                                                          ("symptom", self.symptom)) if v]
        return " ".join(parts)


def glob(pattern: str, text: str) -> bool:
    """``*`` any run of characters, ``?`` any one; everything else literal."""
    regex = "".join({"*": ".*", "?": "."}.get(c, re.escape(c)) for c in pattern)
    return re.fullmatch(regex, text) is not None


def locate(name: str) -> Path:
    """A path as given, or the shipped file with that stem."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED / f"{name}.txt"
    if shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.txt")))
    raise DeviationsError(f"known-deviations file {name!r} not found (shipped: {known})")


def load(name: str) -> list[Entry]:
    """The file's entries, in order."""
    path = locate(name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeviationsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                              ) from None
    if "\0" in text:
        raise DeviationsError(f"{path}: a binary file, not a list of deviation entries")
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            entries.append(_parse(line, f"{path}:{number}", raw))
    return entries


def _parse(line: str, where: str, raw: str) -> Entry:
    head, sep, reason = line.partition(": ")
    if not sep:
        head, sep, reason = line.partition(":")
    words, reason = head.split(), reason.strip()
    if not sep or not reason or not words:
        raise DeviationsError(f"{where}: expected 'CLAUSE [test=GLOB] [symptom=GLOB]: reason', "
                              f"got {raw!r}")
    clause, fields = words[0], {}
    if clause not in catalogue.BY_ID:
        raise DeviationsError(f"{where}: unknown clause {clause!r}")
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or key not in ("test", "symptom") or not value or key in fields:
            raise DeviationsError(f"{where}: expected test=GLOB or symptom=GLOB, got {word!r}")
        fields[key] = value
    kind = symptoms.kind(fields.get("symptom", "*"))
    if not any(glob(kind, k) for k in symptoms.KINDS):
        raise DeviationsError(f"{where}: unknown symptom {fields['symptom']!r} (known: "
                              f"{', '.join(symptoms.KINDS)})")
    return Entry(clause, reason, fields.get("test"), fields.get("symptom"), where)
