"""Errors of the complaint domain; each maps to one HTTP status in web/.

A message may be a template with keyword parameters (engine.errors.Message):

    raise Conflict("report %(tracking)s was changed by someone else", tracking=number)
    raise Invalid("the report has errors", {"title": Message("at least %(limit)s characters",
                                                             limit=5)})

str() and the JSON API say the English text; `exc.message` (and each field error that is a
Message) also keeps the message id and parameters, which the pages translate
(web/i18n.py: say). The message ids are in the pages' catalogs like any other message.
"""

from __future__ import annotations

from typing import Any

from engine.errors import N_, Message, MessageError

__all__ = ["N_", "BadParameter", "Conflict", "DomainError", "Forbidden", "Invalid", "Message",
           "NotFound", "TooManyAttempts", "Unauthenticated"]


class DomainError(MessageError):
    """Base of the domain's errors; str() is a message a person can act on (a Message
    template with its parameters, as the engine's errors)."""

    status = 400


class Invalid(DomainError):
    """Input that cannot be accepted; `field_errors` names each field and what is wrong
    (a str, or a Message that pages can translate)."""

    status = 422

    def __init__(self, message: str, field_errors: dict[str, str] | None = None, /,
                 **params: Any) -> None:
        super().__init__(message, **params)
        self.field_errors = field_errors or {}


class BadParameter(Invalid):
    """A query parameter that is not one of its choices or is out of its range (HTTP 400);
    `field_errors` names the parameter."""

    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """Someone else acted first, or the case is not in a state that allows this."""

    status = 409


class TooManyAttempts(DomainError):
    """Too many failed attempts (sign-in, tracking codes) from one address or for one
    account; `retry_minutes` says when to try again."""

    status = 429

    def __init__(self, message: str, /, retry_minutes: int = 0, **params: Any) -> None:
        super().__init__(message, **params)
        self.retry_minutes = retry_minutes
