"""The agency tree's administration (workflows/agencies.py), for the system administrator.

- /admin/agencies (GET): the tree as a nested list, and the form for a new agency; (POST)
  creates one and goes to its page.
- /admin/agencies/<code> (GET): one agency: where it sits, its liaison officers and heads
  (linked to the accounts pages), its forms: rename, move, deactivate or reactivate.
- /admin/agencies/<code>/rename, /move, /deactivate, /reactivate (POST): each form's change;
  a refused change shows the page again with the reason (422 for a field, 409 for a change
  someone else made first or open reports still held).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, say
from web.pages import pages
from web.pages.common import domain, field_messages
from web.pages.officers import officer
from workflows.agencies import KINDS, PARENT_KINDS
from workflows.errors import Conflict, Invalid

ROLES = ("system_admin",)
KIND_LABELS = {
    "province": N_("Province"),
    "regency": N_("Regency"),
    "opd": N_("OPD (regional agency)"),
    "bumd": N_("BUMD (regional enterprise)"),
    "kecamatan": N_("Kecamatan"),
    "kelurahan": N_("Kelurahan"),
    "unit": N_("Unit"),
}
FIELD_LABELS = {"code": N_("Code"), "name": N_("Name"), "kind": N_("Kind"),
                "parent": N_("Parent")}
CREATE_FIELDS = ("code", "name", "kind", "parent")


def accounts_url(code: str) -> str:
    """The accounts pages' list of one agency's accounts (web/pages/admin_accounts.py)."""
    return "/admin/accounts?" + urlencode({"agency": code})


def _context() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "field_labels": FIELD_LABELS, "kinds": KINDS,
            "parent_kinds": PARENT_KINDS, "accounts_url": accounts_url}


@pages.route("/admin/agencies", methods=["GET", "POST"])
@auth.login_required(*ROLES)
def admin_agencies() -> Any:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: (request.form.get(name) or "").strip()[:300] for name in CREATE_FIELDS}
        try:
            created = domain().agencies.create(officer(), values)
        except Invalid as exc:
            errors = field_messages(exc)
        else:
            return redirect(url_for("pages.admin_agency", code=created.code, done="created"),
                            303)
    tree = domain().agencies.tree(officer())
    return render_template("admin/agencies.html", tree=tree, values=values, errors=errors,
                           **_context()), 422 if errors else 200


DONE = {"created": N_("The agency was created."), "renamed": N_("The agency was renamed."),
        "moved": N_("The agency was moved."),
        "deactivated": N_("The agency and the agencies under it were deactivated."),
        "reactivated": N_("The agency was reactivated.")}


@pages.get("/admin/agencies/<code>")
@auth.login_required(*ROLES)
def admin_agency(code: str) -> Any:
    return _agency_page(code, done=DONE.get(request.args.get("done", "")))


def _agency_page(code: str, *, errors: dict[str, str] | None = None, refusal: str = "",
                 values: dict[str, str] | None = None, done: str | None = None,
                 status: int = 200) -> Any:
    detail = domain().agencies.detail(officer(), code)
    return render_template("admin/agency.html", detail=detail, errors=errors or {},
                           refusal=refusal, values=values or {}, done=done,
                           **_context()), status


def _change(code: str, change: str, value_name: str | None = None) -> Any:
    """Apply one form's change; the page again with the reason when refused."""
    version = (request.form.get("version") or "")[:64]
    values = {value_name: (request.form.get(value_name) or "").strip()[:300]} \
        if value_name else {}
    agencies = domain().agencies
    try:
        if change == "renamed":
            agencies.rename(officer(), code, values["name"], version)
        elif change == "moved":
            agencies.move(officer(), code, values["parent"], version)
        elif change == "deactivated":
            agencies.deactivate(officer(), code, version)
        else:
            agencies.reactivate(officer(), code, version)
    except Invalid as exc:
        return _agency_page(code, errors=field_messages(exc), values=values, status=422)
    except Conflict as exc:
        return _agency_page(code, refusal=say(exc.message), status=409)
    return redirect(url_for("pages.admin_agency", code=code, done=change), 303)


@pages.post("/admin/agencies/<code>/rename")
@auth.login_required(*ROLES)
def admin_agency_rename(code: str) -> Any:
    return _change(code, "renamed", "name")


@pages.post("/admin/agencies/<code>/move")
@auth.login_required(*ROLES)
def admin_agency_move(code: str) -> Any:
    return _change(code, "moved", "parent")


@pages.post("/admin/agencies/<code>/deactivate")
@auth.login_required(*ROLES)
def admin_agency_deactivate(code: str) -> Any:
    return _change(code, "deactivated")


@pages.post("/admin/agencies/<code>/reactivate")
@auth.login_required(*ROLES)
def admin_agency_reactivate(code: str) -> Any:
    return _change(code, "reactivated")
