"""The configuration's revision tokens (workflows/revisions.py): one row per configuration
table, its token replaced by a trigger (migration 0033) on every write to that table."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base


class ConfigRevision(Base):
    """`name`: a configuration table (calendar_day, setting_change, category, agency);
    `token`: a random number replaced whenever a statement writes to that table. A process
    keeps what it built from the table for as long as the token is the one it saw."""

    __tablename__ = "config_revision"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
