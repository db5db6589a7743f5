"""The studio's drafts through the pages (web/pages/studio_drafts.py): list, new, upload,
the modeler page and its JSON endpoints, downloads; who may, and CSRF."""

from __future__ import annotations

import io
import re
import threading
import zipfile

import pytest

from tests.diagram import linear, script_task, timer_event
from tests.pages import Site
from workflows import diagram_ids as ids

SMALL = linear("small", script_task("work", "x = 1"))


def new_draft(site: Site) -> int:
    response = site.post("/studio/drafts", {"source": f"{ids.PROCESS_ID}:"}, expect=302)
    found = re.search(r"/studio/drafts/(\d+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def modeler_contract(page: str) -> dict[str, str]:
    found = re.search(r'<div id="studio-modeler"([^>]*)>', page)
    assert found, "no modeler element"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(1)))


def post_json(site: Site, url: str, body: object, token: str | None = "session",
              header: str = "X-CSRF-Token") -> object:
    headers = {}
    if token is not None:
        headers[header] = site.csrf() if token == "session" else token
    return site.client.post(url, json=body, headers=headers)


def test_a_designer_creates_a_draft_of_the_lifecycle_and_opens_the_modeler_page(site: Site):
    site.login("perancang")
    page = site.text(site.get("/studio/drafts"))
    assert 'id="studio-no-drafts"' in page and 'href="/studio/drafts"' in page
    draft_id = new_draft(site)
    page = site.text(site.get(f"/studio/drafts/{draft_id}"))
    contract = modeler_contract(page)
    assert contract == {
        "files-url": f"/studio/drafts/{draft_id}/files.json",
        "save-url": f"/studio/drafts/{draft_id}/save",
        "validate-url": f"/studio/drafts/{draft_id}/validate",
        "services-url": "/studio/services", "lang": "id", "read-only": "false",
        "csrf": site.csrf()}
    for name in ids.DEPLOYMENT_FILES:  # the plain list, until the modeler script fills in
        assert f'href="/studio/drafts/{draft_id}/files/{name}"' in page
    files = site.get(f"/studio/drafts/{draft_id}/files.json").get_json()
    assert files["draft"]["version"] == 1 and files["draft"]["saved_by"] == "perancang"
    assert set(files["files"]) == set(ids.DEPLOYMENT_FILES)
    assert "complaint_lifecycle" in site.text(site.get("/studio/drafts"))


def test_the_modeler_page_loads_the_studio_bundle_when_it_is_there(site: Site, tmp_path):
    from web.pages import studio_drafts

    site.login("perancang")
    draft_id = new_draft(site)
    page = site.text(site.get(f"/studio/drafts/{draft_id}"))
    with site.client.application.app_context():
        ready = studio_drafts.modeler_ready()
    for asset in studio_drafts.MODELER_ASSETS:
        assert (f"/static/{asset}" in page) == ready


def test_save_through_json_counts_up_and_a_stale_save_gets_409(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    url = f"/studio/drafts/{draft_id}/save"
    saved = post_json(site, url, {"version": 1, "files": {"small.bpmn": SMALL}})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["draft"]["version"] == 2
    stale = post_json(site, url, {"version": 1, "files": {"small.bpmn": SMALL}})
    assert stale.status_code == 409
    assert "perancang" in stale.get_json()["error"]["message"]
    bad = post_json(site, url, {"version": 2, "files": {"evil.bpmn": "<!DOCTYPE x><x/>"}})
    assert bad.status_code == 422
    assert "DTD" in bad.get_json()["error"]["field_errors"]["files.evil.bpmn"]
    not_json = site.client.post(url, data="{", content_type="application/json",
                                headers={"X-CSRF-Token": site.csrf()})
    assert not_json.status_code == 422 and "(body)" in not_json.get_json()["error"][
        "field_errors"]


def test_two_browsers_saving_at_once_one_wins(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    token = site.csrf()
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def save(text: str) -> None:
        client = site.client  # one session, two tabs
        barrier.wait()
        statuses.append(client.post(f"/studio/drafts/{draft_id}/save", json={
            "version": 1, "files": {"small.bpmn": SMALL.replace("x = 1", text)}},
            headers={"X-CSRF-Token": token}).status_code)

    threads = [threading.Thread(target=save, args=(t,)) for t in ("x = 2", "x = 3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]


def test_validate_answers_findings_with_the_element_in_the_visitors_language(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    url = f"/studio/drafts/{draft_id}/validate"
    clean = post_json(site, url, {}).get_json()
    assert clean["valid"] is True
    assert all(f["severity"] == "warning" for f in clean["findings"])
    broken = post_json(site, url, {"files": {"small.bpmn": SMALL.replace("x = 1", "x = (")}})
    body = broken.get_json()
    assert body["valid"] is False
    assert any(f["element_id"] == "work" and f["file"] == "small.bpmn"
               and f["severity"] == "error" and f["message"] for f in body["findings"])
    # bpmnlint's recommended rules (engine/definitions/lint.py): a warning on its element
    linted = post_json(site, url, {"files": {"small.bpmn": SMALL}}).get_json()
    assert linted["valid"] is True
    assert {"file": "small.bpmn", "element_id": "start", "severity": "warning",
            "message": "[label-required] start tidak punya label; beri nama yang memberi tahu "
            "pembaca apa yang dilakukan atau diputuskannya (ubah namanya, jangan id-nya).",
            } in linted["findings"]
    refused = post_json(site, url, {"files": {"a.txt": "x"}})
    assert refused.status_code == 422
    assert "a.txt" in refused.get_json()["error"]["message"]
    # in Indonesian by default, English after the switch
    assert "berkas" in refused.get_json()["error"]["field_errors"]["files.a.txt"]
    site.get("/language/en", expect=302)
    refused = post_json(site, url, {"files": {"a.txt": "x"}})
    assert "A draft holds" in refused.get_json()["error"]["field_errors"]["files.a.txt"]
    linted = post_json(site, url, {"files": {"small.bpmn": SMALL}}).get_json()
    assert any(f["element_id"] == "start" and f["message"].startswith(
        "[label-required] start has no label;") for f in linted["findings"])


# The engine's own findings, each of a different stage: the policy on Spiff's specs, the
# structure checks, and libxml2's schema validation (a third party's words, quoted).
POLICY = linear("policy", timer_event("wait", "timeDuration", "PT2H"))
STRUCTURE = linear("structure", '<bpmn:complexGateway id="gate"/>')
SCHEMA = linear("schema", '<bpmn:task id="odd" colour="red"/>')


def engine_findings(site: Site, url: str) -> dict[str, dict[str, str]]:
    """The validate endpoint's one error per draft above, by its element."""
    found = {}
    for name, text in (("policy", POLICY), ("structure", STRUCTURE), ("schema", SCHEMA)):
        body = post_json(site, url, {"files": {f"{name}.bpmn": text}}).get_json()
        errors = [f for f in body["findings"] if f["severity"] == "error"]
        assert body["valid"] is False and len(errors) == 1, body
        found[name] = errors[0]
    return found


def test_the_engines_own_findings_are_said_in_indonesian_then_in_english(site: Site):
    site.login("perancang")
    url = f"/studio/drafts/{new_draft(site)}/validate"
    said = engine_findings(site, url)
    assert [said[k]["element_id"] for k in ("policy", "structure", "schema")] == [
        "wait", "gate", "odd"]
    assert said["policy"]["message"] == (
        'Ekspresi timer PT2H membaca variabel yang bernama seperti nilai ISO 8601; beri '
        'tanda kutip: "PT2H".')
    assert said["structure"]["message"] == (
        "Gateway kompleks tidak didukung; gunakan gateway inklusif.")
    # libxml2's own words cannot be translated: the Indonesian says what kind of problem
    # it is, and quotes them
    schema = said["schema"]["message"]
    assert schema.startswith("Tidak sesuai skema BPMN 2.0 (baris "), schema
    assert "The attribute 'colour' is not allowed" in schema
    assert schema.endswith("; perbaiki elemen di modeler atau ekspor ulang berkasnya."), schema

    site.get("/language/en", expect=302)
    said = engine_findings(site, url)
    assert said["policy"]["message"] == (
        'Timer expression PT2H reads a variable named like an ISO 8601 value; quote it: '
        '"PT2H".')
    assert said["structure"]["message"] == (
        "Complex gateways are not supported; use an inclusive gateway.")
    schema = said["schema"]["message"]
    assert schema.startswith("Does not follow the BPMN 2.0 schema (line "), schema
    assert schema.endswith("The attribute 'colour' is not allowed; correct the element in the "
                           "modeler or export the file again."), schema


def test_trying_a_draft_the_engine_refuses_shows_its_findings_in_the_visitors_language(
        site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    saved = post_json(site, f"/studio/drafts/{draft_id}/save",
                      {"version": 1, "files": {"structure.bpmn": STRUCTURE}})
    assert saved.status_code == 200, saved.get_json()
    page = site.text(site.post(f"/studio/drafts/{draft_id}/try", expect=422))
    assert "Gateway kompleks tidak didukung; gunakan gateway inklusif." in page
    site.get("/language/en", expect=302)
    page = site.text(site.post(f"/studio/drafts/{draft_id}/try", expect=422))
    assert "Complex gateways are not supported; use an inclusive gateway." in page


def test_the_services_endpoint_lists_the_hosts_services_with_their_parameters(site: Site):
    site.login("admin.kominfo")
    services = {s["name"]: s for s in site.get("/studio/services").get_json()["services"]}
    assert set(ids.SERVICE_OPERATORS) <= set(services)
    assert [p["name"] for p in services["sla_start"]["parameters"]] == ["step", "budget_days"]
    assert "hari kerja" in services["sla_start"]["doc"]  # Indonesian by default


def test_uploading_files_from_another_modeler_makes_a_draft_and_shows_the_check(site: Site):
    site.login("perancang")
    response = site.post("/studio/drafts/upload", {
        "files": [(io.BytesIO(SMALL.encode()), "small.bpmn")], "name": "Dari Camunda"},
        content_type="multipart/form-data", expect=302)
    assert response.headers["Location"].endswith("check=1")
    page = site.text(site.get(response.headers["Location"]))
    assert "Dari Camunda" in page and 'id="draft-deployable"' in page
    draft_id = int(re.search(r"/studio/drafts/(\d+)", response.headers["Location"]).group(1))

    broken = SMALL.replace("x = 1", "x = (")
    site.post(f"/studio/drafts/{draft_id}/files", {
        "files": [(io.BytesIO(broken.encode()), "small.bpmn")], "version": "1"},
        content_type="multipart/form-data", expect=302)
    page = site.text(site.get(f"/studio/drafts/{draft_id}?check=1"))
    assert 'id="draft-not-deployable"' in page and 'data-element-id="work"' in page

    refused = site.post("/studio/drafts/upload", {
        "files": [(io.BytesIO(b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"),
                   "evil.bpmn")]}, content_type="multipart/form-data", expect=422)
    assert "evil.bpmn" in site.text(refused) and "DTD" in site.text(refused)
    stale = site.post(f"/studio/drafts/{draft_id}/files", {
        "files": [(io.BytesIO(SMALL.encode()), "other.bpmn")], "version": "1"},
        content_type="multipart/form-data", expect=409)
    assert "perancang" in site.text(stale)


def test_downloads_give_each_file_and_the_zip_as_attachments(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    site.logout()
    site.login("admin.kominfo")
    one = site.get(f"/studio/drafts/{draft_id}/files/{ids.DEADLINES_DMN_FILE}")
    assert one.headers["Content-Disposition"].startswith("attachment")
    assert b"<definitions" in one.data or b"dmn:definitions" in one.data
    archive = site.get(f"/studio/drafts/{draft_id}/download")
    assert archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as opened:
        assert sorted(opened.namelist()) == sorted(ids.DEPLOYMENT_FILES)
    site.get(f"/studio/drafts/{draft_id}/files/nothing.bpmn", expect=404)


def test_rename_remove_a_file_and_delete_through_the_forms(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    site.post(f"/studio/drafts/{draft_id}/rename", {"name": "Anggaran baru"}, expect=302)
    site.post(f"/studio/drafts/{draft_id}/files/{ids.ROUTING_DMN_FILE}/delete",
              {"version": "1"}, expect=302)
    page = site.text(site.get(f"/studio/drafts/{draft_id}"))
    assert "Anggaran baru" in page and ids.ROUTING_DMN_FILE not in page
    site.post(f"/studio/drafts/{draft_id}/rename", {"name": ""}, expect=422)
    site.post(f"/studio/drafts/{draft_id}/delete", expect=302)
    site.get(f"/studio/drafts/{draft_id}", expect=404)


def test_the_regency_administrator_reads_but_may_not_change(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    site.logout()
    site.login("admin.kominfo")
    page = site.text(site.get(f"/studio/drafts/{draft_id}"))
    assert modeler_contract(page)["read-only"] == "true" and 'id="draft-rename"' not in page
    assert 'id="draft-upload"' not in site.text(site.get("/studio/drafts"))
    assert post_json(site, f"/studio/drafts/{draft_id}/validate", {}).status_code == 200
    for status in write_statuses(site, draft_id):
        assert status == 403


def write_statuses(site: Site, draft_id: int) -> list[int]:
    """The status of every write route of the drafts, with a valid CSRF token."""
    forms = [("/studio/drafts", {"source": f"{ids.PROCESS_ID}:"}),
             ("/studio/drafts/upload", {"files": [(io.BytesIO(SMALL.encode()), "s.bpmn")]}),
             (f"/studio/drafts/{draft_id}/files", {
                 "files": [(io.BytesIO(SMALL.encode()), "s.bpmn")]}),
             (f"/studio/drafts/{draft_id}/files/{ids.ROUTING_DMN_FILE}/delete", {}),
             (f"/studio/drafts/{draft_id}/rename", {"name": "x"}),
             (f"/studio/drafts/{draft_id}/delete", {})]
    statuses = [site.post(url, data, content_type="multipart/form-data").status_code
                for url, data in forms]
    statuses.append(post_json(site, f"/studio/drafts/{draft_id}/save", {
        "version": 1, "files": {"s.bpmn": SMALL}}).status_code)
    return statuses


@pytest.mark.parametrize("username", ["penghubung.pupr", "kadis.kominfo", "sysadmin",
                                      "teknis.binamarga"])
def test_other_roles_get_403_on_every_drafts_route(site: Site, username: str):
    site.login("perancang")
    draft_id = new_draft(site)
    site.logout()
    site.login(username)
    for path in ("/studio/drafts", f"/studio/drafts/{draft_id}",
                 f"/studio/drafts/{draft_id}/files.json", f"/studio/drafts/{draft_id}/download",
                 f"/studio/drafts/{draft_id}/files/{ids.BPMN_FILE}", "/studio/services"):
        site.get(path, expect=403)
    assert post_json(site, f"/studio/drafts/{draft_id}/validate", {}).status_code == 403
    assert write_statuses(site, draft_id) == [403] * 7


def test_state_changing_requests_without_the_csrf_token_are_refused(site: Site):
    site.login("perancang")
    draft_id = new_draft(site)
    for url, data in (("/studio/drafts", {"source": f"{ids.PROCESS_ID}:"}),
                      (f"/studio/drafts/{draft_id}/rename", {"name": "x"}),
                      (f"/studio/drafts/{draft_id}/delete", {})):
        site.post(url, data, csrf=False, expect=400)
    url = f"/studio/drafts/{draft_id}/save"
    body = {"version": 1, "files": {"small.bpmn": SMALL}}
    assert post_json(site, url, body, token=None).status_code == 400
    assert post_json(site, url, body, token="forged").status_code == 400
    assert post_json(site, url, body, header="X-CSRFToken").status_code == 200
    assert site.get(f"/studio/drafts/{draft_id}/files.json").get_json()["draft"]["version"] == 2


def test_visitors_are_sent_to_sign_in(site: Site):
    response = site.get("/studio/drafts", expect=302)
    assert "/login?next=/studio/drafts" in response.headers["Location"]


def test_a_draft_id_beyond_the_databases_is_not_found(site: Site):
    site.login("perancang")
    huge = 2**70
    for path in (f"/studio/drafts/{huge}", f"/studio/drafts/{huge}/files.json",
                 f"/studio/drafts/{huge}/download"):
        site.get(path, expect=404)
    site.post(f"/studio/drafts/{huge}/delete", expect=404)
    assert post_json(site, f"/studio/drafts/{huge}/save", {
        "version": 1, "files": {"small.bpmn": SMALL}}).status_code == 404


def _designer(site):
    from workflows import access

    return access.Principal("perancang", frozenset({"process_designer"}))


def test_a_draft_is_deployed_with_its_note_and_refused_with_its_findings(site):
    """Deploy this draft: a broken draft comes back with its findings (422), a good one is
    version 2 with its note, and new reports start on it."""
    site.login("perancang")
    created = site.post("/studio/drafts", {"source": "complaint_lifecycle:"}, expect=None)
    assert created.status_code in (302, 303), site.text(created)
    draft_id = int(created.headers["Location"].split("/studio/drafts/")[1].split("?")[0])
    draft = site.regency.domain.drafts.get(_designer(site), draft_id)
    refused = site.post(f"/studio/drafts/{draft_id}/deploy", {"note": ""}, expect=422)
    assert "note" in site.text(refused).lower() or "catatan" in site.text(refused).lower()
    broken = draft.files["complaint_lifecycle.bpmn"].replace('"screen_report"',
                                                             '"screen_it"')
    draft = site.regency.domain.drafts.save(_designer(site), draft_id, draft.version,
                                            {**draft.files, "complaint_lifecycle.bpmn": broken})
    refused = site.text(site.post(f"/studio/drafts/{draft_id}/deploy",
                                  {"note": "Rusak"}, expect=422))
    assert 'id="draft-not-deployable"' in refused and "screen_report" in refused
    draft = site.regency.domain.drafts.save(_designer(site), draft_id, draft.version,
                                            {**draft.files, "complaint_lifecycle.bpmn":
                                             broken.replace('"screen_it"', '"screen_report"')})
    bpmn = draft.files["complaint_lifecycle.bpmn"].replace(
        'name="Verifikasi laporan"', 'name="Verifikasi laporan masuk"', 1)
    assert bpmn != draft.files["complaint_lifecycle.bpmn"]
    site.regency.domain.drafts.save(_designer(site), draft_id, draft.version,
                                    {**draft.files, "complaint_lifecycle.bpmn": bpmn})
    done = site.post(f"/studio/drafts/{draft_id}/deploy", {"note": "Label verifikasi"},
                     expect=303)
    assert done.headers["Location"].endswith("/studio/processes/complaint_lifecycle/versions/2")
    versions = site.text(site.get("/studio/processes/complaint_lifecycle/versions"))
    assert "Label verifikasi" in versions
    officer = Site(site.regency).login("penghubung.pupr")
    officer.post(f"/studio/drafts/{draft_id}/deploy", {"note": "x"}, expect=403)


def test_a_draft_is_tried_in_a_scratch_run_and_its_impact_previewed(site):
    """From the draft's page: a scratch run of its files, and the impact preview of its
    deadline table (a cut verification budget shows as a changed budget)."""
    site.regency.submit(photo=True)  # a verification deadline of the period
    site.login("perancang")
    created = site.post("/studio/drafts", {"source": "complaint_lifecycle:"}, expect=None)
    draft_id = int(created.headers["Location"].split("/studio/drafts/")[1].split("?")[0])
    draft = site.regency.domain.drafts.get(_designer(site), draft_id)
    deadlines = draft.files["deadlines.dmn"]
    cut = re.sub(r'(<outputEntry id="rule_verification_output_budget_days">\s*<text>)3(</text>)',
                 r"\g<1>2\g<2>", deadlines)
    assert cut != deadlines
    site.regency.domain.drafts.save(_designer(site), draft_id, draft.version,
                                    {**draft.files, "deadlines.dmn": cut})
    tried = site.post(f"/studio/drafts/{draft_id}/try", {}, expect=303)
    assert "/studio/try/" in tried.headers["Location"]
    impact = site.text(site.post(f"/studio/drafts/{draft_id}/impact", {}, expect=200))
    assert 'id="impact-draft"' in impact and 'id="impact-result"' in impact
    changes = impact[impact.index('id="impact-changes"'):]
    assert "<code>verification</code>" in changes.split("</table>")[0]
    reader = Site(site.regency).login("admin.kominfo")
    reader.post(f"/studio/drafts/{draft_id}/impact", {}, expect=200)
    reader.post(f"/studio/drafts/{draft_id}/try", {}, expect=403)
