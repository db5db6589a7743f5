"""The figures of deadlines and escalations from the per-day summaries of the reports' facts
(``stats_fact_day``, workflows/stats_fact_models.py, kept by the triggers of migration
0034): record counts and lateness per step and state, the distinct reports behind them,
escalations per rung, the unanswered reports past their follow-up deadline. One query sums
the period's days; what depends on ``now`` (running steps past their due time) comes from
the running records (index ``ix_sla_record_state_due``), a few per open report.

Each function returns exactly what its counterpart that counts the rows returns
(queries._deadline_rows, _escalation_rows, _unanswered_late and distinct.report_counts):
tests/test_stats_facts.py compares the two after every kind of write."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from workflows import diagram_ids as ids
from workflows.models import Complaint, SlaRecord
from workflows.sla import BREACHED, CITIZEN_STEPS, MET, RUNNING
from workflows.stats.cohort import Period, Scope
from workflows.stats.localtime import LocalClock
from workflows.stats_fact_models import (
    ESC,
    ESC_ANY,
    ESC_RUNG,
    OPEN,
    OWN,
    RECORDS,
    STEP,
    UNANSWERED,
    StatsFactDay,
    StatsFactZone,
)


def facts_usable(session: Session, local: LocalClock) -> bool:
    """Whether the migration installed the summaries cut at the regency's UTC offset."""
    offset = session.scalar(select(StatsFactZone.offset_seconds).where(StatsFactZone.id == 1))
    return offset is not None and offset == local.offset


@dataclass(frozen=True)
class FactSums:
    """The period's facts summed: ``rows`` of (agency_id, classification, misconduct, kind,
    k1, k2, budget, n, late), agency_id None for none; keys summing to no report left out."""

    rows: list[tuple]


def fact_sums(session: Session, period: Period, scope: Scope) -> FactSums:
    """Every fact of the reports received in ``period`` within ``scope``, summed over days
    and units: one query over the summaries (base and delta rows)."""
    f = StatsFactDay
    where = [f.day >= period.start, f.day <= period.end]
    if scope.agency_ids is not None:
        ids_ = sorted(scope.agency_ids) or [-1]
        where.append(or_(f.agency_id.in_(ids_), f.unit_id.in_(ids_)))
    group = [f.agency_id, f.classification, f.misconduct, f.kind, f.k1, f.k2, f.budget]
    query = (select(*group, func.sum(f.n), func.sum(f.late)).where(*where).group_by(*group)
             .having(func.sum(f.n) != 0))
    return FactSums([(None if g == 0 else g, cls, misc, kind, k1, k2, budget, int(n),
                      float(late or 0.0))
                     for g, cls, misc, kind, k1, k2, budget, n, late in session.execute(query)])


@dataclass(frozen=True)
class RunningLate:
    """Per report and step of the cohort running past its due time at ``now``: (complaint
    id, agency_id, step, classification, misconduct, records, and whether it counts among
    the unanswered reports past their follow-up deadline without a breached one)."""

    rows: list[tuple]
    next_due: datetime | None


def running_late(session: Session, where: list[Any], sla_where: list[Any], now: datetime
                 ) -> RunningLate:
    """The running records of the cohort past due at ``now`` (from the index of running
    records by due time), and the earliest due time still ahead."""
    s = SlaRecord
    breached = aliased(SlaRecord)
    own_steps = [s.step.not_in(sorted(CITIZEN_STEPS)), s.state == RUNNING]
    unanswered = and_(s.step == ids.STEP_FOLLOW_UP, Complaint.disposed_at.is_not(None),
                      Complaint.first_answer_at.is_(None),
                      ~exists().where(breached.complaint_id == s.complaint_id,
                                      breached.step == ids.STEP_FOLLOW_UP,
                                      breached.state == BREACHED))
    key = [Complaint.id, Complaint.agency_id, s.step, Complaint.classification,
           Complaint.misconduct]
    query = (select(*key, func.count(), func.max(case((unanswered, 1), else_=0)))
             .join(Complaint, Complaint.id == s.complaint_id)
             .where(*where, *sla_where, *own_steps, s.due_at < now).group_by(*key))
    rows = [tuple(row) for row in session.execute(query)]
    following = session.scalar(
        select(func.min(s.due_at)).join(Complaint, Complaint.id == s.complaint_id)
        .where(*where, *sla_where, *own_steps, s.due_at >= now))
    return RunningLate(rows, following)


def deadline_rows(sums: FactSums, late: RunningLate) -> list[tuple]:
    """As queries._deadline_rows: (agency, step, classification, misconduct, state, count,
    past due now, lateness, budget) per group of records (past due counted for running
    records, the only ones the figures read it of)."""
    cells: dict[tuple, list] = {}
    for g, cls, misc, kind, step, state, budget, n, late_seconds in sums.rows:
        if kind != RECORDS:
            continue
        cell = cells.setdefault((g, step, cls, misc, state), [0, 0, 0.0, None])
        cell[0] += n
        cell[2] += late_seconds
        cell[3] = budget if cell[3] is None else max(cell[3], budget)
    for _, g, step, cls, misc, records, _ in late.rows:
        cell = cells.get((g, step, cls, _misconduct(misc), RUNNING))
        if cell is not None:
            cell[1] += records
    return [(*key, *cell) for key, cell in cells.items()]


def escalation_rows(sums: FactSums) -> list[tuple]:
    """As queries._escalation_rows: (agency, rung, status, count)."""
    cells: dict[tuple, int] = defaultdict(int)
    for g, _, _, kind, rung, status, _, n, _ in sums.rows:
        if kind == ESC:
            cells[(g, rung, status)] += n
    return [(*key, n) for key, n in cells.items() if n]


def unanswered_late(sums: FactSums, late: RunningLate) -> dict[int | None, int]:
    """As queries._unanswered_late: per agency, the dispositioned reports without an answer
    whose follow-up deadline has passed (breached, or running past due now)."""
    found: dict[int | None, int] = defaultdict(int)
    for g, *_, kind, _, _, _, n, _ in sums.rows:
        if kind == UNANSWERED:
            found[g] += n
    for _, g, *_, flagged in late.rows:
        if flagged:
            found[g] += 1
    return {g: n for g, n in found.items() if n}


def report_counts(sums: FactSums, late: RunningLate) -> dict[str, Any]:
    """As distinct.report_counts: the reports behind the counts of deadlines (per class and
    state, per agency for the OPD's own steps, overdue now) and of escalations."""
    classes: dict[tuple, int] = defaultdict(int)
    by_agency: dict[str, dict[int | None, int]] = {MET: defaultdict(int),
                                                   BREACHED: defaultdict(int)}
    escalations: dict[str, Any] = {"total": 0, "open": 0, "by_rung": defaultdict(int),
                                   "by_rung_open": defaultdict(int),
                                   "by_agency": defaultdict(int),
                                   "by_agency_open": defaultdict(int)}
    for g, cls, misc, kind, k1, k2, _, n, _ in sums.rows:
        if kind == STEP:
            classes[(k1, cls, bool(misc), k2)] += n
        elif kind == OWN:
            by_agency[k2][g] += n
        elif kind == ESC_RUNG:
            escalations["by_rung_open" if k2 == OPEN else "by_rung"][k1] += n
        elif kind == ESC_ANY:
            escalations["open" if k2 == OPEN else "total"] += n
            escalations["by_agency_open" if k2 == OPEN else "by_agency"][g] += n
    by_step: dict[str, int] = defaultdict(int)
    overdue_reports: dict[int | None, set[int]] = defaultdict(set)
    for complaint_id, g, step, cls, misc, _, _ in late.rows:
        classes[(step, cls, bool(misc), "overdue")] += 1
        by_step[step] += 1
        overdue_reports[g].add(complaint_id)
    overdue_by_agency = {g: len(found) for g, found in overdue_reports.items()}
    return {
        "classes": {key: n for key, n in classes.items() if n},
        "by_agency": {name: {g: n for g, n in found.items() if n}
                      for name, found in by_agency.items()},
        "overdue": {"total": sum(overdue_by_agency.values()), "by_step": dict(by_step),
                    "by_agency": overdue_by_agency},
        "escalations": {name: ({k: n for k, n in value.items() if n}
                               if isinstance(value, defaultdict) else value)
                        for name, value in escalations.items()},
    }


def _misconduct(value: Any) -> int:
    return 1 if value else 0
