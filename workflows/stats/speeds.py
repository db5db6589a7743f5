"""The speed figures from each report's stored working-time measures (migration 0037), and
keeping those measures in step with the working calendar.

Each report carries its three measures (``complaint.work_answer_s``, ``work_verify_s``,
``work_close_s``: working seconds, MEASURES' order), worked out by a database trigger from
the calendar laid out per day (``work_day``) whenever a time is set, whoever sets it. The
yearly sums ``stats_speed_year`` count them per agency and working hour. So a year's
figures for the whole regency cost:

1. one sum of the year's rows (a few thousand): each agency's and the regency's count and
   total (the means, exact), and the working hour in which each median falls, with its
   rank within that hour;
2. one read of the year's values in those hours from each measure's own index
   (``ix_complaint_work_answer`` ...: the hour, then the date of receipt): a few thousand
   values, sorted here; the medians are exact to the second.

Other periods and an agency's scope read the stored measures of the cohort (the covering
index ``ix_complaint_work``) and take the medians there (PostgreSQL's ``percentile_cont``;
SQLite's sort in this process): no calendar arithmetic per report either. The stored
values are used only when they are provably the live computation's: the layout's time zone
offset is the regency's, and its working days are the live calendar's over every day the
period's times can fall on (otherwise, say after the holiday library changed or
``calendar_day`` was edited by hand, the statistics compute the speeds from the times, as
before: workflows/stats/queries.py).

A change to the calendar (workflows/calendar_admin.py) calls :func:`relay` in its own
transaction: the days whose status changed are laid out again, and the reports whose span
touches one of them get their measures recomputed, before the change commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from engine.store import UtcDateTime
from workflows.calendar import WorkingCalendar
from workflows.models import CalendarDay, Complaint
from workflows.speed_models import BUCKET_SECONDS, WorkDay, WorkZone
from workflows.stats.cohort import Period, Scope
from workflows.stats.localtime import LocalClock

EPOCH = date(1970, 1, 1)
# What work_day lays out (as migration 0037); a period beyond it is computed from the times.
FIRST_DAY, LAST_DAY = date(2015, 1, 1), date(2040, 12, 31)
COLUMNS = (Complaint.work_answer_s, Complaint.work_verify_s, Complaint.work_close_s)


def stored_usable(session: Session, local: LocalClock, calendar: WorkingCalendar,
                  days: tuple[date, date]) -> bool:
    """Whether the stored measures of the reports received in the period are what the
    live computation would give: the layout is cut at the regency's offset, and its working
    days from ``days[0]`` to ``days[1]`` (every day a time of the cohort can fall on) are
    the live calendar's."""
    zone = session.get(WorkZone, 1)
    if zone is None or zone.offset_seconds != local.offset:
        return False
    first, last = (days[0] - EPOCH).days, (days[1] - EPOCH).days
    laid = session.execute(select(WorkDay.day, WorkDay.w).where(
        WorkDay.day >= first, WorkDay.day <= last).order_by(WorkDay.day)).all()
    if len(laid) != last - first + 1:
        return False
    return all(w == (1 if calendar.is_working_day(EPOCH + timedelta(days=day)) else 0)
               for day, w in laid)


def whole_year(period: Period, scope: Scope) -> int | None:
    """The local year the period is, when the yearly sums answer it (whole regency)."""
    year = period.start.year
    if (scope.agency_ids is None and period.start == date(year, 1, 1)
            and period.end == date(year, 12, 31)):
        return year
    return None


def year_rows(session: Session, year: int, first: datetime, after: datetime,
              medians: Callable[[Session, Any], list[tuple]]) -> list[tuple]:
    """Count, sum and exact median of each measure per agency and overall, for the reports
    received in the local ``year`` ([``first``, ``after``) in UTC): rows of (agency,
    is_total, then count, sum, median of each measure), as queries._speed_rows gives them.
    ``medians`` computes them from the stored values should the yearly sums and the rows
    be found to disagree in the hours read (they cannot while the triggers run; sums off
    elsewhere would go unseen, as with every summary the statistics read)."""
    width = len(COLUMNS)
    # (group, measure) -> {hour: count}; the group ALL is the whole cohort, 0 no agency
    hours: dict[tuple[int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for g, k, bucket, n, total in session.execute(_SUMS, {"year": year}).all():
        for key in ((g, k), (ALL, k)):
            hours[key][bucket] += n
            cell = sums[key]
            cell[0] += n
            cell[1] += total
    wanted: dict[tuple[int, int], list[tuple[int, int]]] = {}  # -> [(hour, rank in it)]
    needed: list[set[int]] = [set() for _ in range(width)]
    for key, by_hour in hours.items():
        count = sums[key][0]
        if not count:
            continue
        ranks = sorted({(count - 1) // 2, count // 2})
        found, before = [], 0
        for bucket in sorted(by_hour):
            n = by_hour[bucket]
            found += [(bucket, r - before) for r in ranks if before <= r < before + n]
            before += n
            if before > ranks[-1]:  # both ranks placed: the later hours are not needed
                break
        wanted[key] = found
        needed[key[1]].update(bucket for bucket, _ in found)
    values = _hour_values(session, first, after, needed)
    groups = sorted({g for g, _ in wanted if g != ALL}, key=lambda g: (g == 0, g))
    rows = []
    for g in [*groups, ALL]:
        row: list[Any] = [None if g in (0, ALL) else g, 1 if g == ALL else 0]
        for k in range(width):
            key = (g, k)
            if key not in wanted:
                row += [0, None, None]
                continue
            picked = []
            for bucket, rank in wanted[key]:
                found = values.get((g, k, bucket), ())
                if len(found) != hours[key][bucket]:  # the sums and the rows disagree
                    return medians(session, stored_values([Complaint.created_at >= first,
                                                           Complaint.created_at < after]))
                picked.append(found[rank])
            median = float(picked[0]) if len(picked) == 1 else (picked[0] + picked[1]) / 2
            row += [*sums[key], median]
        rows.append(tuple(row))
    return rows


ALL = -1  # the group of the whole cohort (agency 0 is "none")
# The year's sums, base and delta rows as they are (added up here).
_SUMS = text("SELECT agency_id, measure, bucket, n, total FROM stats_speed_year "
             "WHERE year = :year")


def _hour_values(session: Session, first: datetime, after: datetime,
                 needed: list[set[int]]) -> dict[tuple[int, int, int], list[int]]:
    """The period's stored values of each measure in the working hours ``needed`` (per
    measure), sorted per (agency, measure, hour) and per (ALL, measure, hour): read from
    the measures' own indexes (``ix_complaint_work_answer`` ...: hour, then date of
    receipt), so only those hours' values of the period are read."""
    selects = []
    for k, (column, hours) in enumerate(zip(COLUMNS, needed, strict=True)):
        if hours:
            name = column.key
            listed = ", ".join(str(hour) for hour in sorted(hours))
            selects.append(
                f"SELECT coalesce(agency_id, 0), {k}, {name} FROM complaint "  # noqa: S608
                f"WHERE {name} / {BUCKET_SECONDS} IN ({listed}) AND created_at >= :first "
                f"AND created_at < :after AND {name} IS NOT NULL")
    found: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    if not selects:
        return found
    query = text(" UNION ALL ".join(selects)).bindparams(
        bindparam("first", type_=UtcDateTime), bindparam("after", type_=UtcDateTime))
    for g, k, value in session.execute(query, {"first": first, "after": after}).all():
        bucket = value // BUCKET_SECONDS
        found[(g, k, bucket)].append(value)
        found[(ALL, k, bucket)].append(value)
    for listed_values in found.values():
        listed_values.sort()
    return found


def _ranges(buckets: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted buckets as [low, high) runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for bucket in sorted(buckets):
        if runs and runs[-1][1] == bucket:
            runs[-1] = (runs[-1][0], bucket + 1)
        else:
            runs.append((bucket, bucket + 1))
    return runs


def stored_values(where: list[Any]) -> Any:
    """The cohort's stored measures, one row per report (agency ``g`` and one column per
    measure named as MEASURES): what the medians of other periods are taken over."""
    from workflows.stats.queries import MEASURES

    return select(Complaint.agency_id.label("g"), *(
        column.label(name) for column, name in zip(COLUMNS, MEASURES, strict=True))
    ).where(*where).subquery()


# --------------------------------------------------------------------------- calendar changes


def relay(session: Session) -> int:
    """After a change to ``calendar_day`` in this session's transaction: lay the days whose
    status changed out again in ``work_day`` and recompute the stored measures of every
    report whose span touches one of them (the trigger recomputes a report's measures when
    one is written: here NULL). Returns how many reports were recomputed. Nothing to do in
    a database without the layout (no migration 0037)."""
    from workflows.workdays import calendar_in

    zone = session.get(WorkZone, 1, with_for_update=True)  # one relay at a time
    if zone is None:
        return 0
    session.flush()
    calendar = calendar_in(zone.timezone, session.execute(
        select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)).all())
    laid = dict(session.execute(select(WorkDay.day, WorkDay.w)).tuples().all())
    changed: list[tuple[int, int]] = []  # (day, new w)
    day = FIRST_DAY
    while day <= LAST_DAY:
        number = (day - EPOCH).days
        w = 1 if calendar.is_working_day(day) else 0
        if laid.get(number, w) != w:
            changed.append((number, w))
        day += timedelta(days=1)
    if not changed:
        return 0
    shift = 0
    for i, (number, w) in enumerate(changed):
        session.execute(update(WorkDay).where(WorkDay.day == number).values(w=w))
        shift += w - laid[number]
        until = changed[i + 1][0] if i + 1 < len(changed) else (LAST_DAY - EPOCH).days
        if shift:  # p counts the working days before each day
            session.execute(update(WorkDay).where(WorkDay.day > number, WorkDay.day <= until)
                            .values(p=WorkDay.p + shift))
    low = _utc(changed[0][0], zone.offset_seconds)
    high = _utc(changed[-1][0] + 1, zone.offset_seconds)
    result = session.execute(
        update(Complaint).where(Complaint.created_at < high, or_(
            Complaint.verified_at >= low, Complaint.first_answer_at >= low,
            Complaint.closed_at >= low)).values(work_close_s=None)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def _utc(day_number: int, offset: int) -> datetime:
    """The UTC instant of local midnight starting the day ``day_number`` (since 1970)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=day_number * 86400 - offset)
