"""Errors of the complaint domain; each maps to one HTTP status in web/."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the domain's errors; str() is a message a person can act on."""

    status = 400


class Invalid(DomainError):
    """Input that cannot be accepted; `field_errors` names each field and what is wrong."""

    status = 422

    def __init__(self, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """Someone else acted first, or the case is not in a state that allows this."""

    status = 409
