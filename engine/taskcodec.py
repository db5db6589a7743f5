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
from types import ModuleType
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

_MEMO_SIZE = 4096  # ids kept; a state has tens of tasks, so a few thousand span many loads
_UUIDS: dict[str, UUID] = {}
_TEXTS: dict[UUID, str] = {}
_MUTABLE = (dict, list, set)
_PLAIN = frozenset({str, int, float, bool, type(None)})  # what Spiff's restore returns as is


def uuid_of(text: str) -> UUID:
    """The UUID written as `text`, parsed once while it is in use."""
    try:
        return _UUIDS[text]  # a subscript, not a call (`get`): the memo is hit nearly always
    except KeyError:
        found = UUID(text)
    _keep(_UUIDS, text, found)
    if _canonical(text):  # as Spiff writes ids: printing it gives `text` back
        _keep(_TEXTS, found, text)
    return found


def text_of(uuid: UUID) -> str:
    """`str(uuid)`, printed once while it is in use (or not at all, when it was loaded)."""
    try:
        return _TEXTS[uuid]
    except KeyError:
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


def restored(value: Any, restore: Any) -> Any:
    """`restore(value)` (Spiff's registry) for a task's data or internal data, without a
    call for each plain value: only values that may hold a saved object (a dict, a list)
    go through Spiff's restore, which returns the others as they are."""
    if type(value) is not dict or "typename" in value:
        return restore(value)
    return {key: item if type(item) in _PLAIN else restore(item)
            for key, item in value.items()}


def converted(value: Any, registry: Any) -> Any:
    """`registry.convert(value)` for a task's internal data: while a state is dumped (the
    registry's encoder mode) a plain dict is only cleaned, as Spiff's own
    `_convert_for_encoder` does, here without its three calls."""
    if registry._encoder_mode and type(value) is dict:
        return {key: item for key, item in value.items()
                if not callable(item) and not isinstance(item, ModuleType)}
    return registry.convert(value)


class MemoizedIds:
    """A converter's id-keyed mappings (a workflow's tasks, its subprocesses) through the
    memo: mixed into the engine's workflow converter (engine/runtime.py). A workflow's tasks
    go straight to the engine's task converter while the registry holds it (each one, in
    Spiff's registry, is three calls and a copy of its dict away)."""

    registry: Any

    def mapping_to_dict(self, mapping: Mapping[Any, Any], **kwargs: Any) -> dict[str, Any]:
        convert = self.registry.convert
        codec = HostTaskConverter.registered(self.registry)
        if codec is None or kwargs:
            return {text_of(k) if isinstance(k, UUID) else str(k): convert(v, **kwargs)
                    for k, v in mapping.items()}
        task_class, typename, to_dict = codec.target_class, codec.typename, codec.to_dict
        found = {}
        for key, value in mapping.items():
            if value.__class__ is task_class:  # as Spiff's registry tells classes apart
                found[text_of(key)] = dct = to_dict(value)
                dct["typename"] = typename  # last, as Spiff's _obj_to_dict adds it
            else:
                found[text_of(key) if isinstance(key, UUID) else str(key)] = convert(value)
        return found

    def mapping_from_dict(self, mapping: Mapping[str, Any], key_class: Any = None,
                          **kwargs: Any) -> dict[Any, Any]:
        if key_class is UUID:
            key_class = uuid_of
        codec = HostTaskConverter.registered(self.registry)
        if codec is None or key_class is not uuid_of or kwargs.keys() != {"workflow"}:
            return super().mapping_from_dict(mapping, key_class, **kwargs)
        typename, from_dict, restore = codec.typename, codec.from_dict, self.registry.restore
        workflow = kwargs["workflow"]
        return {uuid_of(k): from_dict(v, workflow) if v.get("typename") == typename
                else restore(v, workflow=workflow) for k, v in mapping.items()}


class HostTaskConverter(TaskConverter):
    """Spiff's TaskConverter (data saved as the changes from the parent's), made cheaper."""

    def __init__(self, target_class: Any, registry: Any, typename: str | None = None) -> None:
        super().__init__(target_class, registry, typename)
        # What the registry holds for tasks now: `registered` finds this converter only
        # while no other converter was registered for tasks since.
        registry.host_task_codec = (self, registry.convert_to_dict[self.typename],
                                    registry.convert_from_dict[self.typename])

    @staticmethod
    def registered(registry: Any) -> HostTaskConverter | None:
        """The engine's task converter, if it is the one the registry uses for tasks."""
        held = getattr(registry, "host_task_codec", None)
        if held is None:
            return None
        codec, to_dict, from_dict = held
        if registry.convert_to_dict.get(codec.typename) is not to_dict \
                or registry.convert_from_dict.get(codec.typename) is not from_dict \
                or registry.typenames.get(codec.target_class) != codec.typename:
            return None
        return codec

    def to_dict(self, task: Any) -> dict[str, Any]:
        parent = None if task._parent is None else task.workflow.tasks[task._parent]
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
            "children": [text_of(child) for child in task._children] if task._children
            else [],
            "last_state_change": task.last_state_change,
            "state": task._state,  # Spiff's `state` property returns it
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": converted(task.internal_data, self.registry),
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
        task.internal_data = restored(dct["internal_data"], restore)
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta else None
        if parent is not None:
            data = {key: copy(value) if isinstance(value, _MUTABLE) else value
                    for key, value in parent.data.items()}
            data.update(restored(delta.get("updates", {}), restore))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = restored(dct["data"], restore)
        task.data = data
        return task
