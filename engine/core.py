"""The engine: durable, versioned BPMN process instances over SpiffWorkflow."""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, insert, select, update

from engine import projections as proj
from engine.assignment import AssignmentMixin
from engine.clock import Clock, SystemClock
from engine.definitions import SourceFile, coerce_files, meta_key, parse_unit
from engine.errors import (
    FIELD_REQUIRED,
    Conflict,
    InvalidInput,
    Message,
    NotFound,
    ValidationFailed,
    schema_message,
)
from engine.operation import Hook, InstanceChange, current_operation
from engine.queries import QueryMixin
from engine.runtime import (
    check_task_data,
    dump_specs,
)
from engine.sandbox import Sandbox
from engine.store import (
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessInstance,
    Store,
    WaitingEvent,
)
from engine.sweep import SweepMixin
from engine.transaction import (
    CANCELLED,
    COMPLETED,
    ERROR,
    INSTANCES,
    RUNNING,
    InstanceRow,
    TaskNotOpen,
    TransactionMixin,
    _DefinitionCache,
    _Loaded,
    _uuid,
)

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Deployment:
    process_id: str
    version: int
    hash: str
    created: bool
    definition_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"process_id": self.process_id, "version": self.version, "hash": self.hash,
                "created": self.created}


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




TASKS = HumanTask.__table__


class Engine(TransactionMixin, QueryMixin, SweepMixin, AssignmentMixin):
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
        pool: bool = True,
    ) -> None:
        self.database_url = database_url
        self.store = Store(database_url, pool=pool)
        self.clock: Clock = clock or SystemClock()
        self.sandbox = Sandbox(helpers, time_limit_seconds=script_time_limit_seconds)
        self.services: dict[str, Callable[..., Any]] = dict(services or {})
        self.timer_lease = timedelta(seconds=timer_lease_seconds)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        self._definitions: dict[int, _DefinitionCache] = {}
        self._definitions_lock = threading.Lock()
        self._listeners: list[Callable[[InstanceChange], None]] = []

    # ------------------------------------------------------------------ set-up

    def create_schema(self) -> None:
        """Create the tables directly (tests); production uses `aduan db upgrade`."""
        self.store.create_schema()

    def register_helper(self, name: str, fn: Callable[..., Any]) -> None:
        self.sandbox.register(name, fn)

    def register_service(self, name: str, fn: Callable[..., Any]) -> None:
        self.services[name] = fn

    def add_listener(self, listener: Callable[[InstanceChange], None]) -> None:
        """Call `listener` after every mutation, inside its transaction, before the commit."""
        self._listeners.append(listener)

    def dispose(self) -> None:
        self.store.dispose()

    # ------------------------------------------------------------------ definitions

    def validate(self, files: Iterable[SourceFile | str | Path], process_id: str | None = None
                 ) -> list[Any]:
        """Every finding for a deployment unit; an empty list means it can be deployed."""
        return parse_unit(coerce_files(files), self.sandbox, process_id,
                          now=self.clock.now()).findings

    def deploy(self, files: Iterable[SourceFile | str | Path], *, process_id: str | None = None,
               deployed_by: str | None = None) -> Deployment:
        """Validate and store a unit as the next version; identical content keeps its version."""
        unit = parse_unit(coerce_files(files), self.sandbox, process_id, now=self.clock.now())
        if not unit.valid:
            raise ValidationFailed([f for f in unit.findings if f.severity == "error"])
        digest = unit.content_hash
        with self.store.transaction() as session:
            existing = session.execute(
                select(ProcessDefinition.id, ProcessDefinition.version).where(
                    ProcessDefinition.process_id == unit.process_id,
                    ProcessDefinition.content_hash == digest,
                )
            ).first()
            if existing is not None:
                return Deployment(unit.process_id, existing.version, digest, False, existing.id)
            latest = session.scalar(
                select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_id == unit.process_id
                )
            )
            row = ProcessDefinition(
                process_id=unit.process_id,
                version=(latest or 0) + 1,
                name=unit.process_name,
                content_hash=digest,
                files={f.name: f.content for f in unit.files},
                specs=dump_specs(unit.spec, unit.subprocess_specs),
                task_meta=unit.task_meta,
                deployed_at=self.clock.now(),
                deployed_by=deployed_by,
            )
            session.add(row)
            session.flush()
            return Deployment(unit.process_id, row.version, digest, True, row.id)

    # ------------------------------------------------------------------ instances

    def start(self, process_id: str, data: Mapping[str, Any] | None = None, *,
              business_key: str | None = None, version: int | None = None,
              actor: str | None = None, hook: Hook | None = None) -> InstanceSummary:
        """Start an instance of the latest (or a given) version and run it to its first wait.

        `hook(operation)` runs first inside the same transaction (the host writes its own rows
        there); a mapping it returns is added to the initial data.
        """
        initial = check_task_data(dict(data or {}), "initial data")
        now = self.clock.now()
        with self.store.transaction() as session:
            row = self._definition_row(session, process_id, version)
            definition = self._definition(session, row.id)
            workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                    script_engine=self._script_engine(now))
            instance_id = session.connection().execute(
                insert(INSTANCES).values(
                    definition_id=row.id, process_id=process_id, business_key=business_key,
                    status=RUNNING, state="{}", version=0, created_at=now, updated_at=now)
                .returning(INSTANCES.c.id)).scalar_one()
            instance = InstanceRow(instance_id, row.id, process_id, business_key, RUNNING,
                                   "{}", 0)
            loaded = _Loaded(instance, definition, workflow, proj.EMPTY, {}, RUNNING)

            def act() -> None:
                prepared = current_operation().prepared
                initial.update(check_task_data(dict(prepared or {}), "prepared data"))
                for task in workflow.get_tasks(state=TaskState.READY):
                    task.data.update(initial)

            self._run(session, loaded, now, actor, "start", None, detail={"data": initial},
                      act=act, hook=hook)
            return self._summary(instance)

    def complete(self, task_id: str, data: Mapping[str, Any] | None = None, *,
                 actor: str | None = None, expected_version: int | None = None,
                 hook: Hook | None = None) -> InstanceSummary:
        """Complete an open user task with data validated against its form.

        `hook(operation)` runs first inside the same transaction, after the task was found
        open and the data valid; what it writes commits only if the completion does.
        """
        submitted = check_task_data(dict(data or {}), "task data")
        now = self.clock.now()
        with self.store.transaction() as session:
            human = session.connection().execute(
                select(TASKS.c.instance_id, TASKS.c.assignee).where(TASKS.c.id == task_id)
            ).first()
            if human is None:
                raise TaskNotOpen("task %(task)s is not open: it was completed or cancelled "
                                  "(or never existed)", task=task_id)
            if human.assignee and actor and human.assignee != actor:
                raise Conflict("task %(task)s is assigned to %(holder)s; ask them, or unassign "
                               "it first", task=task_id, holder=human.assignee)
            loaded = self._load(session, human.instance_id, now, expected_version)
            task = self._ready_task(loaded.workflow, task_id)
            validator = loaded.definition.validator(
                meta_key(task.workflow.spec.name, task.task_spec.bpmn_id))
            if validator is not None:
                self._validate_form(validator, submitted)

            def act() -> None:
                task.data.update(submitted)
                task.run()

            self._run(session, loaded, now, actor, "complete_task", task.task_spec.bpmn_id,
                      detail={"task_id": task_id, "data": submitted}, act=act, hook=hook)
            return self._summary(loaded.row)

    @staticmethod
    def _validate_form(validator: Draft202012Validator, data: dict[str, Any]) -> None:
        errors: dict[str, str] = {}
        for error in validator.iter_errors(data):
            if error.validator == "required":
                missing = [name for name in error.validator_value if name not in error.instance]
                path = ".".join([*map(str, error.absolute_path), *missing[:1]])
                errors[path or "(form)"] = Message(FIELD_REQUIRED)
                for name in missing[1:]:
                    errors[".".join([*map(str, error.absolute_path), name])] = Message(
                        FIELD_REQUIRED)
            else:
                path = ".".join(map(str, error.absolute_path)) or "(form)"
                errors.setdefault(path, schema_message(error))
        if errors:
            raise InvalidInput("the form has errors: %(errors)s", errors, errors="; ".join(
                f"{k}: {v}" for k, v in sorted(errors.items())))

    def send_message(self, name: str, data: Mapping[str, Any] | None = None, *,
                     instance_id: int | None = None, correlation_key: str | None = None,
                     actor: str | None = None) -> list[int]:
        """Deliver a message to the instances waiting for it (by id or business key)."""
        if instance_id is None and correlation_key is None:
            raise InvalidInput("say which instance the message is for: an instance id or a "
                               "correlation key (business key)")
        return self._deliver("message", name, data, instance_id, correlation_key, actor)

    def send_signal(self, name: str, data: Mapping[str, Any] | None = None, *,
                    instance_id: int | None = None, actor: str | None = None) -> list[int]:
        """Broadcast a signal to every waiting instance (or to one)."""
        return self._deliver("signal", name, data, instance_id, None, actor)

    def _deliver(self, kind: str, name: str, data: Mapping[str, Any] | None,
                 instance_id: int | None, correlation_key: str | None,
                 actor: str | None) -> list[int]:
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
                loaded = self._load(session, target, now)
                waiting = proj.find_waiting(loaded.workflow, kind, name)
                if not waiting:
                    continue

                act = functools.partial(_deliver_event, loaded.workflow, waiting, payload)
                self._run(session, loaded, now, actor, f"{kind}_received",
                          waiting[0][0].task_spec.bpmn_id if waiting[0][0] else None,
                          detail={"name": name, "data": payload}, act=act)
                delivered.append(target)
        return delivered

    def cancel(self, instance_id: int, *, actor: str | None = None, reason: str | None = None
               ) -> InstanceSummary:
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self._load(session, instance_id, now, allow_error=True)
            if loaded.row.status in (COMPLETED, CANCELLED):
                raise Conflict("instance %(instance)s is already %(status)s",
                               instance=instance_id, status=loaded.row.status)
            self._run(session, loaded, now, actor, "cancel", None, detail={"reason": reason},
                      act=loaded.workflow.cancel, final_status=CANCELLED)
            return self._summary(loaded.row)

    def retry(self, instance_id: int, *, actor: str | None = None) -> InstanceSummary:
        """Run the failed task(s) of an instance in error again, after the cause is fixed."""
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self._load(session, instance_id, now, allow_error=True)
            if loaded.row.status != ERROR:
                raise Conflict("instance %(instance)s is %(status)s, not in error; there is "
                               "nothing to retry", instance=instance_id,
                               status=loaded.row.status)
            failed = loaded.workflow.get_tasks(state=TaskState.ERROR)

            def act() -> None:
                for task in failed:
                    loaded.workflow.reset_from_task_id(task.id)

            session.execute(update(Incident).where(
                Incident.instance_id == instance_id, Incident.resolved_at.is_(None)
            ).values(resolved_at=now))
            self._run(session, loaded, now, actor, "retry",
                      failed[0].task_spec.bpmn_id if failed else None, act=act)
            return self._summary(loaded.row)

    def migrate(self, process_id: str, to_version: int, *, from_version: int | None = None,
                dry_run: bool = False, actor: str | None = None) -> dict[str, Any]:
        """Move open instances to another version; a dry run only reports."""
        from engine.migration import migrate

        return migrate(self, process_id, to_version, from_version=from_version,
                       dry_run=dry_run, actor=actor)

    # ------------------------------------------------------------------ timers

    # ------------------------------------------------------------------ the transaction

    # ------------------------------------------------------------------ human tasks

    @staticmethod
    def _ready_task(workflow: BpmnWorkflow, task_id: str) -> Any:
        try:
            task = workflow.get_task_from_id(_uuid(task_id))
        except Exception:  # noqa: BLE001 - Spiff raises a bare exception for unknown ids
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotOpen("task %(task)s is no longer open; someone else completed it",
                              task=task_id)
        return task

    @staticmethod
    def _summary(row: InstanceRow) -> InstanceSummary:
        return InstanceSummary(row.id, row.process_id, row.status, row.version, row.business_key)



def _deliver_event(workflow: BpmnWorkflow, waiting: list[tuple[Any, Any]],
                   payload: dict[str, Any]) -> None:
    """Hand a message or signal to the workflow; without a target variable, merge its data."""
    for task, definition in waiting:
        variable = getattr(definition, "message_var", None) or getattr(definition, "variable",
                                                                         None)
        if task is not None and variable is None:
            task.data.update(payload)
    workflow.send_event(BpmnEvent(waiting[0][1], payload))
