"""Replies to citizens: every citizen who gave a way to be reached is told, on the channel
they chose, in their language, in words meant for them (workflows/notify.py, the receipt)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.pages import Site
from tests.regency import attach
from tests.test_delivery import smtp, smtp_server  # noqa: F401 - the real SMTP server fixture
from tests.test_pages_public import REPORT
from workflows import notify
from workflows.config import RegencyConfig
from workflows.delivery import OutboxSender
from workflows.models import Complaint, Outbox

BPMN = Path(__file__).parent.parent / "bpmn" / "complaint_lifecycle.bpmn"
PUBLIC_URL = "https://aduan.ppu.example.id"
PHONE_ONLY = {"reporter_email": None, "reporter_phone": "0812-3456-7890"}


def diagram_reasons() -> list[str]:
    """Every reason the lifecycle writes itself into a status change (string literals)."""
    text = BPMN.read_text(encoding="utf-8")
    found = re.findall(r'id="reason" type="str" value="&quot;(.*?)&quot;', text)
    return sorted({reason for reason in found if reason.strip()})


@pytest.fixture
def make_site(demo_template, clock, tmp_path):
    made: list[Site] = []

    def make(**config) -> Site:
        template, tokens = demo_template
        path = tmp_path / f"aduan{len(made)}.db"
        shutil.copyfile(template, path)
        site = Site(attach(f"sqlite:///{path}", clock, tmp_path, tokens,
                           config=RegencyConfig(**config)))
        made.append(site)
        return site

    yield make
    for site in made:
        site.regency.engine.dispose()


def file_on_the_web(site: Site, expect: int = 303, **fields) -> tuple[str, str]:
    """(tracking number, receipt text) of a report filed through the form."""
    # a category that needs no photo: the officers can verify it as it is
    data = {k: v for k, v in {**REPORT, "category": "health", **fields}.items() if v is not None}
    response = site.post("/lapor", data, content_type="multipart/form-data", expect=expect)
    if expect != 303:
        return "", site.text(response)
    receipt = site.get(response.headers["Location"])
    tracking = response.headers["Location"].rsplit("/", 1)[1]
    return tracking, site.text(receipt)


def outbox_of(site: Site, tracking: str) -> list[Outbox]:
    """The messages queued for the citizen of a report."""
    with site.regency.reads() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        rows = session.scalars(select(Outbox).where(  # the citizen's, not the officers'
            Outbox.complaint_id == complaint.id, Outbox.user_id.is_(None)
        ).order_by(Outbox.id)).all()
        session.expunge_all()
        return list(rows)


def handle(site: Site, tracking: str, answer: str = "Lubang sudah ditambal kemarin.") -> None:
    regency = site.regency
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer=answer)


def test_a_web_report_with_only_a_phone_and_sms_chosen_is_told_by_sms(make_site):
    site = make_site(reply_channels=frozenset({"sms"}), public_url=PUBLIC_URL)
    tracking, receipt = file_on_the_web(site, contact_channel="sms", **PHONE_ONLY)
    assert "melalui SMS" in receipt
    assert "Kami akan memberi tahu Anda setiap kali status laporan berubah" in receipt
    handle(site, tracking)

    rows = outbox_of(site, tracking)
    assert [r.payload["status"] for r in rows] == ["VERIFIED", "DISPOSED", "RESPONDED"]
    assert {(r.channel, r.recipient, r.status) for r in rows} == {
        ("sms", "0812-3456-7890", "pending")}
    disposed = notify.render(rows[1].template, rows[1].language, rows[1].payload)
    assert "Dinas Pekerjaan Umum" in disposed[1]
    assert "dinas_pupr" not in " ".join(disposed) and "disposed" not in " ".join(disposed)
    subject, body = notify.render(rows[2].template, rows[2].language, rows[2].payload)
    assert subject == f"Laporan {tracking}: Ditindaklanjuti"
    assert "Jawaban instansi: Lubang sudah ditambal kemarin." in body
    assert f"Ikuti laporan Anda: {PUBLIC_URL}/lacak/{tracking}" in body
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "melalui SMS" in page


def test_whatsapp_chosen_sends_on_whatsapp_and_the_email_too(make_site):
    site = make_site(reply_channels=frozenset({"whatsapp", "email"}))
    tracking, receipt = file_on_the_web(site, contact_channel="whatsapp")
    assert "melalui WhatsApp dan e-mail" in receipt
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    assert {(r.channel, r.recipient) for r in outbox_of(site, tracking)} == {
        ("whatsapp", "0812-3456-7890"), ("email", "budi@example.org")}


def test_with_nothing_configured_the_receipt_does_not_promise_messages(make_site):
    site = make_site()
    tracking, receipt = file_on_the_web(site, contact_channel="sms", **PHONE_ONLY)
    assert "Kami akan memberi tahu" not in receipt
    assert "Pesan belum dapat dikirim" in receipt
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Tidak ada pesan yang dikirim untuk laporan ini" in page


def test_a_phone_channel_without_a_phone_is_refused_naming_the_field(make_site):
    site = make_site(reply_channels=frozenset({"sms"}))
    _, page = file_on_the_web(site, expect=422, contact_channel="email", **PHONE_ONLY)
    assert "Cara kami memberi tahu" in page  # the field, named in Indonesian
    assert "isi alamat e-mail Anda" in page  # and what to do
    answer = site.regency.client.post("/api/v1/complaints", json={
        "classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
        "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi",
        "contact_channel": "whatsapp"})
    assert answer.status_code == 422
    assert "contact_channel" in answer.get_json()["error"]["field_errors"]
    assert "reporter_phone" in answer.get_json()["error"]["field_errors"]["contact_channel"]


def test_the_api_remembers_the_choice_and_publishes_it(make_site):
    site = make_site(reply_channels=frozenset({"sms", "whatsapp"}))
    regency = site.regency
    filed = regency.submit(reporter_phone="0812 1111 2222", contact_channel="whatsapp",
                           reporter_email=None)
    report = regency.report(filed["tracking_number"])
    assert report["reporter"]["contact_channel"] == "whatsapp"
    assert report["replies"] == ["whatsapp"]
    document = regency.get("/api/v1/openapi.json")
    assert "contact_channel" in str(document)


def test_an_english_reporter_gets_english_by_email_with_the_answer(
        make_site, smtp_server, clock):  # noqa: F811 - the fixture imported above
    site = make_site(reply_channels=frozenset({"email"}), public_url=PUBLIC_URL)
    site.client.set_cookie("aduan_lang", "en")
    tracking, receipt = file_on_the_web(site, reporter_phone=None)
    assert "We will tell you each time the status changes, by e-mail." in receipt
    handle(site, tracking, answer="The hole was patched yesterday.")
    sent = OutboxSender(site.regency.engine.store, {"email": smtp(smtp_server)}, clock,
                        worker_id="test").send_due()
    assert sent["dead"] == 0 and sent["retried"] == 0
    mails = [m for m in smtp_server.messages() if m["To"] == "budi@example.org"]
    assert [m["Subject"] for m in mails] == [
        f"Report {tracking}: Verified",
        f"Report {tracking}: Dispositioned, not yet followed up",
        f"Report {tracking}: Followed up"]
    last = mails[-1].get_content()
    assert "The agency's answer: The hole was patched yesterday." in last
    assert f"Follow your report: {PUBLIC_URL}/lacak/{tracking}" in last
    assert "Your report was sent to Dinas Pekerjaan Umum" in mails[1].get_content()


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("template", sorted(notify.CITIZEN_TEMPLATES))
def test_no_citizen_message_carries_an_internal_event_name(template, language):
    reasons = diagram_reasons()
    assert "disposed to " in reasons and "final answer" in reasons  # the scan finds them
    # each has citizen words (an unknown one would be passed on as it is)
    assert all(r in notify.CITIZEN_REASONS or r.startswith(notify.DISPOSED_PREFIX)
               for r in reasons), reasons
    for reason in [*reasons, "disposed to dinas_pupr"]:
        for payload in (
                # as queued now (lifecycle.set_status -> notify.status_payload)
                {"tracking_number": "PPU-2026-000001", "title": "Jalan berlubang",
                 "status_label": "Selesai", "due_local": "3 Maret 2026",
                 "note": notify.citizen_note(reason, language, "Dinas PUPR"),
                 "answer": "Sudah ditambal.", "link": f"{PUBLIC_URL}/lacak/PPU-2026-000001"},
                # as queued before this change: the raw reason
                {"tracking_number": "PPU-2026-000001", "title": "Jalan berlubang",
                 "status_label": "Selesai", "reason": reason}):
            subject, body = notify.render(template, language, payload)
            text = f"{subject}\n{body}"
            if language == "id":  # the internal names are English: none may show
                assert not re.search(rf"\b{re.escape(reason.strip())}\b", text), text
            assert "dinas_pupr" not in text and "disposed" not in text and "{" not in text
            assert "PPU-2026-000001" in text  # the tracking number or link


def test_an_officers_own_reason_reaches_the_citizen_as_written():
    _, body = notify.render("status_changed", "id", {
        "tracking_number": "PPU-2026-000002", "status_label": "Arsip",
        "note": notify.citizen_note("Laporan ganda dengan PPU-2026-000001", "id")})
    assert "Laporan ganda dengan PPU-2026-000001." in body
