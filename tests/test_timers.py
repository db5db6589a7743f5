"""Timers: the projection, the sweep, the injected clock, and every timer shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import FrozenClock
from tests.conftest import START
from tests.diagram import chain, document, flow, linear, script_task, timer_event, user_task, write


def deploy(engine, tmp_path, name, xml):
    engine.deploy([write(tmp_path, f"{name}.bpmn", xml)])


def watched_answer(pid: str, timer: str, cycle: str, script: str) -> str:
    """A user task `answer` with a non-interrupting boundary cycle that runs `script`."""
    return document(
        pid,
        '<bpmn:startEvent id="start"/>', user_task("answer", "Answer"),
        timer_event(timer, "timeCycle", cycle, attached_to="answer", interrupting=False),
        script_task("count", script),
        '<bpmn:endEvent id="end"/>', f'<bpmn:endEvent id="end_{timer}"/>',
        chain("start", "answer", "end"), chain(timer, "count", f"end_{timer}"))


# Twice, an hour apart, counting.
REMINDERS = watched_answer("reminders", "remind", '"R2/PT1H"', "reminders = reminders + 1")


def test_intermediate_duration_timer_waits_until_the_clock_passes_it(engine, clock, tmp_path):
    deploy(engine, tmp_path, "wait", linear(
        "wait", timer_event("pause", "timeDuration", '"PT2H"'), script_task("after", "x = 1")))
    inst = engine.start("wait")
    timers = engine.instance(inst.id)["timers"]
    assert [(t["element_id"], t["kind"]) for t in timers] == [("pause", "duration")]
    assert datetime.fromisoformat(timers[0]["due_at"]) == START + timedelta(hours=2)
    assert engine.fire_due_timers().fired == []
    clock.advance(hours=1, minutes=59)
    assert engine.fire_due_timers().fired == []
    clock.advance(minutes=1)
    report = engine.fire_due_timers()
    assert [f["element_id"] for f in report.fired] == ["pause"]
    detail = engine.instance(inst.id)
    assert detail["status"] == "completed" and detail["timers"] == []
    assert detail["events"][-1]["action"] == "timer_fired"


def test_date_timer_reads_an_absolute_deadline_from_data(engine, clock, tmp_path):
    deploy(engine, tmp_path, "deadline", linear(
        "deadline", timer_event("due", "timeDate", "deadline")))
    inst = engine.start("deadline", {"deadline": "2026-03-05T17:00:00+08:00"})
    due = engine.instance(inst.id)["timers"][0]["due_at"]
    assert datetime.fromisoformat(due) == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert engine.fire_due_timers(now=datetime(2026, 3, 5, 8, 59, tzinfo=UTC)).fired == []
    fired = engine.fire_due_timers(now=datetime(2026, 3, 5, 9, 0, tzinfo=UTC)).fired
    assert len(fired) == 1
    assert engine.instance(inst.id)["status"] == "completed"


def test_a_naive_deadline_is_an_incident_that_names_the_timer(engine, tmp_path):
    deploy(engine, tmp_path, "naive", linear("naive", timer_event("due", "timeDate", "deadline")))
    inst = engine.start("naive", {"deadline": "2026-03-05T17:00:00"})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "due"
    assert "offset" in detail["incident"]["message"]


def test_interrupting_boundary_timer_cancels_its_task(engine, clock, tmp_path):
    xml = document(
        "boundary",
        '<bpmn:startEvent id="start"/>', user_task("verify", "Verify"),
        timer_event("late", "timeDuration", '"P3D"', attached_to="verify"),
        user_task("escalated", "Escalated"), '<bpmn:endEvent id="end"/>',
        '<bpmn:endEvent id="end_late"/>',
        chain("start", "verify", "end"), chain("late", "escalated", "end_late"))
    deploy(engine, tmp_path, "boundary", xml)
    inst = engine.start("boundary")
    assert [t["element_id"] for t in engine.tasks(instance_id=inst.id)] == ["verify"]
    clock.advance(days=3)
    assert len(engine.fire_due_timers().fired) == 1
    assert [t["element_id"] for t in engine.tasks(instance_id=inst.id)] == ["escalated"]
    assert engine.instance(inst.id)["timers"] == []


def test_non_interrupting_boundary_cycle_keeps_the_task_and_repeats(engine, clock, tmp_path):
    deploy(engine, tmp_path, "reminders", REMINDERS)
    inst = engine.start("reminders", {"reminders": 0})
    timer = engine.instance(inst.id)["timers"][0]
    assert timer["kind"] == "cycle"
    assert datetime.fromisoformat(timer["due_at"]) == START + timedelta(hours=1)
    clock.advance(hours=1)
    assert len(engine.fire_due_timers().fired) == 1
    detail = engine.instance(inst.id)
    assert [t["element_id"] for t in detail["tasks"]] == ["answer"]
    assert datetime.fromisoformat(detail["timers"][0]["due_at"]) == START + timedelta(hours=2)
    clock.advance(hours=1)
    engine.fire_due_timers()
    detail = engine.instance(inst.id)
    assert detail["timers"] == []  # two cycles only
    task = detail["tasks"][0]
    engine.complete(task["id"], {})
    assert engine.instance(inst.id)["status"] == "completed"


def test_the_sweep_respects_its_limit_and_reports_what_fired(engine, clock, tmp_path):
    deploy(engine, tmp_path, "wait", linear("wait", timer_event("pause", "timeDuration", '"PT1M"')))
    ids = [engine.start("wait").id for _ in range(5)]
    clock.advance(minutes=1)
    first = engine.fire_due_timers(limit=3)
    second = engine.fire_due_timers(limit=3)
    assert len(first.fired) == 3 and len(second.fired) == 2
    assert {f["instance_id"] for f in first.fired + second.fired} == set(ids)
    assert engine.fire_due_timers().fired == []


def test_each_engine_has_its_own_clock(make_engine, tmp_path):
    early = make_engine(clock=FrozenClock(START))
    late = make_engine(clock=FrozenClock(START + timedelta(days=10)))
    deploy(early, tmp_path, "wait", linear("wait", timer_event("pause", "timeDuration", '"P1D"')))
    inst = early.start("wait")
    assert early.fire_due_timers().fired == []
    assert len(late.fire_due_timers().fired) == 1  # the other engine's clock says it is due
    assert early.instance(inst.id)["status"] == "completed"


def test_a_timer_set_by_one_clock_is_due_by_the_same_clock(engine, clock, tmp_path):
    deploy(engine, tmp_path, "chain2", linear(
        "chain2", timer_event("one", "timeDuration", '"PT1H"'),
        timer_event("two", "timeDuration", '"PT1H"')))
    inst = engine.start("chain2")
    clock.advance(hours=1)
    engine.fire_due_timers()
    # the second timer counts from the moment the first one fired, by the same clock
    due = engine.instance(inst.id)["timers"][0]["due_at"]
    assert datetime.fromisoformat(due) == START + timedelta(hours=2)


def test_an_expired_claim_is_picked_up_again(make_engine, clock, tmp_path):
    crashed = make_engine(timer_lease_seconds=30)
    survivor = make_engine(timer_lease_seconds=30)
    xml = linear("wait", timer_event("pause", "timeDuration", '"PT1M"'))
    deploy(crashed, tmp_path, "wait", xml)
    crashed.start("wait")
    clock.advance(minutes=1)
    assert len(crashed.timer_sweep.claim(clock.now(), 10)) == 1  # claimed, then the worker dies
    assert survivor.fire_due_timers().fired == []  # the lease still holds
    clock.advance(seconds=31)
    assert len(survivor.fire_due_timers().fired) == 1


@pytest.mark.parametrize("expression, message", [
    ('"PT2X"', "duration"),
    ("PT2H", "quote it"),
    ('"2026-13-01T00:00:00+08:00"', "not an ISO 8601"),
    ('"2026-03-01T00:00:00"', "no UTC offset"),
])
def test_bad_timer_expressions_are_refused_at_deploy(engine, tmp_path, expression, message):
    from engine import ValidationFailed

    kind = "timeDate" if expression.startswith('"2026') else "timeDuration"
    xml = linear("bad", timer_event("pause", kind, expression))
    with pytest.raises(ValidationFailed) as caught:
        deploy(engine, tmp_path, "bad", xml)
    finding = caught.value.findings[0]
    assert finding.element_id == "pause" and finding.file == "bad.bpmn"
    assert message in finding.message


def test_flows_after_a_timer_keep_their_data(engine, clock, tmp_path):
    xml = document(
        "branch", '<bpmn:startEvent id="start"/>', timer_event("pause", "timeDuration", '"PT5M"'),
        '<bpmn:exclusiveGateway id="gw" default="flow_default"/>',
        user_task("urgent"), user_task("normal"), '<bpmn:endEvent id="end"/>',
        '<bpmn:endEvent id="end2"/>', chain("start", "pause", "gw"),
        flow("gw", "urgent", 'severity == "high"'), flow("gw", "normal", flow_id="flow_default"),
        flow("urgent", "end"), flow("normal", "end2"))
    deploy(engine, tmp_path, "branch", xml)
    high = engine.start("branch", {"severity": "high"})
    low = engine.start("branch", {"severity": "low"})
    clock.advance(minutes=5)
    engine.fire_due_timers()
    assert engine.tasks(instance_id=high.id)[0]["element_id"] == "urgent"
    assert engine.tasks(instance_id=low.id)[0]["element_id"] == "normal"


def test_a_cycle_that_missed_periods_fires_once_and_keeps_its_time_of_day(engine, clock,
                                                                          tmp_path):
    deploy(engine, tmp_path, "late_watch", watched_answer("late_watch", "watch", "cycle", "pass"))
    five_days_ago = (START - timedelta(days=5, hours=1)).isoformat()
    inst = engine.start("late_watch", {"cycle": f"R/{five_days_ago}/P1D"})
    steps = engine.instance(inst.id)["events"][-1]["detail"]["steps"]
    assert steps.count("count") == 1  # caught up at once: one run, not one per missed day
    assert engine.fire_due_timers().fired == []
    due = datetime.fromisoformat(engine.instance(inst.id)["timers"][0]["due_at"])
    assert due == START + timedelta(hours=23)  # the next period after now, same time of day


def test_retime_moves_a_boundary_timer_and_the_variable_it_reads(engine, clock, tmp_path):
    """Engine.retime (the host moved a deadline): the hook writes in the instance's
    transaction, the named waiting timer evaluates its expression on the new data, a timer
    not named keeps its time, and the event is in the audit trail."""
    xml = document(
        "retimed",
        '<bpmn:startEvent id="start"/>', user_task("answer", "Answer"),
        timer_event("due", "timeDate", 'deadline["at"]', attached_to="answer"),
        timer_event("nag", "timeDuration", '"P1D"', attached_to="answer", interrupting=False),
        '<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end_late"/>',
        '<bpmn:endEvent id="end_nag"/>',
        chain("start", "answer", "end"), chain("due", "end_late"), chain("nag", "end_nag"))
    deploy(engine, tmp_path, "retimed", xml)
    inst = engine.start("retimed", {"deadline": {"at": "2026-03-05T09:00:00+00:00"}})
    seen = []

    def hook(operation):
        seen.append((operation.instance_id, operation.action))
        return {"data": {"deadline": {"at": "2026-03-06T09:00:00+00:00"}, "unknown": 1},
                "timers": ["due"]}

    before = {t["element_id"]: t["due_at"] for t in engine.instance(inst.id)["timers"]}
    engine.retime(inst.id, hook, actor="admin", detail={"reason": "calendar"})
    detail = engine.instance(inst.id)
    after = {t["element_id"]: t["due_at"] for t in detail["timers"]}
    assert seen == [(inst.id, "retime")]
    assert datetime.fromisoformat(after["due"]) == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert after["nag"] == before["nag"]  # not named: its time is kept
    assert detail["events"][-1]["action"] == "retime"
    assert engine.fire_due_timers(now=datetime(2026, 3, 5, 9, 0, tzinfo=UTC)).fired[0][
        "element_id"] == "nag"  # only the day's nag: the deadline moved
    assert [t["element_id"] for t in engine.tasks(instance_id=inst.id)] == ["answer"]
    fired = engine.fire_due_timers(now=datetime(2026, 3, 6, 9, 0, tzinfo=UTC)).fired
    assert "due" in [f["element_id"] for f in fired]
    assert engine.instance(inst.id)["status"] == "completed"


def test_a_timer_firing_keeps_no_warm_workflow_and_a_person_s_action_still_does(
        engine, clock, tmp_path):
    deploy(engine, tmp_path, "reminders", REMINDERS)
    warm = engine.timer_sweep.transaction.warm  # the process's warm workflows
    inst = engine.start("reminders", {"reminders": 0})
    assert inst.id in warm.entries  # the start's save is kept for the next operation
    clock.advance(hours=1)
    assert len(engine.fire_due_timers().fired) == 1  # took the start's workflow ...
    assert inst.id not in warm.entries  # ... and, a firing, kept none of its own
    assert engine.instance(inst.id)["data"]["reminders"] == 1
    engine.complete(engine.instance(inst.id)["tasks"][0]["id"], {})
    assert engine.instance(inst.id)["status"] == "completed"
