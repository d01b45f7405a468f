"""The one place that decides which ``forget`` implementation is under test.

An implementation is named as ``MODULE:ATTR`` (``ATTR`` may be dotted), or by an
alias: ``reference`` (``forget_conformance.reference.forget``, from ``forget_impl/``)
and ``chainer`` (upstream ``chainer.functions.forget``). The pytest option
``--forget-impl`` wins over the ``FORGET_IMPL`` environment variable; the default is
``reference``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

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
