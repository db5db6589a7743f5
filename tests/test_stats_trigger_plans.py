"""Migration 0041: on SQLite the statistics' triggers look a report's other rows up through
the report's index, so that what a write costs inside SQLite does not grow with the rows
of other reports (before it, a database never analyzed walked every SLA record of the same
state for each SLA record written; counted in SQLite's virtual machine instructions, which
do not move with the machine's load), and write the working-time measures back only when
they change; on PostgreSQL an UPDATE that changes no counted column calls none of the
summaries' trigger functions. The sums stay equal to a recount either way."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text

import migrations
from engine import FrozenClock
from tests import test_stats_days as days
from tests import test_stats_facts as facts
from tests.regency import build

AT = "2026-03-02 01:00:00.000000"
COMPLAINT = (
    "INSERT INTO complaint (tracking_number, secret_hash, classification, misconduct, "
    "category, severity, title, body, anonymous, confidential, channel, language, status, "
    "created_at, updated_at, disposed_at, version) VALUES (?, 'x', 'pengaduan', 0, 'roads', "
    "'medium', 'L', 'I', 0, 0, 'web', 'id', 'DISPOSED', ?, ?, ?, 1)")
RECORD = (
    "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, due_at, "
    "pauses, state, rung, reminded_rungs, late_seconds) VALUES (?, ?, 5, 0, ?, ?, '[]', ?, 0, "
    "'[]', ?)")
ESCALATION = (
    "INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, at, due_at, status) "
    "VALUES (?, ?, 'follow_up', ?, 'opd', ?, ?, ?)")
# One report's writes, each a statement whose triggers read the report's other rows.
WRITES = (
    ("UPDATE sla_record SET state = 'met', late_seconds = 0 WHERE id = :sla"),
    ("UPDATE sla_record SET state = 'breached', late_seconds = 60 WHERE id = :sla"),
    ("UPDATE escalation SET status = 'resolved' WHERE id = :esc"),
    ("UPDATE complaint SET first_answer_at = '2026-03-03 01:00:00.000000' WHERE id = :report"),
    ("UPDATE complaint SET agency_id = 2 WHERE id = :report"),
    ("DELETE FROM escalation WHERE id = :esc"),
    ("DELETE FROM sla_record WHERE id = :sla"),
)


def _report(connection: sqlite3.Connection, number: str, state: str) -> tuple[int, int, int]:
    """A dispositioned report with four SLA records in ``state`` and an escalation."""
    report = connection.execute(COMPLAINT, (number, AT, AT, AT)).lastrowid
    records = [connection.execute(RECORD, (report, step, AT, AT, state, 0.0)).lastrowid
               for step in ("verification", "follow_up", "resolution", "follow_up")]
    escalation = connection.execute(
        ESCALATION, (report, records[1], 1, AT, AT, "open" if state == "running" else "resolved")
    ).lastrowid
    assert report is not None and escalation is not None
    return report, records[1], escalation


def _instructions(path: Path, others: int) -> list[int]:
    """SQLite's instructions for each of WRITES on a report of its own, with ``others``
    reports stored beside it (each with running, met and breached records)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        for i in range(others):
            _report(connection, f"PPU-O{i}", ("met", "running", "breached")[i % 3])
        report, sla, escalation = _report(connection, "PPU-MINE", "running")
        connection.execute("COMMIT")
        counted = [0]

        def tick() -> int:
            counted[0] += 1
            return 0

        found = []
        for write in WRITES:
            connection.execute("BEGIN")
            connection.execute("SELECT 1 FROM complaint WHERE 0").fetchall()  # schema read
            connection.set_progress_handler(tick, 1)
            counted[0] = 0
            connection.execute(write, {"sla": sla, "esc": escalation, "report": report})
            connection.set_progress_handler(None, 1)
            found.append(counted[0])
            connection.execute("ROLLBACK")
        return found
    finally:
        connection.close()


def test_a_write_costs_the_same_whatever_other_reports_are_stored(sqlite_url, tmp_path):
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    few = tmp_path / "few.db"
    few.write_bytes(path.read_bytes())
    alone = _instructions(few, 3)
    beside = _instructions(path, 300)
    # the same instructions, give or take a B-tree level more in the larger tables
    assert all(b <= a * 1.05 + 60 for a, b in zip(alone, beside, strict=True)), \
        list(zip(WRITES, alone, beside, strict=True))


def _triggers(url: str) -> dict[str, str]:
    """The summaries' triggers by name: SQLite's statements, PostgreSQL's definitions."""
    db = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with db.connect() as connection:
            if db.dialect.name == "postgresql":
                return dict(connection.execute(text(
                    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT "
                    "tgisinternal AND tgname LIKE 'trg_stats_%'")).all())
            return dict(connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND (name LIKE 'trg_stats_%' OR name LIKE 'trg_work_%')")).all())
    finally:
        db.dispose()


def test_migration_0041_goes_back_to_the_earlier_triggers_and_forward(database_url):
    config = migrations.alembic_config(database_url)
    now = _triggers(database_url)
    try:
        command.downgrade(config, "0040_stats_months")
        before = _triggers(database_url)
    finally:
        command.upgrade(config, "head")
    assert _triggers(database_url) == now
    if "postgresql" in database_url:
        split = {"trg_stats_day", "trg_stats_month", "trg_stats_fact_complaint",
                 "trg_stats_fact_sla", "trg_stats_fact_esc"}
        assert set(now) - set(before) == {f"{name}_update" for name in split}
        assert all("UPDATE" in before[name] and "UPDATE" not in now[name] for name in split)
        assert "WHEN" in now["trg_stats_fact_sla_update"]
        return
    assert "+s.state" in now["trg_stats_fact_sla_update"]
    assert "+s.state = 'running'" in now["trg_stats_running_sla_update"]
    assert "IS NOT m.work_close_s" in now["trg_work_measures_update"]
    assert set(before) == set(now)
    assert not any("+s." in sql or "+b." in sql or " m." in sql for sql in before.values())
    changed = {name for name in now if now[name] != before[name]}
    assert {"trg_stats_fact_sla_update", "trg_stats_fact_complaint_answered",
            "trg_stats_running_complaint_update", "trg_work_measures_insert",
            "trg_work_measures_update"} <= changed


def _measures(connection: sqlite3.Connection, report: int) -> tuple:
    return connection.execute(
        "SELECT work_answer_s, work_verify_s, work_close_s FROM complaint WHERE id = ?",
        (report,)).fetchone()


def _logged(connection: sqlite3.Connection) -> tuple[int, int]:
    return (connection.execute("SELECT count(*) FROM case_change").fetchone()[0],
            connection.execute("SELECT count(*) FROM stats_change").fetchone()[0])


def test_the_measures_are_written_back_only_when_one_changes(sqlite_url):
    """SQLite's measures (0037's arithmetic): a new report without the times they end at
    keeps them NULL, a measure written by hand on it is still replaced; an update that
    moves no measure (a disposition before any answer) writes nothing back, so the change
    logs get the update's own row only; one that moves a measure still writes it."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        plain = connection.execute(COMPLAINT, ("PPU-1", AT, AT, None)).lastrowid
        assert _measures(connection, plain) == (None, None, None)
        by_hand = connection.execute(COMPLAINT.replace("version)", "version, work_close_s)")
                                     .replace("1)", "1, 5)"), ("PPU-2", AT, AT, None)).lastrowid
        assert _measures(connection, by_hand) == (None, None, None)
        verified = connection.execute(
            COMPLAINT.replace("version)", "version, verified_at)").replace("1)", "1, ?)"),
            ("PPU-3", AT, AT, None, "2026-03-02 05:00:00.000000")).lastrowid
        assert _measures(connection, verified) == (None, 4 * 3600, None)
        logged = _logged(connection)
        connection.execute("UPDATE complaint SET disposed_at = ? WHERE id = ?",
                           ("2026-03-02 06:00:00.000000", verified))
        assert _logged(connection) == (logged[0] + 1, logged[1] + 1)
        assert _measures(connection, verified) == (None, 4 * 3600, None)
        connection.execute("UPDATE complaint SET first_answer_at = ? WHERE id = ?",
                           ("2026-03-02 07:00:00.000000", verified))
        assert _measures(connection, verified) == (3600, 4 * 3600, None)
        connection.execute("UPDATE complaint SET work_verify_s = 1 WHERE id = ?", (verified,))
        assert _measures(connection, verified) == (3600, 4 * 3600, None)
        # the yearly sums hold what the stored measures say
        sums = connection.execute(
            "SELECT measure, sum(n), sum(total) FROM stats_speed_year GROUP BY measure "
            "HAVING sum(n) <> 0 ORDER BY measure").fetchall()
        assert sums == [(0, 1, 3600), (1, 1, 4 * 3600)]
    finally:
        connection.close()


# The summaries' trigger functions on PostgreSQL that an UPDATE changing nothing they count
# no longer calls (their UPDATE triggers' WHEN).
SPLIT = ("aduan_stats_day_complaint", "aduan_stats_month_complaint",
         "aduan_stats_fact_complaint", "aduan_stats_fact_sla", "aduan_stats_fact_esc")


def _calls(session: Any) -> dict[str, int]:
    """PL/pgSQL calls so far in this transaction, of SPLIT's functions."""
    return {name: int(calls) for name, calls in session.execute(text(
        "SELECT funcname, calls FROM pg_stat_xact_user_functions")).all() if name in SPLIT}


def _equal_to_a_recount(regency: Any) -> None:
    with regency.reads() as session:
        found = facts.summaries(session)
        assert found == facts.recount(session)
        assert facts.summaries(session, "stats_fact_month") == facts.by_month(found)
        found = days.summaries(session)
        assert found == days.recount(session)
        assert days.summaries(session, "stats_month") == days.by_month(found)


def test_updates_of_columns_nothing_counts_call_nothing_and_keep_the_sums(database_url,
                                                                          tmp_path):
    regency = build(database_url, FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC)),
                    tmp_path)
    postgres = regency.engine.store.postgres
    try:
        number = regency.submit(photo=True)["tracking_number"]
        regency.act(number, "verify", as_="admin.kominfo")
        regency.act(number, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
        regency.advance(days=9)  # the follow-up deadline passes: rungs climbed, escalations
        with regency.transaction() as session:
            if postgres:
                session.execute(text("SET LOCAL track_functions = 'pl'"))
            # a rung, reminders, an escalation's acknowledgement, a report's version, title
            # and time of update: nothing the summaries count
            session.execute(text("UPDATE sla_record SET rung = rung + 1, holder_rung = 1, "
                                 "reminded_rungs = '[1, 2]'"))
            assert session.execute(text("UPDATE escalation SET acknowledged_by = 'kadis', "
                                        "comment = 'dibaca'")).rowcount > 0
            session.execute(text("UPDATE complaint SET version = version + 1, title = 'Lain', "
                                 "updated_at = created_at"))
            if postgres:
                assert _calls(session) == {}
            # a counted column of each: each function called once a row
            session.execute(text("UPDATE sla_record SET late_seconds = 60 WHERE id = "
                                 "(SELECT min(id) FROM sla_record)"))
            session.execute(text("UPDATE escalation SET status = 'resolved' WHERE id = "
                                 "(SELECT min(id) FROM escalation)"))
            session.execute(text("UPDATE complaint SET status = 'RESPONDED', "
                                 "first_answer_at = updated_at"))
            if postgres:
                assert _calls(session) == dict.fromkeys(SPLIT, 1)
        _equal_to_a_recount(regency)
    finally:
        regency.engine.dispose()
