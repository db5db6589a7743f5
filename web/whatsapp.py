"""WhatsApp Cloud API's webhook, /channels/whatsapp (docs/channels.md, "WhatsApp"): a thin
view over workflows/whatsapp.py.

- GET: the subscription handshake. Meta sends `hub.mode=subscribe`, `hub.verify_token` and
  `hub.challenge`; the challenge is answered when the token is ADUAN_WHATSAPP_VERIFY_TOKEN
  (403 otherwise).
- POST: a delivery, signed by Meta: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw
  body with the app secret ADUAN_WHATSAPP_APP_SECRET>`, compared in constant time. Missing:
  401; wrong: 403; nothing is stored then. Bodies over 1 MB are refused (413).
Without a configured app secret and verify token the webhook does not exist (404).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from web.webhooks import domain_error, refused
from workflows.errors import DomainError

blueprint = Blueprint("whatsapp", __name__)
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY = 1024 * 1024
CHALLENGE_LIMIT = 200


def _settings() -> Any:
    return current_app.extensions["aduan.settings"]


blueprint.register_error_handler(DomainError, domain_error)


def _configured() -> Any:
    settings = _settings()
    if not settings.whatsapp_app_secret or not settings.whatsapp_verify_token:
        abort(404)
    return settings


@blueprint.get("/channels/whatsapp")
def verify() -> Response:
    settings = _configured()
    token = request.args.get("hub.verify_token") or ""
    challenge = request.args.get("hub.challenge") or ""
    if request.args.get("hub.mode") != "subscribe":
        return refused(400, "hub.mode must be subscribe")
    if not token or not hmac.compare_digest(token.encode("utf-8"),
                                            settings.whatsapp_verify_token.encode("utf-8")):
        return refused(403, "hub.verify_token is not this webhook's verify token "
                             "(ADUAN_WHATSAPP_VERIFY_TOKEN)")
    if not challenge or len(challenge) > CHALLENGE_LIMIT or not challenge.isprintable():
        return refused(400, "hub.challenge must be 1 to 200 printable characters")
    return Response(challenge, mimetype="text/plain")


@blueprint.post("/channels/whatsapp")
def inbound() -> Response:
    settings = _configured()
    if request.content_length is not None and request.content_length > MAX_BODY:
        return refused(413, f"a delivery may be at most {MAX_BODY} bytes")
    sent = (request.headers.get(SIGNATURE_HEADER) or "").strip()
    if not sent:
        return refused(401, f"sign the delivery: {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 "
                             "of the body with the app secret>")
    raw = request.get_data(cache=False)[:MAX_BODY + 1]
    if len(raw) > MAX_BODY:
        return refused(413, f"a delivery may be at most {MAX_BODY} bytes")
    expected = "sha256=" + hmac.new(settings.whatsapp_app_secret.encode("utf-8"), raw,
                                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8")):
        return refused(403, f"{SIGNATURE_HEADER} does not match the body and the app secret")
    try:
        delivery = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return refused(400, "the body is not JSON (UTF-8)")
    return jsonify(current_app.extensions["aduan.domain"].whatsapp.receive(delivery))
