"""Everyone signed in: their own account (docs/administrators.md, "Your own account"): the
password and the language, over workflows/own_account.py; and the one-time link an
administrator made to choose a new password (no sign-in needed: the link is the key).

An account whose password was reset must change it first: every page of the blueprint leads
to /account/password until it is done (`password_first`)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, make_response, redirect, render_template, request, session, url_for

from web import auth
from web.i18n import N_, gettext
from web.pages import pages
from web.pages.accounts import role_names
from web.pages.common import domain, field_messages, language_cookie
from web.pages.officers import officer
from workflows.errors import Invalid, NotFound

# What an account that must change its password may still open.
ALLOWED_FIRST = frozenset({"pages.own_password", "pages.own_password_change", "pages.logout",
                           "pages.language", "pages.login", "pages.own_reset_link",
                           "pages.own_reset_link_use"})
FIELD_LABELS = {"current_password": N_("Current password"),
                "new_password": N_("New password"),
                "repeat_password": N_("New password again"), "language": N_("Language")}
LANGUAGE_NAMES = (("id", "Bahasa Indonesia"), ("en", "English"))


@pages.before_request
def password_first() -> Any:
    if request.endpoint in ALLOWED_FIRST or request.endpoint is None:
        return None
    if auth.current_user() is not None and g.get("must_change_password"):
        return redirect(url_for("pages.own_password"))
    return None


@pages.get("/account")
@auth.login_required()
def own_account() -> Any:
    return render_template("account/own.html", account=domain().own_account.view(officer()),
                           languages=LANGUAGE_NAMES, role_label=dict(role_names()))


def render_password(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    return render_template("account/password.html", errors=errors or {},
                           field_labels=FIELD_LABELS,
                           forced=bool(g.get("must_change_password"))), status


@pages.get("/account/password")
@auth.login_required()
def own_password() -> Any:
    return render_password()


@pages.post("/account/password")
@auth.login_required()
def own_password_change() -> Any:
    form = request.form
    try:
        new_fingerprint = domain().own_account.change_password(
            officer(), current=form.get("current_password", "")[:1000],
            new=form.get("new_password", "")[:1000],
            repeated=form.get("repeat_password", "")[:1000], session_id=session.get("sid"),
            address=auth.client_address())
    except Invalid as exc:
        return render_password(field_messages(exc), 422)
    session["fp"] = new_fingerprint  # this session goes on; the account's others ended
    flash(gettext("Your password was changed. Your other sessions were signed out."),
          "success")
    return redirect(url_for("pages.own_account"))


@pages.post("/account/language")
@auth.login_required()
def own_language() -> Any:
    try:
        language = domain().own_account.set_language(officer(),
                                                     request.form.get("language", "")[:10])
    except Invalid as exc:
        return render_template("account/own.html", account=domain().own_account.view(officer()),
                               languages=LANGUAGE_NAMES, role_label=dict(role_names()),
                               errors=field_messages(exc)), 422
    session["language"] = language
    response = language_cookie(make_response(redirect(url_for("pages.own_account"))), language)
    g.language = language
    flash(gettext("The language of your pages was saved."), "success")
    return response


def render_link(token: str, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    try:
        username = domain().own_account.link_holder(token)
    except NotFound:
        return render_template("account/reset_link.html", username=None), 404
    return render_template("account/reset_link.html", username=username, token=token,
                           errors=errors or {}, field_labels=FIELD_LABELS), status


@pages.get("/account/reset/<token>")
def own_reset_link(token: str) -> Any:
    """A one-time link to choose a new password (no sign-in: the link is the key)."""
    return render_link(token)


@pages.post("/account/reset/<token>")
def own_reset_link_use(token: str) -> Any:
    try:
        domain().own_account.set_password_by_link(
            token, new=request.form.get("new_password", "")[:1000],
            repeated=request.form.get("repeat_password", "")[:1000])
    except Invalid as exc:
        return render_link(token, field_messages(exc), 422)
    except NotFound:
        return render_link(token)
    auth.logout()  # whoever was signed in on this browser
    flash(gettext("Your new password is set. Sign in with it."), "success")
    return redirect(url_for("pages.login"))
