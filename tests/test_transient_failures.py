"""A write the database refuses for another transaction's sake (a deadlock, a lock not
granted; SQLite still locked after its busy timeout) voids that transaction and nothing else
(engine.store.transient_failure): the operation runs again (engine.operation.replayable,
TRANSIENT_ATTEMPTS runs in all); past that the timer sweep fires the timer at its next
sweep instead of putting the report's instance in error, and the API and the pages answer
409 "send it again" instead of 500. The deadlocks here are real: another connection holds
rows the operation needs, then asks for the row the operation holds. Each is at the engine's
own write; one at a service's statement counts the same (InstanceTransaction._attempt)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from engine import SweepReport
from engine import operation as engine_operation
from engine.store import transient_failure
from tests.lock_waits import until_waiting
from tests.regency import build
from workflows.models import Complaint, Escalation


def _ids(regency: Any, tracking: str) -> dict[str, int]:
    with regency.reads() as session:
        complaint, instance = session.execute(select(Complaint.id, Complaint.instance_id).where(
            Complaint.tracking_number == tracking)).one()
    return {"complaint": complaint, "instance": instance}


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """The test database, its new connections looking for deadlocks after 3 s (the server's
    default is 1 s): time for the other transaction of deadlocked() to ask for its second
    row on a busy machine before the operation's transaction looks."""
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET deadlock_timeout = \'3s\'')
    yield postgres_url
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" RESET deadlock_timeout')


@pytest.fixture
def regency(pg_url: str, clock: Any, tmp_path: Any) -> Iterator[Any]:
    """The demo regency on pg_url's database."""
    made = build(pg_url, clock, tmp_path)
    yield made
    made.engine.dispose()


def deadlocked(url: str, hold: list[str], then: str, values: dict[str, Any],
               run: Callable[[], Any]) -> Any:
    """``run()`` in a thread while another transaction holds the rows ``hold`` locks; once
    run's transaction waits for them, the other asks for a row run holds (``then``), and
    PostgreSQL finds the deadlock. The other transaction waits 60 s before it looks, run's
    3 s (pg_url), so run's transaction is the one refused, even on a busy machine. What run
    returned, or the exception it raised."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["value"] = exc

    with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as watcher:
        blocker.execute("SET deadlock_timeout = '60s'")
        for statement in hold:
            assert blocker.execute(statement, values).fetchall(), statement
        thread = threading.Thread(target=target)
        thread.start()
        until_waiting(lambda: bool(watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'").fetchone()[0]), thread,
            "it never waited for the held rows", seconds=20)
        blocker.execute(then, values)  # granted once run's transaction is refused
        blocker.rollback()
        thread.join(60)
    assert not thread.is_alive()
    return outcome["value"]


THEN_INSTANCE = "SELECT id FROM process_instance WHERE id = %(instance)s FOR UPDATE"
HOLD_TIMERS = ["SELECT id FROM timer WHERE id = ANY(%(timers)s) FOR UPDATE"]
HOLD_TASKS = ["SELECT id FROM human_task WHERE instance_id = %(instance)s FOR UPDATE"]


def _escalations(regency: Any, complaint: int) -> int:
    with regency.reads() as session:
        return session.scalar(select(text("count(*)")).select_from(Escalation).where(
            Escalation.complaint_id == complaint))


def _instance_state(regency: Any, instance: int) -> tuple[str, int, int]:
    """The instance's status, its incidents, its timers still claimed."""
    with regency.reads() as session:
        return tuple(session.execute(text(
            "SELECT status, (SELECT count(*) FROM incident WHERE instance_id = :i), "
            "(SELECT count(*) FROM timer WHERE instance_id = :i AND claimed_by IS NOT NULL) "
            "FROM process_instance WHERE id = :i"), {"i": instance}).one())


def _firing_deadlocked(regency: Any, clock: Any, url: str) -> tuple[dict[str, int], Any, Any]:
    """A report whose screening deadline has passed, its SLA watch's timer claimed and
    fired while another transaction holds the timer's row (the firing deletes it)."""
    tracking = regency.submit(photo=True)["tracking_number"]
    ids = _ids(regency, tracking)
    clock.advance(timedelta(days=5))  # the watch's next firing climbs the ladder
    sweep = regency.engine.timer_sweep
    timers = [(timer, element) for timer, instance, element in sweep.claim(clock.now(), 500)
              if instance == ids["instance"]]
    assert timers
    report = SweepReport()
    failure = deadlocked(url, HOLD_TIMERS, THEN_INSTANCE, {**ids, "timers": [t for t, _ in timers]},
                         lambda: sweep._fire_alone(ids["instance"], timers, None, report))
    assert failure is None, failure
    return ids, report, timers


def test_a_deadlocked_timer_firing_runs_again_at_once(regency, pg_url, clock):
    ids, report, _timers = _firing_deadlocked(regency, clock, pg_url)
    assert report.failed == [] and len(report.fired) == 1, report.as_dict()
    assert _instance_state(regency, ids["instance"]) == ("running", 0, 0)
    assert _escalations(regency, ids["complaint"]) == 1  # climbed once, not twice


def test_a_firing_deadlocked_every_time_waits_for_the_next_sweep_not_in_error(
        regency, pg_url, clock, monkeypatch):
    monkeypatch.setattr(engine_operation, "TRANSIENT_ATTEMPTS", 1)
    ids, report, timers = _firing_deadlocked(regency, clock, pg_url)
    assert report.failed == [] and report.fired == [], report.as_dict()
    assert report.deferred == len(timers)
    # nothing of it was kept, and its timers are free for the next sweep
    assert _instance_state(regency, ids["instance"]) == ("running", 0, 0)
    assert _escalations(regency, ids["complaint"]) == 0
    regency.advance(seconds=1)  # the next sweep fires it, and the report climbs once
    assert _escalations(regency, ids["complaint"]) == 1


def _verify_deadlocked(regency: Any, url: str) -> tuple[str, Any]:
    tracking = regency.submit(photo=True)["tracking_number"]
    answer = deadlocked(url, HOLD_TASKS, THEN_INSTANCE, _ids(regency, tracking),
                        lambda: regency.client.post(
                            f"/api/v1/complaints/{tracking}/actions/verify", json={},
                            headers=regency.headers("admin.kominfo")))
    return tracking, answer


def test_a_deadlocked_action_runs_again_and_is_done_once(regency, pg_url):
    tracking, answer = _verify_deadlocked(regency, pg_url)
    assert answer.status_code == 200, answer.get_json()
    assert regency.report(tracking)["status"] == "VERIFIED"
    verified = [e for e in regency.report(tracking)["history"] if e["kind"] == "verify"]
    assert len(verified) == 1


def test_an_action_deadlocked_every_time_answers_409_and_keeps_nothing(
        regency, pg_url, monkeypatch):
    monkeypatch.setattr(engine_operation, "TRANSIENT_ATTEMPTS", 1)
    tracking, answer = _verify_deadlocked(regency, pg_url)
    assert answer.status_code == 409, answer.get_json()
    assert "Send it again" in answer.get_json()["error"]["message"]
    assert answer.headers["Retry-After"] == "1"
    assert regency.report(tracking)["status"] == "SUBMITTED"  # nothing of it was kept
    regency.act(tracking, "verify", as_="admin.kominfo")
    assert regency.report(tracking)["status"] == "VERIFIED"


def test_what_counts_as_another_transactions_refusal(tmp_path, postgres_url):
    """Real errors of both databases: a deadlock and a lock not granted (PostgreSQL), a
    database still locked (SQLite) are; a broken constraint, a syntax error are not."""
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t_transient (id int PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t_transient VALUES (1)"))
    try:
        with db.connect() as holder, db.connect() as other:
            holder.begin()
            holder.execute(text("SELECT id FROM t_transient FOR UPDATE"))
            other.begin()
            other.execute(text("SET LOCAL lock_timeout = '50ms'"))
            with pytest.raises(OperationalError) as refused:
                other.execute(text("SELECT id FROM t_transient FOR UPDATE"))
            assert transient_failure(refused.value)
            assert transient_failure(refused.value, waited=False)
            other.rollback()
            holder.rollback()
        with db.connect() as conn, pytest.raises(IntegrityError) as broken:
            conn.execute(text("INSERT INTO t_transient VALUES (1)"))
        assert not transient_failure(broken.value)
        with db.connect() as conn, pytest.raises(Exception) as wrong:
            conn.execute(text("SELEC 1"))
        assert not transient_failure(wrong.value)
    finally:
        with db.begin() as conn:
            conn.execute(text("DROP TABLE t_transient"))
        db.dispose()

    path = tmp_path / "locked.db"
    lite = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    with lite.begin() as conn:
        conn.execute(text("CREATE TABLE t (id int)"))
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with lite.connect() as conn, pytest.raises(OperationalError) as locked:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
        assert transient_failure(locked.value)
        assert not transient_failure(locked.value, waited=False)  # not again at once
        try:
            raise RuntimeError("a service failed") from locked.value
        except RuntimeError as wrapped:  # raised from it: still the database's refusal
            assert transient_failure(wrapped)
    finally:
        holder.rollback()
        holder.close()
        lite.dispose()
    assert not transient_failure(RuntimeError("diagram code failed"))
