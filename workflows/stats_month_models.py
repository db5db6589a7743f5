"""The statistics' per-month summaries of complaints (docs/statistics.md, "How the figures
are kept"): ``stats_day`` (workflows/stats_models.py) added up per local month of receipt,
kept in the writer's transaction by database triggers that live in migration
0040_stats_months only, so that a year's counts read twelve months of rows instead of 365
days of them.

- ``stats_month_mark``: one row, written by the migration; without it (``create_all``, no
  triggers) the counts read the day rows only.
- ``stats_month``: the columns of ``stats_day``, ``day`` the month's first day; cut at the
  offset in ``stats_day_zone``; base and delta rows as there (PostgreSQL appends signed
  rows and folds them now and then, SQLite updates the base row).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId
from workflows.stats_models import KEY


class StatsMonthMark(Base):
    """The triggers keep ``stats_month`` (one row, migration 0039)."""

    __tablename__ = "stats_month_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class StatsMonth(Base):
    """Sums of the reports received in one local month with one key (see the module)."""

    __tablename__ = "stats_month"
    __table_args__ = (
        Index("ix_stats_month_key", *KEY, unique=True, postgresql_where=text("base"),
              sqlite_where=text("base")),
        Index("ix_stats_month_day", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[bool] = mapped_column(Boolean)
    day: Mapped[date] = mapped_column(Date)
    dim: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(40))
    agency_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    received: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int] = mapped_column(Integer)
    dispositioned: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    rating_count: Mapped[int] = mapped_column(Integer)
    rating_1: Mapped[int] = mapped_column(Integer)
    rating_2: Mapped[int] = mapped_column(Integer)
    rating_3: Mapped[int] = mapped_column(Integer)
    rating_4: Mapped[int] = mapped_column(Integer)
    rating_5: Mapped[int] = mapped_column(Integer)
