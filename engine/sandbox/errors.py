"""What goes wrong in diagram code: the sandbox's errors, and the diagram line one came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from engine.errors import EngineError

# The file name of every code object compiled from a diagram: the tracer, tracebacks and
# diagram_line recognise diagram frames by it.
DIAGRAM_FILENAME: Final = "<diagram>"


class SandboxError(EngineError):
    """Diagram code could not be run safely; str() says what to change in the diagram."""


class SandboxCompileError(SandboxError):
    """Diagram code that does not compile or uses something the sandbox refuses."""

    def __init__(self, errors: Sequence[tuple[int | None, str]]) -> None:
        self.errors = list(errors)
        self.line = self.errors[0][0] if self.errors else None
        problems = "; ".join(
            f"line {line}: {message}" if line else message for line, message in self.errors
        )
        super().__init__(f"diagram code cannot be run ({problems}); the diagram must be changed")

    def __reduce__(self) -> tuple[type, tuple[list[tuple[int | None, str]]]]:
        return type(self), (self.errors,)  # crosses the pipe from a sandbox worker whole


class SandboxViolation(SandboxError):
    """Diagram code tried something forbidden at run time (an escape or a huge value)."""


class SandboxTimeout(SandboxError):
    """Diagram code used up its time budget and was stopped."""


class SandboxLimitExceeded(SandboxError):
    """Diagram code exceeded a hard limit of its worker process (memory, CPU, wall clock) and
    was stopped with the worker; or no worker was free in time. `limit` names which."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (str(self), self.limit)


def diagram_line(exc: BaseException) -> int | None:
    """The line of diagram code where `exc` was raised, if it came from diagram code."""
    line = getattr(exc, "line", None) if isinstance(exc, SandboxCompileError) else None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == DIAGRAM_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def refuse(message: str) -> SandboxViolation:
    """A violation at run time, worded for the person who must change the diagram."""
    return SandboxViolation(f"diagram code {message}; the diagram must be changed")
