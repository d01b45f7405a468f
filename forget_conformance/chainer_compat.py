"""Chainer 7.8.1 on NumPy 2 and Python 3.12+: the three shims it needs, and no more.

``import forget_conformance.chainer_compat`` before anything imports Chainer (every entry
point of the harness does, through ``forget_conformance/__init__.py``). Each shim is
applied only where what it stands for is missing, so NumPy 1.x on Python 3.11 with
``setuptools<74`` is left untouched (:func:`apply` returns ``()`` there).

1. ``numpy.sctypes`` (removed in NumPy 2.0). ``chainer/functions/array/as_strided.py``
   line 10 builds its index dtypes from ``np.sctypes['int']`` at import time, and line
   252 tests ``gy.dtype not in np.sctypes['float']`` in backward. Supplied as NumPy 1.x's
   table; it stays, since Chainer reads it at run time.
2. ``numpy.distutils.system_info`` (``numpy.distutils`` does not exist on Python 3.12+,
   in NumPy 1.26 or 2.x). ``chainer/_environment_check.py`` line 6 imports it, and line
   29 calls ``get_info('blas_opt')`` on macOS only, to warn about Accelerate. A stub whose
   ``get_info`` returns ``{}`` (no warning), present only while Chainer is imported.
3. ``pkg_resources`` (gone from setuptools 81). ``chainer/_environment_check.py`` line 7
   imports it and line 57 calls ``pkg_resources.require`` per optional dependency (CuPy,
   iDeep) to warn on a version mismatch; ``chainer/testing/helper.py`` line 6 (imported
   by ``chainer.gradient_check``) imports it too. A stub whose ``require`` raises
   ``DistributionNotFound`` for a distribution that is not installed and accepts one that
   is, without the version warning; present only while Chainer and ``chainer.testing``
   are imported.

:func:`apply` is self-contained (NumPy and the standard library only) so that the fuzzer's
standalone reproducer scripts carry a copy of it (``fuzz/reproducer.py``).
"""

from __future__ import annotations


def apply() -> tuple[str, ...]:
    """Apply the shims this interpreter needs; return their names (empty when none)."""
    import importlib.metadata
    import importlib.util
    import re
    import sys
    import types

    import numpy

    applied = []
    if not hasattr(numpy, "sctypes"):
        numpy.sctypes = {
            "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
            "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
            "float": [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
            "complex": [numpy.complex64, numpy.complex128, numpy.clongdouble],
            "others": [bool, object, bytes, str, numpy.void]}
        applied.append("numpy.sctypes")
    stubs = {}
    if importlib.util.find_spec("numpy.distutils") is None:
        system_info = types.ModuleType("numpy.distutils.system_info")
        system_info.get_info = lambda name, notfound_action=0: {}
        distutils = types.ModuleType("numpy.distutils")
        distutils.system_info = system_info
        stubs.update({"numpy.distutils": distutils, "numpy.distutils.system_info": system_info})
    if importlib.util.find_spec("pkg_resources") is None:
        resources = types.ModuleType("pkg_resources")
        resources.ResolutionError = type("ResolutionError", (Exception,), {})
        resources.DistributionNotFound = type(
            "DistributionNotFound", (resources.ResolutionError,), {})
        resources.VersionConflict = type("VersionConflict", (resources.ResolutionError,), {})

        def require(requirement):
            name = re.split(r"[<>=!~;\[ ]", str(requirement), maxsplit=1)[0]
            try:
                return [importlib.metadata.distribution(name)]
            except importlib.metadata.PackageNotFoundError:
                raise resources.DistributionNotFound(requirement) from None

        resources.require = require
        resources.WorkingSet = type("WorkingSet", (), {"require": staticmethod(require)})
        stubs["pkg_resources"] = resources
    if stubs and "chainer" not in sys.modules:
        sys.modules.update(stubs)  # none of these names was importable: nothing to save
        if "numpy.distutils" in stubs:
            numpy.distutils = stubs["numpy.distutils"]  # read as an attribute on macOS
        try:
            import chainer.testing  # noqa: F401 - imports chainer, then its pkg_resources user
        finally:
            for name in stubs:
                del sys.modules[name]
            if "numpy.distutils" in stubs:
                del numpy.distutils
        applied += sorted(stubs)
    return tuple(applied)


APPLIED = apply()
