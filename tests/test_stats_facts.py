"""The statistics' per-day summaries of deadlines and escalations (`stats_fact_day`,
migration 0035) stay equal to a recount from the SLA records, escalations and complaints
after every kind of write, on SQLite and PostgreSQL; the figures read from them are the
figures counted from the rows (the old queries, kept as the oracle)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import create_engine, text

import migrations
from engine import FrozenClock
from tests.lock_waits import second_waits_for_first
from tests.regency import build
from tests.test_stats_running import recount as running_recount
from tests.test_stats_running import table_rows as running_rows
from workflows import stats
from workflows.config import RegencyConfig
from workflows.models import Complaint, Escalation, SlaRecord
from workflows.sla import CITIZEN_STEPS
from workflows.stats import queries
from workflows.stats.localtime import LocalClock

WITA = ZoneInfo("Asia/Makassar")
KEY = ("day", "agency_id", "unit_id", "classification", "misconduct", "kind", "k1", "k2",
       "budget")


def summaries(session: Any, table: str = "stats_fact_day") -> dict[tuple, tuple]:
    """A table of sums summed per key (base and delta rows), keys with no fact left out."""
    rows = session.execute(text(
        f"SELECT {', '.join(KEY)}, sum(n), sum(late) FROM {table} "
        f"GROUP BY {', '.join(KEY)}"))
    found = {}
    for row in rows:
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(row[0])
        if int(row[9]):
            found[(day, *row[1:8], float(row[8]))] = (int(row[9]), round(float(row[10]), 3))
    return found


def by_month(days: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Day sums added up per month (keyed by the month's first day)."""
    found: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
    for (day, *key), (n, late) in days.items():
        cell = found[(day.replace(day=1), *key)]
        cell[0] += n
        cell[1] += late
    return {key: (n, round(late, 3)) for key, (n, late) in found.items() if n}


def recount(session: Any) -> dict[tuple, tuple]:
    """The same from scratch in Python: each report's facts from its rows."""
    records: dict[int, list[SlaRecord]] = defaultdict(list)
    for r in session.query(SlaRecord).all():
        records[r.complaint_id].append(r)
    escalations: dict[int, list[Escalation]] = defaultdict(list)
    for e in session.query(Escalation).all():
        escalations[e.complaint_id].append(e)
    found: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
    for c in session.query(Complaint).all():
        keys = (c.created_at.astimezone(WITA).date(), c.agency_id or 0, c.unit_id or 0,
                c.classification, int(bool(c.misconduct)))

        def add(kind: str, k1: str, k2: str, budget: float = 0.0, n: int = 1,
                late: float = 0.0, keys: tuple = keys) -> None:
            cell = found[(*keys, kind, k1, k2, float(budget))]
            cell[0] += n
            cell[1] += late

        own = [r for r in records[c.id] if r.step not in CITIZEN_STEPS]
        for r in own:
            add("records", r.step, r.state, r.budget_days or 0, 1, r.late_seconds or 0.0)
        for step, bucket in {(r.step, "open" if r.state in ("running", "paused") else r.state)
                             for r in own}:
            add("step", step, bucket)
        for state in {r.state for r in own if r.step in ("follow_up", "resolution")
                      and r.state in ("met", "breached")}:
            add("own", "", state)
        esc = escalations[c.id]
        for rung, status in {(e.rung_name, e.status) for e in esc}:
            add("esc", rung, status, n=sum(1 for e in esc if (e.rung_name, e.status)
                                           == (rung, status)))
        for rung in {e.rung_name for e in esc}:
            add("esc_rung", rung, "")
        for rung in {e.rung_name for e in esc if e.status == "open"}:
            add("esc_rung", rung, "open")
        if esc:
            add("esc_any", "", "")
        if any(e.status == "open" for e in esc):
            add("esc_any", "", "open")
        if (c.disposed_at is not None and c.first_answer_at is None
                and any(r.step == "follow_up" and r.state == "breached" for r in own)):
            add("unanswered", "", "")
    return {key: (n, round(late, 3)) for key, (n, late) in found.items() if n}


def figures_both_ways(regency: Any, monkeypatch: pytest.MonkeyPatch, year: int | None,
                      agency_ids: frozenset[int] | None = None,
                      period: stats.Period | None = None) -> tuple[dict, dict]:
    """The figures of ``year`` (or ``period``) from the summaries, then counted from the
    rows."""
    now = regency.clock.now()
    if period is None:
        assert year is not None
        period = stats.Period(date(year, 1, 1), date(year, 12, 31), year)
    year = period.start.year
    scope = stats.Scope(agency_ids)
    with regency.engine.store.read() as session:
        assert queries.facts_usable(session, LocalClock(session, "Asia/Makassar", year, year))
        summed = stats.compute(session, RegencyConfig(), period, now, scope=scope, cache=False)
    with monkeypatch.context() as patch:
        patch.setattr(queries, "facts_usable", lambda session, local: False)
        with regency.engine.store.read() as session:
            counted = stats.compute(session, RegencyConfig(), period, now, scope=scope,
                                    cache=False)
    return summed, counted


def check(regency: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> dict:
    with regency.engine.store.read() as session:
        days = summaries(session)
        assert days == recount(session), step
        assert summaries(session, "stats_fact_month") == by_month(days), step
        # the copy of the running steps (migration 0038) after the same writes
        assert running_rows(session) == running_recount(session), step
        agencies = dict(session.execute(text("SELECT code, id FROM agency")).all())
    for year in (2025, 2026):
        summed, counted = figures_both_ways(regency, monkeypatch, year)
        assert summed == counted, (step, year)
    for first, last in ((date(2025, 12, 31), date(2026, 3, 2)),  # a whole month and days
                        (date(2026, 3, 2), date(2026, 3, 20))):  # days of one month
        summed, counted = figures_both_ways(regency, monkeypatch, None,
                                            period=stats.Period(first, last))
        assert summed == counted, (step, first, last)
    for code in ("dinas_pupr", "dishub"):
        summed, counted = figures_both_ways(regency, monkeypatch, 2026,
                                            frozenset({agencies[code]}))
        assert summed == counted, (step, code)
    return summed


def test_the_fact_summaries_equal_a_recount_after_every_write(database_url, tmp_path,
                                                               monkeypatch):
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 WITA
    regency = build(database_url, clock, tmp_path)
    postgres = regency.engine.store.postgres
    try:
        check(regency, monkeypatch, "the demo regency, before any report")
        lamp = regency.submit(photo=True, category="street_lights")
        pothole = regency.submit(photo=True)
        clinic = regency.submit(category="health", channel="whatsapp",
                                title="Antrean Puskesmas panjang",
                                body="Antrean di Puskesmas Waru sampai siang hari.")
        check(regency, monkeypatch, "filed: verification running")
        for receipt in (lamp, pothole, clinic):
            regency.act(receipt["tracking_number"], "verify", as_="admin.kominfo")
        check(regency, monkeypatch, "verified: verification met")
        regency.act(lamp["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dishub")
        regency.act(pothole["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")
        regency.act(clinic["tracking_number"], "request_info", as_="admin.kominfo",
                    reason="Puskesmas yang mana?")
        check(regency, monkeypatch, "dispositioned, information asked")
        regency.advance(days=7, hours=2)  # follow-up deadlines pass: escalations
        figures = check(regency, monkeypatch, "overdue and escalated")
        assert figures["escalations"]["total"] > 0
        assert figures["deadlines"]["classes"], figures["deadlines"]
        regency.act(pothole["tracking_number"], "respond", as_="penghubung.pupr",
                    answer="Sudah ditambal.")
        check(regency, monkeypatch, "answered late")
        regency.act(lamp["tracking_number"], "reassign", as_="admin.kominfo",
                    agency_code="dinas_pupr", reason="Jalan kabupaten")
        check(regency, monkeypatch, "reassigned to another agency")
        regency.advance(days=10)
        regency.act(pothole["tracking_number"], "rate", secret=pothole["secret"], rating=2)
        check(regency, monkeypatch, "rated, more deadlines passed")
        with regency.engine.store.transaction() as session:
            ids = dict(session.execute(text(
                "SELECT tracking_number, id FROM complaint")).all())
            lamp_id, pothole_id = ids[lamp["tracking_number"]], ids[pothole["tracking_number"]]
            # one statement changing several records of one report
            session.execute(text(
                "UPDATE sla_record SET state = 'breached', late_seconds = 3600.5 "
                "WHERE complaint_id = :c"), {"c": lamp_id})
            session.execute(text("UPDATE escalation SET status = 'acknowledged' "
                                 "WHERE complaint_id = :c"), {"c": lamp_id})
        check(regency, monkeypatch, "bulk updates of one report's records")
        with regency.engine.store.transaction() as session:
            moved = session.scalar(text(
                "SELECT min(id) FROM sla_record WHERE complaint_id = :c"), {"c": lamp_id})
            session.execute(text("UPDATE sla_record SET complaint_id = :p, budget_days = 9 "
                                 "WHERE id = :id"), {"p": pothole_id, "id": moved})
            session.execute(text("UPDATE escalation SET complaint_id = :p WHERE id = "
                                 "(SELECT min(id) FROM escalation WHERE complaint_id = :c)"),
                            {"p": pothole_id, "c": lamp_id})
        check(regency, monkeypatch, "records moved to another report")
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE complaint SET classification = 'aspirasi', misconduct = :t, "
                "first_answer_at = NULL, created_at = :at WHERE id = :c"),
                {"t": True, "at": datetime(2025, 12, 31, 15, 59, tzinfo=UTC), "c": lamp_id})
            session.execute(text("UPDATE complaint SET title = 'Judul baru'"))
        check(regency, monkeypatch, "a report's keys changed, then a column no fact reads")
        with pytest.raises(RuntimeError), regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM escalation"))
            raise RuntimeError("rolled back")
        check(regency, monkeypatch, "rolled back")
        if postgres:  # the deltas folded into the base rows give the same sums
            with regency.engine.store.transaction() as session:
                assert session.scalar(text(
                    "SELECT count(*) FROM stats_fact_day WHERE NOT base"))
                session.execute(text("SELECT aduan_stats_fact_fold()"))
            with regency.engine.store.read() as session:
                for table in ("stats_fact_day", "stats_fact_month"):
                    assert not session.scalar(text(
                        f"SELECT count(*) FROM {table} WHERE NOT base"))
            check(regency, monkeypatch, "folded")
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM escalation WHERE complaint_id = :c"),
                            {"c": pothole_id})
            session.execute(text("DELETE FROM sla_record WHERE id = :id"), {"id": moved})
        check(regency, monkeypatch, "deleted")
        if postgres:  # TRUNCATE counts again from what is left
            with regency.engine.store.transaction() as session:
                session.execute(text("TRUNCATE escalation"))
            check(regency, monkeypatch, "escalations truncated")
        regency.advance(days=3)
        third = regency.submit(photo=True, category="waste", channel="sms")
        regency.act(third["tracking_number"], "verify", as_="admin.kominfo")
        check(regency, monkeypatch, "filed and verified at the end")
    finally:
        regency.engine.dispose()


def test_postgres_writers_of_records_with_the_same_key_do_not_wait_for_each_other(
        postgres_url):
    """Two open transactions add an SLA record to two reports with the same summary key:
    the second neither waits for the first nor deadlocks, and both count once committed."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    complaint = text(
        "INSERT INTO complaint (tracking_number, secret_hash, classification, misconduct, "
        "category, severity, title, body, anonymous, confidential, channel, language, status, "
        "created_at, updated_at, version) VALUES (:t, 'x', 'pengaduan', false, 'roads', "
        "'medium', 'Laporan', 'Isi', false, false, 'web', 'id', 'SUBMITTED', :at, :at, 1) "
        "RETURNING id")
    record = text(
        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
        "due_at, pauses, state, rung, reminded_rungs) VALUES (:c, 'verification', 3, 0, :at, "
        ":at, '[]', 'running', 0, '[]')")
    try:
        with db.begin() as connection:
            first_id, second_id = (connection.execute(complaint, {"t": t, "at": at}).scalar()
                                   for t in ("PPU-A", "PPU-B"))
        with db.connect() as first, db.connect() as second:
            first.begin()
            first.execute(record, {"c": first_id, "at": at})
            second.begin()
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            second.execute(record, {"c": second_id, "at": at})
            second.execute(text("SELECT aduan_stats_fact_fold()"))  # folds what it sees
            second.commit()
            first.commit()
        with db.connect() as connection:
            assert connection.execute(text(
                "SELECT sum(n) FROM stats_fact_day WHERE day = '2026-03-02' "
                "AND kind = 'records'")).scalar() == 2
    finally:
        db.dispose()


def test_postgres_two_writers_of_one_reports_records_count_its_facts_once(postgres_url):
    """Two transactions each add a breached follow-up record to the same report: the second
    waits for the first (the report's lock), then sees its record, so the report counts
    once among the reports with a breached follow-up, and both records count."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    record = text(
        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
        "due_at, pauses, state, rung, reminded_rungs, late_seconds) VALUES (:c, "
        "'follow_up', 5, 0, :at, :at, '[]', 'breached', 0, '[]', 60)")
    try:
        with db.begin() as connection:
            complaint_id = connection.execute(text(
                "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                "misconduct, category, severity, title, body, anonymous, confidential, "
                "channel, language, status, created_at, updated_at, version) VALUES "
                "('PPU-A', 'x', 'pengaduan', false, 'roads', 'medium', 'Laporan', 'Isi', "
                "false, false, 'web', 'id', 'DISPOSED', :at, :at, 1) RETURNING id"),
                {"at": at}).scalar()
        def add_record(connection: Any) -> None:
            connection.execute(record, {"c": complaint_id, "at": at})

        second_waits_for_first(db, add_record, add_record)
        with db.connect() as connection:
            sums = dict(connection.execute(text(
                "SELECT kind, sum(n) FROM stats_fact_day WHERE k1 = 'follow_up' "
                "GROUP BY kind")).all())
        assert sums == {"records": 2, "step": 1}
    finally:
        db.dispose()


def test_migration_0035_backfills_the_summaries_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0034_account_revision")
    db = create_engine(url)
    try:
        with db.begin() as connection:
            for i, (created, disposed) in enumerate((
                    ("2026-03-01 15:59:00.000000", None),
                    ("2026-03-01 16:00:00.000000", "2026-03-02 01:00:00.000000"))):
                connection.execute(text(
                    "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                    "misconduct, category, severity, title, body, anonymous, confidential, "
                    "channel, language, status, created_at, updated_at, disposed_at, "
                    "version) VALUES (:t, 'x', 'pengaduan', 0, 'roads', 'medium', 'L', 'I', 0, "
                    "0, 'web', 'id', 'SUBMITTED', :c, :c, :d, 1)"),
                    {"t": f"PPU-{i}", "c": created, "d": disposed})
                for step, state, late in (("verification", "met", None),
                                          ("follow_up", "breached", 7200.0),
                                          ("follow_up", "breached", 60.0),
                                          ("info_request", "running", None)):
                    connection.execute(text(
                        "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, "
                        "started_at, due_at, pauses, state, rung, reminded_rungs, "
                        "late_seconds) VALUES (:c, :s, 3, 0, :at, :at, '[]', :st, 0, '[]', "
                        ":l)"), {"c": i + 1, "s": step, "st": state, "l": late,
                                 "at": created})
            connection.execute(text(
                "INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, at, "
                "due_at, status) VALUES (2, 6, 'follow_up', 1, 'opd', :at, :at, 'open')"),
                {"at": "2026-03-05 01:00:00.000000"})
        migrations.upgrade(url)
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT day, kind, k1, k2, n, late FROM stats_fact_day "
                "ORDER BY day, kind, k1, k2")).all()
        assert [tuple(r) for r in rows] == [
            ("2026-03-01", "own", "", "breached", 1, 0.0),
            ("2026-03-01", "records", "follow_up", "breached", 2, 7260.0),
            ("2026-03-01", "records", "verification", "met", 1, 0.0),
            ("2026-03-01", "step", "follow_up", "breached", 1, 0.0),
            ("2026-03-01", "step", "verification", "met", 1, 0.0),
            ("2026-03-02", "esc", "opd", "open", 1, 0.0),
            ("2026-03-02", "esc_any", "", "", 1, 0.0),
            ("2026-03-02", "esc_any", "", "open", 1, 0.0),
            ("2026-03-02", "esc_rung", "opd", "", 1, 0.0),
            ("2026-03-02", "esc_rung", "opd", "open", 1, 0.0),
            ("2026-03-02", "own", "", "breached", 1, 0.0),
            ("2026-03-02", "records", "follow_up", "breached", 2, 7260.0),
            ("2026-03-02", "records", "verification", "met", 1, 0.0),
            ("2026-03-02", "step", "follow_up", "breached", 1, 0.0),
            ("2026-03-02", "step", "verification", "met", 1, 0.0),
            ("2026-03-02", "unanswered", "", "", 1, 0.0)]
        with db.connect() as connection:
            months = connection.execute(text(
                "SELECT day, kind, sum(n) FROM stats_fact_month GROUP BY day, kind "
                "ORDER BY day, kind")).all()
        assert [tuple(r) for r in months] == [
            ("2026-03-01", "esc", 1), ("2026-03-01", "esc_any", 2), ("2026-03-01", "esc_rung", 2),
            ("2026-03-01", "own", 2), ("2026-03-01", "records", 6), ("2026-03-01", "step", 4),
            ("2026-03-01", "unanswered", 1)]
        command.downgrade(migrations.alembic_config(url), "0034_account_revision")
        with db.connect() as connection:
            names = {r[0] for r in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"))}
        assert not {n for n in names if "stats_fact" in n}
        assert names  # the query saw the schema
    finally:
        db.dispose()


def test_without_the_zone_row_the_figures_count_the_rows(database_url, tmp_path):
    """A database without the row (as `create_all` makes it) gets its deadline and
    escalation figures counted from the rows, and they are the same."""
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    regency = build(database_url, clock, tmp_path)
    try:
        receipt = regency.submit(photo=True)
        regency.act(receipt["tracking_number"], "verify", as_="admin.kominfo")
        regency.act(receipt["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")
        regency.advance(days=9)
        now, period = clock.now(), stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026)
        with regency.engine.store.read() as session:
            local = LocalClock(session, "Asia/Makassar", 2026, 2026)
            assert queries.facts_usable(session, local)
            assert not queries.facts_usable(session, LocalClock(session, "Asia/Jakarta",
                                                                2026, 2026))
            summed = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert summed["escalations"]["reports"] == 1
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM stats_fact_zone"))
        with regency.engine.store.read() as session:
            assert not queries.facts_usable(session, local)
            counted = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert counted == summed
    finally:
        regency.engine.dispose()


def test_a_running_step_past_due_counts_as_overdue_from_the_moment_it_passes(
        database_url, tmp_path, monkeypatch):
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    regency = build(database_url, clock, tmp_path)
    try:
        regency.submit(photo=True)
        summed, counted = figures_both_ways(regency, monkeypatch, 2026)
        assert summed == counted and summed["overdue"]["total"] == 0
        clock.advance(timedelta(days=10))  # no sweep: the record is still running
        summed, counted = figures_both_ways(regency, monkeypatch, 2026)
        assert summed == counted
        assert summed["overdue"]["total"] == 1
        assert summed["overdue"]["reports"] == 1
    finally:
        regency.engine.dispose()
