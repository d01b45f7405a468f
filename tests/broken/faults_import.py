"""Implementations whose import misbehaves, chosen by ``$FORGET_FAULT_IMPORT``:
``hang`` (sleeps for ever), ``abort`` (kills its process), ``exit`` (``os._exit``)."""

from __future__ import annotations

import os
import time

from forget_conformance.reference import forget

_FAULT = os.environ.get("FORGET_FAULT_IMPORT", "")
if _FAULT == "hang":
    time.sleep(3600)
elif _FAULT == "abort":
    os.abort()
elif _FAULT == "exit":
    os._exit(7)

__all__ = ["forget"]
