"""The SMS gateway (docs/channels.md, "SMS"): messages in the LAPOR format, received by the
webhook (web/sms.py), answered through the outbox on the `sms` channel.

- `LAPOR <text>` files a complaint (channel `sms`, the sender's phone, told by SMS; the
  category from a keyword when exactly one matches and is offered, else `other`); the reply
  carries the tracking number and the secret code.
- `INFO <number> <text>` adds information to the sender's own report: the `provide_info`
  verb when the report waits for information, else a note on the report (`citizen_note`).
- `CEK <number>` answers the status and the current deadline.
- `BERHENTI <number>` stops the news of a report the sender follows ("me too").
  A number that is not the sender's report gets the same answer as an unknown one.
- Each gateway message id is stored once (`sms_inbound`), so a repeated delivery is processed
  once; the parts of a long message (`ref`, `part`, `parts`) are rows too, joined when the last
  one arrives, in any order and in any web process (the rows are locked while claimed).
- A long message whose missing parts do not come within 30 minutes is processed with the
  parts that came (`flush_incomplete`, a scheduler job), the gap marked "...".
- Replies fit one SMS (160 GSM-7 characters, or 70 UCS-2 when a character is outside GSM-7)
  or are split at words into numbered SMS "(1/2) ...".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from workflows import categories
from workflows.channels import InvalidRecipient, normalize_phone
from workflows.context import Context
from workflows.errors import Invalid
from workflows.models import Complaint, Outbox
from workflows.nearby import Following
from workflows.phone_reports import PhoneReports
from workflows.reports import TRACKING_SHAPE, Reports
from workflows.sms_models import SmsInbound

CHANNEL = "sms"
MAX_PARTS = 10
INCOMPLETE_AFTER = timedelta(minutes=30)  # a long message's missing parts are waited for
MAX_TEXT = 1600  # characters of one delivered message or part
REPLY_TEMPLATE = "sms_reply"  # workflows/notify.py: the text as it is

HELP = ("Format SMS Aduan: LAPOR <isi laporan dan lokasi> | INFO <nomor laporan> <tambahan> "
        "| CEK <nomor laporan>")
TOO_SHORT = ("Laporan terlalu pendek. Kirim: LAPOR <apa yang terjadi dan di mana>, "
             "paling sedikit 10 huruf.")
FILED = ("Laporan diterima. Nomor: {number}. Kode rahasia: {secret} (simpan, untuk melacak "
         "laporan{where}). Cek status: CEK {number}")
NOT_FOUND = "Laporan {number} tidak ditemukan untuk nomor Anda. Periksa nomornya."
INFO_USAGE = "Kirim: INFO <nomor laporan> <informasi tambahan>"
CEK_USAGE = "Kirim: CEK <nomor laporan>"
STOP_USAGE = "Kirim: BERHENTI <nomor laporan yang Anda ikuti>"
STOPPED = "Anda tidak lagi menerima kabar laporan {number}."
NOT_FOLLOWING = "Nomor Anda tidak mengikuti laporan {number}."
INFO_PROVIDED = "Terima kasih. Informasi untuk laporan {number} sudah diterima petugas."
INFO_NOTED = "Terima kasih. Informasi Anda ditambahkan ke laporan {number}."
NOT_FILED = "Maaf, laporan belum dapat diterima. " + HELP

# Keywords (lower case, whole words) -> category; a category is guessed only when exactly one
# category's keywords appear, else the report is `other` and the verifier chooses.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "roads": ("jalan", "berlubang", "lubang", "jembatan", "trotoar", "aspal", "longsor"),
    "waste": ("sampah", "tps", "limbah"),
    "street_lights": ("lampu", "pju", "penerangan"),
    "water": ("air", "pdam", "pipa", "ledeng"),
    "civil_registration": ("ktp", "e-ktp", "kk", "akta", "dukcapil"),
    "health": ("puskesmas", "rsud", "dokter", "bidan", "obat"),
    "education": ("sekolah", "guru", "murid", "siswa"),
    "permits": ("izin", "perizinan", "imb", "pbg"),
    "social_aid": ("bansos", "pkh", "bpnt"),
}

GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # two septets each (an escape, then the character)


class Sms:
    """The use cases of the SMS gateway (see the module)."""

    def __init__(self, ctx: Context, reports: Reports) -> None:
        self.ctx = ctx
        self.reports = reports
        self.phones = PhoneReports(ctx, reports)
        self.following = Following(ctx)

    def receive(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Store one delivery of the gateway and, when its message is whole, process it.

        Returns {"status": "processed" | "duplicate" | "waiting", ...}; Invalid (by field)
        when the delivery is not the documented form (nothing is stored then)."""
        data = check_inbound(message, self.ctx.config.tzinfo)
        now = self.ctx.now()
        try:
            with self.ctx.transaction() as session:
                session.add(SmsInbound(
                    id=data["id"], sender=data["from"], text=data["text"], ref=data["ref"],
                    part=data["part"], parts=data["parts"],
                    received=data["received_at"] or now))
                session.flush()
        except IntegrityError:
            with self.ctx.reads() as session:
                row = session.get(SmsInbound, data["id"])
                return {"status": "duplicate", "id": data["id"],
                        "reply": row.reply if row else None}
        claimed = self._claim(data, now)
        if claimed is None:
            return {"status": "waiting", "id": data["id"]}
        reply, count = self._answer(data["from"], *claimed, now)
        return {"status": "processed", "id": data["id"], "reply": reply, "messages": count}

    def flush_incomplete(self, older_than: timedelta = INCOMPLETE_AFTER) -> int:
        """Long messages whose missing parts never came: after `older_than`, processed with
        the parts that did (a gap marked "..."), so that nothing waits forever. How many."""
        now = self.ctx.now()
        with self.ctx.reads() as session:
            groups = session.execute(
                select(SmsInbound.sender, SmsInbound.ref, SmsInbound.parts).where(
                    SmsInbound.processed.is_(None), SmsInbound.parts > 1)
                .group_by(SmsInbound.sender, SmsInbound.ref, SmsInbound.parts)
                .having(func.min(SmsInbound.received) < now - older_than).limit(100)).all()
        flushed = 0
        for sender, ref, parts in groups:
            claimed = self._claim({"from": sender, "ref": ref, "parts": parts, "id": None},
                                  now, whole=False)
            if claimed is not None:
                self._answer(sender, *claimed, now)
                flushed += 1
        return flushed

    def _answer(self, sender: str, row_ids: list[str], text: str, now: datetime
                ) -> tuple[str, int]:
        """Process a claimed message: the command's reply, queued in SMS-sized parts."""
        reply, complaint_id = self._command(sender, text)
        messages = split_reply(reply)
        with self.ctx.transaction() as session:
            for row in session.scalars(select(SmsInbound).where(SmsInbound.id.in_(row_ids))):
                row.reply = reply
            for part in messages:
                session.add(Outbox(
                    created_at=now, channel=CHANNEL, recipient=sender,
                    complaint_id=complaint_id, template=REPLY_TEMPLATE, language="id",
                    payload={"text": part}, status="pending", attempts=0, next_attempt_at=now))
        return reply, len(messages)

    def _claim(self, data: dict[str, Any], now: datetime, whole: bool = True
               ) -> tuple[list[str], str] | None:
        """Take the whole message for processing when all its parts are stored and none was
        taken yet (the rows locked, so that of two processes only one takes it); with
        `whole` False, whatever parts are stored (a missing one shown as "...")."""
        with self.ctx.transaction() as session:
            if not data["parts"] or data["parts"] == 1:
                stmt = select(SmsInbound).where(SmsInbound.id == data["id"])
            else:
                stmt = select(SmsInbound).where(SmsInbound.sender == data["from"],
                                                SmsInbound.ref == data["ref"],
                                                SmsInbound.parts == data["parts"])
            rows = list(session.scalars(stmt.where(SmsInbound.processed.is_(None))
                                        .order_by(SmsInbound.part, SmsInbound.id)
                                        .with_for_update()))
            by_part: dict[int, SmsInbound] = {}
            for row in rows:
                by_part.setdefault(row.part or 1, row)
            if not by_part or (whole and len(by_part) < (data["parts"] or 1)):
                return None
            if not whole and self._taken_lately(session, data, rows, now):
                for row in rows:  # a part that came after its message was taken without it
                    row.processed = now
                return None
            for row in rows:
                row.processed = now
            text = "".join(by_part[n].text if n in by_part else " ... "
                           for n in range(1, (data["parts"] or 1) + 1))
            return [row.id for row in rows], text

    @staticmethod
    def _taken_lately(session: Any, data: dict[str, Any], rows: list[SmsInbound],
                      now: datetime) -> bool:
        """Whether other parts of this message were already taken: a gateway reuses a
        reference only later, so a sibling taken within twice the wait is this message's."""
        since = min(row.received for row in rows) - 2 * INCOMPLETE_AFTER
        return session.scalar(select(func.count()).select_from(SmsInbound).where(
            SmsInbound.sender == data["from"], SmsInbound.ref == data["ref"],
            SmsInbound.parts == data["parts"], SmsInbound.processed.is_not(None),
            SmsInbound.received >= since)) > 0

    def _command(self, sender: str, text: str) -> tuple[str, int | None]:
        words = text.strip().split(maxsplit=1)
        command = words[0].upper().rstrip(":#.") if words else ""
        rest = words[1].strip() if len(words) > 1 else ""
        if command == "LAPOR":
            return self._file(sender, rest)
        if command in ("BERHENTI", "UNFOLLOW"):
            number = rest.split()[0].upper() if rest.split() else ""
            if not TRACKING_SHAPE.match(number):
                return STOP_USAGE, None
            stopped = self.following.stop_by_phone(number, sender)
            return (STOPPED if stopped else NOT_FOLLOWING).format(number=number), None
        if command in ("INFO", "CEK"):
            args = rest.split(maxsplit=1)
            number = args[0].upper() if args else ""
            if not TRACKING_SHAPE.match(number) or (command == "INFO" and len(args) < 2):
                return (INFO_USAGE if command == "INFO" else CEK_USAGE), None
            complaint = self.phones.own(sender, number)
            if complaint is None:
                return NOT_FOUND.format(number=number), None
            if command == "INFO":
                answered = self.phones.add_information(complaint, args[1].strip())
                return (INFO_PROVIDED if answered else INFO_NOTED).format(number=number), \
                    complaint.id
            return self.phones.status_line(complaint), complaint.id
        return HELP, None

    def _file(self, sender: str, text: str) -> tuple[str, int | None]:
        if len(text) < 10:
            return TOO_SHORT, None
        payload = {"classification": "pengaduan", "category": category_for(self.ctx, text),
                   "title": title(text), "body": text[:5000], "anonymous": True,
                   "reporter_phone": "+" + sender, "contact_channel": CHANNEL}
        try:
            receipt = self.reports.submit(payload, channel=CHANNEL)
        except Invalid:
            return NOT_FILED, None
        public = self.ctx.config.public_url.rstrip("/")
        where = f" di {public}/lacak" if public else ""
        reply = FILED.format(number=receipt["tracking_number"], secret=receipt["secret"],
                             where=where)
        with self.ctx.reads() as session:
            complaint_id = session.scalars(select(Complaint.id).where(
                Complaint.tracking_number == receipt["tracking_number"])).first()
        return reply, complaint_id



def check_inbound(message: Mapping[str, Any], tz: Any) -> dict[str, Any]:
    """The gateway's delivery as stored; Invalid names each field to fix."""
    if not isinstance(message, Mapping):
        raise Invalid("send a JSON object", {"(body)": "send a JSON object with id, from "
                                                       "and text"})
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, limit in (("id", 100), ("from", 32), ("text", MAX_TEXT)):
        value = message.get(name)
        if not isinstance(value, str) or (name != "text" and not value.strip()):
            errors[name] = "required: give a string"
        elif len(value) > limit or "\x00" in value:
            errors[name] = f"at most {limit} characters, without NUL"
        else:
            data[name] = value.strip() if name != "text" else value
    if "from" in data:
        try:
            data["from"] = normalize_phone(data["from"])
        except InvalidRecipient:
            errors["from"] = "give the sender's phone number, e.g. +6281234567890"
    part, parts = message.get("part"), message.get("parts")
    data["part"] = data["parts"] = data["ref"] = None
    if part is not None or parts is not None:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (part, parts)) \
                or not 1 <= part <= parts <= MAX_PARTS:
            errors["part"] = ("give part and parts as whole numbers, "
                              f"1 <= part <= parts <= {MAX_PARTS}")
        else:
            data["part"], data["parts"] = part, parts
        ref = message.get("ref")
        if parts != 1 and (not isinstance(ref, str | int) or isinstance(ref, bool)
                           or not str(ref).strip() or len(str(ref)) > 100):
            errors["ref"] = "give the long message's reference (the same in all its parts)"
        elif ref is not None:
            data["ref"] = str(ref).strip()
    data["received_at"] = None
    received = message.get("received_at")
    if received is not None:
        try:
            when = datetime.fromisoformat(str(received))
            data["received_at"] = when if when.tzinfo else when.replace(tzinfo=tz)
        except ValueError:
            errors["received_at"] = ("write an ISO 8601 date and time, "
                                     "e.g. 2026-12-06T08:00:00+08:00")
    if errors:
        raise Invalid("the SMS delivery has errors", errors)
    return data


def category_for(ctx: Context, text: str) -> str:
    """The category a phone message is filed under: the keywords' guess when the
    administrator offers that category, else `other`."""
    with ctx.reads() as session:
        return categories.catalog(session).offered(guess_category(text))


def guess_category(text: str) -> str:
    words = set(re.findall(r"[\w-]+", text.lower()))
    found = [code for code, keys in KEYWORDS.items() if words & set(keys)]
    return found[0] if len(found) == 1 else "other"


def title(text: str) -> str:
    first = " ".join(text.split())
    if len(first) > 80:
        first = first[:80].rsplit(" ", 1)[0] + "..."
    return first


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 or c in GSM7_EXTENSION for c in text)


def sms_length(text: str, gsm: bool) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes in an SMS."""
    if gsm:
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def split_reply(text: str) -> list[str]:
    """The reply as one SMS when it fits (160 GSM-7, 70 UCS-2), else numbered "(1/n) " parts
    each fitting one SMS, split between words where possible."""
    gsm = is_gsm7(text)
    limit = 160 if gsm else 70
    if sms_length(text, gsm) <= limit:
        return [text]
    count = 2
    while True:
        budget = limit - len(f"({count}/{count}) ")
        chunks = _chunks(text, budget, gsm)
        if len(chunks) <= count:
            return [f"({i}/{len(chunks)}) {chunk}" for i, chunk in enumerate(chunks, 1)]
        count = len(chunks)


def _chunks(text: str, budget: int, gsm: bool) -> list[str]:
    chunks: list[str] = []
    current = ""
    for word in text.split():
        while sms_length(word, gsm) > budget:  # a word longer than a part: cut it
            cut = budget
            while sms_length(word[:cut], gsm) > budget:
                cut -= 1
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}" if current else word
        if sms_length(candidate, gsm) <= budget:
            current = candidate
        else:
            chunks.append(current)
            current = word
    if current:
        chunks.append(current)
    return chunks
