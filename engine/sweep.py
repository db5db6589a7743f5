"""The timer sweep: claim due timers, fire each in its instance's transaction."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import or_, select, update

from engine.clock import Clock
from engine.errors import Conflict, EngineError, NotFound
from engine.operation import replayable
from engine.store import ProcessInstance, Store, Timer, context_for_thread, transient_failure
from engine.tasktree import dismantle
from engine.transaction import InstanceTransaction

log = logging.getLogger(__name__)
TIMERS = Timer.__table__
INSTANCES = ProcessInstance.__table__


@dataclass
class SweepReport:
    fired: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    # timers whose firing met another transaction (a deadlock, a lock, store.transient_failure):
    # nothing of it was kept; released, they fire at the next sweep
    deferred: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"fired": len(self.fired), "timers": self.fired, "failed": self.failed,
                "skipped": self.skipped, "deferred": self.deferred}

    def add(self, other: SweepReport) -> None:
        self.fired.extend(other.fired)
        self.failed.extend(other.failed)
        self.skipped += other.skipped
        self.deferred += other.deferred


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
    # Instances fired in one transaction (PostgreSQL): one BEGIN, one COMMIT and one WAL
    # flush for several firings. Their rows are locked first with SKIP LOCKED, so a batch
    # never waits on an instance someone else holds (those fire alone, after it); a batch
    # that fails for any reason is rolled back whole and its instances fire alone. The
    # price: a batch holds its instances' rows, and the rows its firings wrote, until it
    # commits, and its first firing becomes visible only with its last. The default, the
    # engine's and `aduan scheduler`'s, is 1 (each instance in its own transaction); an
    # operator whose disk is slow to flush may raise it (ADUAN_TIMER_PER_TRANSACTION,
    # web/config.py; BENCHMARKS.md, Issue 17, seventh and eighth rounds). SQLite always
    # fires one per transaction (one writer at a time).
    per_transaction: int = 1
    # Threads that fire one sweep's claimed instances side by side (PostgreSQL), each
    # instance (or batch, see `per_transaction`) in its own transaction on its own
    # connection, as a job executor's pool does: while one firing waits for the database
    # (its statements, its commit's flush) another runs its Python, so one process fires
    # more a second than one firing at a time allows. The claim stays one statement for the
    # whole sweep; the instances claimed are distinct, so no two threads touch one. The
    # engine's default is 1 (the sweep's own thread fires everything); the product's is
    # ADUAN_TIMER_THREADS (web/config.py). SQLite always fires one at a time.
    threads: int = 1
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False,
                                       repr=False)

    def fire_due(self, now: datetime | None = None, limit: int = 100) -> SweepReport:
        """Claim due timers and fire them, each instance's in one transaction (several
        instances' in one, see `per_transaction`), on `threads` threads; returns when every
        claimed timer fired (or failed), the report in the order claimed.

        With `now` given (tests, drills) every firing happens at that instant; otherwise each
        instance fires at the clock's time when its own firing runs.
        """
        fixed = now
        claimed = self.claim(fixed or self.clock.now(), limit)
        by_instance: dict[int, list[tuple[str, str]]] = {}
        for timer_id, instance_id, element_id in claimed:
            by_instance.setdefault(instance_id, []).append((timer_id, element_id))
        pending = list(by_instance)
        size = self.per_transaction if self.store.postgres else 1
        units = [{i: by_instance[i] for i in pending[start:start + size]}
                 for start in range(0, len(pending), size)]
        report = SweepReport()
        pool = self._workers() if len(units) > 1 else None
        if pool is None:
            for unit in units:
                self._fire_unit(unit, fixed, report)
            return report
        parts = [SweepReport() for _ in units]
        # Each firing runs in a copy of this thread's context: a host's context variables
        # reach its services as they do without threads.
        futures = [pool.submit(context_for_thread().run, self._fire_unit, unit, fixed, part)
                   for unit, part in zip(units, parts, strict=True)]
        wait(futures)  # every firing ends before the sweep returns, or raises
        for future in futures:
            future.result()  # a firing's own failure is in its part; this re-raises the rest
        for part in parts:
            report.add(part)
        return report

    def _workers(self) -> ThreadPoolExecutor | None:
        """The firing threads, started at the first sweep that has work for two; None when
        firings run one at a time (one thread, or SQLite)."""
        if self.threads <= 1 or not self.store.postgres:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads,
                                                thread_name_prefix="aduan-timer-firing")
            return self._pool

    def close(self) -> None:
        """Stop the firing threads (after the firings they run); the next sweep that needs
        them starts them again."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _fire_unit(self, unit: dict[int, list[tuple[str, str]]], fixed: datetime | None,
                   report: SweepReport) -> None:
        """One instance alone, or several in one transaction; those a batch could not fire
        (held by someone else, or the batch failed) then alone."""
        alone = self.fire_batch(unit, fixed, report) if len(unit) > 1 else list(unit)
        for instance_id in alone:
            self._fire_alone(instance_id, unit[instance_id], fixed, report)

    def fire_batch(self, batch: dict[int, list[tuple[str, str]]], fixed: datetime | None,
                   report: SweepReport) -> list[int]:
        """Fire several instances' claimed timers in one transaction; adds what fired to
        `report` once committed. Returns the instances to fire alone: those another
        transaction holds, or all of them when the batch failed."""
        done: list[tuple[int, list[tuple[str, str]], list[dict[str, Any]] | None]] = []
        try:
            with self.store.transaction() as session:
                conn = session.connection()
                locked = set(conn.execute(
                    select(INSTANCES.c.id).where(INSTANCES.c.id.in_(list(batch)))
                    .with_for_update(skip_locked=True)).scalars())
                for instance_id, timers in batch.items():
                    if instance_id in locked:
                        done.append((instance_id, timers, self._fire_in(
                            session, instance_id, [t[0] for t in timers],
                            fixed or self.clock.now())))
        except Exception:  # each instance again, alone: it says what failed, if it does
            log.warning("a batch of %s timer firings failed; firing them one by one",
                        len(batch), exc_info=True)
            return list(batch)
        for instance_id, timers, fired in done:
            self._account(report, instance_id, timers, fired)
        return [i for i in batch if i not in locked]

    def _fire_alone(self, instance_id: int, timers: list[tuple[str, str]],
                    fixed: datetime | None, report: SweepReport) -> None:
        try:
            fired = self.fire_instance(instance_id, [t[0] for t in timers],
                                       fixed or self.clock.now())
        except EngineError as exc:
            report.failed.append({"instance_id": instance_id, "error": str(exc),
                                  "timers": [t[1] for t in timers]})
            return
        except Exception as exc:  # one bad instance never stops the sweep
            if transient_failure(exc):  # not the instance's fault: fire it again next time
                log.warning("firing timers of instance %s met another transaction (%s); "
                            "it fires at the next sweep", instance_id, exc)
                self._release(instance_id, [t[0] for t in timers])
                report.deferred += len(timers)
                return
            log.exception("firing timers of instance %s failed", instance_id)
            report.failed.append({"instance_id": instance_id,
                                  "error": self.fail_instance(instance_id, timers[0][1],
                                                              fixed, exc),
                                  "timers": [t[1] for t in timers]})
            return
        self._account(report, instance_id, timers, fired)

    @staticmethod
    def _account(report: SweepReport, instance_id: int, timers: list[tuple[str, str]],
                 fired: list[dict[str, Any]] | None) -> None:
        if fired is None:
            report.skipped += len(timers)
            return
        report.fired.extend(fired)
        if fired and fired[0].get("incident"):
            report.failed.append({"instance_id": instance_id, "error": fired[0]["incident"],
                                  "timers": [t[1] for t in timers]})

    def _release(self, instance_id: int, timer_ids: list[str]) -> None:
        """Give up this sweeper's claim of these timers, in a transaction of its own, so
        that the next sweep (of any process) takes them; if that fails too, the lease runs
        out instead."""
        try:
            with self.store.transaction() as session:
                session.connection().execute(update(TIMERS).where(
                    TIMERS.c.id.in_(timer_ids), TIMERS.c.claimed_by == self.worker_id
                ).values(claimed_by=None, claimed_until=None))
        except Exception:  # the lease frees them later
            log.warning("releasing the timers of instance %s failed; their lease runs out",
                        instance_id, exc_info=True)

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
        timers = TIMERS
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
        None when none is (fired by another sweeper, moved, or the instance is gone).

        Like a command, with no savepoint for the replayable services: should one fail, the
        transaction is rolled back and the firing run again with a savepoint per call
        (engine.operation.replayable), which records the incident."""
        def attempt() -> list[dict[str, Any]] | None:
            with self.store.transaction() as session:
                return self._fire_in(session, instance_id, timer_ids, now)

        return replayable(attempt)

    def _fire_in(self, session: Any, instance_id: int, timer_ids: list[str], now: datetime
                 ) -> list[dict[str, Any]] | None:
        """fire_instance's work, in the caller's transaction."""
        try:
            loaded = self.transaction.load(session, instance_id, now)
        except (NotFound, Conflict):
            return None
        still_due = [t for t in timer_ids if t in loaded.before.timers
                     and loaded.before.timers[t].due_at <= now]
        if not still_due:  # fired by someone else meanwhile, or moved
            session.connection().execute(update(TIMERS).where(
                TIMERS.c.id.in_(timer_ids), TIMERS.c.claimed_by == self.worker_id
            ).values(claimed_by=None, claimed_until=None))
            dismantle(loaded.workflow)
            return None
        incident = self.transaction.run(session, loaded, now, None, "timer_fired",
                                        loaded.before.timers[still_due[0]].element_id,
                                        detail={"timers": still_due},
                                        act=BpmnWorkflow.refresh_timers,
                                        # its next firing is a day off, or a person's (in
                                        # a web process): kept, its workflow would outlive
                                        # the collector's young generations for nothing
                                        keep_warm=False)
        # A fired timer's row is gone; a cycle's moved row was rewritten unclaimed. Only a
        # claimed timer that is still waiting unchanged (not due after all) keeps a claim.
        kept = loaded.after.timers if loaded.after is not None else {}
        held = [t for t in timer_ids if t in kept and t in loaded.before.timers
                and kept[t].due_at == loaded.before.timers[t].due_at]
        if held:
            session.connection().execute(update(TIMERS).where(
                TIMERS.c.id.in_(held), TIMERS.c.claimed_by == self.worker_id
            ).values(claimed_by=None, claimed_until=None))
        # Saved, and kept warm for no later operation (the next firing of this instance is
        # rarely soon): its reference cycles go now, not in a garbage collection.
        dismantle(loaded.workflow)
        return [{
            "instance_id": instance_id,
            "timer_id": t,
            "element_id": loaded.before.timers[t].element_id,
            "due_at": loaded.before.timers[t].due_at.isoformat(),
            "fired_at": now.isoformat(),
            "incident": incident,
        } for t in still_due]
