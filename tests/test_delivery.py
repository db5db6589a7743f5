"""The outbox sender against real servers: SMTP (aiosmtpd) and HTTP (WhatsApp, SMS gateway).

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from base64 import b64encode
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import START
from workflows.channels import (
    InvalidRecipient,
    OutgoingMessage,
    SmsGatewayChannel,
    SmtpChannel,
    WhatsAppCloudChannel,
    normalize_phone,
)
from workflows.delivery import OutboxSender, backlog, dead_letters, requeue
from workflows.errors import Conflict, NotFound
from workflows.models import Outbox, User
from workflows.notify import to_users

TITLE = "Sampah menumpuk — TPS Nipah‑Nipah"
LINK = "https://aduan.ppu.example.id/lacak/PPU-2026-000123"
PAYLOAD = {"tracking_number": "PPU-2026-000123", "title": TITLE,
           "status_label": "Selesai", "reason": "Sudah diangkut petugas DLH ✓", "link": LINK}
PAYLOAD_EN = {**PAYLOAD, "status_label": "Closed", "reason": "Collected by the DLH crew ✓"}
WAIT = 10  # seconds a test waits on an event before it fails


# --------------------------------------------------------------------------- real servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailCollector:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(e.content, policy=email.policy.default)
                    for e in self.envelopes]


@pytest.fixture
def smtp_server():
    collector = MailCollector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    collector.port = controller.port
    yield collector
    controller.stop()


class FakeProvider:
    """A local HTTP server standing in for the WhatsApp Cloud API and an SMS gateway.

    Answers POSTs from a script of (status, JSON body), then with `default`; `hang` makes it
    wait for `release` before answering (to provoke a client timeout).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, Any]] = []
        self.default: tuple[int, Any] = (200, {"id": "default"})
        self.hang = False
        self.release = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with provider.lock:
                    provider.requests.append({
                        "path": self.path, "headers": dict(self.headers.items()),
                        "json": json.loads(raw.decode("utf-8"))})
                    status, body = (provider.script.pop(0) if provider.script
                                    else provider.default)
                if provider.hang:
                    provider.release.wait(WAIT)
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, *responses: tuple[int, Any]) -> None:
        with self.lock:
            self.script.extend(responses)


@pytest.fixture
def provider():
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(WAIT)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def store(make_engine):
    return make_engine().store


def add_row(store, clock, channel: str, recipient: str, *, language: str = "id",
            template: str = "status_changed", payload: dict | None = None) -> int:
    with store.transaction() as session:
        row = Outbox(created_at=clock.now(), channel=channel, recipient=recipient,
                     template=template, language=language,
                     payload=payload if payload is not None else PAYLOAD,
                     status="pending", attempts=0, next_attempt_at=clock.now())
        session.add(row)
        session.flush()
        return row.id


def row(store, outbox_id: int) -> dict[str, Any]:
    with store.read() as session:
        return dict(session.execute(
            select(Outbox.__table__).where(Outbox.id == outbox_id)).mappings().one())


def smtp(server: MailCollector, **kwargs: Any) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", server.port, "aduan@ppukab.go.id", **kwargs)


def sender(store, clock, channels, worker: str = "worker-a", **kwargs: Any) -> OutboxSender:
    return OutboxSender(store, channels, clock, worker_id=worker, **kwargs)


NOTHING = {"sent": 0, "retried": 0, "dead": 0, "skipped": 0}


# --------------------------------------------------------------------------- email


def test_an_email_arrives_once_in_the_language_of_its_row(store, clock, smtp_server):
    in_id = add_row(store, clock, "email", "ani@example.org", language="id")
    in_en = add_row(store, clock, "email", "budi@example.org", language="en",
                    payload=PAYLOAD_EN)
    outbox = sender(store, clock, {"email": smtp(smtp_server)})

    assert outbox.send_due() == {**NOTHING, "sent": 2}
    assert outbox.send_due() == NOTHING

    assert len(smtp_server.envelopes) == 2
    by_to = {m["To"]: m for m in smtp_server.messages()}
    indonesian, english = by_to["ani@example.org"], by_to["budi@example.org"]
    assert indonesian["Subject"] == "Laporan PPU-2026-000123: Selesai"
    assert indonesian.get_content().strip().replace("\r\n", "\n") == (
        f'Status laporan Anda "{TITLE}" kini Selesai. Sudah diangkut petugas DLH ✓\n'
        f"Ikuti laporan Anda: {LINK}")
    assert indonesian["Content-Language"] == "id"
    assert english["Subject"] == "Report PPU-2026-000123: Closed"
    assert english.get_content().strip().replace("\r\n", "\n") == (
        f'Your report "{TITLE}" is now Closed. Collected by the DLH crew ✓\n'
        f"Follow your report: {LINK}")
    assert english["Content-Language"] == "en"
    for message in (indonesian, english):
        assert message["From"] == "aduan@ppukab.go.id"
        assert message["Date"]
        assert message.get_content_charset() == "utf-8"
    envelope = next(e for e in smtp_server.envelopes if e.rcpt_tos == ["ani@example.org"])
    assert envelope.mail_from == "aduan@ppukab.go.id"

    sent = row(store, in_id)
    assert sent["status"] == "sent" and sent["attempts"] == 1
    assert sent["sent_at"] == START
    assert sent["provider_id"] == indonesian["Message-ID"]
    assert sent["provider_id"] == f"<aduan.outbox.{in_id}@ppukab.go.id>"
    assert sent["claimed_by"] is None and sent["claimed_until"] is None
    assert row(store, in_en)["provider_id"] == english["Message-ID"]


def test_a_non_ascii_subject_is_encoded_for_the_wire(store, clock, smtp_server):
    add_row(store, clock, "email", "ani@example.org",
            payload={**PAYLOAD, "status_label": "Ditindaklanjuti ✓"})
    sender(store, clock, {"email": smtp(smtp_server)}).send_due()

    raw = smtp_server.envelopes[0].content
    subject_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert b"=?utf-8?" in subject_line.lower()
    assert smtp_server.messages()[0]["Subject"] == "Laporan PPU-2026-000123: Ditindaklanjuti ✓"


def test_an_smtp_server_that_is_down_is_retried_until_the_row_is_dead(store, clock):
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        channel = SmtpChannel("127.0.0.1", closed.getsockname()[1], "aduan@ppukab.go.id",
                              timeout=2)
        outbox_id = add_row(store, clock, "email", "ani@example.org")
        outbox = sender(store, clock, {"email": channel}, max_attempts=4)

        waits = []
        for attempt in range(1, 4):
            assert outbox.send_due() == {**NOTHING, "retried": 1}
            state = row(store, outbox_id)
            assert state["status"] == "pending" and state["attempts"] == attempt
            assert "ConnectionRefusedError" in state["last_error"]
            assert state["claimed_by"] is None
            waits.append(state["next_attempt_at"] - clock.now())
            clock.advance(waits[-1] - timedelta(seconds=1))
            assert outbox.send_due() == NOTHING  # not due yet
            clock.advance(seconds=1)
        assert waits == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]

        assert outbox.send_due() == {**NOTHING, "dead": 1}
    state = row(store, outbox_id)
    assert state["status"] == "dead" and state["attempts"] == 4
    assert state["next_attempt_at"] is None
    assert [d["id"] for d in dead_letters(store, 10)] == [outbox_id]
    assert "refused" in dead_letters(store, 10)[0]["last_error"].lower()


def test_an_invalid_email_address_is_a_dead_letter_without_a_connection(store, clock):
    outbox_id = add_row(store, clock, "email", "not an address")
    channel = SmtpChannel("127.0.0.1", 9, "aduan@ppukab.go.id")  # never reached
    assert sender(store, clock, {"email": channel}).send_due() == {**NOTHING, "dead": 1}
    assert "invalid email address" in row(store, outbox_id)["last_error"]


# --------------------------------------------------------------------------- WhatsApp, SMS


def test_a_whatsapp_message_is_posted_once_in_the_cloud_api_shape(store, clock, provider):
    provider.default = (200, {"messaging_product": "whatsapp",
                              "contacts": [{"input": "6281234567890", "wa_id": "6281234567890"}],
                              "messages": [{"id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQg=="}]})
    outbox_id = add_row(store, clock, "whatsapp", "0812-3456-7890")
    channel = WhatsAppCloudChannel(provider.url + "/v20.0/1234567890/messages", "secret-token")
    outbox = sender(store, clock, {"whatsapp": channel})

    assert outbox.send_due() == {**NOTHING, "sent": 1}
    assert outbox.send_due() == NOTHING

    [request] = provider.requests
    assert request["path"] == "/v20.0/1234567890/messages"
    assert request["headers"]["Authorization"] == "Bearer secret-token"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["json"] == {
        "messaging_product": "whatsapp",
        "to": "6281234567890",
        "type": "text",
        "text": {"preview_url": False,
                 "body": "Laporan PPU-2026-000123: Selesai\n"
                         f'Status laporan Anda "{TITLE}" kini Selesai. '
                         f"Sudah diangkut petugas DLH ✓\nIkuti laporan Anda: {LINK}"},
    }
    state = row(store, outbox_id)
    assert state["status"] == "sent"
    assert state["provider_id"] == "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQg=="


def test_an_sms_goes_to_the_gateway_with_basic_auth_and_a_normalised_number(store, clock,
                                                                           provider):
    provider.default = (200, {"status": "queued", "data": {"message_id": 98765}})
    outbox_id = add_row(store, clock, "sms", "+62 812 3456 7890", language="en",
                        payload=PAYLOAD_EN)
    channel = SmsGatewayChannel(provider.url + "/sms/send", "ppu", "s3cret")

    assert sender(store, clock, {"sms": channel}).send_due() == {**NOTHING, "sent": 1}

    [request] = provider.requests
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Basic " + b64encode(b"ppu:s3cret").decode()
    assert request["json"] == {
        "to": "6281234567890",
        "message": "Report PPU-2026-000123: Closed\n"
                   f'Your report "{TITLE}" is now Closed. Collected by the DLH crew ✓\n'
                   f"Follow your report: {LINK}"}
    assert row(store, outbox_id)["provider_id"] == "98765"


def test_an_sms_gateway_can_take_an_api_key_header_instead(store, clock, provider):
    add_row(store, clock, "sms", "081234567890")
    channel = SmsGatewayChannel(provider.url, api_key="k-123", api_key_header="X-Api-Key")
    assert sender(store, clock, {"sms": channel}).send_due()["sent"] == 1
    headers = provider.requests[0]["headers"]
    assert headers["X-Api-Key"] == "k-123" and "Authorization" not in headers
    assert provider.requests[0]["json"]["to"] == "6281234567890"


def test_a_gateway_failing_twice_with_500_is_retried_with_backoff_and_sends_once(
        store, clock, provider):
    provider.answer((500, {"error": "upstream down"}), (500, {"error": "upstream down"}))
    provider.default = (200, {"id": "sms-1"})
    outbox_id = add_row(store, clock, "sms", "081234567890")
    outbox = sender(store, clock, {"sms": SmsGatewayChannel(provider.url, "u", "p")})

    assert outbox.send_due() == {**NOTHING, "retried": 1}
    first = row(store, outbox_id)
    assert first["attempts"] == 1 and first["next_attempt_at"] == START + timedelta(seconds=60)
    assert "HTTP 500" in first["last_error"] and "upstream down" in first["last_error"]
    assert outbox.send_due() == NOTHING

    clock.advance(seconds=60)
    assert outbox.send_due() == {**NOTHING, "retried": 1}
    second = row(store, outbox_id)
    assert second["attempts"] == 2
    assert second["next_attempt_at"] == START + timedelta(seconds=60 + 120)

    clock.advance(seconds=119)
    assert outbox.send_due() == NOTHING
    clock.advance(seconds=1)
    assert outbox.send_due() == {**NOTHING, "sent": 1}
    assert outbox.send_due() == NOTHING

    assert len(provider.requests) == 3
    done = row(store, outbox_id)
    assert done["status"] == "sent" and done["attempts"] == 3 and done["provider_id"] == "sms-1"
    assert done["sent_at"] == START + timedelta(seconds=180)


def test_a_gateway_answering_400_makes_a_dead_letter_at_once(store, clock, provider):
    provider.answer((400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}))
    outbox_id = add_row(store, clock, "whatsapp", "081234567890")
    outbox = sender(store, clock, {"whatsapp": WhatsAppCloudChannel(provider.url, "t")})

    assert outbox.send_due() == {**NOTHING, "dead": 1}
    state = row(store, outbox_id)
    assert state["status"] == "dead" and state["attempts"] == 1
    assert "HTTP 400" in state["last_error"] and "Invalid parameter" in state["last_error"]
    [letter] = dead_letters(store, 10)
    assert letter["id"] == outbox_id and "Invalid parameter" in letter["last_error"]
    clock.advance(hours=7)
    assert outbox.send_due() == NOTHING
    assert len(provider.requests) == 1


def test_a_requeued_dead_letter_is_sent_again(store, clock, provider):
    provider.answer((404, {"error": "no such route"}))
    provider.default = (200, {"messages": [{"id": "wamid.2"}]})
    outbox_id = add_row(store, clock, "whatsapp", "081234567890")
    outbox = sender(store, clock, {"whatsapp": WhatsAppCloudChannel(provider.url, "t")})
    assert outbox.send_due()["dead"] == 1

    clock.advance(minutes=5)
    requeued = requeue(store, outbox_id, now=clock.now())
    assert requeued["status"] == "pending" and requeued["attempts"] == 0
    assert outbox.send_due() == {**NOTHING, "sent": 1}
    assert row(store, outbox_id)["provider_id"] == "wamid.2"
    with pytest.raises(Conflict):
        requeue(store, outbox_id, now=clock.now())
    with pytest.raises(NotFound):
        requeue(store, 999_999, now=clock.now())


def test_a_gateway_that_does_not_answer_in_time_is_retried(store, clock, provider):
    provider.hang = True
    outbox_id = add_row(store, clock, "sms", "081234567890")
    channel = SmsGatewayChannel(provider.url, "u", "p", timeout=0.3)
    assert sender(store, clock, {"sms": channel}).send_due() == {**NOTHING, "retried": 1}
    assert "timed out" in row(store, outbox_id)["last_error"]


def test_an_invalid_phone_number_is_a_dead_letter_without_a_request(store, clock, provider):
    outbox_id = add_row(store, clock, "sms", "12-34")
    assert sender(store, clock, {"sms": SmsGatewayChannel(provider.url, "u", "p")}
                  ).send_due()["dead"] == 1
    assert "invalid phone number" in row(store, outbox_id)["last_error"]
    assert provider.requests == []


@pytest.mark.parametrize(("written", "e164"), [
    ("081234567890", "6281234567890"),
    ("0812-3456-7890", "6281234567890"),
    ("+62 812 3456 7890", "6281234567890"),
    ("6281234567890", "6281234567890"),
    ("0062 812 3456 7890", "6281234567890"),
    ("+62 0812 3456 7890", "6281234567890"),
    ("81234567890", "6281234567890"),
    ("(0542) 21234", "6254221234"),
    ("+60 12-345 6789", "60123456789"),
])
def test_phone_numbers_are_normalised_to_e164_digits(written, e164):
    assert normalize_phone(written) == e164


@pytest.mark.parametrize("written", ["", "12", "0812-34ab-7890", "+62 812 3456 7890 1234 56"])
def test_numbers_that_cannot_be_phone_numbers_are_refused(written):
    with pytest.raises(InvalidRecipient):
        normalize_phone(written)


# --------------------------------------------------------------------------- leases and races


def test_two_senders_racing_on_the_same_rows_send_each_row_exactly_once(
        make_engine, store, clock, smtp_server):
    ids = [add_row(store, clock, "email", f"warga{n}@example.org") for n in range(24)]
    senders = [
        sender(make_engine().store, clock, {"email": smtp(smtp_server)}, worker=f"worker-{w}")
        for w in "ab"
    ]
    for each in senders:  # connect first, so neither starts with a head start
        assert backlog(each.store, clock.now())["due"] == len(ids)
    start = threading.Barrier(2, timeout=WAIT)
    totals = [dict(NOTHING), dict(NOTHING)]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            while True:
                counts = senders[index].send_due(limit=3)
                for key, value in counts.items():
                    totals[index][key] += value
                if not any(counts.values()):
                    return
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    assert totals[0]["sent"] + totals[1]["sent"] == len(ids)
    message_ids = sorted(m["Message-ID"] for m in smtp_server.messages())
    assert message_ids == sorted(f"<aduan.outbox.{i}@ppukab.go.id>" for i in ids)
    assert {row(store, i)["status"] for i in ids} == {"sent"}


def test_a_claim_takes_no_more_rows_than_its_limit(store, clock, smtp_server):
    ids = [add_row(store, clock, "email", f"warga{n}@example.org") for n in range(12)]
    first = sender(store, clock, {"email": smtp(smtp_server)}, worker="first")
    second = sender(store, clock, {"email": smtp(smtp_server)}, worker="second")

    assert [r.id for r in first.claim(3)] == ids[:3]
    assert [r.id for r in second.claim(3)] == ids[3:6]
    with store.read() as session:
        owners = dict(session.execute(select(Outbox.id, Outbox.claimed_by)).all())
    assert [owners[i] for i in ids] == ["first"] * 3 + ["second"] * 3 + [None] * 6


def test_an_expired_lease_is_taken_over_by_another_sender(store, clock, smtp_server):
    outbox_id = add_row(store, clock, "email", "ani@example.org")
    crashed = sender(store, clock, {"email": smtp(smtp_server)}, worker="crashed",
                     lease_seconds=120)
    assert [r.id for r in crashed.claim(10)] == [outbox_id]  # ... and then it dies
    leased = row(store, outbox_id)
    assert leased["claimed_by"] == "crashed"
    assert leased["claimed_until"] == START + timedelta(seconds=120)

    survivor = sender(store, clock, {"email": smtp(smtp_server)}, worker="survivor")
    assert survivor.send_due() == NOTHING  # the lease still holds
    clock.advance(seconds=120)
    assert survivor.send_due() == NOTHING  # until it has expired
    clock.advance(seconds=1)
    assert survivor.send_due() == {**NOTHING, "sent": 1}

    assert len(smtp_server.envelopes) == 1
    state = row(store, outbox_id)
    assert state["status"] == "sent" and state["claimed_by"] is None


def test_a_sender_whose_lease_was_taken_over_does_not_send_the_row_again(store, clock,
                                                                        smtp_server):
    outbox_id = add_row(store, clock, "email", "ani@example.org")
    slow = sender(store, clock, {"email": smtp(smtp_server)}, worker="slow")
    [claimed] = slow.claim(10)
    clock.advance(seconds=121)  # the slow sender stalls past its lease
    fast = sender(store, clock, {"email": smtp(smtp_server)}, worker="fast")
    assert fast.send_due()["sent"] == 1

    assert slow.deliver(claimed) == "skipped"
    assert len(smtp_server.envelopes) == 1
    assert row(store, outbox_id)["status"] == "sent"


# --------------------------------------------------------------------------- configuration


def test_a_row_of_an_unconfigured_channel_waits_with_the_reason(store, clock, smtp_server,
                                                                 provider):
    outbox_id = add_row(store, clock, "whatsapp", "081234567890")
    mail_id = add_row(store, clock, "email", "ani@example.org")
    outbox = sender(store, clock, {"email": smtp(smtp_server)})

    assert outbox.send_due() == {**NOTHING, "sent": 1, "skipped": 1}
    waiting = row(store, outbox_id)
    assert waiting["status"] == "pending" and waiting["attempts"] == 0
    assert waiting["last_error"] == "channel whatsapp is not configured"
    assert row(store, mail_id)["status"] == "sent"
    assert outbox.send_due() == NOTHING

    clock.advance(minutes=15)
    configured = sender(store, clock, {"email": smtp(smtp_server),
                                       "whatsapp": WhatsAppCloudChannel(provider.url, "t")})
    assert configured.send_due() == {**NOTHING, "sent": 1}
    assert row(store, outbox_id)["status"] == "sent"
    assert row(store, outbox_id)["last_error"] is None


def test_in_app_notifications_are_left_unread_for_the_web_ui(store, clock, smtp_server):
    with store.transaction() as session:
        officer = User(username="ani.dlh", full_name="Ani", email="ani@ppukab.go.id",
                       roles=["technical_officer"], language="en", active=True,
                       created_at=clock.now())
        session.add(officer)
        session.flush()
        assert to_users(session, [officer], None, "status_changed", clock.now(), PAYLOAD_EN) == 2

    assert sender(store, clock, {"email": smtp(smtp_server)}).send_due() == {**NOTHING,
                                                                             "sent": 1}
    with store.read() as session:
        states = dict(session.execute(select(Outbox.channel, Outbox.status)).all())
    assert states == {"inapp": "unread", "email": "sent"}
    assert smtp_server.messages()[0]["Subject"] == "Report PPU-2026-000123: Closed"


def test_an_adapter_that_breaks_unexpectedly_is_retried_not_lost(store, clock):
    class Broken:
        def __init__(self) -> None:
            self.seen: list[OutgoingMessage] = []

        def send(self, message: OutgoingMessage) -> str | None:
            self.seen.append(message)
            raise RuntimeError("adapter bug")

    broken = Broken()
    outbox_id = add_row(store, clock, "sms", "081234567890")
    assert sender(store, clock, {"sms": broken}).send_due() == {**NOTHING, "retried": 1}
    assert row(store, outbox_id)["last_error"] == "RuntimeError: adapter bug"
    assert broken.seen[0].outbox_id == outbox_id
    assert broken.seen[0].subject == "Laporan PPU-2026-000123: Selesai"


def test_an_unknown_template_is_a_dead_letter(store, clock, smtp_server):
    outbox_id = add_row(store, clock, "email", "ani@example.org", template="no_such_template")
    assert sender(store, clock, {"email": smtp(smtp_server)}).send_due()["dead"] == 1
    assert "no_such_template" in row(store, outbox_id)["last_error"]
    assert smtp_server.envelopes == []


def test_backoff_doubles_from_the_base_and_stops_at_six_hours(store, clock):
    outbox = sender(store, clock, {}, backoff_base_seconds=60)
    assert [outbox.backoff(n).total_seconds() for n in range(1, 6)] == [60, 120, 240, 480, 960]
    assert outbox.backoff(9).total_seconds() == 60 * 2**8
    assert outbox.backoff(10).total_seconds() == 6 * 3600
    assert outbox.backoff(500).total_seconds() == 6 * 3600


def test_the_backlog_counts_pending_due_and_dead_rows_and_the_oldest_wait(store, clock,
                                                                          provider):
    assert backlog(store, clock.now()) == {"pending": 0, "due": 0, "dead": 0,
                                           "oldest_due_seconds": 0.0}
    provider.answer((400, {"error": "bad number"}))
    add_row(store, clock, "sms", "081234567890")
    sender(store, clock, {"sms": SmsGatewayChannel(provider.url, "u", "p")}).send_due()
    add_row(store, clock, "email", "ani@example.org")
    clock.advance(minutes=10)
    add_row(store, clock, "email", "budi@example.org")
    with store.transaction() as session:
        session.add(Outbox(created_at=clock.now(), channel="email", recipient="c@example.org",
                           template="status_changed", language="id", payload=PAYLOAD,
                           status="pending", attempts=1,
                           next_attempt_at=clock.now() + timedelta(hours=1)))

    assert backlog(store, clock.now()) == {"pending": 3, "due": 2, "dead": 1,
                                           "oldest_due_seconds": 600.0}
