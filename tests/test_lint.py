"""bpmnlint's recommended rules in Python (engine/definitions/lint.py): one small diagram per
rule that trips it, one that trips none, the shipped lifecycle clean, the findings through
validate and deploy (warnings never block), and the MIWG corpus linted without a crash."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from engine.definitions import SourceFile, parse_unit
from engine.definitions.files import read_xml
from engine.definitions.lint import BY_NAME, RULES, Model, lint_bpmn
from engine.sandbox import Sandbox
from tests.miwg import SUITE

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
      'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
      'xmlns:di="http://www.omg.org/spec/DD/20100524/DI"')


def doc(body: str, *, roots: str = "", layout: str = "") -> str:
    """A definitions element with one executable process `p` holding `body`."""
    return (f'<definitions {NS} id="defs" targetNamespace="http://aduan.test">{roots}'
            f'<process id="p" name="Test" isExecutable="true">{body}</process>{layout}'
            "</definitions>")


def diagram(**boxes: tuple[int, int, int, int] | None) -> str:
    """BPMNDI: a shape per element with (x, y, width, height), an edge per element with None."""
    parts = []
    for element, box in boxes.items():
        if box is None:
            parts.append(f'<bpmndi:BPMNEdge id="{element}_di" bpmnElement="{element}">'
                         '<di:waypoint x="0" y="0"/><di:waypoint x="1" y="1"/>'
                         "</bpmndi:BPMNEdge>")
        else:
            x, y, w, h = box
            parts.append(f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
                         f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/>'
                         "</bpmndi:BPMNShape>")
    return ('<bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="p">'
            + "".join(parts) + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")


def flow(flow_id: str, source: str, target: str, condition: str | None = None,
         name: str | None = None) -> str:
    label = f' name="{name}"' if name else ""
    inner = f"<conditionExpression>{condition}</conditionExpression>" if condition else ""
    return (f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"{label}>'
            f"{inner}</sequenceFlow>")


def chain(*ids: str) -> str:
    return "".join(flow(f"f_{a}_{b}", a, b) for a, b in itertools.pairwise(ids))


def start(event_id: str = "start") -> str:
    return f'<startEvent id="{event_id}" name="Start"/>'


def end(event_id: str = "end") -> str:
    return f'<endEvent id="{event_id}" name="End"/>'


START, END = start(), end()


def task(task_id: str, name: str | None = "Work") -> str:
    return f'<task id="{task_id}"' + (f' name="{name}"' if name else "") + "/>"


def found(rule: str, xml: str) -> list[tuple[str | None, str]]:
    return [(f.element_id, f.message)
            for f in lint_bpmn(etree.fromstring(xml.encode()), "t.bpmn", [BY_NAME[rule]])]


# The clean diagram: a decision that forks and joins again, everything labelled and drawn.
CLEAN_BODY = (
    START + '<userTask id="check" name="Check the report"/>'
    + '<exclusiveGateway id="complete" name="Complete?" default="f_no"/>'
    + '<userTask id="ask" name="Ask the citizen"/>'
    + '<exclusiveGateway id="join"/>' + END
    + chain("start", "check", "complete")
    + flow("f_yes", "complete", "join", 'decision == "yes"', name="yes")
    + flow("f_no", "complete", "ask") + chain("ask", "join", "end"))
CLEAN = doc(CLEAN_BODY, layout=diagram(
    start=(0, 0, 36, 36), check=(80, 0, 100, 80), complete=(220, 0, 50, 50),
    ask=(300, 120, 100, 80), join=(440, 0, 50, 50), end=(520, 0, 36, 36),
    f_start_check=None, f_check_complete=None, f_yes=None, f_no=None, f_ask_join=None,
    f_join_end=None))

# (rule, diagram, the elements it must name: exactly these)
CASES = [
    ("ad-hoc-sub-process", doc(
        START + '<adHocSubProcess id="adhoc" name="Meanwhile">' + '<startEvent id="inner"/>'
        + task("a") + '<intermediateCatchEvent id="wait" name="Wait"><timerEventDefinition/>'
        "</intermediateCatchEvent></adHocSubProcess>" + END + chain("start", "adhoc", "end")),
     {"inner", "wait"}),
    ("conditional-flows", doc(
        START + '<exclusiveGateway id="which" name="Which?"/>' + task("a") + task("b")
        + END + end("end2") + chain("start", "which")
        + flow("f_a", "which", "a", "x > 1", name="big") + flow("f_b", "which", "b")
        + chain("a", "end") + chain("b", "end2")), {"f_b"}),
    ("end-event-required", doc(START + task("a") + chain("start", "a")), {"p"}),
    ("event-based-gateway", doc(
        START + '<eventBasedGateway id="race"/>' + '<intermediateCatchEvent id="late" '
        'name="Late"><timerEventDefinition/></intermediateCatchEvent>' + END
        + chain("start", "race") + flow("f_late", "race", "late", "x") + chain("late", "end")),
     {"race", "f_late"}),
    ("event-sub-process-typed-start-event", doc(
        START + task("a") + END + chain("start", "a", "end")
        + '<subProcess id="on_the_side" triggeredByEvent="true" name="On the side">'
        '<startEvent id="blank_start" name="Begin"/><endEvent id="side_end" name="Done"/>'
        + chain("blank_start", "side_end") + "</subProcess>"), {"blank_start"}),
    ("fake-join", doc(
        START + '<parallelGateway id="fork"/>' + task("a") + task("b") + task("after") + END
        + chain("start", "fork") + chain("fork", "a") + chain("fork", "b")
        + chain("a", "after") + chain("b", "after") + chain("after", "end")), {"after"}),
    ("global", doc(START + END + chain("start", "end"), roots=(
        '<message id="nameless"/><signal id="s1" name="Alarm"/><signal id="s2" name="Alarm"/>')),
     {"nameless", "s1", "s2"}),
    ("label-required", doc(
        '<startEvent id="start"/>' + '<exclusiveGateway id="fork" default="f_b"/>'
        + task("a") + task("b") + '<exclusiveGateway id="join"/>' + END
        + chain("start", "fork") + flow("f_a", "fork", "a", "x") + flow("f_b", "fork", "b")
        + chain("a", "join") + chain("b", "join") + chain("join", "end")),
     {"start", "fork", "f_a"}),  # not the joining gateway, not the unconditional default
    ("link-event", doc(
        START + '<intermediateThrowEvent id="jump" name="Jump"><linkEventDefinition '
        'name="there"/></intermediateThrowEvent>' + '<intermediateThrowEvent id="nameless" '
        'name="Go"><linkEventDefinition/></intermediateThrowEvent>' + END
        + chain("start", "jump")), {"jump", "nameless"}),
    ("no-bpmndi", doc(START + task("a") + END + chain("start", "a", "end"), layout=diagram(
        start=(0, 0, 36, 36), end=(300, 0, 36, 36), f_start_a=None, f_a_end=None)), {"a"}),
    ("no-complex-gateway", doc(
        START + '<complexGateway id="odd" name="Odd"/>' + END + chain("start", "odd", "end")),
     {"odd"}),
    ("no-disconnected", doc(START + task("lonely") + END + chain("start", "end")),
     {"lonely"}),
    ("no-duplicate-sequence-flows", doc(
        START + task("a") + END + chain("start", "a", "end") + flow("again", "start", "a")),
     {"again", "start", "a"}),
    ("no-gateway-join-fork", doc(
        START + task("a") + '<exclusiveGateway id="both" name="Both?"/>' + task("b") + END
        + chain("start", "both") + chain("a", "both") + flow("f1", "both", "b", "x", "yes")
        + flow("f2", "both", "end", "not x", "no")), {"both"}),
    ("no-implicit-split", doc(
        START + task("a") + task("b") + END + chain("start", "a") + chain("start", "b")
        + chain("a", "end") + chain("b", "end")), {"start"}),
    ("no-implicit-end", doc(START + task("dead_end") + chain("start", "dead_end")),
     {"dead_end"}),
    ("no-implicit-start", doc(task("orphan") + END + chain("orphan", "end")), {"orphan"}),
    ("no-inclusive-gateway", doc(
        START + '<inclusiveGateway id="some" name="Some"/>' + END
        + chain("start", "some", "end")), {"some"}),
    ("no-overlapping-elements", doc(
        START + task("a") + task("b") + '<boundaryEvent id="on_a" name="Late" '
        'attachedToRef="a"><timerEventDefinition/></boundaryEvent>' + END
        + chain("start", "a", "b", "end"),
        layout=diagram(start=(0, 0, 36, 36), a=(100, 0, 100, 80), on_a=(180, 60, 36, 36),
                       b=(150, 40, 100, 80), end=(400, 0, 36, 36))),
     {"a", "b", "on_a"}),  # on_a overlaps b; on its own host it would be fine
    ("single-blank-start-event", doc(
        START + start("again") + END + chain("start", "end")
        + chain("again", "end")), {"p"}),
    ("single-event-definition", doc(
        START + '<intermediateCatchEvent id="either" name="Either"><timerEventDefinition/>'
        "<messageEventDefinition/></intermediateCatchEvent>" + END
        + chain("start", "either", "end")), {"either"}),
    ("start-event-required", doc(task("a") + END + chain("a", "end")), {"p"}),
    ("sub-process-blank-start-event", doc(
        START + '<subProcess id="inner" name="Inner"><startEvent id="timed" name="Timed">'
        "<timerEventDefinition/></startEvent>" + end("inner_end")
        + chain("timed", "inner_end") + "</subProcess>" + END
        + chain("start", "inner", "end")), {"timed"}),
    ("superfluous-gateway", doc(
        START + '<exclusiveGateway id="pointless"/>' + END
        + chain("start", "pointless", "end")), {"pointless"}),
    ("superfluous-label", doc(
        START + task("a") + END + chain("start", "a") + flow("said", "a", "end", name="done")),
     {"said"}),
    ("superfluous-termination", doc(
        START + task("a") + '<endEvent id="stop" name="Stop"><terminateEventDefinition/>'
        "</endEvent>" + chain("start", "a", "stop")), {"stop"}),
]


def test_the_documented_table_lists_every_rule_with_its_bpmnlint_level():
    text = (ROOT / "docs" / "bpmn-support.md").read_text(encoding="utf-8")
    section = text.split("## Lint rules", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (error|warn) \|", section, re.MULTILINE))
    assert rows == {rule.name: rule.bpmnlint_level for rule in RULES}
    refused = {name for name, line in re.findall(r"^\| `([a-z-]+)` \|(.*)$", section,
                                                  re.MULTILINE) if "not run on a unit" in line}
    assert refused == {rule.name for rule in RULES if rule.refused}


def test_every_rule_of_the_set_has_a_case_here():
    assert sorted(rule for rule, _, _ in CASES) == sorted(rule.name for rule in RULES)
    assert len(RULES) == 26


@pytest.mark.parametrize("rule, xml, elements", CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_the_elements_it_is_about_and_says_what_to_change(rule, xml, elements):
    problems = found(rule, xml)
    assert {element for element, _ in problems} == elements
    for _, message in problems:
        assert message.startswith(f"[{rule}] ") and "; " in message, message
        assert message.msgid.startswith(f"[{rule}] ")  # said in the designer's language


def test_a_clean_diagram_trips_no_rule():
    assert lint_bpmn(etree.fromstring(CLEAN.encode()), "clean.bpmn", RULES) == []


@pytest.mark.parametrize("rule, xml, elements", [
    # a default flow needs no condition
    ("conditional-flows", CASES[1][1].replace('name="Which?"', 'name="Which?" default="f_b"'),
     set()),
    # a boundary event may lie on its own host
    ("no-overlapping-elements", doc(START + task("a") + '<boundaryEvent id="on_a" name="L" '
     'attachedToRef="a"><timerEventDefinition/></boundaryEvent>' + END
     + chain("start", "a", "end"), layout=diagram(start=(0, 0, 36, 36), a=(100, 0, 100, 80),
                                                    on_a=(180, 60, 36, 36), end=(400, 0, 36, 36))),
     set()),
    # a second end path means the terminate end event has something to cancel
    ("superfluous-termination", CASES[-1][1].replace(
        "</process>", '<endEvent id="other" name="Other"/>' + flow("f_o", "start", "other")
        + "</process>"), set()),
    # a label on a flow forking out of an exclusive gateway is the answer to its question
    ("superfluous-label", CLEAN.replace('<sequenceFlow id="f_no"',
                                        '<sequenceFlow id="f_no" name="no"'), set()),
    # a link throw with its catch in the same process
    ("link-event", CASES[8][1].replace(
        "</process>", '<intermediateCatchEvent id="land" name="Land"><linkEventDefinition '
        'name="there"/></intermediateCatchEvent></process>'), {"nameless"}),
])
def test_what_a_rule_leaves_alone(rule, xml, elements):
    assert {element for element, _ in found(rule, xml)} == elements


def test_an_element_outside_its_pool_is_named():
    xml = doc(START + END + chain("start", "end"), roots=(
        '<collaboration id="c"><participant id="pool" name="Desk" processRef="p"/>'
        "</collaboration>"), layout=diagram(pool=(0, 0, 300, 100), start=(20, 20, 36, 36),
                                            end=(400, 20, 36, 36)))
    assert found("no-overlapping-elements", xml) == [(
        "end", "[no-overlapping-elements] end lies outside the boundary of its pool or "
        "subprocess; move it inside")]


# --------------------------------------------------------------------------- in a unit


def parse(*files: tuple[str, str]):
    return parse_unit([SourceFile(n, t) for n, t in files], Sandbox(), now=NOW)


def test_lint_findings_are_warnings_that_never_stop_a_deploy(engine):
    xml = doc(START + '<exclusiveGateway id="gate" name="Review?" default="f_skip"/>'
              + '<userTask id="review"/>' + END + chain("start", "gate")
              + flow("f_review", "gate", "review", "True", name="yes")
              + flow("f_skip", "gate", "end") + chain("review", "end"))
    findings = engine.validate([SourceFile("t.bpmn", xml)])
    assert {(f.element_id, f.rule) for f in findings} >= {
        ("review", "label-required"), ("end", "fake-join"), ("review", "no-bpmndi")}
    assert all(f.severity == "warning" and f.file == "t.bpmn" for f in findings)
    assert engine.deploy([SourceFile("t.bpmn", xml)]).version == 1


def test_a_construct_the_engine_refuses_gets_its_error_and_no_second_lint_marker():
    xml = doc(START + '<complexGateway id="odd" name="Odd"/>' + END + end("end2")
              + chain("start", "odd", "end") + chain("odd", "end2"))
    findings = parse(("t.bpmn", xml)).findings
    [error] = [f for f in findings if f.severity == "error"]
    assert error.element_id == "odd" and "complex gateways are not supported" in error.message
    assert "no-complex-gateway" not in {f.rule for f in findings}
    assert found("no-complex-gateway", xml) == [("odd", BY_NAME["no-complex-gateway"].check(
        Model(etree.fromstring(xml.encode()))).__next__()[1])]  # the rule itself would fire


def test_files_with_errors_are_linted_too():
    xml = doc(START + '<scriptTask id="broken" name="Broken"><script>x = (</script>'
              "</scriptTask>" + chain("start", "broken"))
    findings = parse(("t.bpmn", xml)).findings
    assert any(f.severity == "error" and f.element_id == "broken" for f in findings)
    assert ("broken", "no-implicit-end") in {(f.element_id, f.rule) for f in findings}


def test_a_rule_that_breaks_is_a_warning_naming_the_rule_never_an_exception(monkeypatch):
    from engine.definitions import lint

    def broken(model):
        raise KeyError("boom")

    monkeypatch.setattr(lint, "RULES", (lint.Rule("fake-join", broken, "warn"),))
    [finding] = lint.lint_bpmn(etree.fromstring(CLEAN.encode()), "clean.bpmn")
    assert finding.severity == "warning" and finding.rule == "fake-join"
    assert finding.message.startswith("[fake-join] this lint rule could not check the file")


# --------------------------------------------------------------------------- the lifecycle


def shipped() -> list[SourceFile]:
    return [SourceFile.read(p) for p in sorted((ROOT / "bpmn").iterdir())
            if p.suffix in (".bpmn", ".dmn")]


def test_the_shipped_lifecycle_trips_no_rule_not_even_the_refused_ones():
    unit = parse_unit(shipped(), Sandbox(), now=NOW)
    assert unit.findings == []
    tree = etree.parse(str(ROOT / "bpmn" / "complaint_lifecycle.bpmn")).getroot()
    assert lint_bpmn(tree, "complaint_lifecycle.bpmn", RULES) == []


def test_linting_the_lifecycle_costs_little():
    tree = etree.parse(str(ROOT / "bpmn" / "complaint_lifecycle.bpmn")).getroot()
    lint_bpmn(tree, "complaint_lifecycle.bpmn")
    started = time.perf_counter()
    for _ in range(10):
        lint_bpmn(tree, "complaint_lifecycle.bpmn")
    per_run = (time.perf_counter() - started) / 10
    assert per_run < 0.1, per_run  # about 6 ms under load (bench/lint.py); generous for CI


# --------------------------------------------------------------------------- MIWG corpus


@pytest.mark.skipif(not SUITE.is_dir(), reason=f"the MIWG conformance files are not at {SUITE}")
def test_the_miwg_corpus_is_linted_without_a_crash_and_every_warning_names_its_element():
    per_rule: Counter[str] = Counter()
    files = 0
    for path in sorted(SUITE.glob("*/*.bpmn")):
        source = SourceFile.read(path)
        tree = read_xml(source, lambda finding: None)
        if tree is None:
            continue
        files += 1
        ids = {n.get("id") for n in tree.iter() if isinstance(n.tag, str) and n.get("id")}
        for finding in lint_bpmn(tree, path.name, RULES):
            assert "could not check" not in finding.message, (path, finding)
            assert finding.element_id in ids, (path, finding)
            assert re.match(rf"\[{re.escape(finding.rule)}\] ", finding.message)
            per_rule[finding.rule] += 1
    print(f"\n{files} files; warnings per rule: {dict(per_rule.most_common())}")
    assert files >= 300
    # Real diagrams from 11 tools trip most rules; a rule that never fires is suspect.
    assert len(per_rule) >= 15, per_rule
