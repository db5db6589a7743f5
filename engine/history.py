"""What a workflow need not keep: the finished branches a repeating boundary event left.

SpiffWorkflow keeps every task a workflow ever had. A non-interrupting boundary event on a
timeCycle (the complaint lifecycle's SLA watches: one firing a day while a deadline is
running or overdue) adds a branch to the tree at each firing: the event's path (the watch
service task, its end event, a join) and, beside it, one more of the boundary's joins.
A report sixty days at follow-up carried 267 tasks and 132 KB of state instead of 38 and
17 KB, and every later operation on it (its next firing, the officer's answer) restored,
walked and saved them all: the engine's own part of a firing went from 1.3 to 9 ms
(bench/state_growth.py, BENCHMARKS.md).

`prune_repeated_branches` drops, under each such event still waiting:

- the branches that are finished (every task in them completed or cancelled), keeping the
  first one (so the elements an instance has passed, `completed_elements` and
  `element_states`, stay what they were). Nothing refers to a dropped task: a finished
  branch has no descendant outside itself, its joins are cancelled, and the engine's
  projections (open tasks, timers, waits) are of tasks that are not finished. What the
  instance did is in its audit events (`instance_event`), not in the tree;
- the boundary's joins waiting beside them but the first: each firing adds one more, all
  waiting for the watched task to end; then one join of that spec fires and cancels every
  other (SpiffWorkflow's `Join._do_join`), so the extra ones never act.

Branches still running are left alone.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

_DONE = TaskState.COMPLETED | TaskState.CANCELLED


def prune_repeated_branches(workflow: BpmnWorkflow) -> int:
    """Drop the finished repeated branches of waiting non-interrupting boundary events
    (see the module), in the workflow and its subprocesses; returns how many tasks."""
    removed = 0
    for flow in (workflow, *workflow.subprocesses.values()):
        for task in [t for t in flow.tasks.values() if t.state == TaskState.WAITING
                     and isinstance(t.task_spec, BoundaryEvent)
                     and not t.task_spec.cancel_activity and len(t._children) > 2]:
            removed += _prune_under(workflow, flow, task)
    return removed


def _prune_under(top: BpmnWorkflow, flow: Any, event: Any) -> int:
    seen: set[str] = set()
    dropped: list[Any] = []
    waiting: set[str] = set()
    for child_id in list(event._children):
        child = flow.tasks.get(child_id)
        if child is None:
            continue
        if child.state == TaskState.WAITING and isinstance(child.task_spec, Join) \
                and not child._children:
            # the boundary's join, one more at each firing: when the watched task ends, one
            # join of this spec fires and cancels every other (Join._do_join), so the extra
            # waiting ones never act
            if child.task_spec.name in waiting:
                event._children.remove(child_id)
                dropped.append(child_id)
            waiting.add(child.task_spec.name)
            continue
        branch = _branch_if_done(top, flow, child_id)
        if branch is None:
            continue
        name = child.task_spec.name
        if name not in seen:  # the first finished branch of each path stays
            seen.add(name)
            continue
        event._children.remove(child_id)
        dropped += branch
    for task_id in dropped:
        del flow.tasks[task_id]
    last = getattr(flow, "last_task", None)
    if dropped and last is not None and last.id not in flow.tasks:
        flow.last_task = event
    return len(dropped)


def _branch_if_done(top: BpmnWorkflow, flow: Any, root_id: Any) -> list[Any] | None:
    """The ids of the subtree at `root_id` when every task in it is finished (completed or
    cancelled) and none starts a subprocess; else None."""
    found: list[Any] = []
    pending = [root_id]
    while pending:
        task_id = pending.pop()
        task = flow.tasks.get(task_id)
        if task is None or not task.state & _DONE or task_id in top.subprocesses:
            return None
        found.append(task_id)
        pending.extend(task._children)
    return found
