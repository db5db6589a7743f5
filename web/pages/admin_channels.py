"""Notification channels and the outbox (/admin/channels, system administrators): the e-mail,
WhatsApp and SMS settings of the environment with secrets masked, a test message per
configured channel, the outbox filtered by channel and status, dead letters requeued, and
the messages sent per channel per day (workflows/channel_admin.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, gettext
from web.pages import pages
from web.pages.admin import ADMIN_SECTIONS
from web.pages.common import domain, field_messages, settings
from web.pages.officers import officer
from workflows.channel_admin import ADMINS, CHANNELS, STATUSES
from workflows.errors import Invalid

ADMIN_SECTIONS.append((
    "pages.admin_channels", N_("Notification channels and the outbox"),
    N_("E-mail, WhatsApp and SMS settings, a test message, the outbox and its dead letters."),
    ADMINS))
CHANNEL_NAMES = {"email": N_("E-mail"), "whatsapp": N_("WhatsApp"), "sms": N_("SMS")}
STATUS_NAMES = {"pending": N_("Pending"), "failed": N_("Failed, will retry"),
                "sent": N_("Sent"), "dead": N_("Dead letter")}


def secret(value: str) -> str:
    """A secret as the page shows it: whether it is set, never any of it."""
    return "••••••••" if value else gettext("not set")


def endpoint(url: str) -> str:
    """A provider's URL without its query or credentials (they may hold a key)."""
    if not url:
        return gettext("not set")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}" \
           f"{parts.path}" + (" (?…)" if parts.query else "")


def channel_settings() -> list[dict[str, Any]]:
    """The channels' environment settings, secrets masked, and whether each is configured."""
    s = settings()
    return [
        {"channel": "email", "configured": bool(s.smtp_host), "fields": [
            ("ADUAN_SMTP_HOST", gettext("Server"), s.smtp_host or gettext("not set")),
            ("ADUAN_SMTP_PORT", gettext("Port"), str(s.smtp_port)),
            ("ADUAN_SMTP_SENDER", gettext("Sender"), s.smtp_sender),
            ("ADUAN_SMTP_USERNAME", gettext("User name"), s.smtp_username or gettext("not set")),
            ("ADUAN_SMTP_PASSWORD", gettext("Password"), secret(s.smtp_password)),
            ("ADUAN_SMTP_STARTTLS", "STARTTLS", gettext("yes") if s.smtp_starttls
             else gettext("no"))]},
        {"channel": "whatsapp", "configured": bool(s.whatsapp_url), "fields": [
            ("ADUAN_WHATSAPP_URL", gettext("Address"), endpoint(s.whatsapp_url)),
            ("ADUAN_WHATSAPP_TOKEN", gettext("Token"), secret(s.whatsapp_token))]},
        {"channel": "sms", "configured": bool(s.sms_url), "fields": [
            ("ADUAN_SMS_URL", gettext("Address"), endpoint(s.sms_url)),
            ("ADUAN_SMS_USERNAME", gettext("User name"), s.sms_username or gettext("not set")),
            ("ADUAN_SMS_PASSWORD", gettext("Password"), secret(s.sms_password)),
            ("ADUAN_SMS_GATEWAY_SECRET", gettext("Inbound webhook secret"),
             secret(s.sms_gateway_secret))]},
    ]


def configured() -> list[str]:
    return [c["channel"] for c in channel_settings() if c["configured"]]


def filters() -> dict[str, Any]:
    number = request.values.get("page", "1")
    return {"channel": (request.values.get("channel") or "").strip()[:20] or None,
            "status": (request.values.get("status") or "").strip()[:20] or None,
            "page": int(number) if number.isdigit() else 1}


def render(status: int = 200, **context: Any) -> Any:
    wanted = filters()
    view = domain().channels.page(officer(), **wanted)
    kept = {k: v for k, v in (("channel", wanted["channel"]), ("status", wanted["status"]))
            if v}
    return render_template(
        "admin/channels.html", view=view, channels=channel_settings(), all_channels=CHANNELS,
        statuses=STATUSES, channel_names=CHANNEL_NAMES, status_names=STATUS_NAMES,
        page_url=lambda n: url_for("pages.admin_channels", page=n, **kept),
        test=context.pop("test", {}), **context), status


@pages.get("/admin/channels")
@auth.login_required(*ADMINS)
def admin_channels() -> Any:
    return render()


@pages.post("/admin/channels/test")
@auth.login_required(*ADMINS)
def admin_channels_test() -> Any:
    test = {"channel": (request.form.get("channel") or "").strip()[:20],
            "recipient": (request.form.get("recipient") or "").strip()[:254]}
    try:
        row = domain().channels.send_test(officer(), test["channel"], test["recipient"],
                                          configured())
    except Invalid as exc:
        return render(422, test=test, errors=field_messages(exc))
    flash(gettext("Test message queued as outbox row %(id)s; the scheduler sends it within "
                  "seconds. Its status is in the outbox below.", id=row), "success")
    return redirect(url_for("pages.admin_channels", channel=test["channel"]) + f"#row-{row}",
                    303)


@pages.post("/admin/channels/requeue")
@auth.login_required(*ADMINS)
def admin_channels_requeue() -> Any:
    wanted = filters()
    raw = (request.form.get("outbox_id") or "").strip()
    if raw:
        count = domain().channels.requeue(officer(), outbox_id=int(raw) if raw.isdigit()
                                          else -1)
    else:
        count = domain().channels.requeue(officer(), channel=wanted["channel"])
    flash(gettext("%(count)s dead letters put back in the queue.", count=count), "success")
    kept = {k: v for k, v in (("channel", wanted["channel"]),) if v}
    return redirect(url_for("pages.admin_channels", **kept), 303)
