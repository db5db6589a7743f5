"""The WhatsApp Cloud API's webhook deliveries, read and checked (workflows/whatsapp.py).

A delivery is `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {"messages": [...], "statuses": [...], "contacts": [...]}}]}]}`.
Messages become `{"id", "from", "sent_at", "kind", "content"}` with `kind` one of text,
location, image, unsupported (audio, video, documents, stickers, contacts...) and ignored
(reactions, system notices); statuses become `{"id", "status", "at", "error"}`. Anything not
of that form is Invalid, naming where (`entry[0].changes[0].value.messages[1].id`), and
nothing of the delivery is taken.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from workflows.channels import InvalidRecipient, normalize_phone
from workflows.errors import Invalid

MAX_ITEMS = 1000  # messages and statuses in one delivery
TEXT_LIMIT = 5000
STATUSES = ("sent", "delivered", "read", "failed")
UNSUPPORTED = ("audio", "video", "document", "sticker", "contacts", "unsupported", "order",
               "unknown")
IGNORED = ("reaction", "system", "request_welcome")


def parse_delivery(delivery: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    errors: dict[str, str] = {}
    messages: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    if not isinstance(delivery, Mapping) or not isinstance(delivery.get("entry"), list):
        raise Invalid("not a WhatsApp webhook delivery",
                      {"entry": "send the Cloud API's delivery: an object with an `entry` "
                                "list"})
    if delivery.get("object") not in (None, "whatsapp_business_account"):
        raise Invalid("not a WhatsApp webhook delivery",
                      {"object": "expected \"whatsapp_business_account\""})
    for e, entry in enumerate(delivery["entry"]):
        changes = entry.get("changes") if isinstance(entry, Mapping) else None
        if not isinstance(changes, list):
            errors[f"entry[{e}].changes"] = "give a list of changes"
            continue
        for c, change in enumerate(changes):
            where = f"entry[{e}].changes[{c}].value"
            value = change.get("value") if isinstance(change, Mapping) else None
            if not isinstance(value, Mapping):
                errors[where] = "give the change's value object"
                continue
            for name, reader, out in (("messages", _message, messages),
                                      ("statuses", _status, statuses)):
                items = value.get(name, [])
                if not isinstance(items, list):
                    errors[f"{where}.{name}"] = "give a list"
                    continue
                for i, item in enumerate(items):
                    try:
                        out.append(reader(item))
                    except _Bad as exc:
                        errors[f"{where}.{name}[{i}]{exc.path}"] = exc.why
    if len(messages) + len(statuses) > MAX_ITEMS:
        errors["entry"] = f"at most {MAX_ITEMS} messages and statuses in one delivery"
    if errors:
        raise Invalid("the WhatsApp delivery has errors", errors)
    return messages, statuses


class _Bad(Exception):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(why)
        self.path, self.why = path, why


def _message(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise _Bad("", "give a message object")
    message_id = _string(item, "id", 200)
    try:
        sender = normalize_phone(_string(item, "from", 32))
    except InvalidRecipient as exc:
        raise _Bad(".from", "give the sender's WhatsApp number (wa_id)") from exc
    sent_at = _timestamp(item)
    kind = item.get("type")
    if not isinstance(kind, str):
        raise _Bad(".type", "give the message type")
    content: dict[str, Any]
    if kind == "text":
        body = _object(item, "text")
        content = {"text": _string(body, "body", TEXT_LIMIT, ".text")}
    elif kind == "location":
        place = _object(item, "location")
        content = {"latitude": _number(place, "latitude", 90), "longitude":
                   _number(place, "longitude", 180)}
        for key in ("name", "address"):
            if isinstance(place.get(key), str):
                content[key] = place[key][:300]
    elif kind == "image":
        image = _object(item, "image")
        content = {"media_id": _string(image, "id", 128, ".image"),
                   "mime_type": str(image.get("mime_type") or "")[:60]}
        if isinstance(image.get("caption"), str):
            content["caption"] = image["caption"][:TEXT_LIMIT]
    elif kind == "button":
        content = {"text": _string(_object(item, "button"), "text", 200, ".button")}
    elif kind == "interactive":
        chosen = _object(item, "interactive")
        reply = chosen.get("button_reply") or chosen.get("list_reply")
        if not isinstance(reply, Mapping):
            raise _Bad(".interactive", "give the button_reply or list_reply")
        content = {"text": _string(reply, "title", 200, ".interactive.reply")}
        kind = "text"
    elif kind in IGNORED:
        content = {}
        kind = "ignored"
    else:
        content = {"type": kind[:20]}
        kind = "unsupported"
    if kind == "button":
        kind = "text"
    return {"id": message_id, "from": sender, "sent_at": sent_at, "kind": kind,
            "content": content}


def _status(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise _Bad("", "give a status object")
    status = item.get("status")
    if status not in STATUSES:
        raise _Bad(".status", f"one of {', '.join(STATUSES)}")
    error = ""
    found = item.get("errors")
    if isinstance(found, list) and found and isinstance(found[0], Mapping):
        first = found[0]
        error = " ".join(str(first.get(k)) for k in ("code", "title", "message")
                         if first.get(k) is not None)[:500]
    return {"id": _string(item, "id", 200), "status": status, "at": _timestamp(item),
            "error": error}


def _string(holder: Mapping[str, Any], key: str, limit: int, prefix: str = "") -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit \
            or "\x00" in value:
        raise _Bad(f"{prefix}.{key}", f"give a string of 1 to {limit} characters")
    return value


def _object(holder: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = holder.get(key)
    if not isinstance(value, Mapping):
        raise _Bad(f".{key}", f"a {holder.get('type')} message needs its `{key}` object")
    return value


def _number(holder: Mapping[str, Any], key: str, bound: float) -> float:
    value = holder.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or abs(value) > bound:
        raise _Bad(f".location.{key}", f"give a number between -{bound} and {bound}")
    return float(value)


def _timestamp(item: Mapping[str, Any]) -> datetime:
    value = item.get("timestamp")
    try:
        seconds = int(str(value))
        if not 0 < seconds < 2**33:
            raise ValueError
        return datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError) as exc:
        raise _Bad(".timestamp", "give the Unix time in seconds, e.g. \"1765008000\"") \
            from exc
