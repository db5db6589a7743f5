"""Which reports a request counts (its cohort): the period of receipt and the scope of agencies.

Every figure is about a *cohort*: the reports received (``created_at``) in the period, in the
regency's time zone, within a scope (the whole regency, or an agency and everything below
it), as they stand at ``now``. docs/statistics.md says in plain words what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from workflows import access
from workflows.config import RegencyConfig
from workflows.errors import Forbidden, Invalid
from workflows.stats.labels import REGENCY

MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    """Local calendar days from ``start`` to ``end``, both included."""

    start: date
    end: date
    year: int | None = None

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants [from, to)."""
        first = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return first, after

    def document(self) -> dict[str, Any]:
        return {"year": self.year, "from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_period(year: str | int | None, date_from: str | None, date_to: str | None,
                 today: date) -> Period:
    """A year, or ``from`` and ``to`` (ISO dates, both included); this year when none."""
    year = None if year in (None, "") else year
    date_from, date_to = date_from or None, date_to or None
    if year is not None and (date_from or date_to):
        raise Invalid("give either a year or a from/to range, not both",
                      {"year": "leave out year when you give from and to"})
    if year is not None:
        try:
            number = int(year)
        except (TypeError, ValueError) as exc:
            raise Invalid("year must be a whole number", {"year": "write a year, e.g. 2024"}
                          ) from exc
        if not MIN_YEAR <= number <= MAX_YEAR:
            raise Invalid("year out of range",
                          {"year": f"a year between {MIN_YEAR} and {MAX_YEAR}"})
        return Period(date(number, 1, 1), date(number, 12, 31), number)
    if date_from is None and date_to is None:
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), today.year)
    if date_from is None or date_to is None:
        missing = "from" if date_from is None else "to"
        raise Invalid("from and to go together", {missing: "give both from and to"})
    errors: dict[str, str] = {}
    parsed: dict[str, date] = {}
    for name, value in (("from", date_from), ("to", date_to)):
        try:
            parsed[name] = date.fromisoformat(value)
        except ValueError:
            errors[name] = "write a date as YYYY-MM-DD"
            continue
        if not MIN_YEAR <= parsed[name].year <= MAX_YEAR:
            errors[name] = f"a date between {MIN_YEAR} and {MAX_YEAR}"
    if errors:
        raise Invalid("the period's dates are not valid", errors)
    if parsed["from"] > parsed["to"]:
        raise Invalid("the period ends before it starts", {"to": "on or after from"})
    return Period(parsed["from"], parsed["to"])


@dataclass(frozen=True)
class Scope:
    """Which reports count: the whole regency (``agency_ids`` None) or an agency tree."""

    agency_ids: frozenset[int] | None = None
    agency_code: str | None = None
    agency_name: str | None = None

    def document(self) -> dict[str, Any]:
        return {"agency": self.agency_code, "name": self.agency_name or REGENCY["id"]}


def resolve_scope(session: Session, principal: access.Principal, config: RegencyConfig,
                  agency_code: str | None) -> Scope:
    """The officer's scope: the regency for Diskominfo and regency-level supervisors, their
    own agency tree for everyone else; ``agency_code`` narrows it."""
    if not principal.is_officer:
        raise Forbidden("the full statistics are for officers; anyone may read "
                        "/stats/public")
    agencies = access.agency_table(session)
    regency = next((a for a in agencies.values() if a.code == config.regency_code), None)
    regency_wide = principal.sees_everything or (
        principal.has("supervisor") and (principal.agency_code == config.admin_agency_code
                                         or (regency is not None
                                             and regency.id in principal.agency_ids)))
    if agency_code:
        agency = next((a for a in agencies.values() if a.code == agency_code), None)
        if agency is None:
            raise Invalid(f"unknown agency {agency_code!r}",
                          {"agency": f"no agency has the code {agency_code!r}; see /agencies"})
        if not regency_wide and agency.id not in principal.agency_ids:
            raise Forbidden(f"your figures cover {principal.agency_code or 'no agency'} "
                            f"and its units, not {agency_code}")
        tree = access.subtree(session, agency.id)
        if regency is not None and regency.id in tree:
            return Scope()
        return Scope(tree, agency.code, agency.name)
    if regency_wide:
        return Scope()
    if principal.agency_id is None:
        raise Forbidden("your account belongs to no agency, so it has no figures")
    own = agencies.get(principal.agency_id)
    return Scope(principal.agency_ids, own.code if own else None, own.name if own else None)
