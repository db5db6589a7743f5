"""The QR posters table: a poster names an agency and optionally a place, and counts its
scans and the reports filed through it (workflows/posters.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class Poster(Base):
    """One printed QR code. `code` is what the QR link carries (/lapor?poster=<code>);
    the counters are raised by single UPDATEs (`count = count + 1`), so two web processes
    counting at once lose neither count."""

    __tablename__ = "poster"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    place_name: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    scan_count: Mapped[int] = mapped_column(Integer, default=0)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
