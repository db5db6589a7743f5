"""Where a report belongs, as the lifecycle decided it (workflows/lifecycle_models.py): the
routing table's suggestion, kept when the report first waits for its disposition, and the
referral of a report that is not the regency's authority (`not_authority`'s `refer_to`),
which the complainant reads on the tracking page and in the message telling them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflows.lifecycle_models import ComplaintRouting

ROUTING_OUTPUTS = ("authority", "handler_level", "agency_code")  # route_report's outputs
REFER_TO_MAX = 200


def _row(session: Session, complaint_id: int) -> ComplaintRouting:
    row = session.get(ComplaintRouting, complaint_id)
    if row is None:
        row = ComplaintRouting(complaint_id=complaint_id)
        session.add(row)
    return row


def keep_suggestion(session: Session, complaint_id: int, data: Mapping[str, Any],
                    now: datetime) -> None:
    """The routing table's outputs in the instance's data, kept once: the first time the
    report waits for its disposition (later the data's agency_code is the officer's)."""
    row = _row(session, complaint_id)
    if row.suggested_at is not None:
        return
    values = {key: data.get(key) for key in ROUTING_OUTPUTS}
    row.authority, row.handler_level, row.agency_code = (
        str(values[key])[:limit] if values[key] not in (None, "") else None
        for key, limit in zip(ROUTING_OUTPUTS, (20, 30, 60), strict=True))
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
