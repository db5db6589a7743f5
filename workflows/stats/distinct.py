"""How many *reports* stand behind the figures that count events: deadlines (a report has
several steps, and a restarted step runs again) and escalations (a report may climb several
rungs). The dashboard links each count to the list of its reports (workflows/case_filters.py),
and a list holds each report once: these counts say how long that list is."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from workflows import diagram_ids as ids
from workflows.models import Complaint, Escalation, SlaRecord
from workflows.sla import BREACHED, CITIZEN_STEPS, MET, PAUSED, RUNNING

STATE_BUCKETS = {"met": (MET,), "breached": (BREACHED,), "open": (RUNNING, PAUSED)}


def report_counts(session: Session, where: list[Any], sla_where: list[Any],
                  escalation_where: list[Any], now: datetime) -> dict[str, Any]:
    """Distinct reports of the cohort (``where``; the children's own period conditions in
    ``sla_where`` and ``escalation_where``) per deadline class and state, per agency (the
    OPD's own steps), overdue now, and escalated (per rung, per agency; open or not).

    Two scans: the SLA records of the cohort, then its escalations. Each groups a report's
    rows (per step, per rung) into flags, marks one row per report with the flags over
    all its rows (window functions), and sums the flags per key; a report counts once
    wherever it is counted."""
    return {**_deadline_reports(session, where, sla_where, now),
            "escalations": _escalation_reports(session, where, escalation_where)}


def _flag(condition: Any) -> Any:
    return func.max(case((condition, 1), else_=0))


def _deadline_reports(session: Session, where: list[Any], sla_where: list[Any],
                      now: datetime) -> dict[str, Any]:
    state = SlaRecord.state
    buckets = {name: _flag(state.in_(states)).label(name)
               for name, states in STATE_BUCKETS.items()}
    per_step = (select(Complaint.id.label("cid"), SlaRecord.step.label("step"),
                       Complaint.classification.label("cls"),
                       Complaint.misconduct.label("misc"), Complaint.agency_id.label("g"),
                       *buckets.values(),
                       _flag((state == RUNNING) & (SlaRecord.due_at < now)).label("overdue"))
                .select_from(Complaint).join(SlaRecord, SlaRecord.complaint_id == Complaint.id)
                .where(*where, *sla_where, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))
                .group_by(Complaint.id, SlaRecord.step, Complaint.classification,
                          Complaint.misconduct, Complaint.agency_id)).subquery()
    c = per_step.c
    own = c.step.in_((ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION))
    report = {"partition_by": c.cid}
    windowed = select(
        c.step, c.cls, c.misc, c.g, c.met, c.breached, c.open, c.overdue,
        func.max(case((own, c.met), else_=0)).over(**report).label("own_met"),
        func.max(case((own, c.breached), else_=0)).over(**report).label("own_breached"),
        func.max(c.overdue).over(**report).label("any_overdue"),
        func.row_number().over(**report).label("nth")).subquery()
    w = windowed.c
    first = case((w.nth == 1, 1), else_=0)
    query = select(w.step, w.cls, w.misc, w.g, func.sum(w.met), func.sum(w.breached),
                   func.sum(w.open), func.sum(w.overdue), func.sum(first * w.own_met),
                   func.sum(first * w.own_breached), func.sum(first * w.any_overdue)
                   ).group_by(w.step, w.cls, w.misc, w.g)
    classes: dict[tuple, int] = defaultdict(int)  # (step, classification, misconduct, state)
    by_agency: dict[str, dict[int | None, int]] = {"met": defaultdict(int),
                                                   "breached": defaultdict(int)}
    overdue: dict[str, Any] = {"total": 0, "by_step": defaultdict(int),
                               "by_agency": defaultdict(int)}
    for step, cls, misc, g, *counts in session.execute(query):
        met, breached, open_, late, own_met, own_breached, any_late = (int(n) for n in counts)
        for name, n in (("met", met), ("breached", breached), ("open", open_),
                        ("overdue", late)):
            if n:
                classes[(step, cls, bool(misc), name)] += n
        if late:
            overdue["by_step"][step] += late
        for name, n in (("met", own_met), ("breached", own_breached)):
            if n:
                by_agency[name][g] += n
        if any_late:
            overdue["total"] += any_late
            overdue["by_agency"][g] += any_late
    return {"classes": dict(classes),
            "by_agency": {name: dict(found) for name, found in by_agency.items()},
            "overdue": {"total": overdue["total"], "by_step": dict(overdue["by_step"]),
                        "by_agency": dict(overdue["by_agency"])}}


def _escalation_reports(session: Session, where: list[Any], escalation_where: list[Any]
                        ) -> dict[str, Any]:
    per_rung = (select(Complaint.id.label("cid"), Escalation.rung_name.label("rung"),
                       Complaint.agency_id.label("g"),
                       _flag(Escalation.status == "open").label("open"))
                .select_from(Complaint)
                .join(Escalation, Escalation.complaint_id == Complaint.id)
                .where(*where, *escalation_where)
                .group_by(Complaint.id, Escalation.rung_name, Complaint.agency_id)).subquery()
    c = per_rung.c
    report = {"partition_by": c.cid}
    windowed = select(c.rung, c.g, c.open,
                      func.max(c.open).over(**report).label("any_open"),
                      func.row_number().over(**report).label("nth")).subquery()
    w = windowed.c
    first = case((w.nth == 1, 1), else_=0)
    query = select(w.rung, w.g, func.count(), func.sum(w.open), func.sum(first),
                   func.sum(first * w.any_open)).group_by(w.rung, w.g)
    found: dict[str, Any] = {"total": 0, "open": 0, "by_rung": defaultdict(int),
                             "by_rung_open": defaultdict(int), "by_agency": defaultdict(int),
                             "by_agency_open": defaultdict(int)}
    for rung, g, *counts in session.execute(query):
        n, open_, reports, reports_open = (int(x) for x in counts)
        found["by_rung"][rung] += n
        if open_:
            found["by_rung_open"][rung] += open_
        if reports:
            found["total"] += reports
            found["by_agency"][g] += reports
        if reports_open:
            found["open"] += reports_open
            found["by_agency_open"][g] += reports_open
    return {name: dict(value) if isinstance(value, defaultdict) else value
            for name, value in found.items()}
