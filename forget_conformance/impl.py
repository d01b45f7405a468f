"""The one place that decides which ``forget`` implementation is under test.

An implementation is named as ``MODULE:ATTR`` (``ATTR`` may be dotted), or by an
alias: ``reference`` (``forget_conformance.reference.forget``, from ``forget_impl/``)
and ``chainer`` (upstream ``chainer.functions.forget``). The pytest option
``--forget-impl`` wins over the ``FORGET_IMPL`` environment variable; the default is
``reference``.

Where ``MODULE`` is looked for is decided here too (:func:`importable`), for the CLI, the
plug-in and ``forget-bench`` alike: the current directory (and, under pytest, the rootdir)
come first, as ``python -m`` puts the current directory first, but never ahead of the
harness itself, which is imported by then (a checkout's ``forget_conformance/`` folder
cannot shadow an installed harness).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from forget_conformance import suites

ENV_VAR = "FORGET_IMPL"
DEFAULT = "reference"
ALIASES = {
    "reference": "forget_conformance.reference:forget",
    "chainer": "chainer.functions:forget",
}


class ImplementationError(Exception):
    """The named implementation cannot be used (a usage error, exit code 2)."""


@dataclass(frozen=True)
class Implementation:
    """A resolved implementation: what the user typed, where it lives, the callable."""

    name: str
    target: str
    forget: Callable

    @property
    def is_upstream(self) -> bool:
        return self.target == ALIASES["chainer"]


def chosen_name(option: str | None = None) -> str:
    """The implementation name in force: the option, else ``$FORGET_IMPL``, else the default."""
    return option or os.environ.get(ENV_VAR) or DEFAULT


HARNESS = Path(__file__).resolve().parent


def importable(folders: Iterable[str | os.PathLike]) -> list[str]:
    """Put ``folders`` at the front of ``sys.path`` (in the order given) so that an
    implementation's ``MODULE`` is found there; return those added.

    A folder already on the path, or inside the harness's own package, is left out. The
    harness package is imported before this runs, so its subpackages keep coming from
    where it was installed whatever these folders hold.
    """
    added: list[str] = []
    for folder in folders:
        path = Path(folder).resolve()
        inside = [HARNESS, *suites.roots()]
        if any(path == p or p in path.parents for p in inside) or str(path) in sys.path + added:
            continue
        added.append(str(path))
    sys.path[:0] = added
    return added


def resolve(name: str) -> Implementation:
    """Import ``MODULE:ATTR`` (or an alias) and check that it is callable."""
    target = ALIASES.get(name, name)
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise ImplementationError(
            f"implementation {name!r} is not of the form MODULE:ATTR "
            f"(or one of the aliases {', '.join(sorted(ALIASES))})"
        )
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImplementationError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any import-time crash is a usage error
        raise ImplementationError(
            f"importing module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImplementationError(
                f"module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    if not callable(obj):
        raise ImplementationError(
            f"{target!r} is not callable (it is a {type(obj).__name__})"
        )
    return Implementation(name=name, target=target, forget=obj)
