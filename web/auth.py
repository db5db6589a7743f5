"""Staff sign-in for the pages: sessions, CSRF tokens, and login throttling.

The JSON API authenticates every request by bearer token or tracking secret and never reads
the session cookie, so CSRF applies to the pages only. Sessions are Flask's signed cookies
holding the user id and a fingerprint of the password hash: changing a password or disabling
the account ends every session at its next request.

Throttling is kept in the database (table login_attempt), so it holds across several web
processes: an account is locked for LOCK_MINUTES after MAX_FAILURES_PER_USER failures within
that window (whether or not the username exists, so the answer reveals nothing), and one
address gets HTTP 429 after MAX_FAILURES_PER_ADDRESS failures within it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import delete, func, select

from workflows import access
from workflows.models import LoginAttempt, User
from workflows.users import hash_password, password_matches

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 30
LOCK_MINUTES = 15
SESSION_HOURS = 10
CSRF_FIELD = "csrf_token"
TRACKING_PREFIX = "lacak:"  # login_attempt rows of the tracking form, not of staff sign-in
CSRF_HEADER = "X-CSRFToken"


@dataclass(frozen=True)
class Outcome:
    principal: access.Principal | None
    error: str | None = None  # "invalid", "locked", "throttled"
    retry_minutes: int = 0


@cache
def _dummy_user() -> User:
    """A user with a real hash: an unknown username costs as much time as a known one."""
    return User(password_hash=hash_password(secrets.token_urlsafe(16)), active=False)


def _complaints() -> Any:
    return current_app.extensions["aduan.complaints"]


def _now() -> datetime:
    return _complaints().engine.clock.now()


def _fingerprint(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def client_address() -> str:
    """The caller's address; behind a proxy, configure werkzeug's ProxyFix to trust it."""
    return (request.remote_addr or "unknown")[:64]


def attempt_login(username: str, password: str) -> Outcome:
    username = username.strip()[:80]
    now = _now()
    since = now - timedelta(minutes=LOCK_MINUTES)
    address = client_address()
    service = _complaints()
    with service.session() as db:
        by_address = db.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.address == address, LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
            # citizens' wrong tracking codes (web/pages/public.py) have their own limit
            LoginAttempt.username.not_like(f"{TRACKING_PREFIX}%")))
        if by_address >= MAX_FAILURES_PER_ADDRESS:
            return Outcome(None, "throttled", LOCK_MINUTES)
        failures = db.scalars(select(LoginAttempt.at).where(
            LoginAttempt.username == username, LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False)).order_by(LoginAttempt.at)).all()
        if len(failures) >= MAX_FAILURES_PER_USER:
            unlock = failures[-MAX_FAILURES_PER_USER] + timedelta(minutes=LOCK_MINUTES)
            minutes = max(1, int((unlock - now).total_seconds() // 60) + 1)
            db.add(LoginAttempt(username=username, address=address, at=now, succeeded=False))
            return Outcome(None, "locked", minutes)
        user = db.scalars(select(User).where(User.username == username)).first()
        ok = password_matches(user or _dummy_user(), password) and user is not None and user.active
        db.add(LoginAttempt(username=username, address=address, at=now, succeeded=ok))
        if not ok:
            return Outcome(None, "invalid")
        # A success clears the user's failures, and old rows are pruned as we go.
        db.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                              LoginAttempt.succeeded.is_(False)))
        db.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))
        principal = access.principal_for(db, user, _complaints().config.admin_agency_code)
        fingerprint = _fingerprint(user)
        language = user.language
    session.clear()
    session.permanent = True
    session["uid"] = principal.user_id
    session["fp"] = fingerprint
    session["language"] = language
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return Outcome(principal)


def logout() -> None:
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language


def current_user() -> access.Principal | None:
    """The signed-in officer of this request, or None (loaded once per request)."""
    if "principal" in g:
        return g.principal
    principal = None
    user_id = session.get("uid")
    if user_id is not None:
        with _complaints().read_session() as db:
            user = db.get(User, user_id)
            if user is not None and user.active and hmac.compare_digest(
                    _fingerprint(user), session.get("fp", "")):
                principal = access.principal_for(db, user, _complaints().config.admin_agency_code)
                g.user_full_name = user.full_name
        if principal is None:
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
    if request.blueprint == "api_v1":
        return
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        abort(400, description="csrf")
