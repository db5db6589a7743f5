"""The transaction every instance mutation runs in: load, act, save, project, audit."""

from __future__ import annotations

import contextvars
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, event, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import projections as proj
from engine.clock import FixedClock
from engine.deployments import DeployedDefinition, Deployments
from engine.errors import Conflict, EngineError, NotFound
from engine.operation import Hook, InstanceChange, Operation, running
from engine.runtime import (
    HostScriptEngine,
    dump_state,
    json_default,
    load_state,
    parse_instant,
)
from engine.sandbox import Sandbox, SandboxLimitExceeded
from engine.store import (
    HumanTask,
    Incident,
    InstanceEvent,
    ProcessInstance,
    Store,
    TaskGroup,
    Timer,
    WaitingEvent,
)

RUNNING, COMPLETED, ERROR, CANCELLED = "running", "completed", "error", "cancelled"
_DIFF_VALUE_LIMIT = 500


# How a command's host services guard their writes (see InstanceTransaction.run): FAST, no
# savepoint at all (the command runs again, CAREFUL, if one fails); CAREFUL, a savepoint per
# call; unset, one savepoint shared by the operation's calls.
FAST, CAREFUL = "fast", "careful"
REPLAY: contextvars.ContextVar[str | None] = contextvars.ContextVar("aduan_replay",
                                                                    default=None)


class ReplayCarefully(Exception):
    """A replayable service failed in a FAST command: roll it all back and run it again."""


class TaskNotOpen(Conflict):
    """The task was completed or cancelled by another writer (or never existed)."""


INSTANCES = ProcessInstance.__table__
INSTANCE_COLUMNS = (INSTANCES.c.id, INSTANCES.c.definition_id, INSTANCES.c.process_id,
                    INSTANCES.c.business_key, INSTANCES.c.status, INSTANCES.c.state,
                    INSTANCES.c.version)
TASKS, GROUPS = HumanTask.__table__, TaskGroup.__table__
TIMERS, WAITS, EVENTS = Timer.__table__, WaitingEvent.__table__, InstanceEvent.__table__

# The statements of the hot path, built once: their SQL and cache keys are reused.
_LOAD = select(*INSTANCE_COLUMNS).where(INSTANCES.c.id == bindparam("b_id"))
_LOAD_LOCKED = _LOAD.with_for_update()
_LOAD_BY_KEY = select(*INSTANCE_COLUMNS).where(
    INSTANCES.c.business_key == bindparam("b_key")).order_by(INSTANCES.c.id.desc()).limit(1)
_LOAD_BY_KEY_LOCKED = _LOAD_BY_KEY.with_for_update()
_SAVE = (update(INSTANCES)
         .where(INSTANCES.c.id == bindparam("b_id"),
                INSTANCES.c.version == bindparam("b_version"))
         .values(state=bindparam("b_state"), status=bindparam("b_status"),
                 version=bindparam("b_new_version"), updated_at=bindparam("b_now"),
                 ended_at=bindparam("b_ended")))
_INSERT_EVENT = insert(EVENTS)
_INSERT_TASKS, _INSERT_GROUPS = insert(TASKS), insert(GROUPS)
_DELETE_TASKS = delete(TASKS).where(TASKS.c.id.in_(bindparam("b_ids", expanding=True)))
_INSERT_TIMERS = insert(TIMERS)
_DELETE_TIMERS = delete(TIMERS).where(TIMERS.c.id.in_(bindparam("b_ids", expanding=True)))
_DELETE_WAITS = delete(WAITS).where(WAITS.c.instance_id == bindparam("b_id"))
_INSERT_WAITS = insert(WAITS)


# PostgreSQL: the saved state and every projection change in one statement (data-modifying
# CTEs on one snapshot; the new groups' foreign keys are checked at the statement's end).
# The row sets travel as JSON, so the text is fixed whatever the counts. A rewritten timer
# is upserted: its old row is never deleted and inserted by the same statement.
_SAVE_ALL = text("""
WITH saved AS (
    UPDATE process_instance SET state = :b_state, status = :b_status,
        version = :b_new_version, updated_at = :b_now, ended_at = :b_ended
    WHERE id = :b_id AND version = :b_version RETURNING id),
gone_tasks AS (
    DELETE FROM human_task WHERE id = ANY(CAST(:gone_tasks AS varchar[]))),
new_tasks AS (
    INSERT INTO human_task (id, instance_id, element_id, title, lane, candidate_groups,
                            assignee, form, created_at, due_at)
    SELECT t.id, t.instance_id, t.element_id, t.title, t.lane,
           CAST(t.candidate_groups AS json), NULL, CAST(t.form AS json), t.created_at,
           t.due_at
    FROM jsonb_to_recordset(CAST(:tasks AS jsonb)) AS t(
        id varchar, instance_id bigint, element_id varchar, title varchar, lane varchar,
        candidate_groups jsonb, form jsonb, created_at timestamptz, due_at timestamptz)),
new_groups AS (
    INSERT INTO human_task_group (task_id, group_name)
    SELECT g.task_id, g.group_name
    FROM jsonb_to_recordset(CAST(:groups AS jsonb)) AS g(task_id varchar, group_name varchar)),
gone_timers AS (
    DELETE FROM timer WHERE id = ANY(CAST(:gone_timers AS varchar[]))),
new_timers AS (
    INSERT INTO timer (id, instance_id, element_id, kind, due_at, claimed_by, claimed_until)
    SELECT m.id, m.instance_id, m.element_id, m.kind, m.due_at, NULL, NULL
    FROM jsonb_to_recordset(CAST(:timers AS jsonb)) AS m(
        id varchar, instance_id bigint, element_id varchar, kind varchar, due_at timestamptz)
    ON CONFLICT (id) DO UPDATE SET element_id = excluded.element_id, kind = excluded.kind,
        due_at = excluded.due_at, claimed_by = NULL, claimed_until = NULL),
gone_waits AS (
    DELETE FROM waiting_event WHERE instance_id = :b_id AND CAST(:replace_waits AS boolean)),
new_waits AS (
    INSERT INTO waiting_event (instance_id, kind, name, element_id)
    SELECT w.instance_id, w.kind, w.name, w.element_id
    FROM jsonb_to_recordset(CAST(:waits AS jsonb)) AS w(
        instance_id bigint, kind varchar, name varchar, element_id varchar)),
audit AS (
    INSERT INTO instance_event (instance_id, at, actor, action, element_id, status_from,
                                status_to, data_changes, detail)
    SELECT :b_id, :b_now, :e_actor, :e_action, :e_element, :e_from, :e_to,
           CAST(:e_changes AS json), CAST(:e_detail AS json)
    WHERE EXISTS (SELECT 1 FROM saved))
SELECT count(*) FROM saved
""")


def _merged_parameters(saved: dict[str, Any], changes: ProjectionChanges,
                       audit: dict[str, Any]) -> dict[str, Any]:
    def as_json(value: Any) -> str:
        return json.dumps(value, default=json_default)

    return {**saved, "gone_tasks": changes.gone_tasks, "tasks": as_json(changes.tasks),
            "groups": as_json(changes.groups), "gone_timers": changes.gone_timers,
            "timers": as_json(changes.timers), "replace_waits": changes.replace_waits,
            "waits": as_json(changes.waits), "e_actor": audit["actor"],
            "e_action": audit["action"], "e_element": audit["element_id"],
            "e_from": audit["status_from"], "e_to": audit["status_to"],
            # (a None is JSON null, as the JSON column stores it from the separate insert)
            "e_changes": json.dumps(audit["data_changes"], default=json_default),
            "e_detail": json.dumps(audit["detail"], default=json_default)}


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


@dataclass
class ProjectionChanges:
    """The projection rows one mutation removes and adds (tasks with their groups, timers,
    waiting events). A timer in `timers` that existed before is rewritten (moved, and no
    longer claimed)."""

    instance_id: int
    gone_tasks: list[str] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)  # the opened tasks' rows
    groups: list[dict[str, Any]] = field(default_factory=list)
    gone_timers: list[str] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    replace_waits: bool = False
    waits: list[dict[str, Any]] = field(default_factory=list)


def _write_changes(conn: Any, changes: ProjectionChanges) -> None:
    """The changes as separate statements (SQLite: each is a call into the library, no
    round trip to save)."""
    if changes.gone_tasks:  # their group rows go with them (ON DELETE CASCADE)
        conn.execute(_DELETE_TASKS, {"b_ids": changes.gone_tasks})
    if changes.tasks:
        conn.execute(_INSERT_TASKS, changes.tasks)
        if changes.groups:
            conn.execute(_INSERT_GROUPS, changes.groups)
    rewritten = [t["id"] for t in changes.timers]
    if changes.gone_timers or rewritten:
        conn.execute(_DELETE_TIMERS, {"b_ids": changes.gone_timers + rewritten})
    if changes.timers:
        conn.execute(_INSERT_TIMERS, changes.timers)
    if changes.replace_waits:
        conn.execute(_DELETE_WAITS, {"b_id": changes.instance_id})
        if changes.waits:
            conn.execute(_INSERT_WAITS, changes.waits)


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


def _failing_element(workflow: BpmnWorkflow, steps: list[str], element_id: str | None
                     ) -> str | None:
    """The element a failure outside Spiff's own error handling most likely came from: a task
    left started or in error, else the last step completed, else the action's element."""
    stuck = [t.task_spec.bpmn_id for t in workflow.get_tasks(
        state=TaskState.STARTED | TaskState.ERROR) if t.task_spec.bpmn_id]
    return stuck[-1] if stuck else (steps[-1] if steps else element_id)


def jsonable(value: Any) -> Any:
    """`value` as the JSON it will be stored as (dates as ISO text, decimals as strings)."""
    return json.loads(json.dumps(value, default=json_default))


def task_uuid(task_id: str) -> UUID:
    try:
        return UUID(task_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound(f"{task_id!r} is not a task id") from exc


@dataclass
class _Warm:
    """A workflow as this process saved it, with what `load` would compute from it."""

    workflow: BpmnWorkflow
    snapshot: proj.Snapshot
    data: dict[str, Any]


class WarmWorkflows:
    """The workflows this process saved last, so that the next operation on the same
    instance skips rebuilding it from its JSON state (a tenth of a complaint verb's CPU).

    An entry is keyed by the instance, its version and its state's length and hash, and is
    valid only for that exact saved state: it is put in after the saving transaction
    commits (never for one rolled back), and taken out (removed) when an operation uses it,
    so a workflow that operation then changes is never seen by another. Another process's
    save makes a new version, which no entry here matches."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[Any, ...], _Warm] = OrderedDict()

    def take(self, key: tuple[Any, ...]) -> _Warm | None:
        with self.lock:
            return self.entries.pop(key, None)

    def keep_after_commit(self, session: Session, key: tuple[Any, ...], warm: _Warm) -> None:
        session.info.setdefault(_WARM_PENDING, []).append((self, key, warm))

    def _put(self, key: tuple[Any, ...], warm: _Warm) -> None:
        with self.lock:
            self.entries[key] = warm
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_WARM_PENDING = "aduan_warm_workflows"


@event.listens_for(Session, "after_commit")
def _keep_warm(session: Session) -> None:
    for cache, key, warm in session.info.pop(_WARM_PENDING, ()):
        cache._put(key, warm)


@event.listens_for(Session, "after_rollback")
def _drop_warm(session: Session) -> None:
    session.info.pop(_WARM_PENDING, None)


def _warm_key(row: InstanceRow, state: str) -> tuple[Any, ...]:
    return (row.id, row.definition_id, row.version, len(state), hash(state))


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
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
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
                              rebuild=lambda: BpmnWorkflow(
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
        warm = self.warm.take(_warm_key(row, row.state)) if row.status == RUNNING else None
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
            hook: Hook | None = None) -> str | None:
        """Act on the workflow (`act(workflow)`), run engine steps, save state and
        projections, append the audit event.

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
                operation.memo.clear()
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
        conn = session.connection()  # Core statements: the ORM's bookkeeping costs here
        if self.store.postgres:  # one statement: the state, the projections, the audit
            found = conn.execute(_SAVE_ALL, _merged_parameters(saved, changes, audit)).scalar()
        else:
            found = conn.execute(_SAVE, saved).rowcount
            if found == 1:
                _write_changes(conn, changes)
                conn.execute(_INSERT_EVENT, audit)
        if found != 1:
            raise Conflict("instance %(instance)s was changed by someone else; reload and "
                           "retry", instance=row.id)
        row.version, row.status = new_version, status
        if status == RUNNING and saved_data is None:  # for this process's next operation
            self.warm.keep_after_commit(session, _warm_key(row, state),
                                        _Warm(workflow, after, dict(data_after)))
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
        except Exception as exc:  # noqa: BLE001 - diagram code, a bug or exhaustion
            return exc
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
        conn.execute(_SAVE, {"b_id": row.id, "b_version": row.version, "b_state": row.state,
                             "b_status": ERROR, "b_new_version": row.version + 1,
                             "b_now": now, "b_ended": None})
        conn.execute(delete(TASKS).where(TASKS.c.instance_id == row.id))
        conn.execute(delete(TIMERS).where(TIMERS.c.instance_id == row.id))
        conn.execute(_DELETE_WAITS, {"b_id": row.id})
        conn.execute(_INSERT_EVENT, {
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
        fresh = BpmnWorkflow(loaded.definition.spec, loaded.definition.subprocess_specs,
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
