"""Implementations for the verdict self-tests (levels, the upstream oracle, deviations).

``reworded`` is correct and differs from upstream 7.8.1 only in its messages;
``upstream_alias`` is upstream itself under another import path;
``upstream_plus_one`` has all of upstream's defects and one new one (D5);
``vague_errors`` raises the right types with messages that omit position and type (D5).
Name one as ``tests.broken.verdicts:NAME``.
"""

from __future__ import annotations

import chainer
import chainer.functions as F

from forget_conformance.reference import _forget as ref


class _Reworded(ref._Forget):
    """The reference, with its own wording for every error (the facts kept)."""

    def __init__(self, func):
        if not callable(func):
            raise TypeError(f"forget needs a callable, not {type(func).__name__}")
        super().__init__(func)

    def call(self, xs):
        outs = self.func(*xs)
        self.result_type = type(outs)  # as the reference: a namedtuple stays one (D6)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for i, out in enumerate(outs, 1):
            if not isinstance(out, chainer.Variable):
                raise RuntimeError(f"func returned a {type(out).__name__} as element {i}; "
                                   "expected Variables")
        return outs

    def backward(self, indexes, grad_outputs):
        if chainer.config.enable_backprop:
            raise RuntimeError("double backpropagation in forget is not allowed.")
        return super().backward(indexes, grad_outputs)


def reworded(func, *xs):
    return ref.apply_forget(_Reworded(func), ref.wrap_args(xs))


def upstream_alias(func, *xs):
    return F.forget(func, *xs)


def upstream_plus_one(func, *xs):
    """Upstream, but a non-callable func is a ValueError (D5 wants TypeError)."""
    if not callable(func):
        raise ValueError("func is not callable")
    return F.forget(func, *xs)


class _VagueErrors(ref._Forget):
    """The reference, but a bad result's RuntimeError names neither element nor type."""

    def call(self, xs):
        try:
            return super().call(xs)
        except RuntimeError:
            raise RuntimeError("func returned something that is not a Variable") from None


def vague_errors(func, *xs):
    return ref.apply_forget(_VagueErrors(func), ref.wrap_args(xs))
