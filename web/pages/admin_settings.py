"""The deadline settings (/admin/settings, docs/administrators.md "SLA settings"): the top
rung of the escalation ladder, the rung budget, the reminder lead time and the complainant's
window, stored in the database with their history (workflows/sla_settings.py). System
administrators change them; regency administrators read them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, current_language, gettext
from web.pages import pages
from web.pages.admin import ADMIN_SECTIONS
from web.pages.common import domain, field_messages
from web.pages.officers import officer
from workflows.config import RUNG_LABELS
from workflows.errors import Invalid
from workflows.sla_settings import EDITORS, NAMES, READERS

ADMIN_SECTIONS.append((
    "pages.admin_settings", N_("SLA settings"),
    N_("The escalation ladder, rung budget, reminder lead time and complainant's window, "
       "with their history."), READERS))


def render(form: dict[str, str] | None = None, status: int = 200, **context: Any) -> Any:
    view = domain().sla_settings.page(officer())
    if form is None:
        form = {name: "" if value is None else _text(value)
                for name, value in view["values"].items()}
        form["version"] = str(view["version"])
    language = current_language()

    def rung_name(rung: str) -> str:
        return RUNG_LABELS.get(rung, {}).get(language, rung)

    return render_template("admin/settings.html", view=view, form=form, rung_name=rung_name,
                           rung_options=[(r, rung_name(r)) for r in view["rungs"]],
                           **context), status


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@pages.get("/admin/settings")
@auth.login_required(*READERS)
def admin_settings() -> Any:
    return render()


@pages.post("/admin/settings")
@auth.login_required(*EDITORS)
def admin_settings_save() -> Any:
    form = {name: (request.form.get(name) or "").strip()[:100]
            for name in (*NAMES, "note", "version")}
    try:
        made = domain().sla_settings.save(officer(), form, version=form["version"],
                                          note=form["note"])
    except Invalid as exc:
        return render(form, 422, errors=field_messages(exc))
    flash(gettext("Saved: %(count)s settings changed. They apply to deadlines started from "
                  "now on.", count=len(made)), "success")
    return redirect(url_for("pages.admin_settings"), 303)
