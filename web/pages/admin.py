"""The administrators' pages (docs/administrators.md): /admin and its sections.

- /admin: the sections the caller may open (ADMIN_SECTIONS: endpoint, title, description,
  roles), each a module of its own that adds itself to the list.
- /admin/audit: the audit log (workflows/audit_log.py: the administrators' changes and the
  studio's deploys and migrations), filterable, exported as CSV or XLSX.

System administrators open every section; regency administrators those that name them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request, url_for

from web import auth
from web.i18n import N_, gettext
from web.pages import pages
from web.pages.common import domain
from web.pages.officers import officer
from workflows.audit_log import AuditFilters

ADMINS = ("system_admin", "regency_admin")
AUDIT_FILTERS = ("actor", "action", "target_kind", "target", "source")

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


def audit_filters() -> AuditFilters:
    return AuditFilters(**{name: (request.args.get(name) or "").strip()[:200]
                           for name in AUDIT_FILTERS})


@pages.get("/admin/audit")
@auth.login_required(*ADMINS)
def admin_audit() -> Any:
    """The administrative changes and the studio's deploys and migrations, newest first
    (workflows/audit_log.py)."""
    filters = audit_filters()
    number = request.args.get("page", "1")
    page = domain().audit_log.page(officer(), filters, page=int(number)
                                   if number.isdigit() and len(number) < 7 else 1)
    kept = filters.kept()
    return render_template("admin/audit.html", page=page, filters=filters.__dict__,
                           page_url=lambda n: url_for("pages.admin_audit", page=n, **kept),
                           export_url=lambda kind: url_for("pages.admin_audit_export",
                                                           kind=kind, **kept))


@pages.get("/admin/audit/export.<kind>")
@auth.login_required(*ADMINS)
def admin_audit_export(kind: str) -> Any:
    body, name = domain().audit_log.export(officer(), audit_filters(), kind)
    mimetype = ("text/csv" if kind == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={name}"})
