"""What the statistics ask of the database about a cohort, gathered into one value.

All queries aggregate in the database (GROUP BY, ordered-set functions); none returns a
row per complaint, except SQLite's speed scan (SQLite runs in this process), whose medians
are taken here. Working days are measured in SQL against the calendar laid out per day
(workflows/stats/calendar_sql.py), so means and medians are exact to the second; the three
speed measures cost one scan of the cohort together, the counts two more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, text, tuple_, union_all
from sqlalchemy.orm import Session

from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.config import RegencyConfig
from workflows.models import (
    OPEN_PREDICATE,
    Agency,
    CalendarDay,
    Complaint,
    Escalation,
    SlaRecord,
)
from workflows.sla import BREACHED, CITIZEN_STEPS, RUNNING
from workflows.stats import facts, speeds
from workflows.stats.calendar_sql import DayTable
from workflows.stats.cohort import Period, Scope
from workflows.stats.distinct import report_counts
from workflows.stats.facts import (
    days_outside,
    fact_sums,
    facts_usable,
    running_late,
    whole_months,
)
from workflows.stats.localtime import DAY_SECONDS, LocalClock
from workflows.stats.running import running_now, running_usable
from workflows.stats_models import AGENCY, KINDS, NONE_ID, StatsDay, StatsDayZone
from workflows.stats_month_models import StatsMonth, StatsMonthMark

CASES_LISTED = 100  # Ombudsman cases listed by tracking number for officers
MEASURES = {  # name -> (start column, end column)
    "disposition_to_first_answer": (Complaint.disposed_at, Complaint.first_answer_at),
    "submission_to_verification": (Complaint.created_at, Complaint.verified_at),
    "submission_to_closure": (Complaint.created_at, Complaint.closed_at),
}


def tune_transaction(session: Session) -> None:
    """PostgreSQL settings for the statistics' transaction."""
    # For this transaction only: these few large sorts and aggregates lose more to JIT
    # compilation (hundreds of ms) than it saves, and a year of reports sorts in memory.
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL work_mem = '32MB'"))


def calendar_days(session: Session) -> Sequence[CalendarDay]:
    """The administrator's calendar changes (``calendar_day``): days off added, working days
    restored."""
    return session.scalars(select(CalendarDay)).all()


def agency_rows(session: Session) -> dict[int, Any]:
    """Every agency's code, name and kind by id, to name the agencies in the figures."""
    return {row.id: row for row in session.execute(
        select(Agency.id, Agency.code, Agency.name, Agency.kind))}


@dataclass(frozen=True)
class Gathered:
    """What the database said about one cohort at one moment; keyed by agency id."""

    by_month: dict[tuple[str, int | None], dict[str, int]]
    by_kind: dict[str, dict[str, dict[str, int]]]  # category/channel/classification -> key
    speeds: list[tuple]
    deadlines: list[tuple]
    escalations: list[tuple]
    ombudsman_counts: list[tuple]
    ombudsman_cases: list[tuple]
    # Per agency: dispositioned reports not answered yet whose follow-up deadline has passed
    # (breached, or running past its due time): the ranking's failures to follow up.
    unanswered_late: dict[int | None, int]
    # How many reports stand behind the counts of deadlines and escalations (distinct.py).
    reports: dict[str, Any]
    # The figures that depend on the clock (overdue steps, reports past the Ombudsman's
    # threshold) stay as they are until this instant (excluded), if the data does not change.
    valid_until: datetime


def gather(session: Session, config: RegencyConfig, period: Period, now: datetime,
           scope: Scope, local: LocalClock, first: datetime, after: datetime,
           days: tuple[date, date], calendar: WorkingCalendar) -> Gathered:
    """What the figures of the cohort received in [``first``, ``after``) within ``scope``
    need from the database at ``now``, and until when the clock leaves it true; ``days``
    are the first and last days the working calendar is laid out for."""
    where = [Complaint.created_at >= first, Complaint.created_at < after]
    if scope.agency_ids is not None:
        ids_ = sorted(scope.agency_ids) or [-1]
        where.append(or_(Complaint.agency_id.in_(ids_), Complaint.unit_id.in_(ids_)))
    summed = summaries_usable(session, local)
    if summed:
        by_month, by_kind = _day_tallies(session, period, scope, local)
    else:
        month, month_name = local.months(Complaint.created_at, period)
        by_month = {(month_name(m), g): dict(cell) for (m, g), cell in _tally(
            session, where, {"month": month, "agency_id": Complaint.agency_id},
            ratings=True).items()}
    if not summed or scope.agency_ids is not None:
        # the summaries break the kinds down for the whole regency only
        by_kind = _kinds(_tally(session, where, {kind: getattr(Complaint, kind)
                                                 for kind in KINDS}))
    speed_rows = _speed_rows(session, where, local, calendar, days,
                             stored=(period, scope, first, after))
    # SLA records and escalations carry their complaint's created_at: the period picks
    # them from their own index, the join to the cohort adds agency and classification.
    children = {model: [model.complaint_created_at >= first,
                        model.complaint_created_at < after] for model in (SlaRecord, Escalation)}
    if facts_usable(session, local):
        sums = fact_sums(session, period, scope)
        # the steps overdue now: from the copy of the running steps (migration 0038), or
        # from the SLA records themselves
        late = (running_now(session, first, after, scope, now) if running_usable(session)
                else running_late(session, where, children[SlaRecord], now))
        deadlines, next_due = facts.deadline_rows(sums, late), late.next_due
        next_due = None if next_due is None else _utc(next_due)
        escalations = facts.escalation_rows(sums)
        unanswered_late = facts.unanswered_late(sums, late)
        reports = facts.report_counts(sums, late)
    else:
        deadlines, next_due = _deadline_rows(session, [*where, *children[SlaRecord]], now)
        escalations = _escalation_rows(session, [*where, *children[Escalation]])
        unanswered_late = _unanswered_late(session, where, now)
        reports = report_counts(session, where, children[SlaRecord], children[Escalation],
                                now)
    counts, cases, next_late = _ombudsman_rows(session, where, now, config)
    horizons = [datetime.max.replace(tzinfo=UTC)]
    if next_due is not None:  # a running step due at d is not overdue until after d
        horizons.append(next_due + timedelta(microseconds=1))
    if next_late is not None:
        horizons.append(next_late + timedelta(days=config.ombudsman_days))
    return Gathered(by_month, by_kind, speed_rows, deadlines, escalations, counts, cases,
                    unanswered_late, reports, min(horizons))


def _tally(session: Session, where: list[Any], keys: Mapping[str, Any], *,
           ratings: bool = False) -> dict[tuple, dict[str, int]]:
    """Counts of the cohort grouped by ``keys`` (and status): one scan, one row per group."""
    inner = select(*(expr.label(name) for name, expr in keys.items()), Complaint.status,
                   Complaint.rating, Complaint.verified_at, Complaint.disposed_at,
                   Complaint.first_answer_at).where(*where).subquery()
    group = [inner.c[name] for name in keys] + [inner.c.status]
    extra = [func.coalesce(func.sum(inner.c.rating), 0), func.count(inner.c.rating),
             *[func.sum(case((inner.c.rating == k, 1), else_=0)) for k in ids.RATINGS]
             ] if ratings else []
    query = select(*group, func.count(), func.count(inner.c.verified_at),
                   func.count(inner.c.disposed_at), func.count(inner.c.first_answer_at),
                   *extra).group_by(*group)
    return _cells(session.execute(query), len(keys), ratings)


def summaries_usable(session: Session, local: LocalClock) -> bool:
    """Whether the per-day summaries (``stats_day``, workflows/stats_models.py) answer the
    counting figures: the migration installed them (its ``stats_day_zone`` row) cut at the
    offset of the regency's time zone. Otherwise the figures count the complaint rows."""
    offset = session.scalar(select(StatsDayZone.offset_seconds).where(StatsDayZone.id == 1))
    return offset is not None and offset == local.offset


def months_usable(session: Session) -> bool:
    """Whether the per-month summaries (``stats_month``, migration 0039) are kept: their
    mark row. They are cut at the same offset as the day rows."""
    return session.scalar(select(StatsMonthMark.id).where(StatsMonthMark.id == 1)) is not None


def _day_tallies(session: Session, period: Period, scope: Scope, local: LocalClock
                 ) -> tuple[dict[tuple, dict[str, int]], dict[str, dict[str, dict[str, int]]]]:
    """What :func:`_tally` counts, from the summaries of the period: its whole months from
    the month rows (when kept), its other days from the day rows. The cells by month and
    agency (with ratings) within the scope, and the regency's cells by category, channel
    and classification (meaningful for the whole regency only)."""
    months = whole_months(period) if months_usable(session) else None
    ranges: list[tuple[Any, tuple[date, date]]] = [(StatsMonth, months)] if months else []
    ranges += [(StatsDay, days) for days in days_outside(period, months)]

    def tally(keys: list[str], dims: list[str], ratings: bool) -> dict[tuple, dict[str, int]]:
        sums = ["received", "verified", "dispositioned", "answered"]
        if ratings:
            sums += ["rating_sum", "rating_count", *(f"rating_{k}" for k in ids.RATINGS)]
        parts = []
        for table, (first, last) in ranges:
            where = [table.day >= first, table.day <= last, table.dim.in_(dims)]
            if scope.agency_ids is not None:
                ids_ = sorted(scope.agency_ids) or [-1]
                where.append(or_(table.agency_id.in_(ids_), table.unit_id.in_(ids_)))
            month = (func.to_char(table.day, "YYYY-MM") if local.postgres
                     else func.strftime("%Y-%m", table.day))
            parts.append(select(month.label("month"), table.dim, table.value, table.agency_id,
                                table.status, *(getattr(table, name) for name in sums))
                         .where(*where))
        rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
        group = [*(rows.c[key] for key in keys), rows.c.status]
        query = (select(*group, *(func.sum(rows.c[name]) for name in sums))
                 .group_by(*group).having(func.sum(rows.c.received) > 0))
        return _cells(session.execute(query), len(keys), ratings)

    by_month = {(m, None if g == NONE_ID else g): dict(cell) for (m, g), cell in tally(
        ["month", "agency_id"], [AGENCY], True).items()}
    by_kind: dict[str, dict[str, dict[str, int]]] = {kind: {} for kind in KINDS}
    for (dim, value), cell in tally(["dim", "value"], list(KINDS), False).items():
        by_kind[dim][value] = dict(cell)
    return by_month, by_kind


def _kinds(tally: dict[tuple, dict[str, int]]) -> dict[str, dict[str, dict[str, int]]]:
    """Cells keyed (category, channel, classification) summed per category, per channel
    and per classification."""
    by_kind: dict[str, dict[str, dict[str, int]]] = {kind: {} for kind in KINDS}
    for key, cell in tally.items():
        for kind, value in zip(KINDS, key, strict=True):
            total = by_kind[kind].setdefault(value, defaultdict(int))
            for name, n in cell.items():
                total[name] += n
    return {kind: {value: dict(cell) for value, cell in cells.items()}
            for kind, cells in by_kind.items()}


def _cells(rows: Any, width: int, ratings: bool) -> dict[tuple, dict[str, int]]:
    """Rows of (key..., status, received, verified, disposed, answered[, ratings]) folded
    into one cell of counts per key."""
    tally: dict[tuple, dict[str, int]] = {}
    for row in rows:
        key, status = tuple(row[:width]), row[width]
        received, verified, disposed, answered, *rest = (int(n) for n in row[width + 1:])
        cell = tally.setdefault(key, defaultdict(int))
        cell["received"] += received
        cell["verified"] += verified
        cell["dispositioned"] += disposed
        cell["answered"] += answered
        cell[f"status_{status}"] += received
        if ratings:
            cell["rating_sum"] += int(rest[0])
            cell["rating_count"] += rest[1]
            for k, n in zip(ids.RATINGS, rest[2:], strict=True):
                cell[f"rating_{k}"] += int(n or 0)
    return tally


def _speed_rows(session: Session, where: list[Any], local: LocalClock,
                calendar: WorkingCalendar, days: tuple[date, date],
                stored: tuple[Period, Scope, datetime, datetime] | None = None
                ) -> list[tuple]:
    """Count, sum and median working seconds of each measure, per agency and overall: rows
    of (agency, is_total, then count, sum, median of each measure).

    From the reports' stored measures (workflows/stats/speeds.py) when they are the live
    computation's (``stored``: the period, scope and bounds; a year of the whole regency
    from the yearly sums), else computed here from the times (:func:`_live_speed_rows`).
    """
    medians = _medians_postgres if local.postgres else _medians_sqlite
    if stored is not None and speeds.stored_usable(session, local, calendar, days):
        period, scope, first, after = stored
        year = speeds.whole_year(period, scope)
        if year is not None:
            return speeds.year_rows(session, year, first, after, medians)
        return medians(session, speeds.stored_values(where))
    return _live_speed_rows(session, where, local, calendar, days)


def _live_speed_rows(session: Session, where: list[Any], local: LocalClock,
                     calendar: WorkingCalendar, days: tuple[date, date]) -> list[tuple]:
    """The speed rows computed from the cohort's times in one scan (the stored measures'
    oracle).

    Working time between two instants on days s <= e is (P(e) - P(s)) days - W(s) * (time
    of day at start) + W(e) * (time of day at end), where P counts the working days before
    a day and W says whether it works (the model of workflows/calendar.py).
    """
    table = DayTable(calendar, *days, postgres=local.postgres)
    stamps = {col.key for pair in MEASURES.values() for col in pair}
    # Each timestamp's local seconds, computed once (OFFSET 0 keeps PostgreSQL from pasting
    # the expression into every use of it).
    local_seconds = select(Complaint.agency_id.label("g"), *(
        local.epoch(getattr(Complaint, name)).label(name) for name in sorted(stamps))
    ).where(*where).offset(0).subquery()
    query, lookup = table.join(select(local_seconds.c.g).select_from(local_seconds), {
        name: local_seconds.c[name] // DAY_SECONDS for name in stamps})
    for name, (start_col, end_col) in MEASURES.items():
        start, end = local_seconds.c[start_col.key], local_seconds.c[end_col.key]
        (p_start, w_start), (p_end, w_end) = lookup[start_col.key], lookup[end_col.key]
        value = case((start.is_(None) | end.is_(None), None), (end <= start, 0),
                     else_=(p_end - p_start) * DAY_SECONDS - w_start * (start % DAY_SECONDS)
                     + w_end * (end % DAY_SECONDS))
        query = query.add_columns(value.label(name))
    values = query.subquery()
    return (_medians_postgres if local.postgres else _medians_sqlite)(session, values)


def _medians_postgres(session: Session, values: Any) -> list[tuple]:
    """(agency, is_total, then count, sum, median of each measure): ordered-set aggregates
    over the agencies and the whole cohort (GROUPING SETS)."""
    columns = []
    for name in MEASURES:
        v = values.c[name]
        columns += [func.count(v), func.sum(v), func.percentile_cont(0.5).within_group(v)]
    query = select(values.c.g, func.grouping(values.c.g), *columns).group_by(
        func.grouping_sets(values.c.g, tuple_()))
    return [tuple(row) for row in session.execute(query)]


def _medians_sqlite(session: Session, values: Any) -> list[tuple]:
    """The same from the scan's values, summed and sorted here: SQLite runs inside this
    process, so its rows cross no network, and sorting a year's values in Python costs a
    fraction of SQLite's window sorts (two per median)."""
    width = len(MEASURES)
    found: dict[int | None, list[list[int]]] = defaultdict(lambda: [[] for _ in MEASURES])
    for g, *measured in session.execute(select(values.c.g, *(values.c[n] for n in MEASURES))):
        lists = found[g]
        for i, value in enumerate(measured):
            if value is not None:
                lists[i].append(value)

    def figures(lists: list[list[int]]) -> list[Any]:
        cells: list[Any] = []
        for measured in lists:
            measured.sort()
            n = len(measured)
            median = None if not n else (
                measured[n // 2] if n % 2 else (measured[n // 2 - 1] + measured[n // 2]) / 2)
            cells += [n, sum(measured), median]
        return cells

    overall = [[value for lists in found.values() for value in lists[i]] for i in range(width)]
    return [*((g, 0, *figures(lists)) for g, lists in found.items()),
            (None, 1, *figures(overall))]


def _deadline_rows(session: Session, where: list[Any], now: datetime
                   ) -> tuple[list[tuple], datetime | None]:
    """SLA records of the cohort by agency, step, classification and state: count, how many
    are past due now, lateness, budget; and the earliest due time still ahead of ``now`` of
    a running step (until then no step becomes overdue).

    Only the government's own steps count; the complainant's windows measure the citizen.
    """
    ahead = case(((SlaRecord.state == RUNNING) & (SlaRecord.due_at >= now),
                  SlaRecord.due_at), else_=None)
    query = (select(Complaint.agency_id, SlaRecord.step, Complaint.classification,
                    Complaint.misconduct, SlaRecord.state, func.count(),
                    func.sum(case((SlaRecord.due_at < now, 1), else_=0)),
                    func.coalesce(func.sum(SlaRecord.late_seconds), 0.0),
                    func.max(SlaRecord.budget_days), func.min(ahead))
             .join(Complaint, Complaint.id == SlaRecord.complaint_id)
             .where(*where, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))
             .group_by(Complaint.agency_id, SlaRecord.step, Complaint.classification,
                       Complaint.misconduct, SlaRecord.state))
    rows, next_due = [], None
    for *row, due in session.execute(query):
        rows.append(tuple(row))
        if due is not None:
            due = _utc(due)
            next_due = due if next_due is None else min(next_due, due)
    return rows, next_due


def _unanswered_late(session: Session, where: list[Any], now: datetime
                     ) -> dict[int | None, int]:
    """Per agency, the dispositioned reports of the cohort without a first answer whose
    follow-up deadline has passed: breached, or running past its due time now. (When the
    next running deadline passes is already the figures' horizon: _deadline_rows.)"""
    late = (select(SlaRecord.complaint_id)
            .where(SlaRecord.step == ids.STEP_FOLLOW_UP,
                   or_(SlaRecord.state == BREACHED,
                       (SlaRecord.state == RUNNING) & (SlaRecord.due_at < now))))
    query = (select(Complaint.agency_id, func.count())
             .where(*where, Complaint.disposed_at.is_not(None),
                    Complaint.first_answer_at.is_(None), Complaint.id.in_(late))
             .group_by(Complaint.agency_id))
    return {agency_id: int(n) for agency_id, n in session.execute(query)}


def _escalation_rows(session: Session, where: list[Any]) -> list[tuple]:
    query = (select(Complaint.agency_id, Escalation.rung_name, Escalation.status, func.count())
             .join(Complaint, Complaint.id == Escalation.complaint_id).where(*where)
             .group_by(Complaint.agency_id, Escalation.rung_name, Escalation.status))
    return [tuple(row) for row in session.execute(query)]


def _ombudsman_rows(session: Session, where: list[Any], now: datetime, config: RegencyConfig
                    ) -> tuple[list[tuple], list[tuple], datetime | None]:
    """Reports still not closed (nor archived or returned) more than N calendar days after
    they were received, when the Ombudsman may take them over: the count per agency, the
    oldest ones, and the receipt of the next open report to cross the threshold.

    The open reports have their own (partial) index; its condition is written out as it
    stands in the index so that both databases see the query matches it.
    """
    threshold = now - timedelta(days=config.ombudsman_days)
    still_open = [*where, text(OPEN_PREDICATE)]
    late = [*still_open, Complaint.created_at <= threshold]
    counts = [tuple(row) for row in session.execute(
        select(Complaint.agency_id, func.count()).where(*late).group_by(Complaint.agency_id))]
    # The oldest ids first, from the index alone, then their rows: asked in one go,
    # PostgreSQL walks the whole period in date order and filters on the status.
    oldest = (select(Complaint.id).where(*late).order_by(Complaint.created_at, Complaint.id)
              .limit(CASES_LISTED).scalar_subquery())
    cases = [tuple(row) for row in session.execute(
        select(Complaint.tracking_number, Complaint.agency_id, Complaint.status,
               Complaint.created_at).where(Complaint.id.in_(oldest))
        .order_by(Complaint.created_at, Complaint.id))]
    following = session.scalar(select(func.min(Complaint.created_at)).where(
        *still_open, Complaint.created_at > threshold))
    return counts, cases, None if following is None else _utc(following)


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite, when an aggregate loses the column's type
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
