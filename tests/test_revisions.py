"""The configuration built once per process (workflows/revisions.py): kept while the table's
revision token is unchanged, rebuilt after any writer's change: another process's ORM write,
hand-written SQL, a change earlier in the same transaction, a PostgreSQL TRUNCATE."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import event, literal, select, text

from engine.store import Store
from workflows import categories, notify, revisions, sla_settings
from workflows import groups as task_groups
from workflows.config import RegencyConfig
from workflows.models import Agency, CalendarDay, User
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


def test_tokens_carried_by_a_read_are_not_kept_over_the_sessions_unwritten_change(
        database_url):
    """A read carrying the tokens (`token_columns`, as a timer firing's first read does,
    without autoflush) does not seed them into a session holding an unwritten calendar row:
    `tokens` writes the row first (its trigger replaces the token) and reads them then."""
    process = Process(database_url)
    try:
        with process.store.transaction() as session:
            assert calendar_for(session, CONFIG).is_working_day(MONDAY)
        with process.store.transaction() as session:
            session.add(CalendarDay(day=MONDAY, kind="day_off", name="Cuti daerah",
                                    created_by="admin"))
            with session.no_autoflush:  # as the firing's read (workflows/operation.reading)
                row = session.execute(select(literal(1), *revisions.token_columns())).one()
            revisions.seed(session, row)
            assert not calendar_for(session, CONFIG).is_working_day(MONDAY)
    finally:
        process.store.dispose()


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


def _supervisors(process: Process) -> set[str]:
    with process.store.transaction() as session:
        return {r.username for r in notify.users_with(session, "supervisor", None)}


def _officer(username: str, roles: list[str]) -> User:
    return User(username=username, full_name=username.title(), roles=roles, language="id",
                active=True, created_at=datetime(2026, 6, 8, 1, 0, tzinfo=UTC))


def test_the_officers_to_notify_follow_every_account_change(database_url):
    """workflows/recipients.py: read once per process, again after any writer's change to
    an account (migration 0034's token): added elsewhere, deactivated by hand-written SQL,
    added earlier in the same transaction."""
    first, second = Process(database_url), Process(database_url)
    try:
        before = _supervisors(first)
        assert "pengawas_baru" not in before
        reads = sum("FROM app_user" in s for s in first.statements)
        assert _supervisors(first) == before
        assert sum("FROM app_user" in s for s in first.statements) == reads  # kept
        with second.store.transaction() as session:
            session.add(_officer("pengawas_baru", ["supervisor"]))
            session.add(_officer("petugas_baru", ["technical_officer"]))
        assert _supervisors(first) == before | {"pengawas_baru"}
        with second.store.transaction() as session:
            session.execute(text("UPDATE app_user SET active = false "
                                 "WHERE username = 'pengawas_baru'"))
        assert _supervisors(first) == before
        with first.store.transaction() as session:
            session.add(_officer("pengawas_lain", ["supervisor", "liaison_officer"]))
            session.flush()
            found = notify.users_with(session, "supervisor", None)
            assert "pengawas_lain" in {r.username for r in found}
            session.rollback()
        assert _supervisors(first) == before  # what was rolled back is not kept
    finally:
        first.store.dispose()
        second.store.dispose()


def test_officers_are_chosen_by_role_and_agency(database_url):
    process = Process(database_url)
    try:
        with process.store.transaction() as session:
            agency = Agency(code="DPUPR-X", name="Dinas PUPR", kind="opd", active=True)
            session.add(agency)
            session.flush()
            other = _officer("penghubung_x", ["liaison_officer", "technical_officer"])
            other.agency_id = agency.id
            session.add(other)
        with process.store.transaction() as session:
            assert "penghubung_x" in {
                r.username for r in notify.users_with(session, "liaison_officer", [agency.id])}
            assert "penghubung_x" not in {
                r.username for r in notify.users_with(session, "supervisor", [agency.id])}
            assert notify.users_with(session, "liaison_officer", []) == []
            found = notify.users_for_groups(
                session, [task_groups.group(task_groups.TECHNICAL_UNIT, agency.code)])
            assert [r.username for r in found if r.username == "penghubung_x"] == \
                ["penghubung_x"]
            entry = next(r for r in found if r.username == "penghubung_x")
            assert entry.roles == ("liaison_officer", "technical_officer")
    finally:
        process.store.dispose()


def test_a_pages_reading_of_its_officer_brings_the_tokens_along(database_url):
    """Every page first reads its signed-in officer (workflows/sessions.user_of); the
    configuration's tokens come with that row, so the page's configuration costs no
    statement of its own, and a change made elsewhere is seen by the next page."""
    from datetime import timedelta

    from workflows import sessions

    process, admin = Process(database_url), Process(database_url)
    now = datetime(2026, 6, 8, 9, tzinfo=UTC)
    try:
        with process.store.transaction() as session:
            session.add(_officer("petugas.tokens", ["regency_admin"]))
            session.flush()
            user_id = session.query(User.id).filter_by(username="petugas.tokens").scalar()
            cookie = sessions.start(session, user_id, "127.0.0.1", now)

        def page() -> tuple[bool, list[str]]:
            process.statements.clear()
            with process.store.read() as session:
                assert sessions.user_of(session, cookie, now - timedelta(hours=1)) is not None
                working = calendar_for(session, CONFIG).is_working_day(MONDAY)
            return working, [s for s in process.statements if "config_revision" in s]

        assert page()[0]
        working, asked = page()  # the calendar kept; the tokens read with the officer
        assert working and len(asked) == 1 and "app_user" in asked[0]
        with admin.store.transaction() as session:
            session.add(CalendarDay(day=MONDAY, kind="day_off", name="Cuti daerah",
                                    created_by="admin"))
        working, asked = page()
        assert not working and len(asked) == 1
    finally:
        process.store.dispose()
        admin.store.dispose()
