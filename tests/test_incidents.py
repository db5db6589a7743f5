"""Failing tasks become incidents on their own instance; others carry on; retry resumes."""

from __future__ import annotations

import pytest

from engine import Conflict
from tests.diagram import linear, script_task, service_task, user_task, write


def test_a_script_error_records_element_message_and_line(engine, tmp_path):
    engine.deploy([write(tmp_path, "calc.bpmn", linear(
        "calc", script_task("divide", "a = 1\nb = total / count\nc = 2"), user_task("after")))])
    broken = engine.start("calc", {"total": 10, "count": 0})
    healthy = engine.start("calc", {"total": 10, "count": 2})
    detail = engine.instance(broken.id)
    assert detail["status"] == "error"
    incident = detail["incident"]
    assert incident["element_id"] == "divide"
    assert incident["line"] == 2
    assert "ZeroDivisionError" in incident["message"] or "division" in incident["message"]
    assert detail["tasks"] == []
    assert engine.instance(healthy.id)["status"] == "running"
    assert [i["instance_id"] for i in engine.incidents()] == [broken.id]


def test_a_failing_service_is_an_incident_with_its_own_message_and_retry_resumes(
        make_engine, tmp_path):
    calls = {"n": 0}

    def lookup(code: str) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SIMPEG is unreachable")
        return {"agency": "dinas_pupr", "code": code}

    engine = make_engine(services={"lookup_agency": lookup})
    engine.deploy([write(tmp_path, "svc.bpmn", linear(
        "svc", service_task("find_agency", "lookup_agency", {"code": "category"}, "agency"),
        user_task("handle")))])
    inst = engine.start("svc", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "find_agency"
    assert "SIMPEG is unreachable" in detail["incident"]["message"]
    summary = engine.retry(inst.id, actor="operator")
    assert summary.status == "running"
    detail = engine.instance(inst.id)
    assert detail["data"]["agency"] == {"agency": "dinas_pupr", "code": "roads"}
    assert [t["element_id"] for t in detail["tasks"]] == ["handle"]
    assert detail["incident"] is None
    assert engine.incidents() == []
    assert len(engine.incidents(open_only=False)) == 1
    assert [e["action"] for e in detail["events"]] == ["start", "retry"]


def test_an_unregistered_service_is_named_in_the_incident(engine, tmp_path):
    engine.deploy([write(tmp_path, "svc.bpmn", linear(
        "svc", service_task("find_agency", "no_such_service", {}, "x")))])
    inst = engine.start("svc")
    assert "no_such_service" in engine.instance(inst.id)["incident"]["message"]


def test_retry_is_refused_for_a_healthy_instance(engine, tmp_path):
    engine.deploy([write(tmp_path, "ok.bpmn", linear("ok", user_task("t")))])
    inst = engine.start("ok")
    with pytest.raises(Conflict, match="not in error"):
        engine.retry(inst.id)


def test_a_post_script_failure_reopens_the_task_on_retry_and_keeps_the_audit(engine, tmp_path):
    engine.deploy([write(tmp_path, "post.bpmn", linear(
        "post", user_task("rate", post="stars = int(rating)"), user_task("thanks")))])
    inst = engine.start("post")
    task = engine.tasks(instance_id=inst.id)[0]
    engine.complete(task["id"], {"rating": "lima"}, actor="warga")
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "rate"
    assert detail["tasks"] == []  # nothing can be completed while the instance is in error
    assert detail["events"][-1]["detail"]["data"] == {"rating": "lima"}  # what was submitted
    engine.retry(inst.id)
    again = engine.tasks(instance_id=inst.id)
    assert [t["element_id"] for t in again] == ["rate"]
    engine.complete(again[0]["id"], {"rating": "5"})
    detail = engine.instance(inst.id)
    assert detail["data"]["stars"] == 5
    assert [t["element_id"] for t in detail["tasks"]] == ["thanks"]
