"""The system administrator's accounts pages (docs/administrators.md, "Accounts"):
/admin/accounts and each account's page, over workflows/account_admin.py.

A temporary password or a new API token is shown once, on the answer to the post that made
it (not stored, not behind a redirect; pages are never cached: web/app.py)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, gettext
from web.pages import pages
from web.pages.admin import ADMIN_SECTIONS
from web.pages.common import domain, field_messages
from web.pages.officers import officer
from workflows.account_admin import (
    RESET_LINK_HOURS,
    ROLES_OFFERED,
    SIGN_IN_AGES,
    AccountFields,
)
from workflows.errors import Invalid

ADMIN = "system_admin"
FILTERS = ("search", "role", "agency", "active", "signed_in")

ADMIN_SECTIONS.append(
    ("pages.admin_accounts", N_("Accounts"),
     N_("Officers' accounts: create, roles and agency, disable, reset a password, API "
        "tokens, import liaison officers."), (ADMIN,)))

ROLE_NAMES = {
    "regency_admin": N_("Regency administrator"),
    "liaison_officer": N_("Liaison officer"),
    "technical_officer": N_("Technical officer"),
    "supervisor": N_("Supervisor"),
    "process_designer": N_("Process designer"),
    "system_admin": N_("System administrator"),
}
SIGN_IN_CHOICES = {"never": N_("Never signed in"),
                   "30": N_("Not in the last 30 days (or never)"),
                   "90": N_("Not in the last 90 days (or never)")}
FIELD_LABELS = {"username": N_("Username"), "full_name": N_("Full name"),
                "email": N_("E-mail"), "phone": N_("Phone"), "roles": N_("Roles"),
                "agency": N_("Agency"), "active": N_("Active"), "name": N_("Token name")}
assert set(SIGN_IN_CHOICES) == set(SIGN_IN_AGES)


def role_names() -> list[tuple[str, str]]:
    return [(role, gettext(ROLE_NAMES[role])) for role in ROLES_OFFERED]


def form_fields(username: str = "") -> AccountFields:
    form = request.form
    return AccountFields(username=username or form.get("username", "")[:100],
                         full_name=form.get("full_name", "")[:300],
                         email=form.get("email", "")[:300], phone=form.get("phone", "")[:60],
                         roles=tuple(r[:40] for r in form.getlist("roles")[:10]),
                         agency_code=form.get("agency", "")[:80])


def version_field() -> int:
    text = request.form.get("version", "")
    return int(text) if text.isdigit() and len(text) < 10 else -1


@pages.get("/admin/accounts")
@auth.login_required(ADMIN)
def admin_accounts() -> Any:
    filters = {name: (request.args.get(name) or "").strip()[:100] for name in FILTERS}
    number = request.args.get("page", "1")
    page = domain().account_admin.page(officer(), page=int(number) if number.isdigit()
                                       and len(number) < 7 else 1, **filters)
    kept = {name: value for name, value in filters.items() if value}
    return render_template("admin/accounts.html", page=page, filters=filters,
                           roles=role_names(), role_label=dict(role_names()),
                           agencies=domain().account_admin.agencies(officer()),
                           sign_in_choices=[(k, gettext(v)) for k, v in SIGN_IN_CHOICES.items()],
                           page_url=lambda n: url_for("pages.admin_accounts", page=n, **kept))


def render_new(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    return render_template("admin/account_new.html", errors=errors or {},
                           field_labels=FIELD_LABELS, values=request.form,
                           chosen_roles=request.form.getlist("roles"), roles=role_names(),
                           agencies=domain().account_admin.agencies(officer())), status


@pages.get("/admin/accounts/new")
@auth.login_required(ADMIN)
def admin_account_new() -> Any:
    return render_new()


@pages.post("/admin/accounts/new")
@auth.login_required(ADMIN)
def admin_account_create() -> Any:
    try:
        secret = domain().account_admin.create(officer(), form_fields())
    except Invalid as exc:
        return render_new(field_messages(exc), 422)
    return render_template("admin/account_secret.html", secret=secret, kind="created")


def render_account(username: str, errors: dict[str, str] | None = None, status: int = 200,
                   values: Any = None) -> Any:
    account = domain().account_admin.account(officer(), username)
    if values is None:
        row = account.row
        values = {"full_name": row.full_name, "email": row.email or "",
                  "phone": account.phone or "", "agency": row.agency_code or ""}
        chosen = row.roles
    else:
        chosen = values.getlist("roles")
    return render_template("admin/account.html", account=account, errors=errors or {},
                           field_labels=FIELD_LABELS, values=values, chosen_roles=chosen,
                           roles=role_names(), role_label=dict(role_names()),
                           agencies=domain().account_admin.agencies(officer())), status


@pages.get("/admin/accounts/<username>")
@auth.login_required(ADMIN)
def admin_account(username: str) -> Any:
    return render_account(username)


@pages.post("/admin/accounts/<username>")
@auth.login_required(ADMIN)
def admin_account_update(username: str) -> Any:
    try:
        domain().account_admin.update(officer(), username, version_field(),
                                      form_fields(username))
    except Invalid as exc:
        return render_account(username, field_messages(exc), 422, values=request.form)
    flash(gettext("The account %(username)s was saved.", username=username), "success")
    return redirect(url_for("pages.admin_account", username=username))


@pages.post("/admin/accounts/<username>/active")
@auth.login_required(ADMIN)
def admin_account_active(username: str) -> Any:
    active = request.form.get("active") == "yes"
    try:
        domain().account_admin.set_active(officer(), username, version_field(), active)
    except Invalid as exc:
        return render_account(username, field_messages(exc), 422)
    flash(gettext("The account %(username)s is enabled.", username=username) if active else
          gettext("The account %(username)s is disabled: its sessions ended and its API "
                  "tokens are refused.", username=username), "success")
    return redirect(url_for("pages.admin_account", username=username))


@pages.post("/admin/accounts/<username>/reset")
@auth.login_required(ADMIN)
def admin_account_reset(username: str) -> Any:
    secret = domain().account_admin.reset_password(officer(), username, version_field())
    return render_template("admin/account_secret.html", secret=secret, kind="reset")


@pages.post("/admin/accounts/<username>/reset-link")
@auth.login_required(ADMIN)
def admin_account_reset_link(username: str) -> Any:
    secret = domain().account_admin.reset_link(officer(), username, version_field())
    return render_template("admin/account_secret.html", secret=secret, kind="link",
                           link=url_for("pages.own_reset_link", token=secret.secret,
                                        _external=True), hours=RESET_LINK_HOURS)


@pages.post("/admin/accounts/<username>/tokens")
@auth.login_required(ADMIN)
def admin_account_token(username: str) -> Any:
    try:
        secret = domain().account_admin.create_token(officer(), username,
                                                     request.form.get("name", "")[:200])
    except Invalid as exc:
        return render_account(username, field_messages(exc), 422)
    return render_template("admin/account_secret.html", secret=secret, kind="token")


@pages.post("/admin/accounts/<username>/tokens/<int:token_id>/revoke")
@auth.login_required(ADMIN)
def admin_account_token_revoke(username: str, token_id: int) -> Any:
    domain().account_admin.revoke_token(officer(), username, token_id)
    flash(gettext("The token was revoked."), "success")
    return redirect(url_for("pages.admin_account", username=username))
