"""The system administrator's use cases of accounts (docs/administrators.md, "Accounts"):
the list with its search and filters, create, edit roles and agency, disable and enable,
reset a password, API tokens.

Every change runs in one transaction that holds the account's row (SELECT ... FOR UPDATE
on PostgreSQL), checks the version the administrator's form was made from (a stale form is
refused with Conflict, never overwrites), bumps it and records the change in the audit log
(workflows/admin_audit.py) with the account's state before and after; no password, hash or
token ever enters the log. A new account and a reset get a temporary password, returned
once and never stored in clear, which the owner must change at the next sign-in.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from workflows import access, account_state, admin_audit, sessions, users
from workflows.account_models import AccountState
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import ROLES, Agency, ApiToken, User, UserSession
from workflows.validation import MAX_ID

ADMIN_ROLE = "system_admin"
ROLES_OFFERED = tuple(role for role in ROLES if role != "complainant")  # citizens have none
PAGE_SIZE = 50
RESET_LINK_HOURS = 24
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
RESERVED = frozenset({"new", "import"})  # the pages' own addresses under /admin/accounts/
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_MAX = 200
EMAIL_MAX = 200
PHONE = re.compile(r"^\+?[0-9 -]{6,20}$")
TOKEN_NAME_MAX = 100
SIGN_IN_AGES = {"never": None, "30": 30, "90": 90}
# The agency kinds each role works in (the lifecycle offers a disposed report's task to the
# liaison of an OPD, BUMD, kecamatan or kelurahan, a unit's task to its technical officers:
# workflows/actions.py). A role not listed needs no agency.
ROLE_AGENCY_KINDS: dict[str, tuple[str, ...]] = {
    "liaison_officer": ("opd", "bumd", "kecamatan", "kelurahan"),
    "technical_officer": ("unit",),
    "supervisor": ("province", "regency", "opd", "bumd", "kecamatan", "kelurahan", "unit"),
}


def require_admin(principal: access.Principal) -> None:
    if not principal.has(ADMIN_ROLE):
        raise Forbidden("only system administrators manage accounts")


def temporary_password() -> str:
    """Sixteen letters and digits in groups of four, easy to read out and type (31 signs
    without look-alikes: some 79 bits of chance, hashed cheaply: Passwords.hash_random)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


@dataclass(frozen=True)
class AccountFields:
    """What an administrator types for an account (text as typed, checked by `check`)."""

    username: str
    full_name: str
    email: str = ""
    phone: str = ""
    roles: tuple[str, ...] = ()
    agency_code: str = ""


def check_fields(session: Session, fields: AccountFields, *, new: bool
                 ) -> tuple[dict[str, Message], Agency | None]:
    """Each field's problem (by field name), and the agency named. For a new account the
    username must be free."""
    errors: dict[str, Message] = {}
    if new:
        if not USERNAME.match(fields.username) or fields.username in RESERVED:
            errors["username"] = Message(
                "use 3 to 80 small letters, digits, dots, dashes or underscores, starting "
                "with a letter or digit")
        elif session.scalar(select(User.id).where(User.username == fields.username)):
            errors["username"] = Message("%(username)s is taken; choose another username",
                                         username=fields.username)
    if not fields.full_name.strip():
        errors["full_name"] = Message("enter the full name")
    elif len(fields.full_name) > NAME_MAX:
        errors["full_name"] = Message("at most %(n)s characters", n=NAME_MAX)
    if fields.email and (len(fields.email) > EMAIL_MAX or not EMAIL.match(fields.email)):
        errors["email"] = Message("write an e-mail address such as nama@ppu.go.id")
    if fields.phone and not PHONE.match(fields.phone):
        errors["phone"] = Message("write a phone number such as +62 812 3456 7890")
    unknown = sorted(set(fields.roles) - set(ROLES_OFFERED))
    if unknown or not fields.roles:
        errors["roles"] = Message("choose one or more of: %(roles)s",
                                  roles=", ".join(ROLES_OFFERED))
    agency = None
    if fields.agency_code:
        agency = session.scalars(select(Agency).where(Agency.code == fields.agency_code)).first()
        if agency is None or not agency.active:
            errors["agency"] = Message("%(code)s is not an active agency; choose one from the "
                                       "list", code=fields.agency_code)
    if "roles" not in errors and "agency" not in errors:
        for role in fields.roles:
            kinds = ROLE_AGENCY_KINDS.get(role)
            if kinds is None:
                continue
            if agency is None:
                errors["agency"] = Message("a %(role)s needs an agency; choose one",
                                           role=role)
            elif agency.kind not in kinds:
                errors["agency"] = Message(
                    "a %(role)s works in an agency of kind %(kinds)s, and %(code)s is a "
                    "%(kind)s", role=role, kinds=", ".join(kinds), code=agency.code,
                    kind=agency.kind)
            if "agency" in errors:
                break
    return errors, agency


def snapshot(session: Session, user: User) -> dict[str, Any]:
    """What the audit log keeps of an account (never its password or tokens)."""
    agency = session.get(Agency, user.agency_id) if user.agency_id else None
    state = session.get(AccountState, user.id)
    return {"username": user.username, "full_name": user.full_name, "email": user.email,
            "phone": user.phone, "roles": list(user.roles or []),
            "agency": agency.code if agency else None, "active": user.active,
            "must_change": bool(state and state.must_change_password)}


@dataclass(frozen=True)
class AccountRow:
    username: str
    full_name: str
    email: str | None
    roles: list[str]
    agency_code: str | None
    agency_name: str | None
    active: bool
    last_sign_in_at: datetime | None
    must_change_password: bool


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Account:
    """One account as its page shows it, with its tokens (never their secrets)."""

    row: AccountRow
    phone: str | None
    created_at: datetime
    version: int
    tokens: list[dict[str, Any]]


@dataclass(frozen=True)
class Secret:
    """A secret made for an account, shown once: a temporary password or an API token."""

    username: str
    secret: str
    name: str = ""


class AccountAdmin:
    """The use cases of the accounts' administration (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ reading

    def page(self, principal: access.Principal, *, search: str = "", role: str = "",
             agency: str = "", active: str = "", signed_in: str = "", page: int = 1,
             size: int = PAGE_SIZE) -> AccountPage:
        """Accounts by username, searched in username, name and e-mail, filtered by role,
        agency, active (`yes`/`no`) and last sign-in (`never`, or not within `30`/`90`
        days, never included). Unknown filter values are refused, naming the filter."""
        require_admin(principal)
        problems: dict[str, Message] = {}
        if role and role not in ROLES_OFFERED:
            problems["role"] = Message("choose one of: %(roles)s",
                                       roles=", ".join(ROLES_OFFERED))
        if active not in ("", "yes", "no"):
            problems["active"] = Message("choose yes or no")
        if signed_in and signed_in not in SIGN_IN_AGES:
            problems["signed_in"] = Message("choose never, 30 or 90")
        if problems:
            raise Invalid("the filters have errors", problems)
        stmt = (select(User, Agency.code, Agency.name, AccountState.last_sign_in_at,
                       AccountState.must_change_password)
                .outerjoin(Agency, Agency.id == User.agency_id)
                .outerjoin(AccountState, AccountState.user_id == User.id))
        if search.strip():
            words = search.strip().lower()
            stmt = stmt.where(or_(*(func.lower(column).contains(words, autoescape=True)
                                    for column in (User.username, User.full_name,
                                                   User.email))))
        if role:
            stmt = stmt.where(cast(User.roles, String).like(f'%"{role}"%'))
        if agency:
            stmt = stmt.where(Agency.code == agency)
        if active:
            stmt = stmt.where(User.active.is_(active == "yes"))
        if signed_in == "never":
            stmt = stmt.where(AccountState.last_sign_in_at.is_(None))
        elif signed_in:
            cutoff = self.ctx.now() - timedelta(days=SIGN_IN_AGES[signed_in] or 0)
            stmt = stmt.where(or_(AccountState.last_sign_in_at.is_(None),
                                  AccountState.last_sign_in_at < cutoff))
        page = max(page, 1)
        with self.ctx.reads() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            found = session.execute(stmt.order_by(User.username)
                                    .offset((page - 1) * size).limit(size)).all()
            rows = [AccountRow(u.username, u.full_name, u.email, list(u.roles or []), code,
                               name, u.active, last, bool(must))
                    for u, code, name, last, must in found]
        return AccountPage(rows, total, page, max(1, -(-total // size)))

    def agencies(self, principal: access.Principal) -> list[dict[str, Any]]:
        """The active agencies an account may belong to (code, name, kind, parent code)."""
        require_admin(principal)
        with self.ctx.reads() as session:
            table = access.agency_table(session)
            codes = {a.id: a.code for a in table.values()}
            return [{"code": a.code, "name": a.name, "kind": a.kind,
                     "parent": codes.get(a.parent_id)} for a in table.values() if a.active]

    def account(self, principal: access.Principal, username: str) -> Account:
        require_admin(principal)
        with self.ctx.reads() as session:
            user = users.find(session, username)
            agency = session.get(Agency, user.agency_id) if user.agency_id else None
            state = session.get(AccountState, user.id)
            tokens = [{"id": t.id, "name": t.name, "created_at": t.created_at,
                       "last_used_at": t.last_used_at, "revoked_at": t.revoked_at}
                      for t in session.scalars(select(ApiToken).where(
                          ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))]
            row = AccountRow(user.username, user.full_name, user.email, list(user.roles or []),
                             agency.code if agency else None, agency.name if agency else None,
                             user.active, state.last_sign_in_at if state else None,
                             bool(state and state.must_change_password))
            return Account(row, user.phone, user.created_at, state.version if state else 0,
                           tokens)

    # ------------------------------------------------------------------ changing

    def create(self, principal: access.Principal, fields: AccountFields) -> Secret:
        """A new account with a temporary password (returned once) to change at the first
        sign-in. Invalid names each field's problem."""
        require_admin(principal)
        fields = _trimmed(fields)
        password = temporary_password()
        hashed = self.ctx.passwords.hash_random(password)
        with self.ctx.transaction() as session:
            errors, _agency = check_fields(session, fields, new=True)
            if errors:
                raise Invalid("the account has errors", errors)
            self.add_account(session, principal, fields, hashed, action="account.create")
        return Secret(fields.username, password)

    def add_account(self, session: Session, principal: access.Principal,
                    fields: AccountFields, password_hash: str, *, action: str,
                    note: str | None = None) -> User:
        """Add a checked account in the caller's transaction, with the hash of its temporary
        password (Passwords.hash_random, made beforehand) to change at the first sign-in,
        and audit it (create, import)."""
        now = self.ctx.now()
        user = users.create_user(session, self.ctx.passwords, username=fields.username,
                                 full_name=fields.full_name, roles=list(fields.roles),
                                 agency_code=fields.agency_code or None, now=now,
                                 email=fields.email or None, phone=fields.phone or None)
        user.password_hash = password_hash
        account_state.state(session, user.id).must_change_password = True
        admin_audit.record(session, at=now, actor=principal.username, action=action,
                           target_kind="account", target=user.username,
                           after=snapshot(session, user), note=note)
        return user

    def update(self, principal: access.Principal, username: str, version: int,
               fields: AccountFields) -> int:
        """New name, e-mail, phone, roles and agency; the new version. Conflict when the
        account changed since `version`."""
        require_admin(principal)
        fields = _trimmed(fields)
        with self.ctx.transaction() as session:
            user, state = self._locked(session, username, version)
            errors, agency = check_fields(session, fields, new=False)
            if (user.username == principal.username and ADMIN_ROLE in (user.roles or [])
                    and ADMIN_ROLE not in fields.roles and "roles" not in errors):
                errors["roles"] = Message("you cannot take the system_admin role from your "
                                          "own account; ask another system administrator")
            if errors:
                raise Invalid("the account has errors", errors)
            before = snapshot(session, user)
            user.full_name = fields.full_name
            user.email = fields.email or None
            user.phone = fields.phone or None
            user.roles = list(fields.roles)
            user.agency_id = agency.id if agency else None
            return self._done(session, principal, user, state, "account.update", before)

    def set_active(self, principal: access.Principal, username: str, version: int,
                   active: bool) -> int:
        """Disable (every session ends, API tokens are refused) or enable an account."""
        require_admin(principal)
        with self.ctx.transaction() as session:
            user, state = self._locked(session, username, version)
            if not active and user.username == principal.username:
                raise Invalid("you cannot disable your own account",
                              {"active": Message("ask another system administrator")})
            before = snapshot(session, user)
            user.active = active
            ended = 0 if active else sessions.end_all(session, user.id)
            return self._done(session, principal, user, state,
                              "account.enable" if active else "account.disable", before,
                              note=None if active else f"{ended} session(s) ended")

    def reset_password(self, principal: access.Principal, username: str, version: int
                       ) -> Secret:
        """A temporary password (returned once); the account's sessions end, and until the
        owner chooses a new password the pages lead only there and the API refuses it."""
        require_admin(principal)
        password = temporary_password()
        hashed = self.ctx.passwords.hash_random(password)
        with self.ctx.transaction() as session:
            user, state = self._locked(session, username, version)
            before = snapshot(session, user)
            user.password_hash = hashed
            state.must_change_password = True
            state.reset_link_hash = state.reset_link_expires_at = None
            ended = sessions.end_all(session, user.id)
            self._done(session, principal, user, state, "account.reset_password", before,
                       note=f"{ended} session(s) ended")
        return Secret(username, password)

    def reset_link(self, principal: access.Principal, username: str, version: int
                   ) -> Secret:
        """A one-time link's secret (returned once) by which the owner chooses a new
        password within RESET_LINK_HOURS (workflows/own_account.py). The old password and
        every session end now; the API refuses the account until the link is used."""
        require_admin(principal)
        secret = secrets.token_urlsafe(32)
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            user, state = self._locked(session, username, version)
            before = snapshot(session, user)
            user.password_hash = None
            state.must_change_password = True
            state.reset_link_hash = access.digest(secret)
            state.reset_link_expires_at = now + timedelta(hours=RESET_LINK_HOURS)
            ended = sessions.end_all(session, user.id)
            self._done(session, principal, user, state, "account.reset_link", before,
                       note=f"valid for {RESET_LINK_HOURS} h; {ended} session(s) ended")
        return Secret(username, secret)

    def create_token(self, principal: access.Principal, username: str, name: str) -> Secret:
        """A named API token for the account (its secret returned once)."""
        require_admin(principal)
        name = name.strip()
        if not name or len(name) > TOKEN_NAME_MAX:
            raise Invalid("the token needs a name", {"name": Message(
                "name what the token is for (1 to %(n)s characters)", n=TOKEN_NAME_MAX)})
        with self.ctx.transaction() as session:
            user, token = users.create_token(session, username, self.ctx.now(), name=name)
            admin_audit.record(session, at=self.ctx.now(), actor=principal.username,
                               action="account.token_create", target_kind="account",
                               target=user.username, after={"token_name": name})
        return Secret(username, token, name)

    def revoke_token(self, principal: access.Principal, username: str, token_id: int) -> None:
        require_admin(principal)
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            user = users.find(session, username)
            row = session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
            if row is None or row.user_id != user.id:
                raise NotFound("the token does not exist; reload the account's page")
            if row.revoked_at is None:
                row.revoked_at = now
                admin_audit.record(session, at=now, actor=principal.username,
                                   action="account.token_revoke", target_kind="account",
                                   target=user.username, before={"token_name": row.name},
                                   after={"token_name": row.name, "revoked": True})

    # ------------------------------------------------------------------ helpers

    def _locked(self, session: Session, username: str, version: int
                ) -> tuple[User, AccountState]:
        """The account's row, held until the transaction ends, and its state, checked
        against the version the form was made from."""
        user = session.scalars(select(User).where(User.username == username)
                               .with_for_update()).first()
        if user is None:
            raise NotFound("account %(username)s does not exist", username=username)
        state = account_state.state(session, user.id)
        if state.version != version:
            raise Conflict("account %(username)s was changed by another administrator "
                           "meanwhile; reload its page to see the change and try again",
                           username=username)
        return user, state

    def _done(self, session: Session, principal: access.Principal, user: User,
              state: AccountState, action: str, before: dict[str, Any],
              note: str | None = None) -> int:
        state.version += 1
        admin_audit.record(session, at=self.ctx.now(), actor=principal.username,
                           action=action, target_kind="account", target=user.username,
                           before=before, after=snapshot(session, user), note=note)
        return state.version


def end_other_sessions(session: Session, user_id: int, keep_session_id: str | None) -> int:
    """End every session of the user except the one given (the one changing a password)."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if keep_session_id:
        stmt = stmt.where(UserSession.token_hash != access.digest(keep_session_id))
    return session.execute(stmt).rowcount or 0


def _trimmed(fields: AccountFields) -> AccountFields:
    return AccountFields(fields.username.strip().lower(), fields.full_name.strip(),
                         fields.email.strip(), fields.phone.strip(),
                         tuple(dict.fromkeys(r.strip() for r in fields.roles if r.strip())),
                         fields.agency_code.strip())
