"""The scheduler: sweeps, heartbeats, digests, status and metrics; real processes on
PostgreSQL fire every deadline exactly once, even when one is killed mid-sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.regency import build
from web.config import Settings
from web.scheduler import Scheduler
from workflows.models import Escalation, Outbox, SchedulerHeartbeat

ADUAN = str(Path(sys.executable).parent / "aduan")


def test_a_tick_sweeps_only_when_a_timer_is_due_and_beats(regency):
    scheduler = Scheduler(regency.domain, Settings(database_url="unused"))
    tracking = regency.submit(photo=True)["tracking_number"]
    assert scheduler.tick() == 0  # the verification watch is days away: one index lookup
    regency.clock.advance(days=2)  # Wed 4 Mar 09:00: one working day before Thursday's due
    assert scheduler.tick() == 1
    scheduler.heartbeat()
    with regency.reads() as session:
        beat = session.scalars(select(SchedulerHeartbeat)).one()
        assert beat.timers_fired == 1 and beat.worker_id == scheduler.worker_id
        reminded = session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.template == "sla_reminder"))
    assert reminded >= 1
    assert regency.report(tracking)["sla"]["rung_name"] == "regency_admin"
    regency.clock.advance(days=1)  # the deadline: one rung up
    assert scheduler.tick() == 1
    assert regency.report(tracking)["sla"]["rung_name"] == "regional_head"


def test_status_reports_lateness_backlog_incidents_and_heartbeats(regency):
    regency.submit(photo=True)
    regency.clock.advance(days=10)
    document = regency.domain.operations.status()
    assert document["timers"]["waiting"] >= 1
    assert document["timers"]["overdue_lateness_seconds"] > 0
    assert document["outbox"]["pending"] >= 1  # the complainant's e-mail receipt of status
    assert document["schedulers"] == []
    Scheduler(regency.domain, Settings(database_url="unused")).heartbeat()
    document = regency.domain.operations.status()
    assert document["schedulers"][0]["alive"] is True


def test_schedulers_gone_for_a_day_leave_the_status_and_a_live_beat_forgets_them(regency):
    """Every start beats under a new worker id: without an age-out, `aduan status` would
    list each scheduler that ever ran as "silent", forever."""
    from web.cli_admin import _status_text

    now = regency.clock.now()
    with regency.transaction() as session:
        for worker, silent in (("old-host:4242:dead01", timedelta(days=3)),
                               ("old-host:4343:dead02", timedelta(hours=25)),
                               ("web-1:77:quiet1", timedelta(hours=2))):
            session.add(SchedulerHeartbeat(
                worker_id=worker, hostname=worker.split(":")[0], pid=1,
                started_at=now - silent - timedelta(days=1), last_seen_at=now - silent,
                timers_fired=0, notifications_sent=0))
    document = regency.domain.operations.status()
    assert [(s["worker_id"], s["alive"]) for s in document["schedulers"]] == [
        ("web-1:77:quiet1", False)]
    assert document["schedulers_gone"]["count"] == 2
    assert document["schedulers_gone"]["last_seen_at"] == (now - timedelta(hours=25)
                                                           ).isoformat()
    text = _status_text(document)
    assert "web-1:77:quiet1: silent" in text and "dead0" not in text
    assert "2 scheduler(s) silent for over 24 h, not listed" in text

    live = Scheduler(regency.domain, Settings(database_url="unused"))
    live.heartbeat()
    with regency.reads() as session:
        kept = set(session.scalars(select(SchedulerHeartbeat.worker_id)))
    assert kept == {"web-1:77:quiet1", live.worker_id}
    document = regency.domain.operations.status()
    assert document["schedulers_gone"]["count"] == 0
    assert [s["alive"] for s in document["schedulers"]] == [True, False]


def test_with_every_scheduler_gone_the_status_says_none_was_seen_lately(regency):
    from web.cli_admin import _status_text

    now = regency.clock.now()
    with regency.transaction() as session:
        session.add(SchedulerHeartbeat(
            worker_id="old-host:1:gone01", hostname="old-host", pid=1,
            started_at=now - timedelta(days=9), last_seen_at=now - timedelta(days=8),
            timers_fired=5, notifications_sent=2))
    document = regency.domain.operations.status()
    assert document["schedulers"] == [] and document["schedulers_gone"]["count"] == 1
    assert "no scheduler seen in the last 24 h" in _status_text(document)


def test_metrics_are_exposed_for_prometheus(regency):
    regency.submit(photo=True)
    regency.advance(days=8)  # escalations happen
    body = regency.client.get("/metrics").get_data(as_text=True)
    for name in ("aduan_timers_fired_total", "aduan_timer_lateness_seconds_bucket",
                 "aduan_timers_waiting", "aduan_outbox_pending", "aduan_incidents_open",
                 "aduan_notifications_sent_total", 'aduan_escalations{rung="regional_head"'):
        assert name in body, name


def test_the_daily_digest_tells_each_supervisor_about_their_agencies(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.clock.advance(days=8)
    sent = regency.domain.operations.send_daily_digests()
    assert sent >= 2  # the head of PUPR, and above (Sekda, province)
    with regency.reads() as session:
        rows = session.execute(select(Outbox.recipient, Outbox.payload).where(
            Outbox.template == "daily_digest", Outbox.channel == "inapp")).all()
    digests = {recipient: payload for recipient, payload in rows}
    assert digests["kadis.pupr"]["overdue"] == 1
    assert tracking in digests["kadis.pupr"]["overdue_list"]
    assert "kadis.dlh" not in digests


# --------------------------------------------------------------------------- real processes

DRILL_DAYS = 30
DRILL_REPORTS = 1000  # four processes racing for 2,000 escalations (2,000 and 5,000 before)


def _scheduler_process(url: str, tmp_path: Path, name: str,
                       per_transaction: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "ADUAN_DATABASE_URL": url, "ADUAN_ALLOW_TIME_TRAVEL": "1",
           "ADUAN_CLOCK_OFFSET_SECONDS": str(DRILL_DAYS * 86400),
           "ADUAN_TIMER_LEASE_SECONDS": "5", "ADUAN_TIMER_BATCH": "20",
           "ADUAN_UPLOAD_DIR": str(tmp_path / "uploads")}
    if per_transaction is not None:
        env["ADUAN_TIMER_PER_TRANSACTION"] = str(per_transaction)
    with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own handle
        return subprocess.Popen([ADUAN, "scheduler"], env=env, stdout=log, stderr=log)


def _counts(url: str, drill_now) -> tuple[int, int, int]:
    db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with db.connect() as connection:
            due = connection.execute(text("SELECT count(*) FROM timer WHERE due_at <= :now"),
                                     {"now": drill_now}).scalar_one()
            escalations = connection.execute(select(func.count()).select_from(
                Escalation.__table__)).scalar_one()
            incidents = connection.execute(text(
                "SELECT count(*) FROM incident")).scalar_one()
        return due, escalations, incidents
    finally:
        db.dispose()


def _submit_many(regency, count: int) -> None:
    for n in range(count):
        regency.submit(photo=False, category="health", title=f"Antrian puskesmas {n}",
                       body="Antrian puskesmas sangat panjang setiap pagi.")


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        threading.Event().wait(0.5)  # bounded poll of what another process does
    return predicate()


def _firing_transactions(url: str) -> tuple[int, int]:
    """The timer firings recorded, and the transactions that wrote them (their rows' xmin)."""
    db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with db.connect() as connection:
            return tuple(connection.execute(text(
                "SELECT count(*), count(DISTINCT xmin::text) FROM instance_event "
                "WHERE action = 'timer_fired'")).one())
    finally:
        db.dispose()


def _per_complaint(url: str) -> dict[int, list[int]]:
    db = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with db.connect() as connection:
            rows = connection.execute(text(
                "SELECT complaint_id, rung FROM escalation ORDER BY complaint_id, rung")).all()
    finally:
        db.dispose()
    found: dict[int, list[int]] = {}
    for complaint_id, rung in rows:
        found.setdefault(complaint_id, []).append(rung)
    return found


@pytest.mark.slow
def test_four_scheduler_processes_escalate_1000_deadlines_exactly_once(postgres_url, clock,
                                                                       tmp_path):
    from datetime import UTC, datetime

    regency = build(postgres_url, clock, tmp_path)
    clock.set(datetime.now(UTC))  # the reports are filed now; the schedulers live a month on
    _submit_many(regency, DRILL_REPORTS)  # filed through the API: most of the test's time
    regency.engine.dispose()
    drill_now = datetime.now(UTC) + timedelta(days=DRILL_DAYS)
    # Several firings a transaction (not the default), so that the drill races batches too.
    procs = [_scheduler_process(postgres_url, tmp_path, f"s{i}", per_transaction=8)
             for i in range(4)]
    try:
        done = _wait_until(lambda: _counts(postgres_url, drill_now)[:2] == (
            0, 2 * DRILL_REPORTS), 600)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    due, escalations, incidents = _counts(postgres_url, drill_now)
    assert done, (due, escalations, incidents)
    assert incidents == 0
    per_complaint = _per_complaint(postgres_url)
    # verification is held by Diskominfo (rung 2): Sekda (3), then the province (4), once each
    assert len(per_complaint) == DRILL_REPORTS
    assert {tuple(rungs) for rungs in per_complaint.values()} == {(3, 4)}
    # One firing a report, several a transaction (ADUAN_TIMER_PER_TRANSACTION=8): claims of
    # 20 fire in batches of 8, 8 and 4, but for instances another process holds.
    firings, transactions = _firing_transactions(postgres_url)
    assert firings == DRILL_REPORTS and transactions <= firings / 3, (firings, transactions)


@pytest.mark.slow
def test_a_scheduler_killed_mid_sweep_loses_and_doubles_nothing(postgres_url, clock, tmp_path):
    from datetime import UTC, datetime

    regency = build(postgres_url, clock, tmp_path)
    clock.set(datetime.now(UTC))
    _submit_many(regency, 400)
    regency.engine.dispose()
    drill_now = datetime.now(UTC) + timedelta(days=DRILL_DAYS)
    # The victim fires in batches of 8 (not the default) on its two firing threads, so that
    # the kill cuts batches short on both; the survivor fires as the product's default does.
    first = _scheduler_process(postgres_url, tmp_path, "victim", per_transaction=8)
    try:
        started = _wait_until(lambda: _counts(postgres_url, drill_now)[1] >= 100, 300)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert started
    partial = _counts(postgres_url, drill_now)
    assert partial[0] > 0, "the victim finished before it was killed; the test proves nothing"
    second = _scheduler_process(postgres_url, tmp_path, "survivor")
    try:
        done = _wait_until(lambda: _counts(postgres_url, drill_now)[:2] == (0, 800), 600)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert done, _counts(postgres_url, drill_now)
    assert {tuple(r) for r in _per_complaint(postgres_url).values()} == {(3, 4)}
    status = subprocess.run([ADUAN, "status", "--json"], env={
        **os.environ, "ADUAN_DATABASE_URL": postgres_url}, capture_output=True, text=True,
        timeout=60, check=True)
    schedulers = json.loads(status.stdout)["schedulers"]
    assert len(schedulers) == 2


def test_a_failing_instance_does_not_stop_the_sweep(make_engine, clock, tmp_path):
    from tests.diagram import linear, script_task, timer_event, write
    from web.scheduler import sweep
    from workflows.config import RegencyConfig
    from workflows.domain import Domain
    from workflows.storage import Storage
    from workflows.users import Passwords

    engine = make_engine()
    domain = Domain(engine, RegencyConfig(), Storage(tmp_path / "up", 1024), Passwords.fast())
    engine.deploy([write(tmp_path, "t.bpmn", linear(
        "t", timer_event("wait", "timeDuration", '"PT1H"'), script_task("after", "x = 1 / n")))])
    broken = engine.start("t", {"n": 0})
    healthy = [engine.start("t", {"n": 1}).id for _ in range(3)]
    clock.advance(hours=1)
    assert sweep(domain, batch=2) == 4
    assert engine.instance(broken.id)["status"] == "error"
    assert all(engine.instance(i)["status"] == "completed" for i in healthy)
    assert [i["instance_id"] for i in engine.incidents()] == [broken.id]


def test_a_long_sweep_counts_its_firings_a_batch_at_a_time(make_engine, clock, tmp_path):
    """A backlog is one sweep of many batches: the dedicated scheduler hears of each batch as
    it is fired (web/scheduler.Scheduler._settle), so it sets aside what it keeps after its
    first WARM_FIRINGS timers, not after the whole backlog."""
    from tests.diagram import linear, timer_event, write
    from web.scheduler import sweep
    from workflows.config import RegencyConfig
    from workflows.domain import Domain
    from workflows.storage import Storage
    from workflows.users import Passwords

    engine = make_engine()
    domain = Domain(engine, RegencyConfig(), Storage(tmp_path / "up", 1024), Passwords.fast())
    engine.deploy([write(tmp_path, "t.bpmn", linear(
        "t", timer_event("wait", "timeDuration", '"PT1H"')))])
    for _ in range(5):
        engine.start("t")
    clock.advance(hours=1)
    batches: list[int] = []
    assert sweep(domain, batch=2, on_batch=batches.append) == 5
    assert batches == [2, 2, 1]
