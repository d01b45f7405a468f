"""Each shim of ``forget_conformance.chainer_compat``, in a child interpreter where what it
stands for is missing: Chainer imports, the Chainer code that needs the shim runs, and the
import-time stubs are gone afterwards."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy

from forget_conformance import chainer_compat

_APPLY = "from forget_conformance import chainer_compat; applied = chainer_compat.APPLIED\n"


def _child(setup: str, check: str) -> None:
    code = textwrap.dedent(setup) + _APPLY + textwrap.dedent(check) + "print('ok')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.endswith("ok\n"), done.stdout + done.stderr


def test_applied_only_what_this_interpreter_lacks():
    """None on NumPy 1.x, Python 3.11, setuptools < 74 (the baseline stays untouched)."""
    expected = ["numpy.sctypes"] if numpy.lib.NumpyVersion(numpy.__version__) >= "2.0.0" else []
    if sys.version_info >= (3, 12):
        expected += ["numpy.distutils", "numpy.distutils.system_info"]
    if importlib.util.find_spec("pkg_resources") is None:
        expected += ["pkg_resources"]
    assert tuple(expected) == chainer_compat.APPLIED


def test_sctypes_for_as_strided():
    """as_strided's index dtypes (import time) and its backward's float test."""
    _child("""
        import numpy
        if hasattr(numpy, "sctypes"):
            del numpy.sctypes
    """, """
        assert "numpy.sctypes" in applied, applied
        assert numpy.sctypes["int"][-1] is numpy.int64, numpy.sctypes
        import chainer, chainer.functions as F
        x = chainer.Variable(numpy.arange(6, dtype=numpy.float32))
        y = F.as_strided(x, (2, 3), (3, 1))
        y.grad = numpy.ones((2, 3), numpy.float32)
        y.backward()
        assert x.grad.tolist() == [1, 1, 1, 1, 1, 1], x.grad
    """)


def test_numpy_distutils_stub_only_while_chainer_imports():
    """On macOS Chainer asks numpy.distutils.system_info for the BLAS: the stub answers."""
    _child("""
        import sys
        import numpy
        sys.modules["numpy.distutils"] = None  # as on Python 3.12+
        sys.platform = "darwin"
    """, """
        assert "numpy.distutils.system_info" in applied, applied
        sys.platform = "linux"  # Chainer's macOS check ran at import, on the stub
        assert "numpy.distutils" not in sys.modules and not hasattr(numpy, "distutils")
    """)


def test_pkg_resources_stub_requires_what_is_installed():
    _child("""
        import sys
        sys.modules["pkg_resources"] = None  # as with setuptools >= 81
    """, """
        assert "pkg_resources" in applied, applied
        import chainer.testing.helper as helper
        stub = helper.pkg_resources
        assert stub.require("numpy>=1")[0].metadata["Name"].lower() == "numpy"
        for absent in ("cupy-cuda13x>=7.7.0,<8.0.0", "no-such-distribution"):
            try:
                stub.require(absent)
            except stub.DistributionNotFound:
                pass
            else:
                raise AssertionError(absent + " found")
        assert "pkg_resources" not in sys.modules
    """)
