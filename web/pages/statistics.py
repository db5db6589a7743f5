"""The statistics pages: the supervisors' dashboard (with CSV and XLSX exports) and the public
Statistik page. Both show the figures of workflows/stats.py, whose meaning is written in
docs/statistics.md; see docs/supervisors.md."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, render_template, request

from web import auth
from web.i18n import N_, current_language, format_number, gettext, say
from web.pages import pages
from web.pages.case_lists import Drill, attachment
from web.pages.common import domain
from workflows import stats, stats_export
from workflows.figures import PERIOD_KINDS, Dashboard

ROLES = ("supervisor", "regency_admin", "system_admin")
PERIOD_LABELS = {"year": N_("A year"), "month": N_("A month"), "range": N_("From a day to a day")}
MONTH_NAMES = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
               N_("July"), N_("August"), N_("September"), N_("October"), N_("November"),
               N_("December"))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _officer_figures() -> Dashboard:
    """The dashboard for the period the form asks (workflows.figures.Figures.dashboard)."""
    return domain().figures.dashboard(auth.current_user(), request.args)


def _render_dashboard(found: Dashboard) -> Any:
    values, figures, agencies, today = found.values, found.figures, found.agencies, found.today
    errors = {name: say(message) for name, message in found.errors.items()}
    query = {name: value for name, value in values.items() if value}
    return render_template(
        "statistics/dashboard.html", values=values, figures=figures, errors=errors,
        agencies=agencies, agency_names={a["code"]: a["name"] for a in agencies},
        query=query, period_kinds=[(k, gettext(PERIOD_LABELS[k])) for k in PERIOD_KINDS],
        months=[(str(i + 1), gettext(name)) for i, name in enumerate(MONTH_NAMES)],
        today=today, L=stats.LABELS, drill=Drill(figures) if figures else None,
        previous=found.previous, previous_period=found.previous_period,
        ), 422 if errors else 200


@pages.get("/dashboard")
@auth.login_required(*ROLES)
def dashboard() -> Any:
    return _render_dashboard(_officer_figures())


def _export(extension: str) -> Any:
    found = _officer_figures()
    figures = found.figures
    if figures is None:
        return _render_dashboard(found)
    if extension == "csv":
        content: str | bytes = stats_export.to_csv(figures, current_language())
        mimetype = "text/csv"
    else:
        content, mimetype = stats_export.to_xlsx(figures, current_language()), XLSX
    return attachment(Response(content, mimetype=mimetype),
                      stats_export.export_name(figures, extension))


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
    text = (request.args.get("year") or "").strip()
    found = domain().figures.public_page(text)
    figures, today = found.figures, found.today
    errors = {name: say(message) for name, message in found.errors.items()}
    return render_template(
        "statistics/public.html", figures=figures, year=found.year, years=found.years,
        entered=text, errors=errors, today=today, L=stats.LABELS,
        sentence=public_sentence(found.previous, figures, today) if figures else None,
    ), 422 if errors else 200
