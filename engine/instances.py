"""Instance commands: start, complete a task, deliver messages and signals, cancel, retry."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine import projections as proj
from engine.clock import Clock
from engine.definitions import meta_key
from engine.deployments import Deployments
from engine.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TaskNotOpen,
)
from engine.operation import (
    BusinessKey,
    Hook,
    current_operation,
    replayable,
)
from engine.queries import task_dict
from engine.runtime import check_task_data
from engine.store import Incident, ProcessInstance, Store, WaitingEvent
from engine.transaction import (
    CANCELLED,
    COMPLETED,
    ERROR,
    INSTANCE_COLUMNS,
    INSTANCES,
    TASKS,
    InstanceRow,
    InstanceTransaction,
    task_uuid,
)

T = TypeVar("T")

# An instance's open tasks of some elements, oldest first (complete_open): Core rows, which
# `task_dict` reads as it reads ORM objects, without the ORM's loading.
_OPEN_TASKS_OF = (select(TASKS)
                  .where(TASKS.c.instance_id == bindparam("b_id"),
                         TASKS.c.element_id.in_(bindparam("b_elements", expanding=True)))
                  .order_by(TASKS.c.created_at, TASKS.c.id))

# The instance of an open task, with the task's assignee, by the task's id: one statement
# (and on PostgreSQL one round trip) that finds the instance and locks its row, where a
# completion read the task and then locked the instance. What it reads of the task is what
# the separate read saw (another transaction's completion or claim committed after the
# statement's snapshot is not seen either way); the instance's row, locked, is current, and
# the workflow rebuilt from it decides whether the task is still open (`_ready_task`).
_TASK_INSTANCE = (select(*INSTANCE_COLUMNS, TASKS.c.assignee)
                  .join_from(INSTANCES, TASKS, TASKS.c.instance_id == INSTANCES.c.id)
                  .where(TASKS.c.id == bindparam("b_task")))
_TASK_INSTANCE_LOCKED = _TASK_INSTANCE.with_for_update(of=INSTANCES)


@dataclass(frozen=True)
class InstanceSummary:
    id: int
    process_id: str
    status: str
    version: int
    business_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"instance_id": self.id, "process_id": self.process_id, "status": self.status,
                "version": self.version, "business_key": self.business_key}


@dataclass(eq=False)
class Instances:
    """Each command is one instance transaction: lock, load, act, run, save, project, audit."""

    store: Store
    clock: Clock
    deployments: Deployments
    transaction: InstanceTransaction

    def start(self, process_id: str, data: Mapping[str, Any] | None,
              business_key: BusinessKey | None, version: int | None, actor: str | None,
              hook: Hook | None) -> InstanceSummary:
        initial = check_task_data(dict(data or {}), "initial data")
        now = self.clock.now()
        return self.replayable(lambda: self._start(process_id, initial, business_key, version,
                                                   actor, hook, now))

    def replayable(self, unit: Callable[[], T]) -> T:
        """A command's unit of work, replayed carefully if a replayable service fails
        (engine.operation.replayable)."""
        return replayable(unit)

    def _start(self, process_id: str, initial: dict[str, Any],
               business_key: BusinessKey | None, version: int | None, actor: str | None,
               hook: Hook | None, now: datetime) -> InstanceSummary:
        with self.store.transaction() as session:
            row = self.deployments.find(session, process_id, version)
            definition = self.deployments.get(session, row.id)
            key = business_key(session) if callable(business_key) else business_key
            loaded = self.transaction.create(session, definition, key, now)

            def act(workflow: BpmnWorkflow) -> None:
                prepared = current_operation().prepared
                initial.update(check_task_data(dict(prepared or {}), "prepared data"))
                for task in workflow.get_tasks(state=TaskState.READY):
                    task.data.update(initial)

            self.transaction.run(session, loaded, now, actor, "start", None,
                                 detail={"data": initial}, act=act, hook=hook)
            return _summary(loaded.row)

    def complete(self, task_id: str, data: Mapping[str, Any] | None, actor: str | None,
                 expected_version: int | None, hook: Hook | None) -> InstanceSummary:
        submitted = check_task_data(dict(data or {}), "task data")
        now = self.clock.now()
        return self.replayable(lambda: self._complete(task_id, submitted, actor,
                                                      expected_version, hook, now))

    def _complete(self, task_id: str, submitted: dict[str, Any], actor: str | None,
                  expected_version: int | None, hook: Hook | None, now: datetime
                  ) -> InstanceSummary:
        with self.store.transaction() as session:
            found = session.connection().execute(
                _TASK_INSTANCE_LOCKED if self.store.postgres else _TASK_INSTANCE,
                {"b_task": task_id}).first()
            if found is None:
                raise TaskNotOpen("task %(task)s is not open: it was completed or cancelled "
                                  "(or never existed)", task=task_id)
            assignee = found[-1]
            if assignee and actor and assignee != actor:
                raise Conflict("task %(task)s is assigned to %(holder)s; ask them, or unassign "
                               "it first", task=task_id, holder=assignee)
            loaded = self.transaction.loaded(session, InstanceRow(*found[:-1]), now,
                                             expected_version)
            task = _ready_task(loaded.workflow, task_id)
            validator = loaded.definition.validator(
                meta_key(task.workflow.spec.name, task.task_spec.bpmn_id))
            if validator is not None:
                validator.check(submitted)

            def act(workflow: BpmnWorkflow) -> None:
                live = _ready_task(workflow, task_id)
                live.data.update(submitted)
                live.run()

            self.transaction.run(session, loaded, now, actor, "complete_task",
                                 task.task_spec.bpmn_id,
                                 detail={"task_id": task_id, "data": submitted}, act=act,
                                 hook=hook)
            return _summary(loaded.row)

    def complete_open(self, business_key: str, check: Callable[[Session], None],
                      element_ids: Collection[str], data: Mapping[str, Any] | None,
                      actor: str | None,
                      choose: Callable[[list[dict[str, Any]]], dict[str, Any]],
                      hook: Hook | None) -> InstanceSummary:
        """Complete an open user task chosen by the host, all in one transaction.

        The instance with `business_key` (the latest, if several) is locked first, then
        `check(session)` runs: the host reads its own rows there, current since nobody else
        may change the instance now, and refuses what it must (who may act, on what).
        `choose(tasks)` gets the instance's open tasks of `element_ids`, oldest first, and
        returns the one to complete, or raises. Then as `complete`: the assignee and the
        form are checked, `hook` runs, the task is completed. One transaction instead of a
        read, a task query and the completion's own: the host's rows are read once and
        stay in the session for its services.
        """
        submitted = check_task_data(dict(data or {}), "task data")
        now = self.clock.now()
        return self.replayable(lambda: self._complete_open(
            business_key, check, element_ids, submitted, actor, choose, hook, now))

    def _complete_open(self, business_key: str, check: Callable[[Session], None],
                       element_ids: Collection[str], submitted: dict[str, Any],
                       actor: str | None,
                       choose: Callable[[list[dict[str, Any]]], dict[str, Any]],
                       hook: Hook | None, now: datetime) -> InstanceSummary:
        with self.store.transaction() as session:
            row = self.transaction.lock_by_key(session, business_key)
            check(session)
            if row is None:
                raise NotFound(f"no instance has the business key {business_key!r}")
            tasks = [task_dict(t) for t in session.connection().execute(
                _OPEN_TASKS_OF, {"b_id": row.id, "b_elements": list(element_ids)})]
            human = choose(tasks)
            if human["assignee"] and actor and human["assignee"] != actor:
                raise Conflict("task %(task)s is assigned to %(holder)s; ask them, or unassign "
                               "it first", task=human["id"], holder=human["assignee"])
            loaded = self.transaction.loaded(session, row, now)
            task = _ready_task(loaded.workflow, human["id"])
            validator = loaded.definition.validator(
                meta_key(task.workflow.spec.name, task.task_spec.bpmn_id))
            if validator is not None:
                validator.check(submitted)

            def act(workflow: BpmnWorkflow) -> None:
                live = _ready_task(workflow, human["id"])
                live.data.update(submitted)
                live.run()

            self.transaction.run(session, loaded, now, actor, "complete_task",
                                 task.task_spec.bpmn_id,
                                 detail={"task_id": human["id"], "data": submitted}, act=act,
                                 hook=hook)
            return _summary(loaded.row)

    def deliver(self, kind: str, name: str, data: Mapping[str, Any] | None,
                instance_id: int | None, correlation_key: str | None,
                actor: str | None) -> list[int]:
        """Hand a message or signal to each instance waiting for it, each in its own
        transaction; returns the instances that took it. A message names its instance."""
        if kind == "message" and instance_id is None and correlation_key is None:
            raise InvalidInput("say which instance the message is for: an instance id or a "
                               "correlation key (business key)")
        payload = check_task_data(dict(data or {}), f"{kind} data")
        with self.store.transaction() as session:
            query = select(WaitingEvent.instance_id).where(
                WaitingEvent.kind == kind, WaitingEvent.name == name).distinct()
            if instance_id is not None:
                query = query.where(WaitingEvent.instance_id == instance_id)
            if correlation_key is not None:
                query = query.join(ProcessInstance,
                                   ProcessInstance.id == WaitingEvent.instance_id).where(
                    ProcessInstance.business_key == correlation_key)
            targets = list(session.scalars(query.order_by(WaitingEvent.instance_id)))
        if not targets and kind == "message":
            who = f"instance {instance_id}" if instance_id is not None else (
                f"business key {correlation_key!r}")
            raise NotFound(f"no instance with {who} is waiting for message {name!r}")
        delivered = []
        for target in targets:
            now = self.clock.now()
            with self.store.transaction() as session:
                loaded = self.transaction.load(session, target, now)
                waiting = proj.find_waiting(loaded.workflow, kind, name)
                if not waiting:
                    continue

                def act(workflow: BpmnWorkflow, kind: str = kind, name: str = name) -> None:
                    _deliver_event(workflow, proj.find_waiting(workflow, kind, name), payload)

                self.transaction.run(
                    session, loaded, now, actor, f"{kind}_received",
                    waiting[0][0].task_spec.bpmn_id if waiting[0][0] else None,
                    detail={"name": name, "data": payload}, act=act)
                delivered.append(target)
        return delivered

    def cancel(self, instance_id: int, actor: str | None, reason: str | None
               ) -> InstanceSummary:
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self.transaction.load(session, instance_id, now, allow_error=True)
            if loaded.row.status in (COMPLETED, CANCELLED):
                raise Conflict("instance %(instance)s is already %(status)s",
                               instance=instance_id, status=loaded.row.status)
            self.transaction.run(session, loaded, now, actor, "cancel", None,
                                 detail={"reason": reason}, act=BpmnWorkflow.cancel,
                                 final_status=CANCELLED)
            return _summary(loaded.row)

    def retime(self, instance_id: int, hook: Hook, actor: str | None,
               detail: Mapping[str, Any] | None) -> InstanceSummary:
        """Re-read the due times of a running instance's timers after the host moved them.

        `hook(operation)` runs in the instance's transaction (the host rewrites its own
        deadlines there) and returns {"data": {variable: value}, "timers": [element ids]}:
        each variable the open and waiting tasks already hold takes the new value, and the
        named waiting timers evaluate their expression again (a cycle restarts from its new
        first instant, a date timer waits for its new date). Open tasks' due dates follow.
        """
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self.transaction.load(session, instance_id, now)

            def act(workflow: BpmnWorkflow) -> None:
                asked = current_operation().prepared or {}
                data = check_task_data(dict(asked.get("data") or {}), "timer data")
                timers = set(asked.get("timers") or ())
                for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
                    # a waiting event re-reads its parent's data first (Spiff's _inherit_data)
                    for holder in (task, task.parent) if task.parent else (task,):
                        holder.data.update({k: v for k, v in data.items() if k in holder.data})
                    if task.state == TaskState.WAITING and task.task_spec.bpmn_id in timers:
                        task.internal_data.pop("event_value", None)
                        task.internal_data.pop("event_fired", None)
                workflow.refresh_timers()

            self.transaction.run(session, loaded, now, actor, "retime", None,
                                 detail=dict(detail or {}), act=act, hook=hook)
            self.transaction.refresh_due_dates(session, loaded)
            return _summary(loaded.row)

    def retry(self, instance_id: int, actor: str | None) -> InstanceSummary:
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self.transaction.load(session, instance_id, now, allow_error=True)
            if loaded.row.status != ERROR:
                raise Conflict("instance %(instance)s is %(status)s, not in error; there is "
                               "nothing to retry", instance=instance_id,
                               status=loaded.row.status)
            failed = failed_tasks(loaded.workflow)

            def act(workflow: BpmnWorkflow) -> None:
                for task in failed:
                    workflow.reset_from_task_id(task.id)

            session.execute(update(Incident).where(
                Incident.instance_id == instance_id, Incident.resolved_at.is_(None)
            ).values(resolved_at=now))
            self.transaction.run(session, loaded, now, actor, "retry",
                                 failed[0].task_spec.bpmn_id if failed else None, act=act)
            return _summary(loaded.row)


def failed_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """Every task in error, wherever it is in the tree.

    Not `get_tasks(state=ERROR)`: Spiff's iterator then descends only into finished tasks,
    and misses a failure under a task that still waits, such as the path a non-interrupting
    cycle timer starts each time it fires (its boundary event keeps WAITING). Retrying
    nothing would have put the instance back to running with that path's work lost.
    """
    return [t for t in workflow.get_tasks() if t.state == TaskState.ERROR]


def _summary(row: InstanceRow) -> InstanceSummary:
    return InstanceSummary(row.id, row.process_id, row.status, row.version, row.business_key)


def _ready_task(workflow: BpmnWorkflow, task_id: str) -> Any:
    try:
        task = workflow.get_task_from_id(task_uuid(task_id))
    except Exception:  # noqa: BLE001 - Spiff raises a bare exception for unknown ids
        task = None
    if task is None or task.state != TaskState.READY or not task.task_spec.manual:
        raise TaskNotOpen("task %(task)s is no longer open; someone else completed it",
                          task=task_id)
    return task


def _deliver_event(workflow: BpmnWorkflow, waiting: list[tuple[Any, Any]],
                   payload: dict[str, Any]) -> None:
    """Hand a message or signal to the workflow; without a target variable, merge its data."""
    for task, definition in waiting:
        variable = getattr(definition, "message_var", None) or getattr(definition, "variable",
                                                                         None)
        if task is not None and variable is None:
            task.data.update(payload)
    workflow.send_event(BpmnEvent(waiting[0][1], payload))
