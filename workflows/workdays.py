"""The regency's working calendar as the database has it: the one place that builds it.

A WorkingCalendar (workflows/calendar.py) knows weekends and the holiday library; the
administrator's decrees (table calendar_day: cuti bersama added, days declared working) are
applied here, for deadlines, lists, the board and the statistics alike.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import revisions
from workflows.calendar import WorkingCalendar
from workflows.config import RegencyConfig
from workflows.models import CalendarDay

DAY_OFF, WORKING = "day_off", "working"


def calendar_for(session: Session, config: RegencyConfig) -> WorkingCalendar:
    """The regency's calendar with the administrator's changes applied: built once per
    process and kept while `calendar_day` is unchanged (workflows/revisions.py)."""
    def build() -> WorkingCalendar:
        return calendar_of(config, session.execute(
            select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)).all())

    return revisions.cached(session, revisions.CALENDAR, config.timezone, build)


def calendar_of(config: RegencyConfig, rows: Iterable[Any]) -> WorkingCalendar:
    """The calendar for these administrator's changes (rows with day, kind and name)."""
    return calendar_in(config.timezone, rows)


def calendar_in(timezone: str, rows: Iterable[Any]) -> WorkingCalendar:
    """The calendar of ``timezone`` for these administrator's changes (rows with day, kind
    and name): what the stored working-time measures were laid out by (migration 0037)."""
    rows = list(rows)
    return _calendar(timezone,
                     tuple(sorted((r.day, r.name) for r in rows if r.kind == DAY_OFF)),
                     tuple(sorted(r.day for r in rows if r.kind == WORKING)))


@functools.lru_cache(maxsize=16)
def _calendar(timezone: str, days_off: tuple[tuple[date, str], ...],
              working: tuple[date, ...]) -> WorkingCalendar:
    """One calendar per set of the administrator's days: a WorkingCalendar is immutable
    and builds its year tables once (holidays, weekends), so requests share it."""
    return WorkingCalendar(timezone, extra_days_off=dict(days_off), working_overrides=working)
