"""Regression corpora: failures found once are replayed first by every later run.

A corpus is a folder of entries, two files each, named ``TARGET-HASH``:

* ``TARGET-HASH.json``: the fuzz target (``fuzz/targets.py``), the clause and check, the
  implementation that failed, hypothesis' version, its ``@reproduce_failure`` line and
  the example itself as hypothesis stores it in its database (``example``, base64);
* ``TARGET-HASH.py``: the reproducer script (``fuzz/reproducer.py``), which needs neither
  hypothesis nor this project.

Every fuzz run replays the examples of its target from :data:`SHIPPED` (this project's
corpus of upstream 7.8.1's known failures; ``$FORGET_FUZZ_SHIPPED_CORPUS=0`` leaves it out)
and from each folder of
``$FORGET_FUZZ_CORPUS`` (``os.pathsep``-separated; the CLI's ``--corpus DIR``) before it
draws any example, in every profile, ``ci`` included; a failure a run finds is added to the
first of those folders. Entries are plain files meant to be committed; one that no longer
parses (another hypothesis version's format) is skipped, its reproducer script still runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis.database import ExampleDatabase
from hypothesis.strategies import SearchStrategy

ENV_CORPUS = "FORGET_FUZZ_CORPUS"
#: ``0``: replay the corpora but add nothing (the upstream oracle's reruns).
ENV_WRITE = "FORGET_FUZZ_CORPUS_WRITE"
#: ``0`` leaves :data:`SHIPPED` out (measurements of what the drawn examples catch).
ENV_SHIPPED = "FORGET_FUZZ_SHIPPED_CORPUS"
SHIPPED = Path(__file__).with_name("corpus")
_SUB_KEYS = (b".secondary", b".pareto")


def folders() -> list[Path]:
    """The corpora replayed: :data:`SHIPPED` (unless ``$FORGET_FUZZ_SHIPPED_CORPUS`` is
    ``0``), then those of ``$FORGET_FUZZ_CORPUS``."""
    given = [Path(p) for p in os.environ.get(ENV_CORPUS, "").split(os.pathsep) if p]
    return ([] if os.environ.get(ENV_SHIPPED) == "0" else [SHIPPED]) + given


def target_dir() -> Path | None:
    """Where new failures go: the first folder of ``$FORGET_FUZZ_CORPUS``, if any (none
    when ``$FORGET_FUZZ_CORPUS_WRITE`` is ``0``)."""
    if os.environ.get(ENV_WRITE) == "0":
        return None
    given = [p for p in os.environ.get(ENV_CORPUS, "").split(os.pathsep) if p]
    return Path(given[0]).absolute() if given else None


def examples(target: str, where: Iterable[Path] | None = None) -> list[bytes]:
    """The stored examples of ``target`` in the corpora (default :func:`folders`)."""
    found = []
    for folder in where if where is not None else folders():
        for entry in sorted(Path(folder).glob(f"{target}-*.json")):
            try:
                doc = json.loads(entry.read_text(encoding="utf-8"))
                if doc["target"] == target:
                    found.append(base64.b64decode(doc["example"]))
            except (OSError, ValueError, KeyError):
                continue  # not an entry: ignored rather than stopping the run
    return list(dict.fromkeys(found))


def add(target: str, example: bytes, reproducer: Path | None, meta: dict) -> Path | None:
    """Add a failure to :func:`target_dir` (once: entries are named by the example)."""
    folder = target_dir()
    if folder is None:
        return None
    stem = f"{target}-{hashlib.sha256(example).hexdigest()[:12]}"
    entry = folder / f"{stem}.json"
    if entry.exists():
        return entry
    folder.mkdir(parents=True, exist_ok=True)
    if reproducer is not None and reproducer.exists():
        shutil.copyfile(reproducer, folder / f"{stem}.py")
    doc = {"target": target, **meta, "hypothesis": hypothesis.__version__,
           "reproducer": f"{stem}.py" if reproducer is not None else None,
           "example": base64.b64encode(example).decode("ascii")}
    tmp = entry.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, entry)
    return entry


def draw(example: bytes, strategy: SearchStrategy) -> Any:
    """The value ``strategy`` draws from a stored example (a corpus entry's graph), or
    None when the example is in another hypothesis version's format or does not fit.

    Uses hypothesis internals (its choice-sequence format): for inspecting a corpus, not
    for replaying it (fuzz runs replay through the example database)."""
    from hypothesis.database import choices_from_bytes
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    choices = choices_from_bytes(example)
    if choices is None:
        return None
    try:
        return ConjectureData.for_choices(choices).draw(strategy)
    except StopTest:
        return None


class Replaying(ExampleDatabase):
    """``inner`` with the corpus examples of one target put first in its primary key;
    it also remembers the examples saved to that key (the run's failures)."""

    def __init__(self, inner: ExampleDatabase, replay: list[bytes]) -> None:
        super().__init__()
        self.inner, self.replay = inner, replay
        self._saved: dict[bytes, None] = {}

    @staticmethod
    def _primary(key: bytes) -> bool:
        return not key.endswith(_SUB_KEYS)

    def fetch(self, key: bytes) -> Iterator[bytes]:
        seen = set()
        if self._primary(key):
            for value in self.replay:
                seen.add(value)
                yield value
        for value in self.inner.fetch(key):
            if value not in seen:
                yield value

    def save(self, key: bytes, value: bytes) -> None:
        if self._primary(key):
            self._saved[value] = None
        self.inner.save(key, value)

    def delete(self, key: bytes, value: bytes) -> None:
        if self._primary(key):
            self._saved.pop(value, None)
        self.inner.delete(key, value)

    def failures(self) -> list[bytes]:
        """Examples saved as failures by this run and not superseded by a smaller one."""
        return list(self._saved)
