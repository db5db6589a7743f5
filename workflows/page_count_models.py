"""The reports counted per status, agency and unit, kept by database triggers for the list
API's totals (workflows/documents.py).

`report_count`: how many reports have one status and are held by one agency and unit (0:
none), kept in the writer's transaction by the triggers of migration 0036_page_counts (only
there), whoever the writer. On PostgreSQL a write appends signed delta rows (`base` false)
that a writer now and then folds into the base rows; on SQLite a write adds to the base row.
A total is the sum of the rows that match, base and deltas alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId


class ReportCount(Base):
    """A number of reports with one status, agency and unit (a base row or a delta)."""

    __tablename__ = "report_count"
    __table_args__ = (Index("ix_report_count_key", "status", "agency_id", "unit_id",
                            unique=True, postgresql_where=text("base"),
                            sqlite_where=text("base")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int] = mapped_column(Integer)  # 0: not held by an agency
    unit_id: Mapped[int] = mapped_column(Integer)  # 0: no unit
    n: Mapped[int] = mapped_column(BigInteger)  # a delta may be negative
