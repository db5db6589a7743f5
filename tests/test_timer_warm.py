"""A timer firing keeps no warm workflow (engine/saving.py WarmWorkflows): the next operation
on a fired instance is rarely soon, and a kept workflow would push the web's out of the map
and, once pushed out, leave its tasks to the oldest garbage collection (BENCHMARKS.md,
issue 17, tenth round). An operation of a user keeps its workflow warm as before. The fired
workflow's reference cycles are broken once it is saved (engine/tasktree.dismantle), so
reference counting frees it without a garbage collection."""

from __future__ import annotations

import gc

from SpiffWorkflow.bpmn import BpmnWorkflow

from engine import Engine
from tests.diagram import linear, timer_event, user_task, write


def _warm_instances(engine: Engine) -> set[int]:
    return {key[0] for key in engine.timer_sweep.transaction.warm.entries._entries}


def test_a_timer_firing_keeps_no_warm_workflow_and_a_completion_does(engine, clock,
                                                                       tmp_path):
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"'), user_task("first"),
        user_task("second")))])
    instance_id = engine.start("wait").id
    assert instance_id in _warm_instances(engine)  # the start keeps it
    clock.advance(minutes=1)
    report = engine.fire_due_timers()
    assert [f["instance_id"] for f in report.fired] == [instance_id]
    assert instance_id not in _warm_instances(engine)
    [task] = [t for t in engine.instance(instance_id)["tasks"] if t["element_id"] == "first"]
    engine.complete(task["id"])
    assert instance_id in _warm_instances(engine)


def test_a_fired_workflow_is_freed_without_the_garbage_collector(engine, clock, tmp_path):
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"'), user_task("first")))])
    started = [engine.start("wait").id for _ in range(3)]
    engine.timer_sweep.transaction.warm.entries.pop(
        next(k for k in engine.timer_sweep.transaction.warm.entries._entries
             if k[0] == started[0]))  # one rebuilt from its saved state, two taken warm
    clock.advance(minutes=1)
    gc.collect()
    gc.disable()
    try:
        report = engine.fire_due_timers()
        alive = sum(1 for o in gc.get_objects() if isinstance(o, BpmnWorkflow))
    finally:
        gc.enable()
    assert sorted(f["instance_id"] for f in report.fired) == started
    assert alive == 0
    assert all(engine.instance(i)["status"] == "running" for i in started)
