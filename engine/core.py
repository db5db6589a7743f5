"""The engine: durable, versioned BPMN process instances over SpiffWorkflow.

`Engine` is the one object hosts hold. It owns the store, the clock, the sandbox, the
services and the listeners, and hands them to the collaborators that do the work:
`Deployments` (definition versions), `InstanceTransaction` (the one transaction of every
mutation), `Instances` (start, complete, messages, signals, cancel, retry), `Queries`,
`TimerSweep`, `Assignments` and `Migration`. They receive those objects once, here: replace
none of the engine's attributes afterwards (mutate them: a clock moves, a service registers).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.assignment import Assignments
from engine.clock import Clock, SystemClock
from engine.decisions import Decisions
from engine.definitions import SourceFile
from engine.deployments import Deployment, Deployments
from engine.instances import Instances, InstanceSummary
from engine.migration import Migration
from engine.operation import BusinessKey, Hook, InstanceChange
from engine.queries import Queries
from engine.sandbox import Limits, Sandbox, make_pool
from engine.store import Store
from engine.sweep import SweepReport, TimerSweep
from engine.transaction import InstanceTransaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Deployment", "Engine", "InstanceSummary"]


class Engine:
    """Deploys definitions and runs instances; every mutation is one locked transaction."""

    def __init__(
        self,
        database_url: str,
        *,
        clock: Clock | None = None,
        helpers: Mapping[str, Callable[..., Any]] | None = None,
        services: Mapping[str, Callable[..., Any]] | None = None,
        script_time_limit_seconds: float = 1.0,
        timer_lease_seconds: float = 60.0,
        timers_per_transaction: int = 1,
        timer_threads: int = 1,
        pool: bool = True,
        sandbox_workers: int = 2,
        sandbox_memory_mb: int = 512,
        sandbox_cpu_seconds: float = 2.0,
        sandbox_wall_seconds: float = 5.0,
    ) -> None:
        self.database_url = database_url
        self.store = Store(database_url, pool=pool)
        self.clock: Clock = clock or SystemClock()
        # Diagram code that is not provably cheap runs in worker processes with these hard
        # limits (engine/sandbox/pool.py); sandbox_workers=0 runs everything in this process.
        limits = Limits(sandbox_workers, sandbox_memory_mb, sandbox_cpu_seconds,
                        sandbox_wall_seconds)
        self.sandbox = Sandbox(helpers, time_limit_seconds=script_time_limit_seconds,
                               pool=make_pool(limits, script_time_limit_seconds))
        self.services: dict[str, Callable[..., Any]] = dict(services or {})
        self._replayable: set[str] = set()  # services that write only in the transaction
        self.timer_lease = timedelta(seconds=timer_lease_seconds)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        self._listeners: list[Callable[[InstanceChange], None]] = []
        self._deployments = Deployments(self.store, self.clock, self.sandbox)
        transaction = InstanceTransaction(self.store, self._deployments, self.sandbox,
                                          self.services, self._listeners, self._replayable)
        self._instances = Instances(self.store, self.clock, self._deployments, transaction)
        self._queries = Queries(self.store, self.clock, self._deployments, transaction)
        self._assignments = Assignments(self.store, self.clock)
        self._migration = Migration(self.store, self.clock, self._deployments, transaction)
        self._decisions = Decisions(self.store, self.clock, self._deployments, transaction)
        # Public for hosts that claim and fire in separate steps (tests, probes, drills).
        self.timer_sweep = TimerSweep(self.store, self.clock, transaction, self.worker_id,
                                      self.timer_lease, max(1, timers_per_transaction),
                                      max(1, timer_threads))

    # ------------------------------------------------------------------ set-up

    def create_schema(self) -> None:
        """Create the tables directly (tests); production uses `aduan db upgrade`."""
        self.store.create_schema()

    def register_helper(self, name: str, fn: Callable[..., Any]) -> None:
        self.sandbox.register(name, fn)

    def register_service(self, name: str, fn: Callable[..., Any], *,
                         replayable: bool = False) -> None:
        """Let diagrams call `fn` as service `name`. `replayable`: the service writes
        nothing outside the operation's database transaction (no message sent, no file, no
        remote call), so the engine may run it again when a later service of the same
        operation fails: its calls then share one savepoint per operation instead of one
        each (engine/transaction.py, InstanceTransaction.run)."""
        self.services[name] = fn
        if replayable:
            self._replayable.add(name)
        else:
            self._replayable.discard(name)

    def add_listener(self, listener: Callable[[InstanceChange], None]) -> None:
        """Call `listener` after every mutation, inside its transaction, before the commit."""
        self._listeners.append(listener)

    def add_unit_check(self, process_id: str, check: Callable[[Any], Iterable[Any]]) -> None:
        """Have the host judge every unit of `process_id` at validate and deploy.

        `check(unit)` receives the parsed unit (`engine.definitions.ParsedUnit`: its files,
        their XML roots `trees`, the specs) and returns `Finding`s; an error among them
        refuses the deployment. The engine knows nothing of what a host requires of its
        processes (the complaint domain checks its lifecycle contract this way); a process
        without a check deploys whenever the engine's own checks pass.
        """
        self._deployments.add_check(process_id, check)

    def dispose(self) -> None:
        self.timer_sweep.close()
        self.sandbox.close()
        self.store.dispose()

    # ------------------------------------------------------------------ definitions

    def validate(self, files: Iterable[SourceFile | str | Path], process_id: str | None = None
                 ) -> list[Any]:
        """Every finding for a deployment unit; an empty list means it can be deployed."""
        return self._deployments.validate(files, process_id)

    def deploy(self, files: Iterable[SourceFile | str | Path], *, process_id: str | None = None,
               deployed_by: str | None = None, note: str | None = None) -> Deployment:
        """Validate and store a unit as the next version; identical content keeps its version
        (and its note). `note` says why the version was deployed (the change note)."""
        return self._deployments.deploy(files, process_id=process_id, deployed_by=deployed_by,
                                        note=note)

    # ------------------------------------------------------------------ instances

    def start(self, process_id: str, data: Mapping[str, Any] | None = None, *,
              business_key: BusinessKey | None = None, version: int | None = None,
              actor: str | None = None, hook: Hook | None = None) -> InstanceSummary:
        """Start an instance of the latest (or a given) version and run it to its first wait.

        `business_key` may be a function of the transaction's session that returns the key:
        the host allocates it (a tracking number) in the same transaction, so a failed start
        uses none up. `hook(operation)` runs first inside the same transaction (the host
        writes its own rows there); a mapping it returns is added to the initial data.
        """
        return self._instances.start(process_id, data, business_key, version, actor, hook)

    def complete(self, task_id: str, data: Mapping[str, Any] | None = None, *,
                 actor: str | None = None, expected_version: int | None = None,
                 hook: Hook | None = None) -> InstanceSummary:
        """Complete an open user task with data validated against its form.

        `hook(operation)` runs first inside the same transaction, after the task was found
        open and the data valid; what it writes commits only if the completion does.
        """
        return self._instances.complete(task_id, data, actor, expected_version, hook)

    def complete_open(self, business_key: str, element_ids: Iterable[str],
                      data: Mapping[str, Any] | None = None, *, actor: str | None = None,
                      check: Callable[[Session], None],
                      choose: Callable[[list[dict[str, Any]]], dict[str, Any]],
                      hook: Hook | None = None) -> InstanceSummary:
        """Complete an open user task the host chooses, in one transaction with the host's
        own checks: the instance with `business_key` is locked, `check(session)` reads and
        checks the host's rows in the same session, `choose(tasks)` picks among the
        instance's open tasks of `element_ids` (oldest first) or raises; then as
        `complete` (engine/instances.py)."""
        return self._instances.complete_open(business_key, check, tuple(element_ids), data,
                                             actor, choose, hook)

    def send_message(self, name: str, data: Mapping[str, Any] | None = None, *,
                     instance_id: int | None = None, correlation_key: str | None = None,
                     actor: str | None = None) -> list[int]:
        """Deliver a message to the instances waiting for it (by id or business key)."""
        return self._instances.deliver("message", name, data, instance_id, correlation_key,
                                       actor)

    def send_signal(self, name: str, data: Mapping[str, Any] | None = None, *,
                    instance_id: int | None = None, actor: str | None = None) -> list[int]:
        """Broadcast a signal to every waiting instance (or to one)."""
        return self._instances.deliver("signal", name, data, instance_id, None, actor)

    def cancel(self, instance_id: int, *, actor: str | None = None, reason: str | None = None
               ) -> InstanceSummary:
        return self._instances.cancel(instance_id, actor, reason)

    def retime(self, instance_id: int, hook: Hook, *, actor: str | None = None,
               detail: Mapping[str, Any] | None = None) -> InstanceSummary:
        """Move a running instance's timers after the host moved the deadlines they read:
        `hook(operation)` rewrites the host's rows in the instance's transaction and returns
        {"data": {...}, "timers": [...]} (engine/instances.py, Instances.retime)."""
        return self._instances.retime(instance_id, hook, actor, detail)

    def retry(self, instance_id: int, *, actor: str | None = None) -> InstanceSummary:
        """Run the failed task(s) of an instance in error again, after the cause is fixed."""
        return self._instances.retry(instance_id, actor)

    def migrate(self, process_id: str, to_version: int, *, from_version: int | None = None,
                dry_run: bool = False, actor: str | None = None,
                instance_ids: Iterable[int] | None = None, note: str | None = None
                ) -> dict[str, Any]:
        """Move open instances to another version (only `instance_ids`, if given); a dry run
        only reports. `note` is kept with each instance's migrate event."""
        return self._migration.migrate(process_id, to_version, from_version=from_version,
                                       dry_run=dry_run, actor=actor,
                                       instance_ids=instance_ids, note=note)

    # ------------------------------------------------------------------ timers

    def fire_due_timers(self, now: datetime | None = None, limit: int = 100) -> SweepReport:
        """Claim due timers and fire each in its instance's own transaction (on PostgreSQL
        optionally several instances' in one: TimerSweep.per_transaction).

        With `now` given (tests, drills) every firing happens at that instant; otherwise each
        instance fires at the clock's time when its own transaction runs.
        """
        return self.timer_sweep.fire_due(now, limit)

    # ------------------------------------------------------------------ human tasks

    def claim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._assignments.claim(task_id, user)

    def unclaim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._assignments.unclaim(task_id, user)

    def assign(self, task_id: str, user: str | None, *, actor: str | None = None,
               expected_assignee: str | None = None, only_if_free: bool = False,
               hook: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """Set (or clear, with None) the assignee. With `expected_assignee`, only while that
        user still holds the task; with `only_if_free`, only while nobody does: otherwise
        Conflict, nothing changed. `hook(session)` runs in the same transaction."""
        return self._assignments.assign(task_id, user, actor=actor,
                                        expected_assignee=expected_assignee,
                                        only_if_free=only_if_free, hook=hook)

    def set_candidate_groups(self, task_id: str, groups: Iterable[str], *,
                             actor: str | None = None,
                             hook: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """Hand an open task to other candidate groups (a reassignment); clears the assignee.
        `hook(session)` runs in the same transaction: the host's writes, all or nothing."""
        return self._assignments.set_candidate_groups(task_id, groups, actor=actor,
                                                      hook=hook)

    # ------------------------------------------------------------------ reads

    def definitions(self) -> list[dict[str, Any]]:
        return self._queries.definitions()

    def definition_files(self, process_id: str, version: int | None = None) -> dict[str, str]:
        return self._queries.definition_files(process_id, version)

    def decide(self, process_id: str, decision_id: str, *inputs: Mapping[str, Any],
               version: int | None = None) -> list[dict[str, Any]]:
        """A decision table of the latest (or a given) deployed version, evaluated outside
        any instance for each set of inputs: what the diagram will decide for them
        (engine/decisions.py)."""
        return self._decisions.decide(process_id, decision_id, inputs, version)

    def decide_unit(self, files: Iterable[SourceFile | str | Path], decision_id: str,
                    *inputs: Mapping[str, Any], process_id: str | None = None
                    ) -> list[dict[str, Any]]:
        """A decision table of a unit that is NOT deployed (a candidate), evaluated in the
        sandbox for each set of inputs, as `decide` does for a deployed version. The unit is
        checked as `deploy` checks it and nothing is stored; a unit that could not be
        deployed raises ValidationFailed with its findings (engine/decisions.py)."""
        return self._decisions.decide_unit(files, decision_id, inputs, process_id)

    def tasks(self, *, instance_id: int | None = None, lane: str | None = None,
              group: str | None = None, groups: Iterable[str] | None = None,
              assignee: str | None = None, unassigned: bool = False,
              limit: int = 500) -> list[dict[str, Any]]:
        """Open tasks from the projection; no workflow is loaded."""
        return self._queries.tasks(instance_id=instance_id, lane=lane, group=group,
                                   groups=groups, assignee=assignee, unassigned=unassigned,
                                   limit=limit)

    def task(self, task_id: str) -> dict[str, Any]:
        """One open task with the data its form starts from."""
        return self._queries.task(task_id)

    def instance(self, instance_id: int, *, events: bool = True) -> dict[str, Any]:
        return self._queries.instance(instance_id, events=events)

    def element_states(self, instance_id: int) -> dict[str, Any]:
        """Where an instance has been, is, and waits, as element ids of its diagram
        (`Queries.element_states` tells which)."""
        return self._queries.element_states(instance_id)

    def instances(self, *, process_id: str | None = None, status: str | None = None,
                  business_key: str | None = None, limit: int = 100,
                  version: int | None = None, key_contains: str | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
        """Instances, newest first: of a process (and one of its versions), a status, a
        business key (exact, or containing `key_contains`, any case); a page of them."""
        return self._queries.instances(process_id=process_id, status=status,
                                       business_key=business_key, limit=limit,
                                       version=version, key_contains=key_contains,
                                       offset=offset)

    def count_instances(self, *, process_id: str | None = None, status: str | None = None,
                        version: int | None = None, key_contains: str | None = None) -> int:
        """How many instances `instances` would list without a limit."""
        return self._queries.count_instances(process_id=process_id, status=status,
                                             version=version, key_contains=key_contains)

    def history(self, *, process_id: str | None = None, limit: int = 100
                ) -> list[dict[str, Any]]:
        """Deployments and migrations, newest first: who, when, which versions, the note,
        how many instances a migration moved."""
        return self._queries.history(process_id=process_id, limit=limit)

    def incidents(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        return self._queries.incidents(open_only=open_only)

    def timers(self, *, due_before: datetime | None = None, limit: int = 100
               ) -> list[dict[str, Any]]:
        return self._queries.timers(due_before=due_before, limit=limit)

    def next_due_at(self, *, claimable: bool = False) -> datetime | None:
        """When the earliest waiting timer falls due (an index lookup; for the scheduler);
        with `claimable`, the earliest no other sweeper's live lease holds."""
        return self._queries.next_due_at(claimable=claimable)
