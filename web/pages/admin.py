"""The administrators' pages (docs/administrators.md): /admin and its sections.

- /admin: the sections the caller may open (ADMIN_SECTIONS: endpoint, title, description,
  roles), each a module of its own that adds itself to the list.
- /admin/audit: the administrators' audit log (workflows/admin_audit.py), filterable.

System administrators open every section; regency administrators those that name them.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from web import auth
from web.i18n import N_, gettext
from web.pages import pages
from web.pages.common import domain
from web.pages.officers import officer

ADMINS = ("system_admin", "regency_admin")

# (endpoint, title, description, roles): the cards of /admin, in this order.
ADMIN_SECTIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("pages.admin_audit", N_("Audit log"),
     N_("Every administrative change: who, when, what it was before and after."), ADMINS),
    ("pages.admin_agencies", N_("Agencies"),
     N_("The tree of agencies and units: create, rename, move, deactivate; each agency's "
        "liaison officers and heads."), ("system_admin",)),
    ("pages.admin_categories", N_("Categories"),
     N_("The report categories: names, whether a photo is required, which are offered; "
        "the link to the routing table."), ("system_admin",)),
]


def sections_for(principal: Any) -> list[dict[str, str]]:
    return [{"url": url_for(endpoint), "title": gettext(title), "text": gettext(text)}
            for endpoint, title, text, roles in ADMIN_SECTIONS if principal.has(*roles)]


@pages.get("/admin")
@auth.login_required(*ADMINS)
def admin_home() -> Any:
    return render_template("admin/home.html", sections=sections_for(officer()))


@pages.get("/admin/audit")
@auth.login_required(*ADMINS)
def admin_audit() -> Any:
    filters = {name: (request.args.get(name) or "").strip()[:200] or None
               for name in ("actor", "action", "target_kind", "target")}
    number = request.args.get("page", "1")
    page = domain().admin_audit.page(officer(), page=int(number) if number.isdigit() else 1,
                                     **filters)
    kept = {name: value for name, value in filters.items() if value}
    return render_template("admin/audit.html", page=page, filters=filters,
                           page_url=lambda n: url_for("pages.admin_audit", page=n, **kept))
