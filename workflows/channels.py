"""Channel adapters of the outbox sender: email over SMTP, WhatsApp Cloud API, an SMS gateway.

A channel sends one rendered message and returns the provider's message id (or None when the
provider gives none). It says how a failure should be treated by the exception it raises:

- `TemporaryFailure`: try again later (connection refused or reset, timeouts, HTTP 5xx, 408,
  425, 429, SMTP 4xx replies; rejected credentials (HTTP 401/403/407, SMTP login, sender
  refused): an operator can fix the configuration and the row still goes out);
- `PermanentFailure`: this message will never go through (an invalid address or phone number,
  HTTP 4xx other than 401/403/407/408/425/429, SMTP 5xx replies to the recipient or the data);
  the sender puts the row in the dead letters at once.

In-app notifications have no adapter: their outbox rows are written as 'unread' and read by the
web UI, the sender never claims them.

HTTP channels use urllib.request with a timeout, send JSON, never follow redirects (the
credentials must not travel to another host) and put the start of the provider's answer in the
error, so an operator sees why a message failed.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

ERROR_EXCERPT = 300  # characters of a provider's answer kept in an error message


class DeliveryError(Exception):
    """A channel could not deliver a message; str() says why."""


class TemporaryFailure(DeliveryError):
    """Worth trying again later."""


class PermanentFailure(DeliveryError):
    """Will never succeed as it is: dead letter at once."""


class InvalidRecipient(PermanentFailure):
    """The address or phone number cannot be used."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered notification, as a channel sees it."""

    recipient: str
    subject: str
    body: str
    language: str = "id"
    template: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    outbox_id: int | None = None  # gives a stable email Message-ID across retries

    def text(self) -> str:
        """The plain text of a chat or SMS message: the subject line (if any), then the body."""
        return f"{self.subject}\n{self.body}" if self.subject else self.body


class Channel(Protocol):
    def send(self, message: OutgoingMessage) -> str | None:
        """Deliver the message; the provider's message id, if it gives one.

        Raises TemporaryFailure or PermanentFailure.
        """
        ...


# --------------------------------------------------------------------------- phone numbers


_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


def normalize_phone(raw: str) -> str:
    """E.164 digits without the '+': Indonesian numbers written as 08xx become 628xx.

    Accepts "0812-3456-7890", "+62 812 3456 7890", "62812...", "0062812...", "812..." (no trunk
    zero) and "+62 0812..." (a trunk zero after the country code). Other countries need their
    "+" or "00" prefix. Raises InvalidRecipient when the result is not 8 to 15 digits.
    """
    number = _PHONE_PUNCTUATION.sub("", raw or "")
    if number.startswith("+"):
        digits = number[1:]
    elif number.startswith("00"):
        digits = number[2:]
    elif number.startswith("0"):
        digits = "62" + number[1:]
    elif number.startswith("8"):
        digits = "62" + number
    else:
        digits = number
    if digits.startswith("620"):
        digits = "62" + digits[3:]
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise InvalidRecipient(f"invalid phone number {raw!r}")
    return digits


def same_phone(written: str | None, phone: str) -> bool:
    """Whether a phone number as a citizen wrote it is `phone` (E.164 digits)."""
    try:
        return bool(written) and normalize_phone(written or "") == phone
    except InvalidRecipient:
        return False


# --------------------------------------------------------------------------- email


_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+$")  # local@domain, nothing else


class SmtpChannel:
    """Email over SMTP (smtplib): a UTF-8 text/plain message, one connection per message."""

    def __init__(self, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False,
                 timeout: float = 10) -> None:
        if not _EMAIL.match(sender or ""):
            raise ValueError(f"invalid sender address {sender!r}")
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The email: Subject, From, To, Date, Message-ID, Content-Language, UTF-8 body."""
        recipient = message.recipient.strip()
        if len(recipient) > 254 or not _EMAIL.match(recipient):
            raise InvalidRecipient(f"invalid email address {message.recipient!r}")
        domain = self.sender.rsplit("@", 1)[1]
        mail = EmailMessage()
        mail["Subject"] = " ".join(message.subject.split())  # never a line break in a header
        mail["From"] = self.sender
        mail["To"] = recipient
        mail["Date"] = formatdate(usegmt=True)
        if message.outbox_id is not None:
            mail["Message-ID"] = f"<aduan.outbox.{message.outbox_id}@{domain}>"
        else:
            mail["Message-ID"] = make_msgid(domain=domain)
        mail.set_content(message.body, charset="utf-8", cte="quoted-printable")
        if re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", message.language or ""):
            mail["Content-Language"] = message.language  # after set_content, which clears it
        return mail

    def send(self, message: OutgoingMessage) -> str | None:
        mail = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _smtp_failure(code, reply, "recipient refused") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"SMTP login refused: {exc.smtp_code} "
                                   f"{_text(exc.smtp_error)}") from exc
        except smtplib.SMTPDataError as exc:  # the server refused this message
            raise _smtp_failure(exc.smtp_code, exc.smtp_error, "message refused") from exc
        except (smtplib.SMTPException, OSError) as exc:  # sender refused (configuration),
            # connection refused or reset, timeout, TLS: none of them is this message's fault
            raise TemporaryFailure(f"SMTP {self.host}:{self.port}: "
                                   f"{type(exc).__name__}: {exc}") from exc
        return str(mail["Message-ID"])


def _smtp_failure(code: int, reply: bytes | str, what: str) -> DeliveryError:
    text = f"SMTP {what}: {code} {_text(reply)}"
    return PermanentFailure(text) if 500 <= code < 600 else TemporaryFailure(text)


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value[:ERROR_EXCERPT]


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer becomes an HTTPError


_opener = urllib.request.build_opener(_NoRedirect)

# Statuses that are not the message's fault: the same request may succeed later.
_RETRYABLE_4XX = {401, 403, 407, 408, 425, 429}


def _check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float,
              service: str) -> Any:
    """POST JSON and return the decoded JSON answer (None when it is not JSON).

    Maps failures to TemporaryFailure / PermanentFailure with the status and the start of the
    answer in the message.
    """
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
        _check_url(url), data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Accept": "application/json", **headers})
    raw = _fetch(request, timeout, service, None)
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None  # accepted (2xx): never retried, that would send it twice


def get_bytes(url: str, headers: dict[str, str], timeout: float, service: str,
              max_bytes: int) -> bytes:
    """GET a body of at most `max_bytes` (TooLarge beyond, read no further); failures as in
    post_json."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
        _check_url(url), method="GET", headers=headers)
    return _fetch(request, timeout, service, max_bytes)


class TooLarge(PermanentFailure):
    """The answer is longer than the caller accepts."""


def _fetch(request: urllib.request.Request, timeout: float, service: str,
           max_bytes: int | None) -> bytes:
    try:
        with _opener.open(request, timeout=timeout) as response:
            if max_bytes is None:
                return response.read()
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"{service} sent {declared} bytes, more than {max_bytes}")
            raw = response.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise TooLarge(f"{service} sent more than {max_bytes} bytes")
            return raw
    except urllib.error.HTTPError as exc:
        try:
            detail = _text(exc.read() or b"").strip()
        except OSError:
            detail = ""
        finally:
            exc.close()
        text = f"{service} answered HTTP {exc.code}" + (f": {detail}" if detail else "")
        if 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX:
            raise PermanentFailure(text) from exc
        raise TemporaryFailure(text) from exc
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
        reason = getattr(exc, "reason", exc)
        raise TemporaryFailure(f"{service} unreachable: {type(exc).__name__}: {reason}"
                               ) from exc


# The WhatsApp message templates used outside the 24-hour window: our outbox template ->
# (the default name registered with Meta, its body parameters in order). Names are
# configurable (ADUAN_WHATSAPP_TEMPLATES); docs/channels.md gives each body to register.
WHATSAPP_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "status_changed": ("aduan_status_update", ("tracking_number", "text", "link")),
    "info_requested": ("aduan_info_request", ("tracking_number", "text", "link")),
    "followed_status_changed": ("aduan_followed_update", ("tracking_number", "text")),
    "whatsapp_abandoned": ("aduan_report_abandoned", ()),
}
TEMPLATE_PARAMETER_LIMIT = 700  # characters of one parameter (Meta's body limit is 1024)
WINDOW_HOURS = 24  # WhatsApp accepts free-form messages this long after the citizen's last


def template_parameter(value: str) -> str:
    """A template parameter as WhatsApp accepts it: no line breaks or tabs, never more than
    four spaces in a row, not empty, not too long."""
    flat = " ".join(str(value or "").split())
    if len(flat) > TEMPLATE_PARAMETER_LIMIT:
        flat = flat[:TEMPLATE_PARAMETER_LIMIT - 3].rstrip() + "..."
    return flat or "-"


class WhatsAppCloudChannel:
    """WhatsApp Cloud API: POST {url} (https://graph.facebook.com/vNN.N/<phone-number-id>/messages)

    with `Authorization: Bearer <token>`. Within the 24-hour window after the citizen's last
    message (`window_open(phone)`, from the conversations WhatsApp delivered) the message is
    free-form text, `{"messaging_product": "whatsapp", "to": "628...", "type": "text",
    "text": {"preview_url": false, "body": "<subject>\\n<body>"}}`; outside it, the approved
    template named for the outbox template (`templates`, WHATSAPP_TEMPLATES' defaults) with
    its parameters, in the message's language. A message with no template for it outside the
    window is a dead letter saying so. The answer's `messages[0].id` is the provider id, to
    which WhatsApp's delivery statuses refer (workflows/whatsapp.py records them).
    Without `window_open` every message is free-form text (as before the window was known).
    """

    def __init__(self, url: str, token: str, timeout: float = 10, *,
                 window_open: Callable[[str], bool] | None = None,
                 templates: Mapping[str, str] | None = None) -> None:
        self.url = _check_url(url)
        self.token = token
        self.timeout = timeout
        self.window_open = window_open
        self.templates = {key: name for key, (name, _) in WHATSAPP_TEMPLATES.items()}
        self.templates.update(templates or {})

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        to = normalize_phone(message.recipient)
        if self.window_open is None or self.window_open(to):
            return {"messaging_product": "whatsapp", "to": to, "type": "text",
                    "text": {"preview_url": False, "body": message.text()}}
        name = self.templates.get(message.template)
        if not name:
            raise PermanentFailure(
                f"WhatsApp: {to} has not written in the last {WINDOW_HOURS} hours and no "
                f"template is configured for {message.template!r} (ADUAN_WHATSAPP_TEMPLATES)")
        names = WHATSAPP_TEMPLATES.get(message.template, ("", ("text",)))[1]
        values = {"text": _without_link(message), **message.payload}
        template: dict[str, Any] = {"name": name, "language": {
            "code": message.language if message.language in ("id", "en") else "id"}}
        if names:
            template["components"] = [{"type": "body", "parameters": [
                {"type": "text", "text": template_parameter(values.get(key, ""))}
                for key in names]}]
        return {"messaging_product": "whatsapp", "to": to, "type": "template",
                "template": template}

    def send(self, message: OutgoingMessage) -> str | None:
        answer = post_json(self.url, self.payload(message),
                           {"Authorization": f"Bearer {self.token}"}, self.timeout, "WhatsApp")
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            return None


def _without_link(message: OutgoingMessage) -> str:
    """The message's words for a template: the body without its last line when that line
    carries the tracking link the template gives as a parameter of its own."""
    lines = message.body.splitlines()
    link = str(message.payload.get("link") or "")
    if len(lines) > 1 and link and link in lines[-1]:
        lines = lines[:-1]
    return " ".join(lines)


class SmsGatewayChannel:
    """A generic HTTP SMS gateway.

    Request: `POST {url}` with `Content-Type: application/json` and the body
    `{"to": "628123456789", "message": "<subject>\\n<body>"}` (`to` in E.164 digits, no '+';
    add `"sender": sender_id` when one is configured). Authentication: HTTP basic with
    `username` and `password`, or the header `api_key_header` (default `X-API-Key`) carrying
    `api_key`. Answer: any 2xx is accepted; a JSON object's `id` or `message_id` (top level or
    inside `data`) is kept as the provider id. 5xx, 408 and 429 are retried, other 4xx are
    dead letters.
    """

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 *, api_key: str | None = None, api_key_header: str = "X-API-Key",
                 sender_id: str | None = None, timeout: float = 10) -> None:
        self.url = _check_url(url)
        self.headers: dict[str, str] = {}
        if api_key:
            self.headers[api_key_header] = api_key
        if username:
            credentials = f"{username}:{password or ''}".encode()
            self.headers["Authorization"] = "Basic " + b64encode(credentials).decode("ascii")
        self.sender_id = sender_id
        self.timeout = timeout

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"to": normalize_phone(message.recipient),
                                "message": message.text()}
        if self.sender_id:
            body["sender"] = self.sender_id
        return body

    def send(self, message: OutgoingMessage) -> str | None:
        answer = post_json(self.url, self.payload(message), self.headers, self.timeout,
                           "SMS gateway")
        if isinstance(answer, dict):
            for holder in (answer, answer.get("data")):
                if isinstance(holder, dict):
                    for key in ("id", "message_id"):
                        if holder.get(key) is not None:
                            return str(holder[key])
        return None
