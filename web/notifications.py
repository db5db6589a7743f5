"""Builds the outbox sender from settings: SMTP, WhatsApp Cloud API and SMS gateway."""

from __future__ import annotations

from typing import Any

from web.config import Settings


def build_sender(settings: Settings, domain: Any) -> Any:
    """The configured channels; a channel without settings leaves its messages pending."""
    from workflows.channels import SmsGatewayChannel, SmtpChannel, WhatsAppCloudChannel

    channels: dict[str, Any] = {}
    if settings.smtp_host:
        channels["email"] = SmtpChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_sender,
            username=settings.smtp_username or None, password=settings.smtp_password or None,
            starttls=settings.smtp_starttls)
    if settings.whatsapp_url:
        channels["whatsapp"] = WhatsAppCloudChannel(
            settings.whatsapp_url, settings.whatsapp_token,
            window_open=domain.whatsapp.window_open,
            templates=dict(settings.whatsapp_templates))
    if settings.sms_url:
        channels["sms"] = SmsGatewayChannel(settings.sms_url, settings.sms_username,
                                            settings.sms_password)
    return domain.operations.outbox_sender(channels, settings.notification_max_attempts)
