"""The statistics' copy of the running steps (docs/statistics.md, "Steps overdue now"): one
row per SLA record of a government step that is running now, with what the overdue figures
group it by, kept in the writer's transaction by database triggers that live in migration
0039_stats_running only.

What is overdue depends on the clock, but the set of running records changes only by
writes, and a running record's lateness only when its due time passes: the figures read
this small table (the open backlog's records, not the history) and compare ``due_at`` with
``now`` as they read it.

- ``stats_running``: per running record of a step other than the complainant's (``sla_id``),
  its report (``complaint_id``), the report's date of receipt (``received_at``), agency,
  unit, classification and misconduct, the step and due time, and three flags worked out
  over the report's running records: ``first_of_step`` (the record of its step that comes
  due first: due time, then id, none last), ``first_of_report`` (the same over all its
  steps) and ``unanswered`` (the report is dispositioned, not answered, and has no breached
  follow-up record). A report is overdue on a step exactly when its first record of the
  step is, so the reports behind the counts are counted without ``DISTINCT``.
- ``stats_running_mark``: one row, written by the migration; without it (``create_all``, no
  triggers) the figures read the SLA records themselves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class StatsRunningMark(Base):
    """The triggers keep ``stats_running`` (one row, migration 0038)."""

    __tablename__ = "stats_running_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class StatsRunning(Base):
    """One running SLA record of a government step, with its report's keys (module)."""

    __tablename__ = "stats_running"
    __table_args__ = (
        Index("ix_stats_running_received", "received_at", "due_at"),
        Index("ix_stats_running_complaint", "complaint_id"),
    )

    sla_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    complaint_id: Mapped[int] = mapped_column(BigId)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    step: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    agency_id: Mapped[int | None] = mapped_column(BigId)
    unit_id: Mapped[int | None] = mapped_column(BigId)
    classification: Mapped[str] = mapped_column(String(30))
    misconduct: Mapped[bool] = mapped_column(Boolean)
    unanswered: Mapped[bool] = mapped_column(Boolean)
    first_of_step: Mapped[bool] = mapped_column(Boolean)
    first_of_report: Mapped[bool] = mapped_column(Boolean)
