"""workflows/sla.py's watch, as a timer firing runs it: what it sends, and the statements it
needs (the report, its open records and the configuration's tokens read by one, the
escalations written by one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from tests.test_history import _at_follow_up
from workflows.models import Escalation, SlaRecord


def _fire_counting(regency) -> tuple[list, list[str]]:
    """Fire what is due, keeping every statement's text."""
    texts: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        texts.append(" ".join(statement.split()))

    db = regency.engine.store.db
    event.listen(db, "before_cursor_execute", keep)
    try:
        reports = regency.domain.operations.fire_due_timers(100)
    finally:
        event.remove(db, "before_cursor_execute", keep)
    return reports, texts


def _count(texts: list[str], start: str, table: str) -> int:
    return sum(1 for t in texts if t.startswith(start) and f" {table} " in f"{t} ")


def test_a_late_watch_climbs_every_missed_rung_reading_and_writing_once(tmp_path, demo_template):
    """A sweep that ran weeks late: one firing climbs every rung the follow-up deadline
    missed meanwhile, each once (the resolution deadline's too), with one statement reading
    the report and its open records and one writing all the escalations."""
    regency, clock, _tokens, _number, _instance = _at_follow_up(tmp_path, demo_template)
    try:
        clock.advance(timedelta(days=28))
        reports, texts = _fire_counting(regency)
        assert sum(len(r.fired) for r in reports) == 1
        assert not any(r.failed for r in reports)
        with regency.engine.store.read() as session:
            record = session.execute(select(SlaRecord.id, SlaRecord.rung, SlaRecord.holder_rung)
                                     .where(SlaRecord.step == "follow_up")).one()
            escalations = session.execute(select(Escalation.sla_id, Escalation.rung)
                                          .order_by(Escalation.id)).all()
        ours = [e for e in escalations if e.sla_id == record.id]
        climbed = record.rung - record.holder_rung
        assert climbed >= 2  # several rungs in one firing
        assert ours == [(record.id, record.holder_rung + k + 1) for k in range(climbed)]
        assert len(escalations) > len(ours)  # the resolution deadline climbed too
        selects = [t for t in texts if t.startswith("SELECT")]
        assert _count(selects, "SELECT", "complaint") == 1
        assert [t for t in selects if " FROM sla_record" in t] == []  # joined to the report
        # the configuration's tokens (calendar, settings) came with the report
        assert [t for t in selects if t.startswith("SELECT config_revision")] == []
        assert _count(texts, "INSERT INTO", "escalation") == 1

        clock.advance(timedelta(hours=1))  # nothing more is due: the next firing is a day on
        reports, _texts = _fire_counting(regency)
        assert sum(len(r.fired) for r in reports) == 0
    finally:
        regency.engine.dispose()


def test_a_watch_firing_climbs_plain_rows_and_writes_only_the_rung(tmp_path, demo_template):
    """The watch, first in its firing to read the report, reads it and its records as plain
    rows (no ORM object of either is loaded) and writes each climbed record's rung alone,
    as the unit of work would (the statistics' triggers watch columns)."""
    from workflows.models import Complaint

    regency, clock, _tokens, _number, _instance = _at_follow_up(tmp_path, demo_template)
    loaded: list[str] = []

    def count(target, _context) -> None:
        loaded.append(type(target).__name__)

    try:
        clock.advance(timedelta(days=28))
        for model in (Complaint, SlaRecord):
            event.listen(model, "load", count)
        try:
            reports, texts = _fire_counting(regency)
        finally:
            for model in (Complaint, SlaRecord):
                event.remove(model, "load", count)
        assert sum(len(r.fired) for r in reports) == 1 and loaded == []
        updates = [t for t in texts if t.startswith("UPDATE sla_record")]
        assert len(updates) == 2  # the follow-up and the resolution deadlines climbed
        # the follow-up climbed; the resolution deadline climbed and reminded its new rung
        assert [t.split(" WHERE")[0].replace("%(", "?").split("?")[0] for t in updates] == [
            "UPDATE sla_record SET rung=", "UPDATE sla_record SET rung="], updates
        assert "reminded_rungs" not in updates[0] and "reminded_rungs" in updates[1]
        with regency.engine.store.read() as session:
            rungs = session.execute(select(SlaRecord.step, SlaRecord.rung - SlaRecord.holder_rung)
                                    .where(SlaRecord.state == "running")).all()
        assert {step for step, climbed in rungs if climbed >= 2} >= {"follow_up"}
    finally:
        regency.engine.dispose()


def test_on_postgres_a_watch_firing_writes_its_climbs_escalations_and_messages_in_one_statement(
        regency, clock):
    """On PostgreSQL the records' new rungs, the escalations and the messages of a firing
    are written by one statement (engine/operation.py, `write_staged`), and what it wrote is
    what the separate statements wrote: each climbed rung escalated once, every message
    with its columns, the outbox's Python-side default (`attempts`) given."""
    from tests.regency import PHOTO
    from tests.test_history import REPORT
    from workflows.models import Outbox
    from workflows.storage import Upload

    if not regency.engine.store.postgres:
        pytest.skip("SQLite writes each table's rows and each update by a statement of its own")
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    domain = regency.domain
    admin = domain.accounts.authenticate_token(regency.tokens["admin.kominfo"])
    number = domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                   channel="web")["tracking_number"]
    domain.reports.act(number, "verify", {}, admin)
    domain.reports.act(number, "dispose", {"agency_code": "dinas_pupr"}, admin)
    with regency.engine.store.read() as session:
        messages_before = session.scalar(select(func.count()).select_from(Outbox))
    clock.advance(timedelta(days=28))
    reports, texts = _fire_counting(regency)
    assert sum(len(r.fired) for r in reports) == 1 and not any(r.failed for r in reports)
    writes = [t for t in texts if t.startswith(("INSERT", "UPDATE", "WITH w"))
              and not t.startswith("UPDATE timer")]  # the claim
    assert len(writes) == 1, writes  # the engine's own save aside ("WITH saved")
    merged = writes[0]
    assert merged.count("UPDATE sla_record") == 2  # the follow-up and resolution deadlines
    assert merged.count("INSERT INTO escalation") == 1 and "INSERT INTO outbox" in merged
    with regency.engine.store.read() as session:
        records = session.execute(select(SlaRecord.id, SlaRecord.rung, SlaRecord.holder_rung,
                                         SlaRecord.reminded_rungs)
                                  .where(SlaRecord.state == "running")).all()
        escalations = session.execute(select(Escalation.sla_id, Escalation.rung, Escalation.status,
                                             Escalation.complaint_created_at)
                                      .order_by(Escalation.id)).all()
        messages = session.execute(select(Outbox.attempts, Outbox.template, Outbox.status)
                                   .order_by(Outbox.id).offset(messages_before)).all()
    for record in records:  # every rung climbed was escalated, once, in order
        assert [(e.rung, e.status) for e in escalations if e.sla_id == record.id] == [
            (rung, "open") for rung in range(record.holder_rung + 1, record.rung + 1)]
    assert sum(r.rung - r.holder_rung for r in records) == len(escalations) >= 3
    assert all(e.complaint_created_at is not None for e in escalations)  # its trigger ran
    assert any(r.reminded_rungs for r in records)
    assert messages and {m.attempts for m in messages} == {0}
    assert {m.template for m in messages} >= {"escalated"}
