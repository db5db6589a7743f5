"""A saved state's tasks converted in fewer Python calls: Spiff's task format, unchanged.

Rebuilding a workflow from its state and saving it again is a fifth of a timer firing's CPU
(BENCHMARKS.md, issue 17), and half of its Python calls: every task's id is parsed from its
text three times (as a task, as its parent's child, as its children's parent) and printed as
often, and its data is copied from its parent's through a general deep merge. Here each id
is parsed once per process while it is in use and printed as it was read (UUIDs are
immutable, so a shared memo is safe), and a task's data starts as the same shallow copy of
its parent's that `DeepMerge.merge({}, parent.data)` makes. What is written and what is
rebuilt are exactly Spiff's (`TaskConverter`), which tests/test_taskcodec.py checks state by
state. A workflow's tasks are converted in one loop each way, without a call per task for
what most tasks hold (docs/engine.md, "The state's tasks").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from copy import copy
from types import ModuleType
from typing import Any
from uuid import UUID, SafeUUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

from engine.jsontext import plain

_MEMO_SIZE = 4096  # ids kept; a state has tens of tasks, so a few thousand span many loads
_UUIDS: dict[str, UUID] = {}
_TEXTS: dict[int, str] = {}  # by the UUID's number: hashed in C, not by UUID.__hash__
# How `str` prints a UUID: lower-case hex digits, hyphens at their places, nothing around.
_canonical = re.compile(
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_new, _set = object.__new__, object.__setattr__  # (as UUID.__init__ sets its slots)
_MUTABLE = (dict, list, set)
_EXACT = frozenset(_MUTABLE)  # copied by their own `copy`, as `copy.copy` copies them
_PLAIN = frozenset({str, int, float, bool, type(None)})  # what Spiff's restore returns as is


def uuid_of(text: str) -> UUID:
    """The UUID written as `text`, parsed once while it is in use. Written as Spiff writes
    ids (as `str` prints them), it is made as `UUID(text)` makes it, without its Python
    calls (a firing's ids are mostly new to the process), and printed back as read."""
    try:
        return _UUIDS[text]  # a subscript, not a call (`get`): the memo is hit nearly always
    except KeyError:
        pass
    if len(_UUIDS) >= _MEMO_SIZE:  # bounded: start again
        _UUIDS.clear()
    if text.__class__ is not str or _canonical(text) is None:
        found = _UUIDS[text] = UUID(text)
        return found
    found = _new(UUID)
    _set(found, "int", int(text.replace("-", ""), 16))
    _set(found, "is_safe", SafeUUID.unknown)  # UUID's default
    if len(_TEXTS) >= _MEMO_SIZE:
        _TEXTS.clear()
    _TEXTS[found.int] = text
    _UUIDS[text] = found  # (made whole first: another thread may read it at once)
    return found


def text_of(uuid: UUID) -> str:
    """`str(uuid)`, printed once while it is in use (or not at all, when it was loaded)."""
    try:
        return _TEXTS[uuid.int]
    except KeyError:
        found = str(uuid)
    _keep(_TEXTS, uuid.int, found)
    return found


def forget() -> None:
    """Drop the memos (a benchmark loading one state again and again, as a first time)."""
    _UUIDS.clear()
    _TEXTS.clear()


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
    Spiff's registry, is three calls and a copy of its dict away), all of them in one loop
    each way (`HostTaskConverter.dump_tasks`, `restore_tasks`)."""

    registry: Any

    def mapping_to_dict(self, mapping: Mapping[Any, Any], **kwargs: Any) -> dict[str, Any]:
        codec = HostTaskConverter.registered(self.registry)
        if codec is None or kwargs:
            if codec is not None:
                codec.unvouched = True
            convert = self.registry.convert
            return {text_of(k) if isinstance(k, UUID) else str(k): convert(v, **kwargs)
                    for k, v in mapping.items()}
        return codec.dump_tasks(mapping)

    def mapping_from_dict(self, mapping: Mapping[str, Any], key_class: Any = None,
                          **kwargs: Any) -> dict[Any, Any]:
        if key_class is UUID:
            key_class = uuid_of
        codec = HostTaskConverter.registered(self.registry)
        if codec is None or key_class is not uuid_of or kwargs.keys() != {"workflow"}:
            return super().mapping_from_dict(mapping, key_class, **kwargs)
        workflow = kwargs["workflow"]
        if codec.restorable(mapping, workflow):
            tasks: dict[Any, Any] = {}
            workflow.tasks = tasks  # (where Spiff's Task adds itself as it is made)
            codec.restore_tasks(mapping.values(), workflow, tasks)
            return tasks
        typename, from_dict, restore = codec.typename, codec.from_dict, self.registry.restore
        return {uuid_of(k): from_dict(v, workflow) if v.get("typename") == typename
                else restore(v, workflow=workflow) for k, v in mapping.items()}


class HostTaskConverter(TaskConverter):
    """Spiff's TaskConverter (data saved as the changes from the parent's), made cheaper."""

    def __init__(self, target_class: Any, registry: Any, typename: str | None = None) -> None:
        super().__init__(target_class, registry, typename)
        # Whether a task written since this was last set False may hold a value that orjson
        # writes otherwise than json (engine/jsontext.py: `plain`); read by dump_state.
        self.unvouched = True
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

    @classmethod
    def vouching(cls, registry: Any) -> HostTaskConverter | None:
        """The registry's engine converter (`registered`), set to vouch for what it writes
        from now on (`unvouched` False until a task's values are not plain)."""
        codec = cls.registered(registry)
        if codec is not None:
            codec.unvouched = False
        return codec

    def to_dict(self, task: Any) -> dict[str, Any]:
        return self.dump_tasks({task.id: task}, typed=False)[text_of(task.id)]

    def dump_tasks(self, mapping: Mapping[Any, Any], typed: bool = True) -> dict[str, Any]:
        """A workflow's tasks by id as Spiff's registry converts them (`to_dict`, and the
        type name last, as Spiff's `_obj_to_dict` adds it), in one loop: ids the memo knows
        and empty internal data take no call, the changes from the parent's data one
        comprehension (Spiff's own test, `!=`, value by value). Anything not a task goes
        through the registry."""
        task_class, typename, registry = self.target_class, self.typename, self.registry
        texts = _TEXTS
        found = {}
        # The tasks written so far, with their ids' texts, by their keys' numbers: a parent
        # (written before its children) is found without UUID's Python `__hash__`.
        seen: dict[int, tuple[Any, str]] = {}
        for key, task in mapping.items():
            if task.__class__ is not task_class \
                    or (key.__class__ is not UUID and not isinstance(key, UUID)):
                found[text_of(key) if isinstance(key, UUID) else str(key)] = \
                    registry.convert(task)  # (as Spiff's registry tells classes apart)
                self.unvouched = True  # (what it wrote is not looked at)
                continue
            number = key.int
            try:
                key_text = texts[number]
            except KeyError:
                key_text = text_of(key)
            seen[number] = (task, key_text)
            task_id = task.id
            try:
                text = key_text if task_id is key else texts[task_id.int]
            except KeyError:
                text = text_of(task_id)
            parent_id = task._parent
            if parent_id is None:
                parent = None
            else:
                tasks = task.workflow.tasks
                number = parent_id.int
                if tasks is mapping and number in seen:
                    parent, parent_text = seen[number]
                else:
                    parent = tasks.get(parent_id)
                    parent_text = None if parent is None else text_of(parent_id)
            own = task.data
            if parent is None:
                data, delta, parent_text = own, {}, None
                written = own
            else:
                inherited = parent.data
                data = {}
                written = {key: value for key, value in own.items()
                           if key not in inherited or value != inherited[key]}
                delta = {
                    "updates": written,
                    "deletions": [] if own.keys() >= inherited.keys() else
                    [key for key in inherited if key not in own],
                }
            kids = task._children
            if kids:
                try:
                    children = [texts[child.int] for child in kids]
                except KeyError:
                    children = [text_of(child) for child in kids]
            else:
                children = []
            internal = task.internal_data
            internal = {} if internal == {} and registry._encoder_mode \
                and internal.__class__ is dict else converted(internal, registry)
            changed = task.last_state_change
            # What else could hold a value orjson writes otherwise (engine/jsontext.py)
            try:
                if not (changed.__class__ is float and changed - changed == 0
                        and (not written or plain(written))
                        and (not internal or plain(internal))):
                    self.unvouched = True
            except RecursionError:  # (json's own writing will tell)
                self.unvouched = True
            dct = found[key_text] = {
                "id": text,
                "parent": parent_text,
                "children": children,
                "last_state_change": changed,
                "state": task._state,  # Spiff's `state` property returns it
                "task_spec": task.task_spec.name,
                "triggered": task.triggered,
                "internal_data": internal,
                "data": data,
                "delta": delta,
            }
            if typed:
                dct["typename"] = typename  # last, as Spiff's _obj_to_dict adds it
        return found

    def restorable(self, mapping: Mapping[str, Any], workflow: Any) -> bool:
        """Whether `restore_tasks` rebuilds these saved tasks as Spiff would: each a task
        saved under its own id, its spec in the workflow's (Spiff would make one)."""
        typename, specs = self.typename, workflow.spec.task_specs
        for key, dct in mapping.items():
            if dct.__class__ is not dict or "typename" not in dct \
                    or dct["typename"] != typename or dct["id"] != key \
                    or dct["task_spec"] not in specs:
                return False
        return True

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        if dct["task_spec"] not in workflow.spec.task_specs:  # Spiff makes it a start task
            return self._spiffs_from_dict(dct, workflow)
        return self.restore_tasks((dct,), workflow, workflow.tasks)

    def _spiffs_from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"],
                                 id=uuid_of(dct["id"]))
        parent_id = dct["parent"]
        task._parent = uuid_of(parent_id) if parent_id is not None else None
        task._children = [uuid_of(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = restored(dct["internal_data"], self.registry.restore)
        task.data = _data_of(dct, workflow.tasks.get(task._parent), self.registry.restore)
        return task

    def restore_tasks(self, saved: Iterable[dict[str, Any]], workflow: Any,
                      tasks: dict[Any, Any]) -> Any:
        """The saved tasks (`restorable`), parents before children, rebuilt into `tasks`
        (the workflow's) as Spiff's `from_dict` and `Task.__init__` build them, attribute by
        attribute; the last one returned. A task's data starts as its parent's, copied as
        `DeepMerge.merge({}, parent.data)` copies it (a dict, list or set value copied one
        level deep): which of the parent's keys hold one is known from the parent's own
        restore, so a task whose data equals its parent's calls no Python function."""
        task_class, restore, known = self.target_class, self.registry.restore, _UUIDS.get
        make, thread_id, specs = task_class.__new__, task_class.thread_id_pool, \
            workflow.spec.task_specs
        # The tasks made here, and their data's keys that a child copies, by their ids'
        # numbers: keys equal as the UUIDs are, hashed without UUID's Python `__hash__`.
        made: dict[int, tuple[Any, list[str]]] = {}
        task = None
        for dct in saved:
            text, parent_text, state = dct["id"], dct["parent"], dct["state"]
            # (`get`, not `in` then a subscript: another thread may empty the memo between)
            task_id = known(text) or uuid_of(text)  # (a UUID is never false)
            copied = None
            if parent_text is None:
                parent_id = parent = None
            else:
                parent_id = known(parent_text) or uuid_of(parent_text)
                number = parent_id.int
                if number in made:
                    parent, copied = made[number]
                else:
                    parent = tasks.get(parent_id)
            task = make(task_class)
            task.id = task_id
            task.workflow = workflow
            task._parent = parent_id
            task._children = [known(child) or uuid_of(child) for child in dct["children"]]
            task._state = state
            task.triggered = dct["triggered"]
            task.task_spec = spec = specs[dct["task_spec"]]
            task.thread_id = thread_id
            delta = dct["delta"] if "delta" in dct else None  # noqa: SIM401 (no call)
            if delta and parent is not None and parent.data.__class__ is dict:
                inherited = parent.data
                data = inherited.copy()
                if copied is None:
                    copied = _movable(inherited)
                for key in copied:
                    value = data[key]
                    data[key] = value.copy() if value.__class__ in _EXACT else copy(value)
                updates = delta["updates"] if "updates" in delta else None  # noqa: SIM401
                if updates:
                    updates = restored(updates, restore)
                    data.update(updates)
                    copied = _movable(data)
                deletions = delta["deletions"] if "deletions" in delta else None  # noqa: SIM401
                if deletions:
                    for key in deletions:
                        if key in data:
                            del data[key]
                    copied = [key for key in copied if key in data]
            else:
                data = _data_of(dct, parent, restore)
                copied = _movable(data) if data.__class__ is dict else []
            task.data = data
            internal = dct["internal_data"]
            task.internal_data = {} if internal == {} else restored(internal, restore)
            task.last_state_change = dct["last_state_change"]
            tasks[task_id] = task
            made[task_id.int] = (task, copied)
            if state & TaskState.WAITING and isinstance(spec, CatchingEvent):
                workflow.top_workflow.event_manager.add_task(task)
        return task


def _movable(data: dict[str, Any]) -> list[str]:
    """The keys of `data` whose values `DeepMerge.merge` copies (a dict, list or set)."""
    return [key for key, value in data.items() if value.__class__ in _EXACT
            or (value.__class__ not in _PLAIN and isinstance(value, _MUTABLE))]


def _data_of(dct: dict[str, Any], parent: Any, restore: Any) -> Any:
    """A saved task's data as Spiff's `TaskConverter.from_dict` rebuilds it."""
    delta = dct.get("delta")
    if not delta or parent is None:
        return restored(dct["data"], restore)
    data = {key: copy(value) if isinstance(value, _MUTABLE) else value
            for key, value in parent.data.items()}
    data.update(restored(delta.get("updates", {}), restore))
    for key in delta.get("deletions", ()):
        data.pop(key, None)
    return data
