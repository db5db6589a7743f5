"""The reports' stored working-time measures (migration 0037, workflows/stats/speeds.py):
each equals the working calendar's own count, the yearly sums equal a recount from the
rows, and the speed figures read from them equal the live computation from the times (the
old query, kept as the oracle), on SQLite and PostgreSQL, for a varied generated data set,
writes through the application, hand-written SQL and calendar changes."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, text

from engine import FrozenClock
from tests.regency import build
from workflows import stats
from workflows.calendar_admin import remove_day, set_day
from workflows.config import RegencyConfig
from workflows.models import Agency, Complaint
from workflows.stats import queries, speeds
from workflows.stats.localtime import LocalClock
from workflows.workdays import calendar_for

WITA = ZoneInfo("Asia/Makassar")
NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
COLUMNS = ("work_answer_s", "work_verify_s", "work_close_s")
SPANS = (("disposed_at", "first_answer_at"), ("created_at", "verified_at"),
         ("created_at", "closed_at"))
PERIODS = (stats.Period(date(2025, 1, 1), date(2025, 12, 31), 2025),
           stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026),
           stats.Period(date(2025, 6, 3), date(2026, 2, 14)))


def generate(session: Any, rng: random.Random, count: int, first: datetime) -> None:
    """``count`` reports received from ``first`` on, with times of every shape: unset,
    minutes to weeks apart across weekends and holidays, microseconds, an end before its
    start; spread over the agencies and none. Written with one bulk INSERT (no ORM
    object), as a data load would."""
    agencies = [None, *session.scalars(select(Agency.id).where(
        Agency.kind.in_(("opd", "bumd", "kecamatan"))))]
    span = (NOW - first).total_seconds()
    rows = []
    for i in range(count):
        created = first + timedelta(seconds=rng.random() * span * 0.97,
                                    microseconds=rng.randrange(1_000_000))

        def later(start: datetime | None, most_days: float) -> datetime | None:
            if start is None or rng.random() < 0.15:
                return None
            if rng.random() < 0.05:  # an end before its start
                return start - timedelta(minutes=rng.randrange(1, 600))
            end = start + timedelta(days=rng.random() ** 2 * most_days,
                                    microseconds=rng.randrange(1_000_000))
            return min(end, NOW)

        verified = later(created, 6)
        disposed = later(verified, 3)
        answered = later(disposed, 12)
        closed = later(answered or verified, 20)
        rows.append({
            "tracking_number": f"GEN-{first.year}-{i}", "secret_hash": "x",
            "classification": rng.choice(("pengaduan", "aspirasi")), "misconduct": False,
            "category": "roads", "severity": "medium", "title": "Laporan", "body": "Isi",
            "anonymous": False, "confidential": False, "channel": "web", "language": "id",
            "status": "CLOSED" if closed else "VERIFIED", "agency_id": rng.choice(agencies),
            "created_at": created, "updated_at": created, "verified_at": verified,
            "disposed_at": disposed, "first_answer_at": answered, "closed_at": closed,
            "version": 1})
    session.execute(insert(Complaint), rows)


def oracle_seconds(calendar: Any, start: datetime | None, end: datetime | None) -> int | None:
    """The working seconds between two times as the statistics count them: whole seconds
    (the times' fractions dropped), by the calendar's own arithmetic."""
    if start is None or end is None:
        return None
    start, end = (t.replace(microsecond=0) for t in (start, end))
    return int(calendar.working_seconds_between(start, end))


def check_measures(session: Any, config: RegencyConfig) -> int:
    """Every report's stored measures equal the calendar's count; how many are set."""
    calendar = calendar_for(session, config)
    found = 0
    for row in session.execute(select(Complaint.id, *(getattr(Complaint, c) for c in COLUMNS),
                                      *(getattr(Complaint, s) for pair in SPANS for s in pair))):
        stored, stamps = row[1:4], row[4:]
        for i, value in enumerate(stored):
            expected = oracle_seconds(calendar, stamps[2 * i], stamps[2 * i + 1])
            assert value == expected, (row.id, COLUMNS[i], value, expected)
            found += value is not None
    return found


def check_sums(session: Any) -> None:
    """stats_speed_year (base and delta rows) equals a recount from the reports."""
    summed: dict[tuple, list[int]] = {}
    for year, agency, k, bucket, n, total in session.execute(text(
            "SELECT year, agency_id, measure, bucket, sum(n), sum(total) "
            "FROM stats_speed_year GROUP BY year, agency_id, measure, bucket")):
        if int(n):
            summed[(year, agency, k, bucket)] = [int(n), int(total)]
    counted: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for row in session.execute(select(Complaint.created_at, Complaint.agency_id,
                                      *(getattr(Complaint, c) for c in COLUMNS))):
        for k, value in enumerate(row[2:]):
            if value is not None:
                cell = counted[(row.created_at.astimezone(WITA).year, row.agency_id or 0, k,
                                value // 3600)]
                cell[0] += 1
                cell[1] += value
    assert summed == dict(counted)


def normalized(rows: list[tuple]) -> dict[Any, tuple]:
    """Speed rows keyed by group: (count, sum, median) per measure, none where no count."""
    found = {}
    for g, is_total, *figures in rows:
        cells = []
        for i in range(len(COLUMNS)):
            count, total, median = figures[3 * i:3 * i + 3]
            cells.append((int(count), int(total), float(median)) if count else None)
        if any(cells):
            found["total" if is_total else g] = tuple(cells)
    return found


def both_ways(regency: Any, monkeypatch: pytest.MonkeyPatch, period: stats.Period,
              scope: stats.Scope) -> tuple[dict, dict, bool]:
    """The figures and raw speed rows from the stored measures, then computed from the
    times; and whether the stored path answered."""
    config = RegencyConfig()
    seen: dict[str, Any] = {}
    original = queries._speed_rows

    def spy(*args: Any, **kwargs: Any) -> list[tuple]:
        seen["rows"] = original(*args, **kwargs)
        return seen["rows"]

    now = regency.clock.now()
    with monkeypatch.context() as patch:
        patch.setattr(queries, "_speed_rows", spy)
        with regency.reads() as session:
            local = LocalClock(session, config.timezone, period.start.year, 2026)
            days = (period.start - timedelta(days=1),
                    max(period.end, now.astimezone(WITA).date()) + timedelta(days=1))
            used = speeds.stored_usable(session, local, calendar_for(session, config), days)
            stored = stats.compute(session, config, period, now, scope=scope, cache=False)
        stored_rows = seen["rows"]
        patch.setattr(speeds, "stored_usable", lambda *args: False)
        with regency.reads() as session:
            live = stats.compute(session, config, period, now, scope=scope, cache=False)
        live_rows = seen["rows"]
    assert normalized(stored_rows) == normalized(live_rows), (period, scope)
    return stored, live, used


def check(regency: Any, monkeypatch: pytest.MonkeyPatch, step: str, *,
          stale: date | None = None) -> dict:
    """All of the above after ``step``; ``stale``: a day on which the layout is not the
    calendar (periods whose times can fall on it are computed from the times)."""
    with regency.reads() as session:
        if stale is None:  # (else the measures are the layout's, which is not the calendar)
            assert check_measures(session, RegencyConfig()) > 0, step
        check_sums(session)
        agency = session.scalar(select(Agency.id).where(Agency.code == "dinas_pupr"))
    documents = {}
    for period in PERIODS:
        for scope in (stats.Scope(), stats.Scope(frozenset({agency}))):
            stored, live, used = both_ways(regency, monkeypatch, period, scope)
            last = max(period.end, regency.clock.now().astimezone(WITA).date())
            usable = stale is None or not period.start <= stale <= last
            assert used is usable, (step, period)
            assert stored == live, (step, period, scope)
            documents[(period, scope.agency_ids)] = stored
    return documents


def test_the_stored_measures_and_their_figures_equal_the_live_computation(
        database_url, tmp_path, monkeypatch):
    regency = build(database_url, FrozenClock(NOW - timedelta(days=3)), tmp_path)
    postgres = regency.engine.store.postgres
    rng = random.Random(17)
    try:
        with regency.transaction() as session:
            generate(session, rng, 700, datetime(2024, 12, 20, tzinfo=UTC))
        # reports through the application: filed, verified, dispositioned, answered
        for _ in range(2):
            receipt = regency.submit(photo=True)
            regency.act(receipt["tracking_number"], "verify", as_="admin.kominfo")
            regency.act(receipt["tracking_number"], "dispose", as_="admin.kominfo",
                        agency_code="dinas_pupr")
            regency.clock.advance(timedelta(hours=30))
            regency.act(receipt["tracking_number"], "respond", as_="penghubung.pupr",
                        answer="Sudah ditangani.")
        regency.clock.advance(timedelta(days=2))
        documents = check(regency, monkeypatch, "generated and filed")
        speed = documents[(PERIODS[0], None)]["speed"]
        assert speed["submission_to_closure"]["regency"]["count"] > 100
        assert len(speed["submission_to_verification"]["by_agency"]) > 5

        # hand-written SQL: times set and moved, a value written by hand, a report
        # reassigned, reports deleted
        with regency.transaction() as session:
            session.execute(text(
                "UPDATE complaint SET closed_at = verified_at + (id % 7) * interval '1 day' "
                "WHERE id % 5 = 0 AND verified_at IS NOT NULL" if postgres else
                "UPDATE complaint SET closed_at = strftime('%Y-%m-%d %H:%M:%f', verified_at, "
                "(id % 7) || ' days') WHERE id % 5 = 0 AND verified_at IS NOT NULL"))
            session.execute(text("UPDATE complaint SET work_close_s = 1, work_verify_s = 2 "
                                 "WHERE id % 3 = 0"))
            session.execute(text("UPDATE complaint SET agency_id = NULL WHERE id % 11 = 0"))
            session.execute(text("DELETE FROM complaint WHERE id % 13 = 0 "
                                 "AND tracking_number LIKE 'GEN-%'"))
        check(regency, monkeypatch, "hand-written SQL")

        # calendar changes through the application: the measures they touch follow
        wednesday = date(2025, 3, 12)  # a working day of 2025 many spans cross
        saturday = date(2025, 3, 15)
        with regency.transaction() as session:
            before = dict(session.execute(select(Complaint.id, Complaint.work_close_s)).all())
            set_day(session, wednesday, "day_off", "Cuti Bersama (uji)", "sysadmin")
            set_day(session, saturday, "working", "Hari kerja pengganti (uji)", "sysadmin")
        check(regency, monkeypatch, "a day off added, a Saturday made working")
        with regency.reads() as session:
            after = dict(session.execute(select(Complaint.id, Complaint.work_close_s)).all())
        assert sum(before[i] != after[i] for i in after) > 5
        with regency.transaction() as session:
            remove_day(session, wednesday)
        check(regency, monkeypatch, "the day off undone")

        # the calendar edited behind the application's back: the layout no longer is the
        # calendar, so the statistics compute from the times (still equal) until relaid
        with regency.transaction() as session:
            session.execute(text(
                "INSERT INTO calendar_day (day, kind, name, created_by) "
                "VALUES (:d, 'day_off', 'Libur (psql)', 'psql')"), {"d": date(2025, 7, 2)})
        check(regency, monkeypatch, "calendar_day written by hand", stale=date(2025, 7, 2))
        with regency.transaction() as session:
            assert speeds.relay(session) > 0
        check(regency, monkeypatch, "relaid")

        # sums that disagree with the rows in the hours the medians are read from (they
        # cannot while the triggers run): the year's figures come from the stored values
        with regency.transaction() as session:
            session.execute(text("UPDATE stats_speed_year SET n = n + 1 WHERE year = 2025"))
        stored, live, used = both_ways(regency, monkeypatch, PERIODS[0], stats.Scope())
        assert used and stored == live
        with regency.transaction() as session:
            session.execute(text("UPDATE stats_speed_year SET n = n - 1 WHERE year = 2025"))

        if postgres:  # the delta rows folded into the base rows: the same sums
            with regency.transaction() as session:
                session.execute(text("SELECT aduan_stats_speed_fold()"))
                assert session.scalar(text(
                    "SELECT count(*) FROM stats_speed_year WHERE NOT base")) == 0
            check(regency, monkeypatch, "folded")
    finally:
        regency.engine.dispose()


def test_a_calendar_change_recomputes_only_the_reports_it_touches(database_url, tmp_path):
    regency = build(database_url, FrozenClock(NOW), tmp_path)
    try:
        monday = datetime(2026, 3, 2, 9, tzinfo=WITA)
        with regency.transaction() as session:
            base = {"secret_hash": "x", "classification": "pengaduan", "misconduct": False,
                    "category": "roads", "severity": "medium", "title": "L", "body": "I",
                    "anonymous": False, "confidential": False, "channel": "web",
                    "language": "id", "status": "CLOSED", "version": 1}
            session.execute(insert(Complaint), [
                {**base, "tracking_number": "SPAN-1", "created_at": monday,
                 "updated_at": monday, "verified_at": monday + timedelta(days=3)},  # Thu
                {**base, "tracking_number": "SPAN-2", "created_at": monday,
                 "updated_at": monday, "verified_at": monday + timedelta(hours=5)}])
        with regency.reads() as session:
            assert dict(session.execute(select(Complaint.tracking_number,
                                               Complaint.work_verify_s)).all()) == {
                "SPAN-1": 3 * 86400, "SPAN-2": 5 * 3600}
        with regency.transaction() as session:  # through the application
            set_day(session, date(2026, 3, 4), "day_off", "Cuti Bersama (uji)", "sysadmin")
        with regency.reads() as session:
            assert dict(session.execute(select(Complaint.tracking_number,
                                               Complaint.work_verify_s)).all()) == {
                "SPAN-1": 2 * 86400, "SPAN-2": 5 * 3600}
        for day, touched in ((date(2026, 3, 3), 1),  # Tuesday: SPAN-1 only
                             (date(2026, 3, 2), 2),  # Monday: both
                             (date(2026, 12, 24), 0)):  # ahead: no finished report
            with regency.transaction() as session:
                session.execute(text(
                    "INSERT INTO calendar_day (day, kind, name, created_by) "
                    "VALUES (:d, 'day_off', 'Libur (uji)', 'psql')"), {"d": day})
                assert speeds.relay(session) == touched, day
        with regency.reads() as session:
            assert dict(session.execute(select(Complaint.tracking_number,
                                               Complaint.work_verify_s)).all()) == {
                "SPAN-1": 9 * 3600, "SPAN-2": 0}  # Thursday 00:00-09:00 only
    finally:
        regency.engine.dispose()


def test_a_years_medians_read_their_hours_from_the_measures_own_indexes(database_url,
                                                                      tmp_path):
    """SQLite's planner takes the index on the hour of the measure (the schema test cannot
    see such an index on SQLite); on PostgreSQL the index is there (its planner weighs it
    against the table's size: bench/stats.py shows it used at a million reports)."""
    regency = build(database_url, FrozenClock(NOW), tmp_path)
    try:
        with regency.reads() as session:
            if regency.engine.store.postgres:
                found = session.scalar(text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_complaint_work_close'"))
                assert "((work_close_s / 3600)), created_at, agency_id, work_close_s" in found
                return
            plan = " ".join(str(row) for row in session.execute(text(
                "EXPLAIN QUERY PLAN SELECT agency_id, work_close_s FROM complaint "
                "WHERE work_close_s / 3600 IN (5, 6) AND created_at >= :a AND created_at < :b "
                "AND work_close_s IS NOT NULL"),
                {"a": datetime(2025, 1, 1, tzinfo=UTC), "b": datetime(2026, 1, 1, tzinfo=UTC)}))
        assert "COVERING INDEX ix_complaint_work_close" in plan, plan
    finally:
        regency.engine.dispose()


def test_migration_0037_fills_the_measures_and_goes_back(tmp_path):
    """The upgrade lays out the calendar (with a day changed by decree before it), computes
    the measures of the reports already stored and sums them; the downgrade drops them."""
    from alembic import command
    from sqlalchemy import create_engine

    import migrations

    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0036_page_counts")
    db = create_engine(url)
    try:
        with db.begin() as connection:
            connection.execute(text(
                "INSERT INTO calendar_day (day, kind, name, created_by) "
                "VALUES ('2026-03-04', 'day_off', 'Cuti Bersama (uji)', 'sysadmin')"))
            for i, (created, verified) in enumerate((
                    ("2026-03-02 01:00:00.250000", "2026-03-05 01:00:00.000000"),  # Mon-Thu
                    ("2026-03-02 01:00:00.000000", None))):
                connection.execute(text(
                    "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                    "misconduct, category, severity, title, body, anonymous, confidential, "
                    "channel, language, status, created_at, updated_at, verified_at, "
                    "version) VALUES (:t, 'x', 'pengaduan', 0, 'roads', 'medium', 'L', 'I', 0, "
                    "0, 'web', 'id', 'VERIFIED', :c, :c, :v, 1)"),
                    {"t": f"PPU-{i}", "c": created, "v": verified})
        migrations.upgrade(url)
        with db.connect() as connection:
            assert connection.execute(text(
                "SELECT tracking_number, work_verify_s FROM complaint ORDER BY id")).all() == [
                ("PPU-0", 2 * 86400), ("PPU-1", None)]  # Wednesday off by decree
            assert connection.execute(text(
                "SELECT year, agency_id, measure, bucket, n, total FROM stats_speed_year")
            ).all() == [(2026, 0, 1, 48, 1, 2 * 86400)]
            assert connection.execute(text("SELECT count(*) FROM work_day")).scalar() == (
                date(2040, 12, 31) - date(2015, 1, 1)).days + 1
        command.downgrade(migrations.alembic_config(url), "0036_page_counts")
        with db.connect() as connection:
            columns = {row[1] for row in connection.execute(text(
                "PRAGMA table_info(complaint)"))}
            assert not columns & set(COLUMNS)
            assert connection.execute(text(
                "SELECT count(*) FROM sqlite_master WHERE name IN "
                "('work_day', 'work_zone', 'stats_speed_year')")).scalar() == 0
        migrations.upgrade(url)
    finally:
        db.dispose()
