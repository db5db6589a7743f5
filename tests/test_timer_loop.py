"""The scheduler's timer loop (web/scheduler.py): it sweeps while a timer it could claim is
due, sleeps until the next one rather than the next poll, and never spins."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from engine import SystemClock
from tests.diagram import linear, timer_event, write
from web.app import build_domain
from web.config import Settings
from web.scheduler import IDLE_PAUSE_SECONDS, Scheduler


def _waiting(make_engine, tmp_path, clock, poll: float = 1.0):
    """A domain and scheduler over an engine with a timer process deployed; `start(in_s)`
    starts an instance whose timer falls due `in_s` seconds from the clock's now."""
    settings = Settings(database_url="unused", upload_dir=str(tmp_path / "up"),
                        timer_poll_seconds=poll)
    engine = make_engine(clock=clock)
    domain = build_domain(settings, engine)
    engine.deploy([write(tmp_path, "soon.bpmn", linear(
        "soon", timer_event("due", "timeDate", "deadline")))])

    def start(in_s: float) -> int:
        due = clock.now() + timedelta(seconds=in_s)
        return engine.start("soon", {"deadline": due.isoformat()}).id

    return engine, Scheduler(domain, settings), start


def test_a_tick_sleeps_until_the_next_timer_when_it_is_sooner_than_the_poll(
        make_engine, clock, tmp_path):
    engine, scheduler, start = _waiting(make_engine, tmp_path, clock)
    assert scheduler.tick() == 0 and scheduler.pause == 1.0  # nothing waits: the poll
    later = start(5)
    assert scheduler.tick() == 0 and scheduler.pause == 1.0  # due after the next poll
    soon = start(0.4)
    assert scheduler.tick() == 0 and scheduler.pause == 0.4  # not due yet: no sweep
    clock.advance(seconds=0.4)
    assert scheduler.tick() == 1 and scheduler.pause == 1.0
    assert engine.instance(soon)["status"] == "completed"
    assert engine.instance(later)["status"] == "running"


def test_a_timer_due_by_the_end_of_a_sweep_is_fired_in_the_same_tick(make_engine, clock,
                                                                      tmp_path):
    """Time passes while a sweep fires; what fell due meanwhile is swept at once, not left
    for the next poll (up to a second late: most of the lateness at 200 due a second)."""
    engine, scheduler, start = _waiting(make_engine, tmp_path, clock)
    first, second = start(1), start(1.05)  # one due at a start fires in the start itself
    clock.advance(seconds=1)
    fire = engine.fire_due_timers

    def firing_takes_time(*args, **kwargs):
        report = fire(*args, **kwargs)
        clock.advance(seconds=0.05)
        return report

    engine.fire_due_timers = firing_takes_time
    assert scheduler.tick() == 2
    assert {engine.instance(i)["status"] for i in (first, second)} == {"completed"}


def test_a_timer_another_sweeper_holds_is_not_what_the_scheduler_waits_for(
        make_engine, clock, tmp_path):
    engine, scheduler, start = _waiting(make_engine, tmp_path, clock)
    held = start(1)
    clock.advance(seconds=1)
    assert [t[1] for t in engine.timer_sweep.claim(clock.now(), 10)] == [held]  # leased
    assert scheduler.operations.seconds_to_next_timer() is None
    later = start(0.3)
    assert scheduler.operations.seconds_to_next_timer() == 0.3
    assert scheduler.tick() == 0 and scheduler.pause == 0.3  # no sweep for the held one
    clock.advance(seconds=0.3)
    assert scheduler.tick() == 1
    assert engine.instance(later)["status"] == "completed"
    assert engine.instance(held)["status"] == "running"  # its lease runs out first


def test_a_due_timer_that_does_not_fire_slows_the_loop_down_instead_of_spinning(
        make_engine, clock, tmp_path):
    """A timer row due though its instance's state says otherwise is skipped by every sweep:
    the loop waits longer after each sweep that fired nothing, up to the poll."""
    engine, scheduler, start = _waiting(make_engine, tmp_path, clock)
    stuck = start(60)
    with engine.store.db.begin() as connection:
        connection.execute(text("UPDATE timer SET due_at = :now WHERE instance_id = :i"),
                           {"now": clock.now(), "i": stuck})
    pauses = []
    for _ in range(9):
        assert scheduler.tick() == 0
        pauses.append(scheduler.pause)
    assert pauses[:4] == [IDLE_PAUSE_SECONDS * 2 ** n for n in range(4)]
    assert pauses[-1] == 1.0
    start(1)
    clock.advance(seconds=1)
    assert scheduler.tick() == 1 and scheduler.pause == IDLE_PAUSE_SECONDS  # again from short
    assert engine.instance(stuck)["status"] == "running"


def test_the_timer_loop_fires_at_the_due_time_not_the_poll_and_stops_with_the_scheduler(
        make_engine, tmp_path):
    """On the real clock, with a poll of a minute: only the loop's own wake-up can fire a
    timer due in a third of a second within seconds."""
    engine, scheduler, start = _waiting(make_engine, tmp_path, SystemClock(), poll=60.0)
    instance = start(0.3)
    scheduler.start()  # an embedded (background) scheduler: start returns
    try:
        deadline = time.monotonic() + 20
        while engine.instance(instance)["status"] != "completed":
            assert time.monotonic() < deadline, "the timer loop did not fire the timer"
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler._timers.is_alive()
