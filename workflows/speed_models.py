"""The statistics' stored working-time measures (docs/statistics.md, "Speeds"): the working
calendar laid out for SQL and the yearly sums the speed figures read, kept by database
triggers that live in migration 0037_stats_speeds only (the measures themselves are columns
of ``complaint``: ``work_answer_s``, ``work_verify_s``, ``work_close_s``).

- ``work_zone``: one row, the time zone (and its UTC offset in seconds) the layout and the
  measures were worked out in; without it (``create_all``, no triggers) the statistics
  compute the speeds from the times.
- ``work_day``: per local day (``day``: days since 1970-01-01) ``p``, the working days before
  it since the table's first day, and ``w``, 1 when it works. Written by the migration and
  by workflows/stats/speeds.py ``relay()`` when the calendar changes.
- ``stats_speed_year``: per local year of receipt, agency (0: none), measure (0, 1, 2 in the
  order of MEASURES) and whole working hour of the value (``bucket``), how many reports
  (``n``) and their seconds summed (``total``). ``base`` rows hold one row per key;
  PostgreSQL's triggers append signed delta rows folded into them now and then, SQLite's
  update them; readers sum both.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId

BUCKET_SECONDS = 3600  # stats_speed_year's buckets: whole working hours


class WorkZone(Base):
    """The time zone the working calendar was laid out in (one row, migration 0037)."""

    __tablename__ = "work_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    timezone: Mapped[str] = mapped_column(String(60))
    offset_seconds: Mapped[int] = mapped_column(Integer)


class WorkDay(Base):
    """One local day of the working calendar laid out for SQL (module)."""

    __tablename__ = "work_day"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    p: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)


class StatsSpeedYear(Base):
    """How many reports of one year and agency have a measure in one working hour, and
    their sum (module)."""

    __tablename__ = "stats_speed_year"
    __table_args__ = (
        Index("ix_stats_speed_year_key", "year", "agency_id", "measure", "bucket", unique=True,
              postgresql_where=text("base"), sqlite_where=text("base")),
        Index("ix_stats_speed_year_year", "year"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[bool] = mapped_column(Boolean)
    year: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[int] = mapped_column(Integer)
    measure: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
