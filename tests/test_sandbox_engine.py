"""Escape attempts through the places a diagram runs code: script tasks, conditions, timers."""

from __future__ import annotations

import itertools
import threading
import time

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


# ----------------------------------------------------------------- hard limits of the workers

TOWER = "t = 0\nfor i in range(64):\n    t = (t, t)\nn = len({t})"
FOREVER_IN_C = "sum(map(sum, [range(10**6)] * 999999))"
COLLIDING = "len(set(range(0, 10**5 * (2**61 - 1), 2**61 - 1)))"
SMALL_LIMITS = {"sandbox_wall_seconds": 2.0, "sandbox_cpu_seconds": 1.0,
                "sandbox_memory_mb": 256}


class Reader:
    """Another thread reading through the same engine while diagram code runs."""

    def __init__(self, engine) -> None:
        self.engine, self.times, self.stopped = engine, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.engine.instances(limit=5)
            self.times.append(time.monotonic())
            if self.stopped.wait(0.01):  # read again every 10 ms until told to stop
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def longest_gap(self) -> float:
        return max(b - a for a, b in itertools.pairwise(self.times))


@pytest.mark.parametrize(("where", "xml", "element"), [
    ("script", linear("tower", script_task("evil", TOWER), user_task("never")), {"evil"}),
    ("condition", gateway(f"{FOREVER_IN_C} > 0"), {"gw", "flow_gw_yes"}),
    ("timer", linear("late", timer_event(
        "wait", "timeDuration",
        '"PT" + str(len(set(range(0, size * (2**61 - 1), 2**61 - 1)))) + "S"')), {"wait"}),
])
def test_code_that_would_freeze_the_process_becomes_an_incident_naming_the_limit(
        make_engine, tmp_path, where, xml, element):
    engine = make_engine(**SMALL_LIMITS)
    deployed = engine.deploy([write(tmp_path, f"{where}.bpmn", xml)])
    started = time.monotonic()
    with Reader(engine) as reader:
        inst = engine.start(deployed.process_id, {"size": 10**5})
    assert time.monotonic() - started < 10  # the wall limit is 2 s
    assert reader.longest_gap() < 0.5  # the engine's other threads kept going
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] in element
    assert "limit: " in detail["incident"]["message"]
    assert "ADUAN_SANDBOX_" in detail["incident"]["message"]
    fine = engine.deploy([write(tmp_path / "ok", "ok.bpmn", linear("ok", script_task(
        "count", "n = sum([1, 2])"), user_task("fine")))])
    assert engine.instance(engine.start(fine.process_id).id)["data"]["n"] == 3


@pytest.mark.parametrize("expression", [COLLIDING, f"str({FOREVER_IN_C})"])
def test_a_timer_expression_that_would_freeze_validate_and_deploy_is_a_finding(
        make_engine, tmp_path, expression):
    engine = make_engine(**SMALL_LIMITS)
    path = write(tmp_path, "t.bpmn", linear("t", timer_event("wait", "timeDuration",
                                                             expression)))
    started = time.monotonic()
    findings = engine.validate([path])
    with pytest.raises(ValidationFailed) as caught:
        engine.deploy([path])
    assert time.monotonic() - started < 15  # two evaluations, each stopped at 2 s
    for found in (findings, caught.value.findings):
        errors = [f for f in found if f.severity == "error"]  # lint warnings aside
        assert [f.element_id for f in errors] == ["wait"]
        assert "limit: " in errors[0].message
