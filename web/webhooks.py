"""What the gateways' webhooks (web/sms.py, web/whatsapp.py) share: JSON answers for the
machines calling them, never the pages' HTML error pages."""

from __future__ import annotations

from flask import Response, jsonify

from workflows.errors import DomainError, Invalid


def refused(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def domain_error(exc: DomainError) -> Response:
    """A use case's refusal: 400 for bad input (naming each field), else its status."""
    status = 400 if isinstance(exc, Invalid) else exc.status
    fields = {name: str(message) for name, message in getattr(exc, "field_errors", {}).items()}
    response = jsonify({"error": str(exc), "fields": fields})
    response.status_code = status
    return response
