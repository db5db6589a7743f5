"""'Me too' on a nearby open report, and the nearby lookups counted per address
(workflows/nearby.py): a citizen who has the same problem follows an existing report instead
of filing a duplicate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class MeToo(Base):
    """One citizen's "saya juga mengalami ini" on a report. `citizen` is who counts once:
    `phone:<digits>`, `email:<address>` or `session:<token>` (a browser session, for a
    citizen who gave neither). A phone or e-mail makes them a follower, told of the
    report's status changes on `channel` (workflows/notify.py)."""

    __tablename__ = "me_too"
    __table_args__ = (UniqueConstraint("complaint_id", "citizen", name="uq_me_too_citizen"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    citizen: Mapped[str] = mapped_column(String(220))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(10))  # sms | whatsapp | email
    language: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A follower's own key to stop following, in the link of their e-mails (NULL once they
    # stopped, or for a citizen who only counted).
    stop_token: Mapped[str | None] = mapped_column(String(43), unique=True)


class NearbyLookup(Base):
    """One nearby lookup from an address, counted so that every process agrees on the
    limit; rows older than the window are deleted as we go."""

    __tablename__ = "nearby_lookup"
    __table_args__ = (Index("ix_nearby_lookup_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
