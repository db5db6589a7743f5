"""The SMS gateway (web/sms.py, workflows/sms.py): real webhook requests over HTTP on
loopback, replies delivered by the outbox to a local stand-in for the gateway."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from engine import FrozenClock
from tests.regency import attach
from tests.test_delivery import FakeProvider
from workflows import diagram_ids as ids
from workflows.channels import SmsGatewayChannel
from workflows.delivery import OutboxSender
from workflows.metoo_models import MeToo
from workflows.models import Complaint, ComplaintEvent, Outbox
from workflows.sms import GSM7, is_gsm7, sms_length, split_reply
from workflows.sms_models import SmsInbound

SECRET = "rahasia-gateway-ppu"
DUE_DAY = "Kamis, 5 Mar 2026 09.00 WITA"
CITIZEN = "+62 812-3456-7890"
STRANGER = "081299990000"


class Gateway:
    """The webhook as a gateway sees it."""

    def __init__(self, regency: Any, url: str) -> None:
        self.regency, self.url = regency, url
        self.counter = 0

    def post(self, body: Any = None, *, secret: str | None = SECRET, raw: bytes | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Aduan-Gateway-Secret"] = secret
        if raw is not None:
            return requests.post(self.url, data=raw, headers=headers, timeout=30, **kwargs)
        return requests.post(self.url, json=body, headers=headers, timeout=30, **kwargs)

    def sms(self, text: str, sender: str = CITIZEN, **fields: Any) -> dict[str, Any]:
        self.counter += 1
        body = {"id": fields.pop("id", f"gw-{self.counter}"), "from": sender, "text": text,
                **fields}
        response = self.post(body)
        assert response.status_code == 200, response.text
        return response.json()

    def count(self, model: Any) -> int:
        with self.regency.reads() as session:
            return session.scalar(select(func.count()).select_from(model))

    def replies(self, recipient: str = "6281234567890") -> list[str]:
        with self.regency.reads() as session:
            return [row.payload["text"] for row in session.scalars(
                select(Outbox).where(Outbox.channel == "sms", Outbox.template == "sms_reply",
                                     Outbox.recipient == recipient).order_by(Outbox.id))]

    def complaint(self, number: str) -> Complaint:
        with self.regency.reads() as session:
            row = session.scalars(select(Complaint).where(
                Complaint.tracking_number == number)).one()
            session.expunge(row)
            return row


def serve(regency: Any, path: str) -> tuple[Any, str]:
    http = make_server("127.0.0.1", 0, regency.client.application, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    return http, f"http://127.0.0.1:{http.server_port}{path}"


@pytest.fixture
def gateway(demo_template: tuple[Any, dict[str, str]], clock: FrozenClock, tmp_path: Any
            ) -> Iterator[Gateway]:
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens,
                     sms_gateway_secret=SECRET)
    http, url = serve(regency, "/channels/sms")
    yield Gateway(regency, url)
    http.shutdown()
    regency.engine.dispose()


def filed_number(reply: str) -> str:
    return reply.split("Nomor: ")[1].split(".")[0]


def test_without_a_configured_secret_the_webhook_does_not_exist(demo_template, clock,
                                                                  tmp_path):
    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens)
    http, url = serve(regency, "/channels/sms")
    try:
        response = requests.post(url, json={"id": "1", "from": CITIZEN, "text": "CEK x"},
                                 headers={"X-Aduan-Gateway-Secret": ""}, timeout=30)
        assert response.status_code == 404
    finally:
        http.shutdown()
        regency.engine.dispose()


def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_stored(gateway):
    complaints = gateway.count(Complaint)
    body = {"id": "gw-x", "from": CITIZEN, "text": "LAPOR Jalan berlubang di depan pasar"}
    missing = gateway.post(body, secret=None)
    assert missing.status_code == 401 and "X-Aduan-Gateway-Secret" in missing.json()["error"]
    wrong = gateway.post(body, secret=SECRET + "x")
    assert wrong.status_code == 403
    basic_wrong = requests.post(gateway.url, json=body, auth=("gw", "salah"), timeout=30)
    assert basic_wrong.status_code == 403
    assert gateway.count(SmsInbound) == 0 and gateway.count(Complaint) == complaints
    # HTTP basic auth with the secret as the password is accepted too
    basic = requests.post(gateway.url, json=body, auth=("gw", SECRET), timeout=30)
    assert basic.status_code == 200 and basic.json()["status"] == "processed"


def test_malformed_json_and_bad_fields_get_400_naming_what_to_fix(gateway):
    broken = gateway.post(raw=b'{"id": "1", "from": ')
    assert broken.status_code == 400 and "JSON object" in broken.json()["error"]
    not_object = gateway.post(["LAPOR"])
    assert not_object.status_code == 400
    missing = gateway.post({"from": "12", "text": 5})
    assert missing.status_code == 400
    fields = missing.json()["fields"]
    assert set(fields) >= {"id", "from", "text"}
    parts = gateway.post({"id": "p", "from": CITIZEN, "text": "x", "part": 3, "parts": 2})
    assert parts.status_code == 400 and set(parts.json()["fields"]) == {"part", "ref"}
    assert gateway.count(SmsInbound) == 0


def test_lapor_files_a_report_and_the_reply_goes_out_through_the_outbox(gateway):
    result = gateway.sms("LAPOR Jalan berlubang besar di depan pasar Penajam, RT 05")
    assert result["status"] == "processed"
    number = filed_number(result["reply"])
    complaint = gateway.complaint(number)
    assert complaint.channel == "sms" and complaint.contact_channel == "sms"
    assert complaint.reporter_phone == "+6281234567890" and complaint.category == "roads"
    assert complaint.body.startswith("Jalan berlubang besar")
    secret = result["reply"].split("Kode rahasia: ")[1].split(" ")[0]
    principal = gateway.regency.domain.reports.authenticate_complainant(number, secret)
    assert principal.tracking_number == number
    replies = gateway.replies()
    assert replies == [result["reply"]] and result["messages"] == 1 and len(replies[0]) <= 160
    assert replies[0].startswith("Laporan diterima. Nomor: " + number)
    # the outbox delivers the reply to the gateway (a local stand-in server)
    provider = FakeProvider()
    provider.thread.start()
    try:
        sender = OutboxSender(gateway.regency.engine.store,
                              {"sms": SmsGatewayChannel(provider.url + "/send", "u", "p")},
                              gateway.regency.clock, worker_id="w")
        sent = sender.send_due()
        assert sent["sent"] >= 1
        texts = [r["json"]["message"] for r in provider.requests
                 if r["json"]["to"] == "6281234567890"]
        assert replies[0] in texts  # the text as it is, no subject line
    finally:
        provider.release.set()
        provider.server.shutdown()
        provider.server.server_close()


def test_a_category_is_guessed_only_when_one_keyword_is_obvious(gateway):
    waste = filed_number(gateway.sms("LAPOR Sampah menumpuk di Kelurahan Nipah-Nipah")["reply"])
    both = filed_number(gateway.sms("LAPOR Lampu mati dan sampah menumpuk di gang")["reply"])
    assert gateway.complaint(waste).category == "waste"
    assert gateway.complaint(both).category == "other"


def test_a_repeated_delivery_is_processed_once(gateway):
    body = {"id": "gw-dup", "from": CITIZEN, "text": "LAPOR Air PDAM tidak mengalir 3 hari"}
    complaints = gateway.count(Complaint)
    first = gateway.post(body).json()
    again = gateway.post(body).json()
    assert first["status"] == "processed" and again["status"] == "duplicate"
    assert again["reply"] == first["reply"]
    assert gateway.count(Complaint) == complaints + 1
    assert len(gateway.replies()) == first["messages"]


def test_the_parts_of_a_long_message_are_joined_in_any_order(gateway):
    complaints = gateway.count(Complaint)
    waiting = gateway.sms("an Sudirman dekat masjid sudah dua minggu.", id="p2", ref="77",
                          part=2, parts=2)
    assert waiting["status"] == "waiting" and gateway.count(Complaint) == complaints
    done = gateway.sms("LAPOR Lampu jalan mati di Jal", id="p1", ref="77", part=1, parts=2)
    assert done["status"] == "processed"
    complaint = gateway.complaint(filed_number(done["reply"]))
    assert complaint.body == "Lampu jalan mati di Jalan Sudirman dekat masjid sudah dua minggu."
    # a part delivered again after the message was processed changes nothing
    assert gateway.sms("an Sudirman", id="p2", ref="77", part=2, parts=2)["status"] == "duplicate"
    assert gateway.count(Complaint) == complaints + 1


def test_a_long_message_whose_last_part_never_comes_is_taken_after_half_an_hour(gateway):
    complaints = gateway.count(Complaint)
    gateway.sms("LAPOR Sampah menumpuk di TPS Pasar Penajam ", id="q1", ref="9", part=1,
                parts=3)
    gateway.sms("hujan, baunya sampai ke sekolah.", id="q3", ref="9", part=3, parts=3)
    sms = gateway.regency.domain.sms
    gateway.regency.clock.advance(timedelta(minutes=29))
    assert sms.flush_incomplete() == 0 and gateway.count(Complaint) == complaints
    gateway.regency.clock.advance(timedelta(minutes=2))
    assert sms.flush_incomplete() == 1
    assert sms.flush_incomplete() == 0  # taken once
    reply = gateway.replies()[-1]
    complaint = gateway.complaint(filed_number(reply))
    assert complaint.body == ("Sampah menumpuk di TPS Pasar Penajam  ... hujan, baunya "
                              "sampai ke sekolah.")
    # the missing part arriving afterwards is stored and waits with nothing to join
    late = gateway.sms("sejak minggu lalu, apalagi setelah ", id="q2", ref="9", part=2,
                       parts=3)
    assert late["status"] == "waiting" and gateway.count(Complaint) == complaints + 1
    gateway.regency.clock.advance(timedelta(minutes=31))
    replies = len(gateway.replies())
    assert sms.flush_incomplete() == 0 and len(gateway.replies()) == replies
    with gateway.regency.reads() as session:
        assert session.get(SmsInbound, "q2").processed is not None


def test_berhenti_stops_the_news_of_a_followed_report_to_that_number_only(gateway):
    number = filed_number(gateway.sms("LAPOR Jembatan kayu di Desa Sotek rapuh")["reply"])
    nearby = gateway.regency.domain.nearby
    nearby.me_too(number, {"phone": "0812 3456 7890", "channel": "sms"}, "")
    nearby.me_too(number, {"phone": STRANGER, "channel": "sms"}, "")
    assert gateway.sms("BERHENTI")["reply"].startswith("Kirim: BERHENTI")
    stopped = gateway.sms(f"berhenti {number}")
    assert stopped["reply"] == f"Anda tidak lagi menerima kabar laporan {number}."
    again = gateway.sms(f"BERHENTI {number}")
    assert again["reply"] == f"Nomor Anda tidak mengikuti laporan {number}."
    with gateway.regency.reads() as session:
        phones = sorted(p or "-" for p in session.scalars(select(MeToo.phone)))
    assert phones == ["-", STRANGER]  # the other follower still follows; both still count


def test_info_adds_to_the_senders_own_report_and_is_refused_to_another_number(gateway):
    number = filed_number(gateway.sms("LAPOR Jembatan kayu di Desa Sotek rapuh")["reply"])
    refused = gateway.sms(f"INFO {number} Saya tahu siapa pelapornya", sender=STRANGER)
    assert refused["reply"] == (f"Laporan {number} tidak ditemukan untuk nomor Anda. "
                                "Periksa nomornya.")
    assert gateway.replies("6281299990000") == [refused["reply"]]
    unknown = gateway.sms("INFO PPU-2026-999999 apa saja", sender=STRANGER)
    assert unknown["reply"] == refused["reply"].replace(number, "PPU-2026-999999")
    noted = gateway.sms(f"info {number.lower()} Sudah ada korban jatuh kemarin sore")
    assert noted["reply"] == f"Terima kasih. Informasi Anda ditambahkan ke laporan {number}."
    with gateway.regency.reads() as session:
        texts = list(session.scalars(select(ComplaintEvent.text).where(
            ComplaintEvent.complaint_id == gateway.complaint(number).id,
            ComplaintEvent.kind == "citizen_note")))
    assert texts == ["Sudah ada korban jatuh kemarin sore"]


def test_info_answers_the_officers_question_with_provide_info(gateway):
    number = filed_number(gateway.sms("LAPOR Pipa air bocor di Jalan Propinsi km 3")["reply"])
    gateway.regency.act(number, "request_info", as_="admin.kominfo", reason="Di sisi mana?")
    assert gateway.complaint(number).status == ids.STATUS_NEEDS_INFO
    answer = gateway.sms(f"INFO {number} Sisi kiri arah Balikpapan, depan toko")
    assert "sudah diterima petugas" in answer["reply"]
    assert gateway.complaint(number).status != ids.STATUS_NEEDS_INFO


def test_cek_answers_status_and_deadline_only_to_the_sender(gateway):
    number = filed_number(gateway.sms("LAPOR Sampah tidak diangkut di Pasar Induk")["reply"])
    status = gateway.sms(f"CEK {number}")["reply"]
    # Filed on Monday 2 March at 09:00 WITA: three working days to verify it, said as people
    # say it (a due time at midnight would be the day before, without the time).
    assert status == (f"Laporan {number}: Belum Terverifikasi. Batas waktu tahap ini: "
                      f"{DUE_DAY}.")
    assert "tidak ditemukan" in gateway.sms(f"CEK {number}", sender=STRANGER)["reply"]


def test_unknown_commands_get_a_short_help_in_indonesian(gateway):
    for text in ("halo pak", "", "CEK", "INFO PPU-2026-000001", "LAPOR jalan"):
        reply = gateway.sms(text)["reply"]
        assert len(reply) <= 160 and ("LAPOR" in reply or "Kirim:" in reply), reply
    assert gateway.sms("apa ini")["reply"].startswith("Format SMS Aduan: LAPOR")


def test_replies_fit_one_sms_or_are_split_with_numbering():
    gsm = "Laporan diterima " * 9  # 153 characters: one SMS
    assert split_reply(gsm.strip()) == [gsm.strip()]
    long = " ".join(f"kata{i}" for i in range(60))
    parts = split_reply(long)
    assert len(parts) == 3 and all(sms_length(p, True) <= 160 for p in parts)
    assert [p[:6] for p in parts] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert " ".join(p[6:] for p in parts) == long
    # one character outside GSM-7 makes the whole reply UCS-2: 70 per SMS
    ucs = "Laporan Anda sudah diterima oleh petugas ✓ terima kasih"
    assert not is_gsm7(ucs) and split_reply(ucs) == [ucs]
    ucs_long = ucs + " dan akan segera ditindaklanjuti oleh dinas terkait"
    split = split_reply(ucs_long)
    assert len(split) == 2 and all(sms_length(p, False) <= 70 for p in split)
    assert split[0].startswith("(1/2) ") and "✓" in "".join(split)
    # the GSM-7 extension characters take two septets
    assert sms_length("[]", True) == 4 and "€" not in GSM7
    assert split_reply("x" * 200)[0] == "(1/2) " + "x" * 154


def test_two_web_processes_receiving_the_two_halves_file_one_report(regency, database_url,
                                                                     clock, tmp_path):
    """Each half of a long message reaches another web process (its own engine and pool) at
    the same moment, on SQLite and PostgreSQL: each message is filed exactly once."""
    apps = [attach(database_url, clock, tmp_path / name, {}, sms_gateway_secret=SECRET)
            for name in ("web-a", "web-b")]
    servers = [serve(app, "/channels/sms") for app in apps]
    complaints = Gateway(regency, "").count(Complaint)
    results: list[str] = []
    try:
        for round_ in range(4):
            barrier = threading.Barrier(2)

            def deliver(index: int, round_: int = round_, barrier: Any = barrier) -> None:
                text = ("LAPOR Lampu PJU mati di Jal", "an Negara km 4, gelap sekali.")[index]
                body = {"id": f"r{round_}-{index}", "from": CITIZEN, "text": text,
                        "ref": f"ref-{round_}", "part": index + 1, "parts": 2}
                barrier.wait()
                response = requests.post(servers[index][1], json=body, timeout=60,
                                         headers={"X-Aduan-Gateway-Secret": SECRET})
                assert response.status_code == 200, response.text
                results.append(response.json()["status"])

            threads = [threading.Thread(target=deliver, args=(i,)) for i in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
    finally:
        for http, _ in servers:
            http.shutdown()
        for app in apps:
            app.engine.dispose()
    assert len(results) == 8 and results.count("processed") == 4, results
    assert Gateway(regency, "").count(Complaint) == complaints + 4
    with regency.reads() as session:
        bodies = list(session.scalars(select(Complaint.body).where(Complaint.channel == "sms")))
    assert bodies == ["Lampu PJU mati di Jalan Negara km 4, gelap sekali."] * 4
