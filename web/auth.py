"""Staff sign-in for the pages: sessions and CSRF tokens.

The JSON API authenticates every request by bearer token or tracking secret and never reads
the session cookie, so CSRF applies to the pages only. Sessions are Flask's signed cookies
holding a session id the server keeps (workflows/sessions.py) and a fingerprint of the password
hash: signing out ends the session on the server, so a copy of the cookie opens nothing
afterwards; a new password or a disabled account ends every session of the account.

Signing in and its throttling are the domain's (workflows/accounts.py, workflows/throttle.py:
counted in the database, so they hold across several web processes).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for

from web import serving
from workflows import access, accounts
from workflows.accounts import AccountLocked, AccountSlowed, InvalidCredentials
from workflows.errors import TooManyAttempts

SESSION_HOURS = accounts.SESSION_HOURS
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
CSRF_HEADERS = (CSRF_HEADER, "X-CSRF-Token")  # the studio's modeler script sends the second


@dataclass(frozen=True)
class Outcome:
    principal: access.Principal | None
    error: str | None = None  # "invalid", "locked", "slowed", "throttled"
    retry_minutes: int = 0


def _domain() -> Any:
    return current_app.extensions["aduan.domain"]


def client_address() -> str:
    """The caller's address: behind reverse proxies, the one they were told by the client
    (ADUAN_PROXY_HOPS: web/app.py trusts that many X-Forwarded-For entries)."""
    return (request.remote_addr or "unknown")[:64]


def attempt_login(username: str, password: str) -> Outcome:
    """Sign in (workflows.accounts.Accounts.sign_in) and start the officer's session."""
    try:
        signed = _domain().accounts.sign_in(username, password, client_address())
    except TooManyAttempts as exc:
        error = ("locked" if isinstance(exc, AccountLocked) else
                 "slowed" if isinstance(exc, AccountSlowed) else "throttled")
        return Outcome(None, error, exc.retry_minutes)
    except InvalidCredentials:
        return Outcome(None, "invalid")
    _domain().accounts.sign_out(session.get("sid"))  # a session signed in over is done
    session.clear()
    session.permanent = True
    session["sid"] = signed.session_id
    session["fp"] = signed.fingerprint
    session["language"] = signed.language
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return Outcome(signed.principal)


def logout() -> None:
    """End the session on the server (the cookie, or a copy of it, opens nothing more)."""
    _domain().accounts.sign_out(session.get("sid"))
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


def current_user() -> access.Principal | None:
    """The signed-in officer of this request, or None (loaded once per request)."""
    if "principal" in g:
        return g.principal
    principal = None
    session_id = session.get("sid")
    if session_id is not None:
        found = _domain().accounts.session_user(session_id, session.get("fp", ""))
        if found is not None:
            principal = found.principal
            g.user_full_name = found.full_name
            g.must_change_password = found.must_change_password
            if request.method in ("GET", "HEAD"):  # a read: the count cannot move after it
                g.unread_notifications = found.unread
        else:
            session.clear()
    g.principal = principal
    return principal


def login_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Officers only (and, if given, one of these roles); others go to /login or get 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_user()
            if principal is None:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if not principal.is_officer and not principal.has("process_designer"):
                abort(403)
            if roles and not principal.has(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


# --------------------------------------------------------------------------- CSRF


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing request to the pages carries the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.blueprint == "api_v1" or request.path.startswith("/api/"):
        return  # the API authenticates by header, never by cookie; an unknown route is 404
    if request.blueprint == "open311":
        return  # Open311 clients authenticate by api_key, never by cookie
    if request.blueprint in ("sms", "whatsapp"):
        return  # gateways authenticate by a shared secret or a signature, never by cookie
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or next(
        (request.headers[name] for name in CSRF_HEADERS if request.headers.get(name)), None)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        dropped = (current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
                   and secure_cookies_dropped())
        # "csrf_http": no reload helps, the browser drops the cookie (web/app.error_page)
        abort(400, description="csrf_http" if dropped else "csrf")


def secure_cookies_dropped() -> bool:
    """Browsers keep no Secure cookie from a plain-HTTP site other than this machine's own
    address (web/serving.py): with ADUAN_COOKIE_SECURE on, sign-in and forms cannot work."""
    return bool(current_app.config.get("SESSION_COOKIE_SECURE") and not request.is_secure
                and not serving.is_loopback(request.host or ""))
