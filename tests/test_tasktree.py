"""engine/tasktree.py: HostWorkflow's walks find what SpiffWorkflow's own iterators find, in
the same order (checked at every walk of the scenario diagrams: subprocesses, call
activities, event subprocesses, gateways, boundary events), and runs with them end exactly
as runs with Spiff's walks do (the same saved trees after every step), on the scenario
diagrams and the complaint lifecycle with its daily SLA watch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

import engine.transaction as engine_transaction
from engine import FrozenClock, tasktree
from engine.definitions import coerce_files, parse_unit
from engine.runtime import load_state, workflow_serializer
from engine.sandbox import Sandbox
from tests import test_history as history
from tests import test_scenario as scenario
from tests.conftest import START
from tests.test_scenario import directory, engines  # noqa: F401 - fixtures of the walks

MASKS = (TaskState.READY, TaskState.WAITING, TaskState.READY | TaskState.WAITING,
         TaskState.COMPLETED, TaskState.CANCELLED, TaskState.FINISHED_MASK,
         TaskState.NOT_FINISHED_MASK, TaskState.PREDICTED_MASK, TaskState.DEFINITE_MASK,
         TaskState.ERROR, TaskState.ANY_MASK)


def _ids(tasks: Any) -> list:
    return [t.id for t in tasks]


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every walk HostWorkflow takes is compared with Spiff's iterator over the same tree,
    for the walk's own filter and for every state mask, both with and without `manual`;
    returns the sizes of the trees compared."""
    fast = tasktree.walk
    seen: list[int] = []

    def both(root, state=TaskState.ANY_MASK, manual=None, subprocesses=None):
        def spiff(mask, manual_wanted):
            kwargs = {"state": mask}
            if manual_wanted is not None:
                kwargs["manual"] = manual_wanted
            return _ids(BpmnTaskIterator(root, **kwargs) if subprocesses is not None
                        else TaskIterator(root, **kwargs))

        for mask in {state, *MASKS}:
            for manual_wanted in {manual, None, True, False}:
                assert _ids(fast(root, mask, manual_wanted, subprocesses)) == \
                    spiff(mask, manual_wanted), (mask, manual_wanted)
        seen.append(len(root.workflow.tasks))
        return fast(root, state, manual, subprocesses)

    monkeypatch.setattr(tasktree, "walk", both)
    return seen


def test_the_walks_match_spiff_through_every_supported_element(
        compared, engines, clock, directory):  # noqa: F811
    scenario.test_walks_every_supported_element_to_completion_with_a_save_at_every_step(
        engines, clock, directory)
    assert len(compared) >= 100 and max(compared) >= 10


@pytest.mark.parametrize("walk", scenario.OTHER_WALKS, ids=lambda w: w.__name__[5:40])
def test_the_walks_match_spiff_in_the_other_scenarios(compared, engines, clock, walk):  # noqa: F811
    scenario.replay(walk, engines, clock)
    assert compared


def _shape(workflow: BpmnWorkflow) -> list:
    """A saved tree without its random ids and times: each task, depth first (subprocesses
    included), by spec, state and data; and the workflow's data."""
    tasks = [(t.task_spec.name, t.state, json.dumps(t.data, sort_keys=True, default=str))
             for t in BpmnTaskIterator(workflow.task_tree)]
    return [tasks, json.dumps(workflow.data, sort_keys=True, default=str)]


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list:
    """The shape of every state the engine saves, in order."""
    shapes: list = []
    original = engine_transaction.dump_state

    def record(workflow):
        shapes.append(_shape(workflow))
        return original(workflow)

    monkeypatch.setattr(engine_transaction, "dump_state", record)
    return shapes


def _with_spiffs_walks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tree counts as too large for the fast walk: HostWorkflow walks with Spiff's."""
    monkeypatch.setattr(tasktree, "MAX_DEPTH", 0)


def test_a_scenario_saves_the_same_trees_with_spiffs_walks(
        saved, make_engine, monkeypatch):
    walk = scenario.test_walks_every_supported_element_to_completion_with_a_save_at_every_step
    runs = []
    for spiffs in (False, True):
        if spiffs:
            _with_spiffs_walks(monkeypatch)
        clock = FrozenClock(START)  # each run from the same instant
        lookup = scenario.AgencyDirectory()  # each run its own service
        pair = [make_engine(clock=clock, services={"lookup_agency": lookup}) for _ in range(2)]
        pair[0].deploy(scenario.UNIT)
        walk(pair, clock, lookup)
        runs.append(list(saved))
        saved.clear()
    assert len(runs[0]) >= 20
    assert runs[1] == runs[0]


@pytest.mark.parametrize("name", ["interim, then final", "delegated to a unit"])
def test_a_complaint_lifecycle_saves_the_same_trees_with_spiffs_walks(
        name, saved, tmp_path, demo_template, monkeypatch):
    steps = history.SCENARIOS[name]
    fast_seen = history._run(tmp_path / "fast", demo_template, steps, prune=True,
                             monkeypatch=pytest.MonkeyPatch())
    fast = list(saved)
    saved.clear()
    with pytest.MonkeyPatch.context() as patch:
        _with_spiffs_walks(patch)
        spiff_seen = history._run(tmp_path / "spiff", demo_template, steps, prune=True,
                                  monkeypatch=pytest.MonkeyPatch())
    assert fast_seen["escalations"] >= 1  # the watch fired and climbed
    assert len(fast) >= 10 and saved == fast
    # what the pages show after every step; the saved sizes differ only by the state
    # change times' digits
    del spiff_seen["state_bytes"], fast_seen["state_bytes"]
    assert spiff_seen == fast_seen


def _specs() -> tuple[Any, dict[str, Any]]:
    """The scenario diagram's parsed specs (every supported element)."""
    unit = parse_unit(coerce_files(scenario.UNIT), Sandbox(), scenario.PROCESS, now=START)
    assert unit.valid, unit.findings
    return unit.spec, unit.subprocess_specs


def test_a_large_tree_and_other_filters_are_walked_by_spiff(monkeypatch):
    """Over MAX_DEPTH tasks (Spiff's depth limit could then matter) or with a filter the
    fast walk does not know, HostWorkflow hands the walk to Spiff's iterator."""
    spec, subprocesses = _specs()
    workflow = tasktree.HostWorkflow(spec, subprocesses)
    assert not isinstance(workflow.get_tasks_iterator(), BpmnTaskIterator)
    assert isinstance(workflow.get_tasks_iterator(spec_name="Start"), BpmnTaskIterator)
    monkeypatch.setattr(tasktree, "MAX_DEPTH", len(workflow.tasks))
    assert isinstance(workflow.get_tasks_iterator(state=TaskState.READY), BpmnTaskIterator)


def test_states_saved_before_load_as_host_workflows_and_save_under_spiffs_name():
    """A state saved by plain SpiffWorkflow (type name BpmnWorkflow) loads into a
    HostWorkflow, which saves under the same name."""
    from engine.runtime import HostScriptEngine, dump_state

    spec, subprocesses = _specs()
    plain = BpmnWorkflow(spec, subprocesses)
    state = dump_state(plain)
    assert json.loads(state)["typename"] == "BpmnWorkflow"
    assert workflow_serializer().registry.typenames[BpmnWorkflow] == "BpmnWorkflow"
    loaded = load_state(state, spec, subprocesses, HostScriptEngine.__new__(HostScriptEngine))
    assert type(loaded) is tasktree.HostWorkflow
    assert json.loads(dump_state(loaded))["typename"] == "BpmnWorkflow"
