"""Writing an instance's mutation: the statements, the projection diff, and the workflows a
process keeps warm after saving them (used by engine/transaction.py).

On PostgreSQL the state's UPDATE, every projection change and the audit event are one
statement (`SAVE_ALL`); SQLite sends them separately (`SAVE`, `write_changes`,
`INSERT_EVENT`): there each is a call into the library, no round trip to save.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import bindparam, delete, event, insert, text, update
from sqlalchemy.orm import Session

from engine import projections as proj
from engine.recent import Recent
from engine.runtime import json_default
from engine.store import HumanTask, InstanceEvent, ProcessInstance, TaskGroup, Timer, WaitingEvent

INSTANCES = ProcessInstance.__table__
TASKS, GROUPS = HumanTask.__table__, TaskGroup.__table__
TIMERS, WAITS, EVENTS = Timer.__table__, WaitingEvent.__table__, InstanceEvent.__table__

SAVE = (update(INSTANCES)
         .where(INSTANCES.c.id == bindparam("b_id"),
                INSTANCES.c.version == bindparam("b_version"))
         .values(state=bindparam("b_state"), status=bindparam("b_status"),
                 version=bindparam("b_new_version"), updated_at=bindparam("b_now"),
                 ended_at=bindparam("b_ended")))
INSERT_EVENT = insert(EVENTS)
_INSERT_TASKS, _INSERT_GROUPS = insert(TASKS), insert(GROUPS)
_DELETE_TASKS = delete(TASKS).where(TASKS.c.id.in_(bindparam("b_ids", expanding=True)))
_INSERT_TIMERS = insert(TIMERS)
_DELETE_TIMERS = delete(TIMERS).where(TIMERS.c.id.in_(bindparam("b_ids", expanding=True)))
DELETE_WAITS = delete(WAITS).where(WAITS.c.instance_id == bindparam("b_id"))
_INSERT_WAITS = insert(WAITS)


# PostgreSQL: the saved state and every projection change in one statement (data-modifying
# CTEs on one snapshot; the new groups' foreign keys are checked at the statement's end).
# The row sets travel as JSON, so the text is fixed whatever the counts. A rewritten timer
# is upserted: its old row is never deleted and inserted by the same statement.
#
# Planned once per connection: psycopg prepares it by its fifth use, and PostgreSQL then
# keeps a generic plan only if that plan costs no more than the custom ones. The removed ids
# are read as `ANY(ARRAY(SELECT unnest(...)))`, an array the planner cannot see into, so
# that every plan counts on the same few ids; written `ANY(CAST(... AS varchar[]))`, a
# custom plan counted the ids it was given (mostly none), looked cheaper than any generic
# one, and the statement was planned anew at every save (a sixth of the server's CPU in a
# timer firing: BENCHMARKS.md, Issue 17, ninth round).
SAVE_ALL = text("""
WITH saved AS (
    UPDATE process_instance SET state = :b_state, status = :b_status,
        version = :b_new_version, updated_at = :b_now, ended_at = :b_ended
    WHERE id = :b_id AND version = :b_version RETURNING id),
gone_tasks AS (
    DELETE FROM human_task WHERE id = ANY(ARRAY(SELECT unnest(CAST(:gone_tasks AS varchar[]))))),
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
    DELETE FROM timer WHERE id = ANY(ARRAY(SELECT unnest(CAST(:gone_timers AS varchar[]))))),
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


@functools.lru_cache(maxsize=32)
def driver_text(statement: Any, dialect: Any) -> str:
    """A fixed statement as the driver receives it (compiled once per dialect), for
    `Connection.exec_driver_sql`: the merged save of every PostgreSQL mutation skips
    SQLAlchemy's per-execution work on a construct (its cache key, its 21 parameters, a
    compiled context: about 20 us and 18 Python calls), yet passes its cursor events as
    before; its parameters need no processing (plain values, JSON text). Not for a statement
    whose rows are read: without the construct, each result's columns are described anew
    (the instance's lock took 40 % more calls so)."""
    return str(statement.compile(dialect=dialect))


def merged_parameters(saved: dict[str, Any], changes: ProjectionChanges,
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


def write_changes(conn: Any, changes: ProjectionChanges) -> None:
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
        conn.execute(DELETE_WAITS, {"b_id": changes.instance_id})
        if changes.waits:
            conn.execute(_INSERT_WAITS, changes.waits)


@dataclass
class Warm:
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
        # by instance (one entry each: a newer save replaces it), with the entry's key
        self.entries: Recent[int, tuple[tuple[Any, ...], Warm]] = Recent(size)

    def take(self, instance_id: int, definition_id: int, version: int, state: str
             ) -> Warm | None:
        """The workflow kept for exactly this saved state, if any (the state's hash is
        computed only when an entry for the instance is here: a cold load hashes nothing)."""
        entry = self.entries.pop(instance_id)
        if entry is None or entry[0] != warm_key(instance_id, definition_id, version, state):
            return None
        return entry[1]

    def keep_after_commit(self, session: Session, key: tuple[Any, ...], warm: Warm) -> None:
        session.info.setdefault(_WARM_PENDING, []).append((self, key, warm))

    def _put(self, key: tuple[Any, ...], warm: Warm) -> None:
        self.entries.put(key[0], (key, warm))


_WARM_PENDING = "aduan_warm_workflows"


@event.listens_for(Session, "after_commit")
def _keep_warm(session: Session) -> None:
    for cache, key, warm in session.info.pop(_WARM_PENDING, ()):
        cache._put(key, warm)


@event.listens_for(Session, "after_rollback")
def _drop_warm(session: Session) -> None:
    session.info.pop(_WARM_PENDING, None)


def warm_key(instance_id: int, definition_id: int, version: int, state: str
             ) -> tuple[Any, ...]:
    """The key of a saved state: the instance, its definition, version, and the state's
    length and hash (so that an id reused after a truncated table never matches)."""
    return (instance_id, definition_id, version, len(state), hash(state))


# ----------------------------------------------------------------- the audit event's content

_DIFF_VALUE_LIMIT = 500


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


def jsonable(value: Any) -> Any:
    """`value` as the JSON it will be stored as (dates as ISO text, decimals as strings)."""
    return json.loads(json.dumps(value, default=json_default))
