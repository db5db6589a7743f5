"""The escalation ladder: who holds a deadline, when each rung is missed, and which reminders
and escalations are due at an instant. Arithmetic only; workflows/sla.py records and sends.

A deadline is held by a rung (the regency administrator while a report is verified; the
working level while it is followed up: the unit when one has the report, or else the OPD's
liaison officer). The rung above the working level is the OPD's head, so a liaison (or unit)
missing a deadline goes to their head first, then to the regency administrator, and so on.
One working day (the reminder lead time, a setting: workflows/sla_settings.py) before the
holder's due time the holder is reminded; at the due time the deadline climbs one rung, and
then one more each `rung_budget_days` working days while it stays late, until the last
rung. The supervisors of each rung above the holder are reminded the lead time before their
own deadline too.
Rung k above the holder is missed at due + k x rung_budget_days working days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from workflows.calendar import WorkingCalendar
from workflows.config import RegencyConfig

REMIND_DAYS_BEFORE = 1.0  # working days before a rung's deadline that it is reminded
VERIFICATION = "verification"
POSTPONEMENT = "postponement"  # a Tertunda report's limit, held like verification
HANDED_TO_UNIT = ("follow_up", "resolution")  # the steps a unit holds once it has the report


class Climb(Protocol):
    """Where one deadline stands on the ladder (an SlaRecord)."""

    due_at: datetime
    rung: int
    holder_rung: int
    reminded_rungs: list[int]


@dataclass(frozen=True)
class Reminder:
    """Remind the rung `rung` (k = rung - holder rung) that its deadline is near."""

    rung: int
    k: int
    deadline: datetime


@dataclass(frozen=True)
class Escalation:
    """The deadline missed `deadline` and climbs to `rung`."""

    rung: int
    deadline: datetime


@dataclass(frozen=True)
class Ladder:
    """A regency's ladder (RegencyConfig.ladder) and the working days each rung has."""

    rungs: tuple[str, ...]
    rung_budget_days: float
    remind_days_before: float = REMIND_DAYS_BEFORE  # the reminder lead time

    @classmethod
    def of(cls, config: RegencyConfig) -> Ladder:
        return cls(tuple(config.ladder), config.rung_budget_days)

    @property
    def last(self) -> int:
        return len(self.rungs) - 1

    def index(self, name: str) -> int:
        return self.rungs.index(name)

    def holder(self, step: str, held_by_unit: bool) -> int:
        """The rung that holds a step's deadline: the regency administrator verifies (and
        holds a postponed report); the working level (rung technical_officer: the unit when
        one has the report, else the OPD's liaison) follows up, so that its head, the next
        rung ("opd"), is the first to hear of a missed follow-up. ``held_by_unit`` only
        says who that working level is (the same rung either way)."""
        if step in (VERIFICATION, POSTPONEMENT):
            return self.index("regency_admin")
        return self.index("technical_officer")

    def deadline(self, due_at: datetime, k: int, calendar: WorkingCalendar) -> datetime:
        """When the holder's rung + k is missed: the due time, then one rung budget each."""
        if k == 0:
            return due_at
        return calendar.add_working_days(due_at, k * self.rung_budget_days).astimezone(UTC)

    def reminder(self, deadline: datetime, calendar: WorkingCalendar) -> datetime:
        return calendar.add_working_days(deadline, -self.remind_days_before)

    def due(self, climb: Climb, now: datetime, calendar: WorkingCalendar
            ) -> list[Reminder | Escalation]:
        """The reminders and escalations due at `now` that have not happened yet, in order:
        a deadline missed by several rungs at once (a sweep that ran late) climbs them all,
        each rung once; a reminder is sent only before its deadline, and once."""
        rung, reminded = climb.rung, set(climb.reminded_rungs)
        found: list[Reminder | Escalation] = []
        while True:
            k = rung - climb.holder_rung
            deadline = self.deadline(climb.due_at, k, calendar)
            if (self.reminder(deadline, calendar) <= now < deadline) and k not in reminded:
                reminded.add(k)
                found.append(Reminder(rung, k, deadline))
            if now < deadline or rung >= self.last:
                return found
            rung += 1
            found.append(Escalation(rung, deadline))

    def next_check(self, climbs: Iterable[Climb], calendar: WorkingCalendar
                   ) -> datetime | None:
        """The earliest instant anything is due for these deadlines: a rung's reminder not
        yet sent, or else its deadline."""
        anchors = []
        for climb in climbs:
            k = climb.rung - climb.holder_rung
            deadline = self.deadline(climb.due_at, k, calendar)
            anchors.append(self.reminder(deadline, calendar)
                           if k not in climb.reminded_rungs else deadline)
        return min(anchors) if anchors else None

    def rungs_climbed(self, late_working_seconds: float, holder_rung: int) -> int:
        """How many rungs a deadline climbs when it ends `late_working_seconds` of working
        time after its due time, as `due` climbs them: the rung above the holder at the due
        time, then one more at each `deadline` (k x rung_budget_days working days after the
        due time, reached at that instant), until the last rung. Not late (<= 0): none."""
        if late_working_seconds <= 0:
            return 0
        room = max(self.last - holder_rung, 0)
        return min(math.floor(late_working_seconds / (self.rung_budget_days * 86_400)) + 1,
                   room)

    def handed_to_unit(self, rung: int, holder_rung: int) -> tuple[int, int]:
        """(rung, holder rung) of a follow-up deadline once a unit has the report: the unit
        holds it at the working level, so missing it goes to the OPD's head first (the next
        rung), not straight past them; a deadline already escalated keeps its rung."""
        unit = self.index("technical_officer")
        return (unit if rung <= holder_rung else rung), unit
