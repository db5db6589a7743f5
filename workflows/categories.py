"""The report categories: one cached reader for everything that offers or checks them (the
report form, validation of every submission, the OpenAPI document's enum, Open311's
services, SMS keywords, the photo rule of verification), and the system administrator's use
cases that change them, audited (admin_audit).

Reading (`catalog(session)`): each process keeps the last catalog it read while the
`category` table's revision token is unchanged (workflows/revisions.py: a trigger replaces
it on every write, whoever writes; the tokens of all configuration tables are read in one
query per transaction or GET request). Catalogs are immutable (tuples, read-only mappings),
so one is shared by every request that finds it current.

Codes never change: reports, the routing table (bpmn/routing.dmn), Open311 service codes
and the statistics name categories by code. A deactivated category is not offered and not
accepted on new reports; reports filed under it keep it and are still shown with its name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import access, admin_audit, revisions
from workflows.agencies import clean_name
from workflows.category_models import Category
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound

ADMINISTRATORS = ("system_admin",)
FALLBACK = "other"  # where an unknown or deactivated code goes (SMS keywords, Open311)
CODE_SHAPE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
NAME_MIN, NAME_MAX = 2, 100
DESCRIPTION_MAX = 500


@dataclass(frozen=True)
class CategoryView:
    code: str
    name_id: str
    name_en: str
    description_id: str | None
    photo_required: bool
    active: bool
    position: int
    version: int

    @property
    def label(self) -> Mapping[str, str]:
        return MappingProxyType({"id": self.name_id, "en": self.name_en})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Catalog:
    """The categories in their order (active and deactivated), read-only."""

    categories: tuple[CategoryView, ...]
    by_code: Mapping[str, CategoryView] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", MappingProxyType(
            {c.code: c for c in self.categories}))

    @property
    def active(self) -> tuple[CategoryView, ...]:
        return tuple(c for c in self.categories if c.active)

    @property
    def active_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories if c.active)

    def get(self, code: str) -> CategoryView | None:
        return self.by_code.get(code)

    def label(self, code: str) -> Mapping[str, str]:
        """The category's names; an unknown code is named by itself."""
        found = self.by_code.get(code)
        return found.label if found else MappingProxyType({"id": code, "en": code})

    @property
    def labels(self) -> Mapping[str, Mapping[str, str]]:
        return MappingProxyType({c.code: c.label for c in self.categories})

    def photo_required(self, code: str) -> bool:
        found = self.by_code.get(code)
        return bool(found and found.photo_required)

    def offered(self, code: str) -> str:
        """The code if new reports may use it, else FALLBACK (`other`)."""
        found = self.by_code.get(code)
        return code if found is not None and found.active else FALLBACK

    def refusal(self, code: Any) -> Message | None:
        """Why a new report may not be filed under `code` (None: it may)."""
        found = self.by_code.get(code) if isinstance(code, str) else None
        choices = ", ".join(self.active_codes)
        if found is None:
            return Message("choose one of the categories: %(choices)s", choices=choices)
        if not found.active:
            return Message("the category %(code)s is no longer offered; choose one of: "
                           "%(choices)s", code=code, choices=choices)
        return None


def catalog(session: Session) -> Catalog:
    """The categories as the database says now (see the module's docstring)."""
    return revisions.cached(session, revisions.CATEGORIES, "catalog",
                            lambda: read_catalog(session))


def read_catalog(session: Session) -> Catalog:
    """The categories read from the table, without the cache."""
    rows = session.scalars(select(Category).order_by(Category.position, Category.code))
    return Catalog(tuple(_view(row) for row in rows))


def _view(row: Category) -> CategoryView:
    return CategoryView(row.code, row.name_id, row.name_en, row.description_id,
                        bool(row.photo_required), bool(row.active), row.position, row.version)


class Categories:
    """Reading the categories (anyone) and changing them (the system administrator)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def catalog(self) -> Catalog:
        with self.ctx.reads() as session:
            return catalog(session)

    def listing(self, principal: access.Principal) -> Catalog:
        self._require(principal)
        return self.catalog()

    def get(self, principal: access.Principal, code: str) -> CategoryView:
        self._require(principal)
        found = self.catalog().get(code)
        if found is None:
            raise NotFound("category %(code)s does not exist", code=code)
        return found

    def create(self, principal: access.Principal, values: Mapping[str, Any]) -> CategoryView:
        """A new active category at the end of the list."""
        self._require(principal)
        code = str(values.get("code") or "").strip().lower()
        fields = _fields(values)
        errors = _errors(fields)
        if not CODE_SHAPE.fullmatch(code):
            errors["code"] = Message(
                "write the code with 2 to 40 small letters, digits and underscores, starting "
                "with a letter (for example flooding)")
        with self.ctx.transaction() as session:
            if "code" not in errors and session.get(Category, code) is not None:
                errors["code"] = Message("the code %(code)s is taken; choose another",
                                         code=code)
            if errors:
                raise Invalid("the category has errors", errors)
            last = session.scalar(select(func.max(Category.position))) or 0
            row = Category(code=code, active=True, position=last + 10, version=1, **fields)
            session.add(row)
            session.flush()
            self._audit(session, principal, "category.create", code, None, _view(row))
            return _view(row)

    def update(self, principal: access.Principal, code: str, values: Mapping[str, Any],
               version: Any) -> CategoryView:
        """New names, description and photo rule (all given, from the edit form)."""
        self._require(principal)
        fields = _fields(values)
        errors = _errors(fields)
        if errors:
            raise Invalid("the category has errors", errors)
        with self.ctx.transaction() as session:
            row = self._current(session, code, version)
            before = _view(row)
            for name, value in fields.items():
                setattr(row, name, value)
            row.version += 1
            self._audit(session, principal, "category.update", code, before, _view(row))
            return _view(row)

    def set_active(self, principal: access.Principal, code: str, active: bool, version: Any
                   ) -> CategoryView:
        """Offer the category on new reports again, or stop offering it."""
        self._require(principal)
        with self.ctx.transaction() as session:
            row = self._current(session, code, version)
            if not active and code == FALLBACK:
                raise Conflict("%(code)s takes the reports no other category fits (SMS "
                               "keywords, Open311) and stays offered", code=code)
            before = _view(row)
            row.active = active
            row.version += 1
            self._audit(session, principal,
                        "category.reactivate" if active else "category.deactivate", code,
                        before, _view(row))
            return _view(row)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require(principal: access.Principal) -> None:
        if not principal.has(*ADMINISTRATORS):
            raise Forbidden("only the system administrator administers categories")

    @staticmethod
    def _current(session: Session, code: str, version: Any) -> Category:
        row = session.scalars(select(Category).where(Category.code == code)
                              .with_for_update()).first()
        if row is None:
            raise NotFound("category %(code)s does not exist", code=code)
        if str(version) != str(row.version):
            raise Conflict("category %(code)s was changed by someone else since you opened "
                           "it; check it and try again", code=code)
        return row

    def _audit(self, session: Session, principal: access.Principal, action: str, code: str,
               before: CategoryView | None, after: CategoryView) -> None:
        admin_audit.record(session, at=self.ctx.now(), actor=principal.username,
                           action=action, target_kind="category", target=code,
                           before=before.as_dict() if before else None, after=after.as_dict())


def _fields(values: Mapping[str, Any]) -> dict[str, Any]:
    photo = values.get("photo_required")
    return {"name_id": clean_name(values.get("name_id")),
            "name_en": clean_name(values.get("name_en")),
            "description_id": clean_name(values.get("description_id")) or None,
            "photo_required": photo is True or str(photo).lower() in ("1", "true", "on", "yes")}


def _errors(fields: Mapping[str, Any]) -> dict[str, Message]:
    errors: dict[str, Message] = {}
    for name in ("name_id", "name_en"):
        if not NAME_MIN <= len(fields[name]) <= NAME_MAX:
            errors[name] = Message("write a name of %(low)s to %(high)s characters",
                                   low=NAME_MIN, high=NAME_MAX)
    if len(fields["description_id"] or "") > DESCRIPTION_MAX:
        errors["description_id"] = Message("write at most %(high)s characters",
                                           high=DESCRIPTION_MAX)
    return errors
