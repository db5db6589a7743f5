"""The SMS gateway's inbound messages (workflows/sms.py): one row per message or part the
gateway delivered, keyed by the gateway's own id so that a delivery repeated by the gateway
is stored, and processed, once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, UtcDateTime


class SmsInbound(Base):
    """One message (or one part of a long message) from the gateway.

    `ref`, `part` and `parts` tie the parts of a long message together (NULL for a message in
    one part); `processed` is set when the whole message was taken for processing (on every
    part of it), `reply` is the text answered to the sender."""

    __tablename__ = "sms_inbound"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    sender: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(100))
    part: Mapped[int | None] = mapped_column(Integer)
    parts: Mapped[int | None] = mapped_column(Integer)
    received: Mapped[datetime] = mapped_column(UtcDateTime)
    processed: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
