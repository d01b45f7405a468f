"""forget-conformance: a conformance harness for ``chainer.functions.forget``."""

# First, before any entry point (CLI, plug-in, forget-bench) imports Chainer.
from forget_conformance import chainer_compat  # noqa: F401

__version__ = "0.1.0"
