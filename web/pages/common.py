"""What every page shares: the layout's context, sign-in and out, the language switch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import (
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape

from web import auth, i18n
from web.i18n import COOKIE, LANGUAGES, N_, current_language, gettext, say
from web.pages import pages
from workflows.domain import Domain
from workflows.errors import Invalid

# The main navigation: (endpoint, label, roles that see it; empty = every officer).
STAFF_NAV = (
    ("pages.worklist", N_("Tasks"), ()),
    ("pages.cases", N_("Reports"), ()),
    ("pages.board", N_("SLA board"), ("supervisor", "regency_admin", "system_admin")),
    ("pages.dashboard", N_("Dashboard"), ("supervisor", "regency_admin", "system_admin")),
    ("pages.studio_home", N_("Studio"), ("process_designer", "regency_admin")),
    ("pages.posters", N_("QR posters"), ("regency_admin", "liaison_officer")),
    ("pages.admin_home", N_("Administration"), ("system_admin", "regency_admin")),
)
PUBLIC_NAV = (
    ("pages.report_form", N_("File a report")),
    ("pages.track", N_("Track a report")),
    ("pages.public_statistics", N_("Statistics")),
)


def domain() -> Domain:
    return current_app.extensions["aduan.domain"]


def settings() -> Any:
    return current_app.extensions["aduan.settings"]


@dataclass(frozen=True)
class UploadLimits:
    """What one form may send as files, from the regency's settings (RegencyConfig): the
    templates render it into the file inputs' data attributes (static/js/upload-check.js)
    and the 413 page says it."""

    max_files: int
    max_file_bytes: int

    @property
    def max_total_bytes(self) -> int:
        return self.max_files * self.max_file_bytes

    @property
    def file_mb(self) -> int:
        return self.max_file_bytes // (1024 * 1024)

    @property
    def total_mb(self) -> int:
        return self.max_total_bytes // (1024 * 1024)


@pages.app_template_global("upload_limits")
def upload_limits() -> UploadLimits:
    config = domain().config
    return UploadLimits(config.max_attachments, config.max_attachment_bytes)


@pages.app_template_global("sla_badge")
def sla_badge(days_left: float | None, paused: bool = False, due_at: Any = None) -> Markup:
    """The working days left on a deadline, coloured: green, amber (one day or less), red
    (late); grey while paused or when there is none; the deadline as its title. Written in
    Python rather than as a template macro: worklists and the board show fifty a page."""
    timezone, zone_label = i18n.zone()
    return _sla_badge(days_left, bool(paused), due_at, current_language(), timezone,
                      zone_label)


@lru_cache(maxsize=8192)
def _sla_badge(days_left: float | None, paused: bool, due_at: Any, locale: str,
               timezone: str, zone_label: str) -> Markup:
    # A badge is a function of these alone (days left are rounded to a hundredth): kept per
    # process, as the deadlines' words are, since a page repeats the same few hundred.
    words = i18n.translations()[locale]
    if paused:
        return Markup('<span class="badge sla-paused">%s</span>') % words.gettext("paused")
    if days_left is None:
        return Markup('<span class="badge sla-done">—</span>')
    if days_left < 0:
        css, text = "sla-red", words.gettext("%(days)s working days late") % {
            "days": i18n._format_number(-days_left, 1, locale)}
    else:
        css = "sla-amber" if days_left <= 1 else "sla-green"
        text = words.gettext("%(days)s working days left") % {
            "days": i18n._format_number(days_left, 1, locale)}
    due = i18n._format_deadline(due_at, i18n.DEFAULT_DATE_STYLE, True, locale, timezone,
                                zone_label)
    return Markup('<span class="badge %s" title="%s">%s</span>') % (css, due, escape(text))


# The forms with file inputs, and where each came from: the 413 page links back to it.
UPLOAD_FORMS = {
    "pages.report_form": lambda args: url_for("pages.report_form"),
    "pages.track_action": lambda args: url_for("pages.track_report",
                                               tracking=args.get("tracking", "")),
    "pages.case_action": lambda args: url_for("pages.case", tracking=args.get("tracking", "")),
}


def upload_too_large() -> Any:
    """The answer to a form post over MAX_CONTENT_LENGTH (413): nothing was read, so say
    which limits apply and that the browser's Back button returns to the form with the
    typed text still in it (browsers keep form values, never chosen files)."""
    back = None
    link = UPLOAD_FORMS.get(request.endpoint or "")
    if link is not None:
        try:
            back = link(request.view_args or {})
        except Exception:  # noqa: BLE001 - a link we cannot build is left out
            back = None
    return render_template("upload_too_large.html", limits=upload_limits(), back=back), 413


def field_messages(exc: Invalid) -> dict[str, str]:
    """A use case's field errors, in the visitor's language (web/i18n.say)."""
    return {name: say(message) for name, message in (exc.field_errors or {}).items()}


def home_for(principal: Any) -> str:
    if principal.has("process_designer") and not principal.is_officer:
        return url_for("pages.studio_home")
    if principal.has("supervisor", "system_admin") and not principal.has("regency_admin"):
        return url_for("pages.board")
    return url_for("pages.worklist")


@pages.app_context_processor
def layout_context() -> dict[str, Any]:
    principal = auth.current_user() if _in_pages() else None
    nav = []
    if principal is not None:
        nav = [(endpoint, gettext(text)) for endpoint, text, roles in STAFF_NAV
               if not roles or principal.has(*roles)]
    return {
        "user": principal,
        "user_full_name": g.get("user_full_name"),
        "staff_nav": nav,
        "public_nav": [(endpoint, gettext(text)) for endpoint, text in PUBLIC_NAV],
        "regency_name": settings().regency_name,
        "category_labels": CategoryLabels(),
    }


class CategoryLabels(Mapping[str, Any]):
    """The categories' names for the templates (`category_labels.get(code, code)|label`),
    read from the database (workflows/categories.py) when a template first asks."""

    def __init__(self) -> None:
        self._labels: Mapping[str, Any] | None = None

    def _read(self) -> Mapping[str, Any]:
        if self._labels is None:
            self._labels = domain().categories.catalog().labels
        return self._labels

    def __getitem__(self, code: str) -> Any:
        return self._read()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def _in_pages() -> bool:
    return request.blueprint == "pages" or request.blueprint is None


@pages.get("/")
def home() -> Any:
    return render_template("home.html")


@pages.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = auth.safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.current_user() is not None:
            return redirect(target or home_for(auth.current_user()))
        return render_template("login.html", next=target,
                               insecure=auth.secure_cookies_dropped())
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = gettext("Enter your username.")
    if not password:
        errors["password"] = gettext("Enter your password.")
    if errors:
        return render_template("login.html", next=target, errors=errors,
                               username=username), 422
    outcome = auth.attempt_login(username, password)
    if outcome.principal is None:
        if outcome.error == "throttled":
            message = gettext("Too many failed sign-ins from this address. Try again in "
                              "%(minutes)s minutes.", minutes=outcome.retry_minutes)
            status = 429
        elif outcome.error == "locked":
            message = gettext("This account is locked for this address after too many failed "
                              "sign-ins. Try again in %(minutes)s minutes, or ask an "
                              "administrator to unlock it.", minutes=outcome.retry_minutes)
            status = 429
        elif outcome.error == "slowed":
            message = gettext("Too many failed sign-ins to this account from elsewhere. Try "
                              "again in %(minutes)s minutes from here, or sign in from a "
                              "computer you have used before.", minutes=outcome.retry_minutes)
            status = 429
        else:
            message = gettext("The username or password is wrong.")
            status = 401
        return render_template("login.html", next=target, message=message,
                               username=username), status
    # the account's own language from now on (/account), whatever the switch said before
    return language_cookie(make_response(redirect(target or home_for(outcome.principal))),
                           session.get("language") or "id")


@pages.post("/logout")
def logout() -> Any:
    auth.logout()
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("pages.home"))


@pages.get("/language/<code>")
def language(code: str) -> Any:
    """Switch the language and remember it for a year (a cookie, no account needed)."""
    if code not in LANGUAGES:
        code = "id"
    return language_cookie(make_response(redirect(auth.safe_next(request.args.get("next"))
                                                  or url_for("pages.home"))), code)


def language_cookie(response: Any, code: str) -> Any:
    """The response, remembering the language for a year (web/i18n.py reads it first)."""
    response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax",
                        secure=settings().cookie_secure, httponly=True)
    return response
