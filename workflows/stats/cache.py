"""The figure cache: where a cohort's gathered aggregates are kept, and under which key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from workflows import readcache
from workflows.config import RegencyConfig
from workflows.models import CalendarDay
from workflows.stats.cohort import Scope


def figure_cache(session: Session) -> readcache.ReadCache | None:
    """The read cache of the session's database (workflows/readcache.py), or None when the
    database lacks the statistics' triggers that make it safe.

    A period's aggregates are kept there and answer a later request only when all of these
    hold, so they never say other than a fresh computation would: the same key (period
    bounds, scope, time zone, Ombudsman threshold, calendar days and the administrator's
    calendar changes); no row in ``stats_change`` newer than the moment they were read for a
    complaint received in the period (or without a date); ``now`` within [that moment, their
    ``valid_until``), so no running step became overdue and no open report crossed the
    Ombudsman's threshold in between (no tolerance: the figures are exact); younger than
    ``readcache.MAX_AGE``. Settings (ranking weights), agency names and the clock's own
    fields (``as_of``, days open) are applied on every call."""
    cache = readcache.read_cache(session)
    return cache if cache is not None and readcache.STATS in cache.usable else None


def figure_key(first: datetime, after: datetime, scope: Scope, config: RegencyConfig,
               days: tuple[date, date], calendar_rows: Sequence[CalendarDay]) -> tuple:
    """The key of a cohort's aggregates: everything they depend on besides the data and the
    clock (period bounds, scope, time zone, Ombudsman threshold, the days the calendar is
    laid out for and the administrator's calendar changes, by content)."""
    return ("figures", first, after,
            None if scope.agency_ids is None else tuple(sorted(scope.agency_ids)),
            config.timezone, config.ombudsman_days, days,
            tuple(sorted((row.day, row.kind) for row in calendar_rows)))
