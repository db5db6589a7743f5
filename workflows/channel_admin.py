"""Notification channels and the outbox for system administrators (docs/administrators.md,
"Notification channels and the outbox"): a test message through the outbox, the outbox by
channel and status with each row's last error, dead letters requeued (one, or all of a
channel), and the messages sent per channel per day.

The channels' settings are the environment's (web/config.py); the web layer shows them with
secrets masked and says which channels are configured. A test message is an outbox row like
any other: the scheduler's sender delivers it (workflows/delivery.py), and its row shows the
result (sent, or the provider's error). Statuses shown: pending (not tried yet), failed
(pending again after a failed attempt: its last error is kept), sent, dead (given up).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, select, update

from workflows import access, admin_audit, delivery
from workflows.channels import _EMAIL, InvalidRecipient, normalize_phone
from workflows.context import Context
from workflows.errors import Forbidden, Invalid, Message
from workflows.models import Outbox
from workflows.stats.localtime import DAY_SECONDS, LocalClock

ADMINS = ("system_admin",)
CHANNELS = delivery.SENDABLE_CHANNELS  # email, whatsapp, sms
STATUSES = ("pending", "failed", "sent", "dead")
TEST_TEMPLATE = "channel_test"
PAGE_SIZE = 50
DAYS = 14


@dataclass(frozen=True)
class OutboxRow:
    id: int
    created_at: datetime
    channel: str
    recipient: str
    template: str
    status: str  # one of STATUSES
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None


def status_filter(status: str) -> Any:
    """The SQL condition of a shown status (failed: pending again after an attempt)."""
    return {
        "pending": and_(Outbox.status == "pending", Outbox.attempts == 0),
        "failed": and_(Outbox.status == "pending", Outbox.attempts > 0),
        "sent": Outbox.status == "sent",
        "dead": Outbox.status == "dead",
    }[status]


def shown_status(status: str, attempts: int) -> str:
    return "failed" if status == "pending" and attempts > 0 else status


class ChannelAdmin:
    """The outbox and the channels' test messages (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def page(self, principal: access.Principal, *, channel: str | None = None,
             status: str | None = None, page: int = 1) -> dict[str, Any]:
        """The outbox filtered by channel and status (newest first), the counts by channel
        and status, and the messages sent per channel per local day of the last 14 days."""
        self._require(principal)
        errors: dict[str, Any] = {}
        if channel and channel not in CHANNELS:
            errors["channel"] = Message("one of %(choices)s", choices=", ".join(CHANNELS))
        if status and status not in STATUSES:
            errors["status"] = Message("one of %(choices)s", choices=", ".join(STATUSES))
        if errors:
            raise Invalid("the outbox filter has errors", errors)
        query = select(Outbox).where(Outbox.channel.in_(CHANNELS))
        if channel:
            query = query.where(Outbox.channel == channel)
        if status:
            query = query.where(status_filter(status))
        page = max(page, 1)
        today = self.ctx.today()
        first_day = today - timedelta(days=DAYS - 1)
        with self.ctx.reads() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = [OutboxRow(r.id, r.created_at, r.channel, r.recipient, r.template,
                              shown_status(r.status, r.attempts), r.attempts, r.last_error,
                              r.next_attempt_at, r.sent_at)
                    for r in session.scalars(query.order_by(Outbox.id.desc())
                                             .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))]
            counts = {(c, shown_status(s, a)): 0 for c in CHANNELS for s, a in
                      (("pending", 0), ("pending", 1), ("sent", 0), ("dead", 0))}
            tried = Outbox.attempts > literal_column("0")  # one SQL text in both clauses
            for c, s, failed, n in session.execute(
                    select(Outbox.channel, Outbox.status, tried, func.count())
                    .where(Outbox.channel.in_(CHANNELS))
                    .group_by(Outbox.channel, Outbox.status, tried)):
                key = (c, shown_status(s, 1 if failed else 0))
                if key in counts:
                    counts[key] += n
            clock = LocalClock(session, self.ctx.config.timezone, first_day.year, today.year)
            day = clock.epoch(Outbox.sent_at) // DAY_SECONDS
            since = datetime.combine(first_day, datetime.min.time(), self.ctx.config.tzinfo)
            sent = {(c, int(d)): n for c, d, n in session.execute(
                select(Outbox.channel, day, func.count())
                .where(Outbox.status == "sent", Outbox.channel.in_(CHANNELS),
                       Outbox.sent_at >= since)
                .group_by(Outbox.channel, day))}
        epoch = date(1970, 1, 1)
        days = [first_day + timedelta(days=i) for i in range(DAYS)]
        return {
            "rows": rows, "total": total, "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "channel": channel, "status": status,
            "counts": counts,
            "daily": [{"day": d, **{c: sent.get((c, (d - epoch).days), 0) for c in CHANNELS}}
                      for d in reversed(days)],
        }

    def send_test(self, principal: access.Principal, channel: str, recipient: str,
                  configured: Iterable[str]) -> int:
        """Queue a test message to `recipient` over a configured channel; its outbox id."""
        self._require(principal)
        recipient = (recipient or "").strip()
        errors: dict[str, Any] = {}
        if channel not in set(configured) or channel not in CHANNELS:
            errors["channel"] = Message("choose a configured channel")
        elif channel == "email":
            if len(recipient) > 254 or not _EMAIL.match(recipient):
                errors["recipient"] = Message("an e-mail address, e.g. admin@ppu.go.id")
        else:
            try:
                normalize_phone(recipient)
            except InvalidRecipient:
                errors["recipient"] = Message(
                    "a phone number of 8 to 15 digits, e.g. 0812 3456 7890")
        if errors:
            raise Invalid("the test message has errors", errors)
        now = self.ctx.now()
        local = now.astimezone(self.ctx.config.tzinfo)
        with self.ctx.transaction() as session:
            row = Outbox(created_at=now, channel=channel, recipient=recipient[:200],
                         template=TEST_TEMPLATE, language="id",
                         payload={"regency": self.ctx.config.name, "actor": principal.username,
                                  "at_local": local.strftime(
                                      f"%d-%m-%Y %H:%M {self.ctx.config.zone_name}")},
                         status="pending", attempts=0, next_attempt_at=now)
            session.add(row)
            session.flush()
            admin_audit.record(session, at=now, actor=principal.username,
                               action="channel.test", target_kind="outbox", target=str(row.id),
                               after={"channel": channel, "recipient": recipient})
            return row.id

    def requeue(self, principal: access.Principal, *, outbox_id: int | None = None,
                channel: str | None = None) -> int:
        """Put one dead letter back in the queue (outbox_id), or every dead letter of a
        channel (or of all channels); how many were requeued."""
        self._require(principal)
        now = self.ctx.now()
        if outbox_id is not None:
            with self.ctx.transaction() as session:
                requeued = delivery.requeue_in(session, outbox_id, now=now,
                                               lock=self.ctx.engine.store.postgres)
                admin_audit.record(session, at=now, actor=principal.username,
                                   action="outbox.requeue", target_kind="outbox",
                                   target=str(outbox_id), before={"status": "dead"},
                                   after={"status": requeued["status"]})
            return 1
        if channel and channel not in CHANNELS:
            raise Invalid("the outbox filter has errors", {"channel": Message(
                "one of %(choices)s", choices=", ".join(CHANNELS))})
        with self.ctx.transaction() as session:
            where = [Outbox.status == "dead", Outbox.channel.in_([channel] if channel
                                                                 else list(CHANNELS))]
            count = session.execute(update(Outbox).where(*where).values(
                status="pending", attempts=0, next_attempt_at=now, claimed_by=None,
                claimed_until=None).execution_options(synchronize_session=False)).rowcount
            admin_audit.record(session, at=now, actor=principal.username,
                               action="outbox.requeue_all", target_kind="outbox",
                               target=channel or "all", after={"requeued": count or 0})
        return count or 0

    @staticmethod
    def _require(principal: access.Principal) -> None:
        if not principal.has(*ADMINS):
            raise Forbidden("only system administrators manage the notification channels")
