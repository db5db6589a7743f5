"""Use cases of officers' accounts: signing in (throttled), who a session or a bearer token
is, accounts and tokens, and each officer's in-app notifications."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from workflows import access, notify, throttle, users
from workflows.context import Context
from workflows.errors import Invalid, Message, TooManyAttempts
from workflows.models import User
from workflows.validation import MAX_ID


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: who, the fingerprint that ends the session when the password
    changes, and the language the officer chose."""

    principal: access.Principal
    fingerprint: str
    language: str


@dataclass(frozen=True)
class SessionUser:
    principal: access.Principal
    full_name: str


def fingerprint(user: User) -> str:
    """A digest of the password hash: a session made before the password changed ends."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


class InvalidCredentials(Invalid):
    """The username or the password is wrong (the same answer for both)."""


class AccountLocked(TooManyAttempts):
    """Too many failed sign-ins for the account (workflows/throttle.py)."""


class Accounts:
    """The use cases of accounts (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ signing in

    def sign_in(self, username: str, password: str, address: str) -> SignedIn:
        """An officer's sign-in. TooManyAttempts when the address is throttled or the
        account locked (workflows/throttle.py); InvalidCredentials otherwise on failure.
        Every attempt is recorded, in one transaction with the outcome."""
        username = username.strip()[:80]
        now = self.ctx.now()
        refused: Exception | None = None
        with self.ctx.transaction() as session:
            if throttle.address_failures(session, address, now, tracking=False) >= \
                    throttle.MAX_FAILURES_PER_ADDRESS:
                raise TooManyAttempts("too many failed sign-ins from this address; try "
                                      "again in %(minutes)s minutes",
                                      retry_minutes=throttle.LOCK_MINUTES,
                                      minutes=throttle.LOCK_MINUTES)
            locked = throttle.minutes_locked(session, username, now)
            user = None if locked else session.scalars(
                select(User).where(User.username == username)).first()
            ok = not locked and self.ctx.passwords.matches(user, password) and user.active
            throttle.record(session, username, address, now, succeeded=ok)
            if locked:
                refused = AccountLocked("the account is locked after too many failed "
                                        "sign-ins; try again in %(minutes)s minutes",
                                        retry_minutes=locked, minutes=locked)
            elif not ok:
                refused = InvalidCredentials("the username or password is wrong")
            else:
                throttle.forget_failures(session, username, now)
                return SignedIn(access.principal_for(session, user,
                                                     self.ctx.config.admin_agency_code),
                                fingerprint(user), user.language)
        # raised after the block, so that the failed attempt is committed with it
        raise refused

    def session_user(self, user_id: int, session_fingerprint: str) -> SessionUser | None:
        """The officer of a signed-in session, while the account is active and its password
        the one the session was made with; None otherwise (the session should end)."""
        with self.ctx.reads() as session:
            user = session.get(User, user_id)
            if user is None or not user.active or not hmac.compare_digest(
                    fingerprint(user), session_fingerprint):
                return None
            return SessionUser(access.principal_for(session, user,
                                                    self.ctx.config.admin_agency_code),
                               user.full_name)

    def authenticate_token(self, token: str | None) -> access.Principal:
        """The officer behind a bearer token (Unauthenticated otherwise); its last use is
        noted at most every few minutes, so that reads do not all become writes."""
        now = self.ctx.now()
        admin_code = self.ctx.config.admin_agency_code
        with self.ctx.reads() as session:
            principal, stale = access.authenticate_token(session, token, now, admin_code)
        if stale and token:
            with self.ctx.transaction() as session:
                access.touch_token(session, token, now)
        return principal

    # ------------------------------------------------------------------ administration

    def create_user(self, *, username: str, full_name: str, roles: list[str],
                    agency_code: str | None, email: str | None = None,
                    phone: str | None = None, password: str | None = None
                    ) -> dict[str, Any]:
        with self.ctx.transaction() as session:
            user = users.create_user(session, self.ctx.passwords, username=username,
                                     full_name=full_name, roles=roles,
                                     agency_code=agency_code, email=email, phone=phone,
                                     password=password, now=self.ctx.now())
            return users.user_document(session, user)

    def list_users(self) -> list[dict[str, Any]]:
        with self.ctx.reads() as session:
            return users.list_users(session)

    def create_token(self, username: str, name: str = "cli") -> dict[str, Any]:
        """A new bearer token (shown once: only its hash is kept)."""
        with self.ctx.transaction() as session:
            user, token = users.create_token(session, username, self.ctx.now(), name=name)
            return {"username": user.username, "token": token, "name": name}

    # ------------------------------------------------------------------ notifications

    def notifications(self, principal: access.Principal, *, unread_only: bool = False
                      ) -> list[dict[str, Any]]:
        """The officer's in-app notifications, newest first, in their language."""
        if principal.user_id is None:
            raise Invalid("only accounts have an inbox",
                          {"Authorization": "use an officer token"})
        with self.ctx.reads() as session:
            return notify.inbox(session, principal.user_id, unread_only=unread_only)

    def mark_read(self, principal: access.Principal, ids: Iterable[int]) -> int:
        """Mark some of the officer's notifications read; returns how many changed. Ids are
        whole numbers from 1 to MAX_ID (Invalid otherwise, naming `ids`)."""
        # JSON does not tell 12 from 12.0 (JSON Schema calls both integers)
        ids = [int(i) if isinstance(i, float) and i.is_integer() else i for i in ids]
        if not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID
                   for i in ids):
            raise Invalid("ids must be notification numbers",
                          {"ids": Message("whole numbers from 1 to %(n)s", n=MAX_ID)})
        with self.ctx.transaction() as session:
            return notify.mark_read(session, principal.user_id or -1, ids)
