"""The SMS gateway's webhook, POST /channels/sms (docs/channels.md, "SMS"): a thin view over
workflows/sms.py. The gateway authenticates with the shared secret ADUAN_SMS_GATEWAY_SECRET,
in the header X-Aduan-Gateway-Secret or as the password of HTTP basic auth, compared in
constant time; without a configured secret the webhook does not exist (404)."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from web.webhooks import domain_error, refused
from workflows.errors import DomainError

blueprint = Blueprint("sms", __name__)
SECRET_HEADER = "X-Aduan-Gateway-Secret"  # noqa: S105 - a header name, not a secret


def _domain() -> Any:
    return current_app.extensions["aduan.domain"]


def _refused(status: int, message: str) -> Response:
    response = refused(status, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="aduan-sms"'
    return response


blueprint.register_error_handler(DomainError, domain_error)


@blueprint.post("/channels/sms")
def inbound() -> Response:
    secret = current_app.extensions["aduan.settings"].sms_gateway_secret
    if not secret:
        abort(404)
    sent = request.headers.get(SECRET_HEADER)
    if sent is None and request.authorization is not None:
        sent = request.authorization.password
    if not sent:
        return _refused(401, f"send the gateway's shared secret in the {SECRET_HEADER} "
                             "header (or as the password of HTTP basic auth)")
    if not hmac.compare_digest(sent.encode("utf-8"), secret.encode("utf-8")):
        return _refused(403, "the gateway's shared secret is wrong")
    message = request.get_json(silent=True)
    if not isinstance(message, dict):
        return _refused(400, "send a JSON object: {\"id\", \"from\", \"text\", \"part\", "
                             "\"parts\", \"ref\", \"received_at\"} (Content-Type: "
                             "application/json)")
    return jsonify(_domain().sms.receive(message))
