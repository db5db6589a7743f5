"""The administrators' working calendar (workflows/calendar_changes.py, /admin/calendar): a
day off by decree moves the running deadlines and the timers that watch them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from engine.store import HumanTask, Timer
from web.config import Settings
from web.scheduler import Scheduler
from workflows.access import Principal
from workflows.admin_models import AdminAudit
from workflows.errors import Conflict, Forbidden, Invalid
from workflows.models import Outbox, SlaRecord

ADMIN = Principal("admin.kominfo", frozenset({"regency_admin"}))
WEDNESDAY = date(2026, 3, 4)
OLD_DUE = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # Thursday 09:00 WITA: 3 working days
NEW_DUE = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)  # Friday, with Wednesday off


def reminders(regency) -> int:
    with regency.reads() as session:
        return session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.template == "sla_reminder"))


def watch_timer(regency) -> datetime:
    with regency.reads() as session:
        return session.scalars(select(Timer.due_at).where(
            Timer.element_id == "screen_report_watch")).one()


def test_a_day_off_moves_the_deadline_and_the_timer_fires_at_the_new_time(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    changes = regency.domain.calendar_changes
    assert watch_timer(regency) == datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # a day before

    preview = changes.preview(ADMIN, "2026-03-04", "day_off", "SK Bupati 12/2026")
    assert preview.total == 1 and preview.before is None
    move = preview.moves[0]
    assert (move.tracking_number, move.step) == (tracking, "verification")
    assert (move.old_due, move.new_due) == (OLD_DUE, NEW_DUE)
    with regency.reads() as session:  # a preview saves nothing
        assert session.scalars(select(SlaRecord.due_at)).one() == OLD_DUE

    changes.save(ADMIN, WEDNESDAY, "day_off", "SK Bupati 12/2026", expected="")
    with regency.reads() as session:
        assert session.scalars(select(SlaRecord.due_at)).one() == NEW_DUE
        audit = session.execute(select(AdminAudit.action, AdminAudit.target,
                                       AdminAudit.after)).one()
    assert (audit.action, audit.target, audit.after["name"]) == (
        "calendar.day_off", "2026-03-04", "SK Bupati 12/2026")
    assert watch_timer(regency) == datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    assert regency.report(tracking)["sla"]["due_at"].startswith("2026-03-06T09:00")

    scheduler = Scheduler(regency.domain, Settings(database_url="unused"))
    regency.clock.advance(days=2)  # Wed 09:00: the old reminder time, now a day off
    assert scheduler.tick() == 0 and reminders(regency) == 0
    regency.clock.advance(days=1)  # Thu 09:00: a working day before the new deadline
    assert scheduler.tick() == 1 and reminders(regency) >= 1
    assert regency.report(tracking)["sla"]["rung_name"] == "regency_admin"  # not late


def test_undoing_the_change_moves_the_deadline_back(regency):
    regency.submit(photo=True)
    changes = regency.domain.calendar_changes
    changes.save(ADMIN, WEDNESDAY, "day_off", "SK Bupati 12/2026", expected="")
    with pytest.raises(Conflict):  # the form was shown before the change
        changes.save(ADMIN, WEDNESDAY, "", "", expected="")
    undo = changes.preview(ADMIN, WEDNESDAY, "", "")
    assert undo.total == 1 and undo.moves[0].new_due == OLD_DUE
    changes.save(ADMIN, WEDNESDAY, "", "", expected="day_off:SK Bupati 12/2026")
    with regency.reads() as session:
        assert session.scalars(select(SlaRecord.due_at)).one() == OLD_DUE
    assert watch_timer(regency) == datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


def test_a_working_day_declared_on_a_holiday_brings_deadlines_forward(regency):
    regency.clock.advance(days=14)  # Mon 16 Mar; Nyepi is Thu 19 Mar
    regency.submit(photo=True)
    changes = regency.domain.calendar_changes
    preview = changes.preview(ADMIN, "2026-03-19", "working", "SE Sekda 3/2026")
    assert preview.total == 1
    assert preview.moves[0].new_due < preview.moves[0].old_due


def test_bad_changes_are_refused_by_field_and_role(regency):
    changes = regency.domain.calendar_changes
    with pytest.raises(Invalid) as refused:
        changes.preview(ADMIN, "04/03/2026", "holiday", "")
    assert set(refused.value.field_errors) == {"day", "kind", "name"}
    with pytest.raises(Invalid) as refused:
        changes.preview(ADMIN, "2026-03-04", "day_off", "  ")
    assert set(refused.value.field_errors) == {"name"}
    with pytest.raises(Forbidden):
        changes.preview(Principal("sup", frozenset({"supervisor"})), "2026-03-04", "day_off",
                        "x")


# --------------------------------------------------------------------------- the page

OTHERS = ("kadis.kominfo", "penghubung.pupr", "teknis.binamarga", "perancang")


def test_the_calendar_page_is_for_administrators(site):
    for user in ("sysadmin", "admin.kominfo"):
        site.login(user)
        page = site.text(site.get("/admin/calendar?year=2026&month=3"))
        assert 'id="calendar-month"' in page and "Hari Suci Nyepi" in page
        assert 'href="/admin/calendar"' in site.text(site.get("/admin"))
    site.get("/admin/calendar?month=13", expect=422)
    for user in OTHERS:
        site.login(user)
        site.get("/admin/calendar", expect=403)
        site.post("/admin/calendar/preview", {"day": "2026-03-04", "kind": "day_off",
                                              "name": "x"}, expect=403)
        site.post("/admin/calendar/save", {"day": "2026-03-04", "kind": "day_off",
                                           "name": "x"}, expect=403)


def test_preview_then_save_moves_the_deadline_and_a_stale_form_is_refused(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    refused = site.post("/admin/calendar/preview", {"day": "4-3-2026", "kind": "day_off",
                                                    "name": "SK <Bupati>"}, expect=422)
    page = site.text(refused)
    assert 'value="4-3-2026"' in page and "SK &lt;Bupati&gt;" in page
    assert 'id="e-day"' in page
    form = {"day": "2026-03-04", "kind": "day_off", "name": "SK Bupati 12/2026"}
    page = site.text(site.post("/admin/calendar/preview", form, expect=200))
    assert 'id="preview-count"' in page and tracking in page and 'id="calendar-save"' in page
    with site.regency.reads() as session:
        assert session.scalars(select(SlaRecord.due_at)).one() == OLD_DUE
    saved = site.post("/admin/calendar/save", {**form, "expected": ""}, expect=303)
    assert saved.headers["Location"].endswith("/admin/calendar?year=2026&month=3")
    page = site.text(site.get("/admin/calendar?year=2026&month=3"))
    assert "SK Bupati 12/2026" in page and 'id="calendar-changes"' in page
    with site.regency.reads() as session:
        assert session.scalars(select(SlaRecord.due_at)).one() == NEW_DUE
    site.post("/admin/calendar/save", {**form, "name": "Another", "expected": ""},
              expect=409)  # shown before the first save
    undo = site.text(site.post("/admin/calendar/preview", {"day": "2026-03-04", "kind": ""},
                               expect=200))
    assert 'name="expected" value="day_off:SK Bupati 12/2026"' in undo
    audit = site.text(site.get("/admin/audit?action=calendar."))
    assert "2026-03-04" in audit


def test_the_complainants_deadline_timer_moves_with_a_day_off(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Mohon kirim lokasi.")

    def deadline_timer() -> datetime:
        with regency.reads() as session:
            return session.scalars(select(Timer.due_at).where(
                Timer.element_id == "provide_information_deadline")).one()

    old = deadline_timer()  # 10 working days: Mon 16 Mar 09:00 WITA
    assert old == datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
    changes = regency.domain.calendar_changes
    preview = changes.preview(ADMIN, "2026-03-10", "day_off", "SK Bupati 13/2026")
    assert [m.step for m in preview.moves] == ["info_request"]  # verification is paused
    changes.save(ADMIN, "2026-03-10", "day_off", "SK Bupati 13/2026", expected="")
    assert deadline_timer() == datetime(2026, 3, 17, 1, 0, tzinfo=UTC)
    assert regency.report(tracking)["sla"]["due_at"].startswith("2026-03-17T09:00")
    with regency.reads() as session:  # the citizen's task shows the new due date too
        assert session.scalars(select(HumanTask.due_at).where(
            HumanTask.element_id == "provide_information")).one() == datetime(
            2026, 3, 17, 1, 0, tzinfo=UTC)
    regency.advance(days=14)  # Mon 16 Mar 09:00: the old deadline, the citizen still has a day
    assert regency.report(tracking)["status"] == "NEEDS_INFO"
    regency.advance(days=1)  # Tue 17 Mar 09:00: the window ran out
    assert regency.report(tracking)["status"] == "ARCHIVED"


def test_what_a_save_leaves_to_move_the_schedulers_calendar_job_moves(regency, monkeypatch):
    from workflows import calendar_changes

    monkeypatch.setattr(calendar_changes, "SAVE_BATCH", 1)
    for _ in range(3):
        regency.submit(photo=True)
    impact = regency.domain.calendar_changes.save(ADMIN, WEDNESDAY, "day_off", "SK",
                                                  expected="")
    assert (impact.total, impact.left) == (3, 2)
    with regency.reads() as session:
        assert sorted(session.scalars(select(SlaRecord.due_at))) == [OLD_DUE, OLD_DUE, NEW_DUE]
    assert Scheduler(regency.domain, Settings(database_url="unused")).calendar() == 2
    with regency.reads() as session:
        assert set(session.scalars(select(SlaRecord.due_at))) == {NEW_DUE}
        assert set(session.scalars(select(Timer.due_at))) == {
            datetime(2026, 3, 5, 1, 0, tzinfo=UTC)}
    assert regency.domain.calendar_changes.out_of_step() == []
