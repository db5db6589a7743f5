"""Migration 0043: on PostgreSQL a new escalation's statistics facts are worked out with one
read of the report's other escalations (0038's trigger read them once for each fact a
report has or not), and the sums stay equal to a recount; the migration goes back to 0038's
function and forward."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

import migrations
from engine import FrozenClock
from tests.regency import build
from tests.test_stats_facts import by_month, recount, summaries

AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
INSERT = text("INSERT INTO escalation (complaint_id, sla_id, step, rung, rung_name, at, due_at, "
              "status) SELECT complaint_id, id, step, :rung, :name, :at, :at, :status "
              "FROM sla_record WHERE id = :sla")
SCANS = text("SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
             "WHERE relname = 'escalation'")


def _escalate(session: Any, sla: int, rung: int, name: str, status: str) -> int:
    """Insert an escalation; how many times its statement read the escalation table."""
    before = session.scalar(SCANS)
    session.execute(INSERT, {"sla": sla, "rung": rung, "name": name, "status": status,
                             "at": AT})
    return session.scalar(SCANS) - before


def test_an_escalation_insert_reads_the_reports_escalations_once_and_keeps_the_sums(
        database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's triggers are 0038's (made again by 0041): unchanged")
    regency = build(database_url, FrozenClock(AT), tmp_path)
    config = migrations.alembic_config(database_url)
    try:
        report = regency.submit(photo=True)
        with regency.engine.store.transaction() as session:
            sla = session.scalar(text(
                "SELECT s.id FROM sla_record s JOIN complaint c ON c.id = s.complaint_id "
                "WHERE c.tracking_number = :t"), {"t": report["tracking_number"]})
            # the report's first escalation (every fact new), one more of the same rung
            # (only its own sum), an open one of another rung, one more open of it
            assert _escalate(session, sla, 1, "opd", "open") == 1
            assert _escalate(session, sla, 2, "opd", "resolved") == 1
            assert _escalate(session, sla, 3, "regency", "open") == 1
            assert _escalate(session, sla, 4, "regency", "open") == 1
        with regency.engine.store.read() as session:
            days = summaries(session)
            assert days == recount(session)
            assert summaries(session, "stats_fact_month") == by_month(recount(session))
            esc = {key[5:8]: value[0] for key, value in days.items() if key[5].startswith("esc")}
        assert esc == {("esc", "opd", "open"): 1, ("esc", "opd", "resolved"): 1,
                       ("esc", "regency", "open"): 2, ("esc_rung", "opd", ""): 1,
                       ("esc_rung", "opd", "open"): 1, ("esc_rung", "regency", ""): 1,
                       ("esc_rung", "regency", "open"): 1, ("esc_any", "", ""): 1,
                       ("esc_any", "", "open"): 1}

        regency.engine.store.db.dispose()
        command.downgrade(config, "0042_state_lz4")
        with regency.engine.store.transaction() as session:  # 0038's: a read for each fact
            assert _escalate(session, sla, 5, "province", "open") == 4
        regency.engine.store.db.dispose()
        command.upgrade(config, "head")
        with regency.engine.store.transaction() as session:
            assert _escalate(session, sla, 6, "province", "open") == 1
        with regency.engine.store.read() as session:
            assert summaries(session) == recount(session)
    finally:
        regency.engine.dispose()
        command.upgrade(config, "head")


def test_a_firing_escalating_several_rungs_at_once_keeps_the_sums(regency, clock):
    """A report left four weeks: one firing escalates several rungs, whose rows (and the
    record's climb) reach PostgreSQL in one statement (engine/operation.py `_merged`); each
    escalation's facts trigger then sees its siblings of that statement, and the sums must
    still equal a recount."""
    from datetime import timedelta

    from tests.regency import PHOTO
    from tests.test_history import REPORT
    from workflows.storage import Upload

    domain = regency.domain
    admin = domain.accounts.authenticate_token(regency.tokens["admin.kominfo"])
    for _ in range(3):
        number = domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                       channel="web")["tracking_number"]
        domain.reports.act(number, "verify", {}, admin)
        domain.reports.act(number, "dispose", {"agency_code": "dinas_pupr"}, admin)
    clock.advance(timedelta(days=28))
    reports = domain.operations.fire_due_timers(100)
    assert not any(r.failed for r in reports)
    with regency.engine.store.read() as session:
        several = session.scalar(text(
            "SELECT count(*) FROM (SELECT complaint_id, at FROM escalation "
            "GROUP BY complaint_id, at HAVING count(*) > 1) AS x"))
        assert several  # the case under test: several escalations of one report at once
        assert summaries(session) == recount(session)
        assert summaries(session, "stats_fact_month") == by_month(recount(session))
