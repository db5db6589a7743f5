"""engine/taskcodec.py: every state the engine saves (the scenario diagram's supported
elements, a complaint lifecycle with its SLA watch firing) is rebuilt into the same task tree
as SpiffWorkflow's own TaskConverter rebuilds, and written back as the same text as Spiff's
writes it back."""

from __future__ import annotations

import json
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
        saved = dump_state(ours)
        assert saved == _spiffs_dump(registry, theirs)
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

