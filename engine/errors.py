"""Errors the engine raises; each message says what went wrong and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field


class EngineError(Exception):
    """Base of every error the engine raises; str() is a message a person can act on."""


class NotFound(EngineError):
    """A definition, instance or task that does not exist (or is no longer open)."""


class Conflict(EngineError):
    """Another writer changed the same instance or task first; reload and try again."""


class InvalidInput(EngineError):
    """Data handed to the engine is unusable; `field_errors` maps a field path to a message."""

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}


@dataclass(frozen=True)
class Finding:
    """One problem in a deployment unit: which file, which element, what to change."""

    file: str
    element_id: str | None
    severity: str  # "error" stops a deployment, "warning" does not
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "file": self.file,
            "element_id": self.element_id,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass
class ValidationFailed(EngineError):
    """A deployment unit that cannot be deployed; `findings` lists every problem found."""

    findings: list[Finding] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{len(self.findings)} problem(s) found:"]
        lines += [f"  {f.file} [{f.element_id or '-'}] {f.message}" for f in self.findings]
        return "\n".join(lines)


class MigrationRefused(EngineError):
    """A migration that would lose work or break a running instance."""


class TimeTravelRefused(EngineError):
    """Acting as if it were another time without the operator's explicit permission."""
