"""forget-conformance: a conformance harness for ``chainer.functions.forget``."""

__version__ = "0.1.0"
