"""The walks over a workflow's task tree that SpiffWorkflow takes on every step, done in fewer
Python calls, in the same order, with the same results.

SpiffWorkflow finds what to do next by walking the whole task tree: for READY tasks on each
pass of `do_engine_steps` (at least two passes a call) and for WAITING tasks after every
task that completes (`Workflow.update_waiting_tasks`). A complaint's lifecycle completes
about 42 tasks and walks the tree about 80 times; each walk goes through Spiff's
`TaskIterator`, which pays for properties (`Task.children`, `Task.parent`: a list and a
dictionary look-up each), a depth counter kept by climbing parents, and a filter object:
about a tenth of the lifecycle's CPU (issue 17, BENCHMARKS.md).

`HostWorkflow` is a `BpmnWorkflow` whose two walks go through `walk` below instead. `walk`
yields exactly what Spiff's iterators yield, in the same order:

- depth first, children in their order, a subprocess's tree before the children of the
  task that runs it (`BpmnTaskIterator`);
- it goes below a task when the task has children (or runs a subprocess) and its state is
  at least the least state the filter can reach: MAYBE when predicted tasks are asked
  for, FUTURE when definite ones are, otherwise COMPLETED; a subprocess's tree is not
  searched below a finished task that runs it when only unfinished states are asked for;
- a task's children are read when the task is reached, before it is handed to the caller,
  so a caller that changes the tree as it goes (a waiting task that becomes ready and
  grows children) sees what Spiff's iterator would.

Spiff's iterators also stop going deeper at depth 1,000. A tree of fewer than 1,000 tasks
(the lifecycle's stay at about 50: engine/history.py) cannot reach that depth, so `walk`
does not count depth; for a larger tree, and for any filter other than state and `manual`,
`HostWorkflow` hands the walk to Spiff's own iterator. tests/test_tasktree.py compares the
two walks, task by task, at every step of several diagrams.

Stored states do not change: `HostWorkflow` is saved under `BpmnWorkflow`'s type name
(engine/runtime.py), and a state saved before this module loads into a `HostWorkflow`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskIterator, TaskState

MAX_DEPTH = 1000  # Spiff's iterators' default depth limit
_FAST_FILTERS = frozenset({"state", "manual"})


def _least_state(state: int) -> int:
    """The least state a task must be in for the walk to go below it (Spiff's rule)."""
    if state & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if state & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def walk(root: Any, state: int = TaskState.ANY_MASK, manual: bool | None = None,
         subprocesses: dict[Any, Any] | None = None) -> Iterator[Any]:
    """The tasks at and below `root` whose state is in `state` (and whose spec's `manual`
    is `manual`, unless None), in Spiff's order; `subprocesses` (the top workflow's, by the
    id of the task that runs each) to descend into them as `BpmnTaskIterator` does, None to
    stay in `root`'s workflow as `TaskIterator` does."""
    least = _least_state(state)
    only_unfinished = state <= TaskState.FINISHED_MASK
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        task = pop()
        sub = subprocesses.get(task.id) if subprocesses else None
        kids = task._children
        if sub is not None:
            tasks = task.workflow.tasks
            below = [tasks.get(i) for i in kids]
            if not (task._state >= TaskState.FINISHED_MASK and only_unfinished):
                below.insert(0, sub.task_tree)
            for child in reversed(below):
                push(child)
        elif kids and task._state >= least:
            tasks = task.workflow.tasks
            for child_id in reversed(kids):
                push(tasks.get(child_id))
        if task._state & state and (manual is None or task.task_spec.manual == manual):
            yield task


def _size(workflow: Any) -> int:
    if not workflow.subprocesses:
        return len(workflow.tasks)
    return len(workflow.tasks) + sum(len(s.tasks) for s in workflow.subprocesses.values())


class HostWorkflow(BpmnWorkflow):
    """A BpmnWorkflow whose task-tree walks take fewer Python calls (see the module)."""

    def get_tasks_iterator(self, first_task: Any = None, **kwargs: Any) -> Iterator[Any]:
        if kwargs.keys() <= _FAST_FILTERS and _size(self) < MAX_DEPTH:
            return walk(first_task or self.task_tree, kwargs.get("state", TaskState.ANY_MASK),
                        kwargs.get("manual"), self.subprocesses)
        return super().get_tasks_iterator(first_task, **kwargs)

    def update_waiting_tasks(self) -> None:
        if _size(self) < MAX_DEPTH:
            found: Iterator[Any] = walk(self.task_tree, TaskState.WAITING)
        else:
            found = TaskIterator(self.task_tree, state=TaskState.WAITING)
        for task in found:
            task.task_spec._update(task)
