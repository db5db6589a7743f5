"""The timer sweep's firing threads (engine/sweep.py TimerSweep.threads, ADUAN_TIMER_THREADS):
on PostgreSQL one sweep's claimed instances fire side by side, each once, in the host's
context; SQLite fires one at a time whatever the setting says."""

from __future__ import annotations

import contextvars
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import Engine
from tests.regency import PHOTO
from tests.test_history import REPORT
from tests.test_timer_batches import _deploy_and_start, _fired_events, fire_with_one_broken
from web.config import Settings
from workflows.models import Complaint, Escalation
from workflows.storage import Upload

HOST = contextvars.ContextVar("test_host_value", default=None)


class Meeting:
    """The first `size` timer firings wait for each other inside their transactions: they
    all get through only if they run at the same time (else the barrier breaks after
    `timeout` and the waiting firing fails). Records the thread and the host's context
    variable each firing saw."""

    def __init__(self, size: int = 2, timeout: float = 10.0) -> None:
        self.barrier = threading.Barrier(size, timeout=timeout)
        self.size = size
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str | None]] = []

    def __call__(self, change) -> None:
        if change.operation.action != "timer_fired":
            return
        with self.lock:
            self.seen.append((threading.current_thread().name, HOST.get()))
            first = len(self.seen) <= self.size
        if first:
            self.barrier.wait()


def test_postgres_fires_one_sweeps_instances_side_by_side(postgres_url, clock, tmp_path):
    engine = Engine(postgres_url, clock=clock, timer_threads=2)
    try:
        meeting = Meeting()
        engine.add_listener(meeting)
        ids = _deploy_and_start(engine, clock, tmp_path, 12)
        token = HOST.set("the host's")
        try:
            report = engine.fire_due_timers(limit=100)
        finally:
            HOST.reset(token)
        # every instance once, reported in the order claimed (all due at one instant: by id
        # is not promised, so compare as sets, and check no duplicates)
        fired = [f["instance_id"] for f in report.fired]
        assert sorted(fired) == sorted(ids) and len(set(fired)) == len(ids)
        assert report.failed == [] and report.skipped == 0 and report.deferred == 0
        assert set(_fired_events(engine, ids).values()) == {("completed", 1)}
        threads = {name for name, _ in meeting.seen}
        assert len(threads) == 2 and all(n.startswith("aduan-timer-firing") for n in threads)
        assert {value for _, value in meeting.seen} == {"the host's"}
    finally:
        engine.dispose()
    assert not [t for t in threading.enumerate() if t.name.startswith("aduan-timer-firing")]


def test_a_failing_instance_among_threads_is_an_incident_and_the_others_fire(
        postgres_url, clock, tmp_path):
    engine = Engine(postgres_url, clock=clock, timer_threads=3)
    try:
        commits = fire_with_one_broken(engine, clock, tmp_path, ["a", "b", "bad", "c", "d", "e"])
        assert commits == 1 + 5 + 1  # the claim, five firings, the incident
    finally:
        engine.dispose()


def test_sqlite_fires_one_at_a_time_on_the_sweeping_thread(sqlite_url, clock, tmp_path):
    engine = Engine(sqlite_url, clock=clock, timer_threads=4)
    try:
        meeting = Meeting(size=1)  # never waits for a second firing
        engine.add_listener(meeting)
        ids = _deploy_and_start(engine, clock, tmp_path, 5)
        report = engine.fire_due_timers(limit=100)
        assert sorted(f["instance_id"] for f in report.fired) == sorted(ids)
        assert {name for name, _ in meeting.seen} == {threading.current_thread().name}
        assert engine.timer_sweep._workers() is None
    finally:
        engine.dispose()


def test_the_setting_reaches_the_engine_and_is_checked():
    assert Settings().timer_threads == 2
    assert Settings.from_env({}).timer_threads == 2
    told = Settings.from_env({"ADUAN_TIMER_THREADS": "3", "ADUAN_SANDBOX_WORKERS": "0",
                              "ADUAN_DATABASE_URL": "sqlite://"})
    engine = told.make_engine()
    try:
        assert engine.timer_sweep.threads == 3
    finally:
        engine.dispose()
    for wrong in ("0", "17", "two", ""):
        with pytest.raises(ValueError, match=r"ADUAN_TIMER_THREADS must be .*\(1 to 16\)"):
            Settings.from_env({"ADUAN_TIMER_THREADS": wrong})
    engine = Engine("sqlite://", sandbox_workers=0)
    try:
        assert engine.timer_sweep.threads == 1  # the engine's own default
    finally:
        engine.dispose()


def test_real_complaint_watches_fire_side_by_side_each_rung_once(regency, clock):
    """The demo regency's lifecycle: reports left at follow-up for four weeks, their SLA
    watches fired by a sweep with two firing threads (PostgreSQL; SQLite one at a time):
    every watch fires, each missed rung is escalated once, as one firing at a time does."""
    domain, engine = regency.domain, regency.engine
    admin = domain.accounts.authenticate_token(regency.tokens["admin.kominfo"])
    numbers = []
    for _ in range(6):
        number = domain.reports.submit(REPORT, [Upload("lubang.jpg", PHOTO)],
                                       channel="web")["tracking_number"]
        domain.reports.act(number, "verify", {}, admin)
        domain.reports.act(number, "dispose", {"agency_code": "dinas_pupr"}, admin)
        numbers.append(number)
    with engine.store.read() as session:
        instances = set(session.scalars(select(Complaint.instance_id).where(
            Complaint.tracking_number.in_(numbers))))
    engine.timer_sweep.threads = 2
    meeting = Meeting(size=2 if engine.store.postgres else 1)
    engine.add_listener(meeting)
    clock.advance(timedelta(days=28))
    reports = domain.operations.fire_due_timers(100)
    fired = [f["instance_id"] for r in reports for f in r.fired]
    assert not any(r.failed for r in reports)
    assert instances <= set(fired)
    with engine.store.read() as session:
        per_rung = session.execute(
            select(Escalation.sla_id, Escalation.rung, func.count())
            .group_by(Escalation.sla_id, Escalation.rung)).all()
        escalated = set(session.scalars(select(Escalation.complaint_id).distinct()))
        ours = set(session.scalars(select(Complaint.id).where(
            Complaint.tracking_number.in_(numbers))))
    assert per_rung and {count for _sla, _rung, count in per_rung} == {1}
    assert ours <= escalated
    threads = {name for name, _ in meeting.seen}
    if engine.store.postgres:
        assert len(threads) == 2
    else:
        assert threads == {threading.current_thread().name}


def test_a_firing_thread_never_shares_the_callers_read_unit(sqlite_url):
    """Work handed to a firing thread runs without the caller's shared read session
    (Store.shared_reads): a session is never used by two threads."""
    from engine.store import _SHARED_READS, context_for_thread

    engine = Engine(sqlite_url, sandbox_workers=0)
    try:
        with engine.store.shared_reads():
            assert _SHARED_READS.get() is not None
            token = HOST.set("kept")
            handed = context_for_thread()
            HOST.reset(token)
            assert handed.run(_SHARED_READS.get) is None
            assert handed.run(HOST.get) == "kept"
            assert _SHARED_READS.get() is not None  # the caller's own is untouched
    finally:
        engine.dispose()
