"""The projections' one-walk traversal (engine.projections.live_tasks) finds exactly the tasks
Spiff's own iterator (not HostWorkflow's walk: engine/tasktree.py) finds, in the same
order, at every step of the scenario walks (every supported element: subprocesses, call
activities, event subprocesses, parallel and inclusive gateways, boundary timers and
messages)."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskState

from engine import projections as proj
from tests import test_scenario as scenario
from tests.test_scenario import directory, engines  # noqa: F401 - fixtures of the walks


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every snapshot compares the walk with Spiff's iterator; returns how many it did."""
    original = proj.live_tasks
    seen: list[int] = []

    def compare(workflow):
        found = original(workflow)
        for state in (TaskState.READY, TaskState.WAITING):
            assert [t.id for t in found if t.state == state] == [
                t.id for t in BpmnTaskIterator(workflow.task_tree, state=state)]
        seen.append(len(found))
        return found

    monkeypatch.setattr(proj, "live_tasks", compare)
    return seen


def test_the_walk_matches_spiff_through_every_supported_element(
        checked, engines, clock, directory):  # noqa: F811
    scenario.test_walks_every_supported_element_to_completion_with_a_save_at_every_step(
        engines, clock, directory)
    # one snapshot per save (a load takes none when the process's warm workflow serves it)
    assert len(checked) >= 30 and max(checked) >= 4


@pytest.mark.parametrize("walk", scenario.OTHER_WALKS, ids=lambda w: w.__name__[5:40])
def test_the_walk_matches_spiff_in_the_other_scenarios(checked, engines, clock, walk):  # noqa: F811
    scenario.replay(walk, engines, clock)
    assert checked
