"""What lists and report documents show of a report's SLA deadlines: the current one, the
working days left, whether it is late or paused, and the instants that change those."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.models import Complaint, SlaRecord
from workflows.sla import CITIZEN_STEPS, PAUSED, RUNNING, STEP_LABELS


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


# The columns of a deadline that lists show (sla_deadline) and current_deadline chooses by.
DEADLINE_COLUMNS = (SlaRecord.id, SlaRecord.complaint_id, SlaRecord.step, SlaRecord.state,
                    SlaRecord.due_at, SlaRecord.remaining_seconds, SlaRecord.rung)


def current_slas(session: Session, complaint_ids: Iterable[int]) -> dict[int, Any]:
    """The current deadline (current_deadline) of many complaints, in one query: rows of
    DEADLINE_COLUMNS, which is what sla_deadline reads (not sla_document)."""
    wanted = sorted(set(complaint_ids))
    if not wanted:
        return {}
    by_complaint: dict[int, list[Any]] = defaultdict(list)
    # Plain rows of what sla_deadline reads (no ORM objects, no pauses: lists show neither).
    # Read by report (ix_sla_record_complaint_step) and kept by state here: a report has a
    # handful of deadlines, while asked for the state too, SQLite walks every running
    # deadline of the regency (ix_sla_record_state_due) to find those of a page.
    for record in session.execute(select(*DEADLINE_COLUMNS).where(
            SlaRecord.complaint_id.in_(wanted)).order_by(SlaRecord.id)):
        if record.state in (RUNNING, PAUSED):
            by_complaint[record.complaint_id].append(record)
    found = {cid: current_deadline(records) for cid, records in by_complaint.items()}
    return {cid: record for cid, record in found.items() if record is not None}


def current_deadline(records: Sequence[SlaRecord]) -> SlaRecord | None:
    """The deadline that matters now, of one complaint's running and paused records."""
    officer = [r for r in records if r.step not in CITIZEN_STEPS]
    citizen = [r for r in records if r.step in CITIZEN_STEPS]
    # While the citizen is asked, their window is what matters; then the officer's step
    # that ends first.
    if citizen:
        return citizen[-1]
    return min(officer, key=lambda r: (r.state != RUNNING, r.due_at)) if officer else None


def sla_deadline(record: Any, calendar: WorkingCalendar, now: datetime,
                 config: RegencyConfig) -> dict[str, Any]:
    """What lists show of a deadline (an SlaRecord, or a row of DEADLINE_COLUMNS): when it
    is due, the working days left, whether it is late or paused, the rung it reached."""
    paused = record.state == PAUSED
    if paused:
        left = (record.remaining_seconds or 0.0) / 86400
    elif record.state == RUNNING:
        left = calendar.working_days_left(now, record.due_at)
    else:
        left = None
    rung = config.ladder[record.rung] if 0 <= record.rung < len(config.ladder) else None
    return {
        "due_at": None if paused else iso(record.due_at.astimezone(calendar.tzinfo)),
        "working_days_left": None if left is None else round(left, 2),
        "overdue": bool(left is not None and left < 0),
        "paused": paused,
        "rung_name": rung,
    }


def sla_document(record: SlaRecord, calendar: WorkingCalendar, now: datetime,
                 config: RegencyConfig) -> dict[str, Any]:
    deadline = sla_deadline(record, calendar, now, config)
    return {
        "step": record.step,
        "step_label": STEP_LABELS.get(record.step, {"id": record.step, "en": record.step}),
        "state": record.state,
        "budget_days": record.budget_days,
        "started_at": iso(record.started_at),
        "due_at": deadline["due_at"],
        "working_days_left": deadline["working_days_left"],
        "overdue": deadline["overdue"],
        "paused": deadline["paused"],
        "pauses": record.pauses,
        "rung": record.rung,
        "rung_name": deadline["rung_name"],
        "rung_label": RUNG_LABELS.get(deadline["rung_name"] or "", {}),
        "late_working_days": None if record.late_seconds is None
        else round(record.late_seconds / 86400, 2),
        "ended_at": iso(record.ended_at),
    }


def overdue_before(calendar: WorkingCalendar, now: datetime) -> datetime:
    """The latest due time already overdue at ``now``: a deadline is late (negative working
    days left) exactly when it is at or before this instant."""
    return calendar.add_working_seconds(now, -0.000001).astimezone(UTC)


def officer_deadline() -> Any:
    """The complaint's nearest running government deadline (a correlated subquery): what
    _current gives for a complaint an officer's task waits on (the complainant's own
    windows run only while the complainant, not an officer, has the task)."""
    return (select(func.min(SlaRecord.due_at))
            .where(SlaRecord.complaint_id == Complaint.id, SlaRecord.state == RUNNING,
                   SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))
            .correlate(Complaint).scalar_subquery())


def next_due_after(session: Session, instant: datetime) -> datetime | None:
    """The first running government deadline due after ``instant``: until it passes, no
    deadline becomes overdue (nor does a report become late) but by a write."""
    return session.scalar(select(func.min(SlaRecord.due_at)).where(
        SlaRecord.state == RUNNING, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)),
        SlaRecord.due_at > instant))

