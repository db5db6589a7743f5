"""The active officers as one immutable directory per process, by role and agency, kept
while the `app_user` table's revision token is unchanged (workflows/revisions.py,
migration 0034): whom a new task, a reminder or an escalation is told to.

Each SLA watch that reminds or escalates, and each task opened, asked the database for the
same handful of officers (issue 17: 1.6 account queries per timer firing); accounts change
when an administrator edits them, a few times a week. What the directory hands out is a
:class:`Recipient` (no password hash, nothing mutable), never an ORM object: every caller of
the process shares it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import revisions
from workflows.models import User


@dataclass(frozen=True, slots=True)
class Recipient:
    """An active officer as a notification needs them."""

    id: int
    username: str
    full_name: str
    email: str | None
    language: str
    agency_id: int | None
    roles: tuple[str, ...]


# role -> agency id (None: no agency) -> recipients, by id
_Index = Mapping[str, Mapping[int | None, tuple[Recipient, ...]]]


def _index(session: Session) -> _Index:
    def build() -> _Index:
        by_role: dict[str, dict[int | None, list[Recipient]]] = {}
        rows = session.execute(select(
            User.id, User.username, User.full_name, User.email, User.language,
            User.agency_id, User.roles).where(User.active.is_(True)).order_by(User.id))
        for row in rows:
            roles = tuple(r for r in (row.roles or []) if isinstance(r, str))
            entry = Recipient(row.id, row.username, row.full_name, row.email,
                              row.language or "id", row.agency_id, roles)
            for role in set(roles):
                by_role.setdefault(role, {}).setdefault(row.agency_id, []).append(entry)
        return MappingProxyType({
            role: MappingProxyType({agency: tuple(found) for agency, found in agencies.items()})
            for role, agencies in by_role.items()})

    return revisions.cached(session, revisions.ACCOUNTS, "recipients", build)


def with_role(session: Session, role: str, agency_ids: Iterable[int] | None
              ) -> list[Recipient]:
    """The active officers with `role` (of those agencies when given; an empty list of
    agencies: nobody), by id."""
    agencies = _index(session).get(role, {})
    if agency_ids is None:
        found = [r for group in agencies.values() for r in group]
    else:
        found = [r for agency_id in dict.fromkeys(agency_ids)
                 for r in agencies.get(agency_id, ())]
    return sorted(found, key=lambda r: r.id)
