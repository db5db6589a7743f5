"""The escalation ladder (workflows/ladder.py): who holds a deadline, when each rung is missed,
which reminders and escalations fall due, and what the SLA services record of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from workflows.calendar import WorkingCalendar
from workflows.config import DEFAULT_LADDER, RegencyConfig
from workflows.ladder import Escalation, Ladder, Reminder

WITA = timezone(timedelta(hours=8))
CALENDAR = WorkingCalendar("Asia/Makassar")
LADDER = Ladder.of(RegencyConfig())  # technical officer, OPD, admin, regional head, province
TECH, OPD, ADMIN, HEAD, PROVINCE = range(5)


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=WITA)


@dataclass
class Record:
    """An SLA record as the ladder reads it."""

    due_at: datetime
    rung: int
    holder_rung: int
    reminded_rungs: list[int] = field(default_factory=list)


def test_the_regency_administrator_holds_verification_and_the_working_level_the_rest():
    assert LADDER.holder("verification", held_by_unit=False) == ADMIN
    assert LADDER.holder("verification", held_by_unit=True) == ADMIN
    assert LADDER.holder("postponement", held_by_unit=False) == ADMIN
    # the OPD's liaison, like a unit, works one rung below the OPD's head: a missed
    # follow-up goes to the head first (issue 16), never straight to Diskominfo
    assert LADDER.holder("follow_up", held_by_unit=False) == TECH
    assert LADDER.holder("resolution", held_by_unit=True) == TECH


def test_each_rung_above_the_holder_gets_the_rung_budget_in_working_days():
    due = wita(2026, 3, 5, 9)  # Thursday
    assert LADDER.deadline(due, 0, CALENDAR) == due
    assert LADDER.deadline(due, 1, CALENDAR) == wita(2026, 3, 9, 9)  # + 2: Friday, Monday
    assert LADDER.deadline(due, 2, CALENDAR) == wita(2026, 3, 11, 9)
    # Nyepi (Thu 19 Mar) and Idul Fitri with cuti bersama (20-24 Mar) are skipped
    assert LADDER.deadline(wita(2026, 3, 17, 10), 1, CALENDAR) == wita(2026, 3, 26, 10)


def test_nothing_is_due_before_the_reminder():
    record = Record(wita(2026, 3, 5, 9), ADMIN, ADMIN)
    assert LADDER.due(record, wita(2026, 3, 4, 8, 59), CALENDAR) == []


def test_the_holder_is_reminded_one_working_day_before_and_only_once():
    record = Record(wita(2026, 3, 5, 9), ADMIN, ADMIN)
    now = wita(2026, 3, 4, 9)
    assert LADDER.due(record, now, CALENDAR) == [Reminder(ADMIN, 0, record.due_at)]
    record.reminded_rungs = [0]
    assert LADDER.due(record, now + timedelta(hours=3), CALENDAR) == []


def test_a_reminder_before_a_weekend_deadline_comes_on_the_friday():
    record = Record(wita(2026, 3, 9, 9), OPD, OPD)  # due Monday
    assert LADDER.reminder(record.due_at, CALENDAR) == wita(2026, 3, 6, 9)


def test_at_the_deadline_the_case_climbs_one_rung_and_that_rung_is_reminded_later():
    record = Record(wita(2026, 3, 5, 9), OPD, OPD, reminded_rungs=[0])
    at_deadline = LADDER.due(record, wita(2026, 3, 5, 9), CALENDAR)
    assert at_deadline == [Escalation(ADMIN, wita(2026, 3, 5, 9))]
    record.rung = ADMIN
    # the next rung's own deadline is two working days on; its reminder a day before it
    assert LADDER.due(record, wita(2026, 3, 6, 8), CALENDAR) == []
    assert LADDER.due(record, wita(2026, 3, 6, 9), CALENDAR) == [
        Reminder(ADMIN, 1, wita(2026, 3, 9, 9))]


def test_a_late_sweep_climbs_every_rung_missed_meanwhile_once_each():
    record = Record(wita(2026, 3, 5, 9), TECH, TECH)
    # 5 working days late: the OPD's rung (+0), the administrator's (+2), the head's (+4)
    found = LADDER.due(record, wita(2026, 3, 12, 10), CALENDAR)
    assert found == [Escalation(OPD, wita(2026, 3, 5, 9)),
                     Escalation(ADMIN, wita(2026, 3, 9, 9)),
                     Escalation(HEAD, wita(2026, 3, 11, 9)),
                     Reminder(HEAD, 3, wita(2026, 3, 13, 9))]


def test_the_last_rung_is_never_passed():
    record = Record(wita(2026, 3, 2, 9), PROVINCE, ADMIN, reminded_rungs=[0, 1, 2])
    assert LADDER.due(record, wita(2026, 12, 1, 9), CALENDAR) == []


def test_a_shorter_ladder_ends_at_the_regency_administrator():
    ladder = Ladder.of(RegencyConfig(ladder=("technical_officer", "opd", "regency_admin")))
    record = Record(wita(2026, 3, 5, 9), 1, 1, reminded_rungs=[0])
    assert ladder.due(record, wita(2026, 6, 1, 9), CALENDAR) == [
        Escalation(2, wita(2026, 3, 5, 9))]
    assert ladder.last == 2 and ladder.rungs == DEFAULT_LADDER[:3]


def test_the_rung_budget_is_the_regencys_setting():
    ladder = Ladder.of(RegencyConfig(rung_budget_days=0.5))
    assert ladder.deadline(wita(2026, 3, 5, 9), 2, CALENDAR) == wita(2026, 3, 6, 9)


def test_the_next_check_is_the_earliest_pending_reminder_or_deadline():
    reminded = Record(wita(2026, 3, 10, 9), OPD, OPD, reminded_rungs=[0])
    fresh = Record(wita(2026, 3, 12, 9), ADMIN, ADMIN)
    assert LADDER.next_check([reminded, fresh], CALENDAR) == wita(2026, 3, 10, 9)
    assert LADDER.next_check([fresh], CALENDAR) == wita(2026, 3, 11, 9)
    assert LADDER.next_check([], CALENDAR) is None


def test_a_unit_taking_over_holds_the_deadline_one_rung_below_the_opd():
    assert LADDER.handed_to_unit(TECH, TECH) == (TECH, TECH)  # not escalated yet
    assert LADDER.handed_to_unit(OPD, OPD) == (TECH, TECH)  # a record from before the fix
    assert LADDER.handed_to_unit(ADMIN, TECH) == (ADMIN, TECH)  # escalated: keeps its rung


@pytest.mark.parametrize("ladder", [("opd", "regency_admin"),
                                    ("technical_officer", "regency_admin", "opd")])
def test_a_ladder_out_of_order_or_missing_a_rung_is_refused(ladder):
    with pytest.raises(ValueError, match="ladder"):
        RegencyConfig(ladder=ladder)


def test_the_sla_watch_records_each_step_the_ladder_finds(regency):
    """Through the diagram's services: a verification left alone climbs from the regency
    administrator (reminded the day before) to the regional head and the province, one
    escalation row and notification each, every rung once whatever the sweeps."""
    from sqlalchemy import select

    from workflows.models import Escalation as Row
    from workflows.models import Outbox, SlaRecord

    tracking = regency.submit(photo=True)["tracking_number"]
    regency.advance(days=2)  # Wed 4 Mar 09:00: a working day before Thursday's due
    regency.advance(days=1)  # Thu 5 Mar 09:00: missed
    regency.advance(days=2)
    regency.advance(days=10)
    with regency.reads() as session:
        rows = session.execute(select(Row.rung_name, Row.due_at).order_by(Row.id)).all()
        record = session.execute(select(
            SlaRecord.rung, SlaRecord.holder_rung, SlaRecord.reminded_rungs).where(
            SlaRecord.step == "verification")).one()
        reminders = session.scalar(select(Outbox.id).where(
            Outbox.template == "sla_reminder").limit(1))
    assert [name for name, _due in rows] == ["regional_head", "province"]
    assert rows[0][1] == wita(2026, 3, 5, 9).astimezone(UTC)
    assert rows[1][1] == wita(2026, 3, 9, 9).astimezone(UTC)
    assert (record.rung, record.holder_rung) == (PROVINCE, ADMIN)
    assert record.reminded_rungs == [0, 1]
    assert reminders is not None
    assert regency.report(tracking)["sla"]["rung_name"] == "province"
