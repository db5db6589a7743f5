"""Failed sign-ins and tracking codes, counted in the database so that every process agrees.

Staff sign-in (docs/security.md, *Signing in and sessions*), after OWASP's Authentication
Cheat Sheet: a lock that someone elsewhere can impose on an account's owner is itself an
attack, so the hard lock is per account *and* address, and the limit over all addresses
slows guessing down instead of locking the owner out.

- One account from one address: after LOCK_AFTER_FAILURES failures within LOCK_MINUTES that
  address may not try that account again until LOCK_MINUTES after the failure that reached
  the limit. The owner elsewhere (another address) is not affected.
- One address, all accounts: after MAX_FAILURES_PER_ADDRESS failed sign-ins within
  LOCK_MINUTES, the address is refused.
- One account, all addresses: from SLOW_AFTER_FAILURES failures within SLOW_WINDOW_MINUTES
  on, each further attempt must wait after the last failure, FIRST_DELAY_SECONDS doubling
  with each failure up to MAX_DELAY_SECONDS: a botnet guesses a dozen passwords an hour, not
  thousands. Addresses from which the account signed in within KEEP_DAYS (the owner's usual
  ones) are not slowed down: a stranger's guessing never keeps the owner out at the office.

Refused attempts are neither checked nor counted (they cannot lengthen a lock). A sign-in
clears the failures from its address. Usernames that do not exist are counted the same, so
the answers reveal nothing. Tracking codes are counted apart (usernames "lacak:<number>"), so
a citizen's typos never lock an officer out. Rows older than KEEP_DAYS are pruned as we go.

Every sign-in first locks its username's row of `sign_in_guard` (`guard`), so that the
attempts on one account are checked and counted one at a time, on every process: at most the
limit's worth of passwords is ever checked, however many arrive at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.models import LoginAttempt, SignInGuard

LOCK_AFTER_FAILURES = 5
LOCK_MINUTES = 15
MAX_FAILURES_PER_ADDRESS = 30
SLOW_AFTER_FAILURES = 20
SLOW_WINDOW_MINUTES = 60
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 300
TRACK_FAILURES_PER_ADDRESS = 10
TRACK_WINDOW_MINUTES = 15
TRACKING_PREFIX = "lacak:"  # rows of the tracking form, not of staff sign-in
KEEP_DAYS = 30


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before its password is checked, and for how long."""

    reason: str  # "address": this address, all accounts; "locked": this account from this
    # address; "slowed": this account from everywhere
    retry_seconds: int

    @property
    def retry_minutes(self) -> int:
        return max(1, -(-self.retry_seconds // 60))


def guard(session: Session, username: str, now: datetime) -> None:
    """Lock the username's row until the transaction ends: attempts on one account queue
    here, on every process. One statement that inserts the row or locks the one there
    (ON CONFLICT DO UPDATE), so a row pruned meanwhile cannot let an attempt through
    unlocked. On SQLite the write transaction already holds the database's one write lock."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SignInGuard).values(username=username, attempted_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=[SignInGuard.username], set_={"attempted_at": now}))


def refusal(session: Session, username: str, address: str, now: datetime) -> Refusal | None:
    """Whether this attempt is refused without checking its password (see the module)."""
    if address_failures(session, address, now, tracking=False) >= MAX_FAILURES_PER_ADDRESS:
        return Refusal("address", LOCK_MINUTES * 60)
    ours = _failures(session, username, now - timedelta(minutes=LOCK_MINUTES), address)
    if len(ours) >= LOCK_AFTER_FAILURES:
        unlock = ours[-LOCK_AFTER_FAILURES] + timedelta(minutes=LOCK_MINUTES)
        return Refusal("locked", _seconds(unlock - now))
    everyone = _failures(session, username, now - timedelta(minutes=SLOW_WINDOW_MINUTES))
    if len(everyone) >= SLOW_AFTER_FAILURES and not _known_address(session, username,
                                                                  address, now):
        beyond = len(everyone) - SLOW_AFTER_FAILURES
        delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** min(beyond, 16))
        allowed = everyone[-1] + timedelta(seconds=delay)
        if now < allowed:
            return Refusal("slowed", _seconds(allowed - now))
    return None


def _seconds(span: timedelta) -> int:
    return max(1, int(-(-span.total_seconds() // 1)))


def _failures(session: Session, username: str, since: datetime,
              address: str | None = None) -> list[datetime]:
    """When the account's failures happened since then (from one address, if given)."""
    query = select(LoginAttempt.at).where(
        LoginAttempt.username == username, LoginAttempt.at > since,
        LoginAttempt.succeeded.is_(False))
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return list(session.scalars(query.order_by(LoginAttempt.at)))


def _known_address(session: Session, username: str, address: str, now: datetime) -> bool:
    """Whether the account signed in from this address within KEEP_DAYS."""
    return session.scalar(select(LoginAttempt.id).where(
        LoginAttempt.username == username, LoginAttempt.address == address,
        LoginAttempt.succeeded.is_(True),
        LoginAttempt.at >= now - timedelta(days=KEEP_DAYS)).limit(1)) is not None


def address_failures(session: Session, address: str, now: datetime, *, tracking: bool
                     ) -> int:
    """Failures from one address within the window: tracking codes, or else sign-ins."""
    window = TRACK_WINDOW_MINUTES if tracking else LOCK_MINUTES
    kind = LoginAttempt.username.like(f"{TRACKING_PREFIX}%")
    return int(session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.address == address, LoginAttempt.at >= now - timedelta(minutes=window),
        LoginAttempt.succeeded.is_(False), kind if tracking else ~kind)) or 0)


def record(session: Session, username: str, address: str, now: datetime,
           succeeded: bool) -> None:
    session.add(LoginAttempt(username=username[:80], address=address, at=now,
                             succeeded=succeeded))


def record_tracking_failure(session: Session, tracking_number: str, address: str,
                            now: datetime) -> None:
    record(session, f"{TRACKING_PREFIX}{tracking_number}", address, now, False)


def forget_failures(session: Session, username: str, address: str, now: datetime) -> None:
    """A sign-in clears the account's failures from its address (those from elsewhere still
    count towards the slowdown); old rows go at the same time."""
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.address == address,
        LoginAttempt.succeeded.is_(False)))
    prune(session, now)


def unlock(session: Session, username: str) -> int:
    """An administrator's unlock: forget every failure of the account; how many there were."""
    return session.execute(delete(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.succeeded.is_(False))).rowcount or 0


def prune(session: Session, now: datetime) -> None:
    old = now - timedelta(days=KEEP_DAYS)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < old))
    session.execute(delete(SignInGuard).where(SignInGuard.attempted_at < old))
