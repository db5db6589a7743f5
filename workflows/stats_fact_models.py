"""The statistics' per-day summaries of deadlines and escalations (docs/statistics.md, "How
the figures are kept"): what the figures of SLA records and escalations add up, kept in the
writer's transaction by database triggers that live in migration 0035_stats_facts only.

- ``stats_fact_zone``: one row, the UTC offset (seconds) of the local day the summaries are
  cut by, written by the migration (as ``stats_day_zone``); without it (``create_all``, no
  triggers) the figures come from the rows.
- ``stats_fact_day``: per local day of receipt, agency, unit, classification and misconduct
  (the report's keys), sums of the reports' *facts* (``kind``, ``k1``, ``k2``, ``budget``):

  - ``records`` (k1 step, k2 state, budget days): SLA records of the government's steps,
    ``n`` of them, ``late`` seconds past due summed;
  - ``step`` (k1 step, k2 met / breached / open): reports with such a record of the step;
  - ``own`` (k2 met / breached): reports with such a record of follow-up or resolution;
  - ``esc`` (k1 rung, k2 status): escalations; ``esc_rung`` (k1 rung, k2 '' or 'open'):
    reports escalated to the rung (with one still open); ``esc_any`` (k2 '' or 'open'):
    reports escalated at all (with one still open);
  - ``unanswered``: dispositioned reports not answered whose follow-up deadline was breached.

  Counted once per report where it says "reports". Like ``stats_day``, ``base`` rows hold
  one row per key; PostgreSQL's triggers append signed delta rows folded into them now and
  then, SQLite's update them. ``agency_id`` and ``unit_id`` are 0 for none; keys whose
  reports all went elsewhere keep a row of zeros (readers skip sums of none).
- ``stats_fact_month``: the same sums per local month of receipt (``day`` its first day),
  kept by the same triggers: a year is read from twelve months' rows, a period's partial
  months from their days.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Float, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId

KEY = ("day", "agency_id", "unit_id", "classification", "misconduct", "kind", "k1", "k2",
       "budget")
RECORDS, STEP, OWN, ESC, ESC_RUNG, ESC_ANY, UNANSWERED = (
    "records", "step", "own", "esc", "esc_rung", "esc_any", "unanswered")
OPEN = "open"  # k2 of the facts of reports with a step running or paused, an escalation open


class StatsFactZone(Base):
    """The UTC offset of the local day ``stats_fact_day`` is cut by (one row, migration)."""

    __tablename__ = "stats_fact_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    offset_seconds: Mapped[int] = mapped_column(Integer)


class _FactSums:
    """The columns of both tables of sums."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[bool] = mapped_column(Boolean)
    day: Mapped[date] = mapped_column(Date)
    agency_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer)
    classification: Mapped[str] = mapped_column(String(30))
    misconduct: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    k1: Mapped[str] = mapped_column(String(40))
    k2: Mapped[str] = mapped_column(String(20))
    budget: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(BigInteger)
    late: Mapped[float] = mapped_column(Float)


class StatsFactDay(_FactSums, Base):
    """Sums of one fact of the reports received on one local day with one key (module)."""

    __tablename__ = "stats_fact_day"
    __table_args__ = (
        Index("ix_stats_fact_day_key", *KEY, unique=True, postgresql_where=text("base"),
              sqlite_where=text("base")),
        Index("ix_stats_fact_day_day", "day"),
    )


class StatsFactMonth(_FactSums, Base):
    """The same per local month of receipt (``day`` is the month's first day)."""

    __tablename__ = "stats_fact_month"
    __table_args__ = (
        Index("ix_stats_fact_month_key", *KEY, unique=True, postgresql_where=text("base"),
              sqlite_where=text("base")),
        Index("ix_stats_fact_month_day", "day"),
    )
