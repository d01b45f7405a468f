"""Reference ``forget``: a drop-in for Chainer 7.8.1's ``F.forget`` that is transparent."""

from forget_conformance.reference._forget import forget

__all__ = ["forget"]
