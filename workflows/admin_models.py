"""The administrators' audit log (workflows/admin_audit.py): one row per administrative
change (accounts, agencies, categories, the calendar, settings, channels, the outbox), with
who, when, what, and the target's state before and after (secrets masked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class AdminAudit(Base):
    """One administrative change. `action` is a dotted name (`account.create`,
    `agency.move`, `calendar.set_day`, ...), `target_kind` and `target` name what changed
    (`account` / `liaison.dinkes`); `before` and `after` are JSON snapshots of the fields
    that matter, with secrets masked; `note` is what the administrator wrote, if anything."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_target", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_kind: Mapped[str] = mapped_column(String(30))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
