"""The clause catalogue: the one place that lists what ``forget`` must do.

IDs are those of the contract, ``docs/contract.md``: ``D`` clauses restate the documented
contract, ``T`` clauses the transparency a training loop relies on, ``F``
clauses record measured facts about upstream. Every test in ``conformance/``
and ``fuzz/`` carries ``@pytest.mark.clause("ID")`` naming one of these.
"""

from __future__ import annotations

from dataclasses import dataclass

from forget_conformance.symptoms import Symptomatic

SPEC = "docs/contract.md"


@dataclass(frozen=True)
class Clause:
    id: str
    category: str  # "D" documented, "T" transparency, "F" upstream fact, "U" drop-in
    title: str
    statement: str
    source: str
    informational: bool = False  # reported, never failed on
    level: str = "contract"  # "drop-in": judged only at --level drop-in


CLAUSES: tuple[Clause, ...] = (
    Clause("D1", "D", "same result",
           "The value forget returns equals what func returns when called directly: "
           "values, shapes, dtypes and device.", f"{SPEC}, D1"),
    Clause("D2", "D", "no intermediates kept",
           "After the forward pass the graph holds on to the arguments and results of "
           "the forget call only; arrays computed inside func are freed.", f"{SPEC}, D2"),
    Clause("D3", "D", "gradients by recomputation",
           "Backward through forget yields the gradients of the plain path, for the "
           "arguments and for every parameter func uses.", f"{SPEC}, D3"),
    Clause("D4", "D", "func called twice",
           "One forward and one backward call func exactly twice: first without a graph, "
           "then with one; three times when another segment closes over its result and "
           "recomputes through it.", f"{SPEC}, D4"),
    Clause("D5", "D", "errors for bad func",
           "A result that is neither a Variable nor a tuple of them raises RuntimeError "
           "naming the offending position and type; a non-callable func raises TypeError.",
           f"{SPEC}, D5"),
    Clause("D6", "D", "result type follows func",
           "A Variable comes back when func returns a Variable, a tuple when it returns a "
           "tuple of two or more (one-element tuples: see F1).", f"{SPEC}, D6"),
    Clause("D7", "D", "arrays become Variables",
           "ndarray arguments are wrapped as Variables, so the call joins the graph and "
           "their gradients are computed.", f"{SPEC}, D7"),
    Clause("D8", "D", "no double backprop",
           "Double backpropagation through forget is never silently wrong: it is rejected, "
           "or its second-order gradients equal the plain path's.", f"{SPEC}, D8"),
    Clause("D9", "D", "stateful links update once",
           "Links that update state on each call (BatchNormalization incl. finetune, "
           "BatchRenormalization, DecorrelatedBatchNormalization, the SpectralNormalization "
           "hook, user links reading in_recomputing) update it once per iteration; the "
           "recomputation, and only it, runs with in_recomputing set.", f"{SPEC}, D9"),
    Clause("D10", "D", "non-deterministic func unsupported",
           "Functions that differ between calls with the same inputs (dropout) are out of "
           "contract: the harness reports what happens and asserts nothing.",
           f"{SPEC}, D10", informational=True),
    Clause("T1", "T", "training step unchanged",
           "A full step (forward, backward with or without loss_scale, optimizer update) "
           "leaves the same parameters as without forget.", f"{SPEC}, T1"),
    Clause("T2", "T", "recompute under forward's config",
           "The recomputation sees the chainer.config of the original forward (train and "
           "the rest), even when backward runs outside that context.", f"{SPEC}, T2"),
    Clause("T3", "T", "shared parameters accumulate",
           "A parameter used inside and outside func receives the sum of both "
           "contributions, whichever use comes first.", f"{SPEC}, T3"),
    Clause("T4", "T", "ordinary graph behaviour",
           "Unused outputs, a Variable passed twice, an argument returned unchanged, mixed "
           "dtypes with integer index arrays, and forget nested in forget all behave as in "
           "the plain graph; so does every way of getting gradients (backward, also twice "
           "with retain_grad; chainer.grad, writing no .grad the plain path does not).",
           f"{SPEC}, T4"),
    Clause("T5", "T", "no state left behind",
           "After forget returns or raises (in the forward call or in the recomputation), "
           "chainer.config and every link's state are as the plain path leaves them; under "
           "no_backprop_mode forget behaves like the plain call.", f"{SPEC}, T5"),
    Clause("F1", "F", "one-element tuple returns a Variable",
           "Upstream returns a bare Variable when func returns a one-element tuple, against "
           "D6; a drop-in keeps this. The harness reports which behaviour it sees.",
           f"{SPEC}, F1", informational=True),
    Clause("U1", "U", "drop-in: upstream's messages, F1 quirk and result types",
           "Beyond the contract, what upstream 7.8.1 does byte for byte: the exact texts of "
           "its errors, a bare Variable for a one-element tuple (F1), the same result types.",
           f"{SPEC}, U1", level="drop-in"),
)

LEVELS = ("contract", "drop-in")

BY_ID: dict[str, Clause] = {c.id: c for c in CLAUSES}


def get(clause_id: str) -> Clause:
    """The clause with this ID; ``KeyError`` naming the known IDs otherwise."""
    try:
        return BY_ID[clause_id]
    except KeyError:
        raise KeyError(f"unknown clause {clause_id!r}; known: {', '.join(BY_ID)}") from None


class ClauseViolation(Symptomatic):
    """An assertion failure attributed to one clause (used when a test covers several),
    naming its symptom (``symptoms``)."""

    def __init__(self, clause_id: str, message: str, symptom: str = "check-failed") -> None:
        get(clause_id)
        super().__init__(symptom, f"[{clause_id}] {message}")
        self.clause_id = clause_id
