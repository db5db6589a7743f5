"""A saved state's tasks converted in fewer Python calls: Spiff's task format, unchanged.

Rebuilding a workflow from its state and saving it again is a fifth of a timer firing's CPU
(BENCHMARKS.md, issue 17), and half of its Python calls: every task's id is parsed from its
text three times (as a task, as its parent's child, as its children's parent) and printed as
often, and its data is copied from its parent's through a general deep merge. Here each id
is parsed once per process while it is in use and printed as it was read (UUIDs are
immutable, so a shared memo is safe), and a task's data starts as the same shallow copy of
its parent's that `DeepMerge.merge({}, parent.data)` makes. What is written and what is
rebuilt are exactly Spiff's (`TaskConverter`), which tests/test_taskcodec.py checks state by
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

_MEMO_SIZE = 4096  # ids kept; a state has tens of tasks, so a few thousand span many loads
_UUIDS: dict[str, UUID] = {}
_TEXTS: dict[UUID, str] = {}
_MUTABLE = (dict, list, set)


def uuid_of(text: str) -> UUID:
    """The UUID written as `text`, parsed once while it is in use."""
    found = _UUIDS.get(text)
    if found is None:
        found = UUID(text)
        _keep(_UUIDS, text, found)
        if _canonical(text):  # as Spiff writes ids: printing it gives `text` back
            _keep(_TEXTS, found, text)
    return found


def text_of(uuid: UUID) -> str:
    """`str(uuid)`, printed once while it is in use (or not at all, when it was loaded)."""
    found = _TEXTS.get(uuid)
    if found is None:
        found = str(uuid)
        _keep(_TEXTS, uuid, found)
    return found


def forget() -> None:
    """Drop the memos (a benchmark loading one state again and again, as a first time)."""
    _UUIDS.clear()
    _TEXTS.clear()


def _canonical(text: str) -> bool:
    """Whether `text`, which parsed as a UUID, is how `str` prints it (lower case, hyphens
    at their places, nothing around)."""
    return (len(text) == 36 and text == text.lower()
            and text[8] == text[13] == text[18] == text[23] == "-")


def _keep(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_SIZE:  # bounded: start again
        memo.clear()
    memo[key] = value


class MemoizedIds:
    """A converter's id-keyed mappings (a workflow's tasks, its subprocesses) through the
    memo: mixed into the engine's workflow converter (engine/runtime.py)."""

    registry: Any

    def mapping_to_dict(self, mapping: Mapping[Any, Any], **kwargs: Any) -> dict[str, Any]:
        convert = self.registry.convert
        return {text_of(k) if isinstance(k, UUID) else str(k): convert(v, **kwargs)
                for k, v in mapping.items()}

    def mapping_from_dict(self, mapping: Mapping[str, Any], key_class: Any = None,
                          **kwargs: Any) -> dict[Any, Any]:
        if key_class is UUID:
            key_class = uuid_of
        return super().mapping_from_dict(mapping, key_class, **kwargs)


class HostTaskConverter(TaskConverter):
    """Spiff's TaskConverter (data saved as the changes from the parent's), made cheaper."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        parent = task.workflow.tasks.get(task._parent)
        own = task.data
        if parent is None:
            data, delta = own, {}
        else:
            inherited = parent.data
            data = {}
            delta = {
                "updates": {key: value for key, value in own.items()
                            if key not in inherited or value != inherited[key]},
                "deletions": [key for key in inherited if key not in own],
            }
        return {
            "id": text_of(task.id),
            "parent": text_of(task._parent) if parent is not None else None,
            "children": [text_of(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"],
                                 id=uuid_of(dct["id"]))
        parent_id = dct["parent"]
        task._parent = uuid_of(parent_id) if parent_id is not None else None
        task._children = [uuid_of(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        restore = self.registry.restore
        task.internal_data = restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta else None
        if parent is not None:
            data = {key: copy(value) if isinstance(value, _MUTABLE) else value
                    for key, value in parent.data.items()}
            data.update(restore(delta.get("updates", {})))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = restore(dct["data"])
        task.data = data
        return task
