"""Deliberately broken ``forget`` implementations modelled on surviving mutants of the reference.

Each is the reference (``forget_impl``) with one change that ``dev.py mutate`` found
the conformance suite blind to before ``conformance/test_mutation_gaps.py``.
Name one as ``tests.broken.mutation_bugs:NAME``; ``EXPECTED`` maps each to the
clauses it must fail when that file runs.
"""

from __future__ import annotations

from forget_conformance.reference import _forget as ref


class _LastDeliveryWins(ref._Sink):
    """Keeps only the latest delivery for a parameter instead of summing them all."""

    def attach(self, nodes: list, grads: list, rank: int) -> None:
        self._pending.update(zip(nodes, grads, strict=True))
        self.inputs = tuple(self._pending)
        self.rank = rank


class _SubtractsDeliveries(ref._Sink):
    """Subtracts a further delivery from the pending one (the mutant ``pending - grad``)."""

    def attach(self, nodes: list, grads: list, rank: int) -> None:
        for node, grad in zip(nodes, grads, strict=True):
            pending = self._pending.get(node)
            self._pending[node] = grad if pending is None else pending - grad
        self.inputs = tuple(self._pending)
        self.rank = rank


def _with_sink(sink_class: type) -> object:
    def forget(func, *xs):
        node = ref._Forget(func)
        node.sink = sink_class()
        return ref.apply_forget(node, ref.wrap_args(xs))

    return forget


last_delivery_wins = _with_sink(_LastDeliveryWins)
subtracts_deliveries = _with_sink(_SubtractsDeliveries)

EXPECTED: dict[str, set[str]] = {
    "last_delivery_wins": {"D3"},
    "subtracts_deliveries": {"D3"},
}
