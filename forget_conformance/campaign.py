"""Fuzz campaigns: the fuzz suite run by N worker processes until a deadline.

``forget-conformance --suite fuzz --duration 2h --workers N [--shard I/N]``: each worker is
an ordinary supervised child pytest run of the fuzz suite (``supervisor.run``, so crashes
and hangs are charged as usual) whose tests share the time left between them; each test
runs its target in chunks, each chunk with a fresh seed (``fuzz.campaign_loop``), until
its share is spent. Seeds are disjoint between chunks, workers and shards: chunk ``c``
of stream ``s`` gets :func:`chunk_seed`, where stream ``s = (I-1) + N*w`` for worker
``w`` of shard ``I/N``. Workers share the example database (``--database``), so a
failure one finds is replayed by the others' next chunks.

Each worker appends its running totals to a stats file (JSON lines, :func:`read_stats`);
the parent prints one progress line per interval from them and puts their sum in the
report (:class:`~forget_conformance.records.Campaign`). The verdict is the usual one,
over all workers' records.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from forget_conformance import supervisor
from forget_conformance.records import Campaign, Record

ENV_UNTIL = "FORGET_CAMPAIGN_UNTIL"  # the deadline, as time.time()
ENV_STREAM = "FORGET_CAMPAIGN_STREAM"  # this worker's seed stream
ENV_SEED = "FORGET_CAMPAIGN_SEED"  # the base seed (--seed, default 0)
ENV_STATS = "FORGET_CAMPAIGN_STATS"  # this worker's stats file
PROGRESS_EVERY = 15.0
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h``, ``1h30m`` (argparse type)."""
    import argparse

    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.strip().lower())
    joined = "".join(f"{n}{u}" for n, u in parts)
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not parts or joined != re.sub(r"\s+", "", text.strip().lower()) or not (
            math.isfinite(seconds) and seconds > 0) or (len(parts) > 1 and not all(
                u for _, u in parts)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (seconds, or e.g. 90s, 30m, 2h, 1h30m)")
    return seconds


parse_duration.__name__ = "duration"


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1-based, ``1 <= I <= N``) as ``(I, N)`` (argparse type)."""
    import argparse

    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard I/N with 1 <= I <= N")
    return int(match[1]), int(match[2])


parse_shard.__name__ = "shard"


def stream(shard: tuple[int, int], worker: int) -> int:
    """The seed stream of ``worker`` (0-based) of ``shard`` ``(I, N)``: distinct for every
    pair, whatever the number of workers per shard."""
    index, count = shard
    return (index - 1) + count * worker


def chunk_seed(base: int, stream_id: int, chunk: int) -> int:
    """The hypothesis seed of chunk ``chunk`` of ``stream_id``: distinct for every
    ``(stream, chunk)`` pair of one base seed (Cantor's pairing)."""
    pair = (stream_id + chunk) * (stream_id + chunk + 1) // 2 + chunk
    return base * 2**64 + pair


@dataclasses.dataclass(frozen=True)
class Plan:
    duration: float
    workers: int = 1
    shard: tuple[int, int] = (1, 1)
    seed: int = 0
    progress_every: float = PROGRESS_EVERY


@dataclasses.dataclass
class Outcome:
    records: list[Record]
    crashes: int
    usage_error: str | None
    gave_up: bool
    summary: Campaign


def read_stats(path: Path) -> dict[str, dict]:
    """A worker's latest totals per test (``test`` key: the target and device)."""
    latest: dict[str, dict] = {}
    if not path.exists():
        return latest
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written
        latest[entry["test"]] = entry
    return latest


def totals(stats: list[dict[str, dict]]) -> dict:
    """The sum over workers and tests: graphs, failures, per-feature and per-test counts."""
    from forget_conformance.fuzz.coverage import FEATURES

    features = dict.fromkeys(FEATURES, 0)
    per_test: dict[str, int] = {}
    graphs = failures = 0
    for worker in stats:
        for test, entry in worker.items():
            graphs += entry["examples"]
            failures += bool(entry.get("failed"))
            per_test[test] = per_test.get(test, 0) + entry["examples"]
            for name, count in entry["features"].items():
                features[name] = features.get(name, 0) + count
    return {"graphs": graphs, "failures": failures, "features": features,
            "per_test": per_test}


def progress_line(total: dict, elapsed: float) -> str:
    reached = sum(1 for n in total["features"].values() if n)
    return (f"[campaign {time.strftime('%H:%M:%S', time.gmtime(elapsed))}] "
            f"{total['graphs']} graphs, {total['graphs'] / max(elapsed, 1e-9):.1f} graphs/s, "
            f"{reached}/{len(total['features'])} features, {total['failures']} failures")


def run(opts: supervisor.RunOptions, plan: Plan, database: str) -> Outcome:
    """Run the campaign; the workers' records, and the :class:`Campaign` summary."""
    started = time.time()
    until = started + plan.duration
    results: list[supervisor.RunResult | None] = [None] * plan.workers
    with tempfile.TemporaryDirectory(prefix="forget-campaign-") as tmp:
        stats = [Path(tmp) / f"stats-{w}.jsonl" for w in range(plan.workers)]
        stop = threading.Event()

        def work(w: int) -> None:
            env = dict(opts.extra_env, **{
                ENV_UNTIL: repr(until), ENV_STREAM: str(stream(plan.shard, w)),
                ENV_SEED: str(plan.seed), ENV_STATS: str(stats[w])})
            # Each test runs for its share of the time without a record in between: the
            # watchdog's silence limit covers the whole campaign (per-example limits and
            # pytest-timeout still catch a hang).
            results[w] = supervisor.run(dataclasses.replace(
                opts, jobs=1, extra_env=env, stop=stop, progress=False,
                silence_limit=plan.duration + 2 * opts.timeout + 60))

        threads = [threading.Thread(target=work, args=(w,), daemon=True)
                   for w in range(plan.workers)]
        for t in threads:
            t.start()
        next_line = started + plan.progress_every
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(timeout=0.5)
                if time.time() >= next_line:
                    next_line += plan.progress_every
                    print(progress_line(totals([read_stats(s) for s in stats]),
                                        time.time() - started), file=sys.stderr, flush=True)
        finally:
            stop.set()  # an interrupt: the workers stop their children
            for t in threads:
                t.join()
        seconds = time.time() - started
        total = totals([read_stats(s) for s in stats])
    done = [r for r in results if r is not None]
    records = [rec for r in done for rec in r.records]
    usage = next((r.usage_error for r in done if r.usage_error), None)
    summary = Campaign(
        duration=plan.duration, seconds=round(seconds, 2), workers=plan.workers,
        shard=f"{plan.shard[0]}/{plan.shard[1]}", seed=plan.seed, graphs=total["graphs"],
        graphs_per_second=round(total["graphs"] / max(seconds, 1e-9), 2),
        failures=total["failures"], per_test=total["per_test"], features=total["features"],
        features_never_reached=[f for f, n in total["features"].items() if not n],
        database=database, corpus=opts.extra_env.get("FORGET_FUZZ_CORPUS"))
    print(progress_line(total, seconds).replace("[campaign", "[campaign done", 1),
          file=sys.stderr, flush=True)
    return Outcome(records, sum(r.crashes for r in done), usage,
                   any(r.gave_up for r in done), summary)
