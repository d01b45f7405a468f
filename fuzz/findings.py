"""Measure how many fuzz examples each known-bad implementation needs to be caught (ci).

    python -m forget_conformance.fuzz.findings [NAME ...]  # MODULE:ATTR, "reference", "chainer"

Prints a Markdown table (the one in ``fuzz/FINDINGS.md``): for each implementation
and suite, the clause of the shrunk failure and the number of examples run up to
the first failing one, or ``pass`` when the suite did not catch it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

from forget_conformance import impl, profiles
from forget_conformance.fuzz import corpus, property_runner, targets

IMPLEMENTATIONS = ["reference", "chainer"] + [f"tests.broken.variants:{n}" for n in (
    "scaled_arg_grads", "lost_param_grads", "first_output_grad_only", "duplicate_arg_grad_lost",
    "tuple_for_single", "float32_outputs", "wrong_error_type", "double_backprop_allowed",
    "recompute_not_flagged", "flag_leaked", "keeps_graph", "copies_inputs",
    "backward_time_config", "loss_scale_dropped", "last_writer_wins", "extra_call",
    "arrays_not_wrapped", "int_args_cast")] + [
    f"tests.broken.capture_bugs:{n}" for n in ("crashes_on_late_capture", "drops_captured_grads")]
SUITES = ("differential", "shared_parameters", "loss_scale", "eval_forward")


def measure(target: str, suite: str) -> str:
    start = time.perf_counter()
    log = property_runner.FuzzLog()
    try:
        targets.run(suite, impl.resolve(target), "@numpy", log)
    except AssertionError as exc:
        first = log.progress.first_failure
        return f"{getattr(exc, 'clause_id', '?')} @{first} ({time.perf_counter() - start:.1f}s)"
    return "pass"


def main(argv: list[str] | None = None) -> None:
    warnings.simplefilter("ignore")
    sys.path.insert(0, os.getcwd())
    profiles.activate("ci")
    names = (argv if argv is not None else sys.argv[1:]) or IMPLEMENTATIONS
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[property_runner.ENV_DATABASE] = os.path.join(tmp, "db")
        os.environ["FORGET_FUZZ_FAILURES"] = os.path.join(tmp, "failures")
        os.environ[corpus.ENV_SHIPPED] = "0"  # what the drawn examples catch
        print("| implementation | " + " | ".join(SUITES) + " |")
        print("|---" * (len(SUITES) + 1) + "|")
        for name in names:
            cells = [measure(name, suite) for suite in SUITES]
            print(f"| {name.split(':')[-1]} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
