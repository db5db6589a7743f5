"""The administrators' audit log: `record` is called inside the transaction of the change it
describes, so a change and its audit row commit together or not at all; `AdminAuditLog`
reads it back for the administrators' pages.

Snapshots never hold a secret: any key naming a password, token, secret or hash is stored
as "***" (changed or not is still visible, since the mask differs from an absent value)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from workflows import access
from workflows.admin_models import AdminAudit
from workflows.context import Context
from workflows.errors import Forbidden

SECRET_WORDS = ("password", "token", "secret", "hash", "api_key")
MASK = "***"
READERS = ("system_admin", "regency_admin")
PAGE_SIZE = 50


def masked(snapshot: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The snapshot with every secret-looking key's value replaced by MASK (nested too)."""
    if snapshot is None:
        return None
    out: dict[str, Any] = {}
    for key, value in snapshot.items():
        if any(word in str(key).lower() for word in SECRET_WORDS):
            out[str(key)] = MASK if value not in (None, "") else value
        elif isinstance(value, Mapping):
            out[str(key)] = masked(value)
        else:
            out[str(key)] = value
    return out


def record(session: Session, *, at: datetime, actor: str, action: str, target_kind: str,
           target: str, before: Mapping[str, Any] | None = None,
           after: Mapping[str, Any] | None = None, note: str | None = None) -> AdminAudit:
    """Add one audit row to the change's own transaction."""
    row = AdminAudit(at=at, actor=actor[:80], action=action[:60], target_kind=target_kind[:30],
                     target=str(target)[:200], before=masked(before), after=masked(after),
                     note=note)
    session.add(row)
    return row


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None
    source: str = "admin"  # or "studio": a deploy or migration (workflows/audit_log.py)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


class AdminAuditLog:
    """Reading the administrators' audit log (system and regency administrators)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def page(self, principal: access.Principal, *, actor: str | None = None,
             action: str | None = None, target_kind: str | None = None,
             target: str | None = None, page: int = 1, size: int = PAGE_SIZE) -> AuditPage:
        """Newest first, filtered by exact actor, action prefix, target kind and target."""
        require_reader(principal)
        stmt = query(actor=actor, action=action, target_kind=target_kind, target=target)
        page = max(page, 1)
        with self.ctx.reads() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            entries = newest(session, stmt, offset=(page - 1) * size, limit=size)
        return AuditPage(entries, total, page, max(1, -(-total // size)))


def require_reader(principal: access.Principal) -> None:
    if not principal.has(*READERS):
        raise Forbidden("only administrators read the audit log")


def query(*, actor: str | None = None, action: str | None = None,
          target_kind: str | None = None, target: str | None = None) -> Select[Any]:
    """The rows of an exact actor, an action prefix, a target kind and a target."""
    stmt = select(AdminAudit)
    if actor:
        stmt = stmt.where(AdminAudit.actor == actor)
    if action:
        stmt = stmt.where(AdminAudit.action.startswith(action, autoescape=True))
    if target_kind:
        stmt = stmt.where(AdminAudit.target_kind == target_kind)
    if target:
        stmt = stmt.where(AdminAudit.target == target)
    return stmt


def newest(session: Session, stmt: Select[Any], *, offset: int = 0, limit: int = PAGE_SIZE
           ) -> list[AuditEntry]:
    rows = session.scalars(stmt.order_by(AdminAudit.at.desc(), AdminAudit.id.desc())
                           .offset(offset).limit(limit)).all()
    return [AuditEntry(r.id, r.at, r.actor, r.action, r.target_kind, r.target, r.before,
                       r.after, r.note) for r in rows]
