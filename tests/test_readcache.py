"""The read cache of the officers' and supervisors' pages (workflows/readcache.py): a cached
count or ranking answers only while no write and no passing deadline could change it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from engine.store import TASK_TRIGGER_NAMES, TASK_TRIGGERS
from tests.test_staff_use_cases import open_task, principal_of
from workflows import board, escalations, readcache, worklist
from workflows.models import Complaint


def cache_of(regency: Any) -> readcache.ReadCache:
    with regency.reads() as session:
        cache = readcache.read_cache(session)
    assert cache is not None, "the migrated database has the change logs' triggers"
    assert cache.usable == {readcache.STATS, readcache.TASKS}
    return cache


def served(regency: Any, read: Any) -> tuple[Any, bool]:
    """What `read()` returns, and whether the cache answered it."""
    cache = cache_of(regency)
    hits = cache.hits
    result = read()
    return result, cache.hits > hits


def test_a_worklist_is_served_from_the_cache_until_a_task_changes_whoever_writes(regency):
    first = regency.submit(photo=True)["tracking_number"]
    regency.submit(photo=True)
    admin = principal_of(regency, "admin.kominfo")

    def worklist() -> dict[str, Any]:
        return regency.domain.tasks.worklist_page(admin)

    page, hit = served(regency, worklist)
    assert not hit and page["counts"]["unclaimed"] == 2 and page["matching"] == 2
    again, hit = served(regency, worklist)
    assert hit and again == page

    # a claim through the engine (the ORM)
    task = open_task(regency, first)
    regency.domain.tasks.claim(task["id"], admin)
    page, hit = served(regency, worklist)
    assert not hit and (page["counts"]["mine"], page["counts"]["unclaimed"]) == (1, 1)
    assert served(regency, worklist)[1]
    # a hand-written UPDATE of the task
    with regency.engine.store.transaction() as session:
        session.execute(text("UPDATE human_task SET assignee = NULL"))
    page, hit = served(regency, worklist)
    assert not hit and page["counts"]["unclaimed"] == 2
    # a new report (an INSERT of a task and its group)
    regency.submit(photo=True)
    page, hit = served(regency, worklist)
    assert not hit and page["matching"] == 3 and len(page["rows"]) == 3
    # a task done: the report moves on to disposition, same count, another task type
    regency.act(first, "verify", as_="admin.kominfo")
    page, hit = served(regency, worklist)
    assert not hit and sorted(page["kinds"]) == ["dispose_report", "screen_report"]
    # another user's worklist is its own entry
    liaison = principal_of(regency, "penghubung.pupr")
    assert regency.domain.tasks.worklist_page(liaison)["matching"] == 0


def test_the_rows_of_a_cached_page_are_read_afresh(regency):
    tracking = regency.submit(photo=True, title="Jalan rusak")["tracking_number"]
    admin = principal_of(regency, "admin.kominfo")
    page = regency.domain.tasks.worklist_page(admin)
    days = page["rows"][0]["working_days_left"]
    # the clock moves (no write): the same cached ranking, the deadline's days left anew
    regency.clock.advance(timedelta(days=1))
    page, hit = served(regency, lambda: regency.domain.tasks.worklist_page(admin))
    assert hit and page["rows"][0]["working_days_left"] < days
    # a report's title changes: the rows show it (the ranking does not depend on it)
    with regency.engine.store.transaction() as session:
        session.execute(text("UPDATE complaint SET title = 'Jalan amblas' "
                             "WHERE tracking_number = :t"), {"t": tracking})
    assert regency.domain.tasks.worklist_page(admin)["rows"][0]["report_title"] == "Jalan amblas"


def test_the_late_filter_follows_the_clock_without_any_write(regency):
    regency.submit(photo=True)  # verification: 3 working days
    admin = principal_of(regency, "admin.kominfo")

    def late() -> dict[str, Any]:
        return regency.domain.tasks.worklist_page(admin, overdue=True)

    assert late()["matching"] == 0
    assert served(regency, late)[1]
    regency.clock.advance(timedelta(days=4))  # Monday 09:00 -> Friday: past the deadline
    page, hit = served(regency, late)
    assert not hit and page["matching"] == 1


def test_the_list_apis_total_follows_the_clock_and_the_writes(regency):
    regency.submit(photo=True)
    admin = principal_of(regency, "admin.kominfo")

    def late() -> dict[str, Any]:
        return regency.domain.reports.list(admin, overdue=True)

    assert late()["total"] == 0
    assert served(regency, late)[1]
    regency.clock.advance(timedelta(days=4))
    listed, hit = served(regency, late)
    assert not hit and listed["total"] == 1
    regency.submit(photo=True)
    everything, hit = served(regency, lambda: regency.domain.reports.list(admin))
    assert not hit and everything["total"] == 2
    with regency.reads() as session:
        newest = session.scalar(select(Complaint.tracking_number).order_by(
            Complaint.id.desc()))
    assert everything["items"][0]["tracking_number"] == newest


def test_nothing_is_cached_without_the_triggers(regency):
    with regency.engine.store.transaction() as session:
        dialect = session.get_bind().dialect.name
        name = TASK_TRIGGER_NAMES[dialect][0]
        session.execute(text(f"DROP TRIGGER {name} ON human_task" if dialect == "postgresql"
                             else f"DROP TRIGGER {name}"))
    try:
        # a new pool (as after a restart) asks the database again
        regency.engine.dispose()
        with regency.reads() as session:
            cache = readcache.read_cache(session)
            assert cache is not None and cache.usable == {readcache.STATS}
            admin = principal_of(regency, "admin.kominfo")
            hits = cache.hits
            for _ in range(2):
                worklist.worklist_page(session, admin, regency.domain.config,
                                    regency.clock.now())
            assert cache.hits == hits  # the worklist needs the task log: read every time
    finally:  # the PostgreSQL test database is shared by the tests that follow
        with regency.engine.store.transaction() as session:
            session.execute(text(next(s for s in TASK_TRIGGERS[dialect]
                                      if f"TRIGGER {name} " in s)))
        regency.engine.dispose()


def test_a_request_checks_the_log_once_for_the_entries_it_made_together(regency):
    """A read session gives every entry it computes the same mark, and asks each log
    question once (readcache.log_mark, changed_since): the inbox's total and its page, made
    in one board request, are checked with one query in the next (the board's counts are
    kept by workflows/readcounts.py: tests/test_readcounts.py)."""
    from sqlalchemy import event

    regency.submit(photo=True)
    regency.advance(days=8)  # late and escalated: the inbox has it
    admin = principal_of(regency, "admin.kominfo")

    def board_request() -> None:
        with regency.reads() as session:
            board.sla_board(session, admin, regency.domain.config,
                                  regency.clock.now())
            escalations.count_escalations(session, admin, regency.clock.now())
            assert escalations.list_escalations(session, admin, regency.clock.now(), limit=25)

    board_request()  # computes the two entries at one mark
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(regency.engine.store.db, "before_cursor_execute", seen)
    try:
        hits = cache_of(regency).hits
        board_request()
    finally:
        event.remove(regency.engine.store.db, "before_cursor_execute", seen)
    assert cache_of(regency).hits == hits + 2
    assert sum("stats_change" in s for s in statements) == 1
