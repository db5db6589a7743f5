"""The timer sweep: claim due timers, fire each in its instance's transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import or_, select, update

from engine.clock import Clock
from engine.errors import Conflict, EngineError, NotFound
from engine.store import Store, Timer
from engine.transaction import InstanceTransaction

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    fired: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"fired": len(self.fired), "timers": self.fired, "failed": self.failed,
                "skipped": self.skipped}


@dataclass(eq=False)
class TimerSweep:
    """Due timers: claimed with a lease, fired each in its instance's own transaction.

    The claim commits before any timer fires, so sweepers in other processes skip what this
    one holds until `lease` runs out; a sweeper that dies only delays its timers by the lease.
    Firing deletes a timer's row in the transaction that changes its instance, so it fires at
    most once; the lease and the re-check of its due time under the instance lock make it fire
    at least once.
    """

    store: Store
    clock: Clock
    transaction: InstanceTransaction
    worker_id: str
    lease: timedelta

    def fire_due(self, now: datetime | None = None, limit: int = 100) -> SweepReport:
        """Claim due timers and fire each in its instance's own transaction.

        With `now` given (tests, drills) every firing happens at that instant; otherwise each
        instance fires at the clock's time when its own transaction runs.
        """
        fixed = now
        report = SweepReport()
        claimed = self.claim(fixed or self.clock.now(), limit)
        by_instance: dict[int, list[tuple[str, str]]] = {}
        for timer_id, instance_id, element_id in claimed:
            by_instance.setdefault(instance_id, []).append((timer_id, element_id))
        for instance_id, timers in by_instance.items():
            try:
                fired = self.fire_instance(instance_id, [t[0] for t in timers],
                                           fixed or self.clock.now())
            except EngineError as exc:
                report.failed.append({"instance_id": instance_id, "error": str(exc),
                                      "timers": [t[1] for t in timers]})
                continue
            except Exception as exc:  # one bad instance never stops the sweep
                log.exception("firing timers of instance %s failed", instance_id)
                report.failed.append({"instance_id": instance_id,
                                      "error": self.fail_instance(instance_id, timers[0][1],
                                                                  fixed, exc),
                                      "timers": [t[1] for t in timers]})
                continue
            if fired is None:
                report.skipped += len(timers)
                continue
            report.fired.extend(fired)
            if fired and fired[0].get("incident"):
                report.failed.append({"instance_id": instance_id,
                                      "error": fired[0]["incident"],
                                      "timers": [t[1] for t in timers]})
        return report

    def fail_instance(self, instance_id: int, element_id: str, fixed: datetime | None,
                      exc: Exception) -> str:
        """Record `exc` as the incident of an instance whose firing failed outside diagram
        code, in a transaction of its own; the text of the incident (or of the failure to
        record it: the lease then retries the instance later)."""
        try:
            with self.store.transaction() as session:
                incident = self.transaction.fail(session, instance_id,
                                                 fixed or self.clock.now(), "timer_fired",
                                                 element_id, exc)
        except Exception as again:  # e.g. the database is down: the lease retries it
            log.exception("recording the incident of instance %s failed", instance_id)
            return f"{type(exc).__name__}: {exc} (not recorded: {again})"
        return incident or f"{type(exc).__name__}: {exc}"

    def claim(self, now: datetime, limit: int) -> list[tuple[str, int, str]]:
        """Lease up to `limit` timers due at `now` that no live lease holds, earliest first;
        commits the lease and returns (timer id, instance id, element id) of each."""
        lease_now = self.clock.now()
        timers = Timer.__table__
        with self.store.transaction() as session:
            conn = session.connection()
            candidates = (
                select(timers.c.id, timers.c.instance_id, timers.c.element_id)
                .where(timers.c.due_at <= now,
                       or_(timers.c.claimed_until.is_(None), timers.c.claimed_until < lease_now))
                .order_by(timers.c.due_at)
                .limit(limit)
            )
            if self.store.postgres:
                # Lock first, then update by id: as a subquery of the UPDATE, PostgreSQL may
                # re-run the SKIP LOCKED select per row and claim far more than `limit`.
                candidates = candidates.with_for_update(skip_locked=True)
            rows = conn.execute(candidates).all()
            if rows:
                conn.execute(update(timers).where(timers.c.id.in_([r.id for r in rows]))
                             .values(claimed_by=self.worker_id,
                                     claimed_until=lease_now + self.lease))
        return [(r.id, r.instance_id, r.element_id) for r in rows]

    def fire_instance(self, instance_id: int, timer_ids: list[str], now: datetime
                      ) -> list[dict[str, Any]] | None:
        """Fire the claimed timers of one instance that are still due, in its transaction;
        None when none is (fired by another sweeper, moved, or the instance is gone)."""
        with self.store.transaction() as session:
            try:
                loaded = self.transaction.load(session, instance_id, now)
            except (NotFound, Conflict):
                return None
            still_due = [t for t in timer_ids if t in loaded.before.timers
                         and loaded.before.timers[t].due_at <= now]
            if not still_due:  # fired by someone else meanwhile, or moved
                session.execute(update(Timer).where(
                    Timer.id.in_(timer_ids), Timer.claimed_by == self.worker_id
                ).values(claimed_by=None, claimed_until=None))
                return None
            incident = self.transaction.run(session, loaded, now, None, "timer_fired",
                                            loaded.before.timers[still_due[0]].element_id,
                                            detail={"timers": still_due},
                                            act=BpmnWorkflow.refresh_timers)
            # A fired timer's row is gone; a cycle's moved row was rewritten unclaimed. Only a
            # claimed timer that is still waiting unchanged (not due after all) keeps a claim.
            kept = loaded.after.timers if loaded.after is not None else {}
            held = [t for t in timer_ids if t in kept and t in loaded.before.timers
                    and kept[t].due_at == loaded.before.timers[t].due_at]
            if held:
                session.connection().execute(update(Timer.__table__).where(
                    Timer.id.in_(held), Timer.claimed_by == self.worker_id
                ).values(claimed_by=None, claimed_until=None))
            return [{
                "instance_id": instance_id,
                "timer_id": t,
                "element_id": loaded.before.timers[t].element_id,
                "due_at": loaded.before.timers[t].due_at.isoformat(),
                "fired_at": now.isoformat(),
                "incident": incident,
            } for t in still_due]
