"""Use cases of the working-day calendar: the year's days off, and the administrator's
changes by decree (a cuti bersama added, a day declared working)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.config import RegencyConfig
from workflows.context import Context
from workflows.errors import Invalid, NotFound
from workflows.models import CalendarDay
from workflows.stats import relay_speeds
from workflows.workdays import DAY_OFF, WORKING, calendar_for

KINDS = (DAY_OFF, WORKING)
YEARS = (2000, 2100)  # the years the calendar answers for


class CalendarAdmin:
    """The use cases of the calendar (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def days_off(self, year: int | None = None) -> dict[str, Any]:
        """Every weekday off of a year (this year by default) with its reason, and the
        administrator's own changes."""
        year = self.ctx.today().year if year is None else year
        if not YEARS[0] <= year <= YEARS[1]:
            raise Invalid("year out of range", {"year": f"between {YEARS[0]} and {YEARS[1]}"})
        with self.ctx.reads() as session:
            return days_off(session, self.ctx.config, year)

    def set_day(self, day: date, kind: str, name: str, actor: str | None) -> dict[str, Any]:
        """Declare a day off (e.g. a new cuti bersama) or a working day (a cancelled one);
        deadlines counted afterwards follow it."""
        with self.ctx.transaction() as session:
            return set_day(session, day, kind, name, actor)

    def remove_day(self, day: date) -> None:
        """Undo the administrator's change to a day."""
        with self.ctx.transaction() as session:
            remove_day(session, day)


def set_day(session: Session, day: date, kind: str, name: str, actor: str | None
            ) -> dict[str, Any]:
    """Declare a day off (e.g. a new cuti bersama) or a working day (a cancelled one)."""
    if kind not in KINDS:
        raise Invalid("unknown kind of day", {"kind": "day_off or working"})
    if not name.strip():
        raise Invalid("say why", {"name": "name the decree or the holiday"})
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, kind=kind, name=name.strip(), created_by=actor)
        session.add(row)
    else:
        row.kind, row.name, row.created_by = kind, name.strip(), actor
    relay_speeds(session)  # the stored working-time measures follow, in this transaction
    return {"day": day.isoformat(), "kind": kind, "name": row.name}


def remove_day(session: Session, day: date) -> None:
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound(f"{day.isoformat()} has no administrator's change")
    session.delete(row)
    relay_speeds(session)


def days_off(session: Session, config: RegencyConfig, year: int) -> dict[str, Any]:
    """Every day off of a year with its reason, and the administrator's own changes."""
    calendar = calendar_for(session, config)
    changes = session.scalars(select(CalendarDay).order_by(CalendarDay.day)).all()
    return {
        "year": year,
        "timezone": config.timezone,
        "days_off": [{"day": d.isoformat(), "reason": reason} for d, reason in
                     calendar.days_off(date(year, 1, 1), date(year, 12, 31))
                     if d.weekday() < 5],
        "changes": [{"day": c.day.isoformat(), "kind": c.kind, "name": c.name,
                     "by": c.created_by} for c in changes if c.day.year == year],
    }
