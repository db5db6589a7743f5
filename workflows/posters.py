"""Use cases of QR posters: staff create a poster for an agency and optionally a place; a
citizen who scans it opens the report form with the agency, the place and its location
filled in and the channel `qr`; the poster counts those scans and the reports filed
through it.

Who may: the regency administrator, for any agency; an agency's liaison officer, for their
own agency. Everyone else is refused (Forbidden), and a poster of another agency is not
found for a liaison officer.

Counting: a scan is one GET of the report form carrying the poster's code; a report is
counted in the filing's own transaction (`count_report`, called by Reports.submit), so a
refused filing counts nothing. Both are single `UPDATE ... SET n = n + 1` statements.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflows import access
from workflows.context import Context
from workflows.errors import Forbidden, Invalid, Message, NotFound
from workflows.models import Agency
from workflows.poster_models import Poster

MANAGERS = ("regency_admin", "liaison_officer")
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud from paper
CODE_LENGTH = 10
CODE_SHAPE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
PLACE_MAX = 200
POSTER_AGENCY_KINDS = ("opd", "bumd", "kecamatan", "kelurahan", "unit")


@dataclass(frozen=True)
class PosterView:
    """A poster as staff see it."""

    code: str
    agency_code: str
    agency_name: str
    place_name: str | None
    latitude: float | None
    longitude: float | None
    scans: int
    reports: int
    created_by: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class PostersPage:
    """The posters page: the posters the caller may manage, newest first, and the agencies
    a new poster may name."""

    posters: list[PosterView]
    agencies: list[dict[str, str]]


@dataclass(frozen=True)
class Prefill:
    """What a scanned poster fills in on the report form."""

    code: str
    agency_name: str
    place_name: str | None
    latitude: float | None
    longitude: float | None

    @property
    def has_location(self) -> bool:
        return self.latitude is not None or bool(self.place_name)


def may_manage(principal: access.Principal) -> bool:
    """Whether the posters page is for this caller at all (the navigation asks too)."""
    return principal.has("regency_admin") or (
        principal.has("liaison_officer") and principal.agency_id is not None)


def normalise_code(text: str | None) -> str | None:
    """A poster code as printed (case and spaces forgiven), or None when it cannot be one."""
    code = re.sub(r"\s+", "", text or "").lower()
    return code if CODE_SHAPE.match(code) else None


def count_report(session: Session, code: str | None) -> None:
    """Count a report filed through this poster, in the filing's transaction (an unknown or
    malformed code counts nothing: the citizen's report is filed all the same)."""
    code = normalise_code(code)
    if code is not None:
        session.execute(update(Poster).where(Poster.code == code).values(
            report_count=Poster.report_count + 1))


class Posters:
    """The use cases of QR posters (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ staff

    def page(self, principal: access.Principal) -> PostersPage:
        """The caller's posters and the agencies they may make one for."""
        self._require_manager(principal)
        with self.ctx.reads() as session:
            agencies = [{"code": a.code, "name": a.name}
                        for a in self._agencies(session, principal)]
            query = select(Poster, Agency).join(Agency, Agency.id == Poster.agency_id)
            if not principal.has("regency_admin"):
                query = query.where(Poster.agency_id == principal.agency_id)
            rows = session.execute(query.order_by(Poster.created_at.desc(),
                                                  Poster.id.desc())).all()
            posters = [_view(poster, agency) for poster, agency in rows]
        return PostersPage(posters, agencies)

    def get(self, code: str, principal: access.Principal) -> PosterView:
        """One poster the caller may manage (another agency's: not found)."""
        self._require_manager(principal)
        found = normalise_code(code)
        with self.ctx.reads() as session:
            row = session.execute(select(Poster, Agency).join(
                Agency, Agency.id == Poster.agency_id).where(Poster.code == found)).first() \
                if found else None
            if row is None or not self._manages(principal, row[0].agency_id):
                raise NotFound(f"poster {code} does not exist")
            return _view(*row)

    def create(self, principal: access.Principal, form: dict[str, Any]) -> PosterView:
        """A new poster from `agency_code`, `place_name` (optional) and `latitude` and
        `longitude` (optional, both or neither, numbers)."""
        self._require_manager(principal)
        errors: dict[str, Message] = {}
        place = str(form.get("place_name") or "").strip() or None
        if place is not None and len(place) > PLACE_MAX:
            errors["place_name"] = Message("at most %(limit)s characters", limit=PLACE_MAX)
        point = _point(form.get("latitude"), form.get("longitude"), errors)
        agency_code = str(form.get("agency_code") or "").strip()
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            allowed = {a.code: a for a in self._agencies(session, principal)}
            agency = allowed.get(agency_code)
            if agency is None:
                errors["agency_code"] = Message("choose an agency from the list")
            if errors:
                raise Invalid("the poster was not created", errors)
            assert agency is not None
            poster = Poster(code=_new_code(), agency_id=agency.id, place_name=place,
                            latitude=point[0] if point else None,
                            longitude=point[1] if point else None, scan_count=0,
                            report_count=0, created_by=principal.username, created_at=now)
            session.add(poster)
            session.flush()
            return _view(poster, agency)

    # ------------------------------------------------------------------ citizens

    def scan(self, code: str | None) -> Prefill | None:
        """The report form opened through a poster: count the scan and say what to fill in;
        None when the code is no poster's (the form opens empty)."""
        found = normalise_code(code)
        if found is None:
            return None
        with self.ctx.transaction() as session:
            done = session.execute(update(Poster).where(Poster.code == found).values(
                scan_count=Poster.scan_count + 1))
            if not done.rowcount:
                return None
            poster, agency = session.execute(select(Poster, Agency).join(
                Agency, Agency.id == Poster.agency_id).where(Poster.code == found)).one()
            return Prefill(poster.code, agency.name, poster.place_name, poster.latitude,
                           poster.longitude)

    # ------------------------------------------------------------------ helpers

    def _require_manager(self, principal: access.Principal) -> None:
        if not may_manage(principal):
            raise Forbidden("only the regency administrator and an agency's liaison officer "
                            "make QR posters")

    def _manages(self, principal: access.Principal, agency_id: int) -> bool:
        return principal.has("regency_admin") or agency_id == principal.agency_id

    def _agencies(self, session: Session, principal: access.Principal) -> list[Agency]:
        query = select(Agency).where(Agency.active.is_(True),
                                     Agency.kind.in_(POSTER_AGENCY_KINDS))
        if not principal.has("regency_admin"):
            query = query.where(Agency.id == principal.agency_id)
        return list(session.scalars(query.order_by(Agency.name)))


def _view(poster: Poster, agency: Agency) -> PosterView:
    return PosterView(poster.code, agency.code, agency.name, poster.place_name,
                      poster.latitude, poster.longitude, poster.scan_count,
                      poster.report_count, poster.created_by, poster.created_at)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace(",", ".") if value is not None else ""
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _point(lat: Any, lon: Any, errors: dict[str, Message]) -> tuple[float, float] | None:
    """Both coordinates or neither; each a number in range."""
    given = {name: value for name, value in (("latitude", lat), ("longitude", lon))
             if value is not None and str(value).strip() != ""}
    if not given:
        return None
    found: dict[str, float] = {}
    for name, limit in (("latitude", 90), ("longitude", 180)):
        if name not in given:
            errors[name] = Message("give both latitude and longitude, or neither")
            continue
        number = _number(given[name])
        if number is None or abs(number) > limit:
            errors[name] = Message("a number between -%(limit)s and %(limit)s", limit=limit)
        else:
            found[name] = number
    if len(found) != 2:
        return None
    return found["latitude"], found["longitude"]
