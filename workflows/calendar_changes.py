"""The administrators' working calendar (docs/administrators.md, "Working calendar"): a day
off added or cancelled by decree, or such a change undone, with the running deadlines it
moves. The preview says which; saving moves them.

A deadline is its budget of working days counted on the calendar from its start, less its
pauses (workflows/sla.py). Under a changed calendar the same budget is counted again
(`recounted`): a running deadline whose due time changes is rewritten, and its report's
instance re-reads its timers (engine `retime`): the daily watch of reminders and escalations
and the complainant's deadline. The change and its audit row commit first; then every report whose
running deadline differs from its count on the saved calendar moves, each in its instance's
own transaction, counted again from the calendar as saved (so a deadline started meanwhile on
the old calendar is caught too): the first SAVE_BATCH by the save, soonest due first, the
rest by the scheduler's calendar job. An instance in error keeps its timers until it is
retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine import Conflict as EngineConflict
from engine import NotFound as EngineNotFound
from engine import Operation
from workflows import access, admin_audit
from workflows import calendar_admin as days
from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import CalendarDay, Complaint, SlaRecord
from workflows.sla import CITIZEN_STEPS, RUNNING, STEP_LABELS, SlaPolicy
from workflows.workdays import DAY_OFF, WORKING, calendar_for, calendar_of

EDITORS = ("system_admin", "regency_admin")
SHOWN = 200  # moved deadlines listed by the preview (all are counted and moved)
# Reports moved by the save itself (about 30 ms each); the scheduler's calendar job
# (web/scheduler.py) moves any more within minutes.
SAVE_BATCH = 300
SAME = timedelta(seconds=1)  # closer than this, a recounted due time has not moved
RETIMED = tuple(ids.WATCH_TIMERS.values()) + tuple(ids.CITIZEN_DEADLINE_TIMERS.values())


@dataclass(frozen=True)
class Move:
    """One running deadline the change moves."""

    tracking_number: str
    step: str
    old_due: datetime
    new_due: datetime

    @property
    def step_label(self) -> dict[str, str]:
        return STEP_LABELS.get(self.step, {"id": self.step, "en": self.step})


@dataclass(frozen=True)
class Impact:
    """What a change of the calendar does: the day, before and after, the deadlines moved."""

    day: date
    before: dict[str, Any] | None  # the administrator's change of the day until now
    after: dict[str, Any] | None  # and after the change (None: back to the library)
    total: int
    moves: list[Move]
    left: int = 0  # after saving: reports the scheduler's calendar job moves (SAVE_BATCH)


def recounted(record: Any, calendar: WorkingCalendar) -> datetime:
    """A deadline's due time counted on `calendar`: its budget from its start, with its
    pauses (recorded as {"from", "to"}) left out, as sla_start and sla_resume count it."""
    start, remaining = record.started_at, record.budget_days * 86_400.0
    for pause in record.pauses or []:
        begun, ended = datetime.fromisoformat(pause["from"]), datetime.fromisoformat(pause["to"])
        remaining -= calendar.working_seconds_between(start, begun)
        start = ended
    return calendar.add_working_seconds(start, remaining).astimezone(UTC)


# What a recount reads of a deadline (plain rows: 10,000 deadlines in about a second).
RECOUNT_COLUMNS = (SlaRecord.id, SlaRecord.complaint_id, SlaRecord.step, SlaRecord.started_at,
                   SlaRecord.budget_days, SlaRecord.pauses, SlaRecord.due_at)


def moves(session: Session, calendar: WorkingCalendar, complaint_ids: Iterable[int] | None = None,
          touching: date | None = None) -> list[tuple[Any, datetime]]:
    """The running deadlines whose due time differs on `calendar` (rows of RECOUNT_COLUMNS),
    with their new one. `touching`: only those running over that local day, the only ones
    a change of that day can move (they started before it ends and are due after it
    begins)."""
    query = select(*RECOUNT_COLUMNS).where(SlaRecord.state == RUNNING)
    if complaint_ids is not None:
        query = query.where(SlaRecord.complaint_id.in_(list(complaint_ids)))
    if touching is not None:
        begins = datetime.combine(touching, time(0), calendar.tzinfo).astimezone(UTC)
        query = query.where(SlaRecord.started_at < begins + timedelta(days=1),
                            SlaRecord.due_at > begins)
    found = []
    for record in session.execute(query.order_by(SlaRecord.due_at, SlaRecord.id)):
        new = recounted(record, calendar)
        if abs(new - record.due_at) >= SAME:
            found.append((record, new))
    return found


class CalendarChanges:
    """Preview, save and undo the administrator's days (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sla = SlaPolicy(ctx.config)

    def page(self, principal: access.Principal, year: Any = None, month: Any = None,
             change: dict[str, str] | None = None) -> dict[str, Any]:
        """What /admin/calendar shows: the year's days off and the administrator's changes
        (CalendarAdmin.days_off), a month as weeks of days, and with `change` (day, kind,
        name) the preview of what it would move, or the form's `errors` by field."""
        self._require(principal)
        today = self.ctx.today()
        year = _number("year", year, today.year, *days.YEARS)
        month = _number("month", month, today.month, 1, 12)
        impact, errors = None, {}
        if change is not None:
            try:
                impact = self.preview(principal, change.get("day"), change.get("kind", ""),
                                      change.get("name", ""))
                year, month = impact.day.year, impact.day.month
            except (Invalid, NotFound) as exc:  # shown by the form, its values kept
                errors = getattr(exc, "field_errors", None) or {"day": exc.message}
        with self.ctx.reads() as session:
            listing = days.days_off(session, self.ctx.config, year)
            calendar = calendar_for(session, self.ctx.config)
            changed = {r.day: r for r in session.execute(select(
                CalendarDay.day, CalendarDay.kind, CalendarDay.name).where(
                CalendarDay.day >= date(year, month, 1),
                CalendarDay.day < _next_month(year, month)))}
        first = date(year, month, 1)
        start = first - timedelta(days=first.weekday())
        weeks = []
        while start < _next_month(year, month):
            weeks.append([{
                "day": d, "in_month": d.month == month, "today": d == today,
                "working": calendar.is_working_day(d),
                "reason": calendar.day_off_reason(d),
                "change": None if d not in changed else {"kind": changed[d].kind,
                                                         "name": changed[d].name}}
                for d in (start + timedelta(days=i) for i in range(7))])
            start += timedelta(days=7)
        return {**listing, "month": month, "weeks": weeks, "today": today, "impact": impact,
                "errors": errors,
                "previous": _shift(year, month, -1), "next": _shift(year, month, 1),
                "expected": "" if impact is None else _key(impact.before)}

    def preview(self, principal: access.Principal, day: Any, kind: str, name: str
                ) -> Impact:
        """What adding (kind day_off), cancelling (working) or undoing (kind "") a change
        of `day` would move; nothing is saved."""
        self._require(principal)
        when, kind, name = self._checked(day, kind, name)
        with self.ctx.reads() as session:
            return self._impact(session, when, kind, name)[0]

    def save(self, principal: access.Principal, day: Any, kind: str, name: str, *,
             expected: str, note: str = "") -> Impact:
        """Save the change (kind "" undoes the day's change) and move the deadlines.

        `expected` is the day's change the form was shown ("" for none, else
        "<kind>:<name>"): another administrator's change since then is a Conflict."""
        self._require(principal)
        when, kind, name = self._checked(day, kind, name)
        actor = principal.username
        with self.ctx.transaction() as session:
            impact, _found = self._impact(session, when, kind, name)
            if _key(impact.before) != (expected or ""):
                raise Conflict("the calendar of %(day)s was changed by someone else; look "
                               "at it again", day=when.isoformat())
            if kind:
                days.set_day(session, when, kind, name, actor)
            else:
                days.remove_day(session, when)
            admin_audit.record(
                session, at=self.ctx.now(), actor=actor,
                action="calendar.undo" if not kind else f"calendar.{kind}",
                target_kind="calendar_day", target=when.isoformat(), before=impact.before,
                after=impact.after, note=" ".join(filter(None, [
                    note.strip()[:500], f"({impact.total} deadlines moved)"])))
        moved = self.move_deadlines(actor, limit=SAVE_BATCH)
        return replace(impact, left=max(impact.total - moved, 0))

    def move_deadlines(self, actor: str | None, limit: int | None = None) -> int:
        """Move the reports out of step with the saved calendar, soonest due first (at most
        `limit`: the scheduler's calendar job moves the rest); how many moved."""
        return sum(self.move_report(complaint_id, actor)
                   for complaint_id in self.out_of_step()[:limit])

    def out_of_step(self) -> list[int]:
        """The reports with a running deadline whose due time differs from its count on the
        saved calendar, soonest due first: those a change moved, and any that started
        meanwhile on the calendar before it (read after the change committed)."""
        with self.ctx.reads() as session:
            calendar = calendar_for(session, self.ctx.config)
            found = moves(session, calendar)
        return list(dict.fromkeys(record.complaint_id for record, _ in found))

    def move_report(self, complaint_id: int, actor: str | None) -> bool:
        """Count one report's running deadlines again on the saved calendar and move its
        timers with them, in its instance's transaction; False when it has no running
        instance (nothing waits on its timers)."""
        with self.ctx.reads() as session:
            instance_id = session.scalar(select(Complaint.instance_id).where(
                Complaint.id == complaint_id))
        if instance_id is None:
            return False

        def hook(operation: Operation) -> dict[str, Any]:
            return self._retime(operation, complaint_id)

        try:
            self.ctx.engine.retime(instance_id, hook, actor=actor,
                                   detail={"reason": "working calendar changed"})
        except (EngineConflict, EngineNotFound):  # ended meanwhile: nothing waits
            return False
        return True

    # ------------------------------------------------------------------ helpers

    def _retime(self, operation: Operation, complaint_id: int) -> dict[str, Any]:
        session, now = operation.session, operation.now
        calendar = calendar_for(session, self.ctx.config)
        for record, new in moves(session, calendar, [complaint_id]):
            session.execute(update(SlaRecord).where(SlaRecord.id == record.id)
                            .values(due_at=new).execution_options(synchronize_session=False))
        complaint = session.get(Complaint, complaint_id)
        running = self.sla.running_records(session, complaint, None)
        watch = self.sla.watch(session, complaint, calendar, now)
        data: dict[str, Any] = {ids.VAR_WATCH: watch}
        officer = [r for r in running if r.step not in CITIZEN_STEPS]
        citizen = [r for r in running if r.step in CITIZEN_STEPS]
        if officer:
            data["sla"] = {"due_at": _local(officer[-1].due_at, calendar), **watch}
        if citizen:
            data["sla_citizen"] = {"due_at": _local(citizen[-1].due_at, calendar), **watch}
        return {"data": data, "timers": RETIMED}

    def _impact(self, session: Session, day: date, kind: str, name: str
                ) -> tuple[Impact, list[tuple[Any, datetime]]]:
        current = session.get(CalendarDay, day)
        before = None if current is None else {"kind": current.kind, "name": current.name}
        after = {"kind": kind, "name": name} if kind else None
        if not kind and current is None:
            raise NotFound("%(day)s has no administrator's change to undo", day=day.isoformat())
        found = self._moved(session, day, kind, name)
        numbers = dict(session.execute(select(Complaint.id, Complaint.tracking_number).where(
            Complaint.id.in_({r.complaint_id for r, _ in found[:SHOWN]}))).all())
        shown = [Move(numbers.get(r.complaint_id, "?"), r.step, r.due_at, new)
                 for r, new in found[:SHOWN]]
        return Impact(day, before, after, len(found), shown), found

    def _moved(self, session: Session, day: date, kind: str, name: str
               ) -> list[tuple[Any, datetime]]:
        rows = [r for r in session.execute(select(CalendarDay.day, CalendarDay.kind,
                                                  CalendarDay.name)).all() if r.day != day]
        if kind:
            rows.append(_Day(day, kind, name))
        return moves(session, calendar_of(self.ctx.config, rows), touching=day)

    def _checked(self, day: Any, kind: str, name: str) -> tuple[date, str, str]:
        errors: dict[str, Any] = {}
        when = None
        try:
            when = day if isinstance(day, date) else date.fromisoformat(str(day or "").strip())
        except ValueError:
            errors["day"] = Message("give the date as YYYY-MM-DD")
        if when is not None and not days.YEARS[0] <= when.year <= days.YEARS[1]:
            errors["day"] = Message("a date between %(first)s and %(last)s",
                                    first=days.YEARS[0], last=days.YEARS[1])
        kind = (kind or "").strip()
        if kind not in (DAY_OFF, WORKING, ""):
            errors["kind"] = Message("choose a day off or a working day")
        name = " ".join((name or "").split())[:200]
        if kind and not name:
            errors["name"] = Message("name the decree or the holiday")
        if errors or when is None:
            raise Invalid("the change of the calendar has errors", errors)
        return when, kind, name

    @staticmethod
    def _require(principal: access.Principal) -> None:
        if not principal.has(*EDITORS):
            raise Forbidden("only administrators change the working calendar")


@dataclass(frozen=True)
class _Day:
    day: date
    kind: str
    name: str


def _number(name: str, value: Any, default: int, low: int, high: int) -> int:
    """A year or month from a query string: the default when absent, Invalid when wrong."""
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise Invalid("the page asked for has errors",
                      {name: Message("between %(low)s and %(high)s", low=low, high=high)})
    return number


def _next_month(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def _shift(year: int, month: int, by: int) -> dict[str, int]:
    index = year * 12 + month - 1 + by
    return {"year": index // 12, "month": index % 12 + 1}


def _key(change: dict[str, Any] | None) -> str:
    return "" if change is None else f"{change['kind']}:{change['name']}"


def _local(instant: datetime, calendar: WorkingCalendar) -> str:
    return instant.astimezone(calendar.tzinfo).isoformat()
