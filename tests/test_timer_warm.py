"""A fired workflow (kept warm for no later operation: tests/test_timers.py) has its reference
cycles broken once it is saved (engine/tasktree.dismantle), so reference counting frees it
without a garbage collection (BENCHMARKS.md, issue 17, tenth round)."""

from __future__ import annotations

import gc

from SpiffWorkflow.bpmn import BpmnWorkflow

from tests.diagram import linear, timer_event, user_task, write


def test_a_fired_workflow_is_freed_without_the_garbage_collector(engine, clock, tmp_path):
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"'), user_task("first")))])
    started = [engine.start("wait").id for _ in range(3)]
    # one rebuilt from its saved state, two taken warm
    assert engine.timer_sweep.transaction.warm.entries.pop(started[0]) is not None
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
