"""The working calendar of the administrators (/admin/calendar, docs/administrators.md):
the year's days off, a month, and a day added or cancelled by decree (or such a change
undone) after a preview of the running deadlines it moves (workflows/calendar_changes.py).

GET shows; POST /admin/calendar/preview shows the same page with the preview and a form to
save it; POST /admin/calendar/save saves and comes back to the month (a stale preview: 409).
"""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names, get_month_names
from flask import flash, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, current_language, gettext, say
from web.pages import pages
from web.pages.admin import ADMIN_SECTIONS
from web.pages.common import domain
from web.pages.officers import officer
from workflows.calendar_changes import EDITORS

ADMIN_SECTIONS.append((
    "pages.admin_calendar", N_("Working calendar"),
    N_("Days off of the year, decrees adding or cancelling one, and the deadlines they move."),
    EDITORS))
FIELDS = ("day", "kind", "name", "note")


def change_form() -> dict[str, str]:
    return {name: (request.form.get(name) or "").strip()[:500] for name in FIELDS}


def render(form: dict[str, str] | None = None, status: int = 200, **context: Any) -> Any:
    language = current_language()
    months = get_month_names("wide", locale=language)
    weekdays = get_day_names("abbreviated", locale=language)
    return render_template("admin/calendar.html", form=form or {"kind": "day_off"},
                           month_names=[months[m] for m in range(1, 13)],
                           weekday_names=[weekdays[d] for d in range(7)], **context), status


@pages.get("/admin/calendar")
@auth.login_required(*EDITORS)
def admin_calendar() -> Any:
    view = domain().calendar_changes.page(officer(), request.args.get("year"),
                                          request.args.get("month"))
    return render(view=view)


@pages.post("/admin/calendar/preview")
@auth.login_required(*EDITORS)
def admin_calendar_preview() -> Any:
    form = change_form()
    view = domain().calendar_changes.page(officer(), request.form.get("year"),
                                          request.form.get("month"), change=form)
    errors = {name: say(message) for name, message in view["errors"].items()}
    return render(form, 422 if errors else 200, view=view, errors=errors)


@pages.post("/admin/calendar/save")
@auth.login_required(*EDITORS)
def admin_calendar_save() -> Any:
    form = change_form()
    impact = domain().calendar_changes.save(officer(), form["day"], form["kind"], form["name"],
                                            expected=request.form.get("expected", ""),
                                            note=form["note"])
    flash(gettext("Saved. %(count)s running deadlines moved.", count=impact.total), "success")
    if impact.left:
        flash(gettext("%(count)s reports are still being moved by the scheduler; they follow "
                      "within minutes.", count=impact.left), "info")
    return redirect(url_for("pages.admin_calendar", year=impact.day.year,
                            month=impact.day.month), 303)
