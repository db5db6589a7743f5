"""Messages and signals delivered to waiting instances, by instance id or correlation key."""

from __future__ import annotations

import pytest

from engine import InvalidInput, NotFound
from tests.diagram import linear, message_catch, signal_catch, user_task, write


@pytest.fixture
def waiting(engine, tmp_path):
    engine.deploy([write(tmp_path, "reply.bpmn", linear(
        "reply", message_catch("wait_reply", "agency_reply"), user_task("read_reply"),
        messages=("agency_reply",)))])
    engine.deploy([write(tmp_path, "broadcast.bpmn", linear(
        "broadcast", signal_catch("wait_holiday", "holiday_declared"), user_task("replan"),
        signals=("holiday_declared",)))])
    return engine


def test_a_message_by_instance_id_resumes_that_instance_with_its_data(waiting):
    engine = waiting
    one = engine.start("reply")
    two = engine.start("reply")
    assert engine.instance(one.id)["waiting_for"] == [
        {"kind": "message", "name": "agency_reply", "element_id": "wait_reply"}]
    assert engine.send_message("agency_reply", {"answer": "sudah diperbaiki"},
                               instance_id=one.id) == [one.id]
    detail = engine.instance(one.id)
    assert detail["data"]["answer"] == "sudah diperbaiki"
    assert [t["element_id"] for t in detail["tasks"]] == ["read_reply"]
    assert detail["waiting_for"] == []
    assert detail["events"][-1]["action"] == "message_received"
    assert engine.instance(two.id)["tasks"] == []


def test_a_message_by_correlation_key_finds_the_instance_with_that_business_key(waiting):
    engine = waiting
    engine.start("reply", business_key="PPU-2026-000001")
    target = engine.start("reply", business_key="PPU-2026-000002")
    assert engine.send_message("agency_reply", {}, correlation_key="PPU-2026-000002") == [
        target.id]


def test_a_message_nobody_waits_for_is_refused_clearly(waiting):
    engine = waiting
    inst = engine.start("reply")
    with pytest.raises(NotFound, match="waiting for message 'other'"):
        engine.send_message("other", {}, instance_id=inst.id)
    with pytest.raises(InvalidInput, match="which instance"):
        engine.send_message("agency_reply", {})
    engine.send_message("agency_reply", {}, instance_id=inst.id)
    with pytest.raises(NotFound):
        engine.send_message("agency_reply", {}, instance_id=inst.id)  # already delivered


def test_a_signal_reaches_every_waiting_instance_once(waiting):
    engine = waiting
    ids = [engine.start("broadcast").id for _ in range(3)]
    other = engine.start("reply")
    assert sorted(engine.send_signal("holiday_declared", {"date": "2026-03-20"})) == ids
    for instance_id in ids:
        detail = engine.instance(instance_id)
        assert [t["element_id"] for t in detail["tasks"]] == ["replan"]
        assert detail["data"]["date"] == "2026-03-20"
    assert engine.send_signal("holiday_declared") == []
    assert engine.instance(other.id)["waiting_for"][0]["name"] == "agency_reply"


def test_a_signal_to_one_instance_leaves_the_others_waiting(waiting):
    engine = waiting
    first, second = engine.start("broadcast"), engine.start("broadcast")
    assert engine.send_signal("holiday_declared", instance_id=second.id) == [second.id]
    assert engine.instance(first.id)["waiting_for"][0]["name"] == "holiday_declared"
