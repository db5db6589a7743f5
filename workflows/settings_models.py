"""The deadline settings administrators change in the browser (workflows/sla_settings.py):
one row per change of one setting, so the history is the table itself and the value in force
at any instant is the latest row at or before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class SettingChange(Base):
    """A setting (`name`, e.g. `rung_budget_days`) set to `value` at `at` by `actor`;
    `previous` is what was in force before (the environment's default when never stored),
    `note` why. A `value` of null returns the setting to its default."""

    __tablename__ = "setting_change"
    __table_args__ = (Index("ix_setting_change_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(60))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    previous: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
