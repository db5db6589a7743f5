"""Open311 GeoReport v2 tables: the API keys an administrator issues to client applications,
and the tokens that a request filed through one of them can be looked up by."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class Open311Key(Base):
    """One client application's key. Only its SHA-256 is kept (the key is shown once, when it
    is created). `window_started_at` and `window_requests` count its requests in the current
    rate-limit window, in the database so that every web process agrees."""

    __tablename__ = "open311_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_requests: Mapped[int] = mapped_column(Integer, default=0)


class Open311Token(Base):
    """A request filed through Open311: the token its client may look it up by
    (GET tokens/{token}) and the key that filed it."""

    __tablename__ = "open311_token"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_key.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
