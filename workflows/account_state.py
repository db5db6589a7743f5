"""Reading and changing an account's administrative state (workflows/account_models.py)
inside a caller's transaction: the row is made when first needed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.account_models import AccountState


def state(session: Session, user_id: int) -> AccountState:
    """The account's row, added (version 0) if it has none yet."""
    row = session.get(AccountState, user_id)
    if row is not None:
        return row
    try:
        with session.begin_nested():  # a sign-in may add it at the same moment
            row = AccountState(user_id=user_id, version=0, must_change_password=False)
            session.add(row)
    except IntegrityError:
        row = session.get(AccountState, user_id, populate_existing=True)
        assert row is not None  # the other transaction's row, committed
    return row


def must_change_password(session: Session, user_id: int) -> bool:
    return bool(session.scalar(select(AccountState.must_change_password).where(
        AccountState.user_id == user_id)))


def version(session: Session, user_id: int) -> int:
    return session.scalar(select(AccountState.version).where(
        AccountState.user_id == user_id)) or 0


def note_sign_in(session: Session, user_id: int, now: datetime) -> None:
    state(session, user_id).last_sign_in_at = now
