"""WhatsApp's tables (workflows/whatsapp.py): the messages the Cloud API delivered, each
citizen's conversation, and the photos of a report still being written."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class WhatsAppInbound(Base):
    """One message a citizen sent, keyed by WhatsApp's own message id (`wamid...`), so that
    a delivery the platform repeats is stored, and processed, once.

    `sent_at` is the platform's timestamp (messages of one sender are processed in its
    order); `media_state` is `pending` while a photo is being downloaded, then `ok` or
    `refused` (with `media_error`); `processed` is set when the conversation took it."""

    __tablename__ = "whatsapp_inbound"
    __table_args__ = (Index("ix_whatsapp_inbound_sender", "sender", "processed", "sent_at"),)

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    sender: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))  # text | location | image | ...
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received: Mapped[datetime] = mapped_column(UtcDateTime)
    media_state: Mapped[str | None] = mapped_column(String(10))
    media_error: Mapped[str | None] = mapped_column(String(40))
    processed: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WhatsAppConversation(Base):
    """A citizen's conversation with Aduan, one row per phone number, kept in the database
    so that any web process can take the next message.

    `step` is where the conversation stands (workflows/whatsapp_talk.py: idle, what, where,
    photos, confirm, choose, filing); `draft` the report being written; `last_inbound_at`
    the citizen's last message (WhatsApp's 24-hour window for free-form replies, and the
    timeout of a half-finished report); `busy_until` a lease while a report is filed outside
    the row's lock; `version` counts changes."""

    __tablename__ = "whatsapp_conversation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(5), default="id")
    step: Mapped[str] = mapped_column(String(10), default="idle")
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    busy_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_report: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)


class WhatsAppMedia(Base):
    """A photo a citizen sent, downloaded through the Graph API and checked like a web
    upload, kept until the report is filed (then it is the report's attachment) or the
    conversation ends; `position` keeps the order they were sent in."""

    __tablename__ = "whatsapp_media"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_conversation.id"),
                                                 index=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(60))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    caption: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    received: Mapped[datetime] = mapped_column(UtcDateTime)
