"""Escape attempts through the places a diagram runs code: script tasks, conditions, timers."""

from __future__ import annotations

import pytest

from engine import ValidationFailed
from tests.diagram import document, flow, linear, script_task, timer_event, user_task, write

# Refused when the diagram is deployed: they do not even compile in the sandbox.
ESCAPES = [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('touch /tmp/aduan-pwned')",
    "[c for c in ().__class__.__bases__[0].__subclasses__()]",
    "(lambda: 1).__globals__",
    "type(1).__mro__",
    "eval('1')",
]
# Compile, but fail when run: an incident on the element, nothing reached.
RUNTIME_ESCAPES = [
    "open('/etc/passwd').read()",
    "'{0.__class__}'.format(1)",
    "getattr(1, '__class__')",
    "type(1)",
    "vars()",
]


def gateway(condition: str) -> str:
    return document(
        "cond", '<bpmn:startEvent id="start"/>',
        '<bpmn:exclusiveGateway id="gw" default="flow_other"/>', user_task("yes"),
        user_task("other"), '<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end2"/>',
        flow("start", "gw"), flow("gw", "yes", condition), flow("gw", "other",
                                                              flow_id="flow_other"),
        flow("yes", "end"), flow("other", "end2"))


@pytest.mark.parametrize("code", ESCAPES)
def test_an_escape_in_a_script_task_is_refused_at_deploy(engine, tmp_path, code):
    with pytest.raises(ValidationFailed) as caught:
        engine.deploy([write(tmp_path, "s.bpmn", linear("s", script_task("evil", f"x = {code}")))])
    assert caught.value.findings[0].element_id == "evil"


@pytest.mark.parametrize("code", ESCAPES)
def test_an_escape_in_a_condition_is_refused_at_deploy(engine, tmp_path, code):
    with pytest.raises(ValidationFailed) as caught:
        engine.deploy([write(tmp_path, "c.bpmn", gateway(code))])
    assert caught.value.findings[0].element_id in ("gw", "flow_gw_yes")


@pytest.mark.parametrize("code", ESCAPES)
def test_an_escape_in_a_timer_expression_is_refused_at_deploy(engine, tmp_path, code):
    with pytest.raises(ValidationFailed) as caught:
        engine.deploy([write(tmp_path, "t.bpmn", linear(
            "t", timer_event("wait", "timeDuration", code)))])
    assert caught.value.findings[0].element_id == "wait"


@pytest.mark.parametrize("code", RUNTIME_ESCAPES)
def test_an_escape_that_compiles_fails_when_run_in_each_place(engine, tmp_path, code):
    units = {
        "script": linear("s", script_task("evil", f"x = {code}")),
        "condition": gateway(f"bool({code})"),
        "timer": linear("t", timer_event("wait", "timeDuration", f"str({code})")),
    }
    for where, xml in units.items():
        deployed = engine.deploy([write(tmp_path / where, f"{where}.bpmn", xml)])
        detail = engine.instance(engine.start(deployed.process_id).id)
        assert detail["status"] == "error", (where, detail)
        assert detail["incident"]["element_id"] in ("evil", "gw", "wait"), where
    assert not __import__("os").path.exists("/tmp/aduan-pwned")


def test_a_runaway_script_becomes_an_incident_and_others_carry_on(make_engine, tmp_path):
    engine = make_engine(script_time_limit_seconds=0.2)
    engine.deploy([write(tmp_path, "loop.bpmn", linear(
        "loop", script_task("spin", "n = 0\nwhile True:\n    n = n + 1"), user_task("never")))])
    engine.deploy([write(tmp_path, "ok.bpmn", linear("ok", user_task("fine")))])
    stuck = engine.start("loop")
    fine = engine.start("ok")
    incident = engine.instance(stuck.id)["incident"]
    assert incident["element_id"] == "spin" and "time" in incident["message"].lower()
    assert engine.instance(fine.id)["status"] == "running"


@pytest.mark.parametrize("where, xml", [
    ("script", linear("huge", script_task("boom", "x = [0] * size"))),
    ("condition", gateway("len('a' * size) > 1")),
    ("timer", linear("huge", timer_event("wait", "timeDuration", '"PT" + str(10 ** size) + "S"'))),
])
def test_a_runtime_blow_up_is_an_incident_not_an_outage(engine, tmp_path, where, xml):
    deployed = engine.deploy([write(tmp_path, f"{where}.bpmn", xml)])
    inst = engine.start(deployed.process_id, {"size": 10 ** 9})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["message"]
    assert not __import__("os").path.exists("/tmp/aduan-pwned")
