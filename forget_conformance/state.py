"""Global state a test (or the implementation under test) may change.

``snapshot()`` captures Chainer's configuration, the function hooks in force
and NumPy's global RNG; ``leaks(before, after)`` says what differs;
``restore(before)`` puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import chainer
import numpy as np


@dataclass
class GlobalState:
    local_config: dict[str, Any]
    global_config: dict[str, Any]
    function_hooks: tuple[str, ...]
    numpy_rng: Any  # np.random.get_state(): a tuple, or a dict with legacy=False


def snapshot() -> GlobalState:
    return GlobalState(
        local_config=dict(vars(chainer.config._local)),
        global_config=dict(vars(chainer.configuration.global_config)),
        function_hooks=tuple(chainer.get_function_hooks()),
        numpy_rng=np.random.get_state(),
    )


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects: identity only
        return a is b


def _dict_diff(where: str, before: dict, after: dict) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key, "<unset>"), after.get(key, "<unset>")
        if not _same(a, b):
            out.append(f"{where}.{key}: {b!r} -> {a!r}")
    return out


def leaks(before: GlobalState, after: GlobalState, rng: bool = True) -> list[str]:
    """Human-readable lines for each piece of global state that changed.

    ``rng=False`` ignores NumPy's global RNG, which link initializers advance.
    """
    out = _dict_diff("chainer.config", before.local_config, after.local_config)
    out += _dict_diff("chainer.global_config", before.global_config, after.global_config)
    if before.function_hooks != after.function_hooks:
        out.append(f"function hooks: {before.function_hooks} -> {after.function_hooks}")
    b, a = before.numpy_rng, after.numpy_rng
    if rng and not (b[0] == a[0] and np.array_equal(b[1], a[1]) and b[2:] == a[2:]):
        out.append("numpy global RNG state advanced")
    return out


def _reset(namespace, saved: dict[str, Any]) -> None:
    attrs = vars(namespace)
    attrs.clear()
    attrs.update(saved)


def restore(state: GlobalState) -> None:
    _reset(chainer.config._local, state.local_config)
    _reset(chainer.configuration.global_config, state.global_config)
    hooks = chainer.get_function_hooks()
    for name in list(hooks):
        if name not in state.function_hooks:
            del hooks[name]
    np.random.set_state(state.numpy_rng)
