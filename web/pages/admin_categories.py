"""The report categories' administration (workflows/categories.py), for the system
administrator.

- /admin/categories (GET): the categories in their order with their names, photo rule and
  state, the form for a new one, and the link to the routing table in the studio; (POST)
  creates one.
- /admin/categories/<code> (GET): the edit form; (POST) saves names, description and the
  photo rule; /admin/categories/<code>/deactivate and /reactivate (POST).
A refused change shows the page again with the reason: 422 for a field, 409 when someone
else changed the category first.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, say
from web.pages import pages
from web.pages.common import domain, field_messages
from web.pages.officers import officer
from workflows import diagram_ids as ids
from workflows.errors import Conflict, Invalid

ROLES = ("system_admin",)
FIELDS = ("name_id", "name_en", "description_id", "photo_required")
FIELD_LABELS = {"code": N_("Code"), "name_id": N_("Name in Indonesian"),
                "name_en": N_("Name in English"), "description_id": N_("Description"),
                "photo_required": N_("A photo is required before verification")}
DONE = {"created": N_("The category was created."), "saved": N_("The category was saved."),
        "deactivated": N_("The category is no longer offered on new reports."),
        "reactivated": N_("The category is offered on new reports again.")}


def _values(*names: str) -> dict[str, str]:
    return {name: (request.form.get(name) or "").strip()[:600] for name in names}


def _context() -> dict[str, Any]:
    return {"field_labels": FIELD_LABELS,
            "routing_url": url_for("pages.studio_versions", process_id=ids.PROCESS_ID),
            "routing_file": ids.ROUTING_DMN_FILE}


@pages.route("/admin/categories", methods=["GET", "POST"])
@auth.login_required(*ROLES)
def admin_categories() -> Any:
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _values("code", *FIELDS)
        try:
            created = domain().categories.create(officer(), values)
        except Invalid as exc:
            errors = field_messages(exc)
        else:
            return redirect(url_for("pages.admin_category", code=created.code,
                                    done="created"), 303)
    listing = domain().categories.listing(officer())
    return render_template("admin/categories.html", listing=listing, values=values,
                           errors=errors, **_context()), 422 if errors else 200


@pages.get("/admin/categories/<code>")
@auth.login_required(*ROLES)
def admin_category(code: str) -> Any:
    return _category_page(code, done=DONE.get(request.args.get("done", "")))


@pages.post("/admin/categories/<code>")
@auth.login_required(*ROLES)
def admin_category_save(code: str) -> Any:
    values = _values(*FIELDS)
    try:
        domain().categories.update(officer(), code, values, request.form.get("version", ""))
    except Invalid as exc:
        return _category_page(code, errors=field_messages(exc), values=values, status=422)
    except Conflict as exc:
        return _category_page(code, refusal=say(exc.message), status=409)
    return redirect(url_for("pages.admin_category", code=code, done="saved"), 303)


def _category_page(code: str, *, errors: dict[str, str] | None = None, refusal: str = "",
                   values: dict[str, str] | None = None, done: str | None = None,
                   status: int = 200) -> Any:
    category = domain().categories.get(officer(), code)
    return render_template("admin/category.html", category=category, errors=errors or {},
                           refusal=refusal, values=values, done=done, **_context()), status


def _set_active(code: str, active: bool) -> Any:
    try:
        domain().categories.set_active(officer(), code, active,
                                       request.form.get("version", ""))
    except Conflict as exc:
        return _category_page(code, refusal=say(exc.message), status=409)
    return redirect(url_for("pages.admin_category", code=code,
                            done="reactivated" if active else "deactivated"), 303)


@pages.post("/admin/categories/<code>/deactivate")
@auth.login_required(*ROLES)
def admin_category_deactivate(code: str) -> Any:
    return _set_active(code, False)


@pages.post("/admin/categories/<code>/reactivate")
@auth.login_required(*ROLES)
def admin_category_reactivate(code: str) -> Any:
    return _set_active(code, True)
