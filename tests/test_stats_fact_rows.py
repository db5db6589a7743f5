"""Migration 0038: the deadline and escalation facts added from the changed row alone (not
from all of the report's rows, as 0035 did) stay equal to a recount after random writes of
every kind, on SQLite and PostgreSQL: records and escalations filed, changed one by one or
several of a report at once, moved between reports and deleted, reports answered,
dispositioned and reassigned. tests/test_stats_facts.py checks the same after the writes
the application makes, and the figures read from the sums."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import text

import migrations
from engine import FrozenClock
from tests.regency import build
from tests.test_stats_facts import by_month, recount, summaries

STEPS = ("verification", "follow_up", "follow_up", "resolution", "info_request",
         "complainant_window")
STATES = ("running", "paused", "met", "breached")
RUNGS = ("technical", "opd", "regency")
STATUSES = ("open", "acknowledged", "resolved")
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _one(session: Any, table: str, pick: random.Random) -> int | None:
    ids = session.scalars(text(f"SELECT id FROM {table} ORDER BY id")).all()
    return pick.choice(ids) if ids else None


def _write(session: Any, pick: random.Random, reports: list[int], agencies: list[int]) -> str:
    """One random write; returns what it did (for the failure message)."""
    report = pick.choice(reports)
    late = pick.choice((None, 0.0, 60.0, 3600.5))
    kind = pick.randrange(19)
    if kind in (0, 1, 2):
        session.execute(text(
            "INSERT INTO sla_record (complaint_id, step, budget_days, holder_rung, started_at, "
            "due_at, pauses, state, rung, reminded_rungs, late_seconds) VALUES (:c, :s, :b, 0, "
            ":at, :at, '[]', :st, 0, '[]', :l)"),
            {"c": report, "s": pick.choice(STEPS), "b": pick.choice((3, 5, 10)), "at": AT,
             "st": pick.choice(STATES), "l": late})
        return "record filed"
    if kind in (3, 4):
        row = _one(session, "sla_record", pick)
        session.execute(text("UPDATE sla_record SET state = :st, late_seconds = :l, "
                             "step = CASE WHEN :move THEN :s ELSE step END WHERE id = :id"),
                        {"st": pick.choice(STATES), "l": late, "move": pick.random() < 0.3,
                         "s": pick.choice(STEPS), "id": row})
        return f"record {row} changed"
    if kind == 5:
        session.execute(text("UPDATE sla_record SET state = :st WHERE complaint_id = :c"),
                        {"st": pick.choice(STATES), "c": report})
        return f"records of {report} changed at once"
    if kind == 6:
        row = _one(session, "sla_record", pick)
        session.execute(text("UPDATE sla_record SET complaint_id = :c, budget_days = :b "
                             "WHERE id = :id"), {"c": report, "b": 7, "id": row})
        return f"record {row} moved to {report}"
    if kind == 7:
        row = _one(session, "sla_record", pick)
        session.execute(text("DELETE FROM escalation WHERE sla_id = :id"), {"id": row})
        session.execute(text("DELETE FROM sla_record WHERE id = :id"), {"id": row})
        return f"record {row} deleted"
    if kind in (8, 9):
        sla = session.scalar(text("SELECT min(id) FROM sla_record WHERE complaint_id = :c"),
                             {"c": report})
        if sla is None:
            return "no record to escalate"
        session.execute(text(
            "INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, at, due_at, "
            "status) VALUES (:c, :s, 'follow_up', (SELECT coalesce(max(rung), 0) + 1 FROM "
            "escalation WHERE sla_id = :s), :r, :at, :at, :st)"),
            {"c": report, "s": sla, "r": pick.choice(RUNGS), "at": AT,
             "st": pick.choice(STATUSES)})
        return "escalation filed"
    if kind == 10:
        row = _one(session, "escalation", pick)
        session.execute(text("UPDATE escalation SET status = :st, rung_name = CASE WHEN :move "
                             "THEN :r ELSE rung_name END WHERE id = :id"),
                        {"st": pick.choice(STATUSES), "move": pick.random() < 0.3,
                         "r": pick.choice(RUNGS), "id": row})
        return f"escalation {row} changed"
    if kind == 11:
        row = _one(session, "escalation", pick)
        if pick.random() < 0.5:
            session.execute(text("UPDATE escalation SET complaint_id = :c WHERE id = :id"),
                            {"c": report, "id": row})
            return f"escalation {row} moved to {report}"
        session.execute(text("DELETE FROM escalation WHERE id = :id"), {"id": row})
        return f"escalation {row} deleted"
    if kind == 12:
        session.execute(text("UPDATE escalation SET status = :st WHERE complaint_id = :c"),
                        {"st": pick.choice(STATUSES), "c": report})
        return f"escalations of {report} changed at once"
    if kind in (13, 14, 15):  # answered, dispositioned or not: `unanswered` alone
        session.execute(text("UPDATE complaint SET disposed_at = :d, first_answer_at = :a "
                             "WHERE id = :c"),
                        {"d": pick.choice((None, AT)), "a": pick.choice((None, AT)),
                         "c": report})
        return f"report {report} answered or dispositioned"
    # a key: the agency, or the day of receipt (all of the report's facts move)
    if kind < 18:
        session.execute(text("UPDATE complaint SET agency_id = :a, disposed_at = :d, "
                             "first_answer_at = :f WHERE id = :c"),
                        {"a": pick.choice(agencies), "d": pick.choice((None, AT)),
                         "f": pick.choice((None, AT)), "c": report})
        return f"report {report} reassigned"
    session.execute(text("UPDATE complaint SET created_at = :at WHERE id = :c"),
                    {"at": AT - timedelta(days=pick.choice((1, 40))), "c": report})
    return f"report {report} received on another day"


def test_random_writes_keep_the_fact_sums_equal_to_a_recount(database_url, tmp_path):
    regency = build(database_url, FrozenClock(AT), tmp_path)
    pick = random.Random(38)
    try:
        for category in ("roads", "street_lights", "health", "waste"):
            regency.submit(category=category)
        with regency.engine.store.read() as session:
            reports = list(session.scalars(text("SELECT id FROM complaint ORDER BY id")))
            agencies = list(session.scalars(text("SELECT id FROM agency ORDER BY id")))[:3]
        done: list[str] = []
        unanswered = 0  # checks that found an `unanswered` fact
        for round_ in range(100):
            with regency.engine.store.transaction() as session:
                for _ in range(pick.randint(1, 4)):
                    done.append(_write(session, pick, reports, agencies))
            with regency.engine.store.read() as session:
                days = summaries(session)
                assert days == recount(session), (round_, done[-4:])
                assert summaries(session, "stats_fact_month") == by_month(days), round_
                unanswered += any(key[5] == "unanswered" for key in days)
        kinds = {what.split()[0] + " " + what.split()[-1] for what in done}
        assert len(done) >= 200 and len(kinds) > 10, kinds  # every kind of write was made
        assert unanswered >= 5, unanswered
    finally:
        regency.engine.dispose()


def _fact_triggers(session: Any) -> dict[str, str]:
    """The facts' trigger code by name: SQLite's triggers, PostgreSQL's functions."""
    if session.get_bind().dialect.name == "sqlite":
        return dict(session.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'trg_stats_fact_%'")).all())
    return dict(session.execute(text(
        "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'aduan_stats_fact_%'")).all())


def test_the_migration_goes_back_to_0035s_triggers_and_forward_again(database_url, tmp_path):
    regency = build(database_url, FrozenClock(AT), tmp_path)
    config = migrations.alembic_config(database_url)
    sqlite = regency.engine.store.db.dialect.name == "sqlite"
    sla = "trg_stats_fact_sla_update" if sqlite else "aduan_stats_fact_sla"
    try:
        report = regency.submit(photo=True)
        regency.act(report["tracking_number"], "verify", as_="admin.kominfo")
        with regency.engine.store.read() as session:
            now = _fact_triggers(session)
        assert "EXCEPT" not in now[sla] and "NOT EXISTS" in now[sla]
        assert ("trg_stats_fact_complaint_answered" in now) is sqlite
        regency.engine.store.db.dispose()
        command.downgrade(config, "0037_stats_speeds")
        with regency.engine.store.read() as session:
            before = _fact_triggers(session)
        assert "EXCEPT" in before[sla] and "trg_stats_fact_complaint_answered" not in before
        assert set(before) == set(now) - {"trg_stats_fact_complaint_answered"}
        regency.act(report["tracking_number"], "dispose", as_="admin.kominfo",
                    agency_code="dinas_pupr")  # counted by 0035's triggers
        with regency.engine.store.read() as session:
            assert summaries(session) == recount(session)
        regency.engine.store.db.dispose()
        command.upgrade(config, "head")
        with regency.engine.store.read() as session:
            assert _fact_triggers(session) == now
        regency.advance(days=9)  # the follow-up deadline passes: records and escalations
        with regency.engine.store.read() as session:
            days = summaries(session)
            assert days == recount(session)
            assert any(key[5] == "esc" for key in days)
    finally:
        regency.engine.dispose()
        command.upgrade(config, "head")
