"""Who is asking: principals, their task groups, and what of a complaint they may see."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from workflows import groups as task_groups
from workflows import readcounts, revisions
from workflows.account_models import AccountState
from workflows.config import RegencyConfig
from workflows.errors import Forbidden, Unauthenticated
from workflows.models import Agency, ApiToken, Complaint, User

# What stands for a `rahasia` report's content wherever the reader may not see it.
HIDDEN = "[rahasia]"
OFFICER_ROLES = frozenset({"regency_admin", "liaison_officer", "technical_officer",
                           "supervisor", "system_admin"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an officer by token, or a complainant by tracking secret."""

    username: str
    roles: frozenset[str]
    user_id: int | None = None
    agency_id: int | None = None
    agency_code: str | None = None
    agency_ids: frozenset[int] = field(default_factory=frozenset)  # reports they may see
    # Own agency and below in the organisation: the escalations addressed to them. Wider
    # than that, agency_ids may be (Diskominfo's head oversees every OPD: principal_for).
    org_agency_ids: frozenset[int] = field(default_factory=frozenset)
    tracking_number: str | None = None
    # A supervisor over the whole regency (Diskominfo's head, Sekda, Bupati, the province):
    # their figures count every report, so they may also list the reports not yet sent to
    # an agency (workflows/stats.resolve_scope; the drill-down from a count to its list).
    regency_wide: bool = False

    @property
    def is_officer(self) -> bool:
        return bool(self.roles & OFFICER_ROLES)

    @property
    def sees_everything(self) -> bool:
        return bool(self.roles & {"regency_admin", "system_admin"})

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def reaches(self, agency_id: int) -> bool:
        """Whether the agency is within the principal's scope (its reports visible to them)."""
        return self.sees_everything or agency_id in self.agency_ids

    @property
    def groups(self) -> frozenset[str]:
        """The candidate groups of the tasks this principal may work on."""
        found: set[str] = set()
        if "regency_admin" in self.roles:
            found.add(task_groups.group(task_groups.REGENCY_ADMIN))
        if self.agency_code:
            for role, group_role in (("liaison_officer", task_groups.OPD_LIAISON),
                                     ("technical_officer", task_groups.TECHNICAL_UNIT),
                                     ("supervisor", task_groups.SUPERVISOR)):
                if role in self.roles:
                    found.add(task_groups.group(group_role, self.agency_code))
        if self.tracking_number:
            found.add(task_groups.group(task_groups.COMPLAINANT, self.tracking_number))
        return frozenset(found)


def complainant(tracking_number: str) -> Principal:
    return Principal(username=f"pelapor:{tracking_number}", roles=frozenset({"complainant"}),
                     tracking_number=tracking_number)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(18)


def secret_matches(secret: str | None, hashed: str) -> bool:
    return bool(secret) and hmac.compare_digest(digest(secret), hashed)


AGENCY_COLUMNS = (Agency.id, Agency.code, Agency.name, Agency.kind, Agency.parent_id,
                  Agency.active)


def agency_table(session: Session) -> Mapping[int, Any]:
    """Every agency by id, in id order, as plain rows of AGENCY_COLUMNS (read-only). The
    principal, the board, the inbox and the pickers all need the tree: kept per process
    while the `agency` table's revision holds (workflows/revisions.py), and once per read
    session (engine/store.py: one per GET request) on top of that."""
    if not session.info.get("aduan_read"):
        return _agencies(session)
    table = session.info.get("aduan_agencies")
    if table is None:
        table = session.info["aduan_agencies"] = _agencies(session)
    return table


def _agencies(session: Session) -> Mapping[int, Any]:
    return revisions.cached(session, revisions.AGENCIES, "table",
                            lambda: MappingProxyType(_read_agencies(session)))


def _read_agencies(session: Session) -> dict[int, Any]:
    return {row.id: row for row in session.execute(
        select(*AGENCY_COLUMNS).order_by(Agency.id))}


def subtree(session: Session, agency_id: int | None) -> frozenset[int]:
    """An agency and every agency below it."""
    if agency_id is None:
        return frozenset()
    children: dict[int | None, list[int]] = {}
    for agency in agency_table(session).values():
        children.setdefault(agency.parent_id, []).append(agency.id)
    found, stack = {agency_id}, [agency_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def principal_for(session: Session, user: Any,
                  admin_agency_code: str = RegencyConfig.admin_agency_code) -> Principal:
    """The principal of an account (a User, or a row with its id, username, roles and
    agency_id)."""
    agency = agency_table(session).get(user.agency_id) if user.agency_id else None
    roles = frozenset(user.roles or [])
    organisation = subtree(session, user.agency_id)
    scope = organisation
    table = agency_table(session)
    regency_wide = "supervisor" in roles and agency is not None and (
        agency.code == admin_agency_code
        or any(table[i].kind == "regency" for i in organisation if i in table))
    if agency is not None and agency.code == admin_agency_code and "supervisor" in roles:
        # The head of the agency that administers complaints for the regency (Diskominfo)
        # oversees every report: the ladder escalates every OPD's late cases to them. An
        # anonim reporter stays hidden from them all the same (sees_everything is false).
        scope = frozenset(agency_table(session))
    return Principal(
        username=user.username, roles=roles, user_id=user.id, agency_id=user.agency_id,
        agency_code=agency.code if agency else None, agency_ids=scope,
        org_agency_ids=organisation, regency_wide=regency_wide)


TOKEN_TOUCH_SECONDS = 300


# What a request's first statement (its signed-in officer's, its bearer token's) also brings
# back, so that no later statement of the request reads them alone: the configuration's
# tokens (workflows/revisions.py) and where the change log stands for the page's kept counts
# (workflows/readcounts.py).
FIRST_READ_COLUMNS = (*revisions.token_columns(), readcounts.mark_column())


def seed_first_read(session: Session, row: Any) -> None:
    """Keep what a row read with FIRST_READ_COLUMNS brought back in the session."""
    revisions.seed(session, row)
    readcounts.seed_mark(session, row.case_change_position)


def authenticate_token(session: Session, token: str | None, now: datetime,
                       admin_agency_code: str = RegencyConfig.admin_agency_code
                       ) -> tuple[Principal, bool]:
    """The principal behind a bearer token, and whether its last use should be noted."""
    if not token:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    row = session.execute(_TOKEN_USER, {"token_hash": digest(token)}).first()
    if row is not None:
        seed_first_read(session, row)
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("the token is unknown or revoked; create one with "
                              "`aduan tokens create USER`")
    if row.id is None or not row.active:
        raise Unauthenticated("the token's user is disabled")
    if row.must_change_password:
        raise Unauthenticated("the password of the token's user was reset: sign in on the "
                              "web pages and choose a new password, then the token works again")
    stale = row.last_used_at is None or (now - row.last_used_at).total_seconds() > (
        TOKEN_TOUCH_SECONDS)
    return principal_for(session, row, admin_agency_code), stale


# A token, its user and whether the user must choose a new password, in one statement (every
# API request asks): plain values, built once.
_TOKEN_USER = (
    select(ApiToken.revoked_at, ApiToken.last_used_at, User.id, User.username, User.roles,
           User.agency_id, User.active,
           func.coalesce(AccountState.must_change_password, False)
           .label("must_change_password"),
           *FIRST_READ_COLUMNS)
    .select_from(ApiToken)
    .outerjoin(User, User.id == ApiToken.user_id)
    .outerjoin(AccountState, AccountState.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
    .limit(1))


def touch_token(session: Session, token: str, now: datetime) -> None:
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is not None:
        row.last_used_at = now


def handles(principal: Principal, complaint: Complaint) -> bool:
    """Handling the case: Diskominfo, or the agency (or unit) holding it, or above it."""
    if principal.sees_everything:
        return True
    if principal.tracking_number is not None:
        return False
    held_by = {complaint.agency_id, complaint.unit_id} - {None}
    if not held_by:
        return principal.regency_wide
    return bool(held_by & principal.agency_ids)


def can_view(principal: Principal, complaint: Complaint) -> bool:
    if principal.tracking_number is not None:
        return principal.tracking_number == complaint.tracking_number
    return principal.is_officer and handles(principal, complaint)


def require_view(principal: Principal, complaint: Complaint) -> None:
    if not can_view(principal, complaint):
        raise Forbidden(f"you may not see report {complaint.tracking_number}")


def sees_identity(principal: Principal, complaint: Complaint) -> bool:
    """`anonim` hides the reporter from agencies, and from the system administrator (who
    runs the machine, not the complaints); the regency administrator still knows."""
    if principal.tracking_number == complaint.tracking_number:
        return True
    if not complaint.anonymous:
        return handles(principal, complaint)
    return "regency_admin" in principal.roles


def sees_content(principal: Principal, complaint: Complaint) -> bool:
    """`rahasia` shows the content only to those handling the case (and the reporter)."""
    if principal.tracking_number == complaint.tracking_number:
        return True
    return handles(principal, complaint)


def gets_original(principal: Principal, complaint: Complaint) -> bool:
    """Whether a photo's untouched original (with its EXIF: GPS position, phone model,
    times) is served, or its metadata-free copy. Of an `anonim` report only the regency
    administrator gets the original, as evidence; of any other report those handling it.
    The complainant gets the copy: the code that opens a report may be on a shared phone."""
    if principal.tracking_number is not None:
        return False
    if complaint.anonymous:
        return principal.has("regency_admin")
    return handles(principal, complaint)


# --------------------------------------------------------------------------- task claims


def may_claim(principal: Principal, task: Mapping[str, Any]) -> bool:
    """An officer may take an open task of their groups while nobody holds it."""
    return (principal.is_officer and task.get("assignee") is None
            and bool(set(task["candidate_groups"]) & principal.groups))


def may_release(principal: Principal, task: Mapping[str, Any],
                agencies: Mapping[int, Any]) -> bool:
    """One's own claim, always; someone else's, the regency administrator, or a supervisor
    of an agency the task is for (``agencies``: agency_table)."""
    holder = task.get("assignee")
    if holder is None or not principal.is_officer:
        return False
    return holder == principal.username or oversees_task(principal, task, agencies)


def oversees_task(principal: Principal, task: Mapping[str, Any],
                  agencies: Mapping[int, Any]) -> bool:
    if principal.sees_everything:
        return True
    if not principal.has("supervisor"):
        return False
    codes = set(task_groups.agency_codes(task["candidate_groups"]))
    return any(a.id in principal.agency_ids for a in agencies.values() if a.code in codes)
