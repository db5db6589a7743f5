"""WhatsApp Cloud API (web/whatsapp.py, workflows/whatsapp.py): real, signed webhook
requests over HTTP on loopback; photos downloaded from a local stand-in for the Graph API;
replies and status messages sent through the outbox to the same stand-in.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour of the channel as a citizen or Meta's platform meets it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from engine import FrozenClock
from tests import graph_standin as g
from tests.regency import PHOTO, attach
from tests.test_sms import Gateway, serve
from workflows import access
from workflows import diagram_ids as ids
from workflows.channels import WhatsAppCloudChannel
from workflows.config import RegencyConfig
from workflows.delivery import OutboxSender
from workflows.metoo_models import MeToo
from workflows.models import Attachment, Complaint, ComplaintEvent, Outbox
from workflows.whatsapp_models import WhatsAppConversation, WhatsAppInbound, WhatsAppMedia

CITIZEN = "6281234567890"
START_OF_TEST = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
PUBLIC = "https://aduan.ppu.go.id"


class Platform(Gateway):
    """Meta's side: signs and posts deliveries to the webhook, reads what we answered."""

    def __init__(self, regency: Any, url: str, standin: g.GraphStandIn) -> None:
        super().__init__(regency, url)
        self.standin = standin

    def now(self, seconds: int = 0) -> int:
        return int(self.regency.clock.now().timestamp()) + seconds

    def post(self, body: Any, *, signature: str | None = "good", raw: bytes | None = None
             ) -> requests.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers["X-Hub-Signature-256"] = g.sign(data)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(self.url, data=data, headers=headers, timeout=30)

    def deliver(self, *messages: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.post(g.delivery(*messages, **kwargs))
        assert response.status_code == 200, response.text
        return response.json()

    def say(self, body: str, sender: str = CITIZEN, at: int = 0) -> dict[str, Any]:
        self.counter += 1
        return self.deliver(g.text(f"wamid.in.{self.counter}", sender, self.now(at), body))

    def replies(self, recipient: str = CITIZEN) -> list[str]:
        with self.regency.reads() as session:
            return [row.payload["text"] for row in session.scalars(
                select(Outbox).where(Outbox.channel == "whatsapp",
                                     Outbox.template == "whatsapp_reply",
                                     Outbox.recipient == recipient).order_by(Outbox.id))]

    def last(self, recipient: str = CITIZEN) -> str:
        return self.replies(recipient)[-1]

    def conversation(self, phone: str = CITIZEN) -> WhatsAppConversation:
        with self.regency.reads() as session:
            row = session.scalars(select(WhatsAppConversation).where(
                WhatsAppConversation.phone == phone)).one()
            session.expunge(row)
            return row

    def sender(self) -> OutboxSender:
        channel = WhatsAppCloudChannel(self.standin.messages_url, g.TOKEN,
                                       window_open=self.regency.domain.whatsapp.window_open)
        return OutboxSender(self.regency.engine.store, {"whatsapp": channel},
                            self.regency.clock, worker_id="w")


def whatsapp_regency(template: Any, clock: FrozenClock, tmp_path: Any, tokens: Any,
                     standin: g.GraphStandIn, **config: Any) -> Any:
    return attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens,
                  config=RegencyConfig(whatsapp_graph_url=standin.graph_url,
                                       whatsapp_token=g.TOKEN, public_url=PUBLIC,
                                       reply_channels=frozenset({"whatsapp"}), **config),
                  whatsapp_app_secret=g.APP_SECRET, whatsapp_verify_token=g.VERIFY_TOKEN)


@pytest.fixture
def standin() -> Iterator[g.GraphStandIn]:
    server = g.GraphStandIn()
    yield server
    server.close()


@pytest.fixture
def meta(demo_template: Any, clock: FrozenClock, tmp_path: Any, standin: g.GraphStandIn
         ) -> Iterator[Platform]:
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = whatsapp_regency(template, clock, tmp_path, tokens, standin)
    http, url = serve(regency, "/channels/whatsapp")
    yield Platform(regency, url, standin)
    http.shutdown()
    regency.engine.dispose()


def number_in(reply: str) -> str:
    return reply.split("nomor ")[1].split(".")[0].split(",")[0].strip()


def file_report(meta: Platform, story: str = "Lampu jalan mati total sejak seminggu di "
                                             "Jalan Propinsi km 5, gelap dan rawan") -> str:
    meta.say(story)
    meta.deliver(g.location("wamid.loc.1", CITIZEN, meta.now(1), -1.2538, 116.8305,
                            name="Jalan Propinsi km 5", address="Nipah-Nipah, Penajam"))
    meta.say("LANJUT", at=2)
    meta.say("YA", at=3)
    return number_in(meta.last())


# --------------------------------------------------------------------------- the webhook


def test_the_subscription_handshake_answers_the_challenge_only_with_the_verify_token(meta):
    ok = requests.get(meta.url, params={"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                        "hub.verify_token": g.VERIFY_TOKEN}, timeout=30)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["Content-Type"].startswith("text/plain")
    wrong = requests.get(meta.url, params={"hub.mode": "subscribe", "hub.challenge": "1",
                                           "hub.verify_token": "salah"}, timeout=30)
    assert wrong.status_code == 403 and "ADUAN_WHATSAPP_VERIFY_TOKEN" in wrong.json()["error"]
    mode = requests.get(meta.url, params={"hub.mode": "x", "hub.challenge": "1",
                                          "hub.verify_token": g.VERIFY_TOKEN}, timeout=30)
    assert mode.status_code == 400


def test_without_configuration_the_webhook_does_not_exist(demo_template, clock, tmp_path):
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens)
    http, url = serve(regency, "/channels/whatsapp")
    try:
        body = json.dumps(g.delivery()).encode()
        assert requests.post(url, data=body, headers={"X-Hub-Signature-256": g.sign(body)},
                             timeout=30).status_code == 404
        assert requests.get(url, params={"hub.mode": "subscribe"}, timeout=30
                            ).status_code == 404
    finally:
        http.shutdown()
        regency.engine.dispose()


def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(meta):
    body = g.delivery(g.text("wamid.sig", CITIZEN, meta.now(), "Sampah menumpuk di pasar"))
    missing = meta.post(body, signature=None)
    assert missing.status_code == 401 and "X-Hub-Signature-256" in missing.json()["error"]
    wrong = meta.post(body, signature=g.sign(json.dumps(body).encode(), "another-secret"))
    assert wrong.status_code == 403
    # A valid signature of another body does not sign this one.
    other = meta.post(body, signature=g.sign(b"{}"))
    assert other.status_code == 403
    assert meta.count(WhatsAppInbound) == 0 and meta.count(WhatsAppConversation) == 0


def test_malformed_deliveries_get_400_naming_what_to_fix_and_store_nothing(meta):
    broken = meta.post(None, raw=b'{"object": "whatsapp_business_account", "entry": [')
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]
    not_delivery = meta.post({"hello": 1})
    assert not_delivery.status_code == 400 and "entry" in not_delivery.json()["fields"]
    bad = g.delivery(g.text("wamid.ok", CITIZEN, meta.now(), "Sampah menumpuk di pasar"),
                     {"from": CITIZEN, "id": "wamid.bad", "timestamp": "kemarin",
                      "type": "location", "location": {"latitude": 200}})
    answer = meta.post(bad)
    assert answer.status_code == 400
    fields = answer.json()["fields"]
    assert "entry[0].changes[0].value.messages[1].timestamp" in fields
    # Nothing of the delivery was taken, not even its good message.
    assert meta.count(WhatsAppInbound) == 0


def test_a_repeated_delivery_is_processed_once(meta):
    message = g.text("wamid.same", CITIZEN, meta.now(), "Halo")
    first = meta.deliver(message)
    again = meta.deliver(message)
    assert first["messages"] == 1 and again == {"messages": 0, "duplicates": 1,
                                                "statuses": 0}
    assert meta.count(WhatsAppInbound) == 1 and len(meta.replies()) == 1


# --------------------------------------------------------------------------- filing a report


def test_a_conversation_files_a_report_with_its_location_and_photo(meta, standin):
    standin.media["media-1"] = (PHOTO, "image/jpeg", None)
    meta.say("Halo")
    assert "Ceritakan apa yang terjadi" in meta.last()
    meta.say("Jalan berlubang besar di depan SDN 3 Penajam, sudah dua motor jatuh", at=1)
    assert "Di mana lokasinya" in meta.last()
    meta.deliver(g.location("wamid.loc", CITIZEN, meta.now(2), -1.2538, 116.8305,
                            name="SDN 3 Penajam", address="Jl. Provinsi, Penajam"))
    assert "Ada foto" in meta.last()
    meta.deliver(g.image("wamid.img", CITIZEN, meta.now(3), "media-1"))
    assert "Foto diterima (1" in meta.last()
    assert ("GET", "/v21.0/media-1", f"Bearer {g.TOKEN}") in standin.requests
    meta.say("LANJUT", at=4)
    summary = meta.last()
    assert "Ringkasan" in summary and "SDN 3 Penajam" in summary and "Foto: 1" in summary
    before = meta.count(Complaint)
    meta.say("YA", at=5)
    filed = meta.last()
    number = number_in(filed)
    complaint = meta.complaint(number)
    assert meta.count(Complaint) == before + 1
    assert complaint.channel == "whatsapp" and complaint.contact_channel == "whatsapp"
    assert complaint.reporter_phone == "+" + CITIZEN and complaint.category == "roads"
    assert (complaint.latitude, complaint.longitude) == (-1.2538, 116.8305)
    assert "Jl. Provinsi" in complaint.address and "dua motor" in complaint.body
    with meta.regency.reads() as session:
        kinds = list(session.scalars(select(Attachment.kind).where(
            Attachment.complaint_id == complaint.id)))
    assert kinds == ["photo"]
    # The private link carries the report's secret: it opens the tracking page.
    link = filed.split(f"{PUBLIC}")[1].split()[0]
    assert link.startswith(f"/lacak/{number}?k=")
    assert access.digest(link.split("?k=")[1]) == complaint.secret_hash
    page = meta.regency.client.get(link, follow_redirects=True)
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    # Nothing of the draft is left behind.
    assert meta.count(WhatsAppMedia) == 0 and meta.conversation().step == "idle"


def test_batal_cancels_and_keeps_nothing(meta, standin):
    standin.media["media-2"] = (PHOTO, "image/jpeg", None)
    meta.say("Sampah menumpuk di TPS pasar Penajam sejak Senin")
    meta.deliver(g.image("wamid.img2", CITIZEN, meta.now(1), "media-2"))
    assert meta.count(WhatsAppMedia) == 1
    before = meta.count(Complaint)
    meta.say("batal", at=2)
    assert "dibatalkan" in meta.last()
    assert meta.count(WhatsAppMedia) == 0 and meta.count(Complaint) == before
    assert meta.conversation().step == "idle"
    meta.say("BATAL", at=3)
    assert "Tidak ada laporan yang sedang Anda tulis" in meta.last()


def test_english_on_request(meta):
    meta.say("ENGLISH")
    assert "complaints service" in meta.last()
    meta.say("The street light in front of the market has been off for a week", at=1)
    assert "Where is it?" in meta.last()
    meta.say("Pasar Penajam, Kelurahan Penajam", at=2)
    meta.say("NEXT", at=3)
    meta.say("YES", at=4)
    number = number_in(meta.last().replace("number", "nomor"))
    assert meta.complaint(number).language == "en"


def test_an_unknown_sender_answering_a_question_is_welcomed_politely(meta):
    meta.say("YA", sender="6281300001111")
    assert "Ceritakan apa yang terjadi" in meta.last("6281300001111")
    meta.say("ok", sender="6281300001111", at=1)
    assert "terlalu pendek" in meta.last("6281300001111")


def test_messages_delivered_out_of_order_are_taken_in_the_order_they_were_sent(meta):
    story = g.text("wamid.a", CITIZEN, meta.now(), "Pipa PDAM bocor di Jalan Sudirman depan "
                                                   "masjid")
    place = g.location("wamid.b", CITIZEN, meta.now(5), -1.25, 116.83)
    meta.deliver(place, story)  # one delivery, the later message first
    conversation = meta.conversation()
    assert conversation.step == "photos"
    assert conversation.draft["body"].startswith("Pipa PDAM bocor")
    assert conversation.draft["latitude"] == -1.25
    # A text sent before the last one processed, delivered late, is added to the story.
    meta.deliver(g.text("wamid.c", CITIZEN, meta.now(3), "Airnya sudah menggenangi jalan"))
    assert "Airnya sudah menggenangi jalan" in meta.conversation().draft["body"]
    assert meta.conversation().step == "photos"


def test_a_half_conversation_survives_a_restart_of_the_web_process(meta, demo_template, clock,
                                                                  tmp_path, standin):
    meta.say("Jembatan kayu di Desa Sotek patah sebagian, berbahaya bagi anak sekolah")
    meta.say("Desa Sotek, Kecamatan Penajam", at=1)
    assert meta.conversation().step == "photos"
    _, tokens = demo_template
    # Another web process (a new app and domain over the same database) takes the rest.
    again = whatsapp_regency(None, clock, tmp_path, tokens, standin)
    http, url = serve(again, "/channels/whatsapp")
    try:
        other = Platform(again, url, standin)
        other.counter = 100
        other.say("LANJUT", at=2)
        assert "Ringkasan" in other.last() and "Desa Sotek" in other.last()
        other.say("YA", at=3)
        assert meta.complaint(number_in(other.last())).channel == "whatsapp"
    finally:
        http.shutdown()
        again.engine.dispose()


# --------------------------------------------------------------------------- photos


def test_photos_too_large_not_images_or_unavailable_get_a_polite_reply(meta, standin):
    limit = meta.regency.domain.context.storage.max_bytes
    standin.media["big"] = (PHOTO, "image/jpeg", limit + 1)  # declared too large
    standin.media["pdf"] = (b"%PDF-1.4\n%%EOF\n", "application/pdf", None)
    standin.media["fake"] = (b"not a jpeg at all", "image/jpeg", None)
    meta.say("Lampu PJU mati di Jalan Negara km 3 sejak kemarin malam")
    meta.deliver(g.image("wamid.big", CITIZEN, meta.now(1), "big"))
    assert "terlalu besar" in meta.last()
    meta.deliver(g.image("wamid.pdf", CITIZEN, meta.now(2), "pdf", mime="application/pdf"))
    assert "bukan foto" in meta.last()
    meta.deliver(g.image("wamid.fake", CITIZEN, meta.now(3), "fake"))
    assert "bukan foto" in meta.last()
    meta.deliver(g.image("wamid.gone", CITIZEN, meta.now(4), "no-such-media"))
    assert "tidak dapat kami unduh" in meta.last()
    assert meta.count(WhatsAppMedia) == 0
    assert meta.conversation().step == "where"  # the conversation goes on


def test_a_photo_sent_beyond_the_limit_is_not_kept(meta, standin):
    standin.media["m"] = (PHOTO, "image/jpeg", None)
    meta.say("Saluran air tersumbat di Gang Mawar, banjir tiap hujan")
    for n in range(6):
        meta.deliver(g.image(f"wamid.p{n}", CITIZEN, meta.now(n + 1), "m"))
    assert "Sudah 5 foto" in meta.replies()[-2]
    assert meta.count(WhatsAppMedia) == 5


# --------------------------------------------------------------------------- open reports


def test_a_citizen_answers_the_officers_question_by_simply_writing(meta, standin):
    number = file_report(meta)
    meta.regency.act(number, "request_info", as_="admin.kominfo",
                     reason="Di sisi mana lampu yang mati? Mohon kirim foto.")
    assert meta.complaint(number).status == ids.STATUS_NEEDS_INFO
    standin.media["answer"] = (PHOTO, "image/jpeg", None)
    meta.deliver(g.image("wamid.ans", CITIZEN, meta.now(10), "answer",
                         caption="Sisi kiri dari arah Penajam"))
    assert "sudah diteruskan ke petugas" in meta.last()
    complaint = meta.complaint(number)
    assert complaint.status != ids.STATUS_NEEDS_INFO
    with meta.regency.reads() as session:
        photos = session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.complaint_id == complaint.id, Attachment.kind == "photo"))
    assert photos == 1 and meta.count(WhatsAppMedia) == 0


def test_a_citizen_with_an_open_report_chooses_between_adding_and_a_new_report(meta):
    number = file_report(meta)
    meta.say("Apakah sudah ada petugas yang datang ke lokasi?", at=10)
    assert number in meta.last() and "BARU" in meta.last()
    meta.say("INFO", at=11)
    assert f"ditambahkan ke laporan {number}" in meta.last()
    with meta.regency.reads() as session:
        notes = list(session.scalars(select(ComplaintEvent.text).where(
            ComplaintEvent.kind == "citizen_note")))
    assert notes == ["Apakah sudah ada petugas yang datang ke lokasi?"]
    meta.say("Ada juga pohon tumbang menutup Jalan Sepaku, mohon segera", at=12)
    meta.say("BARU", at=13)
    assert "Di mana lokasinya" in meta.last()
    meta.say("CEK", at=14)
    assert number in meta.last() and "Batas waktu" in meta.last()


def test_berhenti_stops_the_news_of_a_report_the_number_follows(meta):
    number = file_report(meta)
    meta.regency.domain.nearby.me_too(number, {"phone": "0813 2222 3333",
                                               "channel": "whatsapp"}, "")
    meta.say(f"BERHENTI {number}", sender="6281322223333")
    assert meta.last("6281322223333") == f"Anda tidak lagi menerima kabar laporan {number}."
    with meta.regency.reads() as session:
        assert session.scalar(select(MeToo.phone)) is None


# --------------------------------------------------------------------------- going back out


def test_replies_go_free_form_in_the_window_and_as_templates_after_it(meta, standin):
    number = file_report(meta)
    meta.sender().send_due()
    texts = [m["json"] for m in standin.sent]
    assert texts and all(m["type"] == "text" for m in texts)
    assert all(m["to"] == CITIZEN for m in texts) and number in texts[-1]["text"]["body"]
    # Two days later the agency verifies it: outside the window, the status template.
    meta.regency.clock.advance(timedelta(days=2))
    meta.regency.act(number, "verify", as_="admin.kominfo")
    meta.sender().send_due()
    last = standin.sent[-1]["json"]
    assert last["type"] == "template"
    assert last["template"]["name"] == "aduan_status_update"
    assert last["template"]["language"] == {"code": "id"}
    values = [p["text"] for p in last["template"]["components"][0]["parameters"]]
    assert values[0] == number and "\n" not in values[1] and values[2].startswith(PUBLIC)
    assert "disposed" not in values[1] and "verif" in values[1].lower()


def test_delivery_statuses_are_recorded_on_the_outbox_rows_and_never_go_back(meta, standin):
    meta.say("Halo")
    meta.sender().send_due()
    with meta.regency.reads() as session:
        row = session.scalars(select(Outbox).where(Outbox.channel == "whatsapp")).one()
        session.expunge(row)
    assert row.provider_id == "wamid.out.1"
    read = g.status("wamid.out.1", "read", meta.now(20), CITIZEN)
    delivered = g.status("wamid.out.1", "delivered", meta.now(10), CITIZEN)
    assert meta.deliver(statuses=(read,))["statuses"] == 1
    assert meta.deliver(statuses=(delivered,))["statuses"] == 0  # late: no step back
    unknown = g.status("wamid.someone-else", "delivered", meta.now(30), CITIZEN)
    assert meta.deliver(statuses=(unknown,))["statuses"] == 0
    row_id = row.id
    with meta.regency.reads() as session:
        assert session.get(Outbox, row_id).delivery_status == "read"
    failed = g.status("wamid.out.1", "failed", meta.now(40), CITIZEN,
                      {"code": 131047, "title": "Re-engagement message"})
    meta.deliver(statuses=(failed,))
    with meta.regency.reads() as session:
        row = session.get(Outbox, row_id)
        assert row.delivery_status == "failed" and "131047" in row.last_error


def test_a_half_written_report_is_abandoned_after_24_hours_with_a_template(meta, standin):
    meta.say("Ada tumpukan kayu di bahu jalan dekat jembatan Nipah-Nipah")
    meta.regency.clock.advance(timedelta(hours=23))
    assert meta.regency.domain.whatsapp.expire() == 0
    meta.regency.clock.advance(timedelta(hours=2))
    assert meta.regency.domain.whatsapp.expire() == 1
    assert meta.conversation().step == "idle"
    meta.sender().send_due()
    last = standin.sent[-1]["json"]
    assert last["type"] == "template" and last["template"]["name"] == "aduan_report_abandoned"


# --------------------------------------------------------------------------- two processes

SERVE = """
import sys
from werkzeug.serving import make_server
from web.app import create_app
http = make_server("127.0.0.1", 0, create_app(), threaded=True)
print(http.server_port, flush=True)
http.serve_forever()
"""


def _web_process(url: str, tmp_path: Any, standin: g.GraphStandIn, name: str
                 ) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "ADUAN_DATABASE_URL": url, "ADUAN_UPLOAD_DIR": str(tmp_path / name),
           "ADUAN_SECRET_KEY": "k" * 32, "ADUAN_SANDBOX_WORKERS": "0",
           "ADUAN_WHATSAPP_APP_SECRET": g.APP_SECRET,
           "ADUAN_WHATSAPP_VERIFY_TOKEN": g.VERIFY_TOKEN,
           "ADUAN_WHATSAPP_TOKEN": g.TOKEN, "ADUAN_WHATSAPP_GRAPH_URL": standin.graph_url,
           "ADUAN_PUBLIC_URL": PUBLIC}
    with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own handle
        process = subprocess.Popen([sys.executable, "-c", SERVE], env=env,
                                   stdout=subprocess.PIPE, stderr=log, text=True)
    port = process.stdout.readline().strip()  # the child prints its port once listening
    assert port.isdigit(), (tmp_path / f"{name}.log").read_text()
    return process, f"http://127.0.0.1:{port}/channels/whatsapp"


def test_two_web_processes_receiving_the_two_halves_of_a_conversation(postgres_url, tmp_path,
                                                                      standin):
    from tests.regency import build

    regency = build(postgres_url, FrozenClock(START_OF_TEST), tmp_path)
    regency.engine.dispose()
    first, url_1 = _web_process(postgres_url, tmp_path, standin, "web1")
    second, url_2 = _web_process(postgres_url, tmp_path, standin, "web2")
    try:
        now = int(time.time())  # the processes run on the system clock
        halves = [(url_1, g.text("wamid.h1", CITIZEN, now, "Lampu jalan di depan Puskesmas "
                                                           "Waru mati sejak Jumat")),
                  (url_2, g.location("wamid.h2", CITIZEN, now + 1, -1.4379, 116.6321,
                                     name="Puskesmas Waru"))]
        start = threading.Barrier(2)
        answers: list[int] = []

        def post(url: str, message: dict[str, Any]) -> None:
            body = json.dumps(g.delivery(message)).encode()
            start.wait(10)
            answers.append(requests.post(url, data=body, timeout=60, headers={
                "X-Hub-Signature-256": g.sign(body),
                "Content-Type": "application/json"}).status_code)

        threads = [threading.Thread(target=post, args=half) for half in halves]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert answers == [200, 200]
        for url, message in ((url_2, g.text("wamid.h3", CITIZEN, now + 2, "LANJUT")),
                             (url_1, g.text("wamid.h4", CITIZEN, now + 3, "YA"))):
            body = json.dumps(g.delivery(message)).encode()
            assert requests.post(url, data=body, timeout=60, headers={
                "X-Hub-Signature-256": g.sign(body)}).status_code == 200
        db = regency.engine  # disposed above: a fresh pool reads what the processes wrote
        with db.store.read() as session:
            complaints = session.scalars(select(Complaint).where(
                Complaint.channel == "whatsapp")).all()
            assert len(complaints) == 1
            assert complaints[0].body.startswith("Lampu jalan di depan Puskesmas Waru")
            assert (complaints[0].latitude, complaints[0].longitude) == (-1.4379, 116.6321)
            number = complaints[0].tracking_number
            taken = session.scalar(select(func.count()).select_from(WhatsAppInbound).where(
                WhatsAppInbound.processed.is_not(None)))
            assert taken == 4
            replies = [row.payload["text"] for row in session.scalars(
                select(Outbox).where(Outbox.template == "whatsapp_reply").order_by(Outbox.id))]
        assert "Ringkasan" in replies[-2] and number in replies[-1]
    finally:
        for process in (first, second):
            process.terminate()
            process.wait(30)
            process.stdout.close()
        regency.engine.dispose()
