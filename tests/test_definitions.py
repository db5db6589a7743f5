"""Deploy-time validation: every problem is a finding with its file, element and a fix.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from engine import FrozenClock, SourceFile, ValidationFailed, definitions
from engine.definitions import parse_unit
from engine.errors import Finding
from engine.sandbox import Sandbox
from tests.diagram import (
    HEADER,
    chain,
    document,
    flow,
    linear,
    script_task,
    timer_event,
    user_task,
    write,
)

DMN_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_{id}" '
    'name="{id}" namespace="http://aduan.test/dmn">'
)
FORM = {"type": "object", "required": ["note"], "properties": {"note": {"type": "string"}}}
PASSWD = Path("/etc/passwd")


def dmn(decision_id: str, cells: list[tuple[str, str]], input_expression: str = "category"
        ) -> str:
    """A one-input, one-output decision table (output `priority`), first hit wins."""
    rules = "".join(
        f'<rule id="{decision_id}_{i}"><inputEntry id="{decision_id}_{i}_input">'
        f'<text>{escape(cell)}</text></inputEntry>'
        f'<outputEntry id="{decision_id}_{i}_output"><text>{escape(out)}</text>'
        "</outputEntry></rule>" for i, (cell, out) in enumerate(cells, 1))
    return (DMN_HEADER.format(id=decision_id)
            + f'<decision id="{decision_id}" name="{decision_id}">'
            + f'<decisionTable id="{decision_id}_table" hitPolicy="FIRST">'
            + f'<input id="{decision_id}_category" label="Category">'
            + f'<inputExpression id="{decision_id}_category_expression" typeRef="string">'
            + f"<text>{escape(input_expression)}</text></inputExpression></input>"
            + f'<output id="{decision_id}_priority" label="Priority" name="priority" '
            + 'typeRef="string"/>' + rules + "</decisionTable></decision></definitions>\n")


def rule_task(task_id: str, decision_id: str) -> str:
    return (f'<bpmn:businessRuleTask id="{task_id}" name="{task_id}"><bpmn:extensionElements>'
            f"<spiffworkflow:calledDecisionId>{decision_id}</spiffworkflow:calledDecisionId>"
            "</bpmn:extensionElements></bpmn:businessRuleTask>")


def form_file_task(task_id: str, filename: str) -> str:
    return (f'<bpmn:userTask id="{task_id}" name="Write a note"><bpmn:extensionElements>'
            "<spiffworkflow:properties><spiffworkflow:property "
            f'name="formJsonSchemaFilename" value="{filename}"/></spiffworkflow:properties>'
            "</bpmn:extensionElements></bpmn:userTask>")


def check(engine, *files: tuple[str, str], process_id: str | None = None) -> list[Finding]:
    """The engine's own findings (each with a message id: a page can say it in the designer's
    language); the lint rules' warnings are tests/test_lint.py's."""
    findings = engine.validate([SourceFile(name, text) for name, text in files],
                               process_id=process_id)
    for finding in findings:
        assert getattr(finding.message, "msgid", None), finding
    return engine_findings(findings)


def engine_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule is None]


def the_error(findings: list[Finding]) -> Finding:
    errors = [f for f in findings if f.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def error_on(findings: list[Finding], element_id: str) -> Finding:
    matching = [f for f in findings if f.severity == "error" and f.element_id == element_id]
    assert matching, findings
    return matching[0]


# --------------------------------------------------------------------------- XML and files


def test_a_sequence_flow_to_a_missing_element_is_reported_on_the_flow(engine):
    xml = document("broken", '<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>',
                   flow("start", "ghost", flow_id="to_ghost"), flow("start", "end"))
    finding = the_error(check(engine, ("broken.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("broken.bpmn", "to_ghost")
    assert "'ghost'" in finding.message and "does not exist" in finding.message
    assert "connect it" in finding.message


def test_a_flow_into_another_process_is_reported_as_crossing_the_border(engine):
    xml = (HEADER.format(pid="two")
           + '<bpmn:process id="one" isExecutable="true"><bpmn:startEvent id="start"/>'
           + flow("start", "elsewhere", flow_id="leaks") + "</bpmn:process>"
           + '<bpmn:process id="other" isExecutable="false"><bpmn:task id="elsewhere"/>'
           + "</bpmn:process></bpmn:definitions>")
    finding = error_on(check(engine, ("two.bpmn", xml)), "leaks")
    assert "outside this process" in finding.message


def test_a_schema_violation_names_the_element_and_its_line(engine):
    xml = document("schema", '<bpmn:startEvent id="start"/>', '<bpmn:endEvent id="end"/>',
                   flow("start", "end"), '<bpmn:sequenceFlow id="dangling" sourceRef="start"/>')
    finding = the_error(check(engine, ("schema.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("schema.bpmn", "dangling")
    assert "BPMN 2.0 schema (line 3)" in finding.message
    assert "'targetRef' is required" in finding.message
    assert "{http" not in finding.message  # namespaces are written as prefixes


def test_every_schema_violation_of_a_file_is_reported_not_only_the_last(engine):
    parts = [f'<bpmn:sequenceFlow id="dangling_{i}" sourceRef="start"/>' for i in range(3)]
    xml = document("schema", '<bpmn:startEvent id="start"/>', *parts)
    findings = check(engine, ("schema.bpmn", xml))
    assert [f.element_id for f in findings] == ["dangling_0", "dangling_1", "dangling_2"]


def test_xml_that_is_not_well_formed_is_reported_with_its_line(engine):
    xml = linear("cut", user_task("review")).replace("</bpmn:process>", "")
    finding = the_error(check(engine, ("cut.bpmn", xml)))
    assert finding.file == "cut.bpmn" and finding.element_id is None
    assert finding.message.startswith("not well-formed XML (line 3)")
    assert "export it again" in finding.message


def test_a_file_of_unknown_type_is_refused_with_the_types_a_unit_may_hold(engine):
    findings = check(engine, ("notes.txt", "remember the milk"),
                     ("ok.bpmn", linear("ok", user_task("review"))))
    finding = the_error(findings)
    assert (finding.file, finding.element_id) == ("notes.txt", None)
    assert "'.txt'" in finding.message and ".bpmn" in finding.message
    assert ".dmn" in finding.message and ".json" in finding.message


def test_a_file_that_is_not_bpmn_is_refused_by_its_root_element(engine):
    finding = the_error(check(engine, ("page.bpmn", "<html><body>hello</body></html>")))
    assert finding.file == "page.bpmn"
    assert "not a BPMN 2.0 document" in finding.message and "'html'" in finding.message


def test_an_empty_unit_is_a_finding_not_a_crash(engine):
    finding = the_error(engine.validate([]))
    assert "at least one .bpmn" in finding.message


@pytest.mark.parametrize("content", [
    "",
    "\x00\x01binary",
    '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
    '20100524/MODEL" id="d" targetNamespace="x"/>',
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" '
    'namespace="x"/>',
])
def test_odd_files_are_findings_never_exceptions(engine, content):
    findings = check(engine, ("odd.bpmn", content))
    assert findings and all(f.message for f in findings)
    assert any(f.severity == "error" for f in findings)


def test_a_latin_1_file_keeps_its_accented_names(engine, tmp_path):
    xml = linear("pruefung", user_task("check", "Rechnung prüfen"))
    latin = xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    path = tmp_path / "pruefung.bpmn"
    path.write_bytes(latin)
    assert engine_findings(engine.validate([path])) == []
    engine.deploy([path])
    instance = engine.start("pruefung")
    assert engine.tasks(instance_id=instance.id)[0]["title"] == "Rechnung prüfen"


# --------------------------------------------------------------------------- code in diagrams


@pytest.mark.parametrize("script, problem", [
    ("import os\nos.system('id')", "imports are not allowed"),
    ("name = x.__class__", '"__class__" is an invalid attribute name'),
])
def test_a_script_the_sandbox_refuses_is_reported_on_the_script_task(engine, script, problem):
    xml = linear("scripted", script_task("calculate", script))
    finding = the_error(check(engine, ("scripted.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("scripted.bpmn", "calculate")
    assert "script does not compile" in finding.message and problem in finding.message
    assert "correct the script" in finding.message


def test_a_gateway_condition_that_does_not_compile_is_reported_on_the_gateway(engine):
    xml = document(
        "routing", '<bpmn:startEvent id="start"/>',
        '<bpmn:exclusiveGateway id="route" default="normal_path"/>',
        '<bpmn:endEvent id="urgent"/>', '<bpmn:endEvent id="normal"/>', flow("start", "route"),
        flow("route", "urgent", "severity >= ", flow_id="urgent_path"),
        flow("route", "normal", flow_id="normal_path"))
    finding = the_error(check(engine, ("routing.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("routing.bpmn", "route")
    assert "condition 'severity >= ' does not compile" in finding.message
    assert "correct the expression" in finding.message


def test_an_unquoted_timer_duration_is_reported_with_the_quoted_form_to_write(engine):
    xml = linear("waiting", timer_event("pause", "timeDuration", "PT2H"))
    finding = the_error(check(engine, ("waiting.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("waiting.bpmn", "pause")
    assert 'quote it: "PT2H"' in finding.message


def test_a_malformed_quoted_duration_is_reported_with_an_example(engine):
    xml = linear("waiting", timer_event("pause", "timeDuration", '"2 hours"'))
    finding = the_error(check(engine, ("waiting.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("waiting.bpmn", "pause")
    assert "'2 hours' is not an ISO 8601 duration" in finding.message
    assert '"PT2H"' in finding.message


def test_a_naive_time_date_constant_is_refused_because_it_lacks_an_offset(engine):
    xml = linear("deadline", timer_event("due", "timeDate", '"2026-03-05T17:00:00"'))
    finding = the_error(check(engine, ("deadline.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("deadline.bpmn", "due")
    assert "no UTC offset" in finding.message and "+08:00" in finding.message


def test_a_timer_without_a_time_is_reported_on_its_event(engine):
    empty = ('<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition/>'
             "</bpmn:intermediateCatchEvent>")
    finding = the_error(check(engine, ("waiting.bpmn", linear("waiting", empty))))
    assert finding.element_id == "pause"
    assert "no timeDate, timeDuration or timeCycle" in finding.message


# A thousand years fit after 2026, not after 9500: datetime ends with the year 9999.
@pytest.mark.parametrize("kind, value, problem", [
    ("timeDuration", "P1000Y", "'P1000Y' is not an ISO 8601 duration"),
    ("timeCycle", "R2/P1000Y", "'R2/P1000Y' is not an ISO 8601 repeating interval"),
])
def test_a_constant_timer_is_checked_from_the_instant_parse_unit_is_given(kind, value, problem):
    xml = linear("waiting", timer_event("pause", kind, f'"{value}"'))
    files = [SourceFile("waiting.bpmn", xml)]
    early = parse_unit(files, Sandbox(), now=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert engine_findings(early.findings) == []
    late = parse_unit(files, Sandbox(), now=datetime(9500, 1, 1, tzinfo=UTC))
    finding = the_error(late.findings)
    assert (finding.file, finding.element_id) == ("waiting.bpmn", "pause")
    assert problem in finding.message


def test_validate_and_deploy_check_timers_from_the_engine_clock(make_engine):
    xml = linear("waiting", timer_event("pause", "timeDuration", '"P1000Y"'))
    assert check(make_engine(), ("waiting.bpmn", xml)) == []
    late = make_engine(clock=FrozenClock(datetime(9500, 1, 1, tzinfo=UTC)))
    assert "is not an ISO 8601 duration" in the_error(check(late, ("waiting.bpmn", xml))).message
    with pytest.raises(ValidationFailed, match="is not an ISO 8601 duration"):
        late.deploy([SourceFile("waiting.bpmn", xml)])


def test_the_definitions_package_never_reads_the_wall_clock():
    reads = []
    for path in sorted(Path(definitions.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in ("datetime", "date", "time")
                    and node.attr in ("now", "utcnow", "today", "time")):
                reads.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert reads == []


# --------------------------------------------------------------------------- forms


@pytest.mark.parametrize("form_text, problem", [
    ("{not json", "is not valid JSON"),
    ('{"type": "nope"}', "is not a valid JSON Schema"),
    ('{"type": "array", "items": {"type": "string"}}', "must describe an object"),
    ("true", "must describe an object"),
])
def test_a_user_task_form_must_be_a_json_schema_of_an_object(engine, form_text, problem):
    task = ('<bpmn:userTask id="review" name="Review"><bpmn:extensionElements>'
            '<spiffworkflow:properties><spiffworkflow:property name="formJsonSchema" '
            f'value="{escape(form_text, quote=True)}"/></spiffworkflow:properties>'
            "</bpmn:extensionElements></bpmn:userTask>")
    finding = the_error(check(engine, ("form.bpmn", linear("form", task))))
    assert (finding.file, finding.element_id) == ("form.bpmn", "review")
    assert problem in finding.message


def test_a_form_file_missing_from_the_unit_is_reported_on_its_task(engine):
    xml = linear("noted", form_file_task("write_note", "note.json"))
    finding = the_error(check(engine, ("noted.bpmn", xml), ("other.json", json.dumps(FORM))))
    assert (finding.file, finding.element_id) == ("noted.bpmn", "write_note")
    assert "'note.json' is not part of the unit" in finding.message
    assert "deploy it together with the diagram" in finding.message
    assert "other.json" in finding.message


def test_a_form_file_in_the_unit_deploys_and_shows_on_its_task(engine, tmp_path):
    diagram = write(tmp_path, "noted.bpmn", linear("noted", form_file_task("write_note",
                                                                           "note.json")))
    form = write(tmp_path, "note.json", json.dumps(FORM))
    engine.deploy([diagram, form])
    instance = engine.start("noted")
    task = engine.tasks(instance_id=instance.id)[0]
    assert task["element_id"] == "write_note" and task["form"] == FORM


def test_a_form_file_nobody_uses_is_only_a_warning(engine):
    findings = check(engine, ("plain.bpmn", linear("plain", user_task("review"))),
                     ("forgotten.json", json.dumps(FORM)))
    assert [(f.file, f.severity) for f in findings] == [("forgotten.json", "warning")]
    assert "formJsonSchemaFilename" in findings[0].message


# --------------------------------------------------------------------------- references


def test_a_service_task_without_an_operator_is_reported(engine):
    xml = linear("served", '<bpmn:serviceTask id="lookup" name="Look up"/>')
    finding = the_error(check(engine, ("served.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("served.bpmn", "lookup")
    assert "serviceTaskOperator" in finding.message


def test_a_call_activity_to_a_process_outside_the_unit_is_reported_on_the_call(engine):
    xml = linear("caller", '<bpmn:callActivity id="follow_up" calledElement="follow_up_v2"/>')
    finding = the_error(check(engine, ("caller.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("caller.bpmn", "follow_up")
    assert "'follow_up_v2', which is not in this unit" in finding.message
    assert "deploy the file that defines it" in finding.message


def test_a_business_rule_task_calling_a_decision_outside_the_unit_is_reported(engine):
    xml = linear("ruled", rule_task("assess", "priority_table"))
    findings = check(engine, ("ruled.bpmn", xml), ("other.dmn", dmn("other_table", [])))
    finding = the_error(findings)
    assert (finding.file, finding.element_id) == ("ruled.bpmn", "assess")
    assert "decision 'priority_table', which is not in this unit" in finding.message
    assert "other_table" in finding.message and ".dmn" in finding.message


def test_a_message_reference_to_an_undeclared_message_is_reported_on_its_event(engine):
    catch = ('<bpmn:intermediateCatchEvent id="wait_reply">'
             '<bpmn:messageEventDefinition id="wait_reply_definition" messageRef="reply"/>'
             "</bpmn:intermediateCatchEvent>")
    finding = the_error(check(engine, ("msg.bpmn", linear("msg", catch))))
    assert (finding.file, finding.element_id) == ("msg.bpmn", "wait_reply")
    assert "'reply' names no bpmn:message" in finding.message
    assert '<bpmn:message id="reply"' in finding.message


def test_a_problem_in_a_called_process_is_reported_in_the_called_file(engine):
    caller = linear("caller", script_task("work", "done = True"),
                    '<bpmn:callActivity id="delegate" calledElement="callee"/>')
    callee = linear("callee", script_task("work", "import os"))
    finding = the_error(check(engine, ("caller.bpmn", caller), ("callee.bpmn", callee)))
    assert (finding.file, finding.element_id) == ("callee.bpmn", "work")


def test_a_message_without_a_name_is_refused_because_messages_are_matched_by_name(engine):
    catch = ('<bpmn:intermediateCatchEvent id="wait_reply">'
             '<bpmn:messageEventDefinition messageRef="reply"/></bpmn:intermediateCatchEvent>')
    xml = linear("msg", catch).replace('<bpmn:process', '<bpmn:message id="reply"/><bpmn:process')
    finding = the_error(check(engine, ("msg.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("msg.bpmn", "wait_reply")
    assert "'reply' has no name" in finding.message
    assert '<bpmn:message id="reply" name="..."/>' in finding.message


def test_a_plain_task_waits_in_the_worklist_under_its_name(engine, tmp_path):
    engine.deploy([write(tmp_path, "plain.bpmn", linear(
        "plain", '<bpmn:task id="call_citizen" name="Call the citizen"/>'))])
    instance = engine.start("plain")
    [task] = engine.tasks(instance_id=instance.id)
    assert (task["element_id"], task["title"]) == ("call_citizen", "Call the citizen")
    assert engine.complete(task["id"], {}).status == "completed"


def test_a_boundary_event_attached_to_a_missing_activity_is_reported(engine):
    xml = document("lost", '<bpmn:startEvent id="start"/>', user_task("review"),
                   '<bpmn:endEvent id="end"/>', chain("start", "review", "end"),
                   timer_event("late", "timeDuration", '"PT1H"', attached_to="revue"))
    finding = the_error(check(engine, ("lost.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("lost.bpmn", "late")
    assert "attached to 'revue'" in finding.message


# --------------------------------------------------------------------------- decisions


def test_a_dmn_cell_that_does_not_compile_is_reported_on_the_cell(engine):
    table = dmn("priority_table", [('"roads', '"high"'), ("", '"low"')])
    xml = linear("ruled", rule_task("assess", "priority_table"))
    finding = the_error(check(engine, ("ruled.bpmn", xml), ("priority.dmn", table)))
    assert (finding.file, finding.element_id) == ("priority.dmn", "priority_table_1_input")
    assert "rule 'priority_table_1' (row 1)" in finding.message and "'Category'" in finding.message
    assert "quote text literals" in finding.message


def test_a_dmn_cell_written_in_list_form_without_the_placeholder_is_flagged(engine):
    table = dmn("priority_table", [('in ["roads", "water"]', '"high"'), ("", '"low"')])
    xml = linear("ruled", rule_task("assess", "priority_table"))
    finding = the_error(check(engine, ("ruled.bpmn", xml), ("priority.dmn", table)))
    assert (finding.file, finding.element_id) == ("priority.dmn", "priority_table_1_input")
    assert "without a space" in finding.message
    assert """write '? in ["roads", "water"]'""" in finding.message


def test_a_dmn_output_that_does_not_compile_is_reported_on_the_output_cell(engine):
    table = dmn("priority_table", [("", "high priority")])
    finding = the_error(check(engine, ("priority.dmn", table),
                              ("ruled.bpmn", linear("ruled", rule_task("assess",
                                                                       "priority_table")))))
    assert (finding.file, finding.element_id) == ("priority.dmn", "priority_table_1_output")


def test_a_dmn_cell_with_the_placeholder_in_list_form_decides_at_run_time(engine, tmp_path):
    table = write(tmp_path, "priority.dmn", dmn("priority_table", [
        ('? in ["roads", "water"]', '"high"'), ('"parks"', '"normal"'), ("", '"low"')]))
    diagram = write(tmp_path, "ruled.bpmn", linear(
        "ruled", rule_task("assess", "priority_table"), user_task("review")))
    assert engine_findings(engine.validate([diagram, table])) == []
    engine.deploy([diagram, table])
    decided = {}
    for category in ("water", "parks", "noise"):
        instance = engine.start("ruled", {"category": category})
        decided[category] = engine.instance(instance.id)["data"]["priority"]
    assert decided == {"water": "high", "parks": "normal", "noise": "low"}


def test_a_dmn_file_with_two_decisions_names_the_extra_one(engine):
    one = dmn("first_table", [("", '"low"')])
    two = one.replace("</definitions>", dmn("second_table", [("", '"low"')]).split(
        'namespace="http://aduan.test/dmn">', 1)[1])
    findings = check(engine, ("two.dmn", two), ("ruled.bpmn", linear(
        "ruled", rule_task("assess", "first_table"))))
    finding = error_on(findings, "second_table")
    assert finding.file == "two.dmn" and "its own .dmn file" in finding.message


# --------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize("parts, element_id, words", [
    (['<bpmn:complexGateway id="weigh"/>'], "weigh", "complex gateways"),
    (['<bpmn:task id="work"/>', '<bpmn:boundaryEvent id="undo" attachedToRef="work">'
      "<bpmn:compensateEventDefinition/></bpmn:boundaryEvent>"], "undo", "compensation"),
    (['<bpmn:intermediateThrowEvent id="jump"><bpmn:linkEventDefinition id="jump_definition" '
      'name="later"/></bpmn:intermediateThrowEvent>'], "jump", "link events"),
    (['<bpmn:intermediateCatchEvent id="until_dry"><bpmn:conditionalEventDefinition>'
      "<bpmn:condition>dry</bpmn:condition></bpmn:conditionalEventDefinition>"
      "</bpmn:intermediateCatchEvent>"], "until_dry", "conditional events"),
], ids=["complex-gateway", "compensation", "link-event", "conditional-event"])
def test_unsupported_elements_are_flagged_with_their_element_id(engine, parts, element_id,
                                                                  words):
    xml = linear("odd", *parts, element_ids=[parts[0].split('"')[1]])
    finding = error_on(check(engine, ("odd.bpmn", xml)), element_id)
    assert finding.file == "odd.bpmn"
    assert words in finding.message and "not supported" in finding.message


def test_an_interrupting_event_subprocess_is_refused_on_its_start_event(engine):
    subprocess = ('<bpmn:subProcess id="on_cancel" triggeredByEvent="true">'
                  '<bpmn:startEvent id="cancel_requested"><bpmn:messageEventDefinition '
                  'messageRef="cancel"/></bpmn:startEvent><bpmn:endEvent id="cancelled"/>'
                  + flow("cancel_requested", "cancelled") + "</bpmn:subProcess>")
    xml = document("cancellable", '<bpmn:startEvent id="start"/>', user_task("review"),
                   '<bpmn:endEvent id="end"/>', subprocess, chain("start", "review", "end"),
                   messages=("cancel",))
    finding = the_error(check(engine, ("cancellable.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("cancellable.bpmn", "cancel_requested")
    assert 'isInterrupting="false"' in finding.message and "boundary event" in finding.message
    assert check(engine, ("cancellable.bpmn", xml.replace(
        '<bpmn:startEvent id="cancel_requested">',
        '<bpmn:startEvent id="cancel_requested" isInterrupting="false">'))) == []


def test_a_data_store_is_refused_on_its_element(engine):
    xml = linear("stored", user_task("review")).replace(
        "<bpmn:process", '<bpmn:dataStore id="archive" name="Archive"/><bpmn:process', 1)
    finding = the_error(check(engine, ("stored.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("stored.bpmn", "archive")
    assert "data stores are not supported" in finding.message


def test_diagram_layout_that_breaks_the_schema_is_only_a_warning(engine, tmp_path):
    layout = ('<bpmndi:BPMNDiagram id="diagram" xmlns:bpmndi="http://www.omg.org/spec/BPMN/'
              '20100524/DI"><bpmndi:BPMNPlane id="plane" bpmnElement="drawn">'
              '<bpmndi:BPMNEdge id="edge" bpmnElement="flow_start_review"/>'
              "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")
    xml = linear("drawn", user_task("review")).replace("</bpmn:definitions>",
                                                       layout + "</bpmn:definitions>")
    findings = check(engine, ("drawn.bpmn", xml))
    assert [(f.element_id, f.severity) for f in findings] == [("edge", "warning")]
    assert "layout" in findings[0].message
    engine.deploy([write(tmp_path, "drawn.bpmn", xml)])


# --------------------------------------------------------------------------- processes


TWO_PROCESSES = (
    HEADER.format(pid="pools")
    + '<bpmn:process id="intake" name="Intake" isExecutable="true">'
    + '<bpmn:startEvent id="intake_start"/>' + user_task("register")
    + '<bpmn:endEvent id="intake_end"/>' + chain("intake_start", "register", "intake_end")
    + '</bpmn:process><bpmn:process id="billing" name="Billing" isExecutable="true">'
    + '<bpmn:startEvent id="billing_start"/>' + user_task("invoice")
    + '<bpmn:endEvent id="billing_end"/>' + chain("billing_start", "invoice", "billing_end")
    + "</bpmn:process></bpmn:definitions>\n")


def test_several_top_level_processes_ask_which_one_to_deploy(engine):
    finding = the_error(check(engine, ("pools.bpmn", TWO_PROCESSES)))
    assert finding.file == "pools.bpmn" and finding.element_id is None
    assert "billing ('Billing')" in finding.message and "intake ('Intake')" in finding.message
    assert "process_id" in finding.message


def test_naming_the_process_deploys_one_of_several(engine, tmp_path):
    path = write(tmp_path, "pools.bpmn", TWO_PROCESSES)
    deployed = engine.deploy([path], process_id="billing")
    assert (deployed.process_id, deployed.version) == ("billing", 1)
    instance = engine.start("billing")
    assert [t["element_id"] for t in engine.tasks(instance_id=instance.id)] == ["invoice"]


def test_an_unknown_process_id_is_reported_with_the_choices(engine):
    finding = the_error(check(engine, ("pools.bpmn", TWO_PROCESSES), process_id="shipping"))
    assert "'shipping' is not in this unit" in finding.message
    assert "billing, intake" in finding.message


def test_a_process_that_is_not_executable_is_reported_on_the_process(engine):
    xml = linear("draft", user_task("review")).replace('isExecutable="true"',
                                                       'isExecutable="false"')
    finding = the_error(check(engine, ("draft.bpmn", xml)))
    assert (finding.file, finding.element_id) == ("draft.bpmn", "draft")
    assert 'set isExecutable="true"' in finding.message


# --------------------------------------------------------------------------- deploying


def test_deploying_identical_content_twice_keeps_the_version(engine, tmp_path):
    path = write(tmp_path, "same.bpmn", linear("same", user_task("review")))
    first = engine.deploy([path])
    again = engine.deploy([path])
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created, again.hash) == (1, False, first.hash)


def test_changed_content_becomes_version_two(engine, tmp_path):
    engine.deploy([write(tmp_path, "grow.bpmn", linear("grow", user_task("review")))])
    changed = engine.deploy([write(tmp_path, "grow.bpmn", linear(
        "grow", user_task("review"), user_task("approve")))])
    assert (changed.version, changed.created) == (2, True)
    assert [d["version"] for d in engine.definitions()] == [1, 2]


def test_a_dmn_bpmn_and_json_unit_deploys_as_one(engine, tmp_path):
    files = [
        write(tmp_path, "complaint.bpmn", linear(
            "complaint", rule_task("assess", "priority_table"),
            form_file_task("write_note", "note.json"))),
        write(tmp_path, "priority.dmn", dmn("priority_table", [('"roads"', '"high"'),
                                                               ("", '"low"')])),
        write(tmp_path, "note.json", json.dumps(FORM)),
    ]
    deployed = engine.deploy(files)
    [listed] = engine.definitions()
    assert (listed["process_id"], listed["version"]) == ("complaint", deployed.version)
    assert listed["files"] == ["complaint.bpmn", "note.json", "priority.dmn"]
    instance = engine.start("complaint", {"category": "roads"})
    assert engine.instance(instance.id)["data"]["priority"] == "high"
    assert engine.tasks(instance_id=instance.id)[0]["form"] == FORM


def test_definitions_lists_versions_with_open_instance_counts(engine, tmp_path):
    path = write(tmp_path, "counted.bpmn", linear("counted", user_task("review")))
    engine.deploy([path])
    first = engine.start("counted")
    engine.start("counted")
    write(tmp_path, "counted.bpmn", linear("counted", user_task("review"), user_task("sign")))
    engine.deploy([path])
    engine.start("counted")
    engine.complete(engine.tasks(instance_id=first.id)[0]["id"], {})
    listed = [(d["process_id"], d["version"], d["open_instances"])
              for d in engine.definitions()]
    assert listed == [("counted", 1, 1), ("counted", 2, 1)]


# --------------------------------------------------------------------------- XXE


@pytest.mark.parametrize("declaration, use", [
    (f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{PASSWD}">]>', "attribute"),
    (f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{PASSWD}">]>', "text"),
    ('<!DOCTYPE x [<!ENTITY e "surprise">]>', "attribute"),
], ids=["external-in-name", "external-in-text", "internal"])
def test_an_entity_is_never_expanded_and_a_dtd_is_refused(engine, tmp_path, declaration, use):
    task = ('<bpmn:userTask id="review" name="Review &e;"/>' if use == "attribute" else
            '<bpmn:userTask id="review" name="Review"><bpmn:documentation>&e;'
            "</bpmn:documentation></bpmn:userTask>")
    body = linear("leaky", task).split("\n", 1)[1]
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n{declaration}\n{body}'
    path = write(tmp_path, "leaky.bpmn", xml)
    findings = engine.validate([path])
    finding = the_error(findings)
    assert finding.file == "leaky.bpmn" and "<!DOCTYPE" in finding.message
    with pytest.raises(ValidationFailed):
        engine.deploy([path])
    assert engine.definitions() == []
    secret = PASSWD.read_text() if PASSWD.exists() else "root:"
    assert all("root:" not in f.message and secret not in f.message for f in findings)


def test_a_huge_decision_cell_is_refused_at_once_not_evaluated(engine):
    """Spiff finds each '?' of a cell with a quadratic look-ahead, on every evaluation:
    32,000 of them held the GIL for 40 s. A cell's length is bounded at deploy."""
    import time

    started = time.perf_counter()
    finding = the_error(check(engine, ("ruled.bpmn", linear("ruled", rule_task("a", "t"))),
                              ("t.dmn", dmn("t", [("?" * 32_000, '"x"')]))))
    assert time.perf_counter() - started < 10
    assert "32,000 characters" in finding.message and "at most 500" in finding.message
    assert len(finding.message) < 400
