"""The studio's operations: deploy with a note, versions, instances (masked), incidents and
retry, migration (dry run, apply, refusal) and the audit log; as use cases on each database,
and through the pages with who may do what."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from engine import SourceFile
from tests.diagram import linear, service_task, user_task
from tests.pages import Site
from tests.regency import Regency
from workflows import access
from workflows import diagram_ids as ids
from workflows.errors import Forbidden, Invalid
from workflows.lifecycle import BPMN_DIR
from workflows.models import Complaint
from workflows.studio import DeployRefused, MigrationRefused
from workflows.studio_data import Mask

DESIGNER = access.Principal(username="perancang", roles=frozenset({"process_designer"}))
ADMIN = access.Principal(username="admin.kominfo", roles=frozenset({"regency_admin"}))
OFFICER = access.Principal(username="teknis.binamarga", roles=frozenset({"technical_officer"}))
NEW_LABEL = "Verifikasi dan periksa laporan"


def lifecycle_files(label: str | None = None) -> dict[str, str]:
    """The shipped lifecycle unit; with `label`, the verification task renamed (not its id)."""
    files = {name: (BPMN_DIR / name).read_text(encoding="utf-8")
             for name in ids.DEPLOYMENT_FILES}
    if label is not None:
        old = '<bpmn:userTask id="screen_report" name="Verifikasi laporan">'
        assert old in files[ids.BPMN_FILE]
        files[ids.BPMN_FILE] = files[ids.BPMN_FILE].replace(
            old, f'<bpmn:userTask id="screen_report" name="{label}">')
    return files


def instance_of(regency: Regency, tracking: str) -> int:
    with regency.reads() as session:
        return session.query(Complaint.instance_id).filter_by(
            tracking_number=tracking).scalar()


# --------------------------------------------------------------------------- use cases


def test_a_deploy_with_its_note_is_the_next_version_and_new_reports_start_on_it(
        regency: Regency):
    studio = regency.domain.studio
    old = regency.submit()["tracking_number"]
    done = studio.deploy(lifecycle_files(NEW_LABEL), "Label verifikasi diperjelas", DESIGNER,
                         process_id=ids.PROCESS_ID)
    assert (done["version"], done["created"]) == (2, True)
    new = regency.submit()["tracking_number"]
    listed = studio.versions(ids.PROCESS_ID, ADMIN)
    v2, v1 = listed["versions"]
    assert (v2["version"], v2["deployed_by"], v2["note"], v2["open_instances"]) == (
        2, "perancang", "Label verifikasi diperjelas", 1)
    assert (v1["version"], v1["open_instances"]) == (1, 1)
    assert regency.engine.instance(instance_of(regency, old))["definition_version"] == 1
    assert regency.engine.instance(instance_of(regency, new))["definition_version"] == 2
    assert regency.engine.tasks(instance_id=instance_of(regency, new))[0]["title"] == NEW_LABEL
    shown = studio.version(ids.PROCESS_ID, 2, ADMIN)
    assert NEW_LABEL in shown["files"][ids.BPMN_FILE]
    assert NEW_LABEL in studio.version_diagram(ids.PROCESS_ID, 2, ADMIN)["xml"]


def test_identical_files_keep_their_version_and_say_so(regency: Regency):
    done = regency.domain.studio.deploy(lifecycle_files(), "nothing changed", DESIGNER)
    assert (done["version"], done["created"]) == (1, False)
    assert [v["version"] for v in regency.engine.definitions()] == [1]


def test_a_deploy_needs_a_note_and_deployable_files_and_a_designer(regency: Regency):
    studio = regency.domain.studio
    with pytest.raises(Invalid) as refused:
        studio.deploy({}, "   ", DESIGNER)
    assert set(refused.value.field_errors) == {"note", "files"}
    with pytest.raises(Invalid) as refused:
        studio.deploy({"notes.txt": "hello"}, "a note", DESIGNER)
    assert "notes.txt" in str(refused.value.field_errors["files"])
    with pytest.raises(Forbidden):
        studio.deploy(lifecycle_files(NEW_LABEL), "a note", ADMIN)
    with pytest.raises(Forbidden):
        studio.versions(ids.PROCESS_ID, OFFICER)
    assert [v["version"] for v in regency.engine.definitions()] == [1]


def test_the_engines_findings_come_back_to_the_deployer(regency: Regency):
    broken = linear("broken", service_task("call", "no_such_service", {}, "x"))
    broken = broken.replace('id="call"', 'id="call" name="Call"')
    with pytest.raises(DeployRefused) as refused:
        regency.domain.studio.deploy({"broken.bpmn": broken.replace("</bpmn:process>", "")},
                                     "a note", DESIGNER)
    findings = refused.value.findings
    assert findings and all({"file", "element_id", "severity", "message"} <= f.keys()
                            for f in findings)
    assert findings[0]["file"] == "broken.bpmn"


def test_a_dry_run_then_migrating_one_running_report_moves_it_and_it_carries_on(
        regency: Regency):
    studio = regency.domain.studio
    first = regency.submit(photo=True)["tracking_number"]
    second = regency.submit()["tracking_number"]
    moved, stays = instance_of(regency, first), instance_of(regency, second)
    studio.deploy(lifecycle_files(NEW_LABEL), "Label verifikasi diperjelas", DESIGNER)

    plan = studio.plan_migration(DESIGNER, ids.PROCESS_ID, 2, instance_ids=[moved])
    assert [i["instance_id"] for i in plan["instances"]] == [moved]
    (entry,) = plan["instances"]
    assert entry["safe"] and entry["problems"] == [] and entry["business_key"] == first
    assert "screen_report" in entry["changed_elements"]
    assert "screen_report" in entry["active_elements"]
    assert regency.engine.instance(moved)["definition_version"] == 1  # a dry run moves none

    with pytest.raises(Invalid) as refused:
        studio.migrate(DESIGNER, ids.PROCESS_ID, 2, note="", instance_ids=[moved])
    assert set(refused.value.field_errors) == {"note"}
    with pytest.raises(Forbidden):
        studio.migrate(ADMIN, ids.PROCESS_ID, 2, note="x", instance_ids=[moved])

    report = studio.migrate(DESIGNER, ids.PROCESS_ID, 2, note="Pindahkan satu laporan",
                            instance_ids=[moved])
    assert report["migrated"] == 1
    assert regency.engine.instance(moved)["definition_version"] == 2
    assert regency.engine.instance(stays)["definition_version"] == 1
    assert regency.engine.tasks(instance_id=moved)[0]["title"] == NEW_LABEL
    # it carries on: the verifier verifies it and it goes to disposition
    regency.act(first, "verify", as_="admin.kominfo")
    assert [t["element_id"] for t in regency.engine.tasks(instance_id=moved)] == [
        ids.DISPOSE_REPORT]
    assert regency.engine.instance(moved)["status"] == "running"

    entries = studio.audit(ADMIN)["entries"]
    assert [(e["kind"], e["to_version"]) for e in entries[:2]] == [("migrate", 2),
                                                                   ("deploy", 2)]
    migration = entries[0]
    assert (migration["actor"], migration["note"], migration["instances"],
            migration["from_versions"]) == ("perancang", "Pindahkan satu laporan", [moved], [1])
    assert entries[1]["note"] == "Label verifikasi diperjelas"


def test_an_instance_that_cannot_move_is_refused_and_named_and_nothing_moves(
        regency: Regency):
    engine = regency.engine
    engine.deploy([SourceFile("two.bpmn", linear("two", user_task("first"),
                                                 user_task("second")))])
    at_first = engine.start("two", business_key="TWO-1")
    at_second = engine.start("two", business_key="TWO-2")
    engine.complete(engine.tasks(instance_id=at_second.id)[0]["id"])
    regency.domain.studio.deploy({"two.bpmn": linear("two", user_task("first"))},
                                 "second step dropped", DESIGNER, process_id="two")
    plan = regency.domain.studio.plan_migration(DESIGNER, "two", 2)
    safe = {i["business_key"]: i["safe"] for i in plan["instances"]}
    assert safe == {"TWO-1": True, "TWO-2": False}
    with pytest.raises(MigrationRefused) as refused:
        regency.domain.studio.migrate(DESIGNER, "two", 2, note="try all",
                                      instance_ids=[at_first.id, at_second.id])
    assert "TWO-2" in str(refused.value) and "TWO-1" not in str(refused.value)
    assert refused.value.report["migrated"] == 0
    assert {engine.instance(i)["definition_version"] for i in (at_first.id, at_second.id)} == {1}
    done = regency.domain.studio.migrate(DESIGNER, "two", 2, note="the safe one",
                                         instance_ids=[at_first.id])
    assert done["migrated"] == 1 and engine.instance(at_first.id)["definition_version"] == 2
    engine.complete(engine.tasks(instance_id=at_first.id)[0]["id"])
    assert engine.instance(at_first.id)["status"] == "completed"


def test_an_instance_whose_completed_element_is_gone_is_refused_not_broken(
        regency: Regency):
    """Spiff keeps a completed task's element in the saved state: moved to a version without
    it, the instance could never be loaded again. The dry run said safe; now it refuses."""
    engine = regency.engine
    engine.deploy([SourceFile("two.bpmn", linear("two", user_task("first"),
                                                 user_task("second")))])
    past_first = engine.start("two", business_key="TWO-3")
    engine.complete(engine.tasks(instance_id=past_first.id)[0]["id"])
    regency.domain.studio.deploy({"two.bpmn": linear("two", user_task("second"))},
                                 "first step dropped", DESIGNER, process_id="two")
    (entry,) = regency.domain.studio.plan_migration(DESIGNER, "two", 2)["instances"]
    assert not entry["safe"] and "'first' was completed" in entry["problems"][0]
    with pytest.raises(MigrationRefused):
        regency.domain.studio.migrate(DESIGNER, "two", 2, note="n")
    assert engine.instance(past_first.id)["tasks"][0]["element_id"] == "second"


def test_an_instances_data_and_trail_are_masked_by_the_reports_access_rules(
        regency: Regency):
    receipt = regency.submit(confidential=True, anonymous=True)
    tracking = receipt["tracking_number"]
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Alamat rumah pelapor")
    instance_id = instance_of(regency, tracking)
    studio = regency.domain.studio

    seen_by_designer = studio.instance(instance_id, DESIGNER)
    assert seen_by_designer["data"]["reason"] == access.HIDDEN
    assert seen_by_designer["masked"]
    assert "Alamat rumah pelapor" not in repr(seen_by_designer)
    assert seen_by_designer["data"]["tracking_number"] == tracking
    seen_by_admin = studio.instance(instance_id, ADMIN)
    assert seen_by_admin["data"]["reason"] == "Alamat rumah pelapor"
    assert "Alamat rumah pelapor" in repr(seen_by_admin["events"])
    assert seen_by_admin["states"]["current"] == [ids.PROVIDE_INFORMATION]
    assert seen_by_admin["timers"] and all(t["due_at"] for t in seen_by_admin["timers"])

    # a report that is not rahasia shows its content to every reader, as its list does
    plain = regency.submit()["tracking_number"]
    regency.act(plain, "request_info", as_="admin.kominfo", reason="Foto jalannya")
    assert studio.instance(instance_of(regency, plain), DESIGNER)["data"]["reason"] == (
        "Foto jalannya")


def test_secrets_are_never_shown_and_an_anonim_reporter_only_to_the_regency_administrator(
        regency: Regency):
    regency.engine.deploy([SourceFile("keep.bpmn", linear("keep", user_task("wait")))])
    started = regency.engine.start("keep", {"api_token": "tok-123", "secret_hash": "abc",
                                            "nested": {"password": "pw"}, "count": 3})
    for reader in (DESIGNER, ADMIN):
        data = regency.domain.studio.instance(started.id, reader)["data"]
        assert data == {"api_token": "[secret]", "secret_hash": "[secret]",
                        "nested": {"password": "[secret]"}, "count": 3}
    anonim = Complaint(tracking_number="X", anonymous=True, confidential=False)
    data = {"reporter_name": "Budi", "answer": "ok"}
    assert Mask.for_report(DESIGNER, anonim).data(data) == {
        "reporter_name": access.HIDDEN, "answer": "ok"}
    assert Mask.for_report(ADMIN, anonim).data(data) == data


def test_instances_are_searched_by_tracking_number_filtered_by_version_and_paged(
        regency: Regency, monkeypatch: pytest.MonkeyPatch):
    import workflows.studio

    numbers = [regency.submit()["tracking_number"] for _ in range(3)]
    regency.domain.studio.deploy(lifecycle_files(NEW_LABEL), "v2", DESIGNER)
    newest = regency.submit()["tracking_number"]
    studio = regency.domain.studio
    found = studio.instances(ADMIN, q=numbers[1][-6:].lower())
    assert [i["business_key"] for i in found["instances"]] == [numbers[1]]
    found = studio.instances(ADMIN, process_id=ids.PROCESS_ID, version=2)
    assert [i["business_key"] for i in found["instances"]] == [newest]
    monkeypatch.setattr(workflows.studio, "PAGE_SIZE", 3)
    second = studio.instances(ADMIN, process_id=ids.PROCESS_ID, page=2)
    assert (second["total"], second["pages"], [i["business_key"] for i in second[
        "instances"]]) == (4, 2, [numbers[0]])


def test_a_designer_retries_an_incident_once_its_cause_is_fixed(regency: Regency):
    engine = regency.engine
    engine.deploy([SourceFile("svc.bpmn", linear(
        "svc", service_task("ask", "directory_lookup", {"code": "'x'"}, "found"),
        user_task("after")))])
    failed = engine.start("svc")
    incidents = regency.domain.studio.incidents(ADMIN)["incidents"]
    assert [(i["instance_id"], i["element_id"]) for i in incidents] == [(failed.id, "ask")]
    with pytest.raises(Forbidden):
        regency.domain.studio.retry(failed.id, ADMIN)
    engine.register_service("directory_lookup", lambda code: {"code": code})
    assert regency.domain.studio.retry(failed.id, DESIGNER)["status"] == "running"
    assert regency.domain.studio.incidents(ADMIN)["incidents"] == []
    assert [t["element_id"] for t in engine.tasks(instance_id=failed.id)] == ["after"]


# --------------------------------------------------------------------------- pages


def routes(site: Site) -> list[str]:
    instance_id = instance_of(site.regency, site.regency.submit()["tracking_number"])
    pid = ids.PROCESS_ID
    return ["/studio/processes/complaint_lifecycle/versions",
            f"/studio/processes/{pid}/versions/1",
            f"/studio/processes/{pid}/versions/1/diagram.json",
            f"/studio/processes/{pid}/versions/1/files/{ids.BPMN_FILE}",
            "/studio/instances", f"/studio/instances?process={pid}&version=1&q=PPU",
            f"/studio/instances/{instance_id}", f"/studio/instances/{instance_id}/diagram.json",
            "/studio/incidents", "/studio/migrations", "/studio/audit"]


def actions(instance_id: int = 1) -> list[tuple[str, dict[str, Any]]]:
    return [(f"/studio/processes/{ids.PROCESS_ID}/versions", {"note": "n"}),
            (f"/studio/incidents/{instance_id}/retry", {}),
            ("/studio/migrations", {"process": ids.PROCESS_ID, "to_version": "1",
                                    "action": "dry_run"}),
            ("/studio/migrations", {"process": ids.PROCESS_ID, "to_version": "1",
                                    "action": "apply", "note": "n", "scope": "selected",
                                    "instance": "1"})]


def test_designers_and_regency_administrators_read_every_studio_page(site: Site):
    paths = routes(site)
    for username in ("perancang", "admin.kominfo"):
        site.login(username)
        for path in paths:
            response = site.get(path)
            if path.endswith(".json"):
                assert "<bpmn:definitions" in response.get_json()["xml"]
        page = site.text(site.get("/studio"))
        assert 'href="/studio/processes/complaint_lifecycle/versions"' in page
        for link in ("/studio/instances", "/studio/incidents", "/studio/migrations",
                     "/studio/audit"):
            assert f'href="{link}"' in page
        site.logout()


@pytest.mark.parametrize("username", ["penghubung.pupr", "kadis.kominfo", "sysadmin",
                                      "teknis.binamarga"])
def test_other_roles_get_403_on_every_studio_route_and_action(site: Site, username: str):
    paths = routes(site)
    site.login(username)
    for path in paths:
        site.get(path, expect=403)
    for path, form in actions():
        site.post(path, form, expect=403)


def test_the_regency_administrator_gets_403_on_every_action(site: Site):
    site.login("admin.kominfo")
    site.get("/studio")
    for path, form in actions():
        site.post(path, form, expect=403)
    response = site.post(f"/studio/processes/{ids.PROCESS_ID}/versions", {
        "note": "a note", "files": [(io.BytesIO(lifecycle_files(NEW_LABEL)[ids.BPMN_FILE]
                                                .encode()), ids.BPMN_FILE)]},
        content_type="multipart/form-data")
    assert response.status_code == 403
    assert [v["version"] for v in site.regency.engine.definitions()] == [1]


def test_studio_forms_without_the_csrf_token_are_refused(site: Site):
    site.login("perancang")
    for path, form in actions():
        site.post(path, form, csrf=False, expect=400)


def upload(files: dict[str, str]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(text.encode("utf-8")), name) for name, text in files.items()]


def test_a_designer_deploys_from_the_versions_page(site: Site):
    site.login("perancang")
    path = f"/studio/processes/{ids.PROCESS_ID}/versions"
    site.get(path)
    missing = site.post(path, {"note": "", "files": upload(lifecycle_files(NEW_LABEL))},
                        content_type="multipart/form-data", expect=422)
    assert 'id="e-note"' in site.text(missing)
    broken = site.post(path, {"note": "rusak", "files": upload(
        {ids.BPMN_FILE: "<bpmn:definitions"})}, content_type="multipart/form-data",
        expect=422)
    assert 'id="deploy-findings"' in site.text(broken)
    assert "complaint_lifecycle.bpmn" in site.text(broken)

    done = site.post(path, {"note": "Label verifikasi diperjelas",
                            "files": upload(lifecycle_files(NEW_LABEL))},
                     content_type="multipart/form-data", expect=303)
    assert done.headers["Location"].endswith(f"{path}/2")
    page = site.text(site.get(f"{path}/2"))
    assert "Label verifikasi diperjelas" in page and "Versi 2 sudah dipasang" in page
    listing = site.text(site.get(path))
    assert 'id="version-2"' in listing and "perancang" in listing
    again = site.post(path, {"note": "lagi", "files": upload(lifecycle_files(NEW_LABEL))},
                      content_type="multipart/form-data", expect=303)
    assert "identik dengan versi 2" in site.text(site.get(again.headers["Location"]))


def test_the_versions_page_says_the_engines_deploy_findings_in_the_designers_language(
        site: Site):
    site.login("perancang")
    path = f"/studio/processes/{ids.PROCESS_ID}/versions"
    form = {"note": "rusak", "files": upload({ids.BPMN_FILE: "<bpmn:definitions"})}
    page = site.text(site.post(path, form, content_type="multipart/form-data", expect=422))
    # libxml2's own words are quoted; the sentence around them is Indonesian
    assert "XML tidak tersusun dengan benar (baris 1; pesan pembaca XML: " in page
    assert "perbaiki berkas atau ekspor ulang dari modeler." in page
    assert "not well-formed" not in page
    site.get("/language/en", expect=302)
    form = {"note": "broken", "files": upload({ids.BPMN_FILE: "<bpmn:definitions"})}
    page = site.text(site.post(path, form, content_type="multipart/form-data", expect=422))
    assert "Not well-formed XML (line 1): " in page
    assert "fix the file or export it again from the modeler." in page


def test_a_designer_migrates_a_running_report_from_the_migration_page(site: Site):
    regency = site.regency
    tracking = regency.submit(photo=True)["tracking_number"]
    instance_id = instance_of(regency, tracking)
    regency.domain.studio.deploy(lifecycle_files(NEW_LABEL), "v2", DESIGNER)
    site.login("perancang")
    site.get("/studio/migrations")
    planned = site.text(site.post("/studio/migrations", {
        "process": ids.PROCESS_ID, "from_version": "1", "to_version": "2",
        "action": "dry_run"}, expect=200))
    row = re.search(rf'<tr id="plan-{instance_id}" class="([^"]+)"', planned)
    assert row and row.group(1) == "plan-safe"
    assert "screen_report" in planned
    no_note = site.post("/studio/migrations", {
        "process": ids.PROCESS_ID, "to_version": "2", "scope": "selected",
        "instance": str(instance_id), "action": "apply", "note": ""}, expect=422)
    assert 'id="e-note"' in site.text(no_note) and f'id="plan-{instance_id}"' in site.text(
        no_note)
    site.post("/studio/migrations", {
        "process": ids.PROCESS_ID, "to_version": "2", "scope": "selected",
        "instance": str(instance_id), "action": "apply", "note": "Pindah ke versi 2"},
        expect=303)
    assert regency.engine.instance(instance_id)["definition_version"] == 2
    audit = site.text(site.get("/studio/audit"))
    assert "Pindah ke versi 2" in audit and "perancang" in audit
    shown = site.text(site.get(f"/studio/instances/{instance_id}"))
    assert "versi 2" in shown and NEW_LABEL in site.text(site.get(
        f"/studio/processes/{ids.PROCESS_ID}/versions/2/diagram.json"))
    regency.act(tracking, "verify", as_="admin.kominfo")
    assert regency.engine.tasks(instance_id=instance_id)[0]["element_id"] == (
        ids.DISPOSE_REPORT)


def test_a_designer_retries_an_incident_from_the_incidents_page(site: Site):
    engine = site.regency.engine
    engine.deploy([SourceFile("svc.bpmn", linear(
        "svc", service_task("ask", "directory_lookup", {"code": "'x'"}, "found"),
        user_task("after")))])
    failed = engine.start("svc")
    site.login("perancang")
    page = site.text(site.get("/studio/incidents"))
    assert f'id="incident-{failed.id}"' in page and "directory_lookup" in page
    engine.register_service("directory_lookup", lambda code: {"code": code})
    done = site.post(f"/studio/incidents/{failed.id}/retry", expect=303)
    assert done.headers["Location"].endswith("/studio/incidents")
    assert 'id="no-incidents"' in site.text(site.get("/studio/incidents"))
    assert engine.instance(failed.id)["status"] == "running"


def test_the_instance_page_hides_a_rahasia_reports_content_from_the_designer(site: Site):
    regency = site.regency
    tracking = regency.submit(confidential=True)["tracking_number"]
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Nomor rumah 12")
    path = f"/studio/instances/{instance_of(regency, tracking)}"
    site.login("perancang")
    page = site.text(site.get(path))
    assert "Nomor rumah 12" not in page and "[rahasia]" in page
    assert 'id="instance-masked"' in page
    site.logout()
    site.login("admin.kominfo")
    assert "Nomor rumah 12" in site.text(site.get(path))


def test_bad_list_parameters_are_named_not_a_500(site: Site):
    site.login("perancang")
    site.get("/studio/migrations")
    for form, field in (({"process": "nope", "to_version": "1"}, "f-process"),
                        ({"process": ids.PROCESS_ID, "to_version": "9"}, "f-to_version"),
                        ({"process": ids.PROCESS_ID, "to_version": "x"}, "f-to_version")):
        refused = site.post("/studio/migrations", {**form, "action": "dry_run"}, expect=422)
        assert f'href="#{field}"' in site.text(refused)
    response = site.get("/studio/instances?version=abc&page=0", expect=400)
    page = site.text(response)
    assert "version" in page and "page" in page
