"""What everyone signed in does with their own account (docs/administrators.md, "Your own
account"): see it, change the password, choose the language of the pages.

A new password ends every other session of the account (the one changing it stays signed
in: its new fingerprint is returned for its cookie) and lifts the obligation a reset put on
the account (workflows/account_admin.py)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows import access, account_admin, account_state, admin_audit, users
from workflows.accounts import fingerprint
from workflows.context import Context
from workflows.errors import Invalid, Message
from workflows.models import Agency

LANGUAGES = ("id", "en")


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
                        repeated: str, session_id: str | None = None) -> str:
        """Check the current password, set the new one (the policy of workflows/users.py),
        end the account's other sessions; returns the new session fingerprint. Invalid names
        `current_password`, `new_password` or `repeat_password`."""
        errors: dict[str, Message] = {}
        if len(new) < users.MIN_PASSWORD_LENGTH:
            errors["new_password"] = Message("use at least %(n)s characters",
                                             n=users.MIN_PASSWORD_LENGTH)
        elif new == current:
            errors["new_password"] = Message("choose a password other than the current one")
        if new != repeated:
            errors["repeat_password"] = Message("type the same new password twice")
        with self.ctx.transaction() as session:
            user = users.find(session, principal.username)
            if not self.ctx.passwords.matches(user, current):
                errors = {"current_password": Message(
                    "the current password is wrong; type the one you signed in with"),
                          **errors}
            if errors:
                raise Invalid("the password was not changed", errors)
            user.password_hash = self.ctx.passwords.hash(new)
            state = account_state.state(session, user.id)
            was_forced = state.must_change_password
            state.must_change_password = False
            state.password_changed_at = self.ctx.now()
            ended = account_admin.end_other_sessions(session, user.id, session_id)
            admin_audit.record(session, at=self.ctx.now(), actor=principal.username,
                               action="account.change_own_password", target_kind="account",
                               target=user.username, before={"must_change": was_forced},
                               after={"must_change": False},
                               note=f"{ended} other session(s) ended")
            return fingerprint(user)

    def set_language(self, principal: access.Principal, language: str) -> str:
        """The language of the account's pages, from its next request and sign-in."""
        if language not in LANGUAGES:
            raise Invalid("unknown language", {"language": Message(
                "choose one of: %(languages)s", languages=", ".join(LANGUAGES))})
        with self.ctx.transaction() as session:
            users.find(session, principal.username).language = language
        return language
