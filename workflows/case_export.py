"""The case-level export of a list of reports (the /cases list with its filters): one row per
report with its deadline and the rungs it reached, read in batches so that a large list is
streamed rather than held in memory (Reports.export)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import access, documents
from workflows.config import RegencyConfig
from workflows.deadlines import current_slas, iso, sla_deadline
from workflows.models import Complaint, Escalation
from workflows.workdays import calendar_for

EXPORT_BATCH = 500  # reports read per query (and per read transaction)
EXPORT_COLUMNS = (Complaint.id, Complaint.tracking_number, Complaint.title,
                  Complaint.category, Complaint.status, Complaint.agency_id,
                  Complaint.unit_id, Complaint.confidential, Complaint.created_at,
                  Complaint.closed_at)


def export_batch(session: Session, principal: access.Principal, config: RegencyConfig,
                 now: datetime, *, after: int, limit: int = EXPORT_BATCH,
                 status: str | None = None, agency_code: str | None = None,
                 overdue: bool | None = None, since: date | None = None,
                 until: date | None = None, q: str | None = None,
                 extra: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The next ``limit`` reports of the list after the report id ``after`` (in id order,
    which is the order of filing), as export rows."""
    calendar = calendar_for(session, config)
    query = documents.list_query(session, principal, calendar, now, status=status,
                                 agency_code=agency_code, overdue=overdue, since=since,
                                 until=until, q=q, extra=extra)
    ids_ = list(session.scalars(query.with_only_columns(Complaint.id)
                                .where(Complaint.id > after).order_by(Complaint.id)
                                .limit(limit)))
    if not ids_:
        return []
    rows = session.execute(select(*EXPORT_COLUMNS).where(Complaint.id.in_(ids_))
                           .order_by(Complaint.id)).all()
    slas = current_slas(session, ids_)
    rungs: dict[int, list[str]] = defaultdict(list)
    for complaint_id, rung_name in session.execute(
            select(Escalation.complaint_id, Escalation.rung_name)
            .where(Escalation.complaint_id.in_(ids_))
            .order_by(Escalation.complaint_id, Escalation.rung, Escalation.id)):
        if rung_name not in rungs[complaint_id]:
            rungs[complaint_id].append(rung_name)
    agencies = access.agency_table(session)
    found = []
    for row in rows:
        sla = slas.get(row.id)
        deadline = sla_deadline(sla, calendar, now, config) if sla else None
        agency = agencies.get(row.agency_id) if row.agency_id else None
        found.append({
            "id": row.id,
            "tracking_number": row.tracking_number,
            "title": row.title if access.sees_content(principal, row) else access.HIDDEN,
            "category": row.category,
            "agency": agency.name if agency else None,
            "status": row.status,
            "status_label": documents.status_label(row.status),
            "filed": iso(row.created_at.astimezone(calendar.tzinfo)),
            "due_at": deadline["due_at"] if deadline else None,
            "late": bool(deadline and deadline["overdue"]),
            "rungs": rungs.get(row.id, []),
            "closed": iso(row.closed_at.astimezone(calendar.tzinfo)) if row.closed_at
            else None,
        })
    return found
