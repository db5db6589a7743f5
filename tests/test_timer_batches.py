"""Several instances' timers fired in one transaction (engine/sweep.py, PostgreSQL): fewer
commits, never a wait on an instance someone else holds, and a failed batch fired again one
instance at a time, each timer exactly once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, event, text

from engine import Engine
from engine.sweep import SweepReport
from tests.diagram import linear, timer_event, write
from web.config import Settings


@pytest.fixture
def pg_engine(postgres_url, clock):
    engine = Engine(postgres_url, clock=clock)
    yield engine
    engine.dispose()


def _deploy_and_start(engine, clock, tmp_path, count, keys=None):
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"')))])
    keys = keys or [None] * count
    ids = [engine.start("wait", business_key=key).id for key in keys]
    clock.advance(minutes=1)
    return ids


def _fired_events(engine, ids):
    """How many timer_fired events each instance has, and its status."""
    found = {}
    for instance_id in ids:
        detail = engine.instance(instance_id)
        found[instance_id] = (detail["status"], sum(
            1 for e in detail["events"] if e["action"] == "timer_fired"))
    return found


def _count_commits(engine):
    counted = {"commits": 0}

    def on_commit(_connection):
        counted["commits"] += 1

    event.listen(engine.store.db, "commit", on_commit)
    return counted


def test_postgres_fires_several_instances_per_commit(pg_engine, clock, tmp_path):
    engine = pg_engine
    ids = _deploy_and_start(engine, clock, tmp_path, 20)
    engine.timer_sweep.per_transaction = 8
    counted = _count_commits(engine)
    report = engine.fire_due_timers(limit=100)
    assert sorted(f["instance_id"] for f in report.fired) == sorted(ids)
    assert report.failed == [] and report.skipped == 0
    assert counted["commits"] == 1 + 3  # the claim, then batches of 8, 8 and 4
    assert set(_fired_events(engine, ids).values()) == {("completed", 1)}


def test_one_instance_per_transaction_by_default_and_always_on_sqlite(make_engine, clock,
                                                                     tmp_path, database_url):
    engine = make_engine()
    ids = _deploy_and_start(engine, clock, tmp_path, 6)
    if not engine.store.postgres:
        engine.timer_sweep.per_transaction = 8  # SQLite ignores it
    counted = _count_commits(engine)
    report = engine.fire_due_timers(limit=100)
    assert len(report.fired) == 6
    assert counted["commits"] == 1 + 6
    assert set(_fired_events(engine, ids).values()) == {("completed", 1)}


def test_the_scheduler_fires_one_instance_a_transaction_unless_told_otherwise():
    assert Settings().timer_per_transaction == 1
    assert Settings.from_env({}).timer_per_transaction == 1
    told = Settings.from_env({"ADUAN_TIMER_PER_TRANSACTION": "8", "ADUAN_SANDBOX_WORKERS": "0",
                              "ADUAN_DATABASE_URL": "sqlite://"})
    assert told.timer_per_transaction == 8
    engine = told.make_engine()
    try:
        assert engine.timer_sweep.per_transaction == 8
    finally:
        engine.dispose()
    engine = Settings(database_url="sqlite://", sandbox_workers=0).make_engine()
    try:
        assert engine.timer_sweep.per_transaction == 1
    finally:
        engine.dispose()


def test_an_instance_held_elsewhere_is_left_out_of_the_batch_and_fires_alone(
        pg_engine, clock, tmp_path, postgres_url):
    engine = pg_engine
    first, held, last = _deploy_and_start(engine, clock, tmp_path, 3)
    sweep = engine.timer_sweep
    claimed = sweep.claim(clock.now(), 10)
    batch = {instance_id: [(timer_id, element_id)]
             for timer_id, instance_id, element_id in claimed}
    other = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"),
                           {"i": held}).all()
            report = SweepReport()
            # Returns at once: the held instance is skipped, not waited for.
            alone = sweep.fire_batch(batch, None, report)
            assert alone == [held]
            assert sorted(f["instance_id"] for f in report.fired) == [first, last]
            # The others are committed while the holder still holds its instance.
            assert holder.execute(text(
                "SELECT count(*) FROM process_instance WHERE id IN (:a, :b) "
                "AND status = 'completed'"), {"a": first, "b": last}).scalar() == 2
            holder.rollback()
    finally:
        other.dispose()
    # Still claimed by this sweeper: fire_due fires it alone, right after the batch.
    assert engine.timer_sweep.fire_instance(held, batch[held][0][:1], clock.now())
    assert set(_fired_events(engine, [first, held, last]).values()) == {("completed", 1)}


def test_the_sweep_fires_a_held_instance_once_its_holder_lets_go(pg_engine, clock, tmp_path,
                                                               postgres_url):
    engine = pg_engine
    ids = _deploy_and_start(engine, clock, tmp_path, 5)
    held = ids[2]
    others = [i for i in ids if i != held]
    engine.timer_sweep.per_transaction = 8
    reports = []
    other = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with other.connect() as holder:
            holder.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"),
                           {"i": held}).all()
            sweeper = threading.Thread(
                target=lambda: reports.append(engine.fire_due_timers(limit=100)))
            sweeper.start()
            pause, deadline = threading.Event(), time.monotonic() + 30
            done = 0
            while done < len(others) and time.monotonic() < deadline:
                with other.connect() as look:
                    done = look.execute(text(
                        "SELECT count(*) FROM process_instance WHERE status = 'completed'")
                    ).scalar()
                pause.wait(0.02)
            assert done == len(others)  # the batch committed without the held instance
            assert sweeper.is_alive()  # which it now waits for, alone
            holder.rollback()
        sweeper.join(30)
    finally:
        other.dispose()
    assert not sweeper.is_alive()
    assert sorted(f["instance_id"] for f in reports[0].fired) == sorted(ids)
    assert set(_fired_events(engine, ids).values()) == {("completed", 1)}


def fire_with_one_broken(engine, clock, tmp_path, keys) -> int:
    """Fire instances one of which ("bad") a host listener fails: the others fire once, the
    bad one is an incident. Returns the commits of the firing."""
    def broken_for_one(change):
        if change.operation.business_key == "bad" and change.operation.action == "timer_fired":
            raise RuntimeError("a host listener's bug")

    engine.add_listener(broken_for_one)
    ids = _deploy_and_start(engine, clock, tmp_path, len(keys), keys)
    counted = _count_commits(engine)
    report = engine.fire_due_timers(limit=100)
    commits = counted["commits"]
    bad = ids[keys.index("bad")]
    good = [i for i in ids if i != bad]
    assert sorted(f["instance_id"] for f in report.fired) == sorted(good)
    assert [f["instance_id"] for f in report.failed] == [bad]
    assert "a host listener's bug" in report.failed[0]["error"]
    states = _fired_events(engine, ids)
    assert {states[i] for i in good} == {("completed", 1)}
    assert states[bad] == ("error", 1)  # the event that records its failure
    assert engine.instance(bad)["incident"]["message"].startswith("RuntimeError")
    return commits


def test_a_failed_batch_is_rolled_back_and_its_instances_fire_alone(
        pg_engine, clock, tmp_path):
    engine = pg_engine
    engine.timer_sweep.per_transaction = 8
    commits = fire_with_one_broken(engine, clock, tmp_path, ["a", "b", "bad", "c", "d"])
    # The claim, the failed batch (rolled back: no commit), four firings alone and the
    # bad instance's incident.
    assert commits == 1 + 4 + 1
