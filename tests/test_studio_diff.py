"""What changed between two versions: the shipped lifecycle against a copy with a renamed
task label, an added task, a removed flow, a changed condition and a changed DMN cell, both
deployed; as a use case on each database and through the pages, with who may see it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.pages import Site
from tests.regency import Regency
from workflows import access
from workflows import diagram_ids as ids
from workflows.errors import Forbidden, Invalid, NotFound
from workflows.lifecycle import BPMN_DIR
from workflows.studio_diff import diff_bpmn, diff_dmn, diff_units

DESIGNER = access.Principal(username="perancang", roles=frozenset({"process_designer"}))
ADMIN = access.Principal(username="admin.kominfo", roles=frozenset({"regency_admin"}))
OFFICER = access.Principal(username="teknis.binamarga", roles=frozenset({"technical_officer"}))
PID = ids.PROCESS_ID
NEW_LABEL = "Verifikasi dan periksa laporan"
NOTE_TASK = (
    '<bpmn:scriptTask id="note_verified" name="Catat verifikasi">\n'
    '      <bpmn:incoming>f_to_note_verified</bpmn:incoming>\n'
    '      <bpmn:outgoing>f_noted_verified</bpmn:outgoing>\n'
    '      <bpmn:script>verified_noted = True</bpmn:script>\n'
    '    </bpmn:scriptTask>\n    ')
NOTE_FLOWS = (
    '<bpmn:sequenceFlow id="f_to_note_verified" sourceRef="set_status_verified" '
    'targetRef="note_verified"/>\n'
    '    <bpmn:sequenceFlow id="f_noted_verified" sourceRef="note_verified" '
    'targetRef="determine_routing"/>\n    ')
NOTE_DRAWING = (
    '<bpmndi:BPMNShape id="note_verified_di" bpmnElement="note_verified">\n'
    '        <dc:Bounds x="1175" y="670" width="100" height="80"/>\n'
    '      </bpmndi:BPMNShape>\n'
    '      <bpmndi:BPMNEdge id="f_to_note_verified_di" bpmnElement="f_to_note_verified">\n'
    '        <di:waypoint x="1150" y="630"/>\n        <di:waypoint x="1150" y="710"/>\n'
    '        <di:waypoint x="1175" y="710"/>\n      </bpmndi:BPMNEdge>\n'
    '      <bpmndi:BPMNEdge id="f_noted_verified_di" bpmnElement="f_noted_verified">\n'
    '        <di:waypoint x="1275" y="710"/>\n        <di:waypoint x="1300" y="710"/>\n'
    '        <di:waypoint x="1300" y="630"/>\n      </bpmndi:BPMNEdge>\n      ')
OLD_CONDITION = 'decision == "postpone"'
NEW_CONDITION = 'decision == "postpone" or decision == "tunda"'


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def shipped() -> dict[str, str]:
    return {name: (BPMN_DIR / name).read_text(encoding="utf-8")
            for name in ids.DEPLOYMENT_FILES}


def changed_lifecycle() -> dict[str, str]:
    """The shipped unit with: the verification task's label renamed (not its id); a script
    task `note_verified` added between `set_status_verified` and `determine_routing` (in the
    regency administrator's lane, drawn); the flow `f_verified` it replaces removed; the
    condition of `f_postpone` changed; and the verification budget 3 -> 2 working days."""
    files = shipped()
    bpmn = files[ids.BPMN_FILE]
    bpmn = replace_once(bpmn, '<bpmn:userTask id="screen_report" name="Verifikasi laporan">',
                        f'<bpmn:userTask id="screen_report" name="{NEW_LABEL}">')
    bpmn = replace_once(bpmn, '<bpmn:sequenceFlow id="f_verified" sourceRef="set_status_'
                        'verified" targetRef="determine_routing"/>\n    ', NOTE_FLOWS)
    bpmn = replace_once(bpmn, "<bpmn:outgoing>f_verified</bpmn:outgoing>",
                        "<bpmn:outgoing>f_to_note_verified</bpmn:outgoing>")
    bpmn = replace_once(bpmn, "<bpmn:incoming>f_verified</bpmn:incoming>",
                        "<bpmn:incoming>f_noted_verified</bpmn:incoming>")
    bpmn = replace_once(bpmn, '<bpmn:businessRuleTask id="determine_routing"',
                        NOTE_TASK + '<bpmn:businessRuleTask id="determine_routing"')
    bpmn = replace_once(bpmn, "<bpmn:flowNodeRef>determine_routing</bpmn:flowNodeRef>",
                        "<bpmn:flowNodeRef>determine_routing</bpmn:flowNodeRef>\n"
                        "        <bpmn:flowNodeRef>note_verified</bpmn:flowNodeRef>")
    bpmn = replace_once(bpmn, OLD_CONDITION, NEW_CONDITION)
    bpmn = re.sub(r'<bpmndi:BPMNEdge id="f_verified_di".*?</bpmndi:BPMNEdge>\s*',
                  NOTE_DRAWING, bpmn, count=1, flags=re.DOTALL)
    files[ids.BPMN_FILE] = bpmn
    files[ids.DEADLINES_DMN_FILE] = replace_once(
        files[ids.DEADLINES_DMN_FILE],
        '<outputEntry id="rule_verification_output_budget_days">\n          <text>3</text>',
        '<outputEntry id="rule_verification_output_budget_days">\n          <text>2</text>')
    return files


@pytest.fixture
def two_versions(regency: Regency) -> Regency:
    done = regency.domain.studio.deploy(changed_lifecycle(), "Catat verifikasi; tenggat 2",
                                        DESIGNER, process_id=PID)
    assert (done["version"], done["created"]) == (2, True)
    return regency


def changes_of(element: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    return [(c["aspect"], c["key"], c["old"], c["new"]) for c in element["changes"]]


# --------------------------------------------------------------------------- use case


def test_the_diff_of_two_deployed_versions_lists_exactly_what_changed(two_versions: Regency):
    found = two_versions.domain.studio.diff(PID, 1, 2, ADMIN)
    assert (found["from"]["version"], found["to"]["version"]) == (1, 2)
    assert found["to"]["note"] == "Catat verifikasi; tenggat 2"
    assert [(f["file"], f["status"]) for f in found["files"]] == [
        (ids.BPMN_FILE, "changed"), (ids.DEADLINES_DMN_FILE, "changed"),
        (ids.ROUTING_DMN_FILE, "same")]
    assert found["diagram_file"] == ids.BPMN_FILE and not found["same"]

    (bpmn,) = found["bpmn"]
    assert [(e["id"], e["type"]) for e in bpmn["added"]] == [
        ("note_verified", "scriptTask"), ("f_to_note_verified", "sequenceFlow"),
        ("f_noted_verified", "sequenceFlow")]
    assert bpmn["added"][0]["lane"] == "lane_regency_admin"
    assert [(e["id"], e["source"], e["target"]) for e in bpmn["removed"]] == [
        ("f_verified", "set_status_verified", "determine_routing")]
    assert {e["id"]: changes_of(e) for e in bpmn["changed"]} == {
        "screen_report": [("name", "", "Verifikasi laporan", NEW_LABEL)],
        "set_status_verified": [("outgoing", "", "f_verified", "f_to_note_verified")],
        "determine_routing": [("incoming", "", "f_verified", "f_noted_verified")],
        "f_postpone": [("condition", "", OLD_CONDITION, NEW_CONDITION)],
    }
    assert [e["id"] for e in bpmn["changed"]] == [
        "screen_report", "set_status_verified", "determine_routing", "f_postpone"]
    assert bpmn["moved"] == []

    (dmn,) = found["dmn"]
    assert dmn["file"] == ids.DEADLINES_DMN_FILE
    (decision,) = dmn["decisions"]
    assert (decision["id"], decision["status"], decision["changes"]) == (
        "step_budget", "changed", [])
    assert decision["columns_added"] == decision["columns_removed"] == []
    (rule,) = decision["rules"]
    assert (rule["id"], rule["status"]) == ("rule_verification", "changed")
    assert [(c["column"], c["old"], c["new"]) for c in rule["cells"] if c["changed"]] == [
        ("output_budget_days", "3", "2")]
    assert [c["new"] for c in rule["cells"]] == ['"verification"', "", "", "2"]
    assert decision["rules_unchanged"] == 7


def test_the_diff_backwards_swaps_added_and_removed(two_versions: Regency):
    (bpmn,) = two_versions.domain.studio.diff(PID, 2, 1, DESIGNER)["bpmn"]
    assert [e["id"] for e in bpmn["removed"]] == [
        "note_verified", "f_to_note_verified", "f_noted_verified"]
    assert [e["id"] for e in bpmn["added"]] == ["f_verified"]


def test_the_diagrams_carry_the_ids_to_colour_on_each_side(two_versions: Regency):
    drawn = two_versions.domain.studio.diff_diagram(PID, 1, 2, ADMIN)
    assert drawn["file"] == ids.BPMN_FILE
    assert NEW_LABEL in drawn["new"]["xml"] and NEW_LABEL not in drawn["old"]["xml"]
    assert drawn["new"]["added"] == ["note_verified", "f_to_note_verified", "f_noted_verified"]
    assert drawn["old"]["removed"] == ["f_verified"]
    assert drawn["new"]["changed"] == drawn["old"]["changed"] == [
        "screen_report", "set_status_verified", "determine_routing", "f_postpone"]


def test_only_readers_compare_and_versions_must_exist_and_differ(two_versions: Regency):
    studio = two_versions.domain.studio
    with pytest.raises(Forbidden):
        studio.diff(PID, 1, 2, OFFICER)
    with pytest.raises(Forbidden):
        studio.diff_diagram(PID, 1, 2, OFFICER)
    with pytest.raises(NotFound):
        studio.diff(PID, 1, 9, DESIGNER)
    with pytest.raises(NotFound):
        studio.diff("no_such_process", 1, 2, DESIGNER)
    with pytest.raises(Invalid) as refused:
        studio.diff(PID, 2, 2, DESIGNER)
    assert set(refused.value.field_errors) == {"to"}
    with pytest.raises(Invalid) as refused:
        studio.diff(PID, None, None, DESIGNER)
    assert set(refused.value.field_errors) == {"from", "to"}


# --------------------------------------------------------------------------- comparison


def test_every_aspect_of_an_element_is_compared():
    """Timers, scripts, spiffworkflow properties and parameters, lanes, event definitions
    and attributes each show as their own change; moving a shape alone is `moved`."""
    old = shipped()[ids.BPMN_FILE]
    new = replace_once(old, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P30D"',
                       '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P14D"')
    new = replace_once(new, '<spiffworkflow:preScript>handler = "opd"',
                       '<spiffworkflow:preScript>handler = "unit"')
    new = replace_once(new, '<spiffworkflow:parameter id="budget_days" type="int" '
                       'value="budget_days"/>\n          </spiffworkflow:parameters>\n'
                       '        </spiffworkflow:serviceTaskOperator>\n        <spiffworkflow:'
                       'postScript>watch = {"watch_cycle": sla["watch_cycle"]}</spiffworkflow:'
                       'postScript>\n      </bpmn:extensionElements>\n      <bpmn:incoming>'
                       'f_verification_budgeted',
                       '<spiffworkflow:parameter id="budget_days" type="int" '
                       'value="budget_days + 1"/>\n          </spiffworkflow:parameters>\n'
                       '        </spiffworkflow:serviceTaskOperator>\n        <spiffworkflow:'
                       'postScript>watch = {"watch_cycle": sla["watch_cycle"]}</spiffworkflow:'
                       'postScript>\n      </bpmn:extensionElements>\n      <bpmn:incoming>'
                       'f_verification_budgeted')
    new = replace_once(new, '<spiffworkflow:property name="candidateGroupsExpression" value="['
                       '&quot;regency_admin&quot;]"/>\n          <spiffworkflow:property name='
                       '"dueDate" value="sla[&quot;due_at&quot;]"/>\n        </spiffworkflow:'
                       'properties>\n      </bpmn:extensionElements>\n      <bpmn:incoming>'
                       'f_to_screen_report',
                       '<spiffworkflow:property name="candidateGroupsExpression" value="['
                       '&quot;supervisor&quot;]"/>\n          <spiffworkflow:property name='
                       '"dueDate" value="sla[&quot;due_at&quot;]"/>\n        </spiffworkflow:'
                       'properties>\n      </bpmn:extensionElements>\n      <bpmn:incoming>'
                       'f_to_screen_report')
    new = replace_once(new, '<bpmn:flowNodeRef>watch_screen_report</bpmn:flowNodeRef>\n', "")
    new = replace_once(new, "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>",
                       "<bpmn:flowNodeRef>start</bpmn:flowNodeRef>\n"
                       "        <bpmn:flowNodeRef>watch_screen_report</bpmn:flowNodeRef>")
    new = replace_once(new, 'attachedToRef="dispose_report" cancelActivity="false"',
                       'attachedToRef="dispose_report" cancelActivity="true"')
    new = replace_once(new, '<bpmndi:BPMNShape id="determine_routing_di" bpmnElement='
                       '"determine_routing">\n        <dc:Bounds x="1250"',
                       '<bpmndi:BPMNShape id="determine_routing_di" bpmnElement='
                       '"determine_routing">\n        <dc:Bounds x="1260"')
    found = diff_bpmn("x.bpmn", old, new)
    assert found["added"] == found["removed"] == []
    assert {e["id"]: changes_of(e) for e in found["changed"]} == {
        "start_verification_sla": [
            ("extension", "serviceTaskOperator sla_start / parameter budget_days",
             "budget_days (type=int)", "budget_days + 1 (type=int)")],
        "screen_report": [("extension", "property candidateGroupsExpression",
                           '["regency_admin"]', '["supervisor"]')],
        "dispose_report": [("extension", "preScript", 'handler = "opd"',
                            'handler = "unit"')],
        "reopen_window_passed": [("timer", "timeDuration", '"P30D"', '"P14D"')],
        "dispose_report_watch": [("attribute", "cancelActivity", "false", "true")],
        "watch_screen_report": [("lane", "", "lane_supervisor", "lane_regency_admin")],
    }
    assert [e["id"] for e in found["moved"]] == ["determine_routing"]


def test_a_dmn_column_and_rules_added_and_removed_are_named():
    old = shipped()[ids.DEADLINES_DMN_FILE]
    new = replace_once(old, '<output id="output_budget_days" label="Hari kerja" '
                       'name="budget_days" typeRef="integer"/>',
                       '<output id="output_budget_days" label="Hari kerja" '
                       'name="budget_days" typeRef="integer"/>\n      <output id="output_note" '
                       'label="Catatan" name="note" typeRef="string"/>')
    new = re.sub(r'<input id="input_misconduct".*?</input>\s*', "", new, count=1,
                 flags=re.DOTALL)
    new = re.sub(r'<inputEntry id="rule_(\w+?)_input_misconduct">\s*<text/>\s*</inputEntry>'
                 r'\s*', "", new)
    new = re.sub(r'<rule id="rule_info_request">.*?</rule>\s*', "", new, count=1,
                 flags=re.DOTALL)
    new = replace_once(new, '<rule id="rule_verification">',
                       '<rule id="rule_quick">\n        <inputEntry id="q1"><text>"quick"</text>'
                       '</inputEntry>\n        <inputEntry id="q2"><text/></inputEntry>\n'
                       '        <outputEntry id="q3"><text>1</text></outputEntry>\n      </rule>'
                       '\n      <rule id="rule_verification">')
    (decision,) = diff_dmn("deadlines.dmn", old, new)["decisions"]
    assert [c["id"] for c in decision["columns_added"]] == ["output_note"]
    assert [c["id"] for c in decision["columns_removed"]] == ["input_misconduct"]
    rules = {r["id"]: r["status"] for r in decision["rules"]}
    assert rules.pop("rule_quick") == "added" and rules.pop("rule_info_request") == "removed"
    # every other rule lost its misconduct cell: a change of that cell only
    assert set(rules.values()) == {"changed"}
    for rule in decision["rules"]:
        if rule["status"] == "changed":
            assert [c["column"] for c in rule["cells"] if c["changed"]] == ["input_misconduct"]


def test_identical_units_have_no_changes_and_a_new_file_is_all_added():
    files = shipped()
    assert diff_units(files, files)["same"] is True
    only = {ids.BPMN_FILE: files[ids.BPMN_FILE]}
    found = diff_units({}, only)
    assert [(f["file"], f["status"]) for f in found["files"]] == [(ids.BPMN_FILE, "added")]
    assert found["bpmn"][0]["removed"] == [] and len(found["bpmn"][0]["added"]) > 100


# --------------------------------------------------------------------------- pages


def test_designers_and_administrators_see_the_diff_page(site: Site):
    site.regency.domain.studio.deploy(changed_lifecycle(), "Catat verifikasi", DESIGNER,
                                      process_id=PID)
    path = f"/studio/processes/{PID}/diff?from=1&to=2"
    for username in ("perancang", "admin.kominfo"):
        site.login(username)
        versions = site.text(site.get(f"/studio/processes/{PID}/versions"))
        assert f'href="/studio/processes/{PID}/diff?from=1&amp;to=2"' in versions
        assert 'id="compare-form"' in versions
        page = site.text(site.get(path))
        for status, element in (("added", "note_verified"), ("changed", "screen_report"),
                                ("changed", "f_postpone"), ("removed", "f_verified")):
            assert f'id="diff-{status}-{element}"' in page
        assert 'data-diff-side="old"' in re.search(
            r'<tr[^>]*id="diff-removed-f_verified"[^>]*>', page).group(0)
        assert NEW_LABEL in page and "Verifikasi laporan" in page
        assert 'id="rule-step_budget-rule_verification"' in page
        cell = re.search(r'<td class="diff-cell-changed"><del>(.*?)</del> <ins>(.*?)</ins>',
                         page)
        assert cell and cell.groups() == ("3", "2")
        assert "ditambahkan" in page and "Kondisi" in page  # Bahasa Indonesia by default
        drawn = site.get(f"/studio/processes/{PID}/diff/diagram.json?from=1&to=2").get_json()
        assert drawn["new"]["added"][0] == "note_verified"
        assert drawn["old"]["removed"] == ["f_verified"]
        site.logout()
    site.login("perancang")  # signing in takes the account's language: switch after it
    site.get("/language/en", expect=302)
    english = site.text(site.get(path))
    assert ">added</span>" in english and "<dt>Condition" in english
    assert "ditambahkan" not in english


@pytest.mark.parametrize("username", ["penghubung.pupr", "kadis.kominfo", "sysadmin",
                                      "teknis.binamarga"])
def test_other_roles_get_403_on_the_diff(site: Site, username: str):
    site.login(username)
    site.get(f"/studio/processes/{PID}/diff?from=1&to=1", expect=403)
    site.get(f"/studio/processes/{PID}/diff", expect=403)
    site.get(f"/studio/processes/{PID}/diff/diagram.json?from=1&to=1", expect=403)


def test_unknown_versions_are_404_and_bad_parameters_422_naming_the_field(site: Site):
    site.login("perancang")
    base = f"/studio/processes/{PID}/diff"
    chooser = site.text(site.get(base))
    assert 'id="diff-choose"' in chooser and 'id="studio-diff"' not in chooser
    site.get(f"{base}?from=1&to=7", expect=404)
    site.get("/studio/processes/nope/diff?from=1&to=2", expect=404)
    site.get(f"{base}/diagram.json?from=1&to=7", expect=404)
    for query, field in (("from=x&to=1", "from"), ("from=1", "to"), ("from=1&to=1", "to"),
                         ("from=0&to=1", "from"), ("from=1&to=99999999999", "to")):
        page = site.text(site.get(f"{base}?{query}", expect=422))
        assert f'href="#f-{field}"' in page, query
        assert 'id="diff-choose"' in page
    refused = site.get(f"{base}/diagram.json?from=abc&to=1", expect=422).get_json()
    assert "from" in refused["error"]["field_errors"]
