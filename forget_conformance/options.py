"""Checks shared by both CLIs, all made before anything runs: numbers, output paths,
and importing the implementation in a child process under a time limit.

Every failure is a :class:`UsageError`: one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import faulthandler
import math
import os
import select
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from forget_conformance import impl
from forget_conformance.interrupts import Interrupted, raised_on_signals, signal_group


class UsageError(Exception):
    """Bad input, found before anything ran (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, test: Callable[[float], bool], rule: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {rule}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {rule}")
        return value

    parse.__name__ = rule  # argparse names the type in its messages
    return parse


at_least_one = _number(int, lambda v: v >= 1, "an integer >= 1")
non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
non_negative_float = _number(float, lambda v: v >= 0, "a finite number >= 0")


def check_outputs(outputs: dict[str, str | None]) -> None:
    """Each named output path (option -> path) must be a distinct, writable file path.

    Missing parent folders are fine (the writer creates them) as long as the
    nearest existing ancestor is a folder where files can be created.
    """
    seen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        if not path:
            raise UsageError(f"{option}: empty path")
        target = Path(path).expanduser().absolute()
        resolved = target.resolve()
        if resolved in seen:
            raise UsageError(f"{option} {path}: the same path as {seen[resolved]}")
        seen[resolved] = option
        if target.is_dir():
            raise UsageError(f"{option} {path}: is a directory")
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise UsageError(f"{option} {path}: {parent} is not a directory")
        try:  # the report is renamed into place: creating a file there is what counts
            tempfile.TemporaryFile(dir=parent).close()
        except OSError as exc:
            raise UsageError(f"{option} {path}: cannot create files in {parent} "
                             f"({exc.strerror})") from None


def probe_implementation(name: str, timeout: float) -> str:
    """Import ``name`` (``MODULE:ATTR`` or an alias) in a forked child and return its
    target; an import that raises, hangs past ``timeout`` or kills its process is a
    :class:`UsageError`, and the parent is left untouched by it."""
    import chainer  # noqa: F401 - the framework's own import is not timed, as in the tests

    target = impl.ALIASES.get(name, name)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: import, report, exit without running any cleanup
        os.close(read_end)
        os.setpgid(0, 0)
        _silence()  # the verdict is the one line the parent prints
        message = ""
        try:
            impl.resolve(name)
        except impl.ImplementationError as exc:
            message = str(exc)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and the like
            message = f"importing {target!r} raised {type(exc).__name__}: {exc}"
        os.write(write_end, (message or "ok").encode("utf-8", "replace")[:4000])
        os._exit(0)
    os.close(write_end)
    answer = None
    try:
        if select.select([read_end], [], [], timeout)[0]:
            answer = os.read(read_end, 4096).decode("utf-8", "replace")
    finally:
        os.close(read_end)
        if answer is None:
            signal_group(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if answer is None:
        raise UsageError(f"importing {target!r} did not finish within {timeout:g} s")
    if answer == "ok":
        return target
    if answer:
        raise UsageError(answer)
    if os.WIFSIGNALED(status):
        raise UsageError(f"importing {target!r} killed its process "
                         f"({signal.Signals(os.WTERMSIG(status)).name})")
    raise UsageError(f"importing {target!r} exited the process "
                     f"(status {os.WEXITSTATUS(status)})")


def _silence() -> None:
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def fail(prog: str, exc: UsageError) -> int:
    """Print the usage error as one line; the exit status 2."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return 2


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a CLI's body: a usage error is one line and exit 2; SIGINT or SIGTERM end it
    with one line ``interrupted`` and exit 130 or 143 (nothing half-written is left)."""
    try:
        with raised_on_signals():
            return body()
    except UsageError as exc:
        return fail(prog, exc)
    except Interrupted as exc:
        print(f"{prog}: interrupted", file=sys.stderr)
        return exc.exit_status
