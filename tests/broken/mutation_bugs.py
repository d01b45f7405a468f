"""Deliberately broken ``forget`` implementations modelled on surviving mutants of the reference.

Each is the reference (``forget_impl/_forget.py``) with one piece of source changed,
as ``dev.py mutate`` changed it when the conformance suite did not notice (before
``conformance/test_mutation_gaps.py``). Name one as ``tests.broken.mutation_bugs:NAME``;
``EXPECTED`` maps each to the clauses it fails when that file runs.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

from forget_conformance.reference import _forget as ref

_SOURCE = inspect.getsource(ref)


def _variant(name: str, old: str, new: str) -> Callable:
    """The reference's ``forget`` with the one occurrence of ``old`` replaced by ``new``."""
    if _SOURCE.count(old) != 1:
        raise ValueError(f"{name}: {old!r} occurs {_SOURCE.count(old)} times in the reference")
    module = types.ModuleType(f"{__name__}.{name}")
    code = compile(_SOURCE.replace(old, new), f"{ref.__file__} ({name})", "exec")
    exec(code, module.__dict__)  # the reference's own source, with one edit
    return module.forget


_HOOK_LOOP = "            for hook in hooks:\n                hook.backward_{}process"

# A parameter's gradient delivered twice before the sink hands it over: keep the last one.
last_delivery_wins = _variant(
    "last_delivery_wins", "grad if pending is None else pending + grad", "grad")
# ... or subtract the second delivery from the first.
subtracts_deliveries = _variant(
    "subtracts_deliveries", "else pending + grad", "else pending - grad")
# The private backward pass calls no global function hook before each backward ...
skips_backward_preprocess = _variant(
    "skips_backward_preprocess", _HOOK_LOOP.format("pre"),
    _HOOK_LOOP.format("pre").replace("in hooks", "in ()"))
# ... or none after it.
skips_backward_postprocess = _variant(
    "skips_backward_postprocess", _HOOK_LOOP.format("post"),
    _HOOK_LOOP.format("post").replace("in hooks", "in ()"))
# ... or only the global ones, never those added to a node (``add_hook``).
ignores_local_hooks = _variant(
    "ignores_local_hooks", "if func._n_local_function_hooks:", "if False:")
# The private pass visits functions in the order it finds them, not by rank ...
visits_in_discovery_order = _variant(
    "visits_in_discovery_order", "(-creator.rank, len(seen)", "(0, len(seen)")
# ... or only the rank-0 ones last (the mutant ``not creator.rank``).
visits_rank_zero_last = _variant(
    "visits_rank_zero_last", "(-creator.rank, len(seen)", "(not creator.rank, len(seen)")
# The private pass stops at the first function none of whose inputs needs a gradient.
stops_at_constant = _variant(
    "stops_at_constant", "        if not targets:\n            continue",
    "        if not targets:\n            break")

# A func returning () is unpacked as if it had returned one result.
unpacks_empty_result = _variant("unpacks_empty_result", "if len(ys) == 1:", "if len(ys) <= 1:")

# Device handling, the surviving mutants that behave identically on the CPU: the sink's
# scalar made with NumPy whatever the device ...
sink_scalar_on_host = _variant(
    "sink_scalar_on_host", "if device.xp is numpy:", "if device.xp is not numpy:")
# ... or the node's device never taken from the arguments (it stays the CPU).
device_never_taken = _variant(
    "device_never_taken", "    if xs:\n        node.device", "    if not xs:\n        node.device")

EXPECTED: dict[str, set[str]] = {
    "last_delivery_wins": {"D3"},
    "subtracts_deliveries": {"D3"},
    "skips_backward_preprocess": {"T4"},
    "skips_backward_postprocess": {"T4"},
    "ignores_local_hooks": {"T4"},
    "visits_in_discovery_order": {"D3"},
    "visits_rank_zero_last": {"D3"},
    "stops_at_constant": {"D3"},
    "unpacks_empty_result": {"D6"},
}

#: Variants that only a GPU run can reject: each passes every CPU check (pinned by
#: ``tests/test_mutation_bugs.py``); ``--device gpu`` fails these clauses.
#: Measured on an H200: a forget node whose sink lives on the host while its arguments are
#: on the GPU fails every test that runs forget on the GPU (all clauses but D10, F1, U1).
_EVERY_GPU_TEST = {"D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D9",
                   "T1", "T2", "T3", "T4", "T5"}
GPU_ONLY: dict[str, set[str]] = {
    "sink_scalar_on_host": _EVERY_GPU_TEST,
    "device_never_taken": _EVERY_GPU_TEST,
}
