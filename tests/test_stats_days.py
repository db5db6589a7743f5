"""The statistics' per-day summaries (`stats_day`, migration 0032) stay equal to a recount
from the complaint rows after every kind of write, on SQLite and PostgreSQL; the figures
read from them are the figures counted from the rows."""

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
from tests.regency import build
from workflows import stats
from workflows.config import RegencyConfig
from workflows.models import Complaint
from workflows.stats import queries
from workflows.stats.localtime import LocalClock
from workflows.stats_models import SUMS

WITA = ZoneInfo("Asia/Makassar")
KEY_COLUMNS = ("dim", "value", "agency_id", "unit_id", "status")
KINDS = ("category", "channel", "classification")


def summaries(session: Any, table: str = "stats_day") -> dict[tuple, tuple]:
    """stats_day (or stats_month) summed per key (base and delta rows), keys with no
    report left out."""
    rows = session.execute(text(
        f"SELECT day, {', '.join(KEY_COLUMNS)}, {', '.join(f'sum({c})' for c in SUMS)} "
        f"FROM {table} GROUP BY day, {', '.join(KEY_COLUMNS)}"))
    found = {}
    for row in rows:
        day = row[0] if isinstance(row[0], date) else date.fromisoformat(row[0])
        sums = tuple(int(n) for n in row[6:])
        if any(sums):
            found[(day, *row[1:6])] = sums
    return found


def recount(session: Any) -> dict[tuple, tuple]:
    """The same from scratch: every complaint, its local (WITA) day of receipt in Python,
    counted once by agency and unit, once by each of category, channel, classification."""
    found: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(SUMS))
    for c in session.query(Complaint).all():
        day = c.created_at.astimezone(WITA).date()
        rating = c.rating
        sums = (1, c.verified_at is not None, c.disposed_at is not None,
                c.first_answer_at is not None, rating or 0, rating is not None,
                *(rating == k for k in range(1, 6)))
        keys = [(day, "agency", "", c.agency_id or 0, c.unit_id or 0, c.status),
                *((day, kind, getattr(c, kind), 0, 0, c.status) for kind in KINDS)]
        for key in keys:
            cell = found[key]
            for i, n in enumerate(sums):
                cell[i] += int(n)
    return {key: tuple(cell) for key, cell in found.items()}


def figures_both_ways(regency: Any, monkeypatch: pytest.MonkeyPatch, year: int,
                      agency_ids: frozenset[int] | None = None,
                      period: stats.Period | None = None) -> tuple[dict, dict]:
    """The figures of ``year`` (or ``period``) from the summaries, then counted from the
    rows."""
    now = regency.clock.now()
    period = period or stats.Period(date(year, 1, 1), date(year, 12, 31), year)
    scope = stats.Scope(agency_ids)
    with regency.engine.store.read() as session:
        assert queries.summaries_usable(session, LocalClock(
            session, "Asia/Makassar", year, year))
        summed = stats.compute(session, RegencyConfig(), period, now, scope=scope, cache=False)
    with monkeypatch.context() as patch:
        patch.setattr(queries, "summaries_usable", lambda session, local: False)
        with regency.engine.store.read() as session:
            counted = stats.compute(session, RegencyConfig(), period, now, scope=scope,
                                    cache=False)
    return summed, counted


def by_month(days: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Day sums added up per month (keyed by the month's first day)."""
    found: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(SUMS))
    for (day, *key), sums in days.items():
        cell = found[(day.replace(day=1), *key)]
        for i, n in enumerate(sums):
            cell[i] += n
    return {key: tuple(cell) for key, cell in found.items() if any(cell)}


def check(regency: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    with regency.engine.store.read() as session:
        days = summaries(session)
        assert days == recount(session), step
        assert queries.months_usable(session)
        assert summaries(session, "stats_month") == by_month(days), step
        agencies = dict(session.execute(text("SELECT code, id FROM agency")).all())
    for year in (2025, 2026):
        summed, counted = figures_both_ways(regency, monkeypatch, year)
        assert summed == counted, (step, year)
    for first, last in ((date(2025, 12, 31), date(2026, 3, 2)),  # whole months and days
                        (date(2026, 2, 1), date(2026, 3, 31)),  # whole months only
                        (date(2026, 3, 2), date(2026, 3, 20))):  # days of one month
        summed, counted = figures_both_ways(regency, monkeypatch, 2026,
                                            period=stats.Period(first, last))
        assert summed == counted, (step, first, last)
    pupr = frozenset({agencies["dinas_pupr"]})
    summed, counted = figures_both_ways(regency, monkeypatch, 2026, pupr)
    assert summed == counted, (step, "dinas_pupr")


def test_the_summaries_equal_a_recount_after_every_write(database_url, tmp_path, monkeypatch):
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 WITA
    regency = build(database_url, clock, tmp_path)
    postgres = regency.engine.store.postgres
    try:
        check(regency, monkeypatch, "the demo regency, before any report")
        # Filing through the API, then each step of the lifecycle
        pothole = regency.submit(photo=True)
        clinic = regency.submit(category="health", channel="whatsapp",
                                title="Antrean Puskesmas panjang",
                                body="Antrean di Puskesmas Waru sampai siang hari.")
        spam = regency.submit(title="Iklan", body="Iklan pinjaman online tanpa jaminan.")
        check(regency, monkeypatch, "filed")
        for tracking in (pothole["tracking_number"], clinic["tracking_number"]):
            regency.act(tracking, "verify", as_="admin.kominfo")
        check(regency, monkeypatch, "verified")
        regency.act(spam["tracking_number"], "archive", as_="admin.kominfo",
                    reason="Bukan pengaduan")
        check(regency, monkeypatch, "archived")
        regency.act(pothole["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")
        regency.act(clinic["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinkes")
        check(regency, monkeypatch, "dispositioned")
        regency.advance(days=1)
        regency.act(pothole["tracking_number"], "respond", as_="penghubung.pupr",
                    answer="Sudah ditambal.")
        check(regency, monkeypatch, "answered")
        regency.act(pothole["tracking_number"], "rate", secret=pothole["secret"], rating=4)
        check(regency, monkeypatch, "rated")
        # Written by hand, around the regency's midnight (16:00 UTC) and a year's turn
        with regency.engine.store.transaction() as session:
            agencies = dict(session.execute(text("SELECT code, id FROM agency")).all())
            for i, created in enumerate((
                    datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC),  # 23:59:59 WITA
                    datetime(2025, 12, 31, 16, 0, tzinfo=UTC),  # 1 January 2026 WITA
                    datetime(2026, 2, 28, 16, 0, tzinfo=UTC),
                    datetime(2025, 6, 3, 2, 0, tzinfo=UTC))):
                session.add(Complaint(
                    tracking_number=f"PPU-HAND-{i}", secret_hash="x" * 64,
                    classification=("pengaduan", "aspirasi")[i % 2], misconduct=False,
                    category=("roads", "waste")[i % 2], title="Laporan", body="Isi laporan",
                    channel=("web", "sms")[i % 2], status="CLOSED",
                    agency_id=agencies["dinas_pupr"] if i % 2 else agencies["dlh"],
                    unit_id=None, created_at=created, updated_at=created,
                    verified_at=created + timedelta(hours=1),
                    disposed_at=created + timedelta(hours=2),
                    first_answer_at=created + timedelta(days=2),
                    closed_at=created + timedelta(days=3), rating=(i % 5) + 1))
        check(regency, monkeypatch, "inserted by the ORM")
        # Bulk UPDATEs: a status for many rows, moving reports between agencies, a rating
        # taken back, a receipt moved across midnight, a column the figures do not count
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE complaint SET status = 'CLOSED', closed_at = updated_at "
                "WHERE status IN ('RESPONDED', 'IN_PROGRESS')"))
            session.execute(text(
                "UPDATE complaint SET agency_id = :pupr WHERE agency_id = :dlh"),
                {"pupr": agencies["dinas_pupr"], "dlh": agencies["dlh"]})
            session.execute(text("UPDATE complaint SET rating = NULL WHERE rating = 2"))
        check(regency, monkeypatch, "bulk updates")
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "UPDATE complaint SET created_at = :at WHERE tracking_number = 'PPU-HAND-0'"),
                {"at": datetime(2025, 12, 31, 16, 30, tzinfo=UTC)})
            session.execute(text("UPDATE complaint SET title = 'Judul baru', "
                                 "unit_id = NULL, version = version + 1"))
            session.execute(text(
                "UPDATE complaint SET verified_at = NULL, disposed_at = NULL, "
                "status = 'SUBMITTED', agency_id = NULL WHERE tracking_number = 'PPU-HAND-2'"))
        check(regency, monkeypatch, "receipt moved, nothing counted changed, sent back")
        # A transaction that fails leaves the summaries as they were
        with pytest.raises(RuntimeError), regency.engine.store.transaction() as session:
            session.execute(text("UPDATE complaint SET status = 'RETURNED'"))
            raise RuntimeError("rolled back")
        check(regency, monkeypatch, "rolled back")
        if postgres:  # the deltas folded into the base rows give the same sums
            with regency.engine.store.transaction() as session:
                assert session.scalar(text("SELECT count(*) FROM stats_day WHERE NOT base"))
                assert session.scalar(text("SELECT count(*) FROM stats_month WHERE NOT base"))
                session.execute(text("SELECT aduan_stats_day_fold()"))
                session.execute(text("SELECT aduan_stats_month_fold()"))
            with regency.engine.store.read() as session:
                assert not session.scalar(text("SELECT count(*) FROM stats_day WHERE NOT base"))
                assert not session.scalar(text(
                    "SELECT count(*) FROM stats_month WHERE NOT base"))
            check(regency, monkeypatch, "folded")
        with regency.engine.store.transaction() as session:
            session.execute(text(
                "DELETE FROM complaint WHERE tracking_number IN ('PPU-HAND-1', 'PPU-HAND-3')"))
        check(regency, monkeypatch, "deleted")
        regency.advance(days=3)
        third = regency.submit(photo=True, category="waste", channel="sms")
        regency.act(third["tracking_number"], "verify", as_="admin.kominfo")
        check(regency, monkeypatch, "filed and verified after the fold")
    finally:
        regency.engine.dispose()


def test_postgres_writers_of_the_same_day_and_key_do_not_wait_for_each_other(postgres_url):
    """Two open transactions file a report with the same summary key: the second neither
    waits for the first nor deadlocks (the triggers append, they do not update a shared
    row), and both count once committed."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    insert = text(
        "INSERT INTO complaint (tracking_number, secret_hash, classification, misconduct, "
        "category, severity, title, body, anonymous, confidential, channel, language, status, "
        "created_at, updated_at, version) VALUES (:t, 'x', 'pengaduan', false, 'roads', "
        "'medium', 'Laporan', 'Isi', false, false, 'web', 'id', 'SUBMITTED', :at, :at, 1)")
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    try:
        with db.connect() as first, db.connect() as second:
            first.begin()
            first.execute(insert, {"t": "PPU-A", "at": at})
            second.begin()
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            second.execute(insert, {"t": "PPU-B", "at": at})
            second.execute(text("SELECT aduan_stats_day_fold()"))  # folds what it sees
            second.commit()
            first.commit()
        with db.connect() as connection:
            assert connection.execute(text(
                "SELECT sum(received) FROM stats_day WHERE day = '2026-03-02' "
                "AND dim = 'agency'")).scalar() == 2
    finally:
        db.dispose()


def test_migration_0032_backfills_the_summaries_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0030_lifecycle_gaps")
    db = create_engine(url)
    try:
        with db.begin() as connection:
            for i, (created, status, rating) in enumerate((
                    ("2026-03-01 15:59:00.000000", "SUBMITTED", None),
                    ("2026-03-01 16:00:00.000000", "CLOSED", 5),
                    ("2026-03-01 17:00:00.000000", "CLOSED", 3))):
                connection.execute(text(
                    "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                    "misconduct, category, severity, title, body, anonymous, confidential, "
                    "channel, language, status, rating, created_at, updated_at, verified_at, "
                    "version) VALUES (:t, 'x', 'pengaduan', 0, 'roads', 'medium', 'L', 'I', 0, "
                    "0, 'web', 'id', :s, :r, :c, :c, :v, 1)"),
                    {"t": f"PPU-{i}", "s": status, "r": rating, "c": created,
                     "v": None if status == "SUBMITTED" else created})
        migrations.upgrade(url)
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT day, status, received, verified, rating_sum, rating_count, rating_5 "
                "FROM stats_day WHERE dim = 'agency' ORDER BY day, status")).all()
        assert [tuple(r) for r in rows] == [("2026-03-01", "SUBMITTED", 1, 0, 0, 0, 0),
                                            ("2026-03-02", "CLOSED", 2, 2, 8, 2, 1)]
        with db.connect() as connection:
            kinds = connection.execute(text(
                "SELECT dim, value, status, received FROM stats_day WHERE dim <> 'agency' "
                "ORDER BY day, dim, status")).all()
        assert [tuple(r) for r in kinds] == [
            ("category", "roads", "SUBMITTED", 1), ("channel", "web", "SUBMITTED", 1),
            ("classification", "pengaduan", "SUBMITTED", 1), ("category", "roads", "CLOSED", 2),
            ("channel", "web", "CLOSED", 2), ("classification", "pengaduan", "CLOSED", 2)]
        command.downgrade(migrations.alembic_config(url), "0030_lifecycle_gaps")
        with db.connect() as connection:
            tables = {r[0] for r in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"))}
        assert not {n for n in tables if "stats_day" in n}
    finally:
        db.dispose()


def test_without_the_zone_row_or_at_another_offset_the_figures_count_the_reports(
        database_url, tmp_path):
    """The summaries answer only where the migration cut them at the regency's offset; a
    database without the row (as `create_all` makes it), or a regency in another time
    zone, gets its figures counted from the reports."""
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    regency = build(database_url, clock, tmp_path)
    try:
        regency.submit(photo=True)
        regency.submit(category="health", channel="sms", title="Antrean panjang",
                       body="Antrean di Puskesmas Waru sampai siang hari.")
        now, period = clock.now(), stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026)
        with regency.engine.store.read() as session:
            assert queries.summaries_usable(session, LocalClock(session, "Asia/Makassar",
                                                                2026, 2026))
            assert not queries.summaries_usable(session, LocalClock(session, "Asia/Jakarta",
                                                                    2026, 2026))
            summed = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert summed["totals"]["received"] == 2
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM stats_day_zone"))
        with regency.engine.store.read() as session:
            assert not queries.summaries_usable(session, LocalClock(session, "Asia/Makassar",
                                                                    2026, 2026))
            counted = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert counted == summed
    finally:
        regency.engine.dispose()


def test_migration_0039_adds_the_days_up_per_month_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'back.db'}"
    migrations.upgrade(url)
    command.downgrade(migrations.alembic_config(url), "0039_stats_running")
    db = create_engine(url)
    try:
        with db.begin() as connection:
            for i, (created, status, rating) in enumerate((
                    ("2026-02-28 15:59:00.000000", "CLOSED", 4),  # 28 February WITA
                    ("2026-02-28 16:00:00.000000", "CLOSED", 5),  # 1 March WITA
                    ("2026-03-30 17:00:00.000000", "CLOSED", 3))):
                connection.execute(text(
                    "INSERT INTO complaint (tracking_number, secret_hash, classification, "
                    "misconduct, category, severity, title, body, anonymous, confidential, "
                    "channel, language, status, rating, created_at, updated_at, version) "
                    "VALUES (:t, 'x', 'pengaduan', 0, 'roads', 'medium', 'L', 'I', 0, 0, 'web', "
                    "'id', :s, :r, :c, :c, 1)"),
                    {"t": f"PPU-{i}", "s": status, "r": rating, "c": created})
        migrations.upgrade(url)
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT day, status, received, rating_sum, rating_count FROM stats_month "
                "WHERE dim = 'agency' ORDER BY day")).all()
        assert [tuple(r) for r in rows] == [("2026-02-01", "CLOSED", 1, 4, 1),
                                            ("2026-03-01", "CLOSED", 2, 8, 2)]
        command.downgrade(migrations.alembic_config(url), "0039_stats_running")
        with db.connect() as connection:
            tables = {r[0] for r in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"))}
        assert not {n for n in tables if "stats_month" in n}
        assert "stats_day" in tables
    finally:
        db.dispose()


def test_without_the_month_mark_the_counts_read_the_days(database_url, tmp_path):
    clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    regency = build(database_url, clock, tmp_path)
    try:
        regency.submit(photo=True)
        now, period = clock.now(), stats.Period(date(2026, 1, 1), date(2026, 12, 31), 2026)
        with regency.engine.store.read() as session:
            summed = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert summed["totals"]["received"] == 1
        with regency.engine.store.transaction() as session:
            session.execute(text("DELETE FROM stats_month_mark"))
            session.execute(text("DELETE FROM stats_month"))  # no longer read
        with regency.engine.store.read() as session:
            assert not queries.months_usable(session)
            counted = stats.compute(session, RegencyConfig(), period, now, cache=False)
        assert counted == summed
    finally:
        regency.engine.dispose()
