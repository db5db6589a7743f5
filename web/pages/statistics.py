"""The statistics pages: the supervisors' dashboard (with CSV and XLSX exports) and the public
Statistik page. Both show the figures of workflows/stats.py, whose meaning is written in
docs/statistics.md; see docs/supervisors.md."""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template, request

from web import auth
from web.i18n import N_, format_number, gettext
from web.pages import pages
from web.pages.common import field_messages, service
from workflows import escalations, stats, stats_export
from workflows.errors import Invalid

ROLES = ("supervisor", "regency_admin", "system_admin")
PERIOD_KINDS = ("year", "month", "range")
PERIOD_LABELS = {"year": N_("A year"), "month": N_("A month"), "range": N_("From a day to a day")}
MONTH_NAMES = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
               N_("July"), N_("August"), N_("September"), N_("October"), N_("November"),
               N_("December"))
PUBLIC_YEARS = 10  # how many years the public page offers
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _today() -> date:
    complaints = service()
    return complaints.engine.clock.now().astimezone(ZoneInfo(complaints.config.timezone)).date()


def _year_error(today: date) -> str:
    return gettext("Write a year between %(first)s and %(last)s, e.g. %(example)s.",
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


def period_query(args: Any, today: date) -> tuple[dict[str, str], dict[str, Any],
                                                  dict[str, str]]:
    """The dashboard's filters: what the form shows, the arguments of the figures, and the
    errors by field (in the visitor's language)."""
    values = {name: (args.get(name) or "").strip()
              for name in ("period", "year", "month", "from", "to", "agency")}
    kind = values["period"] or ("range" if values["from"] or values["to"]
                                else "month" if values["month"] else "year")
    values["period"] = kind
    errors: dict[str, str] = {}
    arguments: dict[str, Any] = {}
    if kind not in PERIOD_KINDS:
        errors["period"] = gettext("Choose a year, a month or a range of days.")
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
                errors["month"] = gettext("Choose a month.")
            elif year is not None:
                arguments["date_from"] = date(year, month, 1).isoformat()
                arguments["date_to"] = date(year, month, monthrange(year, month)[1]).isoformat()
    else:
        days = {}
        for name, missing in (("from", N_("Give the first day of the range.")),
                              ("to", N_("Give the last day of the range."))):
            if not values[name]:
                errors[name] = gettext(missing)
            elif (days.setdefault(name, _parse_day(values[name]))) is None:
                errors[name] = gettext("Write the date as YYYY-MM-DD, between %(first)s and "
                                       "%(last)s.", first=stats.MIN_YEAR, last=stats.MAX_YEAR)
        if not errors and days["from"] > days["to"]:
            errors["to"] = gettext("The last day must be on or after the first day.")
        arguments = {"date_from": values["from"], "date_to": values["to"]}
    return values, arguments, errors


def _figure_errors(exc: Invalid, today: date) -> dict[str, str]:
    """The statistics' own refusals, said as the form says them."""
    found = field_messages(exc)
    words = {"agency": gettext("No agency has this code; choose one from the list."),
             "year": _year_error(today)}
    return {name: words.get(name, text) for name, text in found.items()}


def _officer_figures(today: date) -> tuple[dict[str, str], dict[str, Any] | None,
                                           dict[str, str], list[dict[str, Any]]]:
    principal = auth.current_user()
    complaints = service()
    values, arguments, errors = period_query(request.args, today)
    figures = None
    with complaints.read_session() as session:
        agencies = escalations.figure_agencies(session, principal, complaints.config)
        if not errors:
            try:
                figures = stats.officer_figures(
                    session, principal, complaints.config, complaints.engine.clock.now(),
                    agency=values["agency"] or None, **arguments)
            except Invalid as exc:
                errors = _figure_errors(exc, today)
    return values, figures, errors, agencies


def _render_dashboard(values: dict[str, str], figures: dict[str, Any] | None,
                      errors: dict[str, str], agencies: list[dict[str, Any]],
                      today: date) -> Any:
    query = {name: value for name, value in values.items() if value}
    return render_template(
        "statistics/dashboard.html", values=values, figures=figures, errors=errors,
        agencies=agencies, agency_names={a["code"]: a["name"] for a in agencies},
        query=query, period_kinds=[(k, gettext(PERIOD_LABELS[k])) for k in PERIOD_KINDS],
        months=[(str(i + 1), gettext(name)) for i, name in enumerate(MONTH_NAMES)],
        today=today, L=stats.LABELS), 422 if errors else 200


@pages.get("/dashboard")
@auth.login_required(*ROLES)
def dashboard() -> Any:
    today = _today()
    return _render_dashboard(*_officer_figures(today), today)


def _export(extension: str) -> Any:
    today = _today()
    values, figures, errors, agencies = _officer_figures(today)
    if figures is None:
        return _render_dashboard(values, figures, errors, agencies, today)
    if extension == "csv":
        content: str | bytes = stats_export.to_csv(figures)
        mimetype = "text/csv"
    else:
        content, mimetype = stats_export.to_xlsx(figures), XLSX
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{stats_export.export_name(figures, extension)}"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@pages.get("/dashboard/export.csv")
@auth.login_required(*ROLES)
def dashboard_csv() -> Any:
    return _export("csv")


@pages.get("/dashboard/export.xlsx")
@auth.login_required(*ROLES)
def dashboard_xlsx() -> Any:
    return _export("xlsx")


# --------------------------------------------------------------------------- public


def _outcome(totals: dict[str, int]) -> str:
    """What became of a year's reports: "all resolved", or "7 resolved and 1 in follow-up"."""
    if totals["closed"] == totals["received"]:
        return gettext("all resolved")
    parts = []
    for key, words in (("closed", N_("%(count)s resolved")),
                       ("in_progress", N_("%(count)s in follow-up")),
                       ("pending", N_("%(count)s awaiting verification")),
                       ("not_ours", N_("%(count)s archived or outside the regency's "
                                       "authority"))):
        count = totals["archived"] + totals["returned"] if key == "not_ours" else totals[key]
        if count:
            parts.append(gettext(words, count=format_number(count, 0)))
    if len(parts) == 1:
        return parts[0]
    return gettext("%(list)s and %(last)s", list=", ".join(parts[:-1]), last=parts[-1])


def _clause(figures: dict[str, Any], today: date, first: bool) -> str:
    year = figures["period"]["year"]
    totals = figures["totals"]
    so_far = year >= today.year
    count = format_number(totals["received"], 0)
    if not totals["received"]:
        words = ((N_("In %(year)s so far, no complaints"), N_("In %(year)s, no complaints"))
                 if first else (N_("in %(year)s so far none"), N_("in %(year)s, none")))
        return gettext(words[0] if so_far else words[1], year=year)
    words = ((N_("In %(year)s so far, %(count)s complaints"),
              N_("In %(year)s, %(count)s complaints")) if first else
             (N_("in %(year)s so far %(count)s"), N_("in %(year)s, %(count)s")))
    head = gettext(words[0] if so_far else words[1], year=year, count=count)
    return gettext("%(head)s, %(outcome)s", head=head, outcome=_outcome(totals))


def public_sentence(previous: dict[str, Any] | None, current: dict[str, Any],
                    today: date) -> str:
    """The sentence a regency publishes, from the figures: "In 2023, 41 complaints, all
    resolved; in 2024 so far 8, 7 resolved and 1 in follow-up." The year before is left out
    when it had no reports."""
    if previous is None or not previous["totals"]["received"]:
        return gettext("%(sentence)s.", sentence=_clause(current, today, True))
    return gettext("%(first)s; %(second)s.", first=_clause(previous, today, True),
                   second=_clause(current, today, False))


@pages.get("/statistik")
def public_statistics() -> Any:
    complaints = service()
    today = _today()
    text = (request.args.get("year") or "").strip()
    year = _parse_year(text) if text else today.year
    errors = {} if year is not None else {"year": _year_error(today)}
    figures = previous = None
    if year is not None:
        now = complaints.engine.clock.now()
        with complaints.read_session() as session:
            figures = stats.public_figures(session, complaints.config, now, year=year)
            if year > stats.MIN_YEAR:
                previous = stats.public_figures(session, complaints.config, now,
                                                year=year - 1)
    years = list(range(today.year, max(stats.MIN_YEAR, today.year - PUBLIC_YEARS + 1) - 1, -1))
    if year is not None and year not in years:
        years = sorted({*years, year}, reverse=True)
    return render_template(
        "statistics/public.html", figures=figures, year=year, years=years, entered=text,
        errors=errors, today=today, L=stats.LABELS,
        sentence=public_sentence(previous, figures, today) if figures else None,
    ), 422 if errors else 200
