"""The ten sample reports of domain.md, each walked through the JSON API with the clock moved."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from workflows.models import Outbox, SlaRecord


def wita(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def statuses(report: dict) -> list[str]:
    return [h["status_to"] for h in report["history"] if h["kind"] == "status"]


def outbox(regency, **filters) -> list[tuple[str, str]]:
    """(channel, recipient) of the notifications written so far."""
    with regency.reads() as session:
        query = select(Outbox.channel, Outbox.recipient).order_by(Outbox.id)
        for key, value in filters.items():
            query = query.where(getattr(Outbox, key) == value)
        return [tuple(row) for row in session.execute(query)]


def test_sample_1_pothole_with_a_deadline_across_nyepi_and_idul_fitri(regency):
    regency.clock.set(wita("2026-03-17T10:00:00"))  # Tuesday before the holiday block
    receipt = regency.submit(
        photo=True, title="Jalan berlubang di Jl. Provinsi km 5",
        body="Jalan berlubang di Jl. Provinsi km 5, depan SD 012 Waru, lubang ±1 m, sudah 2 "
             "minggu, motor sering jatuh saat hujan.", latitude=-1.4379, longitude=116.6321,
        kelurahan="Waru", kecamatan="Waru", severity="high")
    tracking = receipt["tracking_number"]
    report = regency.report(tracking)
    # 3 working days from Tue 17 Mar 10:00: 18-24 March are holidays and cuti bersama
    assert report["sla"]["due_at"] == "2026-03-27T10:00:00+08:00"
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    follow_up = next(s for s in report["slas"] if s["step"] == "follow_up")
    assert follow_up["due_at"] == "2026-03-31T10:00:00+08:00"  # 5 working days later
    assert report["sla"]["step"] == "follow_up"
    regency.advance(days=6)  # Mon 23 Mar 10:00: the holidays used none of the budget
    report = regency.report(tracking)
    assert report["sla"]["working_days_left"] == 4.42  # 25, 26, 27, 30 Mar + 10 h of the 31st
    assert not report["sla"]["overdue"]
    regency.act(tracking, "respond", as_="penghubung.pupr",
                answer="Lubang sudah ditambal oleh Bidang Bina Marga.")
    closed = regency.act(tracking, "rate", secret=receipt["secret"], rating=4)
    assert statuses(closed) == ["VERIFIED", "DISPOSED", "RESPONDED", "CLOSED"]
    slas = {s["step"]: s for s in regency.report(tracking)["slas"]}
    assert slas["verification"]["state"] == "met"
    assert slas["follow_up"]["state"] == "met"


def test_sample_1_needs_a_photo_before_verification(regency):
    receipt = regency.submit(title="Jalan berlubang", body="Jalan berlubang di depan SD 012.")
    tracking = receipt["tracking_number"]
    refusal = regency.act(tracking, "verify", as_="admin.kominfo", expect=409)
    assert "photo" in refusal["error"]["message"]
    regency.act(tracking, "request_info", as_="admin.kominfo",
                reason="Mohon lampirkan foto lubang.")
    response = regency.client.post(
        f"/api/v1/complaints/{tracking}/actions/provide_info",
        data={"data": json.dumps({"information": "Foto terlampir"}),
              "attachments": [(__import__("io").BytesIO(__import__(
                  "tests.regency", fromlist=["PHOTO"]).PHOTO), "foto.jpg")]},
        headers={"X-Tracking-Secret": receipt["secret"]}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    report = regency.act(tracking, "verify", as_="admin.kominfo")
    assert report["status"] == "VERIFIED"
    assert statuses(report) == ["NEEDS_INFO", "SUBMITTED", "VERIFIED"]


def test_sample_2_garbage_delegated_to_a_unit_closes_itself_after_ten_working_days(regency):
    receipt = regency.submit(photo=True, category="waste",
                             title="Sampah menumpuk di TPS Kelurahan Nipah-Nipah",
                             body="Sampah menumpuk di TPS Kelurahan Nipah-Nipah sejak Senin, "
                                  "belum diangkut, bau menyengat.", kelurahan="Nipah-Nipah")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dlh")
    report = regency.act(tracking, "delegate", as_="penghubung.dlh", unit_code="dlh_kebersihan")
    assert report["unit"]["code"] == "dlh_kebersihan"
    assert [t["tracking_number"] for t in regency.get("/api/v1/tasks",
                                                      as_="teknis.kebersihan")] == [tracking]
    regency.act(tracking, "respond", as_="teknis.kebersihan", answer="Sampah sudah diangkut.")
    regency.advance(days=13)  # 9 working days: the window is still open
    assert regency.report(tracking)["status"] == "RESPONDED"
    regency.advance(days=1)  # the tenth working day ends
    report = regency.report(tracking)
    assert report["status"] == "CLOSED"
    assert report["history"][-1]["status_to"] == "CLOSED"


def test_sample_3_street_lights_climb_every_rung_of_the_ladder(regency):
    receipt = regency.submit(photo=True, category="street_lights",
                             title="Lampu PJU padam 3 malam",
                             body="Lampu PJU di simpang Jl. Propinsi - Jl. Sultan Aji Muhammad "
                                  "Idris padam 3 malam.")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    # Follow-up due Mon 9 Mar 09:00 (5 working days); reminder the working day before.
    regency.advance(days=4)  # Fri 6 Mar 09:00
    reminders = [r for c, r in outbox(regency, template="sla_reminder") if c == "inapp"]
    assert reminders == ["penghubung.dishub"]
    assert regency.get("/api/v1/escalations", as_="kadis.kominfo") == []
    regency.advance(days=3)  # Mon 9 Mar 09:00: the liaison missed it -> Dishub's head
    assert [(e["tracking_number"], e["rung_name"], e["agency"]) for e in regency.get(
        "/api/v1/escalations", as_="sekda")] == [(tracking, "opd", "dishub")]
    assert regency.get("/api/v1/escalations", as_="kadis.kominfo") == []
    assert regency.report(tracking)["sla"]["rung_name"] == "opd"
    regency.advance(days=2)  # Wed 11 Mar 09:00: two more working days -> Diskominfo
    inbox = regency.get("/api/v1/escalations", as_="kadis.kominfo")
    assert [(e["tracking_number"], e["rung_name"]) for e in inbox] == [
        (tracking, "regency_admin")]
    assert regency.report(tracking)["sla"]["rung_name"] == "regency_admin"
    regency.advance(days=2)  # Fri 13 Mar -> regional leadership
    # a supervisor's inbox covers their agency and everything below it, newest first
    assert [e["rung_name"] for e in regency.get("/api/v1/escalations", as_="sekda")] == [
        "regional_head", "regency_admin", "opd"]
    assert len(regency.get("/api/v1/escalations", as_="kadis.kominfo")) == 1
    regency.advance(days=4)  # Tue 17 Mar -> province
    assert regency.get("/api/v1/escalations", as_="admin.kaltim")[0]["rung_name"] == (
        "province")
    regency.advance(days=10)  # the top of the ladder: nothing more, nothing doubled
    everything = regency.get("/api/v1/escalations?status=all", as_="admin.kominfo")
    follow_up = [e for e in everything if e["step"] == "follow_up"]
    assert [e["rung_name"] for e in follow_up] == ["province", "regional_head",
                                                   "regency_admin", "opd"]
    escalated = {r for c, r in outbox(regency, template="escalated") if c == "inapp"}
    assert escalated >= {"kadis.kominfo", "sekda", "admin.kaltim"}
    acknowledged = regency.client.post(
        f"/api/v1/escalations/{follow_up[-2]['id']}/acknowledge",
        json={"comment": "Sudah ditegur"}, headers=regency.headers("kadis.kominfo"))
    assert acknowledged.get_json()["status"] == "acknowledged"
    regency.act(tracking, "respond", as_="penghubung.dishub", answer="Lampu sudah diganti.")
    with regency.reads() as session:
        follow_up_sla = session.scalars(select(SlaRecord).where(
            SlaRecord.step == "follow_up")).one()
        assert follow_up_sla.state == "breached" and follow_up_sla.late_seconds > 0


def test_sample_4_anonymous_confidential_extortion_report_leaks_nothing(regency):
    receipt = regency.submit(
        category="civil_registration", misconduct=True, anonymous=True, confidential=True,
        reporter_name=None, reporter_phone="081234567890",
        title="Pungutan di loket KTP-el",
        body="Petugas loket Disdukcapil meminta uang Rp50.000 untuk mempercepat KTP-el.")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.report(tracking)
    # the routing decision sends misconduct to the inspectorate
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="inspektorat")
    resolution = next(s for s in regency.report(tracking)["slas"] if s["step"] == "resolution")
    assert resolution["budget_days"] == 60
    inspector = regency.report(tracking, as_="penghubung.inspektorat")
    assert inspector["body"].startswith("Petugas loket")  # those handling it see the content
    assert inspector["reporter"] is None  # ... but never who reported it
    admin = regency.report(tracking)
    assert admin["reporter"]["phone"] == "081234567890"
    # the accused agency sees nothing at all
    regency.get(f"/api/v1/complaints/{tracking}", as_="penghubung.disdukcapil", expect=404)
    listing = regency.get("/api/v1/complaints", as_="penghubung.disdukcapil")
    assert listing["items"] == []
    raw = json.dumps(regency.get("/api/v1/complaints", as_="penghubung.inspektorat"))
    assert "081234567890" not in raw
    tasks = json.dumps(regency.get("/api/v1/tasks", as_="penghubung.inspektorat"))
    assert "081234567890" not in tasks
    assert report["confidential"] is True
    # what the citizen is told goes to their phone only; no officer's message names them
    assert all("081234567890" not in r for c, r in outbox(regency) if c != "sms")


def test_sample_5_information_request_is_answered_within_five_days(regency):
    receipt = regency.submit(classification="permintaan_informasi", category="education",
                             title="Syarat beasiswa daerah",
                             body="Mohon informasi syarat dan jadwal pendaftaran bantuan "
                                  "beasiswa daerah tahun ini.")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="disdik")
    resolution = next(s for s in report["slas"] if s["step"] == "resolution")
    assert resolution["budget_days"] == 5
    regency.act(tracking, "respond", as_="penghubung.disdik",
                answer="Pendaftaran dibuka 1-30 April; syarat di situs Disdik.")
    assert regency.get(f"/api/v1/complaints/{tracking}",
                       secret=receipt["secret"])["status"] == "RESPONDED"


def test_sample_6_aspiration_unsatisfied_then_answered_again(regency):
    receipt = regency.submit(classification="aspirasi", category="roads", photo=True,
                             title="Usul polisi tidur depan Puskesmas",
                             body="Usul pemasangan polisi tidur di depan Puskesmas karena "
                                  "kendaraan sering ngebut.")
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    regency.act(tracking, "respond", as_="penghubung.dishub", answer="Akan dikaji.")
    report = regency.act(tracking, "reply", secret=secret, comment="Belum ada tindakan.")
    assert report["status"] == "IN_PROGRESS"
    regency.act(tracking, "respond", as_="penghubung.dishub", answer="Terpasang 12 Maret.",
                final=False)
    regency.act(tracking, "respond", as_="penghubung.dishub", answer="Sudah terpasang.")
    closed = regency.act(tracking, "rate", secret=secret, rating=5)
    assert statuses(closed) == ["VERIFIED", "DISPOSED", "RESPONDED", "IN_PROGRESS",
                                "IN_PROGRESS", "RESPONDED", "CLOSED"]


def test_sample_7_water_outage_goes_to_the_water_utility(regency):
    receipt = regency.submit(category="water", photo=True, title="Air PDAM mati 4 hari",
                             body="Air PDAM mati 4 hari di RT 07 Kelurahan Gunung Seteleng.")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="perumda_air")
    assert report["agency"]["kind"] == "bumd"
    assert [t["element_id"] for t in regency.get("/api/v1/tasks",
                                                 as_="penghubung.air")] == ["follow_up"]


def test_sample_8_national_road_is_returned_as_not_our_authority(regency):
    receipt = regency.submit(photo=True, road_status="national",
                             title="Jalan nasional rusak parah",
                             body="Jalan nasional Penajam-Balikpapan rusak parah.")
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "not_authority", as_="admin.kominfo",
                         reason="Jalan nasional: kewenangan BPJN Kaltim.", refer_to="BPJN")
    assert report["status"] == "RETURNED" and report["status_label"]["id"] == "Bukan Wewenang"
    assert report["open_tasks"] == []


def test_sample_9_vague_report_is_archived_when_the_citizen_never_answers(regency):
    receipt = regency.submit(category="roads", title="tolong min", body="tolong min jln rusak")
    tracking = receipt["tracking_number"]
    regency.advance(days=1)  # Tue: one working day of the three used
    report = regency.act(tracking, "request_info", as_="admin.kominfo",
                         reason="Di jalan mana? Mohon foto dan lokasinya.")
    assert report["status"] == "NEEDS_INFO"
    verification = next(s for s in report["slas"] if s["step"] == "verification")
    assert verification["paused"] and verification["working_days_left"] == 2.0
    assert report["sla"]["step"] == "info_request"
    regency.advance(days=13)  # nine working days: still waiting
    assert regency.report(tracking)["status"] == "NEEDS_INFO"
    regency.advance(days=1)
    report = regency.report(tracking)
    assert report["status"] == "ARCHIVED"
    assert statuses(report) == ["NEEDS_INFO", "ARCHIVED"]


def test_sample_9_answered_resumes_with_the_budget_that_was_left(regency):
    receipt = regency.submit(category="roads", title="tolong min", body="tolong min jln rusak")
    tracking = receipt["tracking_number"]
    regency.advance(days=1)
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Di jalan mana?")
    regency.advance(days=7)  # Wed of the next week: paused time does not count
    report = regency.act(tracking, "provide_info", secret=receipt["secret"],
                         information="Jl. Sultan Hasanuddin depan pasar.")
    assert report["status"] == "SUBMITTED"
    assert report["sla"]["step"] == "verification"
    assert report["sla"]["working_days_left"] == 2.0
    assert report["sla"]["due_at"] == "2026-03-12T09:00:00+08:00"
    assert len(report["sla"]["pauses"]) == 1


def test_sample_10_duplicate_is_linked_and_archived_not_lost(regency):
    original = regency.submit(photo=True, title="Jalan berlubang di Jl. Provinsi km 5",
                              body="Lubang besar depan SD 012 Waru.")["tracking_number"]
    second = regency.submit(photo=True, title="Lubang di Jl. Provinsi km 5",
                            body="Ada lubang besar depan SD 012, bahaya.",
                            reporter_name="Sari")["tracking_number"]
    report = regency.act(second, "link_duplicate", as_="admin.kominfo", duplicate_of=original)
    assert report["status"] == "ARCHIVED" and report["duplicate_of"] == original
    assert regency.report(original)["duplicates"] == [second]


def test_a_closed_report_can_be_reopened_by_its_complainant(regency):
    receipt = regency.submit(photo=True)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Selesai.")
    regency.act(tracking, "rate", secret=secret, rating=2)
    report = regency.act(tracking, "reopen", secret=secret, reason="Lubang muncul lagi.")
    assert report["status"] == "IN_PROGRESS"
    assert [t["element_id"] for t in regency.get("/api/v1/tasks",
                                                 as_="penghubung.pupr")] == ["follow_up"]


def test_postpone_and_resume_before_disposition(regency):
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "postpone", as_="admin.kominfo",
                         reason="Menunggu anggaran perubahan.")
    assert report["status"] == "POSTPONED" and report["available_actions"][0] == "resume"
    report = regency.act(tracking, "resume", as_="admin.kominfo")
    assert report["status"] == "VERIFIED"
    assert regency.act(tracking, "dispose", as_="admin.kominfo",
                       agency_code="dinas_pupr")["status"] == "DISPOSED"


def test_tracking_numbers_count_up_within_the_year(regency):
    first = regency.submit(photo=True)["tracking_number"]
    second = regency.submit(photo=True)["tracking_number"]
    assert first == "PPU-2026-000001" and second == "PPU-2026-000002"
    assert datetime.now(UTC).year >= 2026
