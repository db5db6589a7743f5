"""What everyone signed in does with their own account (docs/administrators.md, "Your own
account"): see it, change the password, choose the language of the pages; and, signed out,
choose a new password by the one-time link an administrator made.

A new password ends every other session of the account (the one changing it stays signed
in: its new fingerprint is returned for its cookie) and lifts the obligation a reset put on
the account (workflows/account_admin.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import (
    access,
    account_admin,
    account_state,
    admin_audit,
    sessions,
    throttle,
    users,
)
from workflows.account_models import AccountState
from workflows.accounts import REFUSALS, fingerprint
from workflows.context import Context
from workflows.errors import Invalid, Message, NotFound
from workflows.models import Agency, User

LANGUAGES = ("id", "en")


def new_password_problems(new: str, repeated: str) -> dict[str, Message]:
    """The password policy (workflows/users.py) and the repetition, by field."""
    errors: dict[str, Message] = {}
    if len(new) < users.MIN_PASSWORD_LENGTH:
        errors["new_password"] = Message("use at least %(n)s characters",
                                         n=users.MIN_PASSWORD_LENGTH)
    if new != repeated:
        errors["repeat_password"] = Message("type the same new password twice")
    return errors


@dataclass(frozen=True)
class OwnAccountView:
    username: str
    full_name: str
    email: str | None
    roles: list[str]
    agency_name: str | None
    language: str
    must_change_password: bool


class OwnAccount:
    """The use cases of one's own account (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def view(self, principal: access.Principal) -> OwnAccountView:
        with self.ctx.reads() as session:
            user = users.find(session, principal.username)
            agency = session.get(Agency, user.agency_id) if user.agency_id else None
            return OwnAccountView(user.username, user.full_name, user.email,
                                  list(user.roles or []), agency.name if agency else None,
                                  user.language,
                                  account_state.must_change_password(session, user.id))

    def change_password(self, principal: access.Principal, *, current: str, new: str,
                        repeated: str, session_id: str | None = None,
                        address: str = "unknown") -> str:
        """Check the current password, set the new one (the policy of workflows/users.py),
        end the account's other sessions; returns the new session fingerprint. Invalid names
        `current_password`, `new_password` or `repeat_password`. A wrong current password
        counts as a failed sign-in from the address (workflows/throttle.py), so a session
        left open cannot be used to guess it: TooManyAttempts once the account is locked."""
        errors = new_password_problems(new, repeated)
        if "new_password" not in errors and new == current:
            errors["new_password"] = Message("choose a password other than the current one")
        now = self.ctx.now()
        address = address[:64]
        with self.ctx.transaction() as session:
            throttle.guard(session, principal.username, now)
            refused = throttle.refusal(session, principal.username, address, now)
            if refused is not None:
                kind, text = REFUSALS[refused.reason]
                raise kind(text, retry_minutes=refused.retry_minutes,
                           minutes=refused.retry_minutes)
            user = users.find(session, principal.username)
            if not self.ctx.passwords.matches(user, current):
                throttle.record(session, user.username, address, now, succeeded=False)
                errors = {"current_password": Message(
                    "the current password is wrong; type the one you signed in with"),
                          **errors}
            if not errors:
                was_forced = self._set(session, user, new)
                ended = account_admin.end_other_sessions(session, user.id, session_id)
                admin_audit.record(session, at=now, actor=principal.username,
                                   action="account.change_own_password",
                                   target_kind="account", target=user.username,
                                   before={"must_change": was_forced},
                                   after={"must_change": False},
                                   note=f"{ended} other session(s) ended")
                return fingerprint(user)
        # raised after the block, so that a failed attempt is committed with it
        raise Invalid("the password was not changed", errors)

    def _set(self, session: Session, user: User, password: str) -> bool:
        """The new password, the obligation and any reset link lifted; whether there was
        the obligation."""
        user.password_hash = self.ctx.passwords.hash(password)
        state = account_state.state(session, user.id)
        was_forced = state.must_change_password
        state.must_change_password = False
        state.reset_link_hash = state.reset_link_expires_at = None
        state.password_changed_at = self.ctx.now()
        return was_forced

    # ------------------------------------------------------------------ one-time link

    def link_holder(self, secret: str) -> str:
        """The username a one-time link (workflows/account_admin.py: reset_link) is for;
        NotFound when the link is unknown, used or expired."""
        with self.ctx.reads() as session:
            return self._link_user(session, secret).username

    def set_password_by_link(self, secret: str, *, new: str, repeated: str) -> str:
        """Choose a new password by a one-time link: it is used up, every session of the
        account ends; returns the username, to sign in with."""
        errors = new_password_problems(new, repeated)
        with self.ctx.transaction() as session:
            user = self._link_user(session, secret, lock=True)
            if errors:
                raise Invalid("the password was not changed", errors)
            self._set(session, user, new)
            ended = sessions.end_all(session, user.id)
            admin_audit.record(session, at=self.ctx.now(), actor=user.username,
                               action="account.password_by_link", target_kind="account",
                               target=user.username, before={"must_change": True},
                               after={"must_change": False},
                               note=f"{ended} session(s) ended")
            return user.username

    def _link_user(self, session: Session, secret: str, lock: bool = False) -> User:
        stmt = select(AccountState).where(
            AccountState.reset_link_hash == access.digest(secret[:200]),
            AccountState.reset_link_expires_at > self.ctx.now())
        state = session.scalars(stmt.with_for_update() if lock else stmt).first()
        user = session.get(User, state.user_id) if state is not None else None
        if user is None or not user.active:
            raise NotFound("the link is unknown, used or expired; ask an administrator for "
                           "a new one")
        return user

    def set_language(self, principal: access.Principal, language: str) -> str:
        """The language of the account's pages, from its next request and sign-in."""
        if language not in LANGUAGES:
            raise Invalid("unknown language", {"language": Message(
                "choose one of: %(languages)s", languages=", ".join(LANGUAGES))})
        with self.ctx.transaction() as session:
            users.find(session, principal.username).language = language
        return language
