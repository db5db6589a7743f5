"""The officers' pages: worklist, claims, reports, the case page, its forms and diagram.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import io
import re
import threading

from sqlalchemy import select

from tests.regency import PHOTO
from workflows.models import Attachment, Complaint

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def task_id(site, tracking: str) -> str:
    with site.regency.reads() as session:
        instance = session.scalars(select(Complaint.instance_id).where(
            Complaint.tracking_number == tracking)).one()
    tasks = site.regency.engine.tasks(instance_id=instance)
    assert len(tasks) == 1, tasks
    return tasks[0]["id"]


def version_on(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, "the page has no action form"
    return found.group(1)


def disposed(site, agency: str = "dinas_pupr", **fields) -> str:
    regency = site.regency
    tracking = regency.submit(photo=True, **fields)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code=agency)
    return tracking


def second_admin(site) -> None:
    from workflows.users import create_user

    with site.regency.transaction() as session:
        create_user(session, site.regency.domain.context.passwords,
                    username="admin2.kominfo", full_name="Admin Kedua",
                    roles=["regency_admin"], agency_code="diskominfo",
                    now=site.regency.clock.now(), password="aduan-demo-2026")


# --------------------------------------------------------------------------- access


def test_anonymous_visitors_are_sent_to_sign_in(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    for path in ("/tasks", "/cases?status=SUBMITTED", f"/cases/{tracking}",
                 f"/cases/{tracking}/diagram.json", f"/cases/{tracking}/attachments/1/photo",
                 f"/cases/{tracking}/attachments/1/download"):
        response = site.get(path, expect=302)
        assert response.headers["Location"].startswith("/login?next=/"), path
    response = site.post(f"/cases/{tracking}/actions/verify", {"version": "1"}, expect=302)
    assert response.headers["Location"].startswith("/login")
    response = site.post(f"/tasks/{task_id(site, tracking)}/claim", expect=302)
    assert response.headers["Location"].startswith("/login")
    assert site.post(f"/cases/{tracking}/actions/verify", {"version": "1"}, csrf=False,
                     expect=400)


def test_the_pages_speak_english_when_asked(site):
    site.regency.submit(photo=True)
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    assert "Tugas saya" in page and "Verifikasi laporan" in page and "Ambil" in page
    site.get("/language/en", expect=302)
    page = site.text(site.get("/tasks"))
    assert "My tasks" in page and "Verify the report" in page and "Claim" in page


# --------------------------------------------------------------------------- worklist


def test_the_worklist_shows_the_screening_task_with_its_working_days_in_colour(site):
    tracking = site.regency.submit(photo=True, title="Jalan berlubang di Waru")[
        "tracking_number"]
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    row = page[page.index(f'data-tracking="{tracking}"'):]
    row = row[:row.index("</tr>")]
    assert "Jalan berlubang di Waru" in row and "Verifikasi laporan" in row
    assert 'class="badge sla-green"' in row and "sisa 3 hari kerja" in row
    assert "Belum diambil" in row and f"/cases/{tracking}" in row
    site.regency.advance(days=2, hours=1)  # Wednesday 10:00: under a working day left
    site.login("admin.kominfo")  # a session lasts 10 hours (docs/security.md)
    page = site.text(site.get("/tasks"))
    assert 'class="badge sla-amber"' in page and "sisa 1 hari kerja" in page  # 0,96
    site.regency.advance(days=2)  # Friday: late
    site.login("admin.kominfo")  # a session lasts 10 hours (docs/security.md)
    page = site.text(site.get("/tasks"))
    assert 'class="badge sla-red"' in page and "terlambat 1 hari kerja" in page
    assert "task-late" in page
    assert tracking in site.text(site.get("/tasks?overdue=1"))


def test_worklist_filters_search_and_order(site):
    regency = site.regency
    first = regency.submit(photo=True, title="Lampu jalan padam")["tracking_number"]
    regency.act(first, "verify", as_="admin.kominfo")  # its task: disposition
    regency.advance(hours=2)
    second = regency.submit(photo=True, title="Sampah menumpuk")["tracking_number"]
    third = disposed(site)  # a follow-up for PUPR: not the administrator's
    site.login("admin.kominfo")
    page = site.text(site.get("/tasks"))
    assert page.index(first) < page.index(second)  # the nearest deadline first
    assert third not in page
    page = site.text(site.get("/tasks?sort=newest"))
    assert page.index(second) < page.index(first)
    page = site.text(site.get("/tasks?q=sampah"))
    assert second in page and first not in page
    page = site.text(site.get(f"/tasks?q={first[-6:]}"))
    assert first in page and second not in page
    page = site.text(site.get("/tasks?type=dispose_report"))
    assert first in page and second not in page and "Disposisi laporan" in page
    page = site.text(site.get("/tasks?type=dispose_report&q=sampah"))
    assert "Tidak ada tugas yang cocok" in page
    page = site.text(site.get("/tasks?overdue=1"))
    assert first not in page and second not in page
    site.post(f"/tasks/{task_id(site, first)}/claim", expect=303)
    page = site.text(site.get("/tasks?show=mine"))
    assert first in page and second not in page
    page = site.text(site.get("/tasks?show=unclaimed"))
    assert second in page and first not in page
    for odd in ("/tasks?show=nonsense", "/tasks?type=%00", "/tasks?sort=x&q=" + "x" * 500,
                "/tasks?_scheme=javascript&_external=1&_anchor=x"):
        site.get(odd)  # unknown values fall back; never a 500


def test_claim_and_release_with_and_without_htmx(site):
    regency = site.regency
    second_admin(site)
    tracking = regency.submit(photo=True)["tracking_number"]
    task = task_id(site, tracking)
    site.login("admin.kominfo")
    site.get("/tasks")
    response = site.post(f"/tasks/{task}/claim", {"next": "/tasks?show=mine"}, expect=303)
    assert response.headers["Location"] == "/tasks?show=mine"
    page = site.text(site.get("/tasks?show=mine"))
    assert "Anda mengambil tugas ini" in page and 'badge text-bg-primary">Anda' in page
    assert f"/tasks/{task}/release" in page

    other = type(site)(regency).login("admin2.kominfo")
    page = other.text(other.get("/tasks?show=all"))
    assert "admin.kominfo" in page and f"/tasks/{task}/claim" not in page
    refused = other.post(f"/tasks/{task}/claim", {"next": "/tasks"}, expect=409)
    assert "admin.kominfo sudah lebih dulu mengambil tugas ini." in other.text(refused)
    refused = other.post(f"/tasks/{task}/claim", headers={"HX-Request": "true"}, expect=200)
    swapped = other.text(refused)
    assert 'hx-swap-oob="true"' in swapped and "alert-danger" in swapped
    assert swapped.lstrip().startswith(f'<tr id="task-{task}"')

    released = site.post(f"/tasks/{task}/release", headers={"HX-Request": "true"}, expect=200)
    fragment = site.text(released)
    assert fragment.lstrip().startswith(f'<tr id="task-{task}"')
    assert f"/tasks/{task}/claim" in fragment and "Tugas dilepas" in fragment
    assert "<html" not in fragment
    assert regency.engine.tasks(instance_id=1)[0]["assignee"] is None

    liaison = type(site)(regency).login("penghubung.pupr")
    liaison.post(f"/tasks/{task}/claim", expect=403)
    liaison.post("/tasks/00000000-0000-0000-0000-000000000000/claim", expect=409)


def test_a_supervisor_releases_a_claim_of_their_agency_from_the_case_page(site):
    tracking = disposed(site)
    task = task_id(site, tracking)
    site.login("penghubung.pupr")
    site.post(f"/tasks/{task}/claim", expect=303)
    outsider = type(site)(site.regency).login("kadis.dlh")
    outsider.post(f"/tasks/{task}/release", {"next": f"/cases/{tracking}"}, expect=403)
    head = type(site)(site.regency).login("kadis.pupr")
    page = head.text(head.get(f"/cases/{tracking}"))
    assert "Diambil oleh penghubung.pupr" in page and 'id="release-follow_up"' in page
    response = head.post(f"/tasks/{task}/release", {"next": f"/cases/{tracking}"}, expect=303)
    assert response.headers["Location"] == f"/cases/{tracking}"
    assert "Belum diambil" in head.text(head.get(f"/cases/{tracking}"))


# --------------------------------------------------------------------------- the case page


def test_verify_and_dispose_through_the_forms_reach_the_liaisons_worklist(site):
    tracking = site.regency.submit(photo=True, title="Jalan berlubang di Waru",
                                   latitude=-1.43, longitude=116.63)["tracking_number"]
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert 'id="form-verify"' in page and 'id="form-archive"' in page
    assert 'data-map-view data-lat="-1.430000" data-lon="116.630000"' in page
    assert f'data-bpmn-src="/cases/{tracking}/diagram.json"' in page
    response = site.post(f"/cases/{tracking}/actions/verify",
                         {"version": version_on(page), "note": "Lengkap"}, expect=303)
    assert response.headers["Location"] == f"/cases/{tracking}"
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Laporan sudah diverifikasi." in page and "Terverifikasi" in page
    assert 'id="form-dispose"' in page and 'id="form-verify"' not in page
    # the agency picker groups agencies under their parent, units under their OPD
    dispose = page[page.index('id="action-dispose"'):]
    assert '<optgroup label="Pemerintah Kabupaten Penajam Paser Utara">' in dispose
    assert '<optgroup label="Kecamatan Penajam">' in dispose
    assert ('<optgroup label="Dinas Pekerjaan Umum dan Penataan Ruang" data-agency="dinas_pupr">'
            in dispose)
    assert '<option value="pupr_bina_marga">Bidang Bina Marga</option>' in dispose
    # roads: the routing table's suggestion is chosen
    assert '<option value="dinas_pupr" selected>' in dispose
    assert "Tabel rute menyarankan Dinas Pekerjaan Umum dan Penataan Ruang" in dispose
    site.post(f"/cases/{tracking}/actions/dispose",
              {"version": version_on(page), "agency_code": "dinas_pupr", "handler": "opd",
               "unit_code": "dlh_kebersihan"}, expect=303)  # a unit is ignored for "opd"
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Laporan sudah didisposisikan." in page
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in page
    history = page[page.index('id="case-history"'):]
    assert "admin.kominfo" in history and "Lengkap" in history
    assert "Belum Terverifikasi → Terverifikasi" in history

    liaison = type(site)(site.regency).login("penghubung.pupr")
    page = liaison.text(liaison.get("/tasks"))
    assert tracking in page and "Tindak lanjuti laporan" in page
    case = liaison.text(liaison.get(f"/cases/{tracking}"))
    assert 'id="form-respond"' in case and 'id="form-delegate"' in case
    delegate = case[case.index('id="form-delegate"'):case.index('id="form-respond"')]
    assert "Bidang Bina Marga" in delegate and "Bidang Pengelolaan Sampah" not in delegate


def test_respond_with_an_attachment_interim_then_final(site):
    tracking = disposed(site)
    site.login("penghubung.pupr")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert 'enctype="multipart/form-data"' in page
    site.post(f"/cases/{tracking}/actions/respond",
              {"version": version_on(page), "answer": "Sedang kami survei."}, expect=303)
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Sedang Diproses" in page and "Jawaban Anda sudah dikirim." in page
    site.post(f"/cases/{tracking}/actions/respond", {
        "version": version_on(page), "answer": "Lubang sudah ditambal.", "final": "1",
        "attachments": [(io.BytesIO(PHOTO), "hasil.jpg"), (io.BytesIO(PDF), "berita.pdf")]},
        content_type="multipart/form-data", expect=303)
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Ditindaklanjuti" in page and "Lubang sudah ditambal." in page
    # the answer's photo and file beside the answer, not among the citizen's evidence
    evidence = page[page.index('id="evidence"'):page.index('id="location"')]
    history = page[page.index('id="case-history"'):]
    assert evidence.count("/photo?size=thumb") == 1 and "berita.pdf" not in evidence
    answer = next(entry for entry in history.split('<li class="timeline-item')
                  if "Lubang sudah ditambal." in entry)
    assert "answer-photos" in answer and answer.count("/photo?size=thumb") == 1
    assert "berita.pdf" in answer and "Sedang kami survei." not in answer
    with site.regency.reads() as session:
        uploaded = session.scalars(select(Attachment.uploaded_by).where(
            Attachment.filename.in_(("hasil.jpg", "berita.pdf")))).all()
    assert uploaded == ["penghubung.pupr", "penghubung.pupr"]


def test_field_errors_name_the_field_and_keep_what_was_typed(site):
    regency = site.regency
    tracking = regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    page = site.text(site.post(f"/cases/{tracking}/actions/archive",
                               {"version": version, "reason": "  "}, expect=422))
    assert '<details class="action-panel card mb-2" id="action-archive" open>' in page
    assert 'href="#f-archive-reason"' in page and "Kolom ini wajib diisi." in page
    assert 'aria-invalid="true"' in page
    page = site.text(site.post(f"/cases/{tracking}/actions/link_duplicate",
                               {"version": version, "duplicate_of": "PPU-2026-999999"},
                               expect=422))
    assert "Tidak ada laporan dengan nomor ini." in page and 'value="PPU-2026-999999"' in page
    page = site.text(site.post(f"/cases/{tracking}/actions/link_duplicate",
                               {"version": version, "duplicate_of": tracking}, expect=422))
    assert "Laporan tidak bisa menjadi duplikat dirinya sendiri" in page
    page = site.text(site.post(f"/cases/{tracking}/actions/verify", {"version": "x"},
                               expect=422))
    assert "versi laporan tidak ada" in page

    regency.act(tracking, "verify", as_="admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    page = site.text(site.post(f"/cases/{tracking}/actions/dispose",
                               {"version": version, "agency_code": "nowhere", "handler": "opd",
                                "note": "Catatan saya"}, expect=422))
    assert "Pilih instansi dari daftar." in page and "Catatan saya</textarea>" in page
    page = site.text(site.post(f"/cases/{tracking}/actions/dispose",
                               {"version": version, "agency_code": "pupr_bina_marga",
                                "handler": "opd"}, expect=422))
    assert "Disposisi hanya ke OPD, BUMD, kecamatan atau kelurahan." in page
    page = site.text(site.post(f"/cases/{tracking}/actions/dispose",
                               {"version": version, "agency_code": "dinas_pupr",
                                "handler": "unit"}, expect=422))
    assert "Pilih unit kerja yang menindaklanjuti." in page
    assert '<option value="unit" selected>' in page
    page = site.text(site.post(f"/cases/{tracking}/actions/dispose",
                               {"version": version, "agency_code": "dinas_pupr",
                                "handler": "unit", "unit_code": "dlh_kebersihan"},
                               expect=422))
    assert "Pilih unit kerja dari instansi yang memegang laporan." in page
    site.post(f"/cases/{tracking}/actions/dance", {"version": version}, expect=404)
    site.post(f"/cases/{tracking}/actions/rate", {"version": version}, expect=404)
    assert regency.report(tracking)["status"] == "VERIFIED"

    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    liaison = type(site)(regency).login("penghubung.pupr")
    version = version_on(liaison.text(liaison.get(f"/cases/{tracking}")))
    page = liaison.text(liaison.post(f"/cases/{tracking}/actions/respond", {
        "version": version, "answer": "Sudah ditambal.", "final": "1",
        "attachments": [(io.BytesIO(b"MZ\x90\x00 not a photo"), "virus.exe")]},
        content_type="multipart/form-data", expect=422))
    assert "virus.exe bukan foto JPEG, PNG, atau WebP, PDF, atau video MP4." in page
    assert "Sudah ditambal.</textarea>" in page
    assert regency.report(tracking)["status"] == "DISPOSED"


def test_a_national_road_is_flagged_as_not_the_regencys_authority(site):
    tracking = site.regency.submit(photo=True, road_status="national")["tracking_number"]
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "wewenang pemerintah pusat" in page and 'id="form-not_authority"' in page
    site.post(f"/cases/{tracking}/actions/not_authority",
              {"version": version_on(page), "reason": "Jalan nasional: wewenang BBPJN\x00",
               "refer_to": "BBPJN Kalimantan Timur"}, expect=303)
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Bukan Wewenang" in page and "Jalan nasional: wewenang BBPJN</div>" in page
    assert 'id="form-not_authority"' not in page and 'id="form-dispose"' not in page


def test_a_photo_is_needed_before_verifying_a_road_report(site):
    tracking = site.regency.submit()["tracking_number"]
    site.login("admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    page = site.text(site.post(f"/cases/{tracking}/actions/verify", {"version": version},
                               expect=409))
    assert "memerlukan foto sebagai bukti" in page


def test_a_stale_version_gets_409_and_the_typed_text_back(site):
    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking = receipt["tracking_number"]
    site.login("admin.kominfo")
    version = version_on(site.text(site.get(f"/cases/{tracking}")))
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Foto kurang jelas")
    regency.act(tracking, "provide_info", secret=receipt["secret"], information="Foto baru")
    page = site.text(site.post(f"/cases/{tracking}/actions/archive",
                               {"version": version, "reason": "Tidak jelas"}, expect=409))
    assert "Orang lain telah mengubah laporan ini sejak Anda membukanya." in page
    assert "Tidak jelas</textarea>" in page
    assert version_on(page) != version  # the page shows the report as it is now
    assert regency.report(tracking)["status"] == "SUBMITTED"


def test_two_officers_racing_on_one_report_never_both_succeed(site):
    second_admin(site)
    tracking = site.regency.submit(photo=True)["tracking_number"]
    first = type(site)(site.regency).login("admin.kominfo")
    other = type(site)(site.regency).login("admin2.kominfo")
    version = version_on(first.text(first.get(f"/cases/{tracking}")))
    other.get(f"/cases/{tracking}")
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def act(browser, action: str, data: dict) -> None:
        barrier.wait()
        codes.append(browser.post(f"/cases/{tracking}/actions/{action}",
                                  {"version": version, **data}).status_code)

    threads = [threading.Thread(target=act, args=(first, "verify", {})),
               threading.Thread(target=act, args=(other, "archive", {"reason": "Spam"}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [303, 409]
    statuses = [h["status_to"] for h in site.regency.report(tracking)["history"]
                if h["kind"] == "status"]
    assert statuses in (["VERIFIED"], ["ARCHIVED"])


def test_the_diagram_shows_where_the_report_is(site):
    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    response = site.get(f"/cases/{tracking}/diagram.json")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "private, no-store"
    diagram = response.get_json()
    assert diagram["xml"].startswith("<?xml") and 'id="screen_report"' in diagram["xml"]
    assert diagram["current"] == ["screen_report"]
    assert diagram["waiting"] == ["screen_report_watch"]
    assert "start" in diagram["completed"] and "screen_report" not in diagram["completed"]
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    diagram = site.get(f"/cases/{tracking}/diagram.json").get_json()
    assert "screen_report" in diagram["completed"] and "f_verify" in diagram["completed"]
    assert diagram["current"] == ["dispose_report"]
    site.get("/cases/PPU-2026-999999/diagram.json", expect=404)
    for odd in ("X" * 300, "PPU%00-2026", "%F0%9F%92%A9", "PPU-2026-000001%0A"):
        site.get(f"/cases/{odd}", expect=404)
        site.get(f"/cases/{odd}/diagram.json", expect=404)


def test_photos_thumbnails_and_original_downloads(site):
    regency = site.regency
    response = regency.client.post("/api/v1/complaints", data={
        "data": '{"classification": "pengaduan", "category": "roads", "title": "Jalan rusak",'
                ' "body": "Jalan rusak berat di Waru.", "reporter_name": "Ani"}',
        "attachments": [(io.BytesIO(PHOTO), "lubang.jpg"), (io.BytesIO(PDF), "surat.pdf")]},
        content_type="multipart/form-data")
    tracking = response.get_json()["tracking_number"]
    photo, pdf = (a["id"] for a in regency.report(tracking)["attachments"])
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert f"/cases/{tracking}/attachments/{photo}/photo?size=thumb" in page
    assert f"/cases/{tracking}/attachments/{pdf}/download" in page
    thumb = site.get(f"/cases/{tracking}/attachments/{photo}/photo?size=thumb")
    assert thumb.mimetype == "image/jpeg" and thumb.data[:3] == b"\xff\xd8\xff"
    assert thumb.headers["Content-Disposition"].startswith("inline")
    assert thumb.headers["Cache-Control"] == "private, max-age=3600"
    original = site.get(f"/cases/{tracking}/attachments/{photo}/download")
    assert original.data == PHOTO
    assert original.headers["Content-Disposition"].startswith('attachment; filename="lubang.jpg"')
    document = site.get(f"/cases/{tracking}/attachments/{pdf}/download")
    assert document.data == PDF and document.mimetype == "application/pdf"
    site.get(f"/cases/{tracking}/attachments/{pdf}/photo", expect=404)
    site.get(f"/cases/{tracking}/attachments/999/photo", expect=404)
    site.get(f"/cases/{tracking}/attachments/abc/photo", expect=404)


# --------------------------------------------------------------------------- the list


def test_the_report_list_filters_searches_and_pages(site, monkeypatch):
    from web.pages import staff

    monkeypatch.setattr(staff, "PAGE_SIZE", 2)
    regency = site.regency
    road = regency.submit(photo=True, title="Jalan berlubang di Waru")["tracking_number"]
    waste = regency.submit(photo=True, category="waste", title="Sampah menumpuk")[
        "tracking_number"]
    light = disposed(site, agency="dishub", category="street_lights", title="Lampu padam")
    site.login("admin.kominfo")
    page = site.text(site.get("/cases"))
    assert "3 laporan" in page and "halaman 1 dari 2" in page
    assert light in page and waste in page and road not in page  # newest first
    page = site.text(site.get("/cases?page=2"))
    assert road in page and light not in page
    assert 'rel="prev" href="/cases?page=1"' in page
    page = site.text(site.get("/cases?q=sampah"))
    assert waste in page and road not in page and "1 laporan" in page
    page = site.text(site.get("/cases?status=DISPOSED"))
    assert light in page and road not in page
    page = site.text(site.get("/cases?agency=dishub"))
    assert light in page and waste not in page
    page = site.text(site.get("/cases?overdue=no&since=2026-03-01&until=2026-03-31"))
    assert "3 laporan" in page
    assert "Tidak ada laporan yang cocok" in site.text(site.get("/cases?since=2026-04-01"))
    page = site.text(site.get("/cases?since=kemarin&page=x&status=NOPE", expect=422))
    assert "Tulis tanggal sebagai TTTT-BB-HH" in page and 'href="#c-since"' in page
    assert "Halaman harus bilangan bulat" in page and "Pilih status dari daftar." in page
    site.get("/cases?until=2026-02-30", expect=422)
    site.get("/cases?since=2026-03-05&until=2026-03-01", expect=422)
    site.get("/cases?overdue=maybe", expect=422)
    site.get("/cases?q=" + "x" * 101, expect=422)
    assert waste in site.text(site.get("/cases?q=sam%00pah"))  # a NUL byte is dropped

    liaison = type(site)(regency).login("penghubung.dishub")
    page = liaison.text(liaison.get("/cases"))
    assert "1 laporan" in page and light in page and road not in page
    liaison.get("/cases?agency=dinas_pupr", expect=422)  # not in their reach


# --------------------------------------------------------------------------- privacy


def test_an_officer_of_another_opd_cannot_open_a_rahasia_case(site):
    regency = site.regency
    tracking = disposed(site, title="Pungli di loket pelayanan", confidential=True)
    photo = regency.report(tracking)["attachments"][0]["id"]
    task = task_id(site, tracking)
    own = type(site)(regency).login("penghubung.pupr")
    page = own.text(own.get(f"/cases/{tracking}"))
    assert "Pungli di loket pelayanan" in page and 'id="flag-rahasia"' in page
    own.get(f"/cases/{tracking}/attachments/{photo}/photo")

    other = type(site)(regency).login("penghubung.dlh")
    other.get(f"/cases/{tracking}", expect=404)
    other.get(f"/cases/{tracking}/diagram.json", expect=404)
    other.get(f"/cases/{tracking}/attachments/{photo}/photo?size=thumb", expect=404)
    other.get(f"/cases/{tracking}/attachments/{photo}/download", expect=404)
    version = str(regency.report(tracking)["version"])
    response = other.post(f"/cases/{tracking}/actions/respond",
                          {"version": version, "answer": "Bukan urusan kami", "final": "1"})
    assert response.status_code in (403, 404)
    other.post(f"/tasks/{task}/claim", expect=403)
    for path in ("/tasks?show=all", "/cases", "/cases?q=pungli", f"/cases?q={tracking}"):
        page = other.text(other.get(path))
        assert f"/cases/{tracking}" not in page and "Pungli di" not in page, path
    assert regency.report(tracking)["status"] == "DISPOSED"


def test_an_anonim_reporter_appears_on_no_page_of_an_agency(site):
    regency = site.regency
    identity = ("Siti Pelapor Rahasia", "siti.rahasia@example.org", "+62 812 3456 7890")
    tracking = regency.submit(photo=True, anonymous=True, reporter_name=identity[0],
                              reporter_email=identity[1], reporter_phone=identity[2],
                              title="Pungli di loket KTP")["tracking_number"]
    admin = type(site)(regency).login("admin.kominfo")
    page = admin.text(admin.get(f"/cases/{tracking}"))
    assert all(part in page for part in identity) and 'id="flag-anonim"' in page
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "delegate", as_="penghubung.pupr", unit_code="pupr_bina_marga")
    for username in ("penghubung.pupr", "kadis.pupr", "teknis.binamarga"):
        officer = type(site)(regency).login(username)
        pages = [officer.get(path) for path in (
            "/tasks", "/tasks?show=all", "/cases", f"/cases?q={tracking}",
            f"/cases/{tracking}", f"/cases/{tracking}/diagram.json")]
        case = officer.text(pages[4])
        assert tracking in case and "Pungli di loket KTP" in case
        assert 'id="reporter-hidden"' in case
        for response in pages:
            text = officer.text(response)
            for part in identity:
                assert part not in text, (username, response.request.path, part)
    page = admin.text(admin.get(f"/cases/{tracking}"))
    assert all(part in page for part in identity)


def test_the_forms_help_texts_name_the_working_days_of_the_deployed_deadline_table(site):
    """The budgets the case page's help texts name come from deadlines.dmn as deployed: a
    designer who gives verification four working days changes the page, no code."""
    from engine import SourceFile
    from workflows import diagram_ids as ids
    from workflows.lifecycle import BPMN_DIR

    tracking = site.regency.submit(photo=True)["tracking_number"]
    site.login("admin.kominfo")
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Tenggat verifikasi (3 hari kerja) terus berjalan" in page
    assert "Pelapor punya 10 hari kerja untuk menjawab" in page
    files = [SourceFile.read(BPMN_DIR / name) for name in ids.DEPLOYMENT_FILES]
    changed = [SourceFile(f.name, f.content.replace(
        '<outputEntry id="rule_verification_output_budget_days">\n          <text>3</text>',
        '<outputEntry id="rule_verification_output_budget_days">\n          <text>4</text>'))
        if f.name == "deadlines.dmn" else f for f in files]
    assert changed != files
    assert site.regency.engine.deploy(changed, process_id=ids.PROCESS_ID).version == 2
    page = site.text(site.get(f"/cases/{tracking}"))
    assert "Tenggat verifikasi (4 hari kerja) terus berjalan" in page
