"""The transaction every instance mutation runs in: load, act, save, project, audit."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import projections as proj
from engine.clock import FixedClock
from engine.deployments import DeployedDefinition, Deployments
from engine.errors import Conflict, EngineError, NotFound
from engine.history import prune_repeated_branches
from engine.operation import (
    CAREFUL,
    FAST,
    REPLAY,
    Hook,
    InstanceChange,
    Operation,
    ReplayCarefully,
    running,
)
from engine.runtime import (
    HostScriptEngine,
    dump_state,
    load_state,
    parse_instant,
)
from engine.sandbox import Sandbox, SandboxLimitExceeded
from engine.saving import (
    DELETE_WAITS,
    INSERT_EVENT,
    SAVE,
    SAVE_ALL,
    ProjectionChanges,
    Warm,
    WarmWorkflows,
    data_changes,
    driver_text,
    jsonable,
    merged_parameters,
    warm_key,
    write_changes,
)
from engine.store import (
    HumanTask,
    Incident,
    InstanceEvent,
    ProcessInstance,
    Store,
    TaskGroup,
    Timer,
    WaitingEvent,
    transient_failure,
)
from engine.tasktree import HostWorkflow

RUNNING, COMPLETED, ERROR, CANCELLED = "running", "completed", "error", "cancelled"


INSTANCES = ProcessInstance.__table__
INSTANCE_COLUMNS = tuple(INSTANCES.c[name] for name in (
    "id", "definition_id", "process_id", "business_key", "status", "state", "version"))
TASKS, GROUPS = HumanTask.__table__, TaskGroup.__table__
TIMERS, WAITS, EVENTS = Timer.__table__, WaitingEvent.__table__, InstanceEvent.__table__

# The statements of the hot path, built once: their SQL and cache keys are reused.
_LOAD = select(*INSTANCE_COLUMNS).where(INSTANCES.c.id == bindparam("b_id"))
_LOAD_LOCKED = _LOAD.with_for_update()
_LOAD_BY_KEY = select(*INSTANCE_COLUMNS).where(
    INSTANCES.c.business_key == bindparam("b_key")).order_by(INSTANCES.c.id.desc()).limit(1)
_LOAD_BY_KEY_LOCKED = _LOAD_BY_KEY.with_for_update()


@dataclass
class InstanceRow:
    """The columns of an instance a mutation needs (read with Core, not the ORM)."""

    id: int
    definition_id: int
    process_id: str
    business_key: str | None
    status: str
    state: str
    version: int


@dataclass
class LoadedInstance:
    """One instance inside one transaction: row, live workflow and its projection before."""

    row: InstanceRow
    definition: DeployedDefinition
    workflow: BpmnWorkflow
    before: proj.Snapshot
    data_before: dict[str, Any]
    status_before: str
    after: proj.Snapshot | None = None
    # The workflow as loaded, made again (for a replay after a failure: see `run`). None:
    # the caller changed the loaded workflow before acting (a migration), so its services
    # run each in a savepoint of its own from the start.
    rebuild: Callable[[], BpmnWorkflow] | None = None


def instance_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The data of an instance as people mean it: what its most recent step saw."""
    task = workflow.last_task or workflow.task_tree
    return dict(task.data)


def _failing_element(workflow: BpmnWorkflow, steps: list[str], element_id: str | None
                     ) -> str | None:
    """The element a failure outside Spiff's own error handling most likely came from: a task
    left started or in error, else the last step completed, else the action's element."""
    stuck = [t.task_spec.bpmn_id for t in workflow.get_tasks(
        state=TaskState.STARTED | TaskState.ERROR) if t.task_spec.bpmn_id]
    return stuck[-1] if stuck else (steps[-1] if steps else element_id)


def task_uuid(task_id: str) -> UUID:
    try:
        return UUID(task_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound(f"{task_id!r} is not a task id") from exc


@dataclass(eq=False)
class InstanceTransaction:
    """Load, act, run engine steps, save, rewrite projections, audit: one transaction.

    The caller owns the session (one `Store.transaction()`); nothing here commits.
    """

    store: Store
    deployments: Deployments
    sandbox: Sandbox
    # the engine's own dict and list: a service or listener registered later counts
    services: Mapping[str, Callable[..., Any]]
    listeners: list[Callable[[InstanceChange], None]]
    replayable: Collection[str] = frozenset()  # (the engine's own set, as services)
    warm: WarmWorkflows = field(default_factory=WarmWorkflows)

    def script_engine(self, now: datetime) -> HostScriptEngine:
        return HostScriptEngine(self.sandbox, self.services, FixedClock(now),
                                self.replayable)

    def restore(self, definition: DeployedDefinition, state: str, now: datetime
                ) -> BpmnWorkflow:
        """A live workflow from saved state, its scripts and timers running at `now`."""
        return load_state(state, definition.spec, definition.subprocess_specs,
                          self.script_engine(now))

    def create(self, session: Session, definition: DeployedDefinition, business_key: str | None,
               now: datetime) -> LoadedInstance:
        """A new instance row and its fresh workflow, loaded as if saved empty."""
        workflow = HostWorkflow(definition.spec, definition.subprocess_specs,
                                script_engine=self.script_engine(now))
        instance_id = session.connection().execute(
            insert(INSTANCES).values(
                definition_id=definition.id, process_id=definition.process_id,
                business_key=business_key, status=RUNNING, state="{}", version=0,
                created_at=now, updated_at=now)
            .returning(INSTANCES.c.id)).scalar_one()
        row = InstanceRow(instance_id, definition.id, definition.process_id, business_key,
                          RUNNING, "{}", 0)
        return LoadedInstance(row, definition, workflow, proj.EMPTY, {}, RUNNING,
                              rebuild=lambda: HostWorkflow(
                                  definition.spec, definition.subprocess_specs,
                                  script_engine=self.script_engine(now)))

    def load(self, session: Session, instance_id: int, now: datetime,
             expected_version: int | None = None, allow_error: bool = False) -> LoadedInstance:
        """Lock the instance row and rebuild its workflow; refuse an instance that moved on."""
        query = _LOAD_LOCKED if self.store.postgres else _LOAD
        found = session.connection().execute(query, {"b_id": instance_id}).first()
        if found is None:
            raise NotFound(f"instance {instance_id} does not exist")
        return self.loaded(session, InstanceRow(*found), now, expected_version, allow_error)

    def lock_by_key(self, session: Session, business_key: str) -> InstanceRow | None:
        """Lock the latest instance with this business key (its row as `load` reads it)."""
        query = _LOAD_BY_KEY_LOCKED if self.store.postgres else _LOAD_BY_KEY
        found = session.connection().execute(query, {"b_key": business_key}).first()
        return None if found is None else InstanceRow(*found)

    def loaded(self, session: Session, row: InstanceRow, now: datetime,
               expected_version: int | None = None, allow_error: bool = False
               ) -> LoadedInstance:
        """An instance whose row this transaction holds locked, rebuilt; refused when it
        moved on."""
        instance_id = row.id
        if expected_version is not None and row.version != expected_version:
            raise Conflict("instance %(instance)s changed (version %(version)s, you had "
                           "%(expected)s); reload it and try again", instance=instance_id,
                           version=row.version, expected=expected_version)
        if row.status == ERROR and not allow_error:
            raise Conflict("instance %(instance)s is in error; fix the cause and retry it",
                           instance=instance_id)
        if row.status in (COMPLETED, CANCELLED) and not allow_error:
            raise Conflict("instance %(instance)s is %(status)s", instance=instance_id,
                           status=row.status)
        definition = self.deployments.get(session, row.definition_id)
        warm = self.warm.take(row.id, row.definition_id, row.version, row.state) \
            if row.status == RUNNING else None
        if warm is not None:  # this process saved exactly this state: no rebuild
            warm.workflow.script_engine = self.script_engine(now)
            return LoadedInstance(row, definition, warm.workflow, warm.snapshot, warm.data,
                                  row.status,
                                  rebuild=lambda: self.restore(definition, row.state, now))
        workflow = self.restore(definition, row.state, now)
        # The projection rows always equal the snapshot of the saved state (only running
        # instances have any), so the diff after acting needs no query.
        before = proj.snapshot(workflow) if row.status == RUNNING else proj.EMPTY
        return LoadedInstance(row, definition, workflow, before, instance_data(workflow),
                              row.status,
                              rebuild=lambda: self.restore(definition, row.state, now))

    def run(self, session: Session, loaded: LoadedInstance, now: datetime, actor: str | None,
            action: str, element_id: str | None, *, act: Callable[[BpmnWorkflow], Any],
            detail: dict[str, Any] | None = None, final_status: str | None = None,
            hook: Hook | None = None, keep_warm: bool = True) -> str | None:
        """Act on the workflow (`act(workflow)`), run engine steps, save state and
        projections, append the audit event (`keep_warm`: and keep the workflow warm).

        A failure of diagram code does not raise: the instance is saved in error with an
        incident, whose text is returned. A lost update raises Conflict.

        Host services registered as replayable (they write nothing outside the operation's
        transaction) run without a savepoint of their own. In a command run by
        `Instances.replayable` (REPLAY is FAST) there is none at all: when one of them
        fails, the whole transaction is rolled back and the command run again with a
        savepoint per service call (CAREFUL). Elsewhere (the timer sweep) they share one
        savepoint for the operation, opened by the first of them called: when one fails,
        that savepoint is rolled back, the workflow made again as loaded and the operation
        replayed with a savepoint per call. Either way the services that completed keep
        their rows and the failing one leaves none, exactly as the saved state in error
        says. Any other service runs in a savepoint of its own, and from the first of them
        on the operation is never replayed.
        """
        row = loaded.row
        steps: list[str] = []
        incident: str | None = None
        operation = Operation(session, row.id, row.process_id, row.business_key, now, actor,
                              action, detail=detail)
        with running(operation):
            if hook is not None:
                operation.prepared = hook(operation)
            mode = REPLAY.get()
            operation.shared_savepoint = mode != FAST
            failure = self._attempt(loaded, act, steps, operation,
                                    careful=loaded.rebuild is None or mode == CAREFUL)
            if operation.tainted and mode == FAST:
                raise ReplayCarefully
            if operation.tainted:  # a service failed under the shared savepoint: replay
                operation.tainted = False
                operation.savepoint.rollback()
                operation.savepoint = None
                operation.memo.clear(), operation.staged.clear()
                steps.clear()
                loaded.workflow = loaded.rebuild()
                failure = self._attempt(loaded, act, steps, operation, careful=True)
            elif operation.savepoint is not None:  # what the services wrote stands
                operation.savepoint.commit()
                operation.savepoint = None
            if failure is not None:
                incident = self._record_incident(
                    session, loaded, failure, now,
                    None if isinstance(failure, SpiffWorkflowException | EngineError)
                    else _failing_element(loaded.workflow, steps, element_id))
        workflow = loaded.workflow
        status = final_status or (ERROR if incident else (
            COMPLETED if workflow.completed else RUNNING))
        if status == RUNNING:  # a repeating boundary event's finished branches (history.py)
            prune_repeated_branches(workflow)
        try:
            state = dump_state(workflow)
        except (RecursionError, TypeError, ValueError, OverflowError) as exc:
            # Refused before save: the instance keeps its last saved state, in error.
            exc.add_note("the instance's state cannot be saved; it keeps its last saved state")
            incident = self._record_incident(session, loaded, exc, now,
                                             _failing_element(workflow, steps, element_id))
            status = ERROR
            state = self._last_good_state(loaded, now)
            saved_data: dict[str, Any] | None = loaded.data_before
        else:
            saved_data = None
        after = proj.snapshot(workflow) if status in (RUNNING,) else proj.EMPTY
        new_version = row.version + 1
        saved = {"b_id": row.id, "b_version": row.version, "b_state": state,
                 "b_status": status, "b_new_version": new_version, "b_now": now,
                 "b_ended": now if status in (COMPLETED, CANCELLED) else None}
        changes = self._projection_changes(loaded, after, now)
        loaded.after = after
        data_after = instance_data(workflow) if saved_data is None else saved_data
        # The listeners run before the instance's rows are written (they see the change,
        # not the projection tables), so that on PostgreSQL one statement writes them all.
        if self.listeners:
            change = InstanceChange(
                operation, loaded.status_before, status, data_after, changes.tasks,
                [t for t in loaded.before.tasks if t not in after.tasks], incident)
            with running(operation):
                for listener in self.listeners:
                    listener(change)
        event_detail = dict(detail or {})
        if steps:
            event_detail["steps"] = steps
        if incident:
            event_detail["incident"] = incident
        audit = {
            "instance_id": row.id, "at": now, "actor": actor, "action": action,
            "element_id": element_id, "status_from": loaded.status_before, "status_to": status,
            "data_changes": data_changes(loaded.data_before, data_after),
            "detail": jsonable(event_detail) or None,
        }
        operation.write_staged()  # the host's rows not written yet (Operation.stage)
        conn = session.connection()  # Core statements: the ORM's bookkeeping costs here
        if self.store.postgres:  # one statement: the state, the projections, the audit
            save = driver_text(SAVE_ALL, conn.dialect)
            found = conn.exec_driver_sql(save, merged_parameters(saved, changes, audit)).scalar()
        else:
            found = conn.execute(SAVE, saved).rowcount
            if found == 1:
                write_changes(conn, changes)
                conn.execute(INSERT_EVENT, audit)
        if found != 1:
            raise Conflict("instance %(instance)s was changed by someone else; reload and "
                           "retry", instance=row.id)
        row.version, row.status = new_version, status
        if keep_warm and status == RUNNING and saved_data is None:  # for the next operation
            key = warm_key(row.id, row.definition_id, row.version, state)
            self.warm.keep_after_commit(session, key, Warm(workflow, after, dict(data_after)))
        return incident

    @staticmethod
    def _attempt(loaded: LoadedInstance, act: Callable[[BpmnWorkflow], Any], steps: list[str],
                 operation: Operation, careful: bool) -> Exception | None:
        """Act and run the engine steps; the failure of diagram code is returned, a
        database failure raised. The services' shared savepoint, if one was opened, is left
        to the caller: `operation.tainted` says whether a service failed under it (even one
        whose failure the diagram then caught)."""
        operation.careful = careful
        workflow = loaded.workflow
        try:
            act(workflow)
            workflow.do_engine_steps(
                did_complete_task=lambda t: steps.append(t.task_spec.bpmn_id)
                if t.task_spec.bpmn_id else None)
        except SQLAlchemyError:
            raise  # the database failed: the whole transaction is void, not the instance
        except Exception as exc:  # diagram code, a bug or exhaustion
            if transient_failure(exc):  # a service's statement met another transaction
                raise
            return exc
        operation.flush_services()
        return None

    def fail(self, session: Session, instance_id: int, now: datetime, action: str,
             element_id: str | None, exc: Exception) -> str | None:
        """Put a running instance into error with an incident, without running it.

        For a failure outside diagram code that voided the instance's own transaction (a
        host listener's bug, state that cannot be loaded): the saved state stays as it was,
        its tasks, timers and waits are withdrawn, and the incident says what happened, so
        the instance leaves the timer sweep until an operator retries it. None when the
        instance is gone or no longer running.
        """
        query = _LOAD_LOCKED if self.store.postgres else _LOAD
        found = session.connection().execute(query, {"b_id": instance_id}).first()
        if found is None or found.status != RUNNING:
            return None
        row = InstanceRow(*found)
        incident = self._insert_incident(session, row.id, None, element_id, exc, now)
        conn = session.connection()
        conn.execute(SAVE, {"b_id": row.id, "b_version": row.version, "b_state": row.state,
                             "b_status": ERROR, "b_new_version": row.version + 1,
                             "b_now": now, "b_ended": None})
        conn.execute(delete(TASKS).where(TASKS.c.instance_id == row.id))
        conn.execute(delete(TIMERS).where(TIMERS.c.instance_id == row.id))
        conn.execute(DELETE_WAITS, {"b_id": row.id})
        conn.execute(INSERT_EVENT, {
            "instance_id": row.id, "at": now, "actor": None, "action": action,
            "element_id": element_id, "status_from": row.status, "status_to": ERROR,
            "data_changes": None, "detail": {"incident": incident},
        })
        return incident

    def _last_good_state(self, loaded: LoadedInstance, now: datetime) -> str:
        """The state to keep when the new one cannot be saved: the saved one, or for a new
        instance, its workflow as created."""
        if loaded.row.version > 0:
            return loaded.row.state
        fresh = HostWorkflow(loaded.definition.spec, loaded.definition.subprocess_specs,
                             script_engine=self.script_engine(now))
        return dump_state(fresh)

    def _record_incident(self, session: Session, loaded: LoadedInstance, exc: Exception,
                         now: datetime, fallback_element: str | None = None) -> str:
        task = getattr(exc, "task", None)
        element_id = task.task_spec.bpmn_id if task is not None else fallback_element
        return self._insert_incident(session, loaded.row.id,
                                     str(task.id) if task is not None else None,
                                     element_id, exc, now)

    def _insert_incident(self, session: Session, instance_id: int, task_id: str | None,
                         element_id: str | None, exc: Exception, now: datetime) -> str:
        line = getattr(exc, "line_number", None) or None
        message = str(exc).split("\n")[0] or type(exc).__name__
        if not isinstance(exc, SpiffWorkflowException | EngineError):
            message = f"{type(exc).__name__}: {message}"[:2000]
        cause = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
        if isinstance(cause, SandboxLimitExceeded) and str(cause) not in message:
            message = f"{message.rstrip(' .')}: {cause}"  # which limit, and its setting
        notes = [n for n in getattr(exc, "__notes__", []) if n]
        if notes:
            message += " (" + "; ".join(notes) + ")"
        session.connection().execute(insert(Incident.__table__).values(
            instance_id=instance_id, task_id=task_id,
            element_id=element_id, error_type=type(getattr(exc, "exception", None) or exc
                                                   ).__name__,
            message=message, line=line if isinstance(line, int) else None, created_at=now,
        ))
        where = f" at {element_id}" if element_id else ""
        return f"{message}{where}" + (f", line {line}" if line else "")

    def _projection_changes(self, loaded: LoadedInstance, after: proj.Snapshot,
                            now: datetime) -> ProjectionChanges:
        """What brings the projection rows from `loaded.before` to `after`."""
        before, instance_id = loaded.before, loaded.row.id
        changes = ProjectionChanges(
            instance_id,
            gone_tasks=[t for t in before.tasks if t not in after.tasks],
            gone_timers=[t for t in before.timers if t not in after.timers],
            timers=[{"id": t.id, "instance_id": instance_id, "element_id": t.element_id,
                     "kind": t.kind, "due_at": t.due_at} for t in after.timers.values()
                    if t.id not in before.timers or before.timers[t.id].due_at != t.due_at],
            replace_waits=before.events != after.events,
            waits=[{"instance_id": instance_id, "kind": e.kind, "name": e.name,
                    "element_id": e.element_id} for e in after.events]
            if before.events != after.events else [])
        for task in after.tasks.values():
            if task.id in before.tasks:
                continue
            meta = loaded.definition.task_meta.get(task.meta_key) or {}
            live = loaded.workflow.get_task_from_id(task_uuid(task.id))
            task_groups = self._task_groups(live, meta)
            changes.tasks.append({
                "id": task.id, "instance_id": instance_id, "element_id": task.element_id,
                "title": meta.get("title") or task.element_id, "lane": meta.get("lane"),
                "candidate_groups": task_groups,
                "assignee": None, "form": meta.get("form"), "created_at": now,
                "due_at": self._task_due(live, task.element_id, meta),
            })
            changes.groups += [{"task_id": task.id, "group_name": g} for g in task_groups]
        return changes

    def refresh_due_dates(self, session: Session, loaded: LoadedInstance) -> None:
        """Evaluate the due date of the instance's open tasks again (their data changed)."""
        if loaded.after is None:
            return
        conn = session.connection()
        for task in loaded.after.tasks.values():
            meta = loaded.definition.task_meta.get(task.meta_key) or {}
            if not meta.get("due_expression"):
                continue
            live = loaded.workflow.get_task_from_id(task_uuid(task.id))
            conn.execute(update(TASKS).where(TASKS.c.id == task.id).values(
                due_at=self._task_due(live, task.element_id, meta)))

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
