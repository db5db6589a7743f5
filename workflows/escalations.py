"""The supervisors' escalation inbox: list, acknowledge, comment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import access
from workflows.config import RUNG_LABELS
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.models import Agency, Complaint, Escalation


def _document(session: Session, row: Escalation, principal: access.Principal
              ) -> dict[str, Any]:
    complaint = session.get(Complaint, row.complaint_id)
    agency = session.get(Agency, row.agency_id) if row.agency_id else None
    return {
        "id": row.id,
        "tracking_number": complaint.tracking_number,
        "title": complaint.title if access.sees_content(principal, complaint)
        or (principal.has("supervisor") and not complaint.confidential) else "[rahasia]",
        "status_of_report": complaint.status,
        "step": row.step,
        "rung": row.rung,
        "rung_name": row.rung_name,
        "rung_label": RUNG_LABELS.get(row.rung_name, {}),
        "agency": agency.code if agency else None,
        "missed_due_at": row.due_at.isoformat(),
        "escalated_at": row.at.isoformat(),
        "status": row.status,
        "acknowledged_by": row.acknowledged_by,
        "comment": row.comment,
    }


def _scope(principal: access.Principal) -> Any:
    if principal.sees_everything:
        return None
    if not principal.has("supervisor"):
        raise Forbidden("the escalation inbox is for supervisors and the regency administrator")
    return Escalation.agency_id.in_(list(principal.agency_ids) or [-1])


def list_escalations(session: Session, principal: access.Principal, *,
                     status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    query = select(Escalation).order_by(Escalation.at.desc(), Escalation.id.desc())
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(Escalation.status == status)
    return [_document(session, row, principal)
            for row in session.scalars(query.limit(min(limit, 500)))]


def acknowledge(session: Session, escalation_id: int, principal: access.Principal,
                comment: str | None, now: datetime) -> dict[str, Any]:
    scope = _scope(principal)
    query = select(Escalation).where(Escalation.id == escalation_id)
    if scope is not None:
        query = query.where(scope)
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"escalation {escalation_id} does not exist in your inbox")
    if row.status != "open":
        raise Conflict(f"escalation {escalation_id} is already {row.status}")
    row.status, row.acknowledged_by, row.acknowledged_at = "acknowledged", principal.username, now
    row.comment = comment
    return _document(session, row, principal)
