"""The studio's modeler (web/static/js/studio-modeler.js with the vendored bundle
web/static/vendor/studio/) in a real browser, on tests/browser/harness/studio.html under the
studio's Content-Security-Policy. The page's JSON endpoints (the contract in
docs/designers.md, "The modeler") are answered here through Playwright routes, with the
shipped diagrams of bpmn/; a console error or a request to another host fails the test."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import WATCHES

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["complaint_lifecycle.bpmn", "deadlines.dmn", "routing.dmn"]
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
DMN = "{https://www.omg.org/spec/DMN/20191111/MODEL/}"
SERVICES = {"services": [
    {"name": "sla_start", "doc": "Start the SLA of a step.", "parameters": [
        {"name": "step", "doc": "The lifecycle step.", "required": True},
        {"name": "budget_days", "doc": "Working days.", "required": True}]},
    {"name": "sla_watch", "doc": "Watch an SLA.", "parameters": [
        {"name": "step", "doc": "The lifecycle step.", "required": True}]},
]}
DRAFT = {"id": 7, "name": "Lifecycle draft", "process_id": "complaint_lifecycle", "version": 3,
         "saved_by": "perancang", "saved_at": "2025-01-06T09:00:00+08:00"}


def shipped_files() -> dict[str, str]:
    return {name: (ROOT / "bpmn" / name).read_text() for name in SHIPPED}


def spiff_extensions(xml: str) -> list[tuple[str, ...]]:
    """Every spiffworkflow element and attribute, with the id of the element that holds it."""
    found: list[tuple[str, ...]] = []

    def walk(node: ET.Element, owner: str) -> None:
        owner = node.get("id") or owner
        for name, value in node.attrib.items():
            if name.startswith(SPIFF):
                found.append((owner, name, value))
        for child in node:
            if child.tag.startswith(SPIFF) and not node.tag.startswith(SPIFF):
                found.append((owner, ET.canonicalize(ET.tostring(child), strip_text=True)))
            walk(child, owner)

    walk(ET.fromstring(xml), "")
    return sorted(found)


@dataclass
class Api:
    """The fake of the draft's endpoints: what the page sent, and what to answer."""

    files: dict[str, str] = field(default_factory=shipped_files)
    saves: list[dict[str, Any]] = field(default_factory=list)
    save_headers: list[dict[str, str]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    save_status: int = 200
    findings: list[dict[str, str]] = field(default_factory=list)

    def install(self, page: Any) -> None:
        page.route("**/studio-api/files", lambda route: route.fulfill(
            json={"draft": DRAFT, "files": self.files}))
        page.route("**/studio-api/services", lambda route: route.fulfill(json=SERVICES))
        page.route("**/studio-api/save", self.save)
        page.route("**/studio-api/validate", self.validate)

    def save(self, route: Any) -> None:
        request = route.request
        self.saves.append(json.loads(request.post_data))
        self.save_headers.append(request.headers)
        if self.save_status == 409:
            route.fulfill(status=409, json={"error": {"message": "stale version"}})
        else:
            route.fulfill(json={"draft": {**DRAFT, "version": DRAFT["version"] + 1}})

    def validate(self, route: Any) -> None:
        self.validations.append(json.loads(route.request.post_data))
        route.fulfill(json={"valid": not any(f["severity"] == "error" for f in self.findings),
                            "findings": self.findings})


def open_studio(page: Any, server: Any, api: Api, lang: str = "id",
                read_only: bool = False) -> Any:
    api.install(page)
    name = "studio.html"
    if lang != "id" or read_only:
        html = (ROOT / "tests/browser/harness/studio.html").read_text()
        html = html.replace('data-lang="id"', f'data-lang="{lang}"').replace(
            'data-read-only="false"', f'data-read-only="{str(read_only).lower()}"')
        name = f"studio-{lang}-{'ro' if read_only else 'rw'}.html"
        (server.generated / name).write_text(html)
        page.goto(f"{server.url}/generated/{name}")
    else:
        page.goto(f"{server.url}/harness/{name}")
    root = page.locator("#studio-modeler[data-studio-state=ready]")
    root.wait_for(timeout=30_000)
    return root


def exported(page: Any, index: int) -> str:
    return page.evaluate(
        "(i) => document.getElementById('studio-modeler').aduanStudio.editors[i].exportXml()",
        index)


def open_group(page: Any, group: str) -> None:
    header = page.locator(f"[data-group-id='group-{group}'] > .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def select_shape(page: Any, element_id: str) -> None:
    """Click the element on the canvas, as a designer does (brought into view first: at the
    zoom that fits the whole lifecycle, the palette covers its left part)."""
    page.evaluate("""(id) => {
        const canvas = document.getElementById('studio-modeler').aduanStudio.editors[0]
            .modeler.get('canvas');
        canvas.zoom(1);
        const element = document.getElementById('studio-modeler').aduanStudio.editors[0]
            .modeler.get('elementRegistry').get(id);
        canvas.scrollToElement(element, { top: 200, left: 300, right: 100, bottom: 100 });
    }""", element_id)
    page.locator(f".djs-element[data-element-id='{element_id}']").first.click()


# --------------------------------------------------------------------------- tests


def test_the_lifecycle_opens_and_keeps_every_spiffworkflow_element(
        page: Any, static_server: Any, screenshot: Any) -> None:
    api = Api()
    open_studio(page, static_server, api)
    tabs = page.locator("#studio-modeler [role=tab]")
    assert tabs.all_inner_texts() == SHIPPED
    assert tabs.first.get_attribute("aria-selected") == "true"
    assert page.locator(".djs-element[data-element-id='screen_report']").count() == 1
    screenshot(page, "lifecycle")

    xml = exported(page, 0)
    original = api.files["complaint_lifecycle.bpmn"]
    assert len(spiff_extensions(original)) > 60
    assert spiff_extensions(xml) == spiff_extensions(original)
    # The DMN files come back as tables with the same rules.
    for index, name in ((1, "deadlines.dmn"), (2, "routing.dmn")):
        rules = [r.get("id") for r in ET.fromstring(exported(page, index)).iter(f"{DMN}rule")]
        assert rules == [r.get("id") for r in ET.fromstring(api.files[name]).iter(f"{DMN}rule")]


def test_a_user_tasks_candidate_groups_and_form_are_edited_in_the_panel(
        page: Any, static_server: Any, screenshot: Any, doc_screenshot: Any) -> None:
    api = Api()
    open_studio(page, static_server, api)
    select_shape(page, "screen_report")
    panel = page.locator("[data-properties]")
    panel.locator(".bio-properties-panel-header-label", has_text="Verifikasi laporan").wait_for()

    open_group(page, "aduan-assignment")
    expression = page.locator("#bio-properties-panel-aduan-candidate-groups-expression")
    assert expression.input_value() == '["regency_admin"]'
    page.fill("#bio-properties-panel-aduan-candidate-groups", "regency_admin,supervisor")

    open_group(page, "aduan-form")
    preview = page.locator("[data-form-preview]")
    assert preview.locator("[data-field=decision] select option").all_inner_texts() == [
        "verify", "archive", "request_info"]
    schema = {"title": "Verifikasi", "type": "object", "required": ["urgency"],
              "properties": {"urgency": {"type": "string", "title": "Urgensi",
                                         "enum": ["rendah", "tinggi"]},
                             "note": {"type": "string", "title": "Catatan"}}}
    page.fill("#bio-properties-panel-aduan-form-schema", json.dumps(schema))
    preview.locator("[data-field=urgency]").wait_for()
    assert preview.locator("[data-field=urgency] span").inner_text() == "Urgensi *"
    assert preview.locator("[data-field=decision]").count() == 0
    doc_screenshot(page, "studio-properties")
    # Broken JSON is said, in Indonesian, and not written into the diagram.
    page.fill("#bio-properties-panel-aduan-form-schema", '{"title": ')
    panel.locator(".bio-properties-panel-error", has_text="bukan JSON yang sah").wait_for()
    screenshot(page, "form-error")
    page.fill("#bio-properties-panel-aduan-form-schema", json.dumps(schema))
    preview.locator("[data-field=urgency]").wait_for()
    screenshot(page, "form-preview")

    # A service task: the operator picked from the host's services, with its parameters.
    select_shape(page, "start_verification_sla")
    open_group(page, "aduan-service-task")
    service = page.locator("#bio-properties-panel-aduan-service")
    assert service.input_value() == "sla_start"
    assert page.locator("#bio-properties-panel-aduan-parameter-budget_days").input_value() == (
        "budget_days")
    page.fill("#bio-properties-panel-aduan-parameter-step", '"disposition"')

    assert page.get_attribute("#studio-modeler", "data-dirty") == "true"
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Tersimpan sebagai versi 4").wait_for()
    assert page.get_attribute("#studio-modeler", "data-dirty") == "false"
    assert len(api.saves) == 1
    assert api.save_headers[0]["x-csrf-token"] == "harness-csrf-token"
    assert api.saves[0]["version"] == 3
    assert set(api.saves[0]["files"]) == set(SHIPPED)
    saved = ET.fromstring(api.saves[0]["files"]["complaint_lifecycle.bpmn"])
    task = next(t for t in saved.iter() if t.get("id") == "screen_report")
    properties = {p.get("name"): p.get("value") for p in task.iter(f"{SPIFF}property")}
    assert properties["candidateGroups"] == "regency_admin,supervisor"
    assert properties["candidateGroupsExpression"] == '["regency_admin"]'
    assert json.loads(properties["formJsonSchema"]) == schema
    operator = next(t for t in saved.iter() if t.get("id") == "start_verification_sla")
    parameters = {p.get("id"): p.get("value") for p in operator.iter(f"{SPIFF}parameter")}
    assert parameters == {"step": '"disposition"', "budget_days": "budget_days"}


def test_a_deadline_budget_changed_in_the_decision_table_is_saved(
        page: Any, static_server: Any, screenshot: Any, doc_screenshot: Any) -> None:
    api = Api()
    open_studio(page, static_server, api)
    page.click("[role=tab][data-file='deadlines.dmn']")
    cell = page.locator("td[data-element-id='rule_verification_output_budget_days']")
    assert cell.inner_text().strip() == "3"
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.locator("td[data-element-id='rule_verification_input_step']").click()
    screenshot(page, "deadlines")
    doc_screenshot(page, "studio-decision-table")
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Tersimpan").wait_for()
    deadlines = ET.fromstring(api.saves[0]["files"]["deadlines.dmn"])
    entry = next(e for e in deadlines.iter(f"{DMN}outputEntry")
                 if e.get("id") == "rule_verification_output_budget_days")
    assert entry.find(f"{DMN}text").text == "2"
    follow_up = next(e for e in deadlines.iter(f"{DMN}outputEntry")
                     if e.get("id") == "rule_follow_up_output_budget_days")
    original = ET.fromstring(api.files["deadlines.dmn"])
    assert follow_up.find(f"{DMN}text").text == next(
        e for e in original.iter(f"{DMN}outputEntry")
        if e.get("id") == "rule_follow_up_output_budget_days").find(f"{DMN}text").text


def test_the_palette_speaks_indonesian_and_english_by_the_switch(
        make_page: Any, static_server: Any) -> None:
    for lang, words in (("id", {"create.start-event": "Buat peristiwa awal",
                                "hand-tool": "Aktifkan alat geser",
                                "create.exclusive-gateway": "Buat gerbang"}),
                        ("en", {"create.start-event": "Create start event",
                                "hand-tool": "Activate hand tool",
                                "create.exclusive-gateway": "Create gateway"})):
        page = make_page()
        open_studio(page, static_server, Api(), lang=lang)
        for action, title in words.items():
            entry = page.locator(f".djs-palette .entry[data-action='{action}']")
            assert entry.get_attribute("aria-label") == title, (lang, action)
        select_shape(page, "screen_report")
        group = page.locator("[data-group-id='group-aduan-assignment'] "
                             ".bio-properties-panel-group-header-title")
        assert group.inner_text() == ("Penugasan" if lang == "id" else "Assignment")
        assert page.inner_text("[data-action=save]") == ("Simpan" if lang == "id" else "Save")
        page.click("[data-action=simulate]")
        assert page.inner_text("[data-action=simulate]") == (
            "Simulasi" if lang == "id" else "Simulate")
        slow = page.locator(".bts-set-animation-speed [data-speed]").first
        assert slow.get_attribute("title") == (
            "Kecepatan animasi: lambat" if lang == "id" else "Set animation speed = Slow")


def test_findings_become_markers_and_the_list_selects_their_element(
        page: Any, static_server: Any, screenshot: Any, doc_screenshot: Any) -> None:
    api = Api(findings=[
        {"file": "complaint_lifecycle.bpmn", "element_id": "screen_report", "severity": "error",
         "message": "Tugas ini tidak memulai SLA."},
        {"file": "complaint_lifecycle.bpmn", "element_id": "dispose_report",
         "severity": "warning", "message": "Formulir tanpa judul."},
        {"file": "deadlines.dmn", "element_id": "rule_verification_output_budget_days",
         "severity": "error", "message": "Anggaran harus bilangan bulat positif."},
        {"file": "complaint_lifecycle.bpmn", "element_id": "", "severity": "error",
         "message": "Proses tidak dapat dijalankan."},
    ])
    open_studio(page, static_server, api)
    page.click("[data-action=validate]")
    items = page.locator("[data-findings] li")
    items.nth(3).wait_for()
    assert items.count() == 4
    assert api.validations and set(api.validations[0]["files"]) == set(SHIPPED)

    def classes(element_id: str) -> list[str]:
        return page.locator(f".djs-element[data-element-id='{element_id}']").first.get_attribute(
            "class").split()

    assert "aduan-finding-error" in classes("screen_report")
    assert "aduan-finding-warning" in classes("dispose_report")
    assert "aduan-finding-error" not in classes("start")
    assert page.locator(".djs-overlays .studio-finding-badge").count() == 2

    def count(file: str) -> str:
        return page.inner_text(f"[role=tab][data-file='{file}'] .studio-tab-count")

    assert count("complaint_lifecycle.bpmn") == "3" and count("deadlines.dmn") == "1"
    assert "galat" in items.nth(0).inner_text() and "screen_report" in items.nth(0).inner_text()
    screenshot(page, "findings")
    page.evaluate("""() => {  // the marked tasks at full size, for the guide's picture
        const modeler = document.getElementById('studio-modeler').aduanStudio.editors[0].modeler;
        const canvas = modeler.get('canvas');
        canvas.zoom(1);
        canvas.scrollToElement(modeler.get('elementRegistry').get('screen_report'),
                               { top: 250, left: 300, right: 500, bottom: 250 });
    }""")
    doc_screenshot(page, "studio-findings", page.locator("#studio-modeler"))

    page.click("[data-finding-element='dispose_report']")
    page.locator(".djs-element.selected[data-element-id='dispose_report']").wait_for()
    page.locator("[data-properties] .bio-properties-panel-header-label",
                 has_text="Disposisi").wait_for()

    page.click("[data-finding-element='rule_verification_output_budget_days']")
    assert page.get_attribute("[role=tab][data-file='deadlines.dmn']", "aria-selected") == "true"
    cell = page.locator("td[data-element-id='rule_verification_output_budget_days']")
    cell.wait_for()
    assert "aduan-finding-error" in cell.get_attribute("class").split()
    screenshot(page, "dmn-finding")


@pytest.mark.browser_allow("console_errors")  # the browser logs the 409; checked below
def test_a_draft_saved_by_someone_else_first_is_not_overwritten_silently(
        page: Any, static_server: Any, request: pytest.FixtureRequest) -> None:
    api = Api(save_status=409)
    open_studio(page, static_server, api)
    select_shape(page, "screen_report")
    open_group(page, "aduan-assignment")
    page.fill("#bio-properties-panel-aduan-due-date", 'sla["due_at"] + "x"')
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Orang lain lebih dulu menyimpan draf ini").wait_for()
    assert page.get_attribute("#studio-modeler", "data-save-conflict") == "true"
    assert page.get_attribute("#studio-modeler", "data-dirty") == "true"
    errors = [e for watch in request.node.stash[WATCHES] for e in watch.console_errors]
    assert errors and all("status of 409" in e and "/studio-api/save" in e for e in errors), errors


def test_read_only_mode_shows_the_diagrams_without_editing(
        page: Any, static_server: Any, screenshot: Any) -> None:
    api = Api(findings=[{"file": "complaint_lifecycle.bpmn", "element_id": "screen_report",
                         "severity": "error", "message": "x"}])
    open_studio(page, static_server, api, read_only=True)
    assert page.locator(".djs-element[data-element-id='screen_report']").count() == 1
    assert page.locator(".djs-palette").count() == 0
    assert page.locator("[data-action=save]").count() == 0
    assert page.locator("[data-properties]").count() == 0
    assert page.locator("[data-read-only-note]").is_visible()
    select_shape(page, "screen_report")
    assert page.locator(".djs-context-pad, .djs-direct-editing-parent:visible").count() == 0
    # Checking stays possible, and marks the element.
    page.click("[data-action=validate]")
    page.locator("[data-findings] li").wait_for()
    assert "aduan-finding-error" in page.locator(
        ".djs-element[data-element-id='screen_report']").get_attribute("class").split()
    page.click("[role=tab][data-file='deadlines.dmn']")
    cell = page.locator("td[data-element-id='rule_verification_output_budget_days']")
    cell.wait_for()
    assert cell.get_attribute("contenteditable") in (None, "false")
    assert page.locator(".add-rule, .dmn-decision-table-container .actions").count() == 0
    screenshot(page, "read-only")
    assert api.saves == []


TRACE = """() => {
    const modeler = document.getElementById('studio-modeler').aduanStudio.editors[0].modeler;
    window.simulationTrace = [];
    modeler.on('tokenSimulation.simulator.trace', (event) => {
        window.simulationTrace.push([event.action, event.element.id]);
    });
}"""


def test_the_token_simulation_moves_a_token_and_editing_works_again_after_it(
        page: Any, static_server: Any, screenshot: Any, doc_screenshot: Any) -> None:
    api = Api()
    open_studio(page, static_server, api)
    simulate = page.locator("[data-action=simulate]")
    assert simulate.inner_text() == "Simulasi"
    assert simulate.get_attribute("aria-pressed") == "false"  # off by default
    assert page.locator(".bjs-container.simulation").count() == 0
    assert page.locator(".bts-palette.hidden").count() == 1

    simulate.click()
    page.locator(".bjs-container.simulation").wait_for()
    assert simulate.get_attribute("aria-pressed") == "true"
    assert page.get_attribute("#studio-modeler", "data-simulating") == "true"
    assert page.locator(".djs-palette.hidden").count() == 1  # the modeling palette is put away
    assert not page.locator("[data-properties]").is_visible()
    # The simulation's controls speak Indonesian.
    reset = ".bts-palette [title='Ulangi simulasi dari awal']"
    log_button = ".bts-palette [title='Tampilkan atau sembunyikan log simulasi']"
    assert page.get_attribute(reset, "disabled") == ""  # nothing to reset yet
    assert page.locator(log_button).count() == 1
    assert page.locator(".bts-animation-speed-button[title='Kecepatan animasi: cepat']").count()

    page.evaluate(TRACE)
    page.evaluate("""() => {  // the start of the lifecycle in view, at full size
        const modeler = document.getElementById('studio-modeler').aduanStudio.editors[0].modeler;
        const canvas = modeler.get('canvas');
        canvas.zoom(1);
        canvas.scrollToElement(modeler.get('elementRegistry').get('start'),
                               { top: 250, left: 150, right: 600, bottom: 300 });
    }""")
    page.locator(".djs-overlays[data-container-id='start'] .bts-context-pad").click()
    # The token leaves the start event and reaches the next element of the lifecycle.
    page.locator(".bts-token").first.wait_for()
    page.wait_for_function("""() => window.simulationTrace.some(
        ([action, id]) => action === 'enter' && id === 'budget_verification')""")
    trace = page.evaluate("window.simulationTrace")
    assert ["exit", "start"] in trace
    assert trace.index(["exit", "start"]) < trace.index(["enter", "budget_verification"])
    page.click(log_button)
    log = page.locator(".bts-log .bts-content")
    log.locator(".bts-text", has_text="Laporan masuk").wait_for()  # the start event's name
    assert log.locator(".bts-text", has_text="Proses dimulai").count() == 1
    assert page.get_attribute(reset, "disabled") is None
    screenshot(page, "simulation")
    doc_screenshot(page, "studio-simulation")

    simulate.click()
    page.locator(".bjs-container.simulation").wait_for(state="detached")
    assert simulate.get_attribute("aria-pressed") == "false"
    assert page.get_attribute("#studio-modeler", "data-simulating") == "false"
    assert page.locator(".djs-palette:not(.hidden)").count() == 1
    assert page.get_attribute("#studio-modeler", "data-dirty") == "false"  # it changed nothing

    # Editing works again: a task's label changed in the properties panel is saved, and the
    # simulation's colours are not in the diagram.
    select_shape(page, "screen_report")
    open_group(page, "general")
    name = page.locator("#bio-properties-panel-name")
    assert name.input_value() == "Verifikasi laporan"
    name.fill("Verifikasi laporan masuk")
    page.locator("#studio-modeler[data-dirty=true]").wait_for()  # the panel writes after a pause
    page.click("[data-action=save]")
    page.locator(".studio-status", has_text="Tersimpan sebagai versi 4").wait_for()
    saved = api.saves[0]["files"]["complaint_lifecycle.bpmn"]
    task = next(t for t in ET.fromstring(saved).iter() if t.get("id") == "screen_report")
    assert task.get("name") == "Verifikasi laporan masuk"
    original = api.files["complaint_lifecycle.bpmn"]
    for colour in ("background-color", "border-color", "bioc:", "color:"):
        assert saved.count(colour) == original.count(colour), colour
