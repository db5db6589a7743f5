"""engine/taskcodec.py: every state the engine saves (the scenario diagram's supported
elements, a complaint lifecycle with its SLA watch firing) is rebuilt into the same task tree
as SpiffWorkflow's own TaskConverter rebuilds, and written back as the same text as Spiff's
writes it back."""

from __future__ import annotations

import cProfile
import json
import pstats
from typing import Any
from uuid import UUID, uuid4

import pytest
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.task import Task

import engine.transaction as engine_transaction
from engine import FrozenClock, taskcodec
from engine.runtime import HostScriptEngine, _registry, dump_state, load_state, workflow_serializer
from engine.taskcodec import HostTaskConverter, text_of, uuid_of
from tests import test_history as history
from tests import test_scenario as scenario
from tests.conftest import START


@pytest.fixture
def states(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every state the engine saves, as text, with the workflow's definition specs."""
    kept: list[tuple[str, Any]] = []
    original = engine_transaction.dump_state

    def record(workflow):
        text = original(workflow)
        kept.append((text, (workflow.spec, workflow.subprocess_specs)))
        return text

    monkeypatch.setattr(engine_transaction, "dump_state", record)
    return kept


@pytest.fixture
def spiffs() -> Any:
    """A registry as the engine's, with SpiffWorkflow's own TaskConverter for tasks."""
    registry = _registry()
    TaskConverter(Task, registry)
    return registry


def _script_engine() -> HostScriptEngine:
    return HostScriptEngine.__new__(HostScriptEngine)


def _spiffs_load(registry: Any, state: str, specs: Any) -> Any:
    workflow = registry.restore(json.loads(state), spec=specs[0], subprocess_specs=specs[1])
    workflow.script_engine = _script_engine()
    return workflow


def _spiffs_dump(registry: Any, workflow: Any) -> str:
    serializer = workflow_serializer()
    registry._encoder_mode = True
    try:
        return json.dumps(registry.convert(workflow), cls=serializer._encoder_cls)
    finally:
        registry._encoder_mode = False


def _tree(workflow: Any) -> list:
    """Each task (subprocesses' too) as it was rebuilt: ids, links, state, data, and which
    data values are the parent's own objects (a copy must not share what Spiff copies)."""
    rows = []
    convert = _registry().convert  # Spiff's objects in data (events) as dicts, comparable

    def text(value: Any) -> str:
        return json.dumps(convert(value), sort_keys=True, default=repr)

    for flow in (workflow, *workflow.subprocesses.values()):
        for task in flow.tasks.values():
            parent = task.parent
            shared = sorted(k for k, v in task.data.items()
                            if parent is not None and parent.data.get(k) is v
                            and isinstance(v, dict | list | set))
            rows.append((task.id, task._parent, list(task._children), task.state,
                         task.task_spec.name, task.triggered, task.last_state_change,
                         text(task.data), text(task.internal_data), shared))
    waiting = sorted(str(t) for t in workflow.event_manager.tasks) \
        if hasattr(workflow, "event_manager") else None
    return [rows, waiting, workflow.task_tree.id, text(workflow.data)]


def _same_as_spiff(states: list[tuple[str, Any]], registry: Any, as_saved: bool = True) -> int:
    """Each state loads and saves as Spiff's converter does (and, `as_saved`, saves as it
    was read)."""
    for text, specs in states:
        ours = load_state(text, specs[0], specs[1], _script_engine())
        theirs = _spiffs_load(registry, text, specs)
        assert _tree(ours) == _tree(theirs)
        saved = dump_state(ours)  # (orjson's spacing: the same text once json writes it)
        assert json.dumps(json.loads(saved)) == _spiffs_dump(registry, theirs)
        if as_saved:  # (nested keys' order aside, as Spiff's)
            assert json.loads(saved) == json.loads(text)
    return len(states)


def test_the_scenario_states_load_and_save_as_spiff_does(states, spiffs, make_engine):
    clock = FrozenClock(START)
    lookup = scenario.AgencyDirectory()
    pair = [make_engine(clock=clock, services={"lookup_agency": lookup}) for _ in range(2)]
    pair[0].deploy(scenario.UNIT)
    scenario.test_walks_every_supported_element_to_completion_with_a_save_at_every_step(
        pair, clock, lookup)
    assert any(json.loads(text)["subprocesses"] for text, _ in states)
    assert _same_as_spiff(states, spiffs) >= 20


def test_a_complaint_lifecycle_with_its_watch_loads_and_saves_as_spiff_does(
        states, spiffs, tmp_path, demo_template):
    seen = history._run(tmp_path / "run", demo_template, history.SCENARIOS["delegated to a unit"],
                        prune=True, monkeypatch=pytest.MonkeyPatch())
    assert seen["escalations"] >= 1  # the watch fired and climbed
    assert _same_as_spiff(states, spiffs) >= 10
    # saved objects (dates, amounts, ids) at every depth of data and internal data, which
    # the engine's restore hands to Spiff's and its dump leaves to the encoder
    # (a child's update equal to its parent's value is not saved again: Spiff's delta)
    assert _same_as_spiff([(_with_saved_objects(text), specs) for text, specs in states[-3:]],
                          spiffs, as_saved=False) == 3


_SAVED = {"at": {"typename": "datetime", "value": "2026-03-02T02:00:00+00:00"},
          "amounts": [{"typename": "Decimal", "value": "1.50"}, 3, "x", None, True],
          "nested": {"day": {"typename": "date", "value": "2026-03-02"}, "n": 1.5},
          "ids": [{"typename": "UUID", "value": "0b5c2a7e-3f3e-4a55-9a55-5f1c1c1c1c1c"}]}


def _with_saved_objects(text: str) -> str:
    """The state with saved objects in every task's internal data and own data."""
    state = json.loads(text)
    for flow in (state, *state["subprocesses"].values()):
        for task in flow["tasks"].values():
            task["internal_data"].update(_SAVED)
            if task["delta"]:
                task["delta"]["updates"].update(_SAVED)
            else:
                task["data"].update(_SAVED)
    return json.dumps(state)


def test_the_engines_task_converter_steps_aside_for_another(spiffs):
    """The shortcut to the engine's task converter holds only while the registry uses it:
    with Spiff's own registered over it (the comparisons above), tasks go through Spiff's."""
    assert HostTaskConverter.registered(_registry()) is not None
    assert HostTaskConverter.registered(spiffs) is None


def test_ids_are_parsed_and_printed_once_while_in_use(monkeypatch):
    monkeypatch.setattr(taskcodec, "_MEMO_SIZE", 3)
    ids = [uuid4() for _ in range(5)]
    texts = [str(i) for i in ids]
    parsed = uuid_of(texts[0])
    assert parsed == ids[0] and uuid_of(texts[0]) is parsed
    assert text_of(ids[0]) == texts[0] and text_of(ids[0]) is text_of(ids[0])
    for i, text in zip(ids, texts, strict=True):  # past the memo's size: it starts again
        assert uuid_of(text) == i and text_of(i) == text
    assert len(taskcodec._UUIDS) <= 3 and len(taskcodec._TEXTS) <= 3
    assert isinstance(uuid_of(texts[4]), UUID)


def test_an_id_read_is_written_back_as_str_writes_it():
    taskcodec.forget()
    plain = uuid4()
    assert text_of(uuid_of(str(plain))) is text_of(plain)  # read, then written as read
    for other in (str(plain).upper(), f"{{{plain}}}", plain.hex, f"urn:uuid:{plain}"):
        taskcodec.forget()
        assert uuid_of(other) == plain and text_of(uuid_of(other)) == str(plain)



def _lifecycle_states(states: list[tuple[str, Any]], tmp_path: Any, demo_template: Any
                      ) -> list[tuple[str, Any]]:
    """The states a complaint's lifecycle saves, its watch firing among them."""
    history._run(tmp_path / "run", demo_template, history.SCENARIOS["delegated to a unit"],
                 prune=True, monkeypatch=pytest.MonkeyPatch())
    return states


def _calls(work: Any) -> dict[str, int]:
    """The Python functions `work()` calls, by file and name, with their counts."""
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    return {f"{path}:{name}": found[1] for (path, _, name), found
            in pstats.Stats(profile).stats.items()}  # type: ignore[attr-defined]


def test_a_workflows_tasks_are_restored_and_saved_without_a_call_each(
        states, tmp_path, demo_template):
    """A firing restores and saves every task of its workflow (about fifty, most of them
    finished long ago): each way one loop, no converter call, no `Task.__init__`, and no
    call for a task whose data is its parent's (issue 17, ninth round)."""
    text, specs = max(_lifecycle_states(states, tmp_path, demo_template),
                      key=lambda kept: len(json.loads(kept[0])["tasks"]))
    saved = json.loads(text)["tasks"]
    assert len(saved) >= 30
    taken_as_is = sum(1 for task in saved.values() if task["delta"]
                      and not task["delta"]["updates"] and not task["delta"]["deletions"])
    assert taken_as_is >= 10
    found: list[Any] = []
    taskcodec.forget()  # ids never seen, as a firing's usually are
    loading = _calls(lambda: found.append(load_state(text, specs[0], specs[1],
                                                     _script_engine())))
    spiffs_task = [name for name in loading if name.endswith("SpiffWorkflow/task.py:__init__")]
    assert not spiffs_task
    ours = {name: count for name, count in loading.items() if "taskcodec" in name}
    assert ours.get(f"{taskcodec.__file__}:restore_tasks") == 1
    assert not any(name.endswith(":from_dict") for name in ours)
    assert ours.get(f"{taskcodec.__file__}:uuid_of", 0) <= len(saved) + 1  # each id once
    saving = _calls(lambda: dump_state(found[0]))
    ours = {name: count for name, count in saving.items() if "taskcodec" in name}
    assert ours.get(f"{taskcodec.__file__}:dump_tasks") <= 2  # the tasks, the subprocesses
    assert not any(name.endswith((":to_dict", ":text_of")) for name in ours)
    assert not [name for name in saving if name.endswith("uuid.py:__hash__")]
    assert json.loads(dump_state(found[0])) == json.loads(text)


def test_data_copied_from_a_parent_as_spiffs_merge_copies_it(states, spiffs, tmp_path,
                                                             demo_template):
    """Which of a task's data values are copies of its parent's (a dict, a list) follows the
    parent's updates and deletions down the tree as Spiff's DeepMerge copies them: a value
    replaced by a plain one, a plain one by a list, one deleted and one added back."""
    kept = _lifecycle_states(states, tmp_path, demo_template)
    text, specs = kept[-1]
    state = json.loads(text)
    root = state["tasks"][state["root"]]
    root["data"].update({"items": [1, [2]], "table": {"row": {"n": 1}}, "count": 1,
                         "tags": ["a"]})
    chain, task = [], root
    while task["children"]:
        task = state["tasks"][task["children"][0]]
        chain.append(task)
    assert len(chain) >= 4 and all(task["delta"] for task in chain[:4])
    first, second, third = chain[0]["delta"], chain[1]["delta"], chain[2]["delta"]
    first["updates"].update({"items": 5, "count": [3, {"deep": [4]}]})
    first["deletions"] = ["table"]
    second["updates"].update({"table": {"again": [1]}, "items": ["back"]})
    third["deletions"] = ["count", "missing"]
    assert _same_as_spiff([(json.dumps(state), specs)], spiffs, as_saved=False) == 1


def test_an_id_is_made_as_uuid_makes_it():
    """A canonical id is made without UUID's own parsing: the same object in every way."""
    import copy
    import pickle
    taskcodec.forget()
    for plain in (uuid4(), UUID(int=0), UUID(int=2**128 - 1)):
        made = uuid_of(str(plain))
        assert type(made) is UUID and made == plain and hash(made) == hash(plain)
        assert (made.int, made.is_safe, str(made), made.version) == \
            (plain.int, plain.is_safe, str(plain), plain.version)
        assert pickle.loads(pickle.dumps(made)) == plain and copy.deepcopy(made) == plain
    taskcodec.forget()  # read by UUID (it takes an underscore between digits), and written
    odd = "0123456_-89ab-cdef-0123-456789abcdef"  # back as Spiff writes it, not as read
    assert uuid_of(odd) == UUID(odd) and text_of(uuid_of(odd)) == str(UUID(odd))
    with pytest.raises(ValueError):
        uuid_of(f"{plain} ")  # what UUID refuses


def test_restored_tasks_have_every_attribute_spiffs_own_restore_gives(
        states, spiffs, tmp_path, demo_template):
    """`restore_tasks` builds each task attribute by attribute instead of through Spiff's
    `Task.__init__` and `from_dict`: every task ends with the same attributes, with the same
    values, as Spiff's own converter gives it (a SpiffWorkflow release that adds one to
    `Task.__init__` fails here instead of at a later firing)."""
    for text, specs in _lifecycle_states(states, tmp_path, demo_template):
        taskcodec.forget()
        ours = load_state(text, specs[0], specs[1], _script_engine())
        theirs = _spiffs_load(spiffs, text, specs)
        assert ours.tasks.keys() == theirs.tasks.keys()
        for task_id, task in ours.tasks.items():
            spiffs_task = theirs.tasks[task_id]
            assert vars(task).keys() == vars(spiffs_task).keys()
            for name in ("id", "_parent", "_children", "_state", "triggered", "thread_id",
                         "last_state_change", "data", "internal_data"):
                assert getattr(task, name) == getattr(spiffs_task, name), name
            assert task.task_spec is spiffs_task.task_spec
            assert type(task.id) is UUID and hash(task.id) == hash(spiffs_task.id)
