"""The outbox sender: claims due notifications with a lease, sends them, records the outcome.

How a row travels (status in the `outbox` table):

    pending --sent--> sent
    pending --temporary failure--> pending (attempts + 1, next_attempt_at = now + backoff)
    pending --permanent failure, or the last attempt failed--> dead
    dead --requeue()--> pending

1. **Claim** (one short transaction): due rows (`status = 'pending'`, `next_attempt_at <= now`,
   no lease or an expired one, a channel this sender has) get `claimed_by = worker_id` and
   `claimed_until = now + lease`. On PostgreSQL the claiming SELECT locks with
   `FOR UPDATE SKIP LOCKED`, so concurrent senders take disjoint rows without waiting; on SQLite
   the transaction holds the single write lock. The claim is committed before anything is sent.
2. **Confirm** (one tiny UPDATE per row, just before sending): the row must still be pending and
   leased to this worker; the lease is extended to now + lease. A row whose lease expired and was
   taken over by another sender meanwhile is skipped here, so a slow batch never re-sends it.
3. **Send**, outside any database transaction (a slow provider holds no lock).
4. **Record** (one short transaction): `sent` with `sent_at` and `provider_id`; or, on a
   TemporaryFailure or any unexpected exception, `attempts + 1`, `last_error`, and
   `next_attempt_at = now + backoff_base * 2**(attempts - 1)` (capped at 6 hours), or `dead`
   once `max_attempts` is reached; a PermanentFailure (or a template that cannot be rendered)
   is `dead` at once. The lease is cleared in every case. The update only applies while the row
   is still leased to this worker.

Delivery is exactly-once while senders stay alive: one row is leased to one sender at a time.
It is at-least-once in one window: a sender that crashes (or loses its database connection)
after the provider accepted a message and before step 4 committed leaves the row pending; when
the lease expires another sender sends it again. Email re-sends keep the same Message-ID
(`<aduan.outbox.ID@domain>`), so mail systems can recognise the duplicate.

Rows of a channel this sender has no adapter for stay pending with last_error
"channel X is not configured" and are looked at again after `unconfigured_retry_seconds`
(their attempts are not counted: nothing was tried). Run every sender with the same channels.
In-app rows ('unread') are never claimed: the web UI reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.store import Store
from workflows.channels import Channel, OutgoingMessage, PermanentFailure, TemporaryFailure
from workflows.errors import Conflict, NotFound
from workflows.models import Outbox
from workflows.notify import render

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600
ERROR_LENGTH = 2000  # characters of an error kept in last_error
SENDABLE_CHANNELS = ("email", "whatsapp", "sms")


@dataclass(frozen=True)
class ClaimedRow:
    """What the sender needs of a claimed outbox row."""

    id: int
    channel: str
    recipient: str
    template: str
    language: str
    payload: dict[str, Any]
    attempts: int


class OutboxSender:
    """Sends due outbox rows through the configured channels (see the module's docstring)."""

    def __init__(self, store: Store, channels: Mapping[str, Channel], clock: Clock, *,
                 worker_id: str, max_attempts: int = 6, backoff_base_seconds: float = 60,
                 lease_seconds: float = 120, max_backoff_seconds: float = MAX_BACKOFF_SECONDS,
                 unconfigured_retry_seconds: float = 900) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.channels = dict(channels)
        self.clock = clock
        self.worker_id = worker_id[:100]  # the width of outbox.claimed_by
        self.max_attempts = max_attempts
        self.backoff_base = float(backoff_base_seconds)
        self.max_backoff = float(max_backoff_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.unconfigured_retry = timedelta(seconds=unconfigured_retry_seconds)

    # ------------------------------------------------------------------ the round

    def send_due(self, limit: int = 50) -> dict[str, int]:
        """Claim up to `limit` due rows and send each: {"sent", "retried", "dead", "skipped"}.

        `skipped` counts due rows left pending because their channel is not configured here,
        and claimed rows this sender did not send because its lease had been taken over.
        """
        rows, deferred = self._claim(limit)
        counts = {"sent": 0, "retried": 0, "dead": 0, "skipped": deferred}
        for row in rows:
            counts[self.deliver(row)] += 1
        return counts

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: base * 2**(attempts - 1), capped."""
        exponent = min(max(attempts - 1, 0), 40)
        return timedelta(seconds=min(self.backoff_base * 2 ** exponent, self.max_backoff))

    def claim(self, limit: int) -> list[ClaimedRow]:
        """Lease up to `limit` due rows of the configured channels to this worker (committed)."""
        return self._claim(limit)[0]

    def _claim(self, limit: int) -> tuple[list[ClaimedRow], int]:
        configured = [c for c in self.channels if c in SENDABLE_CHANNELS]
        missing = [c for c in SENDABLE_CHANNELS if c not in self.channels]
        now = self.clock.now()
        deferred = 0
        rows: list[Any] = []
        with self.store.transaction() as session:
            if missing:  # due rows nobody here can send: say why, look again later
                result = session.execute(
                    update(Outbox)
                    .where(*_due(now), Outbox.channel.in_(missing), _lease_free(now))
                    .values(last_error=case(
                                *((Outbox.channel == c, f"channel {c} is not configured")
                                  for c in missing)),
                            next_attempt_at=now + self.unconfigured_retry)
                    .execution_options(synchronize_session=False))
                deferred = result.rowcount or 0
            if configured and limit > 0:
                candidates = (
                    select(Outbox.id)
                    .where(*_due(now), Outbox.channel.in_(configured), _lease_free(now))
                    .order_by(Outbox.next_attempt_at, Outbox.id)
                    .limit(limit)
                )
                if self.store.postgres:
                    candidates = candidates.with_for_update(skip_locked=True)
                # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE
                # SKIP LOCKED): PostgreSQL may run such a subquery once per outer row, and each
                # run skips the rows the previous ones locked, claiming far more than n.
                ids = list(session.scalars(candidates))
                rows = [] if not ids else session.execute(
                    update(Outbox)
                    .where(Outbox.id.in_(ids), Outbox.status == "pending", _lease_free(now))
                    .values(claimed_by=self.worker_id, claimed_until=now + self.lease)
                    .returning(Outbox.id, Outbox.channel, Outbox.recipient, Outbox.template,
                               Outbox.language, Outbox.payload, Outbox.attempts)
                    .execution_options(synchronize_session=False)
                ).all()
        if deferred:
            log.warning("%d due outbox rows wait for a channel that is not configured",
                        deferred)
        claimed = [ClaimedRow(r.id, r.channel, r.recipient, r.template, r.language,
                              dict(r.payload or {}), r.attempts or 0) for r in rows]
        claimed.sort(key=lambda r: r.id)
        return claimed, deferred

    def deliver(self, row: ClaimedRow) -> str:
        """Send one claimed row and record the outcome: 'sent', 'retried', 'dead' or 'skipped'."""
        if not self._confirm_lease(row.id):
            return "skipped"
        channel = self.channels.get(row.channel)
        if channel is None:  # configured when claimed, so only if the mapping changed since
            return self._record_failure(row, f"channel {row.channel} is not configured",
                                        permanent=False, count=False)
        try:
            subject, body = render(row.template, row.language, row.payload)
        except (KeyError, ValueError, IndexError) as exc:
            return self._record_failure(
                row, f"cannot render template {row.template!r}: {type(exc).__name__}: {exc}",
                permanent=True)
        message = OutgoingMessage(recipient=row.recipient, subject=subject, body=body,
                                  language=row.language, template=row.template,
                                  payload=row.payload, outbox_id=row.id)
        try:
            provider_id = channel.send(message)
        except PermanentFailure as exc:
            return self._record_failure(row, _describe(exc), permanent=True)
        except TemporaryFailure as exc:
            return self._record_failure(row, _describe(exc), permanent=False)
        except Exception as exc:  # a broken adapter must not lose the row: retry it
            log.exception("outbox %s: unexpected error from the %s channel", row.id, row.channel)
            return self._record_failure(row, _describe(exc), permanent=False)
        return self._record_sent(row, provider_id)

    # ------------------------------------------------------------------ recording

    def _mine(self, outbox_id: int) -> tuple[Any, ...]:
        return (Outbox.id == outbox_id, Outbox.status == "pending",
                Outbox.claimed_by == self.worker_id)

    def _confirm_lease(self, outbox_id: int) -> bool:
        now = self.clock.now()
        with self.store.transaction() as session:
            result = session.execute(
                update(Outbox)
                .where(*self._mine(outbox_id), Outbox.claimed_until >= now)
                .values(claimed_until=now + self.lease)
                .execution_options(synchronize_session=False))
            confirmed = (result.rowcount or 0) == 1
        if not confirmed:
            log.info("outbox %s: lease lost to another sender, not sending", outbox_id)
        return confirmed

    def _record_sent(self, row: ClaimedRow, provider_id: str | None) -> str:
        now = self.clock.now()
        with self.store.transaction() as session:
            result = session.execute(
                update(Outbox)
                .where(*self._mine(row.id))
                .values(status="sent", sent_at=now, attempts=row.attempts + 1,
                        provider_id=(provider_id or None) and str(provider_id)[:200],
                        last_error=None, next_attempt_at=None, claimed_by=None,
                        claimed_until=None)
                .execution_options(synchronize_session=False))
            recorded = (result.rowcount or 0) == 1
        if not recorded:
            log.warning("outbox %s: sent, but the lease was taken over before it was recorded",
                        row.id)
        return "sent"

    def _record_failure(self, row: ClaimedRow, error: str, *, permanent: bool,
                        count: bool = True) -> str:
        now = self.clock.now()
        attempts = row.attempts + 1 if count else row.attempts
        dead = permanent or (count and attempts >= self.max_attempts)
        values: dict[str, Any] = {
            "attempts": attempts, "last_error": error[:ERROR_LENGTH],
            "claimed_by": None, "claimed_until": None,
        }
        if dead:
            values.update(status="dead", next_attempt_at=None)
        else:
            delay = self.backoff(attempts) if count else self.unconfigured_retry
            values.update(status="pending", next_attempt_at=now + delay)
        with self.store.transaction() as session:
            result = session.execute(
                update(Outbox).where(*self._mine(row.id)).values(**values)
                .execution_options(synchronize_session=False))
            if (result.rowcount or 0) != 1:
                return "skipped"
        if dead:
            log.warning("outbox %s: dead after %d attempts: %s", row.id, attempts, error)
            return "dead"
        return "retried" if count else "skipped"


def _due(now: datetime) -> tuple[Any, ...]:
    return (Outbox.status == "pending",
            or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now))


def _lease_free(now: datetime) -> Any:
    return or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, (TemporaryFailure, PermanentFailure)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- operators


def _row(row: Outbox) -> dict[str, Any]:
    return {
        "id": row.id, "channel": row.channel, "recipient": row.recipient,
        "template": row.template, "language": row.language, "status": row.status,
        "attempts": row.attempts, "last_error": row.last_error,
        "complaint_id": row.complaint_id, "user_id": row.user_id,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "provider_id": row.provider_id,
    }


def dead_letters(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """The notifications given up on, newest first, with why."""
    with store.read() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.status == "dead").order_by(Outbox.id.desc())
            .limit(limit))
        return [_row(r) for r in rows]


def requeue(store: Store, outbox_id: int, *, now: datetime) -> dict[str, Any]:
    """Put a dead letter back in the queue, due now, with its attempts reset.

    The last error is kept until the next attempt replaces it. Raises NotFound for an unknown
    id and Conflict for a row that is not dead.
    """
    with store.transaction() as session:
        return requeue_in(session, outbox_id, now=now, lock=store.postgres)


def requeue_in(session: Session, outbox_id: int, *, now: datetime, lock: bool
               ) -> dict[str, Any]:
    """`requeue` inside the caller's transaction (with its audit row, say)."""
    row = session.get(Outbox, outbox_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"no outbox row {outbox_id}")
    if row.status != "dead":
        raise Conflict("outbox row %(row)s is %(status)s, only dead rows are requeued",
                       row=outbox_id, status=row.status)
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    row.claimed_by = None
    row.claimed_until = None
    session.flush()
    return _row(row)


def backlog(store: Store, now: datetime) -> dict[str, Any]:
    """For `aduan status`: {"pending", "due", "dead", "oldest_due_seconds"}.

    `due` counts pending rows whose next attempt time has come (including those being sent);
    `oldest_due_seconds` is how long the longest-waiting of them has been due (0 when none).
    """
    due_at = func.coalesce(Outbox.next_attempt_at, Outbox.created_at)
    with store.read() as session:
        by_status = dict(session.execute(
            select(Outbox.status, func.count()).where(Outbox.status.in_(("pending", "dead")))
            .group_by(Outbox.status)).all())
        due, oldest = session.execute(
            select(func.count(), func.min(due_at))
            .where(Outbox.status == "pending", due_at <= now)).one()
    oldest_seconds = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return {"pending": int(by_status.get("pending", 0)), "due": int(due or 0),
            "dead": int(by_status.get("dead", 0)), "oldest_due_seconds": oldest_seconds}
