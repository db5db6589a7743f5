"""Where a report belongs, as the lifecycle decided it (workflows/lifecycle_models.py): the
routing table's suggestion, kept when the report first waits for its disposition, and the
referral of a report that is not the regency's authority (`not_authority`'s `refer_to`),
which the complainant reads on the tracking page and in the message telling them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from workflows import upserts
from workflows.lifecycle_models import ComplaintRouting

ROUTING_OUTPUTS = ("authority", "handler_level", "agency_code")  # route_report's outputs
REFER_TO_MAX = 200


def _row(session: Session, complaint_id: int) -> ComplaintRouting:
    row = session.get(ComplaintRouting, complaint_id)
    if row is None:
        row = ComplaintRouting(complaint_id=complaint_id)
        session.add(row)
    return row


def _suggest(insert: Any) -> Any:
    """Keep a suggestion unless one was kept: one upsert, neither a read nor the ORM's
    flush."""
    statement = insert(ComplaintRouting).values(
        complaint_id=bindparam("b_id"), authority=bindparam("b_authority"),
        handler_level=bindparam("b_handler_level"), agency_code=bindparam("b_agency_code"),
        suggested_at=bindparam("b_now"))
    return statement.on_conflict_do_update(
        index_elements=[ComplaintRouting.complaint_id],
        set_={name: getattr(statement.excluded, name) for name in (
            *ROUTING_OUTPUTS, "suggested_at")},
        where=ComplaintRouting.suggested_at.is_(None))


_SUGGEST = upserts.by_dialect(_suggest)


def keep_suggestion(session: Session, complaint_id: int, data: Mapping[str, Any],
                    now: datetime) -> None:
    """The routing table's outputs in the instance's data, kept once: the first time the
    report waits for its disposition (later the data's agency_code is the officer's)."""
    authority, handler_level, agency_code = (
        str(data.get(key))[:limit] if data.get(key) not in (None, "") else None
        for key, limit in zip(ROUTING_OUTPUTS, (20, 30, 60), strict=True))
    held = session.identity_map.get(session.identity_key(ComplaintRouting, complaint_id))
    if held is None and not any(isinstance(row, ComplaintRouting) for row in session.new):
        upserts.run(session.connection(), _SUGGEST, {
            "b_id": complaint_id, "b_authority": authority, "b_handler_level": handler_level,
            "b_agency_code": agency_code, "b_now": now})
        return
    row = _row(session, complaint_id)  # this session holds the row: change it there
    if row.suggested_at is None:
        row.authority, row.handler_level, row.agency_code = \
            authority, handler_level, agency_code
        row.suggested_at = now


def keep_referral(session: Session, complaint_id: int, refer_to: str | None,
                  now: datetime) -> None:
    """Where the complainant is referred (empty: nowhere named)."""
    row = _row(session, complaint_id)
    row.refer_to = (refer_to or "").strip()[:REFER_TO_MAX] or None
    row.referred_at = now
    session.flush()


def refer_to(session: Session, complaint_id: int) -> str | None:
    row = session.get(ComplaintRouting, complaint_id)
    return row.refer_to if row is not None else None


def routing_document(row: ComplaintRouting | None) -> dict[str, Any] | None:
    """The suggestion as a report document shows it to officers (None: never routed)."""
    if row is None or row.suggested_at is None:
        return None
    return {"authority": row.authority, "handler_level": row.handler_level,
            "agency_code": row.agency_code, "suggested_at": row.suggested_at.isoformat()}
