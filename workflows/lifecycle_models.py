"""What the lifecycle decided about where a report belongs (workflows/referrals.py): the
routing table's suggestion when the report waited for its disposition, and, for a report
that is not the regency's authority, where the complainant should take it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store import Base, BigId, UtcDateTime


class ComplaintRouting(Base):
    """One row per report, written as it happens: `authority`, `handler_level` and
    `agency_code` are what routing.dmn (decision route_report) suggested when the report
    first waited for its disposition (`suggested_at`); `refer_to` is the body the
    administrator named when returning it as not the regency's authority (`referred_at`),
    shown to the complainant."""

    __tablename__ = "complaint_routing"

    complaint_id: Mapped[int] = mapped_column(BigId, ForeignKey("complaint.id"),
                                              primary_key=True, autoincrement=False)
    authority: Mapped[str | None] = mapped_column(String(20))
    handler_level: Mapped[str | None] = mapped_column(String(30))
    agency_code: Mapped[str | None] = mapped_column(String(60))
    suggested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refer_to: Mapped[str | None] = mapped_column(String(200))
    referred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
