"""The audit log the administrators read (docs/administrators.md, "Audit log"): the
administrative changes (workflows/admin_audit.py) and the studio's deploys and migrations
(workflows/studio.py's audit) in one list, newest first, filtered alike, and exported as
CSV or XLSX.

The studio's side is read from the engine's history (its latest STUDIO_ENTRIES entries),
shaped as audit entries: action `studio.deploy` or `studio.migrate`, target kind `process`,
the process id as target, the versions before and after."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from workflows import access, admin_audit, tabular
from workflows.admin_audit import AuditEntry, AuditPage
from workflows.context import Context
from workflows.errors import Invalid, Message
from workflows.studio import Studio

SOURCES = ("admin", "studio")
STUDIO_ENTRIES = 1000
EXPORT_MAX = 10_000
EXPORT_HEADER = ("at", "source", "actor", "action", "target_kind", "target", "before",
                 "after", "note")


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""  # a prefix: "account." for every change of accounts
    target_kind: str = ""
    target: str = ""
    source: str = ""  # "", "admin" or "studio"

    def kept(self) -> dict[str, str]:
        return {name: value for name, value in self.__dict__.items() if value}


def studio_entry(item: dict[str, Any]) -> AuditEntry:
    """One deploy or migration of the engine's history as an audit entry."""
    if item["kind"] == "migrate":
        before: dict[str, Any] | None = {"versions": item["from_versions"]}
        after = {"version": item["to_version"], "instances": len(item["instances"])}
    else:
        before, after = None, {"version": item["to_version"]}
    return AuditEntry(0, datetime.fromisoformat(item["at"]), item["actor"] or "",
                      f"studio.{item['kind']}", "process", item["process_id"], before, after,
                      item["note"], source="studio")


def matches(entry: AuditEntry, filters: AuditFilters) -> bool:
    return ((not filters.actor or entry.actor == filters.actor)
            and entry.action.startswith(filters.action)
            and (not filters.target_kind or entry.target_kind == filters.target_kind)
            and (not filters.target or entry.target == filters.target))


class AuditLog:
    """Reading the merged audit log (system and regency administrators)."""

    def __init__(self, ctx: Context, studio: Studio) -> None:
        self.ctx = ctx
        self.studio = studio

    def page(self, principal: access.Principal, filters: AuditFilters, *, page: int = 1,
             size: int = admin_audit.PAGE_SIZE) -> AuditPage:
        page = max(page, 1)
        entries, total = self._newest(principal, filters, page * size)
        return AuditPage(entries[(page - 1) * size:page * size], total, page,
                         max(1, -(-total // size)))

    def export(self, principal: access.Principal, filters: AuditFilters, kind: str
               ) -> tuple[bytes, str]:
        """The filtered log (at most EXPORT_MAX entries, newest first) as `csv` or `xlsx`,
        with its file name."""
        if kind not in ("csv", "xlsx"):
            raise Invalid("unknown export", {"format": Message("choose csv or xlsx")})
        entries, _total = self._newest(principal, filters, EXPORT_MAX)
        rows = [(e.at.isoformat(), e.source, e.actor, e.action, e.target_kind, e.target,
                 _json(e.before), _json(e.after), e.note or "") for e in entries]
        name = f"audit-{self.ctx.now():%Y%m%d-%H%M}.{kind}"
        if kind == "xlsx":
            return tabular.xlsx_bytes("audit", EXPORT_HEADER, rows), name
        return tabular.csv_bytes(EXPORT_HEADER, rows), name

    def _newest(self, principal: access.Principal, filters: AuditFilters, limit: int
                ) -> tuple[list[AuditEntry], int]:
        """The newest `limit` entries of both sources merged, and how many match in all."""
        admin_audit.require_reader(principal)
        if filters.source and filters.source not in SOURCES:
            raise Invalid("unknown source", {"source": Message(
                "choose one of: %(sources)s", sources=", ".join(SOURCES))})
        entries: list[AuditEntry] = []
        total = 0
        if filters.source in ("", "admin"):
            stmt = admin_audit.query(actor=filters.actor, action=filters.action,
                                     target_kind=filters.target_kind, target=filters.target)
            with self.ctx.reads() as session:
                total += session.scalar(select(func.count()).select_from(
                    stmt.subquery())) or 0
                entries += admin_audit.newest(session, stmt, limit=limit)
        if filters.source in ("", "studio"):
            studio = [e for e in map(studio_entry, self.studio.history(
                limit=STUDIO_ENTRIES)["entries"]) if matches(e, filters)]
            total += len(studio)
            entries += studio
        entries.sort(key=lambda e: (e.at, e.source == "admin", e.id), reverse=True)
        return entries[:limit], total


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True,
                                               default=str)
