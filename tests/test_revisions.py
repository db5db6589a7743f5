"""The configuration built once per process (workflows/revisions.py): kept while the table's
revision token is unchanged, rebuilt after any writer's change: another process's ORM write,
hand-written SQL, a change earlier in the same transaction, a PostgreSQL TRUNCATE."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import event, text

from engine.store import Store
from workflows import categories, sla_settings
from workflows.config import RegencyConfig
from workflows.models import CalendarDay
from workflows.workdays import calendar_for

CONFIG = RegencyConfig()
MONDAY = date(2026, 6, 8)  # an ordinary working Monday


class Process:
    """One process's view of the database: its own engine, so its own cache entries."""

    def __init__(self, url: str) -> None:
        self.store = Store(url)
        self.statements: list[str] = []
        event.listen(self.store.db, "before_cursor_execute",
                     lambda _c, _cur, statement, *_a: self.statements.append(statement))

    def calendar(self):
        with self.store.transaction() as session:
            return calendar_for(session, CONFIG)

    def read_calendar_rows(self) -> int:
        return sum("FROM calendar_day" in s for s in self.statements)


def test_the_calendar_is_read_once_and_again_after_another_processs_change(database_url):
    first, second = Process(database_url), Process(database_url)
    try:
        assert first.calendar().is_working_day(MONDAY)
        assert first.calendar() is first.calendar()  # the same object, shared
        assert first.read_calendar_rows() == 1  # later transactions read only the tokens
        with second.store.transaction() as session:  # the administrator, elsewhere
            session.add(CalendarDay(day=MONDAY, kind="day_off", name="Cuti daerah",
                                    created_by="admin"))
        assert not first.calendar().is_working_day(MONDAY)
        assert first.read_calendar_rows() == 2
        with second.store.transaction() as session:  # psql, by hand
            session.execute(text("DELETE FROM calendar_day"))
        assert first.calendar().is_working_day(MONDAY)
    finally:
        first.store.dispose()
        second.store.dispose()


def test_a_change_in_the_same_transaction_is_seen_by_that_transaction(database_url):
    process = Process(database_url)
    try:
        with process.store.transaction() as session:
            assert calendar_for(session, CONFIG).is_working_day(MONDAY)
            session.add(CalendarDay(day=MONDAY, kind="day_off", name="Cuti daerah",
                                    created_by="admin"))
            session.flush()
            assert not calendar_for(session, CONFIG).is_working_day(MONDAY)
    finally:
        process.store.dispose()


def test_settings_and_categories_follow_writes_made_by_hand(database_url):
    first, second = Process(database_url), Process(database_url)
    try:
        with first.store.transaction() as session:
            assert sla_settings.in_force(session, CONFIG).rung_budget_days == \
                CONFIG.rung_budget_days
            assert categories.catalog(session).get("roads").name_id != "Jalan rusak"
        with second.store.transaction() as session:
            session.execute(text(
                "INSERT INTO setting_change (name, value, previous, at, actor) VALUES "
                "('rung_budget_days', '7', NULL, :at, 'psql')"), {"at": datetime(2026, 1, 1)})
            # the old cache compared count(*) and sum(version): this write left both alone
            session.execute(text("UPDATE category SET name_id = 'Jalan rusak' "
                                 "WHERE code = 'roads'"))
        with first.store.transaction() as session:
            assert sla_settings.in_force(session, CONFIG).rung_budget_days == 7.0
            assert categories.catalog(session).get("roads").name_id == "Jalan rusak"
    finally:
        first.store.dispose()
        second.store.dispose()


def test_a_postgresql_truncate_replaces_the_token(postgres_url):
    first, second = Process(postgres_url), Process(postgres_url)
    try:
        with second.store.transaction() as session:
            session.add(CalendarDay(day=MONDAY, kind="day_off", name="Cuti daerah",
                                    created_by="admin"))
        assert not first.calendar().is_working_day(MONDAY)
        with second.store.transaction() as session:
            session.execute(text("TRUNCATE calendar_day"))
        assert first.calendar().is_working_day(MONDAY)
    finally:
        first.store.dispose()
        second.store.dispose()
