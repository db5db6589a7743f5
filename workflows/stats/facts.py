"""The figures of deadlines and escalations from the summaries of the reports' facts
(``stats_fact_day`` and ``stats_fact_month``, workflows/stats_fact_models.py, kept by the
triggers of migration 0035): record counts and lateness per step and state, the distinct
reports behind them, escalations per rung, the unanswered reports past their follow-up
deadline. One query sums the period's whole months and its other days; what depends on
``now`` (running steps past their due time) comes from the running records of the period
(index ``ix_sla_record_state_received``), a few per open report.

Each function returns exactly what its counterpart that counts the rows returns
(queries._deadline_rows, _escalation_rows, _unanswered_late and distinct.report_counts):
tests/test_stats_facts.py compares the two after every kind of write."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

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
    StatsFactMonth,
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
    and units: the whole months of the period from the month rows, the days before and
    after them from the day rows, in one query (base and delta rows alike)."""
    months = whole_months(period)
    parts = []
    for table, ranges in ((StatsFactMonth, [months] if months else []),
                          (StatsFactDay, days_outside(period, months))):
        for first, last in ranges:
            where = [table.day >= first, table.day <= last]
            if scope.agency_ids is not None:
                ids_ = sorted(scope.agency_ids) or [-1]
                where.append(or_(table.agency_id.in_(ids_), table.unit_id.in_(ids_)))
            parts.append(select(*(getattr(table, c) for c in _GROUP), table.n, table.late)
                         .where(*where))
    if not parts:
        return FactSums([])
    rows = union_all(*parts).subquery()
    group = [rows.c[c] for c in _GROUP]
    query = (select(*group, func.sum(rows.c.n), func.sum(rows.c.late)).group_by(*group)
             .having(func.sum(rows.c.n) != 0))
    return FactSums([(None if g == 0 else g, cls, misc, kind, k1, k2, budget, int(n),
                      float(late or 0.0))
                     for g, cls, misc, kind, k1, k2, budget, n, late in session.execute(query)])


_GROUP = ("agency_id", "classification", "misconduct", "kind", "k1", "k2", "budget")


def whole_months(period: Period) -> tuple[date, date] | None:
    """The first days of the first and last months lying wholly within the period."""
    first = period.start if period.start.day == 1 else _next_month(period.start)
    following = _next_month(period.end)
    last_is_whole = following - timedelta(days=1) == period.end
    after = following if last_is_whole else period.end.replace(day=1)
    if first >= after:
        return None
    return first, _previous_month(after)


def days_outside(period: Period, months: tuple[date, date] | None
                  ) -> list[tuple[date, date]]:
    """The period's days not in its whole months, as ranges of days (both included)."""
    if months is None:
        return [(period.start, period.end)]
    ranges = []
    if period.start < months[0]:
        ranges.append((period.start, months[0] - timedelta(days=1)))
    after = _next_month(months[1])
    if after <= period.end:
        ranges.append((after, period.end))
    return ranges


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class RunningLate:
    """The cohort's steps running past their due time at ``now``: ``steps`` (agency_id,
    step, classification, misconduct, records, reports) and ``agencies`` (agency_id, reports
    with any such step, and of those the dispositioned ones not answered whose late step is
    the follow-up and which have no breached follow-up record: the breached ones are kept
    among the facts)."""

    steps: list[tuple]
    agencies: list[tuple]
    next_due: datetime | None


def running_late(session: Session, where: list[Any], sla_where: list[Any], now: datetime
                 ) -> RunningLate:
    """The running records of the cohort past due at ``now``, counted in the database, and
    the earliest due time still ahead.

    The records come from the index of records by state and date of receipt (on PostgreSQL
    it carries the report and step, so they are read from the index alone), grouped per
    report and step; PostgreSQL then fetches only those reports by primary key (not the
    whole cohort, which a hash join would read) and counts per step and per agency in one
    pass (GROUPING SETS); SQLite joins and counts in two queries."""
    s = SlaRecord
    running = [*sla_where, s.step.not_in(sorted(CITIZEN_STEPS)), s.state == RUNNING]
    # the first to come due, in due order (a walk of the index that stops at the first)
    following = session.scalar(
        select(s.due_at).join(Complaint, Complaint.id == s.complaint_id)
        .where(*where, *running, s.due_at >= now).order_by(s.due_at).limit(1))
    late = (select(s.complaint_id.label("cid"), s.step.label("step"), func.count().label("n"))
            .where(*running, s.due_at < now).group_by(s.complaint_id, s.step))
    # reports of the cohort with a breached follow-up (their unanswered count is a fact)
    breached = (select(s.complaint_id.label("cid"))
                .where(*sla_where, s.state == BREACHED, s.step == ids.STEP_FOLLOW_UP)
                .distinct())
    unanswered = and_(Complaint.disposed_at.is_not(None), Complaint.first_answer_at.is_(None))
    if session.get_bind().dialect.name == "postgresql":
        return _running_late_postgres(session, where, late, breached, unanswered, following)
    late_q = late.subquery()
    breached_q = breached.subquery()
    key = [Complaint.agency_id, late_q.c.step, Complaint.classification, Complaint.misconduct]
    counts = [func.sum(late_q.c.n), func.count(), func.count(late_q.c.cid.distinct()),
              func.count(case((and_(late_q.c.step == ids.STEP_FOLLOW_UP, unanswered,
                                    breached_q.c.cid.is_(None)), late_q.c.cid),
                              else_=None).distinct())]

    def counted(group: list[Any]) -> Any:
        return session.execute(
            select(*group, *counts).select_from(late_q)
            .join(Complaint, and_(Complaint.id == late_q.c.cid, *where))
            .outerjoin(breached_q, breached_q.c.cid == late_q.c.cid).group_by(*group))

    steps = [(g, step, cls, misc, int(records), int(reports))
             for g, step, cls, misc, records, reports, _, _ in counted(key)]
    agencies = [(g, int(distinct), int(unanswered_n))
                for g, _, _, distinct, unanswered_n in counted([Complaint.agency_id])
                ] if steps else []
    return RunningLate(steps, agencies, following)


def _running_late_postgres(session: Session, where: list[Any], late: Any, breached: Any,
                           unanswered: Any, following: datetime | None) -> RunningLate:
    late_c = late.cte("late").prefix_with("MATERIALIZED")
    breached_c = breached.cte("breached")
    reports = (select(Complaint.id, Complaint.agency_id, Complaint.classification,
                      Complaint.misconduct, unanswered.label("unanswered"))
               .where(Complaint.id == func.any(func.array(
                   select(late_c.c.cid).distinct().scalar_subquery())), *where)
               .cte("reports"))
    key = [reports.c.agency_id, late_c.c.step, reports.c.classification,
           reports.c.misconduct]
    late_unanswered = and_(late_c.c.step == ids.STEP_FOLLOW_UP, reports.c.unanswered,
                           breached_c.c.cid.is_(None))
    query = (select(*key, func.grouping(late_c.c.step), func.sum(late_c.c.n), func.count(),
                    func.count(late_c.c.cid.distinct()),
                    func.count(case((late_unanswered, late_c.c.cid), else_=None).distinct()))
             .select_from(late_c).join(reports, reports.c.id == late_c.c.cid)
             .outerjoin(breached_c, breached_c.c.cid == late_c.c.cid)
             .group_by(func.grouping_sets(tuple_(*key), tuple_(reports.c.agency_id))))
    steps, agencies = [], []
    for g, step, cls, misc, per_agency, records, reports_n, distinct, unanswered_n in (
            session.execute(query)):
        if per_agency:
            agencies.append((g, int(distinct), int(unanswered_n)))
        else:
            steps.append((g, step, cls, misc, int(records), int(reports_n)))
    return RunningLate(steps, agencies, following)


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
    for g, step, cls, misc, records, _ in late.steps:
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
    for g, _, unanswered in late.agencies:
        found[g] += unanswered
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
    for _, step, cls, misc, _, reports in late.steps:
        classes[(step, cls, bool(misc), "overdue")] += reports
        by_step[step] += reports
    overdue_by_agency = {g: reports for g, reports, _ in late.agencies if reports}
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
