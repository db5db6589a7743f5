"""The officers' desk through the pages: the notification centre, internal notes, giving a
task to a colleague, and the case page's fixed defects (issue 16, "Officers")."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select, text

from tests.regency import PHOTO
from tests.test_pages_staff import disposed, task_id, version_on
from workflows import notify
from workflows.models import Outbox, User

NOTE = "Cek lapangan Senin; koordinasi dengan Bina Marga (jangan dikirim ke pelapor)."


def region(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag."""
    start = page.index(f'id="{element_id}"')
    tag = page.rfind("<", 0, start)
    name = re.match(r"<(\w+)", page[tag:]).group(1)
    return page[tag:page.index(f"</{name}>", start)]


def unread_badge(page: str) -> str:
    return re.search(r'id="unread-count">(\d+)<', page).group(1)


def add_user(site, username: str, roles: list[str], agency: str) -> None:
    from workflows.users import create_user

    with site.regency.transaction() as session:
        create_user(session, site.regency.domain.context.passwords, username=username,
                    full_name=username.title(), roles=roles, agency_code=agency,
                    now=site.regency.clock.now(), password="aduan-demo-2026")


# --------------------------------------------------------------------------- notifications


def test_the_notification_centre_counts_lists_links_and_marks_read(site):
    tracking = site.regency.submit(photo=True, title="Jalan amblas di Sepaku")["tracking_number"]
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    assert unread_badge(page) == "1"  # the screening task, in the navigation bar
    page = site.text(site.get("/notifications"))
    listed = region(page, "notifications")
    assert "Tugas baru" in listed and f'href="/cases/{tracking}"' in listed
    assert "Jalan amblas di Sepaku" in listed and "baru</span>" in listed
    [number] = re.findall(r'id="read-(\d+)"', page)

    # someone else's notification is not theirs to mark
    other = type(site)(site.regency).login("penghubung.pupr")
    other.post(f"/notifications/{number}/read", expect=404)
    other.post("/notifications/99999999999999/read", expect=404)

    response = site.post(f"/notifications/{number}/read", {"next": "/notifications"},
                         expect=303)
    assert response.headers["Location"] == "/notifications"
    page = site.text(site.get("/notifications"))
    assert unread_badge(page) == "0" and 'id="read-all"' not in page
    assert f'href="/cases/{tracking}"' in page  # still listed, read
    site.get("/language/en", expect=302)
    page = site.text(site.get("/notifications"))
    assert "New task" in page and "0 unread notifications" in page


def test_notifications_are_paged_newest_first_and_all_marked_read_at_once(site):
    regency = site.regency
    with regency.transaction() as session:
        user = session.scalars(select(User).where(User.username == "penghubung.dlh")).one()
        for n in range(1, 26):
            notify.to_users(session, [user], None, "sla_reminder", regency.clock.now(), {
                "tracking_number": f"PPU-2026-{n:06d}", "title": f"Laporan {n}",
                "step_label": "tindak lanjut", "due_local": "10-03-2026 00:00"})
    site.login("penghubung.dlh")
    first = site.text(site.get("/notifications"))
    assert unread_badge(first) == "25" and len(re.findall(r'id="read-\d', first)) == 20
    assert first.index("PPU-2026-000025") < first.index("PPU-2026-000024")
    assert "PPU-2026-000005" not in first and "Halaman 1 dari 2" in first
    second = site.text(site.get("/notifications?page=2"))
    assert "PPU-2026-000005" in second and "PPU-2026-000006" not in second
    site.post("/notifications/read-all", {"next": "/notifications?page=2"}, expect=303)
    page = site.text(site.get("/notifications?show=unread"))
    assert unread_badge(page) == "0" and 'id="notifications-empty"' in page
    assert "25 notifikasi ditandai sudah dibaca." in page
    with regency.reads() as session:
        assert session.scalar(select(Outbox.id).where(
            Outbox.channel == "inapp", Outbox.status == "unread",
            Outbox.recipient == "penghubung.dlh")) is None


def test_the_unread_count_is_read_through_the_inbox_index(site):
    """Every page counts: the count must stay one index range as the outbox grows."""
    with site.regency.reads() as session:
        plan = " ".join(str(row) for row in session.execute(text(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM outbox WHERE user_id = 5 AND "
            "channel = 'inapp' AND status = 'unread'")))
    assert "ix_outbox_inbox" in plan and "SCAN outbox" not in plan, plan


def test_who_may_use_the_desk(site):
    tracking = disposed(site)
    task = task_id(site, tracking)
    for path in ("/notifications",):
        assert site.get(path, expect=302).headers["Location"].startswith("/login")
    for path in ("/notifications/1/read", "/notifications/read-all",
                 f"/cases/{tracking}/notes", f"/tasks/{task}/give"):
        assert site.post(path, {"note": "x"}, expect=302).headers["Location"].startswith(
            "/login")
    site.login("perancang")  # a process designer: not an officer
    site.get("/notifications", expect=403)
    site.post("/notifications/read-all", expect=403)
    site.post(f"/cases/{tracking}/notes", {"note": "x"}, expect=403)
    site.post(f"/tasks/{task}/give", {"assignee": "penghubung.pupr"}, expect=403)
    assert 'id="unread-count"' not in site.text(site.get("/studio"))
    officer = type(site)(site.regency).login("penghubung.pupr")
    officer.post(f"/cases/{tracking}/notes", {"note": "x"}, csrf=False, expect=400)
    officer.post("/notifications/read-all", csrf=False, expect=400)


# --------------------------------------------------------------------------- notes


def test_an_internal_note_is_in_the_case_history_for_staff_only(site):
    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    site.login("penghubung.pupr")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    response = site.post(f"/cases/{tracking}/notes", {"note": NOTE}, expect=303)
    assert response.headers["Location"] == f"/cases/{tracking}#history"
    page = site.text(site.get(f"/cases/{tracking}"))
    history = region(page, "case-history")
    assert NOTE in history and "Catatan internal" in history and ">internal</span>" in history
    # a step the citizen reads as its status change is not flagged (no officer's text on it)
    verified = next(entry for entry in history.split('<li class="timeline-item')
                    if 'data-kind="verify"' in entry)
    assert ">internal</span>" not in verified
    assert version_on(page) == version  # a note does not make open forms stale
    # the agency's head sees it too; another agency cannot open the case at all
    head = type(site)(regency).login("kadis.pupr")
    assert NOTE in head.text(head.get(f"/cases/{tracking}"))
    outsider = type(site)(regency).login("penghubung.dlh")
    outsider.post(f"/cases/{tracking}/notes", {"note": "saya juga"}, expect=404)

    # the answer that follows tells the complainant, without the note
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah kami tambal.")
    # never to the citizen: the API with the secret, the tracking page, Open311, messages
    public = regency.get(f"/api/v1/complaints/{tracking}", secret=secret)
    assert NOTE not in str(public) and "note" not in {h["kind"] for h in public["history"]}
    citizen = type(site)(regency)
    citizen.get(f"/lacak/{tracking}?k={secret}", expect=303)
    tracking_page = citizen.text(citizen.get(f"/lacak/{tracking}"))
    assert "Sudah kami tambal." in tracking_page and NOTE not in tracking_page
    assert "Catatan internal" not in tracking_page
    open311 = regency.client.get(f"/open311/v2/requests/{tracking}.json")
    assert open311.status_code == 200 and NOTE not in open311.get_data(as_text=True)
    listed = regency.client.get("/open311/v2/requests.json")
    assert NOTE not in listed.get_data(as_text=True)
    with regency.reads() as session:
        messages = session.scalars(select(Outbox.payload).where(
            Outbox.user_id.is_(None))).all()
    assert messages and all(NOTE not in str(payload) for payload in messages)


def test_a_note_that_is_empty_or_too_long_is_refused_by_name(site):
    tracking = disposed(site)
    site.login("penghubung.pupr")
    empty = site.text(site.post(f"/cases/{tracking}/notes", {"note": "   "}, expect=422))
    assert 'id="f-note-error"' in empty and "Tulis catatan" in region(empty, "f-note-error")
    long = site.text(site.post(f"/cases/{tracking}/notes", {"note": "x" * 2001}, expect=422))
    assert "2000" in region(long, "f-note-error") and "x" * 2001 in region(long, "f-note")
    # the page answering the POST puts the case's own address back in the address bar
    assert f'<link rel="canonical" href="/cases/{tracking}" data-replace-address>' in long


# --------------------------------------------------------------------------- giving a task


def test_a_task_is_given_to_a_named_colleague_of_its_group(site):
    regency = site.regency
    add_user(site, "penghubung2.pupr", ["liaison_officer"], "dinas_pupr")
    tracking = disposed(site)
    task = task_id(site, tracking)
    site.login("penghubung.pupr")
    site.post(f"/tasks/{task}/claim", expect=303)
    page = site.text(site.get(f"/cases/{tracking}"))
    give = region(page, "give-follow_up")
    choices = region(page, "give-to-follow_up")
    assert 'value="penghubung2.pupr"' in choices and 'value="penghubung.pupr"' not in choices
    assert 'name="expected" value="penghubung.pupr"' in give
    response = site.post(f"/tasks/{task}/give", {
        "assignee": "penghubung2.pupr", "expected": "penghubung.pupr",
        "next": f"/cases/{tracking}"}, expect=303)
    assert response.headers["Location"] == f"/cases/{tracking}"
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Diambil oleh penghubung2.pupr" in page
    assert "Tugas diserahkan kepada penghubung2.pupr" in region(page, "case-history")
    assert regency.engine.task(task)["assignee"] == "penghubung2.pupr"
    colleague = type(site)(regency).login("penghubung2.pupr")
    inbox = colleague.text(colleague.get("/notifications"))
    # the new task when it reached the agency, and the task given by name
    assert unread_badge(inbox) == "2" and "Tugas diserahkan kepada Anda" in inbox
    assert "Tugas untuk Anda dari penghubung.pupr" in inbox

    # the same (now stale) form again: 409, nothing changed
    stale = site.post(f"/tasks/{task}/give", {
        "assignee": "penghubung2.pupr", "expected": "penghubung.pupr",
        "next": f"/cases/{tracking}"}, expect=409)
    assert "Seseorang mengubah tugas ini" in site.text(stale)
    stale = site.post(f"/tasks/{task}/give", {"assignee": "penghubung.pupr", "expected": "",
                                              "next": f"/cases/{tracking}"}, expect=409)
    assert regency.engine.task(task)["assignee"] == "penghubung2.pupr"
    # only to a member of the group: the agency's head is not one (422, named)
    wrong = site.post(f"/tasks/{task}/give", {
        "assignee": "kadis.pupr", "expected": "penghubung2.pupr",
        "next": f"/cases/{tracking}"}, expect=422)
    assert "pilih rekan dari kelompok tugas ini" in site.text(wrong).lower()
    # a non-member may not give it; the regency administrator may
    outsider = type(site)(regency).login("penghubung.dlh")
    outsider.post(f"/tasks/{task}/give", {"assignee": "penghubung.pupr",
                                          "expected": "penghubung2.pupr"}, expect=403)
    head = type(site)(regency).login("kadis.pupr")
    assert 'id="give-follow_up"' not in head.text(head.get(f"/cases/{tracking}"))
    head.post(f"/tasks/{task}/give", {"assignee": "penghubung.pupr",
                                      "expected": "penghubung2.pupr"}, expect=403)
    from_worklist = site.post(f"/tasks/{task}/give", {
        "assignee": "penghubung2.pupr", "expected": "", "next": "/tasks"}, expect=409)
    assert 'id="worklist-status"' in site.text(from_worklist)
    admin = type(site)(regency).login("admin.kominfo")
    admin.post(f"/tasks/{task}/give", {"assignee": "penghubung.pupr",
                                       "expected": "penghubung2.pupr",
                                       "next": "/tasks"}, expect=303)
    assert regency.engine.task(task)["assignee"] == "penghubung.pupr"


def test_two_officers_giving_one_task_at_once_never_both_succeed(site):
    add_user(site, "penghubung2.pupr", ["liaison_officer"], "dinas_pupr")
    add_user(site, "penghubung3.pupr", ["liaison_officer"], "dinas_pupr")
    tracking = disposed(site)
    task = task_id(site, tracking)
    first = type(site)(site.regency).login("penghubung.pupr")
    second = type(site)(site.regency).login("penghubung3.pupr")
    form = {"expected": "", "next": f"/cases/{tracking}"}
    one = first.post(f"/tasks/{task}/give", {**form, "assignee": "penghubung2.pupr"})
    two = second.post(f"/tasks/{task}/give", {**form, "assignee": "penghubung.pupr"})
    assert sorted([one.status_code, two.status_code]) == [303, 409]
    assert site.regency.engine.task(task)["assignee"] == "penghubung2.pupr"


# --------------------------------------------------------------------------- defects


def test_a_claims_answer_carries_the_filters_counts(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    task = task_id(site, tracking)
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    assert "Diambil oleh saya (0)" in page and "Belum diambil (1)" in page
    swapped = site.text(site.post(f"/tasks/{task}/claim", {"next": "/tasks?show=mine"},
                                  headers={"HX-Request": "true"}, expect=200))
    counts = region(swapped, "wl-show")
    assert 'hx-swap-oob="true"' in counts
    assert "Diambil oleh saya (1)" in counts and "Belum diambil (0)" in counts
    assert '<option value="mine" selected>' in counts


def test_the_dispose_form_offers_each_agencys_units_and_a_refusal_keeps_the_address(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    units = region(page, "f-dispose-unit_code")
    assert 'data-units-of="f-dispose-agency_code"' in units
    assert re.search(r'data-agency="dinas_pupr">\s*<option value="pupr_bina_marga">', units)
    assert re.search(r'data-agency="dlh">\s*<option value="dlh_kebersihan">', units)
    assert "js/units-of.js" in page
    refused = site.post(f"/cases/{tracking}/actions/dispose", {
        "version": version_on(page), "agency_code": "dinas_pupr", "handler": "unit",
        "unit_code": "dlh_kebersihan"}, expect=422)
    body = site.text(refused)
    assert "Pilih unit kerja dari instansi yang memegang laporan." in region(
        body, "f-dispose-unit_code-error")
    assert f'<link rel="canonical" href="/cases/{tracking}" data-replace-address>' in body
    assert "js/address.js" in body
    assert "data-replace-address" not in site.text(site.get(f"/cases/{tracking}"))


def test_verify_is_not_offered_without_the_photo_the_category_needs(site):
    without = site.regency.submit()["tracking_number"]  # roads: a photo is required
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{without}"))
    assert 'id="form-verify"' not in page and 'id="form-request_info"' in page
    assert "kategorinya memerlukan foto" in region(page, "verify-needs-photo")
    other = site.regency.submit(category="health")
    page = site.text(site.get(f"/cases/{other['tracking_number']}"))
    assert 'id="form-verify"' in page and 'id="verify-needs-photo"' not in page
    with_photo = site.regency.submit(photo=True)["tracking_number"]
    page = site.text(site.get(f"/cases/{with_photo}"))
    assert 'id="form-verify"' in page and 'id="verify-needs-photo"' not in page


def test_the_agencys_answer_photos_are_beside_the_answer_for_the_citizen_too(site):
    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    site.login("penghubung.pupr")
    page = site.text(site.get(f"/cases/{tracking}"))
    site.post(f"/cases/{tracking}/actions/respond", {
        "version": version_on(page), "answer": "Lubang sudah ditambal.", "final": "1",
        "attachments": [(io.BytesIO(PHOTO), "hasil.jpg")]},
        content_type="multipart/form-data", expect=303)
    citizen = type(site)(regency)
    citizen.get(f"/lacak/{tracking}?k={secret}", expect=303)
    page = citizen.text(citizen.get(f"/lacak/{tracking}"))
    assert region(page, "photos").count("<img") == 1  # the citizen's own photo only
    answers = region(page, "answers")
    assert "Lubang sudah ditambal." in answers and "answer-photos" in answers
    assert "Foto yang dikirim bersama jawaban: hasil.jpg" in answers


def test_the_history_names_the_agency_in_the_pages_language(site):
    tracking = disposed(site, "dishub", category="street_lights")
    site.login("admin.kominfo")
    history = region(site.text(site.get(f"/cases/{tracking}")), "case-history")
    assert "Diteruskan ke Dinas Perhubungan untuk ditindaklanjuti." in history
    assert "disposed to" not in history and "dishub" not in history
    site.get("/language/en", expect=302)
    history = region(site.text(site.get(f"/cases/{tracking}")), "case-history")
    assert "Sent to Dinas Perhubungan to follow up." in history
    assert "disposed to" not in history


def test_an_escalation_is_in_the_case_history_as_internal(site):
    tracking = disposed(site, "dishub", category="street_lights",
                        title="Lampu PJU padam 3 malam")
    site.regency.advance(days=7, hours=2)
    site.login("admin.kominfo")
    history = region(site.text(site.get(f"/cases/{tracking}")), "case-history")
    escalated = [entry for entry in history.split('<li class="timeline-item')
                 if 'data-kind="escalated"' in entry]
    assert escalated and all(">internal</span>" in entry for entry in escalated)
    assert "Dieskalasikan ke" in escalated[-1] and "tindak lanjut" in escalated[-1]
    public = site.regency.client.get(f"/open311/v2/requests/{tracking}.json")
    assert "eskal" not in public.get_data(as_text=True).lower()


@pytest.mark.parametrize(("language", "zoom_in", "zoom_out"),
                         [("id", "Perbesar", "Perkecil"), ("en", "Zoom in", "Zoom out")])
def test_the_maps_and_the_diagram_get_their_control_words(site, language, zoom_in, zoom_out):
    tracking = site.regency.submit(photo=True, latitude=-1.43, longitude=116.63)[
        "tracking_number"]
    site.login("admin.kominfo")
    site.get(f"/language/{language}", expect=302)
    page = site.text(site.get(f"/cases/{tracking}"))
    assert (f'js/leaflet-words.js" data-zoom-in="{zoom_in}" data-zoom-out="{zoom_out}"'
            in page)
    assert page.index("leaflet.js") < page.index("leaflet-words.js") < page.index(
        "map-view.js")
    diagram = region(page, "case-diagram")
    assert f'data-zoom-in-text="{zoom_in}"' in diagram
    assert f'data-zoom-out-text="{zoom_out}"' in diagram
