"""Migrating running instances between definition versions, with a dry run and refusals."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.diagram import linear, script_task, timer_event, user_task, write


def deploy(engine, tmp_path, *elements, pid="case"):
    return engine.deploy([write(tmp_path, f"{pid}.bpmn", linear(pid, *elements))])


def test_dry_run_reports_and_changes_nothing_then_migration_moves_instances(engine, tmp_path):
    deploy(engine, tmp_path, user_task("verify", "Verify"), user_task("answer", "Answer"))
    inst = engine.start("case")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    engine.claim(task_id, "budi")
    deploy(engine, tmp_path, user_task("verify", "Verify the report"),
           script_task("stamp", "stamped = True"), user_task("answer", "Answer"))
    report = engine.migrate("case", 2, dry_run=True)
    assert report["refused"] is False and report["migrated"] == 0
    assert report["instances"][0]["instance_id"] == inst.id
    assert report["instances"][0]["from_version"] == 1
    assert engine.instance(inst.id)["definition_version"] == 1

    report = engine.migrate("case", 2, actor="designer")
    assert report["migrated"] == 1
    detail = engine.instance(inst.id)
    assert detail["definition_version"] == 2
    assert detail["tasks"][0]["id"] == task_id  # the same task, still claimed
    assert detail["tasks"][0]["assignee"] == "budi"
    assert detail["events"][-1]["action"] == "migrate"
    engine.complete(task_id, {})
    assert engine.instance(inst.id)["data"]["stamped"] is True  # new step runs


def test_removing_the_element_an_instance_waits_in_is_refused(engine, tmp_path):
    deploy(engine, tmp_path, user_task("verify"), user_task("answer"))
    waiting_in_verify = engine.start("case")
    deploy(engine, tmp_path, user_task("answer"))
    report = engine.migrate("case", 2)
    assert report["refused"] is True and report["migrated"] == 0
    problem = report["instances"][0]["problems"][0]
    assert "verify" in problem and "does not exist in version 2" in problem
    assert engine.instance(waiting_in_verify.id)["definition_version"] == 1


def test_a_waiting_timer_keeps_its_due_time_across_migration(engine, clock, tmp_path):
    deploy(engine, tmp_path, timer_event("cool_off", "timeDuration", '"P2D"'), user_task("next"))
    inst = engine.start("case")
    due = engine.instance(inst.id)["timers"][0]["due_at"]
    clock.advance(days=1)
    deploy(engine, tmp_path, timer_event("cool_off", "timeDuration", '"P2D"'),
           user_task("next", "Next step"))
    assert engine.migrate("case", 2)["migrated"] == 1
    after = engine.instance(inst.id)["timers"][0]["due_at"]
    assert datetime.fromisoformat(after) == datetime.fromisoformat(due)


def test_migrating_to_an_unknown_version_is_not_found(engine, tmp_path):
    from engine import NotFound

    deploy(engine, tmp_path, user_task("verify"))
    with pytest.raises(NotFound):
        engine.migrate("case", 7)
