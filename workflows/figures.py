"""Use cases of the statistics: the officers' figures and their dashboard (with the period
asked for in a form), the public figures and the public Statistik page (workflows/stats.py
computes them; docs/statistics.md says what each means)."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from workflows import access, escalations, stats
from workflows.context import Context
from workflows.errors import N_, Invalid, Message

PERIOD_KINDS = ("year", "month", "range")
PUBLIC_YEARS = 10  # how many years the public page offers
DASHBOARD_FIELDS = ("period", "year", "month", "from", "to", "agency")


@dataclass(frozen=True)
class Dashboard:
    """The supervisors' dashboard: the form's values, its errors by field (Messages), the
    figures when the form is valid, and the agencies the caller may ask about."""

    values: dict[str, str]
    errors: dict[str, Message]
    figures: dict[str, Any] | None
    agencies: list[dict[str, Any]]
    today: date
    # The period before, of the same length (docs/statistics.md), and its figures.
    previous_period: dict[str, str] | None = None
    previous: dict[str, Any] | None = None


@dataclass(frozen=True)
class PublicPage:
    """The public Statistik page: a year's figures, the year before's, the years offered."""

    year: int | None
    errors: dict[str, Message]
    figures: dict[str, Any] | None
    previous: dict[str, Any] | None
    years: list[int]
    today: date


class Figures:
    """The use cases of the statistics (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def officer(self, principal: access.Principal, *, year: str | int | None = None,
                date_from: str | None = None, date_to: str | None = None,
                agency: str | None = None) -> dict[str, Any]:
        """The figures of the caller's scope for a year or a range of days."""
        with self.ctx.reads() as session:
            return stats.officer_figures(session, principal, self.ctx.config, self.ctx.now(),
                                         year=year, date_from=date_from, date_to=date_to,
                                         agency=agency)

    def public(self, year: str | int | None = None) -> dict[str, Any]:
        """The regency's public figures of a year: no personal data, no report named."""
        with self.ctx.reads() as session:
            return stats.public_figures(session, self.ctx.config, self.ctx.now(), year=year)

    def dashboard(self, principal: access.Principal, form: Mapping[str, str]) -> Dashboard:
        """The dashboard for the period the form asks (a year, a month or a range of days;
        this year when it says none) and, if given, one agency of the caller's scope."""
        today = self.ctx.today()
        values, arguments, errors = period_query(form, today)
        figures = previous = before = None
        with self.ctx.reads() as session:
            agencies = figure_agencies(session, principal, self.ctx.config)
            if not errors:
                try:
                    figures = stats.officer_figures(
                        session, principal, self.ctx.config, self.ctx.now(),
                        agency=values["agency"] or None, **arguments)
                except Invalid as exc:
                    errors = _figure_errors(exc, today)
            if figures is not None:
                before = previous_period(values["period"],
                                         date.fromisoformat(figures["period"]["from"]),
                                         date.fromisoformat(figures["period"]["to"]), today)
            if before is not None:
                previous = stats.officer_figures(
                    session, principal, self.ctx.config, self.ctx.now(),
                    agency=values["agency"] or None, date_from=before["from"],
                    date_to=before["to"])
        return Dashboard(values, errors, figures, agencies, today, before, previous)

    def public_page(self, year_text: str) -> PublicPage:
        """A year's public figures and the year before's (this year when none is asked)."""
        today = self.ctx.today()
        text = year_text.strip()
        year = _parse_year(text) if text else today.year
        errors = {} if year is not None else {"year": _year_error(today)}
        figures = previous = None
        if year is not None:
            now = self.ctx.now()
            with self.ctx.reads() as session:
                figures = stats.public_figures(session, self.ctx.config, now, year=year)
                if year > stats.MIN_YEAR:
                    previous = stats.public_figures(session, self.ctx.config, now,
                                                    year=year - 1)
        years = list(range(today.year, max(stats.MIN_YEAR, today.year - PUBLIC_YEARS + 1) - 1,
                           -1))
        if year is not None and year not in years:
            years = sorted({*years, year}, reverse=True)
        return PublicPage(year, errors, figures, previous, years, today)


def figure_agencies(session: Any, principal: access.Principal, config: Any
                    ) -> list[dict[str, Any]]:
    """The agencies whose figures the caller may ask for (workflows.stats.resolve_scope):
    every OPD-level agency for the regency-wide, otherwise their own agency and its units."""
    scope = stats.resolve_scope(session, principal, config, None)
    return escalations.agency_choices([
        a for a in access.agency_table(session).values()
        if a.active and a.kind in escalations.TARGET_KINDS
        and (scope.agency_ids is None or a.id in scope.agency_ids)])


def previous_period(kind: str, start: date, end: date, today: date) -> dict[str, str] | None:
    """The period to compare with: the year, month or range of days just before, as long as
    the part of this period that has passed (this year to date: last year to the same day).
    None before the first year the figures cover, or for a period wholly in the future."""
    last = min(end, today)
    if last < start:
        return None
    if kind == "year":  # to the same day of the year before (28 February for the 29th)
        first = start.replace(year=start.year - 1)
        until = last.replace(year=last.year - 1, day=min(
            last.day, monthrange(last.year - 1, last.month)[1]))
    elif kind == "month":  # to the same day of the month before, at most its last
        first = (start - timedelta(days=1)).replace(day=1)
        until = first.replace(day=min(last.day, monthrange(first.year, first.month)[1]))
    else:  # as many days, just before
        first = start - (end - start) - timedelta(days=1)
        until = first + (last - start)
    if first.year < stats.MIN_YEAR:
        return None
    return {"from": first.isoformat(), "to": until.isoformat()}


# --------------------------------------------------------------------------- the period form


def _year_error(today: date) -> Message:
    return Message("Write a year between %(first)s and %(last)s, e.g. %(example)s.",
                   first=stats.MIN_YEAR, last=stats.MAX_YEAR, example=today.year)


def _parse_year(text: str) -> int | None:
    return int(text) if text.isdigit() and stats.MIN_YEAR <= int(text) <= stats.MAX_YEAR \
        else None


def _parse_day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if stats.MIN_YEAR <= day.year <= stats.MAX_YEAR else None


def period_query(form: Mapping[str, str], today: date
                 ) -> tuple[dict[str, str], dict[str, Any], dict[str, Message]]:
    """The dashboard's filters: what the form shows, the arguments of the figures, and the
    errors by field."""
    values = {name: (form.get(name) or "").strip() for name in DASHBOARD_FIELDS}
    kind = values["period"] or ("range" if values["from"] or values["to"]
                                else "month" if values["month"] else "year")
    values["period"] = kind
    errors: dict[str, Message] = {}
    arguments: dict[str, Any] = {}
    if kind not in PERIOD_KINDS:
        errors["period"] = Message("Choose a year, a month or a range of days.")
    elif kind in ("year", "month"):
        values["year"] = values["year"] or str(today.year)
        year = _parse_year(values["year"])
        if year is None:
            errors["year"] = _year_error(today)
        if kind == "year":
            arguments["year"] = year
        else:
            month = int(values["month"]) if values["month"].isdigit() else 0
            if not 1 <= month <= 12:
                errors["month"] = Message("Choose a month.")
            elif year is not None:
                arguments["date_from"] = date(year, month, 1).isoformat()
                arguments["date_to"] = date(year, month, monthrange(year, month)[1]).isoformat()
    else:
        days = {}
        for name, missing in (("from", N_("Give the first day of the range.")),
                              ("to", N_("Give the last day of the range."))):
            if not values[name]:
                errors[name] = Message(missing)
            elif (days.setdefault(name, _parse_day(values[name]))) is None:
                errors[name] = Message("Write the date as YYYY-MM-DD, between %(first)s and "
                                       "%(last)s.", first=stats.MIN_YEAR, last=stats.MAX_YEAR)
        if not errors and days["from"] > days["to"]:
            errors["to"] = Message("The last day must be on or after the first day.")
        arguments = {"date_from": values["from"], "date_to": values["to"]}
    return values, arguments, errors


def _figure_errors(exc: Invalid, today: date) -> dict[str, Message]:
    """The statistics' own refusals, said as the form says them."""
    words = {"agency": Message("No agency has this code; choose one from the list."),
             "year": _year_error(today)}
    return {name: words.get(name, Message(str(text)) if not isinstance(text, Message)
                            else text)
            for name, text in (exc.field_errors or {}).items()}
