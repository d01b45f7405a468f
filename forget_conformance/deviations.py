"""Known-deviations files: clauses an implementation is known to break, with reasons.

Format: one entry per line, ``CLAUSE_ID: reason``; blank lines and ``#`` comments
are ignored. Files shipped with the project live in ``known_deviations/`` and can
be named by their stem (``chainer-7.8.1``) as well as by path.
"""

from __future__ import annotations

from pathlib import Path

from forget_conformance import catalogue

SHIPPED = Path(__file__).parent / "known_deviations"


class DeviationsError(Exception):
    """The file is missing or malformed (a usage error)."""


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


def load(name: str) -> dict[str, str]:
    """Clause ID -> reason."""
    path = locate(name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeviationsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                              ) from None
    if "\0" in text:
        raise DeviationsError(f"{path}: a binary file, not a list of 'CLAUSE_ID: reason' lines")
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        clause_id, sep, reason = line.partition(":")
        clause_id, reason = clause_id.strip(), reason.strip()
        if not sep or not reason:
            raise DeviationsError(f"{path}:{number}: expected 'CLAUSE_ID: reason', got {raw!r}")
        if clause_id not in catalogue.BY_ID:
            raise DeviationsError(f"{path}:{number}: unknown clause {clause_id!r}")
        entries[clause_id] = reason
    return entries
