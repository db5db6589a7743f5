"""Failed sign-ins and tracking codes, counted in the database so that every process agrees.

An account is locked for LOCK_MINUTES after MAX_FAILURES_PER_USER failures within that window
(whether or not the username exists, so the answer reveals nothing); one address is refused
after MAX_FAILURES_PER_ADDRESS failed sign-ins, or TRACK_FAILURES_PER_ADDRESS wrong tracking
codes, within the window. Tracking codes are counted apart (usernames "lacak:<number>"), so a
citizen's typos never lock an officer out. Rows older than KEEP_DAYS are pruned as we go.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workflows.models import LoginAttempt

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 30
LOCK_MINUTES = 15
TRACK_FAILURES_PER_ADDRESS = 10
TRACK_WINDOW_MINUTES = 15
TRACKING_PREFIX = "lacak:"  # rows of the tracking form, not of staff sign-in
KEEP_DAYS = 30


def address_failures(session: Session, address: str, now: datetime, *, tracking: bool
                     ) -> int:
    """Failures from one address within the window: tracking codes, or else sign-ins."""
    window = TRACK_WINDOW_MINUTES if tracking else LOCK_MINUTES
    kind = LoginAttempt.username.like(f"{TRACKING_PREFIX}%")
    return int(session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.address == address, LoginAttempt.at >= now - timedelta(minutes=window),
        LoginAttempt.succeeded.is_(False), kind if tracking else ~kind)) or 0)


def minutes_locked(session: Session, username: str, now: datetime) -> int:
    """How many minutes more the account stays locked (0: it is not)."""
    failures = session.scalars(select(LoginAttempt.at).where(
        LoginAttempt.username == username,
        LoginAttempt.at >= now - timedelta(minutes=LOCK_MINUTES),
        LoginAttempt.succeeded.is_(False)).order_by(LoginAttempt.at)).all()
    if len(failures) < MAX_FAILURES_PER_USER:
        return 0
    unlock = failures[-MAX_FAILURES_PER_USER] + timedelta(minutes=LOCK_MINUTES)
    return max(1, int((unlock - now).total_seconds() // 60) + 1)


def record(session: Session, username: str, address: str, now: datetime,
           succeeded: bool) -> None:
    session.add(LoginAttempt(username=username[:80], address=address, at=now,
                             succeeded=succeeded))


def record_tracking_failure(session: Session, tracking_number: str, address: str,
                            now: datetime) -> None:
    record(session, f"{TRACKING_PREFIX}{tracking_number}", address, now, False)


def forget_failures(session: Session, username: str, now: datetime) -> None:
    """A success clears the account's failures; old rows go at the same time."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                               LoginAttempt.succeeded.is_(False)))
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.at < now - timedelta(days=KEEP_DAYS)))
