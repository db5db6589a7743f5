"""engine/tasktree.py: HostWorkflow's walks find what SpiffWorkflow's own iterators find, in
the same order (checked at every walk of the scenario diagrams: subprocesses, call
activities, event subprocesses, gateways, boundary events), and runs with them end exactly
as runs with Spiff's walks do (the same saved trees after every step), on the scenario
diagrams and the complaint lifecycle with its daily SLA watch. HostEndJoin's check answers
as Spiff's end join's at every check of the same runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

import engine.transaction as engine_transaction
from engine import FrozenClock, tasktree
from engine.definitions import coerce_files, parse_unit
from engine.runtime import dump_specs, load_specs, load_state, workflow_serializer
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


@pytest.fixture
def end_joins(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every check of an end join is compared with Spiff's own, for the task that asks and
    for every other task of its tree as if it asked; returns the answers compared."""
    ours = tasktree.HostEndJoin._check_threshold_unstructured
    answers: list[bool] = []

    def both(self, my_task):
        answer = ours(self, my_task)
        assert answer == _EndJoin._check_threshold_unstructured(self, my_task)
        workflow = my_task.workflow
        for other in list(workflow.tasks.values()):
            assert (not tasktree.unfinished_besides(workflow.task_tree, other, self.name)) \
                == _EndJoin._check_threshold_unstructured(self, other)
        answers.append(answer)
        return answer

    monkeypatch.setattr(tasktree.HostEndJoin, "_check_threshold_unstructured", both)
    return answers


def test_the_end_joins_answer_as_spiffs_through_every_supported_element(
        end_joins, engines, clock, directory):  # noqa: F811
    scenario.test_walks_every_supported_element_to_completion_with_a_save_at_every_step(
        engines, clock, directory)
    assert len(end_joins) >= 10 and set(end_joins) == {True, False}


def test_the_end_joins_answer_as_spiffs_in_a_complaint_lifecycle_with_its_watch(
        end_joins, tmp_path, demo_template):
    seen = history._run(tmp_path / "run", demo_template, history.SCENARIOS["delegated to a unit"],
                        prune=True, monkeypatch=pytest.MonkeyPatch())
    assert seen["escalations"] >= 1  # the watch fired: its branches reached the end join
    assert end_joins.count(False) >= 5  # (the report stays open: every answer is "wait")


def test_end_joins_are_the_engines_and_saved_under_spiffs_name(monkeypatch):
    """Parsed and loaded specs' end joins are HostEndJoins; the stored specs name them as
    Spiff does. Over MAX_DEPTH tasks the check is Spiff's own."""
    spec, subprocesses = _specs()
    joins = [t for s in (spec, *subprocesses.values()) for t in s.task_specs.values()
             if isinstance(t, _EndJoin)]
    assert len(joins) >= 2 and all(type(t) is tasktree.HostEndJoin for t in joins)
    stored = dump_specs(spec, subprocesses)
    assert '"_EndJoin"' in stored and "HostEndJoin" not in stored
    loaded, loaded_subprocesses = load_specs(stored)
    assert all(type(t) is tasktree.HostEndJoin for s in (loaded, *loaded_subprocesses.values())
               for t in s.task_specs.values() if isinstance(t, _EndJoin))

    assert type(spec.end) is tasktree.HostEndJoin
    workflow = tasktree.HostWorkflow(spec, subprocesses)
    asking = workflow.task_tree
    spiffs = _EndJoin._check_threshold_unstructured(spec.end, asking)

    def refuse(*_args):
        raise AssertionError("the engine's walk was taken")

    monkeypatch.setattr(tasktree, "unfinished_besides", refuse)
    monkeypatch.setattr(tasktree, "MAX_DEPTH", len(workflow.tasks))
    assert spec.end._check_threshold_unstructured(asking) is spiffs
