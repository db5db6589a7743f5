"""The statistics' per-day summaries of complaints (docs/statistics.md, "How the figures are
kept"): what the counting figures add up, kept in the writer's transaction by database
triggers that live in migration 0032_stats_days only (SQLite and PostgreSQL variants).

- ``stats_day_zone``: one row, the UTC offset (seconds) of the local day the summaries are
  cut by. Written by the migration (the offset of ADUAN_TIMEZONE, WITA by default); the
  statistics read the summaries only when the regency's time zone has this offset and the
  row exists (a database built by ``create_all`` has neither the row nor the triggers, and
  its figures come from the rows).
- ``stats_day``: per local day of receipt and status, how many reports, how many verified,
  dispositioned and answered, and their ratings, in four breakdowns (``dim``): by agency
  and unit (``dim`` 'agency', ``value`` ''), and regency-wide by category, channel and
  classification (``dim`` the breakdown, ``value`` its key; ``agency_id`` and ``unit_id``
  0). Each report counts once in each breakdown, so a day holds a few dozen rows, not one
  per report. ``base`` rows hold one row per key; on PostgreSQL the triggers append
  signed ``delta`` rows (``base`` false: an INSERT takes no lock another writer waits for)
  and fold them into the base rows now and then (one folder at a time, under an advisory
  lock); on SQLite (one writer at a time) they update the base row directly. A key whose
  reports all moved elsewhere keeps a row of zeros: readers skip groups with none received.
  ``agency_id`` and ``unit_id`` are 0 for none (a unique key cannot hold NULLs).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId

NONE_ID = 0  # agency_id / unit_id of a report without one
KEY = ("day", "dim", "value", "agency_id", "unit_id", "status")
AGENCY = "agency"  # the dim of the rows by agency and unit
KINDS = ("category", "channel", "classification")  # the regency-wide breakdowns
SUMS = ("received", "verified", "dispositioned", "answered", "rating_sum", "rating_count",
        "rating_1", "rating_2", "rating_3", "rating_4", "rating_5")


class StatsDayZone(Base):
    """The UTC offset of the local day ``stats_day`` is cut by (one row, from the migration)."""

    __tablename__ = "stats_day_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    offset_seconds: Mapped[int] = mapped_column(Integer)


class StatsDay(Base):
    """Sums of the reports received on one local day with one key (see the module)."""

    __tablename__ = "stats_day"
    __table_args__ = (
        Index("ix_stats_day_key", *KEY, unique=True, postgresql_where=text("base"),
              sqlite_where=text("base")),
        Index("ix_stats_day_day", "day"),
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
