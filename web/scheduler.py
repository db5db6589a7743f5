"""The scheduler on APScheduler: the database rows are the schedule, the jobs only trigger
them. Sweeps due timers, sends the outbox, writes daily digests and heartbeats, and moves the
deadlines a change of the working calendar left to move."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from web import metrics
from web.config import Settings
from web.memory import collect_oldest_seldom, set_aside_long_lived

log = logging.getLogger(__name__)
_started = threading.Lock()
# The calendar job: how often it recounts the running deadlines (about 0.5 s per 10,000),
# and how many reports it moves a round.
CALENDAR_SECONDS = 300
CALENDAR_BATCH = 1000
# Timers a dedicated scheduler process fires before it sets aside, once more, what it keeps
# for good (the deployed diagrams, caches, compiled statements) from the garbage collector
# (web/memory.py); the first time is at its start, where it also has the collector consider
# the oldest generation less often.
WARM_FIRINGS = 200
# After a sweep that fired nothing though a timer it could claim still looks due (another
# sweeper claimed it meanwhile, or its instance fails to load), the timer loop waits this
# long before it looks again, twice as long each time up to the poll.
IDLE_PAUSE_SECONDS = 0.01
MIN_PAUSE_SECONDS = 0.001  # never a busy loop, even on a clock that stands still (tests)
_embedded: Scheduler | None = None


def sweep(domain: Any, batch: int, now: datetime | None = None,
          on_batch: Callable[[int], None] | None = None) -> int:
    """Fire due timers until none is due (workflows.operations.Operations.sweep_timers),
    counting them in the metrics and telling `on_batch` how many each batch fired; returns
    how many fired."""
    total = 0
    for report in domain.operations.sweep_timers(batch, now):
        for fired in report.fired:
            lateness = (datetime.fromisoformat(fired["fired_at"])
                        - datetime.fromisoformat(fired["due_at"])).total_seconds()
            metrics.TIMER_LATENESS.observe(max(lateness, 0.0))
        metrics.TIMERS_FIRED.inc(len(report.fired))
        for failure in report.failed:
            metrics.TIMER_FAILURES.inc()
            log.warning("timer failed in instance %s: %s", failure["instance_id"],
                        failure["error"])
        total += len(report.fired)
        if on_batch is not None:
            on_batch(len(report.fired))
    return total


class Scheduler:
    """One scheduler process's jobs; any number may run against one PostgreSQL.

    Timers have a thread of their own (`_timer_loop`), not an APScheduler job: it sweeps
    while a timer it could claim is due, then sleeps until the next one falls due or the
    poll comes (a timer another process created), whichever is first. The other jobs are
    APScheduler's."""

    def __init__(self, domain: Any, settings: Settings, *, sender: Any = None,
                 blocking: bool = False) -> None:
        self.domain = domain
        self.operations = domain.operations
        self.settings = settings
        self.sender = sender
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._fired_since_beat = 0
        self._sent_since_beat = 0
        # A dedicated process (blocking) owns its memory; an embedded one shares the web's.
        self._warming: int | None = WARM_FIRINGS if blocking else None
        # The timer loop: how long it waits before its next tick (set by each tick), how
        # long after a sweep that fired nothing, and the signal that ends it.
        self.pause = settings.timer_poll_seconds
        self._idle_pause = 0.0
        self._stopping = threading.Event()
        self._timers: threading.Thread | None = None
        self._blocking = blocking
        kind = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler: BaseScheduler = kind(timezone="UTC")
        self.scheduler.add_job(self.heartbeat, "interval", seconds=10, id="heartbeat",
                               max_instances=1, coalesce=True)
        if sender is not None:
            self.scheduler.add_job(self.deliver, "interval", seconds=settings.outbox_seconds,
                                   id="outbox", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.digest, "cron", hour=settings.digest_hour_utc, minute=0,
                               id="digest", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.channels_upkeep, "interval", minutes=5, id="channels",
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self.calendar, "interval", seconds=CALENDAR_SECONDS,
                               id="calendar", max_instances=1, coalesce=True)

    def tick(self) -> int:
        """Sweep while a timer this process could claim is due (an index lookup before each
        sweep, and no sweep when none is), then set `pause`: the seconds until the next one
        falls due, at most the poll. Returns how many fired."""
        poll = self.settings.timer_poll_seconds
        fired = 0
        try:
            due_in = self.operations.seconds_to_next_timer()
            while due_in is not None and due_in <= 0 and not self._stopping.is_set():
                swept = sweep(self.domain, self.settings.timer_batch, on_batch=self._settle)
                fired += swept
                self._fired_since_beat += swept
                due_in = self.operations.seconds_to_next_timer()
                if not swept:  # due, yet nothing fired: failing, or claimed meanwhile
                    break
        except Exception:  # a scheduler must outlive a bad moment of the database
            log.exception("timer sweep failed; retrying at the next tick")
            self.pause = poll
            return fired
        if fired:
            self._idle_pause = 0.0
        if due_in is not None and due_in <= 0:  # again at once would spin: wait, longer
            self._idle_pause = min(poll, max(IDLE_PAUSE_SECONDS, 2 * self._idle_pause))
            self.pause = self._idle_pause
        else:
            self._idle_pause = 0.0
            self.pause = poll if due_in is None else min(max(due_in, MIN_PAUSE_SECONDS), poll)
        return fired

    def _timer_loop(self) -> None:
        """Tick, then wait `pause`, until the scheduler stops or the interpreter exits (a
        tick's sweep is finished first: the firings it claimed are not left to the lease)."""
        main = threading.main_thread()
        while not self._stopping.is_set() and main.is_alive():
            self.tick()
            self._stopping.wait(self.pause)

    def _settle(self, fired: int) -> None:
        """Count a dedicated process's firings (a batch at a time, even within one long
        sweep of a backlog) to set aside once more what it keeps once it is warm."""
        if self._warming is None:
            return
        self._warming -= fired
        if self._warming <= 0:
            self._warming = None
            set_aside_long_lived()

    def deliver(self) -> dict[str, int]:
        try:
            counts = self.sender.send_due(limit=100)
        except Exception:
            log.exception("outbox delivery failed; retrying at the next tick")
            return {}
        metrics.NOTIFICATIONS_SENT.inc(counts.get("sent", 0))
        metrics.NOTIFICATIONS_FAILED.inc(counts.get("retried", 0) + counts.get("dead", 0))
        self._sent_since_beat += counts.get("sent", 0)
        return counts

    def calendar(self) -> int:
        """Move the deadlines a change of the working calendar left for later (a save moves
        the first reports itself: workflows/calendar_changes.py)."""
        try:
            return self.domain.calendar_changes.move_deadlines(None, limit=CALENDAR_BATCH)
        except Exception:
            log.exception("moving deadlines after a calendar change failed")
            return 0

    def digest(self) -> int:
        try:
            return self.operations.send_daily_digests()
        except Exception:
            log.exception("daily digest failed")
            return 0

    def channels_upkeep(self) -> int:
        """Abandon WhatsApp reports left half written, retry photos whose download stopped
        (workflows/whatsapp.py), and take long SMS whose missing parts never came
        (workflows/sms.py)."""
        try:
            return (self.domain.whatsapp.expire() + self.domain.whatsapp.retry_downloads()
                    + self.domain.sms.flush_incomplete())
        except Exception:
            log.exception("the channels' upkeep failed; retrying at the next run")
            return 0

    def heartbeat(self) -> None:
        try:
            self.operations.beat(self.worker_id, fired=self._fired_since_beat,
                                 sent=self._sent_since_beat)
            self._fired_since_beat = self._sent_since_beat = 0
        except Exception:
            log.exception("heartbeat failed")

    def start(self) -> None:
        self.heartbeat()
        if self._warming is not None:
            set_aside_long_lived()
            collect_oldest_seldom()
        self._stopping.clear()
        self._timers = threading.Thread(target=self._timer_loop, name="aduan-timers")
        self._timers.start()
        if not self._blocking:
            self.scheduler.start()
            return
        try:
            self.scheduler.start()  # returns at its shutdown
        finally:
            self.shutdown()

    def shutdown(self, wait: bool = True) -> None:
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        timers = self._timers
        if wait and timers is not None and timers is not threading.current_thread():
            timers.join()


def start_embedded_scheduler(domain: Any, settings: Settings, sender: Any = None
                             ) -> Scheduler | None:
    """One scheduler per process, and none in the parent of Flask's development reloader."""
    global _embedded
    if os.environ.get("FLASK_RUN_FROM_CLI") and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return None
    with _started:
        if _embedded is None:
            _embedded = Scheduler(domain, settings, sender=sender)
            _embedded.start()
        return _embedded


def stop_embedded_scheduler(wait: bool = True) -> None:
    global _embedded
    with _started:
        if _embedded is not None:
            _embedded.shutdown(wait=wait)
            _embedded = None
