"""Use cases of officers' accounts: signing in (throttled), who a session or a bearer token
is, accounts and tokens, and each officer's in-app notifications."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from workflows import (
    access,
    account_state,
    admin_audit,
    demo,
    notify,
    sessions,
    throttle,
    users,
)
from workflows.context import Context
from workflows.errors import Invalid, Message, TooManyAttempts
from workflows.models import User
from workflows.validation import MAX_ID

SHELL = "aduan (shell)"  # the audit log's actor of the `aduan users/tokens` commands
SESSION_HOURS = 10  # a session ends this long after signing in, whatever the cookie says


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: who, the session's secret id (for the cookie; the server keeps
    its hash), the fingerprint that ends the session when the password changes, and the
    language the officer chose."""

    principal: access.Principal
    session_id: str
    fingerprint: str
    language: str
    must_change_password: bool = False


@dataclass(frozen=True)
class SessionUser:
    principal: access.Principal
    full_name: str
    must_change_password: bool = False  # after a reset: nothing else until it is changed
    unread: int | None = None  # unread in-app notifications when the session was read


def fingerprint(user: Any) -> str:
    """A digest of the password hash: a session made before the password changed ends."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


class InvalidCredentials(Invalid):
    """The username or the password is wrong (the same answer for both)."""


class AccountLocked(TooManyAttempts):
    """Too many failed sign-ins for the account from this address (workflows/throttle.py)."""


class AccountSlowed(TooManyAttempts):
    """Too many failed sign-ins for the account from everywhere: the next attempt must wait
    (workflows/throttle.py)."""


REFUSALS: dict[str, tuple[type[TooManyAttempts], str]] = {
    "address": (TooManyAttempts, "too many failed sign-ins from this address; try again in "
                                 "%(minutes)s minutes"),
    "locked": (AccountLocked, "the account is locked after too many failed sign-ins from "
                              "this address; try again in %(minutes)s minutes"),
    "slowed": (AccountSlowed, "too many failed sign-ins for this account; try again in "
                              "%(minutes)s minutes"),
}


class Accounts:
    """The use cases of accounts (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ signing in

    def sign_in(self, username: str, password: str, address: str) -> SignedIn:
        """An officer's sign-in, starting a session the server knows. TooManyAttempts
        (AccountLocked, AccountSlowed) when the attempt is refused unchecked
        (workflows/throttle.py), InvalidCredentials when the password is checked and wrong.

        The attempts on one username run one at a time (throttle.guard), from the count to
        the outcome's record, in one transaction: so at most the limit's worth of passwords
        is ever checked, however many arrive at once."""
        username = username.strip()[:80]
        address = address[:64]
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            throttle.guard(session, username, now)
            refused = throttle.refusal(session, username, address, now)
            if refused is not None:
                kind, text = REFUSALS[refused.reason]
                raise kind(text, retry_minutes=refused.retry_minutes,
                           minutes=refused.retry_minutes)
            user = session.scalars(select(User).where(User.username == username)).first()
            ok = self.ctx.passwords.matches(user, password) and user.active
            throttle.record(session, username, address, now, succeeded=ok)
            if ok:
                throttle.forget_failures(session, username, address, now)
                session_id = sessions.start(session, user.id, address, now)
                account_state.note_sign_in(session, user.id, now)
                return SignedIn(access.principal_for(session, user,
                                                     self.ctx.config.admin_agency_code),
                                session_id, fingerprint(user), user.language,
                                account_state.must_change_password(session, user.id))
        # raised after the block, so that the failed attempt is committed with it
        raise InvalidCredentials("the username or password is wrong")

    def sign_out(self, session_id: str | None) -> None:
        """End the session on the server: its cookie, even copied, opens nothing any more."""
        if session_id:
            with self.ctx.transaction() as session:
                sessions.end(session, session_id)

    def session_user(self, session_id: str, session_fingerprint: str) -> SessionUser | None:
        """The officer of a signed-in session, while the server knows the session, it is
        younger than SESSION_HOURS, the account is active and its password the one the
        session was made with; None otherwise (the session should end)."""
        with self.ctx.reads() as session:
            user = sessions.user_of(session, session_id,
                                    self.ctx.now() - timedelta(hours=SESSION_HOURS))
            if user is None or not user.active or not hmac.compare_digest(
                    fingerprint(user), session_fingerprint):
                return None
            return SessionUser(access.principal_for(session, user,
                                                    self.ctx.config.admin_agency_code),
                               user.full_name, bool(user.must_change_password),
                               int(user.unread or 0))

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
            document = users.user_document(session, user)
            self._audit(session, "account.create", user.username, after=document)
            return document

    def set_password(self, username: str, password: str) -> dict[str, Any]:
        """A new password for the account; every session of the account ends (tokens, which
        are not passwords, stay)."""
        with self.ctx.transaction() as session:
            user = users.find(session, username)
            user.password_hash = self.ctx.passwords.hash(password)
            ended = sessions.end_all(session, user.id)
            self._audit(session, "account.set_password", user.username,
                        note=f"{ended} session(s) ended")
            return {**users.user_document(session, user), "sessions_ended": ended}

    def set_active(self, username: str, active: bool) -> dict[str, Any]:
        """Disable an account (every session ends, its tokens are refused) or enable it."""
        with self.ctx.transaction() as session:
            user = users.find(session, username)
            before = users.user_document(session, user)
            user.active = active
            ended = 0 if active else sessions.end_all(session, user.id)
            self._audit(session, "account.enable" if active else "account.disable",
                        user.username, before=before,
                        after=users.user_document(session, user))
            return {**users.user_document(session, user), "sessions_ended": ended}

    def end_sessions(self, username: str) -> dict[str, Any]:
        """Sign the account out everywhere (a lost phone, a shared computer)."""
        with self.ctx.transaction() as session:
            user = users.find(session, username)
            return {"username": user.username,
                    "sessions_ended": sessions.end_all(session, user.id)}

    def unlock(self, username: str) -> dict[str, Any]:
        """Forget the account's failed sign-ins, from every address: its locks and its
        slowdown end now (an administrator's answer to an owner locked out)."""
        with self.ctx.transaction() as session:
            return {"username": username, "failures_forgotten": throttle.unlock(
                session, username.strip()[:80])}

    def list_users(self) -> list[dict[str, Any]]:
        with self.ctx.reads() as session:
            return users.list_users(session)

    def demo_accounts(self) -> list[dict[str, Any]]:
        """The demo regency's accounts that still have the demo password (workflows/demo.py):
        username, roles, agency, password. Empty on a database without the demo."""
        with self.ctx.reads() as session:
            return demo.accounts_with_demo_password(session, self.ctx.passwords)

    def create_token(self, username: str, name: str = "cli") -> dict[str, Any]:
        """A new bearer token (shown once: only its hash is kept)."""
        with self.ctx.transaction() as session:
            user, token = users.create_token(session, username, self.ctx.now(), name=name)
            self._audit(session, "account.token_create", user.username,
                        after={"token_name": name})
            return {"username": user.username, "token": token, "name": name}

    def _audit(self, session: Any, action: str, username: str, **change: Any) -> None:
        """The shell's changes in the administrators' audit log, as the pages' are
        (workflows/account_admin.py); the shell's user is not known: the actor is SHELL."""
        admin_audit.record(session, at=self.ctx.now(), actor=SHELL, action=action,
                           target_kind="account", target=username, **change)

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
