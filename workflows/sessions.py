"""The pages' signed-in sessions, kept on the server: a session is a row, and ending it
(signing out, a new password, a disabled account) makes its cookie worthless, copies too.

The cookie carries a random session id; the table keeps only its SHA-256 (as for API tokens),
so a copy of the database opens no session. Rows older than the session's life are pruned at
each sign-in.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, delete, func, select
from sqlalchemy.orm import Session

from workflows.access import FIRST_READ_COLUMNS, digest, seed_first_read
from workflows.account_models import AccountState
from workflows.models import Outbox, User, UserSession

PRUNE_AFTER_HOURS = 24  # longer than any session lives (accounts.SESSION_HOURS)


def start(session: Session, user_id: int, address: str, now: datetime) -> str:
    """A new session of the user; returns its id (for the cookie only: it is not stored)."""
    session_id = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=digest(session_id), user_id=user_id, created_at=now,
                            address=address[:64]))
    session.execute(delete(UserSession).where(
        UserSession.created_at < now - timedelta(hours=PRUNE_AFTER_HOURS)))
    return session_id


def user_of(session: Session, session_id: str, started_after: datetime) -> Row | None:
    """The user of a session the server knows, begun after the given time, with what each
    request checks (active, the password hash the cookie's fingerprint is made from, whether
    a new password must be chosen) and their unread notifications, in one statement; None
    otherwise. A plain row, not an
    account object: nothing here is changed."""
    if not session_id:
        return None
    found = session.execute(_SESSION_USER, {"token_hash": digest(session_id),
                                            "started_after": started_after}).first()
    if found is not None:
        seed_first_read(session, found)
    return found


# Every page asks it: built once (bound values only), not per request.
_SESSION_USER = (
    select(User.id, User.username, User.full_name, User.roles, User.agency_id,
           User.active, User.password_hash,
           func.coalesce(AccountState.must_change_password, False)
           .label("must_change_password"),
           # the navigation bar's count on every page (workflows/desk.py), asked with it
           select(func.count()).select_from(Outbox).where(
               Outbox.user_id == User.id, Outbox.channel == "inapp",
               Outbox.status == "unread").scalar_subquery().label("unread"),
           *FIRST_READ_COLUMNS)
    .join(UserSession, UserSession.user_id == User.id)
    .outerjoin(AccountState, AccountState.user_id == User.id)
    .where(UserSession.token_hash == bindparam("token_hash"),
           UserSession.created_at > bindparam("started_after",
                                              type_=UserSession.created_at.type)))


def end(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == digest(session_id)))


def end_all(session: Session, user_id: int) -> int:
    """End every session of the user; how many there were."""
    return session.execute(delete(UserSession).where(
        UserSession.user_id == user_id)).rowcount or 0
