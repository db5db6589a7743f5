"""Read a live workflow into the rows of the projection tables (open tasks, timers, waits)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from engine.definitions import meta_key


@dataclass(frozen=True)
class OpenTask:
    id: str
    element_id: str
    meta_key: str


@dataclass(frozen=True)
class WaitingTimer:
    id: str
    element_id: str
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class WaitingEvent:
    kind: str  # message | signal
    name: str
    element_id: str


@dataclass(frozen=True)
class Snapshot:
    """Everything the projection tables hold for one instance, keyed for diffing."""

    tasks: Mapping[str, OpenTask]
    timers: Mapping[str, WaitingTimer]
    events: frozenset[WaitingEvent]


EMPTY = Snapshot({}, {}, frozenset())


def inner_definitions(definition: Any) -> list[Any]:
    inner = getattr(definition, "event_definitions", None)
    return list(inner) if inner else [definition]


def _timer_due(task: Any, definition: Any) -> tuple[str, datetime] | None:
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        if not isinstance(value, dict) or value.get("cycles") == 0:
            return None
        return "cycle", datetime.fromisoformat(value["next"])
    kind = "duration" if isinstance(definition, DurationTimerEventDefinition) else "date"
    if isinstance(value, str):
        return kind, datetime.fromisoformat(value)
    return None


_LIVE = TaskState.READY | TaskState.WAITING


def live_tasks(workflow: Any) -> list[Any]:
    """The READY and WAITING tasks of a workflow and its subprocesses, in the order and by
    the rules of Spiff's own iterator (`get_tasks(state=READY)` or `(state=WAITING)`:
    depth first, a subprocess's tasks before the children of the task that runs it, never
    below a predicted task), in one walk instead of one per state: Spiff's iterator pops
    the head of a list and builds a filter per call, a third of a snapshot's cost."""
    subprocesses = workflow.subprocesses
    found = []
    pending = [workflow.task_tree]
    while pending:
        task = pending.pop()
        state = task._state
        if state & _LIVE:
            found.append(task)
        # (no look-up by the task's UUID, a Python-level hash, in a workflow without any)
        subprocess = subprocesses.get(task.id) if subprocesses else None
        if subprocess is not None:
            pending.extend(reversed(task.children))
            pending.append(subprocess.task_tree)
        elif task._children and state >= TaskState.FUTURE:
            tasks = task.workflow.tasks
            for child_id in reversed(task._children):
                pending.append(tasks.get(child_id))
    return found


def snapshot(workflow: Any) -> Snapshot:
    """The open human tasks, waiting timers and awaited messages/signals of a workflow."""
    tasks: dict[str, OpenTask] = {}
    waiting = []
    for task in live_tasks(workflow):
        if task._state == TaskState.WAITING:
            waiting.append(task)
        elif task.task_spec.manual:
            bpmn_id = task.task_spec.bpmn_id
            tasks[str(task.id)] = OpenTask(
                str(task.id), bpmn_id, meta_key(task.workflow.spec.name, bpmn_id)
            )
    timers: dict[str, WaitingTimer] = {}
    events: set[WaitingEvent] = set()
    for task in waiting:
        definition = getattr(task.task_spec, "event_definition", None)
        if definition is None:
            continue
        element_id = task.task_spec.bpmn_id or task.task_spec.name
        for inner in inner_definitions(definition):
            if isinstance(inner, TimerEventDefinition):
                due = _timer_due(task, inner)
                if due is not None:
                    timers[str(task.id)] = WaitingTimer(str(task.id), element_id, due[0], due[1])
            elif isinstance(inner, MessageEventDefinition):
                events.add(WaitingEvent("message", inner.name, element_id))
            elif isinstance(inner, SignalEventDefinition):
                events.add(WaitingEvent("signal", inner.name, element_id))
    for spec_name, definition in _event_subprocess_starts(workflow):
        kind = "message" if isinstance(definition, MessageEventDefinition) else "signal"
        events.add(WaitingEvent(kind, definition.name, spec_name))
    return Snapshot(tasks, timers, frozenset(events))


def _event_subprocess_starts(workflow: Any) -> list[tuple[str, Any]]:
    """Message and signal start events of the top process's event subprocesses."""
    found = []
    for spec_name in getattr(workflow.spec.start, "trigger_specs", []):
        spec = workflow.subprocess_specs.get(spec_name)
        for start in getattr(spec, "bpmn_start_events", []) if spec is not None else []:
            definition = start.event_definition
            if isinstance(definition, MessageEventDefinition | SignalEventDefinition):
                found.append((spec_name, definition))
    return found


def find_waiting(workflow: Any, kind: str, name: str) -> list[tuple[Any, Any]]:
    """The waiting tasks (with their matching event definition) for a message or signal."""
    wanted = MessageEventDefinition if kind == "message" else SignalEventDefinition
    found = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        for inner in inner_definitions(definition) if definition is not None else []:
            if isinstance(inner, wanted) and inner.name == name:
                found.append((task, inner))
    for _spec_name, definition in _event_subprocess_starts(workflow):
        if isinstance(definition, wanted) and definition.name == name:
            found.append((None, definition))
    return found
