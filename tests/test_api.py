"""The JSON API over a demo regency: submit, act, read, errors, and the OpenAPI document."""

from __future__ import annotations

import json

import pytest

from workflows.validation import ACTION_SCHEMAS


def test_a_pothole_report_goes_from_submission_to_closure(regency):
    receipt = regency.submit(photo=True, title="Jalan berlubang di Jl. Provinsi km 5",
                             body="Lubang ±1 m depan SD 012 Waru, motor sering jatuh.",
                             kelurahan="Waru", kecamatan="Waru", latitude=-1.42,
                             longitude=116.6)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    assert tracking.startswith("PPU-2026-") and receipt["status"] == "SUBMITTED"
    report = regency.report(tracking)
    assert report["status_label"]["id"] == "Belum Terverifikasi"
    assert report["sla"]["step"] == "verification"
    assert report["available_actions"][:3] == ["verify", "archive", "request_info"]

    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    assert report["status"] == "DISPOSED" and report["agency"]["code"] == "dinas_pupr"
    tasks = regency.get("/api/v1/tasks", as_="penghubung.pupr")
    assert [t["tracking_number"] for t in tasks] == [tracking]
    assert regency.get("/api/v1/tasks", as_="penghubung.dlh") == []

    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah ditambal.")
    public = regency.get(f"/api/v1/complaints/{tracking}", secret=secret)
    assert public["status"] == "RESPONDED"
    assert "slas" not in public and "open_tasks" not in public
    assert public["available_actions"] == ["reply", "rate"]
    closed = regency.act(tracking, "rate", secret=secret, rating=5, comment="Terima kasih")
    assert closed["status"] == "CLOSED" and closed["rating"] == 5
    statuses = [h["status_to"] for h in closed["history"] if h["kind"] == "status"]
    assert statuses == ["VERIFIED", "DISPOSED", "RESPONDED", "CLOSED"]


def test_every_route_is_in_the_openapi_document_and_back(regency):
    document = regency.get("/api/v1/openapi.json")
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    app = regency.client.application
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule[len("/api/v1"):].replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method, path))
    assert served == documented
    for name in ("verify", "dispose", "respond", "rate", "reassign", "link_duplicate"):
        action = document["paths"][f"/complaints/{{tracking_number}}/actions/{name}"]["post"]
        schema = action["requestBody"]["content"]["application/json"]["schema"]
        assert schema == ACTION_SCHEMAS[name]  # each verb with its own body


def test_bad_input_gets_a_field_error_never_a_500(regency):
    response = regency.client.post("/api/v1/complaints", json={"classification": "gossip"})
    assert response.status_code == 422
    errors = response.get_json()["error"]["field_errors"]
    assert set(errors) >= {"classification", "category", "title", "body"}
    response = regency.client.post("/api/v1/complaints", data="{nope",
                                   content_type="application/json")
    assert response.status_code == 422
    assert "(body)" in response.get_json()["error"]["field_errors"]
    response = regency.client.post("/api/v1/complaints", json={
        "classification": "pengaduan", "category": "roads", "title": "Judul panjang",
        "body": "Isi laporan yang cukup", "reporter_name": "A", "latitude": 95,
        "extra": 1})
    errors = response.get_json()["error"]["field_errors"]
    assert "latitude" in errors and errors["extra"].startswith("unknown field")
    text = regency.client.post("/api/v1/complaints", data={
        "data": '{"classification": "pengaduan", "category": "roads", "title": "Judul x",'
                ' "body": "Isi laporan cukup", "reporter_name": "A"}',
        "attachments": [(__import__("io").BytesIO(b"MZ\x90\x00 not a photo"), "x.exe")]},
        content_type="multipart/form-data")
    assert text.status_code == 422
    assert "attachments[0]" in text.get_json()["error"]["field_errors"]


def test_authentication_and_authorization_errors(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    assert regency.client.get("/api/v1/tasks").status_code == 401
    bad = regency.client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers
    regency.get(f"/api/v1/complaints/{tracking}", secret="wrong", expect=404)
    regency.act(tracking, "verify", as_="penghubung.pupr", expect=404)  # not theirs to see
    regency.act(tracking, "rate", as_="admin.kominfo", rating=5, expect=403)
    regency.act(tracking, "dance", as_="admin.kominfo", expect=404)
    missing = regency.act(tracking, "archive", as_="admin.kominfo", expect=422)
    assert missing["error"]["field_errors"] == {"reason": "this field is required"}
    wrong_state = regency.act(tracking, "respond", as_="admin.kominfo", answer="x",
                              expect=409)
    assert "not possible" in wrong_state["error"]["message"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    unknown = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="nowhere",
                          expect=422)
    assert "agency_code" in unknown["error"]["field_errors"]
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    refused = regency.act(tracking, "archive", as_="kadis.pupr", reason="x", expect=403)
    assert "roles" in refused["error"]["message"]  # theirs to see, not theirs to do
    assert regency.client.get("/api/v1/nothing").status_code == 404


def test_concurrent_verifications_give_one_success_and_one_conflict(regency):
    import threading

    tracking = regency.submit(photo=True)["tracking_number"]
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def verify() -> None:
        client = regency.client.application.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/complaints/{tracking}/actions/verify", json={},
                               headers=regency.headers("admin.kominfo"))
        codes.append(response.status_code)

    threads = [threading.Thread(target=verify) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [200, 409]
    assert [h["status_to"] for h in regency.report(tracking)["history"]
            if h["kind"] == "status"] == ["VERIFIED"]


def test_lists_filter_by_status_agency_and_overdue(regency):
    first = regency.submit(photo=True)["tracking_number"]
    second = regency.submit(photo=True, category="waste")["tracking_number"]
    regency.act(first, "verify", as_="admin.kominfo")
    regency.act(first, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    listing = regency.get("/api/v1/complaints?status=SUBMITTED", as_="admin.kominfo")
    assert [i["tracking_number"] for i in listing["items"]] == [second]
    assert regency.get("/api/v1/complaints?agency=dinas_pupr",
                       as_="admin.kominfo")["total"] == 1
    assert regency.get("/api/v1/complaints", as_="penghubung.pupr")["total"] == 1
    assert regency.get("/api/v1/complaints?overdue=true", as_="admin.kominfo")["total"] == 0
    regency.advance(days=7, hours=1)
    overdue = regency.get("/api/v1/complaints?overdue=true", as_="admin.kominfo")
    assert {i["tracking_number"] for i in overdue["items"]} == {first, second}
    assert regency.get("/api/v1/complaints?since=2026-03-03",
                       as_="admin.kominfo")["total"] == 0
    regency.get("/api/v1/complaints?since=yesterday", as_="admin.kominfo", expect=400)
    agencies = regency.get("/api/v1/agencies")
    assert {"code": "pupr_bina_marga", "name": "Bidang Bina Marga", "kind": "unit",
            "parent": "dinas_pupr"} in agencies


def test_reassign_moves_the_follow_up_to_another_agency(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    report = regency.act(tracking, "reassign", as_="admin.kominfo", agency_code="dinas_pupr",
                         reason="Salah disposisi: jalan, bukan lampu.")
    assert report["agency"]["code"] == "dinas_pupr"
    assert regency.get("/api/v1/tasks", as_="penghubung.dishub") == []
    assert len(regency.get("/api/v1/tasks", as_="penghubung.pupr")) == 1
    regency.act(tracking, "reassign", as_="kadis.dlh", agency_code="dlh", reason="x",
                expect=404)


def test_a_cuti_bersama_added_by_decree_moves_later_deadlines(regency):
    from datetime import date

    regency.domain.calendar.set_day(date(2026, 3, 3), "day_off", "Cuti Bersama (contoh)",
                                    "sysadmin")
    tracking = regency.submit(photo=True)["tracking_number"]
    # Mon 2 Mar 09:00 + 3 working days, Tue 3 Mar off: Fri 6 Mar 09:00
    assert regency.report(tracking)["sla"]["due_at"] == "2026-03-06T09:00:00+08:00"
    calendar = regency.get("/api/v1/calendar?year=2026")
    assert {"day": "2026-03-03", "reason": "Cuti Bersama (contoh)"} in calendar["days_off"]
    regency.get("/api/v1/calendar?year=1800", expect=422)


def test_a_regency_configures_its_ladder():
    import pytest as _pytest

    from workflows.config import RegencyConfig

    short = RegencyConfig(ladder=("technical_officer", "opd", "regency_admin"))
    assert short.rung_index("regency_admin") == 2
    with _pytest.raises(ValueError, match="order"):
        RegencyConfig(ladder=("opd", "technical_officer", "regency_admin"))
    with _pytest.raises(ValueError, match="unknown"):
        RegencyConfig(ladder=("technical_officer", "opd", "regency_admin", "king"))


def test_evidence_is_served_only_to_those_who_may_see_it(regency):
    from tests.regency import PHOTO

    receipt = regency.submit(photo=True, confidential=True)
    tracking = receipt["tracking_number"]
    attachment = regency.report(tracking)["attachments"][0]
    assert attachment["content_type"] == "image/jpeg" and attachment["kind"] == "photo"
    path = f"/api/v1/complaints/{tracking}/attachments/{attachment['id']}"
    response = regency.client.get(path, headers=regency.headers("admin.kominfo"))
    assert response.status_code == 200 and response.data == PHOTO
    assert response.mimetype == "image/jpeg"
    own = regency.client.get(path, headers=regency.headers(secret=receipt["secret"]))
    assert own.status_code == 200
    assert regency.client.get(path, headers=regency.headers("penghubung.dlh")).status_code == 404
    assert regency.client.get(path + "9", headers=regency.headers("admin.kominfo")
                              ).status_code == 404


def test_officers_read_their_in_app_notifications(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    inbox = regency.get("/api/v1/notifications?unread=true", as_="penghubung.pupr")
    assert [n["template"] for n in inbox] == ["task_assigned"]
    assert inbox[0]["tracking_number"] == tracking and tracking in inbox[0]["subject"]
    response = regency.client.post("/api/v1/notifications/read", json={"ids": [inbox[0]["id"]]},
                                   headers=regency.headers("penghubung.pupr"))
    assert response.get_json() == {"marked": 1}
    assert regency.get("/api/v1/notifications?unread=true", as_="penghubung.pupr") == []
    others = regency.client.post("/api/v1/notifications/read", json={"ids": [inbox[0]["id"]]},
                                 headers=regency.headers("penghubung.dlh"))
    assert others.get_json() == {"marked": 0}


def test_the_head_of_diskominfo_oversees_every_opd_but_not_anonim_identities(regency):
    """Escalations of every OPD reach Diskominfo's head: they may open those cases."""
    filed = regency.submit(photo=True, anonymous=True, reporter_name=None,
                           reporter_email=None)
    tracking = filed["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    seen = regency.get(f"/api/v1/complaints/{tracking}", as_="kadis.kominfo")
    assert seen["agency"]["code"] == "dinas_pupr" and seen["reporter"] is None
    listed = regency.get("/api/v1/complaints", as_="kadis.kominfo")
    assert tracking in [item["tracking_number"] for item in listed["items"]]
    regency.get(f"/api/v1/complaints/{tracking}", as_="kadis.dlh", expect=404)


def test_an_anonim_reporter_is_known_to_the_regency_administrator_only(regency):
    """The system administrator runs the machine; they do not handle complaints, and see an
    anonim reporter's identity no more than an agency does."""
    filed = regency.submit(photo=True, anonymous=True, reporter_name="Siti Pelapor",
                           reporter_phone="+62 812 1111 2222")
    tracking = filed["tracking_number"]
    assert regency.get(f"/api/v1/complaints/{tracking}", as_="admin.kominfo")["reporter"][
        "phone"] == "+62 812 1111 2222"
    seen = regency.get(f"/api/v1/complaints/{tracking}", as_="sysadmin")
    assert seen["reporter"] is None
    assert "1111" not in json.dumps(seen)


def test_a_submission_that_fails_uses_up_no_tracking_number(regency, monkeypatch):
    """The tracking number is allocated in the submission's own transaction: a filing that
    fails part way leaves no gap in the year's numbers."""
    from workflows import access

    def broken(secret: str) -> str:
        raise RuntimeError("the disk is full")

    first = regency.submit(photo=True)["tracking_number"]
    monkeypatch.setattr(access, "digest", broken)
    with pytest.raises(RuntimeError):
        regency.domain.reports.submit({
            "classification": "aspirasi", "category": "other", "title": "Taman kota",
            "body": "Mohon taman kota diberi lampu.", "anonymous": True})
    monkeypatch.undo()
    second = regency.submit(photo=True)["tracking_number"]
    assert (first, second) == ("PPU-2026-000001", "PPU-2026-000002")


@pytest.mark.parametrize("action, payload", [
    ("verify", {}), ("dispose", {"agency_code": "dinas_pupr"}),
    ("delegate", {"unit_code": "pupr_bina_marga"}), ("respond", {"answer": "Sudah diperbaiki."}),
    ("provide_info", {"information": "Di depan pasar."}), ("rate", {"rating": 5}),
    ("reopen", {"reason": "Belum diperbaiki."}), ("link_duplicate", {"duplicate_of": "OTHER"}),
    ("reassign", {"agency_code": "dlh", "reason": "Salah tujuan."}),
])
def test_no_verb_confirms_a_report_the_caller_may_not_see(regency, action, payload):
    """Every verb on an invisible report answers exactly as on a number that does not exist."""
    tracking = regency.submit(photo=True)["tracking_number"]
    other = regency.submit(photo=True)
    payload = {k: other["tracking_number"] if v == "OTHER" else v for k, v in payload.items()}
    callers = [("teknis.kebersihan", None), ("penghubung.dlh", None), ("kadis.dlh", None),
               (None, other["secret"])]
    for as_, secret in callers:
        seen = regency.client.post(f"/api/v1/complaints/{tracking}/actions/{action}",
                                   json=payload, headers=regency.headers(as_, secret))
        missing = regency.client.post(f"/api/v1/complaints/PPU-2026-999999/actions/{action}",
                                      json=payload, headers=regency.headers(as_, secret))
        assert (seen.status_code, missing.status_code) == (404, 404), (as_, seen.get_json())
