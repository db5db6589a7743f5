"""The time budget of diagram code: a per-thread line tracer that stops it at its limit."""

from __future__ import annotations

import sys
import threading
import time
import types
from typing import Any, Final

from engine.errors import N_
from engine.sandbox.errors import DIAGRAM_FILENAME, SandboxError, SandboxTimeout, refuse
from engine.sandbox.limits import shorten_exception

CLOCK_EVERY: Final = 4  # line events between two looks at the clock

_local = threading.local()


class _Budget:
    """The time budget of one evaluate/execute call, enforced by a per-thread tracer."""

    __slots__ = ("countdown", "deadline", "expired", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.deadline = time.perf_counter() + limit
        self.countdown = CLOCK_EVERY
        self.expired = False

    def check(self) -> None:
        if self.expired or time.perf_counter() > self.deadline:
            self.expired = True
            raise SandboxTimeout(N_("diagram code ran longer than %(seconds)s s and was "
                                    "stopped; simplify the expression or script in the "
                                    "diagram"), seconds=f"{self.limit:g}")

    def trace_call(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        # Only diagram frames are traced line by line; host helpers are trusted code.
        if frame.f_code.co_filename != DIAGRAM_FILENAME:
            return None
        self.check()
        return self.trace_line

    def trace_line(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = CLOCK_EVERY
            self.check()
        return self.trace_line


def _budgets() -> list[_Budget]:
    stack: list[_Budget] | None = getattr(_local, "budgets", None)
    if stack is None:
        stack = _local.budgets = []
    return stack


def checkpoint() -> None:
    """Injected at the top of every except/finally block of diagram code.

    CPython switches a tracer off when it raises (SandboxTimeout, or a RecursionError or
    MemoryError inside the tracer itself), so code that catches that exception would run on
    untraced. Every handler therefore re-checks the budget and re-installs the tracer.
    """
    stack = _budgets()
    if not stack:
        raise refuse("ran outside of a sandbox call")
    budget = stack[-1]
    budget.check()
    if sys.gettrace() != budget.trace_call:
        sys.settrace(budget.trace_call)
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == DIAGRAM_FILENAME:
            frame.f_trace = budget.trace_line
            frame = frame.f_back


def run_within_budget(
    code: types.CodeType, namespace: dict[str, Any], limit_seconds: float
) -> Any:
    """Run compiled diagram code in `namespace`; stop it once it has run `limit_seconds`."""
    budget = _Budget(limit_seconds)
    budgets = _budgets()
    previous = sys.gettrace()
    budgets.append(budget)
    sys.settrace(budget.trace_call)
    try:
        return eval(code, namespace)  # noqa: S307 - compiled by RestrictedPython (compiler.py)
    except SandboxError:
        raise
    except BaseException as exc:
        shorten_exception(exc)
        raise
    finally:
        sys.settrace(previous)
        budgets.pop()
