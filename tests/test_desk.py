"""The officers' desk's use cases (workflows/desk.py) on SQLite and PostgreSQL: the
notification centre's reads and writes, internal notes, and giving a task, racing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from workflows import access
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.models import ComplaintEvent, User
from workflows.users import create_user


def principal(regency, username: str) -> access.Principal:
    with regency.reads() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return access.principal_for(session, user)


def disposed(regency, agency: str = "dinas_pupr", **fields) -> str:
    tracking = regency.submit(photo=True, **fields)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code=agency)
    return tracking


def follow_up(regency, tracking: str) -> dict:
    [task] = [t for t in regency.report(tracking)["open_tasks"]
              if t["element_id"] == "follow_up"]
    return task


def test_notifications_count_page_and_mark_read(regency):
    desk = regency.domain.desk
    first = regency.submit(photo=True)["tracking_number"]
    second = regency.submit(photo=True)["tracking_number"]
    admin = principal(regency, "admin.kominfo")
    assert desk.unread_count(admin) == 2
    page = desk.notifications(admin, language="en")
    assert [i["tracking_number"] for i in page["items"]] == [second, first]
    assert page["items"][0]["subject"].startswith("New task: ")
    assert (page["total"], page["unread"], page["pages"]) == (2, 2, 1)
    assert desk.mark_read(admin, page["items"][1]["id"]) is True
    assert desk.mark_read(admin, page["items"][1]["id"]) is False  # already read
    with pytest.raises(NotFound):
        desk.mark_read(principal(regency, "penghubung.pupr"), page["items"][0]["id"])
    with pytest.raises(NotFound):
        desk.mark_read(admin, 0)
    unread = desk.notifications(admin, language="id", unread_only=True)
    assert [i["tracking_number"] for i in unread["items"]] == [second]
    assert unread["items"][0]["subject"].startswith("Tugas baru: ")
    assert desk.mark_all_read(admin) == 1 and desk.unread_count(admin) == 0
    assert desk.notifications(admin)["total"] == 2


def test_notes_are_internal_and_checked(regency):
    desk = regency.domain.desk
    receipt = regency.submit(photo=True)
    tracking = receipt["tracking_number"]
    admin = principal(regency, "admin.kominfo")
    desk.add_note(tracking, "  Sudah ditelepon.  ", admin)
    for text, field in (("   ", "note"), ("x" * 2001, "note"), (5, "note"),
                        ("a\x00b", "note")):
        with pytest.raises(Invalid) as refused:
            desk.add_note(tracking, text, admin)
        assert field in refused.value.field_errors
    with pytest.raises(NotFound):  # not their agency's report: as if it did not exist
        desk.add_note(tracking, "x", principal(regency, "penghubung.dlh"))
    with pytest.raises(NotFound):
        desk.add_note(tracking, "x", access.complainant(tracking))
    with regency.reads() as session:
        [note] = session.execute(select(
            ComplaintEvent.text, ComplaintEvent.public, ComplaintEvent.actor).where(
            ComplaintEvent.kind == "note")).all()
    assert tuple(note) == ("Sudah ditelepon.", False, "admin.kominfo")
    officer = regency.report(tracking)
    assert next(h for h in officer["history"] if h["kind"] == "note")["internal"] is True
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=receipt["secret"])
    assert "note" not in {h["kind"] for h in own["history"]}


def test_escalations_are_in_the_officers_history_only(regency):
    receipt = regency.submit(photo=True, category="street_lights")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    regency.advance(days=7, hours=2)
    escalated = [h for h in regency.report(tracking)["history"] if h["kind"] == "escalated"]
    assert escalated and all(h["internal"] and h["step"] and h["rung"] for h in escalated)
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=receipt["secret"])
    assert "escalated" not in {h["kind"] for h in own["history"]}


def test_a_task_goes_only_to_a_member_and_only_once_when_two_race(regency):
    with regency.transaction() as session:
        for name in ("penghubung2.pupr", "penghubung3.pupr"):
            create_user(session, regency.domain.context.passwords, username=name,
                        full_name=name, roles=["liaison_officer"], agency_code="dinas_pupr",
                        now=regency.clock.now(), password="aduan-demo-2026")
    desk = regency.domain.desk
    tracking = disposed(regency)
    task = follow_up(regency, tracking)
    liaison = principal(regency, "penghubung.pupr")
    assert [c["username"] for c in desk.colleagues(task, liaison)] == [
        "penghubung2.pupr", "penghubung3.pupr"]
    assert desk.colleagues(task, principal(regency, "kadis.pupr")) == []
    with pytest.raises(Forbidden):
        desk.give(task["id"], "penghubung2.pupr", principal(regency, "penghubung.dlh"),
                  expected_assignee=None)
    with pytest.raises(Invalid) as refused:
        desk.give(task["id"], "penghubung.dlh", liaison, expected_assignee=None)
    assert "assignee" in refused.value.field_errors
    with pytest.raises(Conflict):  # as a claim: no open task of that id (any more)
        desk.give("no-such-task", "penghubung2.pupr", liaison, expected_assignee=None)

    results: list[str] = []
    barrier = threading.Barrier(2)

    def give(by: str, to: str) -> None:
        who = principal(regency, by)
        barrier.wait()
        try:
            desk.give(task["id"], to, who, expected_assignee=None)
            results.append(to)
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=give, args=("penghubung.pupr", "penghubung2.pupr")),
               threading.Thread(target=give, args=("penghubung3.pupr", "penghubung.pupr"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == "conflict" and len(results) == 2
    [winner] = [r for r in results if r != "conflict"]
    assert regency.engine.task(task["id"])["assignee"] == winner
    given = [h for h in regency.report(tracking)["history"] if h["kind"] == "task_given"]
    assert [h["text"] for h in given] == [winner] and given[0]["internal"]
    told = regency.domain.desk.notifications(principal(regency, winner))["items"]
    assert told[0]["template"] == "task_given"
