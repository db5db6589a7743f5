"""Nearby open reports on the report form, and "me too" (workflows/nearby.py).

- GET /lapor/nearby?lat=&lon=&category= (public, JSON): at most 10 open reports of the
  category within 500 m, nearest first: tracking number, title, status, distance. Bad
  parameters: 400 naming each field; too many lookups from one address: 429.
- POST /lapor/nearby/<tracking>/me-too (the session's CSRF token, as a form field or the
  X-CSRF-Token header): count the citizen once; with `phone` or `email`, they follow it.
- /lapor/berhenti/<token> (GET asks, POST stops): a follower's link to stop a report's news.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import jsonify, render_template, request, session

from web import auth
from web.i18n import current_language, say
from web.pages import pages
from web.pages.common import domain
from web.pages.public import normalise_tracking, parse_number
from workflows.errors import Invalid, NotFound, TooManyAttempts

SESSION_CITIZEN = "me_too_citizen"  # the browser session's token, for a citizen giving nothing


def refused(exc: Invalid) -> Any:
    fields = {name: say(message) for name, message in exc.field_errors.items()}
    return jsonify(error={"message": say(exc.message), "field_errors": fields}), 400


def too_many(exc: TooManyAttempts) -> Any:
    response = jsonify(error={"message": say(exc.message)})
    response.headers["Retry-After"] = str(exc.retry_minutes * 60)
    return response, 429


@pages.get("/lapor/nearby")
def nearby_reports() -> Any:
    lat_text = (request.args.get("lat") or "").strip()[:40]
    lon_text = (request.args.get("lon") or "").strip()[:40]
    category = (request.args.get("category") or "").strip()[:40]
    try:
        found = domain().nearby.find(parse_number(lat_text) if lat_text else None,
                                     parse_number(lon_text) if lon_text else None, category,
                                     auth.client_address(), current_language())
    except Invalid as exc:
        return refused(exc)
    except TooManyAttempts as exc:
        return too_many(exc)
    response = jsonify(reports=found)
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.post("/lapor/nearby/<tracking>/me-too")
def me_too(tracking: str) -> Any:
    token = session.get(SESSION_CITIZEN)
    if not isinstance(token, str):
        token = session[SESSION_CITIZEN] = secrets.token_urlsafe(24)
    try:
        result = domain().nearby.me_too(normalise_tracking(tracking), request.form, token,
                                        current_language())
    except Invalid as exc:
        return refused(exc)
    except NotFound:
        return jsonify(error={"message": say("report not found")}), 404
    return jsonify(result)


@pages.route("/lapor/berhenti/<token>", methods=["GET", "POST"])
def stop_following(token: str) -> Any:
    """The link in a follower's e-mails: GET asks, POST stops (a link opened by a mail
    scanner changes nothing)."""
    token = token[:64]
    try:
        if request.method == "POST":
            tracking = domain().following.stop_by_token(token)
            return render_template("public/stop_following.html", tracking=tracking,
                                   stopped=True)
        tracking = domain().following.followed_by_token(token)
    except NotFound:
        return render_template("public/stop_following.html", tracking=None,
                               stopped=False), 404
    return render_template("public/stop_following.html", tracking=tracking, stopped=False)
