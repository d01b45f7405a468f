"""Runs the workloads for several implementations on one device and collects rows."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import chainer

from forget_conformance import devices
from forget_conformance import graph as G
from forget_conformance.bench import timing
from forget_conformance.bench.results import PLAIN, Row
from forget_conformance.bench.workloads import STRATEGIES, WORKLOADS, build_graph
from forget_conformance.graph import memory_model
from forget_conformance.impl import Implementation
from forget_conformance.meters import MemoryMeter, MemoryReading

PLAIN_IMPL = f"({PLAIN})"


@dataclass(frozen=True)
class Plan:
    """What to run: workloads at a main depth, a depth sweep, strategies, timing rounds."""

    workloads: tuple[str, ...] = tuple(WORKLOADS)
    depth: int = 16
    sweep_depths: tuple[int, ...] = (4, 8, 16, 32)
    sweep_workloads: tuple[str, ...] = ("elementwise", "mlp")
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    repeats: int = 11  # the fewest timed rounds (11 give a 98.8% interval of ranks 2 and 10)
    budget_s: float = 0.4  # rounds go on until this much time has passed

    def cases(self) -> list[tuple[str, int]]:
        """(workload, depth) pairs: every workload at ``depth``, the sweep at its depths."""
        cases = [(name, self.depth) for name in self.workloads]
        for name in self.sweep_workloads:
            if name in self.workloads:
                cases += [(name, d) for d in self.sweep_depths if d != self.depth]
        return cases


def _measure(meter: MemoryMeter, graph: G.Graph, forget: Callable | None,
             device: chainer.backend.Device) -> MemoryReading:
    built = G.build(graph, forget, device)
    return meter.measure(lambda: built.forward()[1], lambda loss: loss.backward())


def run_case(workload: str, depth: int, impls: list[Implementation], meter: MemoryMeter,
             plan: Plan) -> list[Row]:
    """Rows for one workload at one depth: plain, then each strategy for each implementation."""
    device = chainer.get_device(meter.device)
    base: dict[str, Any] = dict(device=meter.device, workload=workload, depth=depth)
    plain_graph = build_graph(workload, depth)
    plain = _measure(meter, plain_graph, None, device)
    plain_row = Row(impl=PLAIN_IMPL, strategy=PLAIN, **base)
    _fill(plain_row, plain, memory_model.predict(plain_graph, forgetting=False))
    rows = [plain_row] if PLAIN in plan.strategies else []
    for strategy in plan.strategies:
        if strategy == PLAIN:
            continue
        graph = build_graph(workload, depth, strategy)
        prediction = memory_model.predict(graph, forgetting=True)
        strategy_rows = []
        for impl in impls:
            row = Row(impl=impl.name, strategy=strategy, **base)
            try:
                _fill(row, _measure(meter, graph, impl.forget, device), prediction)
            except Exception as exc:  # noqa: BLE001 - a broken implementation is a result
                row.error = f"{type(exc).__name__}: {exc}"
            row.plain_retained, row.plain_peak = plain.retained, plain.peak
            strategy_rows.append(row)
        working = [i for i, r in zip(impls, strategy_rows, strict=True) if r.error is None]
        runs = time_strategy(workload, depth, strategy, working, device, plan,
                             with_plain=not plain_row.forward_s)
        if PLAIN_IMPL in runs:
            best = timing.fastest(runs[PLAIN_IMPL])
            plain_row.forward_s = round(best.forward, 6)
            plain_row.backward_s = round(best.backward, 6)
        for row in strategy_rows:
            _set_times(row, runs)
        rows += strategy_rows
    return rows


def time_strategy(workload: str, depth: int, strategy: str, impls: list[Implementation],
                  device: chainer.backend.Device, plan: Plan,
                  with_plain: bool = False) -> dict[str, list[timing.StepTimes]]:
    """Each configuration's runs, round by round, timed interleaved: the
    implementations and ``timer``, the same segmented graph with each segment
    called plainly (the time ratios' denominator: it differs from the
    implementations only by ``forget``); ``with_plain`` adds the unsegmented graph
    (whose time the plain row shows)."""
    graph = build_graph(workload, depth, strategy)
    module = G.compile_graph(graph)
    configs = {"timer": G.build(graph, timing.SegmentTimer(), device, module)}
    if with_plain:
        configs[PLAIN_IMPL] = G.build(build_graph(workload, depth), None, device)
    configs.update((i.name, G.build(graph, i.forget, device, module)) for i in impls)
    return timing.time_interleaved(configs, plan.repeats, plan.budget_s)


def _set_times(row: Row, runs: dict[str, list[timing.StepTimes]]) -> None:
    """Fill the row's times from interleaved runs; its samples grow by the new rounds'
    paired ratios (a case timed again pools its rounds)."""
    if row.error is None:
        best = timing.fastest(runs[row.impl])
        row.forward_s, row.backward_s = round(best.forward, 6), round(best.backward, 6)
        timer = timing.fastest(runs["timer"])
        row.plain_total_s = round(timer.total, 6)
        row.expected_time_ratio = round(timing.expected_overhead(timer), 4)
        row.time_samples = row.time_samples + [
            round(r, 4) for r in timing.paired_ratios(runs[row.impl], runs["timer"])]
    row.compute_ratios()


def retime(rows: list[Row], keys: set[tuple], impls: list[Implementation], plan: Plan) -> None:
    """Time the cases with these keys again, adding the new rounds to each row's."""
    by_impl = {i.name: i for i in impls}
    for key in sorted(keys):
        device_name, workload, strategy, depth = key
        group = [r for r in rows if r.key == key and r.error is None and r.impl in by_impl]
        device = chainer.get_device(device_name)
        with chainer.using_device(device):
            runs = time_strategy(workload, depth, strategy, [by_impl[r.impl] for r in group],
                                 device, plan)
        for row in group:
            _set_times(row, runs)


def _fill(row: Row, reading: MemoryReading, prediction: memory_model.Prediction) -> None:
    row.retained, row.peak = reading.retained, reading.peak
    row.predicted_retained, row.predicted_peak = prediction.retained, prediction.peak
    row.compute_ratios()


def run(plan: Plan, impls: list[Implementation], meter: MemoryMeter,
        progress: TextIO | None = None) -> list[Row]:
    """All rows of ``plan`` on the meter's device, reporting progress (default: stderr)."""
    progress = progress or sys.stderr
    rows: list[Row] = []
    cases = plan.cases()
    for n, (name, depth) in enumerate(cases, 1):
        print(f"[{n}/{len(cases)}] {meter.device} {name} depth {depth}", file=progress, flush=True)
        with chainer.using_device(chainer.get_device(meter.device)):
            rows += run_case(name, depth, impls, meter, plan)
    return rows


EXACT_DEPTH = 256  # deeper cases are estimated by extrapolating the model linearly


def estimated_peak(workload: str, depth: int) -> int:
    """Bytes the memory model predicts for the plain (largest) run of a case; a case
    deeper than ``EXACT_DEPTH`` is extrapolated from two shallower ones (plain memory
    grows linearly with depth), since modelling it exactly takes as long as its size."""
    if depth <= EXACT_DEPTH:
        return memory_model.predict(build_graph(workload, depth), forgetting=False).peak
    low, high = EXACT_DEPTH // 2, EXACT_DEPTH
    at_low = memory_model.predict(build_graph(workload, low), forgetting=False).peak
    at_high = memory_model.predict(build_graph(workload, high), forgetting=False).peak
    return at_high + (at_high - at_low) * (depth - high) // (high - low)


def too_large(plan: Plan, available: int) -> tuple[str, int, int] | None:
    """A workload's deepest case that the model says cannot fit in ``available``
    bytes, as (workload, depth, bytes); ``None`` when every case fits."""
    deepest: dict[str, int] = {}
    for name, depth in plan.cases():
        deepest[name] = max(depth, deepest.get(name, 0))
    for name, depth in deepest.items():
        need = estimated_peak(name, depth)
        if need > available:
            return name, depth, need
    return None


def available_memory(device: str) -> int:
    """Bytes free for arrays on ``device`` now: CUDA's free memory on a GPU, the
    kernel's ``MemAvailable`` (else free physical pages) on the CPU."""
    if device != devices.CPU:
        import cupy

        return int(cupy.cuda.runtime.memGetInfo()[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
