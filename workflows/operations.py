"""What operators watch and the scheduler does: timer lateness, outbox backlog and dead
letters, incidents, scheduler heartbeats, the timer sweep and the supervisors' daily digest."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine import SweepReport
from engine.store import Incident, Timer
from workflows import access, delivery, notify
from workflows.config import RegencyConfig
from workflows.context import Context
from workflows.models import Complaint, Escalation, SchedulerHeartbeat, SlaRecord, User
from workflows.sla import CITIZEN_STEPS, RUNNING
from workflows.workdays import calendar_for

HEARTBEAT_STALE_SECONDS = 60
# A scheduler silent this long is gone (stopped, killed, its machine replaced): each process
# start beats under a new worker id, so without an age-out `aduan status` would list every
# scheduler that ever ran as "silent", forever. The status leaves gone ones out (it counts
# them), and any live scheduler's beat deletes their rows.
SCHEDULER_GONE_SECONDS = 24 * 3600


class Operations:
    """The operators' and the scheduler's use cases (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def status(self) -> dict[str, Any]:
        """Is anything late, stuck or failing? (`aduan status`, /metrics)"""
        now = self.ctx.now()
        outbox = delivery.backlog(self.ctx.engine.store, now)
        with self.ctx.reads() as session:
            return status(session, now, outbox)

    def escalation_counts(self) -> dict[tuple[str, str], int]:
        """How many escalations there are per rung and status (/metrics)."""
        with self.ctx.reads() as session:
            rows = session.execute(select(Escalation.rung_name, Escalation.status,
                                          func.count()).group_by(Escalation.rung_name,
                                                                 Escalation.status)).all()
        return {(rung, state): count for rung, state, count in rows}

    def outbox_sender(self, channels: dict[str, Any], max_attempts: int
                      ) -> delivery.OutboxSender:
        """The sender that delivers the outbox over these channels (the scheduler's job)."""
        engine = self.ctx.engine
        return delivery.OutboxSender(engine.store, channels, engine.clock,
                                     worker_id=f"sender:{engine.worker_id}",
                                     max_attempts=max_attempts)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return delivery.dead_letters(self.ctx.engine.store, limit=limit)

    def requeue(self, outbox_id: int) -> dict[str, Any]:
        """Send a dead letter again, now (after its cause was fixed)."""
        return delivery.requeue(self.ctx.engine.store, outbox_id, now=self.ctx.now())

    def seconds_to_next_timer(self) -> float | None:
        """How long until the earliest waiting timer that no sweeper holds is due (0 or
        less: due now); None when none waits. An index lookup: the scheduler asks it every
        poll and after every sweep, so that it sleeps until the next timer it could fire
        rather than sweep for one another process is firing."""
        due = self.ctx.engine.next_due_at(claimable=True)
        return None if due is None else (due - self.ctx.now()).total_seconds()

    def fire_due_timers(self, batch: int, now: datetime | None = None
                        ) -> list[SweepReport]:
        """Fire the due timers, `batch` at a time, until none is due; one report a batch.
        `now` acts as if it were another time (drills, `aduan timers fire --now`)."""
        return list(self.sweep_timers(batch, now))

    def sweep_timers(self, batch: int, now: datetime | None = None
                     ) -> Iterator[SweepReport]:
        """`fire_due_timers`, each batch's report as soon as the batch is fired (the
        scheduler counts its firings as they go)."""
        while True:
            report = self.ctx.engine.fire_due_timers(now=now, limit=batch)
            yield report
            if len(report.fired) + len(report.failed) + report.skipped < batch:
                return

    def beat(self, worker_id: str, *, fired: int = 0, sent: int = 0) -> None:
        """Record that a scheduler is alive, and what it did since its last beat."""
        with self.ctx.transaction() as session:
            beat(session, worker_id, self.ctx.now(), fired=fired, sent=sent, swept=True)

    def send_daily_digests(self) -> int:
        """One digest per supervisor (see send_daily_digests); returns how many."""
        with self.ctx.transaction() as session:
            return send_daily_digests(session, self.ctx.config, self.ctx.now())


def worker_identity() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def beat(session: Session, worker_id: str, now: datetime, *, fired: int = 0, sent: int = 0,
         swept: bool = False) -> None:
    """Record that a scheduler is alive (and what it did since the last beat)."""
    row = session.get(SchedulerHeartbeat, worker_id)
    host, pid = worker_identity()
    if row is None:
        row = SchedulerHeartbeat(worker_id=worker_id, hostname=host, pid=pid, started_at=now,
                                 last_seen_at=now, timers_fired=0, notifications_sent=0)
        session.add(row)
    row.last_seen_at = now
    if swept:
        row.last_sweep_at = now
    row.timers_fired = (row.timers_fired or 0) + fired
    row.notifications_sent = (row.notifications_sent or 0) + sent
    # Forget the gone; rows another live scheduler is deleting right now are skipped, so
    # two beats never wait on (or deadlock over) the same old rows.
    gone = session.scalars(select(SchedulerHeartbeat.worker_id).where(
        SchedulerHeartbeat.last_seen_at < now - timedelta(seconds=SCHEDULER_GONE_SECONDS))
        .with_for_update(skip_locked=True)).all()
    if gone:
        session.execute(delete(SchedulerHeartbeat).where(
            SchedulerHeartbeat.worker_id.in_(gone)))


def status(session: Session, now: datetime, outbox_backlog: dict[str, Any]) -> dict[str, Any]:
    """The operator's view: is anything late, stuck or failing?

    `outbox_backlog` is `workflows.delivery.backlog(...)`, read alongside.
    """
    oldest = session.scalar(select(func.min(Timer.due_at)).where(Timer.due_at <= now))
    due_next_hour = session.scalar(select(func.count()).select_from(Timer).where(
        Timer.due_at > now, Timer.due_at <= now + timedelta(hours=1)))
    waiting = session.scalar(select(func.count()).select_from(Timer))
    incidents = session.execute(select(Incident.instance_id, Incident.element_id,
                                       Incident.message).where(Incident.resolved_at.is_(None))
                                .order_by(Incident.id)).all()
    gone_before = now - timedelta(seconds=SCHEDULER_GONE_SECONDS)
    heartbeats = session.scalars(select(SchedulerHeartbeat).where(
        SchedulerHeartbeat.last_seen_at >= gone_before).order_by(
        SchedulerHeartbeat.last_seen_at.desc())).all()
    gone, gone_last_seen = session.execute(select(
        func.count(), func.max(SchedulerHeartbeat.last_seen_at)).where(
        SchedulerHeartbeat.last_seen_at < gone_before)).one()
    return {
        "now": now.isoformat(),
        "timers": {
            "waiting": waiting,
            "overdue_oldest_due_at": oldest.isoformat() if oldest else None,
            "overdue_lateness_seconds": round((now - oldest).total_seconds(), 3)
            if oldest else 0.0,
            "due_next_hour": due_next_hour,
        },
        "outbox": outbox_backlog,
        "incidents": {"open": len(incidents), "items": [
            {"instance_id": i, "element_id": e, "message": m} for i, e, m in incidents[:20]]},
        "schedulers": [{
            "worker_id": h.worker_id, "hostname": h.hostname, "pid": h.pid,
            "started_at": h.started_at.isoformat(), "last_seen_at": h.last_seen_at.isoformat(),
            "last_sweep_at": h.last_sweep_at.isoformat() if h.last_sweep_at else None,
            "alive": (now - h.last_seen_at).total_seconds() <= HEARTBEAT_STALE_SECONDS,
            "timers_fired": h.timers_fired, "notifications_sent": h.notifications_sent,
        } for h in heartbeats],
        # silent for over SCHEDULER_GONE_SECONDS: not listed; their rows await a live beat
        "schedulers_gone": {"count": gone, "last_seen_at": gone_last_seen.isoformat()
                            if gone_last_seen else None,
                            "after_seconds": SCHEDULER_GONE_SECONDS},
    }


def send_daily_digests(session: Session, config: RegencyConfig, now: datetime) -> int:
    """One digest per supervisor: due soon, overdue and escalated cases of their agencies."""
    calendar = calendar_for(session, config)
    soon = calendar.add_working_days(now, 1)
    sent = 0
    supervisors = [u for u in session.scalars(select(User).where(User.active.is_(True)))
                   if "supervisor" in (u.roles or [])]
    for user in supervisors:
        scope = access.principal_for(session, user).agency_ids
        if not scope:
            continue
        held = [c for c in session.scalars(select(Complaint).where(
            (Complaint.agency_id.in_(scope)) | (Complaint.unit_id.in_(scope))))]
        ids = [c.id for c in held] or [-1]
        running = session.scalars(select(SlaRecord).where(
            SlaRecord.complaint_id.in_(ids), SlaRecord.state == RUNNING,
            SlaRecord.step.not_in(CITIZEN_STEPS))).all()
        overdue = sorted({r.complaint_id for r in running if r.due_at < now})
        due_soon = sorted({r.complaint_id for r in running if now <= r.due_at <= soon})
        escalated = session.scalar(select(func.count()).select_from(Escalation).where(
            Escalation.agency_id.in_(scope), Escalation.status == "open"))
        if not (overdue or due_soon or escalated):
            continue
        numbers = {c.id: c.tracking_number for c in held}
        notify.to_users(session, [user], None, "daily_digest", now, {
            "date_local": now.astimezone(calendar.tzinfo).strftime("%d-%m-%Y"),
            "overdue": len(overdue), "due_soon": len(due_soon), "escalated": escalated,
            "overdue_list": ", ".join(numbers[i] for i in overdue[:20]),
            "due_soon_list": ", ".join(numbers[i] for i in due_soon[:20]),
        })
        sent += 1
    return sent
