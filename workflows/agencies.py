"""Use cases of the agency tree for the system administrator: list it, create an agency,
rename it, move it, deactivate and reactivate it; every change audited (admin_audit).

The rules:
- a kind sits under the kinds of PARENT_KINDS (a unit under an OPD or BUMD, a kelurahan
  under a kecamatan, an OPD under the regency or the province, ...); a code is given once
  and never changes (the routing table and the history name agencies by code);
- a move never puts an agency under itself or under one of its descendants;
- deactivating takes the agency and every agency below it out of use, and is refused while
  they hold open reports (saying how many): a deactivated agency is offered nowhere
  (disposal, reassignment, posters) but the reports it handled keep it. Reactivating brings
  back one agency, under an active parent;
- a form carries the version of the agency it showed (`version`: a digest of the fields a
  change may touch); a change to a version that is no longer current is refused with
  Conflict (HTTP 409), never applied over someone else's change.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflows import access, admin_audit
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import AGENCY_KINDS, OPEN_PREDICATE, Agency, Complaint, User

ADMINISTRATORS = ("system_admin",)
KINDS = AGENCY_KINDS  # province, regency, opd, bumd, kecamatan, kelurahan, unit
# Which kinds an agency of each kind may sit under (None: at the top of the tree).
PARENT_KINDS: dict[str, tuple[str | None, ...]] = {
    "province": (None,),
    "regency": ("province", None),
    "opd": ("regency", "province"),
    "bumd": ("regency", "province"),
    "kecamatan": ("regency",),
    "kelurahan": ("kecamatan",),
    "unit": ("opd", "bumd"),
}
CODE_SHAPE = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
NAME_MIN, NAME_MAX = 3, 200
LIAISON, HEAD = "liaison_officer", "supervisor"


@dataclass(frozen=True)
class Account:
    username: str
    full_name: str
    active: bool


@dataclass(frozen=True)
class AgencyNode:
    """An agency as the administrators' tree shows it, with the agencies under it."""

    code: str
    name: str
    kind: str
    parent_code: str | None
    active: bool
    version: str
    children: tuple[AgencyNode, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "children"},
                "children": [child.as_dict() for child in self.children]}


@dataclass(frozen=True)
class AgencyDetail:
    """One agency's page: where it sits, its accounts, what a move may choose."""

    agency: AgencyNode
    path: tuple[AgencyNode, ...]  # its ancestors, from the top
    liaisons: tuple[Account, ...]
    heads: tuple[Account, ...]
    open_reports: int  # held by it and the agencies below it
    parent_choices: tuple[AgencyNode, ...]  # where it may be moved (active, fitting kinds)
    parent_active: bool


@dataclass(frozen=True)
class AgencyTree:
    roots: tuple[AgencyNode, ...]
    count: int
    parent_choices: tuple[AgencyNode, ...] = field(default=())  # active, for the create form


def version_of(agency: Any) -> str:
    """The digest of the fields a change may touch: a form's version."""
    words = f"{agency.code}\x1f{agency.name}\x1f{agency.kind}\x1f{agency.parent_id}\x1f" \
            f"{bool(agency.active)}"
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:16]


def clean_name(value: Any) -> str:
    """A name as typed, without control characters and with its spaces tidied."""
    text_ = "".join(ch for ch in str(value or "") if unicodedata.category(ch)[0] != "C")
    return " ".join(text_.split())


class Agencies:
    """The agency tree's administration (system administrators)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ reading

    def tree(self, principal: access.Principal) -> AgencyTree:
        self._require(principal)
        with self.ctx.reads() as session:
            table = access.agency_table(session)
        return AgencyTree(tuple(_nodes(table, None)), len(table),
                          tuple(_flat(table, a.id) for a in table.values() if a.active))

    def detail(self, principal: access.Principal, code: str) -> AgencyDetail:
        self._require(principal)
        with self.ctx.reads() as session:
            table = access.agency_table(session)
            row = _by_code(table, code)
            below = access.subtree(session, row.id)
            accounts = session.execute(
                select(User.username, User.full_name, User.active, User.roles)
                .where(User.agency_id == row.id).order_by(User.username)).all()
            open_reports = _open_reports(session, below)
        path, parent_id = [], row.parent_id
        while parent_id is not None:
            path.append(_flat(table, parent_id))
            parent_id = table[parent_id].parent_id
        fitting = PARENT_KINDS.get(row.kind, ())
        choices = tuple(_flat(table, a.id) for a in table.values()
                        if a.active and a.kind in fitting and a.id not in below)
        parent = table.get(row.parent_id) if row.parent_id else None
        return AgencyDetail(
            agency=_nodes(table, row.parent_id, only=row.id)[0], path=tuple(reversed(path)),
            liaisons=tuple(Account(a.username, a.full_name, a.active) for a in accounts
                           if LIAISON in (a.roles or [])),
            heads=tuple(Account(a.username, a.full_name, a.active) for a in accounts
                        if HEAD in (a.roles or [])),
            open_reports=open_reports, parent_choices=choices,
            parent_active=parent is None or bool(parent.active))

    # ------------------------------------------------------------------ changing

    def create(self, principal: access.Principal, values: Mapping[str, Any]) -> AgencyNode:
        """A new active agency: code, name, kind, parent (the code of an active agency, or
        empty for the top of the tree)."""
        self._require(principal)
        code = str(values.get("code") or "").strip().lower()
        name = clean_name(values.get("name"))
        kind = str(values.get("kind") or "").strip()
        parent_code = str(values.get("parent") or "").strip() or None
        errors: dict[str, Message] = {}
        if not CODE_SHAPE.fullmatch(code):
            errors["code"] = Message(
                "write the code with 2 to 60 small letters, digits and underscores, starting "
                "with a letter (for example dinas_pupr)")
        name_error = _name_error(name)
        if name_error:
            errors["name"] = name_error
        if kind not in AGENCY_KINDS:
            errors["kind"] = Message("choose one of the kinds: %(kinds)s",
                                     kinds=", ".join(AGENCY_KINDS))
        with self.ctx.transaction() as session:
            parent = None
            if parent_code is not None:
                parent = _find(session, parent_code)
                if parent is None or not parent.active:
                    errors["parent"] = Message("no active agency has the code %(code)s; "
                                               "choose one from the list", code=parent_code)
            if "kind" not in errors and "parent" not in errors:
                misfit = _misfit(kind, parent.kind if parent else None)
                if misfit:
                    errors["parent"] = misfit
            if "code" not in errors and _find(session, code) is not None:
                errors["code"] = Message("the code %(code)s is taken; choose another",
                                         code=code)
            if errors:
                raise Invalid("the agency has errors", errors)
            agency = Agency(code=code, name=name, kind=kind, active=True,
                            parent_id=parent.id if parent else None)
            session.add(agency)
            session.flush()
            self._audit(session, principal, "agency.create", code, None,
                        _snapshot(agency, parent_code))
            return AgencyNode(code, name, kind, parent_code, True, version_of(agency))

    def rename(self, principal: access.Principal, code: str, name: Any, version: str
               ) -> AgencyNode:
        self._require(principal)
        new_name = clean_name(name)
        error = _name_error(new_name)
        if error:
            raise Invalid("the agency has errors", {"name": error})
        with self.ctx.transaction() as session:
            agency, parent_code = self._current(session, code, version)
            before = _snapshot(agency, parent_code)
            agency.name = new_name
            self._audit(session, principal, "agency.rename", code, before,
                        _snapshot(agency, parent_code))
            return _node(agency, parent_code)

    def move(self, principal: access.Principal, code: str, parent_code: Any, version: str
             ) -> AgencyNode:
        """Put the agency under another parent (its descendants move with it)."""
        self._require(principal)
        wanted = str(parent_code or "").strip() or None
        with self.ctx.transaction() as session:
            agency, old_parent = self._current(session, code, version)
            parent = _find(session, wanted) if wanted else None
            if wanted and (parent is None or not parent.active):
                raise Invalid("the agency cannot be moved", {"parent": Message(
                    "no active agency has the code %(code)s; choose one from the list",
                    code=wanted)})
            if parent is not None and parent.id in access.subtree(session, agency.id):
                raise Invalid("the agency cannot be moved", {"parent": Message(
                    "%(parent)s is %(code)s itself or lies under it; an agency cannot be "
                    "moved under itself", parent=parent.code, code=code)})
            misfit = _misfit(agency.kind, parent.kind if parent else None)
            if misfit:
                raise Invalid("the agency cannot be moved", {"parent": misfit})
            before = _snapshot(agency, old_parent)
            agency.parent_id = parent.id if parent else None
            self._audit(session, principal, "agency.move", code, before,
                        _snapshot(agency, wanted))
            return _node(agency, wanted)

    def deactivate(self, principal: access.Principal, code: str, version: str
                   ) -> list[str]:
        """Take the agency and every agency below it out of use; returns their codes.
        Refused while they hold open reports."""
        self._require(principal)
        with self.ctx.transaction() as session:
            agency, parent_code = self._current(session, code, version)
            if agency.code == self.ctx.config.admin_agency_code:
                raise Conflict("%(code)s administers complaints for the regency and cannot "
                               "be deactivated", code=code)
            below = access.subtree(session, agency.id)
            held = _open_reports(session, below)
            if held:
                raise Conflict("%(code)s cannot be deactivated: it and the agencies under it "
                               "hold %(count)s open reports; dispose or reassign them first",
                               code=code, count=held)
            changed = list(session.scalars(select(Agency).where(
                Agency.id.in_(below), Agency.active.is_(True)).order_by(Agency.id)))
            for row in changed:
                row.active = False
            codes = [row.code for row in changed]
            self._audit(session, principal, "agency.deactivate", code,
                        {**_snapshot(agency, parent_code), "active": True},
                        {**_snapshot(agency, parent_code), "deactivated": codes})
            return codes

    def reactivate(self, principal: access.Principal, code: str, version: str
                   ) -> AgencyNode:
        self._require(principal)
        with self.ctx.transaction() as session:
            agency, parent_code = self._current(session, code, version)
            parent = session.get(Agency, agency.parent_id) if agency.parent_id else None
            if parent is not None and not parent.active:
                raise Conflict("%(code)s is under %(parent)s, which is deactivated; "
                               "reactivate %(parent)s first", code=code, parent=parent.code)
            before = _snapshot(agency, parent_code)
            agency.active = True
            self._audit(session, principal, "agency.reactivate", code, before,
                        _snapshot(agency, parent_code))
            return _node(agency, parent_code)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require(principal: access.Principal) -> None:
        if not principal.has(*ADMINISTRATORS):
            raise Forbidden("only the system administrator administers agencies")

    def _current(self, session: Session, code: str, version: str) -> tuple[Agency, str | None]:
        """The agency, locked for the change, if the form's version is still current."""
        agency = session.scalars(select(Agency).where(Agency.code == code)
                                 .with_for_update()).first()
        if agency is None:
            raise NotFound("agency %(code)s does not exist", code=code)
        if version != version_of(agency):
            raise Conflict("agency %(code)s was changed by someone else since you opened it; "
                           "check it and try again", code=code)
        parent = session.get(Agency, agency.parent_id) if agency.parent_id else None
        return agency, parent.code if parent else None

    def _audit(self, session: Session, principal: access.Principal, action: str, code: str,
               before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        admin_audit.record(session, at=self.ctx.now(), actor=principal.username,
                           action=action, target_kind="agency", target=code, before=before,
                           after=after)


def _find(session: Session, code: str) -> Agency | None:
    return session.scalars(select(Agency).where(Agency.code == code)).first()


def _by_code(table: Mapping[int, Any], code: str) -> Any:
    for row in table.values():
        if row.code == code:
            return row
    raise NotFound("agency %(code)s does not exist", code=code)


def _misfit(kind: str, parent_kind: str | None) -> Message | None:
    fitting = PARENT_KINDS.get(kind, ())
    if parent_kind in fitting:
        return None
    allowed = ", ".join(k for k in fitting if k) or "-"
    if parent_kind is None:
        return Message("a %(kind)s needs a parent: a %(allowed)s", kind=kind, allowed=allowed)
    return Message("a %(kind)s cannot be under a %(parent)s; choose a %(allowed)s",
                   kind=kind, parent=parent_kind, allowed=allowed)


def _name_error(name: str) -> Message | None:
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return Message("write a name of %(low)s to %(high)s characters", low=NAME_MIN,
                       high=NAME_MAX)
    return None


def _open_reports(session: Session, agency_ids: frozenset[int]) -> int:
    if not agency_ids:
        return 0
    held = (Complaint.agency_id.in_(agency_ids)) | (Complaint.unit_id.in_(agency_ids))
    return session.scalar(select(func.count()).select_from(Complaint).where(
        held, text(OPEN_PREDICATE))) or 0


def _snapshot(agency: Agency, parent_code: str | None) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "kind": agency.kind,
            "parent": parent_code, "active": bool(agency.active)}


def _node(agency: Agency, parent_code: str | None) -> AgencyNode:
    return AgencyNode(agency.code, agency.name, agency.kind, parent_code, bool(agency.active),
                      version_of(agency))


def _flat(table: Mapping[int, Any], agency_id: int) -> AgencyNode:
    row = table[agency_id]
    parent = table.get(row.parent_id) if row.parent_id else None
    return AgencyNode(row.code, row.name, row.kind, parent.code if parent else None,
                      bool(row.active), version_of(row))


def _nodes(table: Mapping[int, Any], parent_id: int | None, only: int | None = None
           ) -> list[AgencyNode]:
    """The agencies under `parent_id` (or just `only`), each with its subtree, by kind
    (AGENCY_KINDS order) then name. A tree is a few levels deep (province to unit)."""
    children: dict[int | None, list[Any]] = {}
    for row in table.values():
        children.setdefault(row.parent_id, []).append(row)
    order = {kind: i for i, kind in enumerate(AGENCY_KINDS)}

    def build(row: Any) -> AgencyNode:
        below = sorted(children.get(row.id, []), key=lambda r: (order.get(r.kind, 99),
                                                                r.name.lower()))
        node = _flat(table, row.id)
        return AgencyNode(node.code, node.name, node.kind, node.parent_code, node.active,
                          node.version, tuple(build(child) for child in below))

    rows = [table[only]] if only is not None else children.get(parent_id, [])
    return [build(row) for row in sorted(rows, key=lambda r: (order.get(r.kind, 99),
                                                              r.name.lower()))]
