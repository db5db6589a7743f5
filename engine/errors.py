"""Errors the engine raises; each message says what went wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    """Mark a message id for extraction (web/i18n.py: EXTRACT_SOURCES); it is translated
    where it is shown."""
    return message


class Message(str):
    """A message as the API, the CLI and the logs say it (the str itself, in English) that
    also carries its message id and parameters, so a user interface can say it in another
    language: translate `msgid` (English, with %(name)s placeholders), then `% params`.

        Message("task %(task)s is already claimed by %(holder)s", task=t, holder=h)
        Message.worded("'x' is too long", "at most %(limit)s characters", limit=200)

    `worded` keeps a text written elsewhere (a JSON Schema validator's) as the English while
    giving the interface its own id. Messages are str everywhere: JSON, comparisons, logs.
    The msgids are extracted into the pages' catalogs (web/i18n.py: EXTRACT_SOURCES).
    """

    msgid: str
    params: Mapping[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Message:
        if isinstance(msgid, Message) and not params:
            return msgid
        return cls.worded(msgid % params if params else str(msgid), str(msgid), **params)

    @classmethod
    def worded(cls, text: str, msgid: str, /, **params: Any) -> Message:
        made = super().__new__(cls, text)
        made.msgid = msgid
        made.params = params
        return made

    def __getnewargs__(self) -> tuple[str]:  # pickle and copy: the text, then the attributes
        return (str(self),)


# What a JSON Schema check says, by keyword, in words an interface can translate; the
# English the API shows stays jsonschema's own (e.g. "'abc' is too short").
SCHEMA_MESSAGES = {
    "minLength": N_("at least %(limit)s characters"),
    "maxLength": N_("at most %(limit)s characters"),
    "minimum": N_("at least %(limit)s"),
    "maximum": N_("at most %(limit)s"),
    "exclusiveMinimum": N_("more than %(limit)s"),
    "exclusiveMaximum": N_("less than %(limit)s"),
    "enum": N_("not one of the allowed values"),
    "const": N_("not the allowed value"),
    "type": N_("not the right kind of value"),
    "format": N_("not a valid %(limit)s"),
    "pattern": N_("not in the expected form"),
}
FIELD_REQUIRED = N_("this field is required")


def schema_message(error: Any) -> Message:
    """A jsonschema ValidationError's message, with an id for its kind of check."""
    wording = SCHEMA_MESSAGES.get(error.validator, N_("not valid"))
    limit = error.validator_value if isinstance(error.validator_value, (int, float, str)) \
        else ""
    return Message.worded(error.message, wording, limit=limit)


class MessageError(Exception):
    """An error whose message may be a template with keyword parameters,
    `Conflict("task %(task)s is claimed", task=task_id)`: str() is then the filled-in text,
    and `message` the Message that keeps the id and the parameters (for a translated
    interface). The base of the engine's errors and of the domain's (workflows.errors)."""

    def __init__(self, message: str = "", /, **params: Any) -> None:
        super().__init__(Message(message, **params))

    @property
    def message(self) -> Message:
        text = self.args[0] if self.args else str(self)
        return text if isinstance(text, Message) else Message(str(text))


class EngineError(MessageError):
    """Base of every error the engine raises; str() is a message a person can act on."""


class NotFound(EngineError):
    """A definition, instance or task that does not exist (or is no longer open)."""


class Conflict(EngineError):
    """Another writer changed the same instance or task first; reload and try again."""


class TaskNotOpen(Conflict):
    """The task was completed or cancelled by another writer (or never existed)."""


class InvalidInput(EngineError):
    """Data handed to the engine is unusable; `field_errors` maps a field path to a message."""

    def __init__(self, message: str, field_errors: dict[str, str] | None = None, /,
                 **params: Any) -> None:
        super().__init__(message, **params)
        self.field_errors = field_errors or {}


@dataclass(frozen=True)
class Finding:
    """One problem in a deployment unit: which file, which element, what to change."""

    file: str
    element_id: str | None
    severity: str  # "error" stops a deployment, "warning" does not
    message: str
    rule: str | None = None  # the lint rule that found it (engine/definitions/lint.py)

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
