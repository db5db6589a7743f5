"""The agencies as one immutable directory per process, kept while the `agency` table's
revision token is unchanged (workflows/revisions.py): the lifecycle's services look an
agency up by code or id several times per report (disposition checks, the holder, the
rung to escalate to, the name in the citizen's message), and the table changes a few times
a year."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import revisions
from workflows.models import Agency


@dataclass(frozen=True)
class AgencyEntry:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    active: bool


@dataclass(frozen=True)
class Directory:
    by_code: Mapping[str, AgencyEntry]
    by_id: Mapping[int, AgencyEntry]


def directory(session: Session) -> Directory:
    """Every agency, active or not, as the database has it now."""
    def build() -> Directory:
        entries = [AgencyEntry(r.id, r.code, r.name, r.kind, r.parent_id, bool(r.active))
                   for r in session.execute(select(
                       Agency.id, Agency.code, Agency.name, Agency.kind, Agency.parent_id,
                       Agency.active))]
        return Directory(MappingProxyType({e.code: e for e in entries}),
                         MappingProxyType({e.id: e for e in entries}))

    return revisions.cached(session, revisions.AGENCIES, "directory", build)


def by_code(session: Session, code: str | None) -> AgencyEntry | None:
    return directory(session).by_code.get(code) if code else None


def by_id(session: Session, agency_id: int | None) -> AgencyEntry | None:
    return directory(session).by_id.get(agency_id) if agency_id is not None else None
