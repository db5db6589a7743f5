"""The reports' change log the officers' and supervisors' pages keep their counts by
(workflows/readcounts.py).

`case_change`: one row per row written of `complaint`, `sla_record` or `escalation`, naming
the report it belongs to (`complaint_id`; NULL: every report, after a TRUNCATE) and what was
written (`source`: c, s or e), appended by database triggers in the writer's transaction,
whoever the writer. The triggers live in migration 0031_read_counts only. A page that counted
thousands of reports recounts, after a write, only the reports the log names; rows older
than a day are pruned by the triggers themselves.
"""

from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from engine.store import Base, BigId, UtcDateTime


class CaseChange(Base):
    """A row of a report, its deadlines or its escalations was written (see the module)."""

    __tablename__ = "case_change"
    # SQLite: AUTOINCREMENT, so that an id is never handed out twice (ids are the log's order)
    __table_args__ = (Index("ix_case_change_xid", "xid"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int | None] = mapped_column(BigInteger)  # None: every report
    source: Mapped[str] = mapped_column(String(1))  # c: complaint, s: sla_record, e: escalation
    xid: Mapped[int | None] = mapped_column(BigInteger)  # PostgreSQL: the writer's transaction
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # when (the database's clock), to prune


class LogPosition(FunctionElement[str]):
    """Where the log stands, as text, as a column of any statement: on PostgreSQL the
    transaction snapshot (a writer still running then is caught once it commits), on
    SQLite the last id (one writer at a time). workflows/readcounts.py reads it."""

    type = String()
    inherit_cache = True
    name = "aduan_log_position"


@compiles(LogPosition, "postgresql")
def _snapshot(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "pg_current_snapshot()::text"


@compiles(LogPosition)
def _last_id(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "CAST((SELECT coalesce(max(id), 0) FROM case_change) AS TEXT)"
