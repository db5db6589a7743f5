"""WhatsApp Cloud API (docs/channels.md, "WhatsApp"): the citizens' messages the webhook
(web/whatsapp.py) receives, the conversation that files a report from them
(workflows/whatsapp_talk.py), and WhatsApp's delivery statuses of the messages we sent.

Exactly once: each message is stored under WhatsApp's own id (`whatsapp_inbound`), so a
delivery the platform repeats is stored, and processed, once. A citizen's messages are
processed in the platform's timestamp order, one at a time: the conversation's row is locked
while a message is taken, so two web processes receiving two halves of a conversation apply
both, one after the other. A photo is downloaded before its message is taken (a later
message waits for it). Filing a report or answering an officer runs outside the row's lock,
under a lease (`busy_until`): messages arriving meanwhile wait, and are taken afterwards.

Replies go through the outbox on the `whatsapp` channel (`whatsapp_reply`): free-form within
the 24-hour window the citizen's last message opened (`window_open`), template messages
outside it (workflows/channels.py). A half-written report is abandoned after
`whatsapp_conversation_hours` without a message (`expire`, a scheduler job), with a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows import diagram_ids as ids
from workflows.channels import WINDOW_HOURS, InvalidRecipient, normalize_phone
from workflows.context import Context
from workflows.errors import Invalid
from workflows.graph_media import GraphMedia, MediaRefused, MediaSource
from workflows.models import Complaint, Outbox
from workflows.nearby import Following
from workflows.phone_reports import PhoneReports, open_reports
from workflows.reports import Reports
from workflows.sms import category_for, title
from workflows.storage import Upload
from workflows.whatsapp_models import WhatsAppConversation, WhatsAppInbound, WhatsAppMedia
from workflows.whatsapp_parse import parse_delivery
from workflows.whatsapp_talk import (
    FILED,
    FILED_NO_LINK,
    INFO_DONE,
    NO_REPORTS,
    NOT_FILED,
    NOT_FOUND,
    RECOVERED,
    UNFOLLOWED,
    Incoming,
    OpenReport,
    State,
    Talk,
)

CHANNEL = "whatsapp"
REPLY_TEMPLATE = "whatsapp_reply"
LEASE = timedelta(minutes=5)  # how long a filing may hold the conversation
WINDOW_MARGIN = timedelta(minutes=10)  # a reply queued near the window's end goes as template
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
DRAIN_LIMIT = 100  # messages one call takes for a sender (the rest: the next delivery)

class WhatsApp:
    """The use cases of the WhatsApp channel (see the module)."""

    def __init__(self, ctx: Context, reports: Reports, media: MediaSource | None = None
                 ) -> None:
        self.ctx = ctx
        self.reports = reports
        self.phones = PhoneReports(ctx, reports)
        self.following = Following(ctx)
        config = ctx.config
        if media is None and config.whatsapp_token:
            media = GraphMedia(config.whatsapp_graph_url, config.whatsapp_token)
        self.media = media
        self.talk = Talk(config.name, config.max_attachments,
                         config.max_attachment_bytes // (1024 * 1024))

    # ------------------------------------------------------------------ the webhook

    def receive(self, delivery: Mapping[str, Any]) -> dict[str, Any]:
        """Store one webhook delivery's messages (once each), record its statuses, and
        process what the conversations can take now. Invalid (naming the part) when the
        delivery is not the Cloud API's form: nothing is stored then."""
        messages, statuses = parse_delivery(delivery)
        now = self.ctx.now()
        fresh: list[dict[str, Any]] = []
        duplicates = 0
        for message in sorted(messages, key=lambda m: (m["sent_at"], m["id"])):
            if self._store(message, now):
                fresh.append(message)
            else:
                duplicates += 1
        recorded = self._statuses(statuses)
        for message in fresh:
            if message["kind"] == "image":
                self._download(message)
        for sender in dict.fromkeys(m["from"] for m in messages):
            self.drain(sender)
        return {"messages": len(fresh), "duplicates": duplicates, "statuses": recorded}

    def window_open(self, phone: str) -> bool:
        """Whether WhatsApp accepts a free-form message to this phone now: its last message
        is less than 24 hours old (minus a margin for the time a message waits to be sent)."""
        try:
            phone = normalize_phone(phone)
        except InvalidRecipient:
            return False
        with self.ctx.reads() as session:
            last = session.scalar(select(WhatsAppConversation.last_inbound_at).where(
                WhatsAppConversation.phone == phone))
        return last is not None and \
            self.ctx.now() - last < timedelta(hours=WINDOW_HOURS) - WINDOW_MARGIN

    # ------------------------------------------------------------------ storing

    def _store(self, message: dict[str, Any], now: datetime) -> bool:
        """The message stored, and the conversation's window moved; False if known."""
        conversation_id = self._conversation(message["from"], now)
        try:
            with self.ctx.transaction() as session:
                session.add(WhatsAppInbound(
                    id=message["id"], sender=message["from"], kind=message["kind"],
                    content=message["content"], sent_at=message["sent_at"], received=now,
                    media_state="pending" if message["kind"] == "image" else None))
                session.flush()
                conversation = session.get(WhatsAppConversation, conversation_id)
                if conversation.last_inbound_at is None or \
                        conversation.last_inbound_at < message["sent_at"]:
                    conversation.last_inbound_at = message["sent_at"]
        except IntegrityError:
            return False
        return True

    def _conversation(self, phone: str, now: datetime) -> int:
        for _ in range(3):
            with self.ctx.reads() as session:
                found = session.scalar(select(WhatsAppConversation.id).where(
                    WhatsAppConversation.phone == phone))
            if found is not None:
                return found
            try:
                with self.ctx.transaction() as session:
                    row = WhatsAppConversation(phone=phone, language="id", step="idle",
                                               draft={}, version=1)
                    session.add(row)
                    session.flush()
                    return row.id
            except IntegrityError:
                continue  # another process created it meanwhile: read it
        raise RuntimeError(f"no conversation row for {phone}")

    def _download(self, message: dict[str, Any]) -> None:
        """Fetch and check the photo (outside any transaction), then keep it or refuse it."""
        error = None
        content = b""
        mime = ""
        limit = self.ctx.storage.max_bytes
        if self.media is None:
            error = "unavailable"
        else:
            try:
                content, mime = self.media.fetch(str(message["content"].get("media_id")),
                                                 limit)
                checked = self.ctx.storage.check([Upload("whatsapp.jpg", content)])
                if checked[0].kind != "photo":
                    error = "not_image"
            except MediaRefused as exc:
                error = exc.reason
            except Invalid:
                error = "too_large" if len(content) > limit else "not_image"
        with self.ctx.transaction() as session:
            row = session.get(WhatsAppInbound, message["id"])
            if error is not None:
                row.media_state, row.media_error = "refused", error
                return
            conversation = session.scalars(select(WhatsAppConversation).where(
                WhatsAppConversation.phone == message["from"])).one()
            row.media_state = "ok"
            extension = ".png" if "png" in mime else ".jpg"
            session.add(WhatsAppMedia(
                conversation_id=conversation.id, message_id=message["id"],
                filename=f"whatsapp-{message['sent_at']:%Y%m%d-%H%M%S}{extension}",
                content_type=mime[:60], content=content,
                caption=message["content"].get("caption"), position=0,
                received=self.ctx.now()))

    # ------------------------------------------------------------------ statuses

    def _statuses(self, statuses: list[dict[str, Any]]) -> int:
        """Record each status on the outbox row of the message it is about, never going
        back (a `delivered` arriving after `read` changes nothing); how many applied."""
        applied = 0
        if not statuses:
            return 0
        with self.ctx.transaction() as session:
            for status in statuses:
                row = session.scalars(select(Outbox).where(
                    Outbox.provider_id == status["id"], Outbox.channel == CHANNEL)
                    .with_for_update()).first()
                if row is None:
                    continue
                rank = STATUS_RANK[status["status"]]
                if STATUS_RANK.get(row.delivery_status or "", 0) >= rank:
                    continue
                row.delivery_status = status["status"]
                row.delivery_status_at = status["at"]
                if status["status"] == "failed":
                    row.last_error = f"WhatsApp did not deliver: {status['error']}"[:2000]
                applied += 1
        return applied

    # ------------------------------------------------------------------ the conversation

    def drain(self, sender: str) -> int:
        """Take the sender's waiting messages in order, as far as possible; how many."""
        taken = 0
        while taken < DRAIN_LIMIT:
            step = self._take_one(sender)
            if step is None:
                return taken
            taken += 1
            action, conversation_id, language = step
            if action is not None:
                self._perform(action, conversation_id, sender, language)
        return taken

    def _take_one(self, sender: str) -> tuple[Any, int, str] | None:
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            conversation = session.scalars(select(WhatsAppConversation).where(
                WhatsAppConversation.phone == sender).with_for_update()).first()
            if conversation is None:
                return None
            if conversation.busy_until is not None:
                if conversation.busy_until > now:
                    return None  # a filing is running: it drains when done
                self._recover(session, conversation, now)
            row = session.scalars(select(WhatsAppInbound).where(
                WhatsAppInbound.sender == sender, WhatsAppInbound.processed.is_(None))
                .order_by(WhatsAppInbound.sent_at, WhatsAppInbound.id).limit(1)).first()
            if row is None or row.media_state == "pending":
                return None  # nothing waits, or its photo is still being downloaded
            late = conversation.last_processed_at is not None and \
                row.sent_at < conversation.last_processed_at
            incoming = incoming_of(row, late)
            reports = [OpenReport(c.tracking_number, c.status == ids.STATUS_NEEDS_INFO)
                       for c in open_reports(session, sender)]
            state = State(conversation.step, conversation.language, dict(conversation.draft))
            outcome = self.talk.step(state, incoming, reports)
            row.processed = now
            if not late:
                conversation.last_processed_at = row.sent_at
            self._become(session, conversation, outcome.state, now)
            if outcome.drop_photos:
                session.execute(delete(WhatsAppMedia).where(
                    WhatsAppMedia.conversation_id == conversation.id))
            action = outcome.action
            if action is not None and action[0] == "drop":
                session.execute(delete(WhatsAppMedia).where(
                    WhatsAppMedia.message_id == action[1]))
                action = None
            if action is not None and action[0] in ("file", "info"):
                conversation.busy_until = now + LEASE
                if action[0] == "file":
                    conversation.draft = {**conversation.draft, "filing_at": now.isoformat()}
            self._reply(session, sender, outcome.state.language, outcome.replies, now)
            return action, conversation.id, outcome.state.language

    def _become(self, session: Session, conversation: WhatsAppConversation, state: State,
                now: datetime) -> None:
        if conversation.step == "idle" and state.step != "idle":
            conversation.started_at = now
        conversation.step = state.step
        conversation.language = state.language
        conversation.draft = state.draft
        conversation.version += 1

    def _reply(self, session: Session, phone: str, language: str, texts: Any,
               now: datetime, complaint_id: int | None = None) -> None:
        for text in texts:
            session.add(Outbox(
                created_at=now, channel=CHANNEL, recipient=phone, complaint_id=complaint_id,
                template=REPLY_TEMPLATE, language=language, payload={"text": text},
                status="pending", attempts=0, next_attempt_at=now))

    def _perform(self, action: tuple[Any, ...], conversation_id: int, sender: str,
                 language: str) -> None:
        """The action of a message, outside the conversation's lock."""
        if action[0] == "file":
            self._file(conversation_id, sender, language)
        elif action[0] == "info":
            self._info(conversation_id, sender, language, action[1], action[2], action[3])
        elif action[0] == "status":
            self._status(sender, language, action[1])
        elif action[0] == "unfollow":
            stopped = self.following.stop_by_phone(action[1], sender)
            with self.ctx.transaction() as session:
                self._reply(session, sender, language, [UNFOLLOWED[stopped][language].format(
                    number=action[1])], self.ctx.now())

    def _file(self, conversation_id: int, sender: str, language: str) -> None:
        with self.ctx.reads() as session:
            conversation = session.get(WhatsAppConversation, conversation_id)
            draft = dict(conversation.draft)
            media = {m.message_id: (m.filename, m.content) for m in session.scalars(
                select(WhatsAppMedia).where(WhatsAppMedia.conversation_id == conversation_id))}
        body = str(draft.get("body") or "")
        payload: dict[str, Any] = {
            "classification": "pengaduan", "category": category_for(self.ctx, body),
            "title": title(body), "body": body, "anonymous": True,
            "reporter_phone": "+" + sender, "contact_channel": CHANNEL}
        if draft.get("latitude") is not None:
            payload["latitude"], payload["longitude"] = draft["latitude"], draft["longitude"]
        if draft.get("address"):
            payload["address"] = draft["address"]
        uploads = [Upload(*media[m]) for m in draft.get("photos", []) if m in media]
        receipt = None
        why = ""
        try:
            receipt = self.reports.submit(payload, uploads, channel=CHANNEL, language=language)
        except Invalid as exc:
            why = "; ".join(f"{k}: {v}" for k, v in (exc.field_errors or {}).items()) or \
                str(exc)
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            conversation = session.get(WhatsAppConversation, conversation_id,
                                       with_for_update=True)
            conversation.busy_until = None
            if receipt is None:
                self._become(session, conversation, State("confirm", language, draft), now)
                self._reply(session, sender, language,
                            [NOT_FILED[language].format(why=why)], now)
            else:
                number = receipt["tracking_number"]
                complaint_id = session.scalar(select(Complaint.id).where(
                    Complaint.tracking_number == number))
                self._become(session, conversation, State("idle", language, {}), now)
                conversation.last_report = number
                session.execute(delete(WhatsAppMedia).where(
                    WhatsAppMedia.conversation_id == conversation_id))
                self._reply(session, sender, language,
                            [self._filed_text(language, number, receipt["secret"])], now,
                            complaint_id)

    def _filed_text(self, language: str, number: str, secret: str) -> str:
        public = self.ctx.config.public_url.rstrip("/")
        if public:
            link = f"{public}/lacak/{number}?k={secret}"
            return FILED[language].format(number=number, link=link)
        return FILED_NO_LINK[language].format(number=number, secret=secret)

    def _recover(self, session: Session, conversation: WhatsAppConversation,
                 now: datetime) -> None:
        """A lease that ran out: the process filing (or answering) stopped. A report filed
        with this draft since then is taken as filed; otherwise the citizen may confirm
        again."""
        conversation.busy_until = None
        if conversation.step != "filing":
            return
        draft = dict(conversation.draft)
        since = datetime.fromisoformat(draft.get("filing_at") or now.isoformat())
        filed = session.scalars(select(Complaint).where(
            Complaint.channel == CHANNEL, Complaint.reporter_phone == "+" + conversation.phone,
            Complaint.created_at >= since.astimezone(UTC)).order_by(Complaint.id.desc())
        ).first()
        language = conversation.language
        if filed is not None and filed.body == draft.get("body"):
            self._become(session, conversation, State("idle", language, {}), now)
            conversation.last_report = filed.tracking_number
            session.execute(delete(WhatsAppMedia).where(
                WhatsAppMedia.conversation_id == conversation.id))
            self._reply(session, conversation.phone, language,
                        [RECOVERED[language].format(number=filed.tracking_number)], now,
                        filed.id)
        else:
            self._become(session, conversation, State("confirm", language, draft), now)
            self._reply(session, conversation.phone, language,
                        [NOT_FILED[language].format(why="-")], now)

    def _info(self, conversation_id: int, sender: str, language: str, number: str,
              text: str, photo: str | None) -> None:
        complaint = self.phones.own(sender, number)
        uploads = []
        if photo is not None:
            with self.ctx.reads() as session:
                media = session.scalars(select(WhatsAppMedia).where(
                    WhatsAppMedia.message_id == photo)).first()
                if media is not None:
                    uploads.append(Upload(media.filename, media.content))
        if complaint is None:
            reply = NOT_FOUND[language].format(number=number)
        else:
            answered = self.phones.add_information(complaint, text, uploads)
            reply = INFO_DONE[answered][language].format(number=number)
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            conversation = session.get(WhatsAppConversation, conversation_id,
                                       with_for_update=True)
            conversation.busy_until = None
            if photo is not None:
                session.execute(delete(WhatsAppMedia).where(WhatsAppMedia.message_id == photo))
            self._reply(session, sender, language, [reply], now,
                        complaint.id if complaint else None)

    def _status(self, sender: str, language: str, number: str | None) -> None:
        if number:
            complaint = self.phones.own(sender, number)
            found = [complaint] if complaint else []
            lines = [self.phones.status_line(c, language) for c in found] or \
                [NOT_FOUND[language].format(number=number)]
        else:
            lines = [self.phones.status_line(c, language)
                     for c in self.phones.open_reports(sender, limit=5)] or \
                [NO_REPORTS[language]]
        with self.ctx.transaction() as session:
            self._reply(session, sender, language, ["\n".join(lines)], self.ctx.now())

    # ------------------------------------------------------------------ the timeout

    def expire(self) -> int:
        """Abandon the reports half written and left without a message for the configured
        hours (24): their photos dropped, the citizen told. How many."""
        now = self.ctx.now()
        cutoff = now - timedelta(hours=self.ctx.config.whatsapp_conversation_hours)
        count = 0
        with self.ctx.transaction() as session:
            for conversation in session.scalars(select(WhatsAppConversation).where(
                    WhatsAppConversation.step.not_in(("idle", "filing")),
                    WhatsAppConversation.last_inbound_at < cutoff).with_for_update(
                    skip_locked=True)):
                language = conversation.language
                self._become(session, conversation, State("idle", language, {}), now)
                session.execute(delete(WhatsAppMedia).where(
                    WhatsAppMedia.conversation_id == conversation.id))
                session.add(Outbox(
                    created_at=now, channel=CHANNEL, recipient=conversation.phone,
                    template="whatsapp_abandoned", language=language, payload={},
                    status="pending", attempts=0, next_attempt_at=now))
                count += 1
        return count

    def retry_downloads(self, older_than: timedelta = timedelta(minutes=2)) -> int:
        """Photos whose download never finished (the process stopped): tried again, then
        their senders' conversations go on. How many."""
        cutoff = self.ctx.now() - older_than
        with self.ctx.reads() as session:
            rows = session.execute(select(WhatsAppInbound.id, WhatsAppInbound.sender,
                                          WhatsAppInbound.content, WhatsAppInbound.sent_at)
                                   .where(WhatsAppInbound.media_state == "pending",
                                          WhatsAppInbound.received < cutoff)
                                   .limit(50)).all()
        for row in rows:
            self._download({"id": row.id, "from": row.sender, "content": row.content,
                            "sent_at": row.sent_at})
        for sender in dict.fromkeys(row.sender for row in rows):
            self.drain(sender)
        return len(rows)


def incoming_of(row: WhatsAppInbound, late: bool) -> Incoming:
    content = row.content or {}
    return Incoming(
        message_id=row.id, kind=row.kind, text=str(content.get("text") or
                                                   content.get("caption") or ""),
        latitude=content.get("latitude"), longitude=content.get("longitude"),
        address=", ".join(str(content[k]) for k in ("name", "address") if content.get(k)),
        photo_error=row.media_error if row.kind == "image" else None, late=late)

