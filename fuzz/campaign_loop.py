"""A campaign worker's side of one fuzz test (see ``forget_conformance.campaign``).

The test runs its target in chunks until its share of the time left is spent, each
chunk a fresh hypothesis run with its own seed (``campaign.chunk_seed``) and about
:data:`CHUNK_SECONDS` of examples; after each chunk the worker's totals are appended to
its stats file. The first failure ends the test, as in an ordinary run (the example
database keeps it, so the next chunk of every other worker replays it first).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from forget_conformance import campaign
from forget_conformance.fuzz import property_runner

CHUNK_SECONDS = 10.0
FIRST_CHUNK = 20


def active() -> bool:
    """Whether this process is a campaign worker."""
    return campaign.ENV_UNTIL in os.environ


def deadline() -> float:
    return float(os.environ[campaign.ENV_UNTIL])


def run(target: Any, implementation: Any, device: Any, log: property_runner.FuzzLog,
        tests_left: int = 1) -> int:
    """Run ``target`` (a ``targets.Target``) in chunks for 1/``tests_left`` of the time left."""
    start = time.time()
    until = start + max(0.0, deadline() - start) / max(tests_left, 1)
    base = int(os.environ.get(campaign.ENV_SEED, "0"))
    stream_id = int(os.environ.get(campaign.ENV_STREAM, "0"))
    fixed = os.environ.get(property_runner.ENV_MAX_EXAMPLES)
    size, chunk, failed = int(fixed or FIRST_CHUNK), 0, False
    label = f"{target.name}[{getattr(device, 'name', device)}]"
    try:
        while chunk == 0 or time.time() < until:  # one chunk at least
            began, before = time.time(), log.progress.count if log.progress else 0
            property_runner.fuzz(target.check, target.strategy, implementation, device,
                                 target.base_examples, target.name, log,
                                 informational=target.informational,
                                 hang_clause=target.clauses[0],
                                 seed=campaign.chunk_seed(base, stream_id, chunk),
                                 examples=size)
            chunk += 1
            _stats(label, log, start)
            done = log.progress.count if log.progress else before
            rate = (done - before) / max(time.time() - began, 1e-3)
            if not fixed:
                left = until - time.time()
                size = int(min(5000, max(5, rate * min(CHUNK_SECONDS, left))))
    except BaseException:
        failed = True
        raise
    finally:
        _stats(label, log, start, failed)
    return log.progress.count if log.progress else 0


def _stats(label: str, log: property_runner.FuzzLog, start: float, failed: bool = False
           ) -> None:
    path = os.environ.get(campaign.ENV_STATS)
    if not path or log.progress is None:
        return
    entry = {"test": label, "examples": log.progress.count, "failed": failed,
             "seconds": round(time.time() - start, 2),
             "features": dict(log.progress.coverage.hits)}
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry) + "\n")
