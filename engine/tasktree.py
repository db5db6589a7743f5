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

A process's end join (Spiff's `_EndJoin`, which waits for every other unfinished task of its
workflow) asks, each time a branch reaches it, whether any other task of the tree is
unfinished, by walking the tree with Spiff's `TaskIterator` (below any task but another end
join of that process): a daily SLA watch's firing asks twice, about 570 of its Python calls.
`HostEndJoin` asks the same question of a plain walk (whether any such task exists does not
depend on the order it is found in), for trees of fewer than 1,000 tasks (Spiff's depth
limit); `use_host_end_joins` gives it to parsed and loaded specs, and the specs are saved
under `_EndJoin`'s type name (engine/runtime.py), so stored definitions do not change.
tests/test_tasktree.py compares its answer with Spiff's at every check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
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
        kids = task._children
        if subprocesses and task.id in subprocesses:
            tasks = task.workflow.tasks
            below = [tasks[i] for i in kids]
            if not (task._state >= TaskState.FINISHED_MASK and only_unfinished):
                below.insert(0, subprocesses[task.id].task_tree)
            for child in reversed(below):
                push(child)
        elif kids and task._state >= least:
            tasks = task.workflow.tasks
            for child_id in reversed(kids):
                push(tasks[child_id])  # a subscript: not a call, as `get` is
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


class HostEndJoin(_EndJoin):
    """Spiff's end join, its check answered by a plain walk (see the module)."""

    def _check_threshold_unstructured(self, my_task: Any) -> bool:
        if len(my_task.workflow.tasks) >= MAX_DEPTH:
            return super()._check_threshold_unstructured(my_task)
        return not unfinished_besides(my_task.workflow.task_tree, my_task, self.name)


def unfinished_besides(root: Any, me: Any, end_at: str) -> bool:
    """Whether a task at or below `root` other than `me` is unfinished, not looking below
    the tasks of spec `end_at`: what Spiff's `_EndJoin` asks of its `TaskIterator` (which
    goes below every other task with children, in any state)."""
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        task = pop()
        if task._state & TaskState.NOT_FINISHED_MASK and task is not me:
            return True
        if task._children and task.task_spec.name != end_at:
            tasks = task.workflow.tasks
            for child_id in task._children:
                push(tasks[child_id])
    return False


def use_host_end_joins(specs: Any) -> None:
    """Give these process specs' end joins the engine's check (`HostEndJoin`)."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if type(task_spec) is _EndJoin:
                task_spec.__class__ = HostEndJoin
        if type(getattr(spec, "end", None)) is _EndJoin:
            spec.end.__class__ = HostEndJoin


def dismantle(workflow: BpmnWorkflow) -> None:
    """Break the reference cycles of a workflow nothing will use again (a timer firing's,
    once saved: engine/sweep.py), so that reference counting frees it at once.

    A workflow and its tasks point at each other (`workflow.tasks`, `Task.workflow`, the
    task tree's root, the event manager), and so do a subprocess and its parent: left to
    the garbage collector, a firing's few hundred objects are walked by its collections
    and, when one of them found the firing still running, carried to an older generation.
    The specs, shared by every instance of a definition, are left alone. Using the workflow
    afterwards fails loudly (its attributes are gone)."""
    for sub in list(workflow.subprocesses.values()):
        if sub is not workflow:
            _take_apart(sub)
    _take_apart(workflow)


def _take_apart(workflow: Any) -> None:
    for task in workflow.tasks.values():
        task.__dict__.clear()
    workflow.__dict__.clear()
