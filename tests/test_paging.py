"""Large lists in pages: the worklist (50 rows and a count), the board's cases and inbox."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.pages import Site
from workflows import access, board, escalations, worklist
from workflows.models import User


def principal_of(regency, username: str) -> access.Principal:
    with regency.reads() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return access.principal_for(session, user)


def reports(regency, count: int) -> list[str]:
    """`count` reports awaiting verification, each received an hour after the one before
    (so each has a later deadline)."""
    made = []
    for i in range(count):
        made.append(regency.submit(photo=True, title=f"Jalan rusak nomor {i}")[
            "tracking_number"])
        regency.clock.advance(timedelta(hours=1))
    return made


def shown(page: str) -> list[str]:
    return re.findall(r'data-tracking="([^"]+)"', page)


def test_the_worklist_shows_a_page_of_tasks_with_the_count_and_links(site, monkeypatch):
    from web.pages import staff

    monkeypatch.setattr(staff, "WORKLIST_PAGE_SIZE", 2)
    made = reports(site.regency, 5)
    site.login("admin.kominfo")
    first = site.text(site.get("/tasks"))
    assert shown(first) == made[:2]  # the nearest deadlines first
    assert "1–2 dari 5 tugas yang cocok; 5 tugas terbuka di kelompok Anda." in first
    assert 'href="/tasks?page=2"' in first and 'href="/tasks?page=3"' in first
    assert shown(site.text(site.get("/tasks?page=2"))) == made[2:4]
    last = site.text(site.get("/tasks?page=3"))
    assert shown(last) == made[4:]
    assert "1 dari 5 tugas terbuka kelompok Anda" not in last
    assert shown(site.text(site.get("/tasks?page=3&sort=newest"))) == made[:1]
    filtered = site.text(site.get(f"/tasks?q={made[3][-6:]}"))
    assert shown(filtered) == [made[3]] and 'id="worklist-pages"' not in filtered
    for odd in ("/tasks?page=0", "/tasks?page=x", "/tasks?page=99999999"):
        site.get(odd)  # a page out of range is a page, never an error


def test_reading_deadlines_in_order_gives_the_ranked_order(regency, monkeypatch):
    made = reports(regency, 4)
    regency.act(made[1], "verify", as_="admin.kominfo")  # a disposition: the same deadline
    admin = principal_of(regency, "admin.kominfo")
    with regency.reads() as session:
        ranked = worklist.worklist_page(session, admin, regency.domain.config,
                                     regency.clock.now(), limit=3, offset=1)
        monkeypatch.setattr(worklist, "WALK_FROM", 0)  # every worklist is "large"
        walked = worklist.worklist_page(session, admin, regency.domain.config,
                                     regency.clock.now(), limit=3, offset=1)
    assert [r["tracking_number"] for r in walked["rows"]] == made[1:]
    assert walked == ranked
    assert ranked["counts"] == {"all": 4, "mine": 0, "unclaimed": 4, "": 4}
    assert ranked["kinds"] == ["dispose_report", "screen_report"]


def test_the_board_lists_the_nearest_cases_and_pages_its_inbox(site, monkeypatch):
    from web.pages import supervision

    regency = site.regency
    made = reports(regency, 4)
    regency.advance(days=7)  # all four late: the verification deadline was 3 working days
    sekda = principal_of(regency, "sekda")
    now = regency.clock.now()
    with regency.reads() as session:
        found = board.sla_board(session, sekda, regency.domain.config, now, limit=2)
        assert [c["tracking_number"] for c in found["cases"]] == made[:2]
        assert found["cases_total"] == 4 and found["totals"]["total"]["overdue"] == 4
        rest = escalations.list_escalations(session, sekda, now, limit=2, offset=2)
        assert escalations.count_escalations(session, sekda, now) == len(
            escalations.list_escalations(session, sekda, now))
    monkeypatch.setattr(supervision, "INBOX_PAGE_SIZE", 2)
    page = Site(regency).login("sekda")
    second = page.text(page.get("/board?inbox_page=2"))
    assert f'id="escalation-{rest[0]["id"]}"' in second
    assert 'href="/board?inbox_page=1#inbox"' in second


def test_lists_read_neither_report_bodies_nor_deadline_pauses(regency):
    """A list row shows a report's title and its deadline: the worklist and the list API
    read no report body, description or deadline pauses (documents.LISTED_COLUMNS,
    deadlines.DEADLINE_COLUMNS), whichever page of them."""
    from sqlalchemy import event

    reports(regency, 3)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(regency.engine.store.db, "before_cursor_execute", seen)
    try:
        listed = regency.get("/api/v1/complaints", as_="admin.kominfo")
        worklist = regency.domain.tasks.worklist_page(principal_of(regency, "admin.kominfo"))
    finally:
        event.remove(regency.engine.store.db, "before_cursor_execute", seen)
    assert len(listed["items"]) == 3 and listed["items"][0]["working_days_left"] is not None
    assert len(worklist["rows"]) == 3 and worklist["rows"][0]["working_days_left"] is not None
    read = "\n".join(statements)
    assert "complaint.body" not in read and "sla_record.pauses" not in read, [
        s for s in statements if "complaint.body" in s or "sla_record.pauses" in s]
