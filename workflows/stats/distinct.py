"""How many *reports* stand behind the figures that count events: deadlines (a report has
several steps, and a restarted step runs again) and escalations (a report may climb several
rungs). The dashboard links each count to the list of its reports (workflows/case_filters.py),
and a list holds each report once: these counts say how long that list is."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from workflows import diagram_ids as ids
from workflows.models import Complaint, Escalation, SlaRecord
from workflows.sla import BREACHED, CITIZEN_STEPS, MET, PAUSED, RUNNING

STATE_BUCKETS = {"met": (MET,), "breached": (BREACHED,), "open": (RUNNING, PAUSED)}


def report_counts(session: Session, where: list[Any], sla_where: list[Any],
                  escalation_where: list[Any], now: datetime) -> dict[str, Any]:
    """Distinct reports of the cohort (``where``; the children's own period conditions in
    ``sla_where`` and ``escalation_where``) per deadline class and state, per agency (the
    OPD's own steps), overdue now, and escalated (per rung, per agency; open or not)."""
    reports = func.count(distinct(Complaint.id))
    government = [*where, *sla_where, SlaRecord.step.not_in(sorted(CITIZEN_STEPS))]

    def grouped(base: list[Any], columns: list[Any], *more: Any,
                model: Any = SlaRecord) -> list[tuple]:
        query = (select(*columns, reports).select_from(Complaint)
                 .join(model, model.complaint_id == Complaint.id).where(*base, *more))
        if columns:
            query = query.group_by(*columns)
        return [tuple(row) for row in session.execute(query)]

    classes: dict[tuple, int] = defaultdict(int)  # (step, classification, misconduct, state)
    for name, states in STATE_BUCKETS.items():
        for step, classification, misconduct, n in grouped(
                government, [SlaRecord.step, Complaint.classification, Complaint.misconduct],
                SlaRecord.state.in_(states)):
            classes[(step, classification, bool(misconduct), name)] += n
    overdue_now = [SlaRecord.state == RUNNING, SlaRecord.due_at < now]
    for step, classification, misconduct, n in grouped(
            government, [SlaRecord.step, Complaint.classification, Complaint.misconduct],
            *overdue_now):
        classes[(step, classification, bool(misconduct), "overdue")] += n
    own_steps = SlaRecord.step.in_((ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION))
    by_agency = {name: dict(grouped(government, [Complaint.agency_id], own_steps,
                                    SlaRecord.state == state))
                 for name, state in (("met", MET), ("breached", BREACHED))}
    overdue = {
        "total": grouped(government, [], *overdue_now)[0][0],
        "by_step": dict(grouped(government, [SlaRecord.step], *overdue_now)),
        "by_agency": dict(grouped(government, [Complaint.agency_id], *overdue_now)),
    }
    escalated = [*where, *escalation_where]
    still_open = Escalation.status == "open"
    escalations = {
        "total": grouped(escalated, [], model=Escalation)[0][0],
        "open": grouped(escalated, [], still_open, model=Escalation)[0][0],
        "by_rung": dict(grouped(escalated, [Escalation.rung_name], model=Escalation)),
        "by_rung_open": dict(grouped(escalated, [Escalation.rung_name], still_open,
                                     model=Escalation)),
        "by_agency": dict(grouped(escalated, [Complaint.agency_id], model=Escalation)),
        "by_agency_open": dict(grouped(escalated, [Complaint.agency_id], still_open,
                                       model=Escalation)),
    }
    return {"classes": dict(classes), "by_agency": by_agency, "overdue": overdue,
            "escalations": escalations}
