"""The read cache (workflows/readcache.py), which only the statistics use now: a cached value
answers only while no write and no passing instant could change it. The pages' counts are
kept elsewhere (tests/test_readcounts.py, tests/test_worklist_counts.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select, text

from workflows import readcache
from workflows.models import STATS_TRIGGER_NAMES, STATS_TRIGGERS, Complaint


def cache_of(regency: Any) -> readcache.ReadCache:
    with regency.reads() as session:
        cache = readcache.read_cache(session)
    assert cache is not None, "the migrated database has the change log's triggers"
    assert cache.usable == {readcache.STATS}
    return cache


def reports(regency: Any, key: Any = ("reports",),
            still_valid: Any = None) -> tuple[int, bool]:
    """The number of reports through the cache, and whether the cache answered."""
    cache = cache_of(regency)
    hits = cache.hits
    with regency.reads() as session:
        found = cache.read(session, key, regency.clock.now(), (readcache.STATS,), lambda: (
            session.scalar(select(func.count()).select_from(Complaint)), still_valid))
    return found, cache.hits > hits


def test_a_value_is_served_until_a_report_changes_whoever_writes(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    assert reports(regency) == (1, False)
    assert reports(regency) == (1, True)
    regency.submit(photo=True)  # the ORM
    assert reports(regency) == (2, False)
    assert reports(regency) == (2, True)
    with regency.engine.store.transaction() as session:  # a hand-written UPDATE
        session.execute(text("UPDATE complaint SET title = 'Judul' WHERE tracking_number = :t"),
                        {"t": tracking})
    assert reports(regency) == (2, False)


def test_a_value_that_depends_on_the_clock_follows_it(regency):
    regency.submit(photo=True)
    edge = regency.clock.now() + timedelta(hours=2)

    def valid(later: Any) -> bool:
        return later < edge

    assert reports(regency, ("clocked",), valid) == (1, False)
    regency.clock.advance(timedelta(hours=1))  # within the tolerance, and still valid
    assert reports(regency, ("clocked",), valid)[1]
    regency.clock.advance(timedelta(hours=1, minutes=30))  # past its own edge
    assert not reports(regency, ("clocked",), valid)[1]
    regency.clock.advance(timedelta(minutes=-30))  # before the moment it was read
    assert not reports(regency, ("clocked",), valid)[1]


def test_nothing_is_cached_without_the_triggers(regency):
    with regency.engine.store.transaction() as session:
        dialect = session.get_bind().dialect.name
        name = STATS_TRIGGER_NAMES[dialect][0]
        session.execute(text(f"DROP TRIGGER {name} ON complaint" if dialect == "postgresql"
                             else f"DROP TRIGGER {name}"))
    try:
        regency.engine.dispose()  # a new pool (as after a restart) asks the database again
        with regency.reads() as session:
            assert readcache.read_cache(session) is None
            calls = []
            for _ in range(2):
                readcache.cached(session, ("k",), regency.clock.now(), (readcache.STATS,),
                                 lambda: (calls.append(1), None))
            assert len(calls) == 2
    finally:  # the PostgreSQL test database is shared by the tests that follow
        with regency.engine.store.transaction() as session:
            found = [s for s in STATS_TRIGGERS[dialect] if f"TRIGGER {name} " in s]
            session.execute(text(found[0]))
        regency.engine.dispose()


def test_a_request_checks_the_log_once_for_the_entries_it_made_together(regency):
    """A read session gives every entry it computes the same mark and asks each log
    question once (readcache.log_mark, changed_since)."""
    regency.submit(photo=True)
    cache = cache_of(regency)

    def request() -> None:
        with regency.reads() as session:
            for key in ("first", "second"):
                cache.read(session, (key,), regency.clock.now(), (readcache.STATS,),
                           lambda: (session.scalar(select(func.count()).select_from(
                               Complaint)), None))

    request()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    hits = cache.hits
    event.listen(regency.engine.store.db, "before_cursor_execute", seen)
    try:
        request()
    finally:
        event.remove(regency.engine.store.db, "before_cursor_execute", seen)
    assert cache.hits == hits + 2
    assert sum("stats_change" in s for s in statements) == 1
