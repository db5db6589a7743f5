"""The engine: durable, versioned BPMN process instances over SpiffWorkflow."""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from engine import projections as proj
from engine.clock import Clock, FixedClock, SystemClock
from engine.definitions import SourceFile, coerce_files, meta_key, parse_unit
from engine.errors import Conflict, EngineError, InvalidInput, NotFound, ValidationFailed
from engine.operation import Hook, InstanceChange, Operation, current_operation, running
from engine.runtime import (
    HostScriptEngine,
    check_task_data,
    dump_specs,
    dump_state,
    load_specs,
    load_state,
    parse_instant,
)
from engine.sandbox import Sandbox
from engine.store import (
    HumanTask,
    Incident,
    InstanceEvent,
    ProcessDefinition,
    ProcessInstance,
    Store,
    TaskGroup,
    Timer,
    WaitingEvent,
)

RUNNING, COMPLETED, ERROR, CANCELLED = "running", "completed", "error", "cancelled"
_DIFF_VALUE_LIMIT = 500


class TaskNotOpen(Conflict):
    """The task was completed or cancelled by another writer (or never existed)."""


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


@dataclass
class SweepReport:
    fired: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"fired": len(self.fired), "timers": self.fired, "failed": self.failed,
                "skipped": self.skipped}


@dataclass
class _Loaded:
    """One instance inside one transaction: row, live workflow and its projection before."""

    row: ProcessInstance
    definition: _DefinitionCache
    workflow: BpmnWorkflow
    before: proj.Snapshot
    data_before: dict[str, Any]
    status_before: str


@dataclass
class _DefinitionCache:
    id: int
    process_id: str
    version: int
    spec: Any
    subprocess_specs: dict[str, Any]
    task_meta: dict[str, dict[str, Any]]
    validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    def validator(self, key: str) -> Draft202012Validator | None:
        schema = (self.task_meta.get(key) or {}).get("form")
        if schema is None:
            return None
        if key not in self.validators:
            self.validators[key] = Draft202012Validator(schema)
        return self.validators[key]


def instance_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data of an instance as people mean it: what its most recent step saw."""
    task = workflow.last_task or workflow.task_tree
    return dict(task.data)


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= _DIFF_VALUE_LIMIT else text[:_DIFF_VALUE_LIMIT] + "..."


def data_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any] | None:
    changes: dict[str, Any] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, None), after.get(key, None)
        if key not in after:
            changes[key] = {"from": _short(old), "removed": True}
        elif key not in before or old != new:
            changes[key] = {"from": _short(old), "to": _short(new)}
    return changes or None


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
        return parse_unit(coerce_files(files), self.sandbox, process_id).findings

    def deploy(self, files: Iterable[SourceFile | str | Path], *, process_id: str | None = None,
               deployed_by: str | None = None) -> Deployment:
        """Validate and store a unit as the next version; identical content keeps its version."""
        unit = parse_unit(coerce_files(files), self.sandbox, process_id)
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

    def definitions(self) -> list[dict[str, Any]]:
        with self.store.read() as session:
            running = dict(session.execute(
                select(ProcessInstance.definition_id, func.count()).where(
                    ProcessInstance.status.in_((RUNNING, ERROR))
                ).group_by(ProcessInstance.definition_id)
            ).all())
            rows = session.execute(
                select(ProcessDefinition.id, ProcessDefinition.process_id,
                       ProcessDefinition.version, ProcessDefinition.name,
                       ProcessDefinition.content_hash, ProcessDefinition.deployed_at,
                       ProcessDefinition.deployed_by, ProcessDefinition.files)
                .order_by(ProcessDefinition.process_id, ProcessDefinition.version)
            ).all()
        return [{
            "process_id": r.process_id, "version": r.version, "name": r.name,
            "hash": r.content_hash, "deployed_at": r.deployed_at.isoformat(),
            "deployed_by": r.deployed_by, "files": sorted(r.files),
            "open_instances": running.get(r.id, 0),
        } for r in rows]

    def definition_files(self, process_id: str, version: int | None = None) -> dict[str, str]:
        with self.store.read() as session:
            row = self._definition_row(session, process_id, version)
            return dict(row.files)

    def _definition_row(self, session: Session, process_id: str, version: int | None
                        ) -> ProcessDefinition:
        query = select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        if version is None:
            query = query.order_by(ProcessDefinition.version.desc()).limit(1)
        else:
            query = query.where(ProcessDefinition.version == version)
        row = session.scalars(query).first()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFound(f"process {process_id!r} has no deployed {which}; deploy it first")
        return row

    def _definition(self, session: Session, definition_id: int) -> _DefinitionCache:
        cached = self._definitions.get(definition_id)
        if cached is not None:
            return cached
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"definition {definition_id} does not exist")
        spec, subprocess_specs = load_specs(row.specs)
        cached = _DefinitionCache(row.id, row.process_id, row.version, spec, subprocess_specs,
                                  row.task_meta)
        with self._definitions_lock:
            self._definitions.setdefault(definition_id, cached)
        return self._definitions[definition_id]

    # ------------------------------------------------------------------ instances

    def _script_engine(self, now: datetime) -> HostScriptEngine:
        return HostScriptEngine(self.sandbox, self.services, FixedClock(now))

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
            instance = ProcessInstance(
                definition_id=row.id, process_id=process_id, business_key=business_key,
                status=RUNNING, state="{}", version=0, created_at=now, updated_at=now,
            )
            session.add(instance)
            session.flush()
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
            human = self._open_task(session, task_id)
            if human.assignee and actor and human.assignee != actor:
                raise Conflict(f"task {task_id} is assigned to {human.assignee}; "
                               "ask them, or unassign it first")
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
                errors[path or "(form)"] = "this field is required"
                for name in missing[1:]:
                    errors[".".join([*map(str, error.absolute_path), name])] = (
                        "this field is required")
            else:
                path = ".".join(map(str, error.absolute_path)) or "(form)"
                errors.setdefault(path, error.message)
        if errors:
            raise InvalidInput("the form has errors: " + "; ".join(
                f"{k}: {v}" for k, v in sorted(errors.items())), field_errors=errors)

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
                raise Conflict(f"instance {instance_id} is already {loaded.row.status}")
            self._run(session, loaded, now, actor, "cancel", None, detail={"reason": reason},
                      act=loaded.workflow.cancel, final_status=CANCELLED)
            return self._summary(loaded.row)

    def retry(self, instance_id: int, *, actor: str | None = None) -> InstanceSummary:
        """Run the failed task(s) of an instance in error again, after the cause is fixed."""
        now = self.clock.now()
        with self.store.transaction() as session:
            loaded = self._load(session, instance_id, now, allow_error=True)
            if loaded.row.status != ERROR:
                raise Conflict(f"instance {instance_id} is {loaded.row.status}, not in error; "
                               "there is nothing to retry")
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

    def fire_due_timers(self, now: datetime | None = None, limit: int = 100) -> SweepReport:
        """Claim due timers and fire each in its instance's own transaction."""
        now = now or self.clock.now()
        report = SweepReport()
        claimed = self._claim_timers(now, limit)
        by_instance: dict[int, list[tuple[str, str]]] = {}
        for timer_id, instance_id, element_id in claimed:
            by_instance.setdefault(instance_id, []).append((timer_id, element_id))
        for instance_id, timers in by_instance.items():
            try:
                fired = self._fire_instance(instance_id, [t[0] for t in timers], now)
            except EngineError as exc:
                report.failed.append({"instance_id": instance_id, "error": str(exc),
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

    def _claim_timers(self, now: datetime, limit: int) -> list[tuple[str, int, str]]:
        lease_now = self.clock.now()
        with self.store.transaction() as session:
            candidates = (
                select(Timer.id)
                .where(Timer.due_at <= now,
                       or_(Timer.claimed_until.is_(None), Timer.claimed_until < lease_now))
                .order_by(Timer.due_at)
                .limit(limit)
            )
            if self.store.postgres:
                candidates = candidates.with_for_update(skip_locked=True)
            rows = session.execute(
                update(Timer)
                .where(Timer.id.in_(candidates.scalar_subquery()))
                .values(claimed_by=self.worker_id, claimed_until=lease_now + self.timer_lease)
                .returning(Timer.id, Timer.instance_id, Timer.element_id)
                .execution_options(synchronize_session=False)
            ).all()
        return [(r.id, r.instance_id, r.element_id) for r in rows]

    def _fire_instance(self, instance_id: int, timer_ids: list[str], now: datetime
                       ) -> list[dict[str, Any]] | None:
        with self.store.transaction() as session:
            try:
                loaded = self._load(session, instance_id, now)
            except (NotFound, Conflict):
                return None
            still_due = [t for t in timer_ids if t in loaded.before.timers
                         and loaded.before.timers[t].due_at <= now]
            if not still_due:  # fired by someone else meanwhile, or moved
                session.execute(update(Timer).where(
                    Timer.id.in_(timer_ids), Timer.claimed_by == self.worker_id
                ).values(claimed_by=None, claimed_until=None))
                return None
            incident = self._run(session, loaded, now, None, "timer_fired",
                                 loaded.before.timers[still_due[0]].element_id,
                                 detail={"timers": still_due},
                                 act=loaded.workflow.refresh_timers)
            session.execute(update(Timer).where(
                Timer.instance_id == instance_id, Timer.claimed_by == self.worker_id
            ).values(claimed_by=None, claimed_until=None))
            return [{
                "instance_id": instance_id,
                "timer_id": t,
                "element_id": loaded.before.timers[t].element_id,
                "due_at": loaded.before.timers[t].due_at.isoformat(),
                "incident": incident,
            } for t in still_due]

    # ------------------------------------------------------------------ the transaction

    def _load(self, session: Session, instance_id: int, now: datetime,
              expected_version: int | None = None, allow_error: bool = False) -> _Loaded:
        query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
        if self.store.postgres:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
        if expected_version is not None and row.version != expected_version:
            raise Conflict(f"instance {instance_id} changed (version {row.version}, you had "
                           f"{expected_version}); reload it and try again")
        if row.status == ERROR and not allow_error:
            raise Conflict(f"instance {instance_id} is in error; fix the cause and retry it")
        if row.status in (COMPLETED, CANCELLED) and not allow_error:
            raise Conflict(f"instance {instance_id} is {row.status}")
        definition = self._definition(session, row.definition_id)
        workflow = load_state(row.state, definition.spec, definition.subprocess_specs,
                              self._script_engine(now))
        # The projection rows always equal the snapshot of the saved state (only running
        # instances have any), so the diff after acting needs no query.
        before = proj.snapshot(workflow) if row.status == RUNNING else proj.EMPTY
        return _Loaded(row, definition, workflow, before, instance_data(workflow), row.status)

    def _run(self, session: Session, loaded: _Loaded, now: datetime, actor: str | None,
             action: str, element_id: str | None, *, act: Callable[[], Any],
             detail: dict[str, Any] | None = None, final_status: str | None = None,
             hook: Hook | None = None) -> str | None:
        """Act, run engine steps, save state and projections, append the audit event."""
        workflow = loaded.workflow
        row = loaded.row
        steps: list[str] = []
        incident: str | None = None
        operation = Operation(session, row.id, row.process_id, row.business_key, now, actor,
                              action)
        with running(operation):
            if hook is not None:
                operation.prepared = hook(operation)
            try:
                act()
                workflow.do_engine_steps(
                    did_complete_task=lambda t: steps.append(t.task_spec.bpmn_id)
                    if t.task_spec.bpmn_id else None)
            except (SpiffWorkflowException, EngineError) as exc:
                incident = self._record_incident(session, loaded, exc, now)
        status = final_status or (ERROR if incident else (
            COMPLETED if workflow.completed else RUNNING))
        after = proj.snapshot(workflow) if status in (RUNNING,) else proj.EMPTY
        new_version = row.version + 1
        result = session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == row.id, ProcessInstance.version == row.version)
            .values(state=dump_state(workflow), status=status, version=new_version,
                    updated_at=now,
                    ended_at=now if status in (COMPLETED, CANCELLED) else None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict(f"instance {row.id} was changed by someone else; reload and retry")
        row.version, row.status = new_version, status
        opened = self._write_projections(session, loaded, after, now)
        data_after = instance_data(workflow)
        if self._listeners:
            change = InstanceChange(
                operation, loaded.status_before, status, data_after, opened,
                [t for t in loaded.before.tasks if t not in after.tasks], incident)
            with running(operation):
                for listener in self._listeners:
                    listener(change)
        event_detail = dict(detail or {})
        if steps:
            event_detail["steps"] = steps
        if incident:
            event_detail["incident"] = incident
        session.execute(insert(InstanceEvent).values(
            instance_id=row.id, at=now, actor=actor, action=action, element_id=element_id,
            status_from=loaded.status_before, status_to=status,
            data_changes=data_changes(loaded.data_before, data_after),
            detail=_jsonable(event_detail) or None,
        ))
        return incident

    def _record_incident(self, session: Session, loaded: _Loaded, exc: Exception,
                         now: datetime) -> str:
        task = getattr(exc, "task", None)
        element_id = task.task_spec.bpmn_id if task is not None else None
        line = getattr(exc, "line_number", None) or None
        message = str(exc).split("\n")[0]
        notes = [n for n in getattr(exc, "__notes__", []) if n]
        if notes:
            message += " (" + "; ".join(notes) + ")"
        session.execute(insert(Incident).values(
            instance_id=loaded.row.id, task_id=str(task.id) if task is not None else None,
            element_id=element_id, error_type=type(getattr(exc, "exception", None) or exc
                                                   ).__name__,
            message=message, line=line if isinstance(line, int) else None, created_at=now,
        ))
        where = f" at {element_id}" if element_id else ""
        return f"{message}{where}" + (f", line {line}" if line else "")

    def _write_projections(self, session: Session, loaded: _Loaded, after: proj.Snapshot,
                           now: datetime) -> list[dict[str, Any]]:
        """Bring the projection rows from `loaded.before` to `after`; returns opened tasks."""
        before, instance_id = loaded.before, loaded.row.id
        gone = [t for t in before.tasks if t not in after.tasks]
        if gone:
            session.execute(delete(TaskGroup).where(TaskGroup.task_id.in_(gone)))
            session.execute(delete(HumanTask).where(HumanTask.id.in_(gone)))
        new = [t for t in after.tasks.values() if t.id not in before.tasks]
        rows: list[dict[str, Any]] = []
        if new:
            groups = []
            for task in new:
                meta = loaded.definition.task_meta.get(task.meta_key) or {}
                live = loaded.workflow.get_task_from_id(_uuid(task.id))
                task_groups = self._task_groups(live, meta)
                rows.append({
                    "id": task.id, "instance_id": instance_id, "element_id": task.element_id,
                    "title": meta.get("title") or task.element_id, "lane": meta.get("lane"),
                    "candidate_groups": task_groups,
                    "assignee": None, "form": meta.get("form"), "created_at": now,
                    "due_at": self._task_due(live, task.element_id, meta),
                })
                groups += [{"task_id": task.id, "group_name": g} for g in task_groups]
            session.execute(insert(HumanTask), rows)
            if groups:
                session.execute(insert(TaskGroup), groups)
        stale = [t for t, timer in before.timers.items()
                 if t not in after.timers or after.timers[t].due_at != timer.due_at]
        if stale:
            session.execute(delete(Timer).where(Timer.id.in_(stale)))
        fresh = [t for t in after.timers.values()
                 if t.id not in before.timers or before.timers[t.id].due_at != t.due_at]
        if fresh:
            session.execute(insert(Timer), [{
                "id": t.id, "instance_id": instance_id, "element_id": t.element_id,
                "kind": t.kind, "due_at": t.due_at} for t in fresh])
        if before.events != after.events:
            session.execute(delete(WaitingEvent).where(WaitingEvent.instance_id == instance_id))
            if after.events:
                session.execute(insert(WaitingEvent), [{
                    "instance_id": instance_id, "kind": e.kind, "name": e.name,
                    "element_id": e.element_id} for e in after.events])
        return rows

    def _task_due(self, live: Any, element_id: str, meta: dict[str, Any]) -> datetime | None:
        expression = meta.get("due_expression")
        if not expression:
            return None
        try:
            return parse_instant(self.sandbox.evaluate(expression, live.data), element_id)
        except Exception:  # noqa: BLE001 - a bad due date must not block the task
            return None

    def _task_groups(self, live: Any, meta: dict[str, Any]) -> list[str]:
        """Static groups, or those a `candidateGroupsExpression` computes from task data."""
        static = list(meta.get("candidate_groups") or [])
        expression = meta.get("groups_expression")
        if not expression:
            return static
        try:
            value = self.sandbox.evaluate(expression, live.data)
        except Exception:  # noqa: BLE001 - fall back to the lane rather than lose the task
            return static
        values = [value] if isinstance(value, str) else list(value or [])
        groups = [str(v)[:200] for v in values if str(v).strip()]
        return list(dict.fromkeys(groups)) or static

    # ------------------------------------------------------------------ human tasks

    def _open_task(self, session: Session, task_id: str) -> HumanTask:
        row = session.get(HumanTask, task_id)
        if row is None:
            raise TaskNotOpen(f"task {task_id} is not open: it was completed or cancelled "
                              "(or never existed)")
        return row

    @staticmethod
    def _ready_task(workflow: BpmnWorkflow, task_id: str) -> Any:
        try:
            task = workflow.get_task_from_id(_uuid(task_id))
        except Exception:  # noqa: BLE001 - Spiff raises a bare exception for unknown ids
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotOpen(f"task {task_id} is no longer open; someone else completed it")
        return task

    def tasks(self, *, instance_id: int | None = None, lane: str | None = None,
              group: str | None = None, groups: Iterable[str] | None = None,
              assignee: str | None = None, unassigned: bool = False,
              limit: int = 500) -> list[dict[str, Any]]:
        """Open tasks from the projection; no workflow is loaded."""
        query = select(HumanTask).order_by(HumanTask.created_at, HumanTask.id).limit(limit)
        if instance_id is not None:
            query = query.where(HumanTask.instance_id == instance_id)
        if lane is not None:
            query = query.where(HumanTask.lane == lane)
        wanted = [*(groups or []), *([group] if group else [])]
        if wanted:
            query = query.where(HumanTask.id.in_(
                select(TaskGroup.task_id).where(TaskGroup.group_name.in_(wanted))))
        if assignee is not None:
            query = query.where(HumanTask.assignee == assignee)
        if unassigned:
            query = query.where(HumanTask.assignee.is_(None))
        with self.store.read() as session:
            return [_task_dict(t) for t in session.scalars(query)]

    def task(self, task_id: str) -> dict[str, Any]:
        """One open task with the data its form starts from."""
        now = self.clock.now()
        with self.store.read() as session:
            human = self._open_task(session, task_id)
            row = session.get(ProcessInstance, human.instance_id)
            definition = self._definition(session, row.definition_id)
            workflow = load_state(row.state, definition.spec, definition.subprocess_specs,
                                  self._script_engine(now))
            live = workflow.get_task_from_id(_uuid(task_id))
            return {**_task_dict(human), "data": dict(live.data),
                    "instance_version": row.version}

    def claim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._set_assignee(task_id, user, user, "claim", only_if_free=True)

    def unclaim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._set_assignee(task_id, None, user, "unclaim", only_if_holder=user)

    def assign(self, task_id: str, user: str | None, *, actor: str | None = None
               ) -> dict[str, Any]:
        return self._set_assignee(task_id, user, actor, "assign")

    def set_candidate_groups(self, task_id: str, groups: Iterable[str], *,
                             actor: str | None = None) -> dict[str, Any]:
        """Hand an open task to other candidate groups (a reassignment); clears the assignee."""
        wanted = list(dict.fromkeys(g for g in groups if g))
        if not wanted:
            raise InvalidInput("name at least one candidate group",
                               {"groups": "give at least one group"})
        now = self.clock.now()
        with self.store.transaction() as session:
            current = self._open_task(session, task_id)
            previous = list(current.candidate_groups or [])
            session.execute(delete(TaskGroup).where(TaskGroup.task_id == task_id))
            session.execute(insert(TaskGroup), [{"task_id": task_id, "group_name": g}
                                                for g in wanted])
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(
                candidate_groups=wanted, assignee=None).execution_options(
                synchronize_session=False))
            session.execute(insert(InstanceEvent).values(
                instance_id=current.instance_id, at=now, actor=actor, action="reassign",
                element_id=current.element_id,
                detail={"task_id": task_id, "groups": wanted, "previous": previous}))
            session.refresh(current)
            return _task_dict(current)

    def _set_assignee(self, task_id: str, user: str | None, actor: str | None, action: str,
                      only_if_free: bool = False, only_if_holder: str | None = None
                      ) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.transaction() as session:
            current = self._open_task(session, task_id)
            statement = update(HumanTask).where(HumanTask.id == task_id)
            if only_if_free:
                statement = statement.where(
                    or_(HumanTask.assignee.is_(None), HumanTask.assignee == user))
            if only_if_holder is not None:
                statement = statement.where(HumanTask.assignee == only_if_holder)
            result = session.execute(statement.values(assignee=user)
                                     .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                holder = session.scalar(select(HumanTask.assignee).where(
                    HumanTask.id == task_id))
                if only_if_holder is not None:
                    raise Conflict(f"task {task_id} is not claimed by {only_if_holder} "
                                   f"(assignee: {holder or 'nobody'})")
                raise Conflict(f"task {task_id} is already claimed by {holder}")
            session.execute(insert(InstanceEvent).values(
                instance_id=current.instance_id, at=now, actor=actor, action=action,
                element_id=current.element_id, detail={"task_id": task_id, "assignee": user,
                                                       "previous": current.assignee},
            ))
            session.refresh(current)
            return _task_dict(current)

    # ------------------------------------------------------------------ reading

    def instance(self, instance_id: int, *, events: bool = True) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            definition = self._definition(session, row.definition_id)
            workflow = load_state(row.state, definition.spec, definition.subprocess_specs,
                                  self._script_engine(now))
            tasks = session.scalars(select(HumanTask).where(
                HumanTask.instance_id == instance_id).order_by(HumanTask.created_at)).all()
            timers = session.scalars(select(Timer).where(
                Timer.instance_id == instance_id).order_by(Timer.due_at)).all()
            waits = session.scalars(select(WaitingEvent).where(
                WaitingEvent.instance_id == instance_id)).all()
            incident = session.scalars(select(Incident).where(
                Incident.instance_id == instance_id, Incident.resolved_at.is_(None)
            ).order_by(Incident.id.desc())).first()
            audit = session.scalars(select(InstanceEvent).where(
                InstanceEvent.instance_id == instance_id).order_by(InstanceEvent.id)
            ).all() if events else []
            return {
                "instance_id": row.id,
                "process_id": row.process_id,
                "definition_version": definition.version,
                "business_key": row.business_key,
                "status": row.status,
                "version": row.version,
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
                "data": _jsonable(instance_data(workflow)),
                "tasks": [_task_dict(t) for t in tasks],
                "timers": [{"id": t.id, "element_id": t.element_id, "kind": t.kind,
                            "due_at": t.due_at.isoformat()} for t in timers],
                "waiting_for": [{"kind": w.kind, "name": w.name, "element_id": w.element_id}
                                for w in waits],
                "incident": None if incident is None else {
                    "element_id": incident.element_id, "message": incident.message,
                    "line": incident.line, "error_type": incident.error_type,
                    "created_at": incident.created_at.isoformat()},
                "completed_elements": _completed_elements(workflow),
                "events": [_event_dict(e) for e in audit],
            }

    def instances(self, *, process_id: str | None = None, status: str | None = None,
                  business_key: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = select(ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.status,
                       ProcessInstance.version, ProcessInstance.business_key,
                       ProcessInstance.updated_at).order_by(ProcessInstance.id.desc()).limit(limit)
        if process_id:
            query = query.where(ProcessInstance.process_id == process_id)
        if status:
            query = query.where(ProcessInstance.status == status)
        if business_key:
            query = query.where(ProcessInstance.business_key == business_key)
        with self.store.read() as session:
            return [{"instance_id": r.id, "process_id": r.process_id, "status": r.status,
                     "version": r.version, "business_key": r.business_key,
                     "updated_at": r.updated_at.isoformat()} for r in session.execute(query)]

    def incidents(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        query = select(Incident).order_by(Incident.id)
        if open_only:
            query = query.where(Incident.resolved_at.is_(None))
        with self.store.read() as session:
            return [{"instance_id": i.instance_id, "element_id": i.element_id,
                     "message": i.message, "line": i.line, "error_type": i.error_type,
                     "created_at": i.created_at.isoformat(),
                     "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None}
                    for i in session.scalars(query)]

    def timers(self, *, due_before: datetime | None = None, limit: int = 100
               ) -> list[dict[str, Any]]:
        query = select(Timer).order_by(Timer.due_at).limit(limit)
        if due_before is not None:
            query = query.where(Timer.due_at <= due_before)
        with self.store.read() as session:
            return [{"id": t.id, "instance_id": t.instance_id, "element_id": t.element_id,
                     "kind": t.kind, "due_at": t.due_at.isoformat()}
                    for t in session.scalars(query)]

    @staticmethod
    def _summary(row: ProcessInstance) -> InstanceSummary:
        return InstanceSummary(row.id, row.process_id, row.status, row.version, row.business_key)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.store.transaction() as session:
            yield session


def _deliver_event(workflow: BpmnWorkflow, waiting: list[tuple[Any, Any]],
                   payload: dict[str, Any]) -> None:
    """Hand a message or signal to the workflow; without a target variable, merge its data."""
    for task, definition in waiting:
        variable = getattr(definition, "message_var", None) or getattr(definition, "variable",
                                                                         None)
        if task is not None and variable is None:
            task.data.update(payload)
    workflow.send_event(BpmnEvent(waiting[0][1], payload))


def _uuid(task_id: str) -> Any:
    from uuid import UUID

    try:
        return UUID(task_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound(f"{task_id!r} is not a task id") from exc


def _task_dict(t: HumanTask) -> dict[str, Any]:
    return {
        "id": t.id, "element_id": t.element_id, "title": t.title, "lane": t.lane,
        "candidate_groups": list(t.candidate_groups or []), "instance_id": t.instance_id,
        "assignee": t.assignee, "form": t.form, "created_at": t.created_at.isoformat(),
        "due_at": t.due_at.isoformat() if t.due_at else None,
    }


def _event_dict(e: InstanceEvent) -> dict[str, Any]:
    return {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "element_id": e.element_id, "status_from": e.status_from,
            "status_to": e.status_to, "data_changes": e.data_changes, "detail": e.detail}


def _completed_elements(workflow: BpmnWorkflow) -> list[str]:
    seen: list[str] = []
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        bpmn_id = task.task_spec.bpmn_id
        if bpmn_id and bpmn_id not in seen:
            seen.append(bpmn_id)
    return seen


def _jsonable(value: Any) -> Any:
    import json

    from engine.runtime import _json_default

    return json.loads(json.dumps(value, default=_json_default))
