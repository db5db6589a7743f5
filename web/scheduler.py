"""The timer sweep on APScheduler: the database row is the schedule, the job only triggers it."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from engine import Engine
from web.config import Settings

log = logging.getLogger(__name__)
_started = threading.Lock()
_embedded: BackgroundScheduler | None = None


def sweep(engine: Engine, batch: int) -> int:
    """Fire due timers until none is due; returns how many fired."""
    total = 0
    while True:
        report = engine.fire_due_timers(limit=batch)
        total += len(report.fired)
        for failure in report.failed:
            log.warning("timer failed in instance %s: %s", failure["instance_id"],
                        failure["error"])
        if len(report.fired) + len(report.failed) + report.skipped < batch:
            return total


def start_embedded_scheduler(engine: Engine, settings: Settings) -> BackgroundScheduler | None:
    """One scheduler per process, and none in the parent of Flask's development reloader."""
    global _embedded
    if os.environ.get("FLASK_RUN_FROM_CLI") and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return None
    with _started:
        if _embedded is not None:
            return _embedded
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(sweep, "interval", seconds=settings.timer_sweep_seconds,
                          args=(engine, settings.timer_batch), id="timer_sweep",
                          max_instances=1, coalesce=True)
        scheduler.start()
        _embedded = scheduler
        return scheduler


def stop_embedded_scheduler(wait: bool = True) -> None:
    global _embedded
    with _started:
        if _embedded is not None:
            _embedded.shutdown(wait=wait)
            _embedded = None


def scheduler_state() -> dict[str, Any]:
    return {"running": _embedded is not None and _embedded.running}
