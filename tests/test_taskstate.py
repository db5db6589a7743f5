"""Spiff's task state changes without unread log details (engine/taskstate.py): the same
states, and Spiff's log records whenever its logger would emit them."""

from __future__ import annotations

import logging

import pytest
from SpiffWorkflow import task as spiff_task

from tests.diagram import linear, script_task, user_task, write


@pytest.fixture
def counted_details(monkeypatch):
    """How often Spiff builds a task's log details."""
    built = []
    original = spiff_task.Task.collect_log_extras

    def counting(self, dct=None):
        built.append(self.task_spec.name)
        return original(self, dct)

    monkeypatch.setattr(spiff_task.Task, "collect_log_extras", counting)
    return built


def _run(make_engine, tmp_path):
    engine = make_engine()
    engine.deploy([write(tmp_path, "p.bpmn", linear(
        "p", script_task("calc", "x = 1"), user_task("check")))])
    started = engine.start("p", {})
    tasks = engine.tasks(instance_id=started.id)
    assert [t["element_id"] for t in tasks] == ["check"]
    engine.complete(tasks[0]["id"], {})
    assert engine.instance(started.id)["status"] == "completed"


def test_state_changes_build_no_log_details_when_nobody_logs_them(make_engine, tmp_path,
                                                                  counted_details):
    assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
    _run(make_engine, tmp_path)
    assert counted_details == []


def test_spiffs_records_are_written_when_its_logger_would_emit_them(make_engine, tmp_path,
                                                                    caplog, counted_details):
    with caplog.at_level(logging.DEBUG, logger="spiff.task"):
        _run(make_engine, tmp_path)
    changed = [r for r in caplog.records if r.name == "spiff.task"
               and r.getMessage() == "State changed to COMPLETED"]
    assert {r.task_spec for r in changed} >= {"calc", "check"}
    assert all(r.task_type and r.workflow_spec == "p" for r in changed)
    assert counted_details  # Spiff's own method built them


def test_a_state_set_again_keeps_its_time_of_change():
    from types import SimpleNamespace

    from SpiffWorkflow.util.task import TaskState

    import engine.runtime  # noqa: F401 - installs engine.taskstate

    workflow = SimpleNamespace(tasks={})
    task = spiff_task.Task(workflow, SimpleNamespace(name="t"), state=TaskState.FUTURE)
    task.last_state_change = 0.0
    task._set_state(TaskState.READY)
    changed_at = task.last_state_change
    assert task.state == TaskState.READY and changed_at > 0
    task._set_state(TaskState.READY)
    assert task.last_state_change == changed_at
    task._set_state(TaskState.COMPLETED)
    assert task.state == TaskState.COMPLETED and task.last_state_change >= changed_at


def test_the_replaced_method_is_the_one_it_was_written_against():
    """engine/taskstate.py does what SpiffWorkflow 3.2's `Task._set_state` does. A release
    that changes that method (the pin allows any 3.2.x) fails here, so that the replacement
    is read against the new one before it is kept."""
    import hashlib
    import inspect

    from engine import taskstate

    source = inspect.getsource(taskstate._SPIFF_SET_STATE)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "86c4c1d22dc9b70f0db4602e89b186aaddfb37f400116cf4773b943b021e40ac"), source
