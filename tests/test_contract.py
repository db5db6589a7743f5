"""The lifecycle contract (workflows/contract.py) checked at validate and deploy, and
docs/lifecycle.md made from it.

Each break is an edit of the shipped diagrams, as a designer's modeler would save it; the
domain's engine (a Domain over a real SQLite database) must refuse it with a finding naming
the element, while an engine without the host's check still deploys it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from engine import Engine, Finding, SourceFile, ValidationFailed
from workflows import contract
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
BPMN_DIR = ROOT / "bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN = "https://www.omg.org/spec/DMN/20191111/MODEL/"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


@pytest.fixture
def domain(sqlite_url: str, tmp_path: Path):
    engine = Engine(sqlite_url, sandbox_workers=0)
    config = RegencyConfig()
    domain = Domain(engine, config, Storage(tmp_path / "uploads", config.max_attachment_bytes))
    yield domain
    domain.dispose()


def shipped() -> dict[str, str]:
    return {name: (BPMN_DIR / name).read_text(encoding="utf-8")
            for name in ids.DEPLOYMENT_FILES}


def edited(name: str, edit: Callable[[etree._Element], None]) -> list[SourceFile]:
    """The shipped unit with one file changed by `edit` on its XML tree."""
    files = shipped()
    root = etree.fromstring(files[name].encode("utf-8"))
    edit(root)
    files[name] = etree.tostring(root, encoding="unicode")
    return [SourceFile(n, text) for n, text in files.items()]


def remove_elements(root: etree._Element, *element_ids: str) -> None:
    """Delete elements with their flows, lane references and diagram shapes."""
    gone = set(element_ids)
    for flow in root.iter(f"{{{BPMN}}}sequenceFlow"):
        if flow.get("sourceRef") in gone or flow.get("targetRef") in gone:
            gone.add(flow.get("id"))
    for node in list(root.iter()):
        if not isinstance(node.tag, str):
            continue
        if node.get("id") in gone or node.get("bpmnElement") in gone or (
                etree.QName(node).localname in ("incoming", "outgoing", "flowNodeRef")
                and node.text in gone):
            node.getparent().remove(node)


def by_id(root: etree._Element, element_id: str) -> etree._Element:
    [node] = root.xpath("//*[@id=$id]", id=element_id)
    return node


def contract_errors(domain: Domain, files: list[SourceFile]) -> list[Finding]:
    return [f for f in domain.engine.validate(files) if f.severity == "error"]


def test_the_shipped_diagrams_keep_the_contract(domain):
    files = [SourceFile(n, t) for n, t in shipped().items()]
    assert domain.engine.validate(files) == []
    assert domain.install_diagrams().version == 1


def test_deleting_the_sla_watch_path_is_refused_on_the_officer_task(domain):
    files = edited(ids.BPMN_FILE, lambda root: remove_elements(
        root, ids.WATCH_TIMERS[ids.FOLLOW_UP], "watch_follow_up", "follow_up_watch_done"))
    [finding] = contract_errors(domain, files)
    assert finding.element_id == ids.FOLLOW_UP and finding.file == ids.BPMN_FILE
    assert "has no watch" in finding.message and "sla_watch" in finding.message
    with pytest.raises(ValidationFailed) as refused:
        domain.engine.deploy(files, process_id=ids.PROCESS_ID)
    assert refused.value.findings == [finding]
    assert domain.engine.definitions() == []


def test_without_any_watch_no_service_task_calls_sla_watch(domain):
    watches = [(timer, f"watch_{task}", f"{timer}_done")
               for task, timer in ids.WATCH_TIMERS.items()]
    files = edited(ids.BPMN_FILE, lambda root: remove_elements(
        root, *(element for path in watches for element in path)))
    found = {(f.element_id, f.message.msgid) for f in contract_errors(domain, files)}
    assert {element for element, _ in found} == {*ids.OFFICER_TASKS, None}
    assert (None, "no service task calls %(service)s, which the domain's lifecycle needs"
            ) in found


def test_a_renamed_task_id_is_named(domain):
    def rename(root):
        node = by_id(root, ids.UNIT_FOLLOW_UP)
        node.set("id", "unit_followup")
        for ref in root.iter():
            if isinstance(ref.tag, str) and ref.text == ids.UNIT_FOLLOW_UP:
                ref.text = "unit_followup"
            for attribute in ("sourceRef", "targetRef", "attachedToRef", "bpmnElement"):
                if ref.get(attribute) == ids.UNIT_FOLLOW_UP:
                    ref.set(attribute, "unit_followup")

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, rename))
    assert finding.element_id == ids.UNIT_FOLLOW_UP
    assert finding.message == ("user task unit_follow_up is missing or was renamed; the "
                               "domain finds it by this id")


def test_a_task_moved_to_another_lane_is_named(domain):
    def move(root):
        by_id(root, "lane_regency_admin").remove(root.xpath(
            "//bpmn:flowNodeRef[text()=$t]", t=ids.SCREEN_REPORT, namespaces={"bpmn": BPMN})[0])
        ref = etree.SubElement(by_id(root, "lane_opd_liaison"), f"{{{BPMN}}}flowNodeRef")
        ref.text = ids.SCREEN_REPORT

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, move))
    assert finding.element_id == ids.SCREEN_REPORT
    assert "lane regency_admin, not opd_liaison" in finding.message


def test_a_dropped_gateway_branch_names_the_gateway_and_the_value(domain):
    files = edited(ids.BPMN_FILE, lambda root: remove_elements(root, "f_archive"))
    [finding] = contract_errors(domain, files)
    assert finding.element_id == "screen_decision"
    assert finding.message == ("gateway screen_decision sends 'verify', 'archive' of "
                               "screen_report all by its default flow; give all but one of "
                               "them a branch with a condition (decision == ...)")


def test_a_gateway_without_a_default_names_each_value_without_a_branch(domain):
    def drop(root):  # the default flow becomes a branch for a misspelt value
        del by_id(root, "review_decision").attrib["default"]
        condition = etree.SubElement(by_id(root, "f_accept"), f"{{{BPMN}}}conditionExpression")
        condition.text = 'decision == "accepted"'

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, drop))
    assert finding.element_id == "review_decision"
    assert finding.message == ("gateway review_decision has no branch for decision == "
                               "'accept', which the domain sends from review_answer")


def test_a_value_the_form_no_longer_offers_is_named(domain):
    def narrow(root):
        prop = root.xpath("//bpmn:userTask[@id='review_answer']//spiff:property"
                          "[@name='formJsonSchema']", namespaces={"bpmn": BPMN, "spiff": SPIFF})[0]
        prop.set("value", prop.get("value").replace('"enum":["accept","unsatisfied"]',
                                                    '"enum":["accept"]'))

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, narrow))
    assert finding.element_id == ids.REVIEW_ANSWER and "'unsatisfied'" in finding.message


def test_a_service_called_without_a_required_parameter_is_named(domain):
    def drop(root):
        [parameter] = root.xpath("//*[@id='start_follow_up_sla']//spiff:parameter[@id="
                                 "'budget_days']", namespaces={"spiff": SPIFF})
        parameter.getparent().remove(parameter)

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, drop))
    assert finding.element_id == "start_follow_up_sla"
    assert finding.message == ("service task start_follow_up_sla calls sla_start without its "
                               "parameter budget_days")


def test_a_service_the_domain_does_not_offer_is_named(domain):
    def misspell(root):
        root.xpath("//*[@id='set_status_verified']//spiff:serviceTaskOperator",
                   namespaces={"spiff": SPIFF})[0].set("id", "set_state")

    [finding] = contract_errors(domain, edited(ids.BPMN_FILE, misspell))
    assert finding.element_id == "set_status_verified" and "'set_state'" in finding.message


def test_an_officer_task_without_an_sla_start_before_it_is_named(domain):
    def skip_sla(root):
        remove_elements(root, "start_verification_sla")
        flow = etree.SubElement(root.find(f"{{{BPMN}}}process"), f"{{{BPMN}}}sequenceFlow")
        flow.attrib.update({"id": "f_straight_to_screening",
                            "sourceRef": "budget_verification", "targetRef": "screen_merge"})

    found = contract_errors(domain, edited(ids.BPMN_FILE, skip_sla))
    # disposition is reached through screening: its paths lost their SLA start too
    assert [f.element_id for f in found] == [ids.SCREEN_REPORT, ids.DISPOSE_REPORT]
    assert found[0].message == ("officer task screen_report has a path from start without "
                                "sla_start or sla_resume before it: its deadline would not be "
                                "counted")


def test_a_dmn_output_the_domain_reads_is_named(domain):
    def drop_output(root):
        table = root.find(f".//{{{DMN}}}decisionTable")
        outputs = table.findall(f"{{{DMN}}}output")
        index = [o.get("name") for o in outputs].index("agency_code")
        table.remove(outputs[index])
        for rule in table.findall(f"{{{DMN}}}rule"):
            rule.remove(rule.findall(f"{{{DMN}}}outputEntry")[index])

    [finding] = contract_errors(domain, edited(ids.ROUTING_DMN_FILE, drop_output))
    assert (finding.file, finding.element_id) == (ids.ROUTING_DMN_FILE, ids.ROUTE_REPORT)
    assert finding.message == "decision route_report has no output agency_code, which the " \
                              "domain reads"


def test_an_engine_without_the_hosts_check_deploys_any_valid_unit(sqlite_url):
    files = edited(ids.BPMN_FILE, lambda root: remove_elements(
        root, ids.WATCH_TIMERS[ids.FOLLOW_UP], "watch_follow_up", "follow_up_watch_done"))
    engine = Engine(sqlite_url, sandbox_workers=0)
    try:
        assert engine.validate(files) == []
        assert engine.deploy(files).version == 1
    finally:
        engine.dispose()


def test_a_failing_host_check_is_a_finding_not_a_crash(sqlite_url):
    engine = Engine(sqlite_url, sandbox_workers=0)
    try:
        engine.add_unit_check(ids.PROCESS_ID, lambda unit: 1 / 0)
        [finding] = engine.validate([SourceFile(n, t) for n, t in shipped().items()])
        assert finding.severity == "error" and "ZeroDivisionError" in finding.message
    finally:
        engine.dispose()


def test_the_contracts_services_are_the_ones_the_domain_registers(domain):
    registered = domain.engine.services
    assert {s.name for s in contract.CONTRACT.services} == set(registered)
    for service in contract.CONTRACT.services:
        parameters = inspect.signature(registered[service.name]).parameters.values()
        assert service.parameters == tuple(p.name for p in parameters if p.default is p.empty)
        assert service.optional == tuple(p.name for p in parameters if p.default is not p.empty)


def test_docs_lifecycle_carries_the_contract_as_generated():
    text = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- contract:begin[^>]*-->\n(.*?)<!-- contract:end -->", text, re.S)
    assert found, "docs/lifecycle.md lost its contract markers"
    assert found.group(1) == contract.render_markdown(), (
        "docs/lifecycle.md disagrees with workflows/contract.py: run scripts/lifecycle-doc")
