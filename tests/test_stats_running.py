"""The statistics' copy of the running steps (`stats_running`, migration 0038) stays equal to
a recount from the SLA records and complaints after every kind of write, on SQLite and
PostgreSQL; the steps overdue now read from it (workflows/stats/running.py) are what the
SLA records say (facts.running_late, the oracle), at every moment around the due times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import create_engine, or_, select, text

import migrations
from engine import FrozenClock
from tests.lock_waits import second_waits_for_first
from tests.regency import build
from workflows import stats
from workflows.config import RegencyConfig
from workflows.models import Complaint, SlaRecord
from workflows.sla import CITIZEN_STEPS
from workflows.stats import queries
from workflows.stats.facts import running_late
from workflows.stats.running import running_now, running_usable
from workflows.stats_running_models import StatsRunning

WITA = ZoneInfo("Asia/Makassar")


def table_rows(session: Any) -> dict[int, tuple]:
    """``stats_running`` by SLA record id."""
    return {r.sla_id: (r.complaint_id, r.received_at, r.step, r.due_at, r.agency_id,
                       r.unit_id, r.classification, bool(r.misconduct), bool(r.unanswered),
                       bool(r.first_of_step), bool(r.first_of_report))
            for r in session.scalars(select(StatsRunning))}


def recount(session: Any) -> dict[int, tuple]:
    """The same from scratch in Python, from the SLA records and complaints."""
    complaints = {c.id: c for c in session.scalars(select(Complaint))}
    records = session.scalars(select(SlaRecord)).all()
    breached = {r.complaint_id for r in records
                if r.step == "follow_up" and r.state == "breached"}
    running = [r for r in records if r.state == "running" and r.step not in CITIZEN_STEPS]

    def order(r: SlaRecord) -> tuple:
        return (r.due_at is None, r.due_at or datetime.min.replace(tzinfo=UTC), r.id)

    first_of_step = {min((x for x in running if (x.complaint_id, x.step)
                          == (r.complaint_id, r.step)), key=order).id for r in running}
    first_of_report = {min((x for x in running if x.complaint_id == r.complaint_id),
                           key=order).id for r in running}
    found = {}
    for r in running:
        c = complaints[r.complaint_id]
        unanswered = (c.disposed_at is not None and c.first_answer_at is None
                      and c.id not in breached)
        found[r.id] = (c.id, c.created_at, r.step, r.due_at, c.agency_id, c.unit_id,
                       c.classification, bool(c.misconduct), unanswered,
                       r.id in first_of_step, r.id in first_of_report)
    return found


def _normal(late: Any) -> tuple:
    return (sorted(late.steps, key=repr), sorted(late.agencies, key=repr),
            None if late.next_due is None else late.next_due.astimezone(UTC))


def late_both_ways(session: Any, first: datetime, after: datetime,
                   scope: stats.Scope, now: datetime) -> tuple[tuple, tuple]:
    """The steps overdue at ``now`` from the table, then from the SLA records."""
    where = [Complaint.created_at >= first, Complaint.created_at < after]
    if scope.agency_ids is not None:
        ids_ = sorted(scope.agency_ids)
        where.append(or_(Complaint.agency_id.in_(ids_), Complaint.unit_id.in_(ids_)))
    sla_where = [SlaRecord.complaint_created_at >= first,
                 SlaRecord.complaint_created_at < after]
    return (_normal(running_now(session, first, after, scope, now)),
            _normal(running_late(session, where, sla_where, now)))


def check(regency: Any, step: str) -> int:
    """The table equals the recount; the overdue steps read from it equal the oracle's for
    two periods, the regency and one agency, at now and at every due time (just before,
    at, just after). Returns how many records are overdue now in 2026."""
    now = regency.clock.now()
    with regency.engine.store.read() as session:
        assert running_usable(session)
        rows = table_rows(session)
        assert rows == recount(session), step
        agencies = dict(session.execute(text("SELECT code, id FROM agency")).all())
        dues = sorted({row[3] for row in rows.values() if row[3] is not None})
        moments = {now, *(d + delta for d in dues
                          for delta in (-timedelta(microseconds=1), timedelta(0),
                                        timedelta(microseconds=1)))}
        periods = [(datetime(2025, 12, 31, 16, tzinfo=UTC), datetime(2026, 12, 31, 16,
                                                                      tzinfo=UTC)),
                   (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 3, 2, 2, tzinfo=UTC))]
        scopes = [stats.Scope(), stats.Scope(frozenset({agencies["dinas_pupr"]})),
                  stats.Scope(frozenset())]
        for first, after in periods:
            for scope in scopes:
                for moment in sorted(moments):
                    table, oracle = late_both_ways(session, first, after, scope, moment)
                    assert table == oracle, (step, first, scope, moment)
        table, _ = late_both_ways(session, *periods[0], scopes[0], now)
    return sum(records for *_, records, _ in table[0])


def figures_match(regency: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> dict:
    """The whole figures of 2026 with the table, then counted from the SLA records."""
    now, period = regency.clock.now(), stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026)
    with regency.engine.store.read() as session:
        from_table = stats.compute(session, RegencyConfig(), period, now, cache=False)
    with monkeypatch.context() as patch:
        patch.setattr(queries, "running_usable", lambda session: False)
        with regency.engine.store.read() as session:
            counted = stats.compute(session, RegencyConfig(), period, now, cache=False)
    assert from_table == counted, step
    return from_table


def insert_record(session: Any, complaint_id: int, step: str, state: str,
                  due: datetime | None) -> int:
    return session.scalar(text(
        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
        "due_at, pauses, state, rung, reminded_rungs) VALUES (:c, :s, 5, 0, :at, :due, '[]', "
        ":st, 0, '[]') RETURNING id"),
        {"c": complaint_id, "s": step, "st": state, "due": due,
         "at": datetime(2026, 3, 2, 1, 0, tzinfo=UTC)})


def test_the_running_steps_equal_a_recount_after_every_write(database_url, tmp_path,
                                                             monkeypatch):
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 WITA
    regency = build(database_url, clock, tmp_path)
    postgres = regency.engine.store.postgres
    try:
        assert check(regency, "the demo regency, before any report") == 0
        lamp = regency.submit(photo=True, category="street_lights")
        pothole = regency.submit(photo=True)
        clinic = regency.submit(category="health", title="Antrean Puskesmas panjang",
                                body="Antrean di Puskesmas Waru sampai siang hari.")
        check(regency, "filed: verification running")
        for receipt in (lamp, pothole, clinic):
            regency.act(receipt["tracking_number"], "verify", as_="admin.kominfo")
        regency.act(lamp["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dishub")
        regency.act(pothole["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")
        regency.act(clinic["tracking_number"], "request_info", as_="admin.kominfo",
                    reason="Puskesmas yang mana?")
        check(regency, "dispositioned, information asked (a citizen's window)")
        clock.advance(timedelta(days=7, hours=2))  # no sweep: the records still run
        assert check(regency, "past due, before the sweep") > 0
        figures = figures_match(regency, monkeypatch, "past due, before the sweep")
        assert figures["overdue"]["total"] > 0
        regency.advance(hours=1)  # the sweep: escalations
        check(regency, "swept")
        regency.act(pothole["tracking_number"], "respond", as_="penghubung.pupr",
                    answer="Sudah ditambal.")
        check(regency, "answered")
        regency.act(lamp["tracking_number"], "reassign", as_="admin.kominfo",
                    agency_code="dinas_pupr", reason="Jalan kabupaten")
        check(regency, "reassigned to another agency")
        with regency.engine.store.transaction() as session:
            ids = dict(session.execute(text(
                "SELECT tracking_number, id FROM complaint")).all())
        lamp_id, pothole_id, clinic_id = (ids[r["tracking_number"]]
                                          for r in (lamp, pothole, clinic))
        due = datetime(2026, 3, 20, 1, 0, tzinfo=UTC)
        with regency.engine.store.transaction() as session:
            # running records of one step (the report has no other): two with the same due
            # time (the lower id comes first), one without a due time; another report's
            # second step
            extra = [insert_record(session, clinic_id, "follow_up", "running", due),
                     insert_record(session, clinic_id, "follow_up", "running", due),
                     insert_record(session, clinic_id, "follow_up", "running", None),
                     insert_record(session, lamp_id, "resolution", "running",
                                   due - timedelta(days=20))]
        check(regency, "several running records of one step")
        with regency.engine.store.transaction() as session:
            session.execute(text("UPDATE sla_record SET due_at = :d WHERE id = :id"),
                            {"d": due - timedelta(days=30), "id": extra[2]})
        check(regency, "a due time moved first")
        with regency.engine.store.transaction() as session:
            insert_record(session, lamp_id, "follow_up", "breached", due)
        check(regency, "a breached follow-up: no longer unanswered-late")
        with regency.engine.store.transaction() as session:
            # one statement changing several records of one report
            session.execute(text("UPDATE sla_record SET state = 'paused' WHERE "
                                 "complaint_id IN (:c, :l) AND step = 'follow_up' AND "
                                 "state = 'running'"), {"c": clinic_id, "l": lamp_id})
        check(regency, "bulk pause of one report's records")
        with regency.engine.store.transaction() as session:
            session.execute(text("UPDATE sla_record SET state = 'running' WHERE "
                                 "state = 'paused'"))
            session.execute(text("UPDATE sla_record SET complaint_id = :p WHERE id = :id"),
                            {"p": pothole_id, "id": extra[0]})
        check(regency, "resumed, and a record moved to another report")
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE complaint SET classification = 'aspirasi', misconduct = :t, "
                "first_answer_at = NULL, created_at = :at WHERE id = :c"),
                {"t": True, "at": datetime(2025, 12, 31, 15, 59, tzinfo=UTC), "c": pothole_id})
            session.execute(text("UPDATE complaint SET agency_id = NULL, unit_id = NULL "
                                 "WHERE id = :c"), {"c": clinic_id})
            session.execute(text("UPDATE complaint SET title = 'Judul baru'"))
        check(regency, "a report's keys changed, then a column the table does not read")
        figures_match(regency, monkeypatch, "keys changed")
        with pytest.raises(RuntimeError), regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM escalation"))
            session.execute(text("DELETE FROM sla_record WHERE state = 'running'"))
            raise RuntimeError("rolled back")
        check(regency, "rolled back")
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM sla_record WHERE id IN (:a, :b)"),
                            {"a": extra[1], "b": extra[3]})
            session.execute(text("UPDATE sla_record SET state = 'met' WHERE complaint_id = :c "
                                 "AND step = 'follow_up' AND state = 'breached'"),
                            {"c": lamp_id})
        check(regency, "deleted, and the breached follow-up met after all")
        figures_match(regency, monkeypatch, "deleted")
        if postgres:  # TRUNCATE fills the table again from what is left
            with regency.engine.store.transaction() as session:
                session.execute(text("TRUNCATE escalation, sla_record"))
            assert check(regency, "SLA records truncated") == 0
        regency.advance(days=3)
        third = regency.submit(photo=True, category="waste", channel="sms")
        regency.act(third["tracking_number"], "verify", as_="admin.kominfo")
        check(regency, "filed and verified at the end")
        figures_match(regency, monkeypatch, "at the end")
    finally:
        regency.engine.dispose()


def test_postgres_two_writers_of_one_reports_records_recompute_one_after_the_other(
        postgres_url):
    """One transaction breaches a report's follow-up (its running rows stop counting as
    unanswered) while another adds a running record to the same report: the second waits
    for the first (the report's lock), then recomputes from its committed rows, so both
    commit and the table equals a recount."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    try:
        with db.begin() as connection:
            complaint_id = connection.execute(text(
                "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                "misconduct, category, severity, title, body, anonymous, confidential, "
                "channel, language, status, created_at, updated_at, disposed_at, version) "
                "VALUES ('PPU-A', 'x', 'pengaduan', false, 'roads', 'medium', 'Laporan', "
                "'Isi', false, false, 'web', 'id', 'DISPOSED', :at, :at, :at, 1) "
                "RETURNING id"), {"at": at}).scalar()
            follow_up = insert_record(connection, complaint_id, "follow_up", "running", at)
            insert_record(connection, complaint_id, "resolution", "running", at)
        second_waits_for_first(
            db, lambda first: first.execute(text(
                "UPDATE sla_record SET state = 'breached' WHERE id = :id"), {"id": follow_up}),
            lambda second: insert_record(second, complaint_id, "resolution", "running",
                                         at - timedelta(days=1)))
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT step, unanswered, first_of_step, first_of_report, due_at "
                "FROM stats_running ORDER BY sla_id")).all()
        assert [tuple(r[:4]) for r in rows] == [("resolution", False, False, False),
                                                ("resolution", False, True, True)]
    finally:
        db.dispose()


def test_postgres_two_writers_moving_due_times_of_one_report_both_commit(postgres_url):
    """Two transactions each move the due time of another running record of the same report
    (a write migration 0035's triggers do not watch): the second waits for the first at the
    report's lock taken by this table's trigger, then recomputes from the committed rows
    (without the lock its DELETE would miss the first's new rows and its INSERT collide)."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    move = text("UPDATE sla_record SET due_at = :d WHERE id = :id")
    try:
        with db.begin() as connection:
            complaint_id = connection.execute(text(
                "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                "misconduct, category, severity, title, body, anonymous, confidential, "
                "channel, language, status, created_at, updated_at, version) VALUES "
                "('PPU-A', 'x', 'pengaduan', false, 'roads', 'medium', 'Laporan', 'Isi', "
                "false, false, 'web', 'id', 'DISPOSED', :at, :at, 1) RETURNING id"),
                {"at": at}).scalar()
            first_id = insert_record(connection, complaint_id, "follow_up", "running", at)
            second_id = insert_record(connection, complaint_id, "resolution", "running", at)
        second_waits_for_first(
            db, lambda first: first.execute(move, {"d": at - timedelta(days=1), "id": first_id}),
            lambda second: second.execute(move, {"d": at - timedelta(days=2),
                                                 "id": second_id}))
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT sla_id, due_at, first_of_step, first_of_report FROM stats_running "
                "ORDER BY sla_id")).all()
        assert [tuple(r) for r in rows] == [
            (first_id, at - timedelta(days=1), True, False),
            (second_id, at - timedelta(days=2), True, True)]
    finally:
        db.dispose()


def test_migration_0038_backfills_the_table_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0038_stats_fact_rows")
    db = create_engine(url)
    try:
        with db.begin() as connection:
            connection.execute(text(
                "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                "misconduct, category, severity, title, body, anonymous, confidential, "
                "channel, language, status, created_at, updated_at, disposed_at, version) "
                "VALUES ('PPU-1', 'x', 'aspirasi', 1, 'roads', 'medium', 'L', 'I', 0, 0, "
                "'web', 'id', 'DISPOSED', '2026-03-01 16:00:00.000000', "
                "'2026-03-01 16:00:00.000000', '2026-03-02 01:00:00.000000', 1)"))
            for step, state, due in (("verification", "met", "2026-03-04 01:00:00.000000"),
                                     ("follow_up", "running", "2026-03-09 01:00:00.000000"),
                                     ("resolution", "running", "2026-03-20 01:00:00.000000"),
                                     ("resolution", "running", None),
                                     ("info_request", "running", "2026-03-03 01:00:00.000000")):
                connection.execute(text(
                    "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, "
                    "started_at, due_at, pauses, state, rung, reminded_rungs) VALUES (1, :s, "
                    "3, 0, '2026-03-02 01:00:00.000000', :d, '[]', :st, 0, '[]')"),
                    {"s": step, "st": state, "d": due})
        migrations.upgrade(url)
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT sla_id, step, due_at, unanswered, first_of_step, first_of_report, "
                "misconduct, classification FROM stats_running ORDER BY sla_id")).all()
        assert [tuple(r) for r in rows] == [
            (2, "follow_up", "2026-03-09 01:00:00.000000", 1, 1, 1, 1, "aspirasi"),
            (3, "resolution", "2026-03-20 01:00:00.000000", 1, 1, 0, 1, "aspirasi"),
            (4, "resolution", None, 1, 0, 0, 1, "aspirasi")]
        command.downgrade(migrations.alembic_config(url), "0038_stats_fact_rows")
        with db.connect() as connection:
            names = {r[0] for r in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"))}
        assert not {n for n in names if "stats_running" in n}
        assert names  # the query saw the schema
    finally:
        db.dispose()


def test_without_the_mark_the_overdue_steps_come_from_the_records(database_url, tmp_path):
    """A database without the mark row (as `create_all` makes it: no triggers) reads the
    SLA records, and the figures are the same."""
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    regency = build(database_url, clock, tmp_path)
    try:
        regency.submit(photo=True)
        clock.advance(timedelta(days=10))
        period = stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026)
        with regency.engine.store.read() as session:
            from_table = stats.compute(session, RegencyConfig(), period, clock.now(),
                                       cache=False)
        assert from_table["overdue"]["total"] == 1
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM stats_running_mark"))
            session.execute(text("DELETE FROM stats_running"))  # not read any more
        with regency.engine.store.read() as session:
            assert not running_usable(session)
            counted = stats.compute(session, RegencyConfig(), period, clock.now(),
                                    cache=False)
        assert counted == from_table
    finally:
        regency.engine.dispose()
