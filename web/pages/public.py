"""The citizen's pages, no account needed: file a report, its receipt, track and answer it.

- /lapor (GET, POST): the report form. `?via=qr` marks the channel "qr" (a QR poster), and
  may prefill `lat`, `lon`, `alamat`, `kelurahan`, `kecamatan`. A filing is
  POST-redirect-GET to the receipt.
- /lapor/terima/<tracking>: the receipt. The secret travels from the POST to this page in
  the session and is shown once; a reload shows the number only.
- /lacak (GET, POST): tracking number + secret code. /lacak/<tracking>?k=<secret> (the
  private link) checks the secret, remembers the report in the session and redirects to the
  clean /lacak/<tracking>, so the secret stays neither in the history nor in a Referer.
- /lacak/<tracking>: status, deadline, answers, timeline, evidence and the complainant's
  actions (provide_info, reply, rate, reopen), each a POST to /lacak/<tracking>/aksi/<action>.
- /lacak/<tracking>/foto/<id>[/kecil]: a photo's display copy (upright, no GPS or other
  metadata; workflows/images.py); /lacak/<tracking>/berkas/<id>: a document or video.

The session (a signed, HttpOnly cookie that lasts while the browser is open) holds the
tracking numbers this browser has proven it may open, never the secret itself (except the
one moment between the filing and its receipt). Wrong numbers and wrong codes get the same
answer; failures are counted per address in the login_attempt table (usernames "lacak:...").
Every page here is sent with Referrer-Policy: no-referrer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import (
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from web import auth
from web.i18n import N_, current_language, gettext, label, say
from web.pages import pages
from web.pages.common import domain, settings
from workflows import access
from workflows import diagram_ids as ids
from workflows.errors import Conflict, Invalid, NotFound, TooManyAttempts
from workflows.images import DISPLAY_EDGE, PHOTO_TYPES, THUMBNAIL_EDGE
from workflows.reports import TRACKING_SHAPE, ReportForm, Tracked
from workflows.stats import CATEGORY_LABELS
from workflows.storage import FILE_EMPTY, FILE_NOT_ACCEPTED, FILE_TOO_LARGE, Upload
from workflows.validation import CATEGORIES

SESSION_REPORTS = "pelapor"  # tracking numbers this browser may open
SESSION_RECEIPT = "tanda_terima"  # {"tracking", "secret"}: shown once on the receipt
REMEMBERED = 10
SECRET_PARAM = "k"  # noqa: S105 - the query parameter of the private link
REOPEN_DAYS = ids.REOPEN_WINDOW_DAYS  # the lifecycle waits this long after closing
ACCEPTED_FILES = "image/jpeg,image/png,image/webp,application/pdf,video/mp4,.jpg,.jpeg,.png," \
                 ".webp,.pdf,.mp4"

CLASSIFICATIONS = (
    ("pengaduan", N_("Complaint (pengaduan)"),
     N_("A public service is not working as it should: a broken road, rubbish not collected, "
        "a counter that asks for money.")),
    ("aspirasi", N_("Suggestion (aspirasi)"),
     N_("An idea or a request to improve a service or a public place.")),
    ("permintaan_informasi", N_("Information request (permintaan informasi)"),
     N_("You want to know something from the regency: requirements, schedules, budgets.")),
)

# What each status means for the person who filed the report.
STATUS_HELP = {
    ids.STATUS_SUBMITTED: N_("Your report has been received. The regency administrator checks "
                             "it and sends it to the agency in charge within 3 working days."),
    ids.STATUS_VERIFIED: N_("Your report has been checked and is about to be sent to the "
                            "agency in charge."),
    ids.STATUS_NEEDS_INFO: N_("The regency administrator needs more information from you "
                              "before the report can go further. Please add it below."),
    ids.STATUS_ARCHIVED: N_("Your report was archived and will not be followed up. The reason "
                            "is in the history below."),
    ids.STATUS_RETURNED: N_("This matter is not the regency's authority. The reason, and where "
                            "to turn, are in the history below."),
    ids.STATUS_POSTPONED: N_("Handling of your report has been postponed. The reason is in "
                             "the history below."),
    ids.STATUS_DISPOSED: N_("Your report has been sent to the agency in charge, which must "
                            "follow it up."),
    ids.STATUS_IN_PROGRESS: N_("The agency in charge is working on your report."),
    ids.STATUS_RESPONDED: N_("The agency has answered. Read the answer and tell us whether "
                             "the problem is solved."),
    ids.STATUS_CLOSED: N_("This report is closed."),
}

# The reasons the lifecycle writes itself, in words for the complainant (officers' own
# reasons are shown as they wrote them).
REASONS = {
    "information provided": N_("You added the information that was asked for."),
    "interim answer": N_("The agency gave an interim answer."),
    "final answer": N_("The agency gave its final answer."),
    "accepted": N_("You accepted the answer."),
    "unsatisfied": N_("You said the problem is not solved."),
    "auto": N_("Closed automatically: there was no reply within the time allowed."),
    "no answer": N_("Archived: the information asked for did not arrive in time."),
    "resumed": N_("Handling has resumed."),
    "reopened": N_("The report was reopened."),
}

EVENT_TITLES = {
    "submitted": N_("Report received"),
    "assigned": N_("Handled by %(agency)s"),
    "provide_info": N_("You added information"),
    "respond": N_("Answer from the agency"),
    "reply": N_("You said the problem is not solved"),
    "rate": N_("You accepted the answer"),
    "link_duplicate": N_("Linked to another report"),
}
# Their reason is repeated by the status change that follows.
SKIPPED_EVENTS = frozenset({"archive", "not_authority"})

# The complainant's verbs: (form fields, success message).
CITIZEN_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "provide_info": (("information",), N_("Thank you: your information has been added.")),
    "reply": (("comment",), N_("Your reply has been sent: the agency will follow it up "
                               "again.")),
    "rate": (("rating", "comment"), N_("Thank you for your rating: the report is closed.")),
    "reopen": (("reason",), N_("The report has been reopened and goes back to the agency.")),
}

FIELD_LABELS = {
    "classification": N_("Type of report"),
    "category": N_("Category"),
    "title": N_("Title"),
    "body": N_("What happened"),
    "incident_date": N_("Date of the incident"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "address": N_("Address or landmark"),
    "kelurahan": N_("Kelurahan / desa"),
    "kecamatan": N_("Kecamatan"),
    "attachments": N_("Photos and documents"),
    "misconduct": N_("Misconduct by an official"),
    "reporter_name": N_("Your name"),
    "reporter_email": N_("E-mail"),
    "reporter_phone": N_("Phone or WhatsApp number"),
    "information": N_("The information asked for"),
    "comment": N_("Comment"),
    "rating": N_("Your rating"),
    "reason": N_("Why do you reopen the report?"),
    "tracking_number": N_("Tracking number"),
    "secret": N_("Secret code"),
}

# What to do when the use case refuses a field (its own words are for API clients).
FIELD_HELP = {
    "classification": N_("Choose the type of report."),
    "category": N_("Choose a category."),
    "title": N_("Write a short title of 5 to 200 characters."),
    "body": N_("Describe what happened in 10 to 5,000 characters."),
    "incident_date": N_("Enter a real date (day, month, year) that is not in the future."),
    "latitude": N_("Enter the latitude as a number between -90 and 90, for example -1.2538."),
    "longitude": N_("Enter the longitude as a number between -180 and 180, for example "
                    "116.8305."),
    "address": N_("The address may be at most 300 characters long."),
    "kelurahan": N_("The kelurahan may be at most 100 characters long."),
    "kecamatan": N_("The kecamatan may be at most 100 characters long."),
    "misconduct": N_("Only a complaint (pengaduan) can report misconduct by an official."),
    "reporter_name": N_("Write your name, or tick \"Report anonymously\"."),
    "reporter_email": N_("Enter an e-mail address such as nama@contoh.id, or leave it empty."),
    "reporter_phone": N_("Enter a phone number of 6 to 20 digits, such as 0812 3456 7890, or "
                         "leave it empty."),
    "information": N_("Write the information asked for (at most 5,000 characters)."),
    "comment": N_("Write a comment of at most 5,000 characters."),
    "rating": N_("Choose a rating from 1 to 5."),
    "reason": N_("Write why you reopen the report (at most 5,000 characters)."),
}
REQUIRED_TEXT = {
    "reply": {"comment": N_("Tell the agency what is still wrong.")},
    "provide_info": {"information": N_("Write the information asked for.")},
    "reopen": {"reason": N_("Write why you reopen the report.")},
}


def no_referrer(view: Callable[..., Any]) -> Callable[..., Any]:
    """These pages carry tracking numbers and secrets: never send them on as a Referer."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response = make_response(view(*args, **kwargs))
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper


# --------------------------------------------------------------------------- the session


def remembered() -> list[str]:
    value = session.get(SESSION_REPORTS)
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def remember(tracking: str) -> None:
    """This browser has shown the report's secret (or filed it): it may open it."""
    kept = [t for t in remembered() if t != tracking]
    session[SESSION_REPORTS] = [tracking, *kept][:REMEMBERED]


def forget(tracking: str) -> None:
    session[SESSION_REPORTS] = [t for t in remembered() if t != tracking]


def normalise_tracking(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "").upper()[:60]


def complainant_or_404(tracking: str) -> access.Principal:
    """The complainant of a report this browser may open; anyone else: not found."""
    if tracking not in remembered():
        abort(404)
    return access.complainant(tracking)


# --------------------------------------------------------------------------- the secret


def not_found_message() -> str:
    """One answer for an unknown number and a wrong code: it reveals nothing."""
    return gettext("We found no report with this tracking number and secret code. Check both "
                   "against your receipt.")


def open_with_secret(tracking: str, secret: str) -> tuple[str, int] | None:
    """None when the secret opens the report (now remembered), else (message, status).
    Wrong codes are counted per address (workflows/throttle.py)."""
    try:
        domain().reports.open_report(tracking, secret, auth.client_address())
    except TooManyAttempts as exc:
        return gettext("Too many wrong attempts from this address. Try again in %(minutes)s "
                       "minutes.", minutes=exc.retry_minutes), 429
    except NotFound:
        return not_found_message(), 404
    remember(tracking)
    return None


# --------------------------------------------------------------------------- form reading


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def parse_number(text: str) -> float | None:
    """'-1.2538' or '-1,2538'; None when it is not a number."""
    text = text.strip().replace(" ", "")
    if "." not in text:
        text = text.replace(",", ".")
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", text):
        return None
    return float(text)


def read_point(lat_text: str, lon_text: str) -> tuple[dict[str, float], dict[str, str]]:
    """Latitude and longitude from form strings: both, or neither."""
    point: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name, text, limit in (("latitude", lat_text, 90), ("longitude", lon_text, 180)):
        if not text:
            continue
        value = parse_number(text)
        if value is None or abs(value) > limit:
            errors[name] = gettext(FIELD_HELP[name])
        else:
            point[name] = value
    if not errors and len(point) == 1:
        missing = "longitude" if "latitude" in point else "latitude"
        errors[missing] = gettext("Give both latitude and longitude, or leave both empty.")
    return point, errors


def read_report_form(form: Mapping[str, str], today: date
                     ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(the use case's payload, the values to show again, errors found while converting).

    Strings become the schema's types: checkboxes booleans, coordinates numbers, empty
    strings are left out (the use case then says what is required).
    """
    values: dict[str, Any] = {name: _text(form, name) for name in (
        "classification", "category", "title", "body", "incident_date", "latitude",
        "longitude", "address", "kelurahan", "kecamatan", "reporter_name", "reporter_email",
        "reporter_phone")}
    for flag in ("anonymous", "confidential", "misconduct"):
        values[flag] = form.get(flag) in ("1", "on", "true", "yes")
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        name: values[name] for name in (
            "classification", "category", "title", "body", "address", "kelurahan",
            "kecamatan", "reporter_name", "reporter_email") if values[name]}
    if values["reporter_phone"]:
        # "(0542) 123-456" and "0812.3456.7890" are numbers too
        payload["reporter_phone"] = re.sub(r"[().]", "", values["reporter_phone"]).strip()
    payload["anonymous"] = values["anonymous"]
    payload["confidential"] = values["confidential"]
    # The misconduct box shows for complaints only: a box ticked before switching to another
    # type is not the citizen's claim.
    payload["misconduct"] = values["misconduct"] and values["classification"] == "pengaduan"
    if values["incident_date"]:
        try:
            incident = date.fromisoformat(values["incident_date"])
        except ValueError:
            errors["incident_date"] = gettext(FIELD_HELP["incident_date"])
        else:
            if incident > today:
                errors["incident_date"] = gettext(FIELD_HELP["incident_date"])
            else:
                payload["incident_date"] = incident.isoformat()
    if not values["anonymous"] and not values["reporter_name"]:
        # the use case says so too, but only once the schema is satisfied: say it at once
        errors["reporter_name"] = gettext(FIELD_HELP["reporter_name"])
    point, point_errors = read_point(values["latitude"], values["longitude"])
    payload.update(point)
    errors.update(point_errors)
    return payload, values, errors


def read_uploads() -> list[Upload]:
    """The chosen files; an empty file input sends one nameless, empty part: not a file."""
    found = []
    for item in request.files.getlist("attachments"):
        if not item or not item.filename:
            continue
        found.append(Upload(item.filename, item.read()))
    return found


def file_errors(uploads: list[Upload]) -> dict[str, str]:
    """The use case's checks of the files (count, size, content), as the form words them."""
    config = domain().config
    if len(uploads) > config.max_attachments:
        return {"attachments": gettext("Attach at most %(n)s files; you chose %(chosen)s.",
                                       n=config.max_attachments, chosen=len(uploads))}
    try:
        domain().reports.check_uploads(uploads)
    except Invalid as exc:
        return translate_errors(exc, {})
    return {}


# A refused file in the form's words (workflows/storage.py: the field error's id; its
# parameters name the file and the limit).
FILE_WORDS = {
    FILE_EMPTY: N_("%(file)s is empty. Choose the file again."),
    FILE_TOO_LARGE: N_("%(file)s is larger than %(mb)s MB. Choose a smaller file."),
    FILE_NOT_ACCEPTED: N_("%(file)s is not a photo (JPEG, PNG, WebP), a PDF or an MP4 video."),
}


def translate_errors(exc: Invalid, values: Mapping[str, Any],
                     required: Mapping[str, str] | None = None) -> dict[str, str]:
    """The use case's field errors in the visitor's words, with what to do; an error that
    names no field is said in the visitor's language too (web/i18n.say)."""
    errors: dict[str, str] = {}
    for key, message in (exc.field_errors or {}).items():
        if key.startswith("attachments"):
            errors.setdefault("attachments", say(message, FILE_WORDS))
        elif required and key in required and not values.get(key):
            errors[key] = gettext(required[key])
        elif key == "reporter_name" and values.get("reporter_name"):
            errors[key] = gettext("Your name may be at most 200 characters long.")
        elif key in FIELD_HELP:
            errors[key] = gettext(FIELD_HELP[key])
        else:
            errors[key] = say(message)
    if not errors:
        errors["form"] = say(exc.message)
    return errors


# --------------------------------------------------------------------------- /lapor


def render_report_form(form: ReportForm, values: Mapping[str, Any],
                       errors: Mapping[str, str] | None = None, via: str = "web",
                       notice: str | None = None, files_dropped: bool = False,
                       status: int = 200) -> Any:
    config = domain().config
    site = settings()
    categories = [(key, CATEGORY_LABELS.get(key, {"id": key, "en": key})) for key in CATEGORIES]
    order = list(FIELD_LABELS)
    errors = dict(sorted((errors or {}).items(), key=lambda item: order.index(item[0])
                         if item[0] in order else len(order)))
    return render_template(
        "public/report_form.html", values=values, errors=errors, via=via,
        notice=notice, files_dropped=files_dropped, classifications=CLASSIFICATIONS,
        categories=categories, places=form.places, field_labels=FIELD_LABELS,
        tile_url=site.tile_url, tile_attribution=site.tile_attribution,
        map_center=f"{site.map_center[0]},{site.map_center[1]}",
        max_files=config.max_attachments,
        max_mb=config.max_attachment_bytes // (1024 * 1024), accepted_files=ACCEPTED_FILES,
        today=form.today.isoformat(),
    ), status


def qr_prefill(args: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """What a QR poster's link says about the place: lat, lon, alamat, kelurahan, kecamatan."""
    values: dict[str, Any] = {}
    notice = None
    lat, lon = (args.get("lat") or "").strip(), (args.get("lon") or "").strip()
    if lat or lon:
        point, errors = read_point(lat, lon)
        if errors or len(point) != 2:
            notice = gettext("The place in the QR code could not be read. Tap the place on the "
                             "map or type the address.")
        else:
            values["latitude"] = f"{point['latitude']:.6f}"
            values["longitude"] = f"{point['longitude']:.6f}"
    for param, name, limit in (("alamat", "address", 300), ("kelurahan", "kelurahan", 100),
                               ("kecamatan", "kecamatan", 100)):
        text = (args.get(param) or "").strip()
        if text:
            values[name] = text[:limit]
    return values, notice


@pages.route("/lapor", methods=["GET", "POST"])
@no_referrer
def report_form() -> Any:
    via = "qr" if request.values.get("via") == "qr" else "web"
    form = domain().reports.report_form()
    if request.method == "GET":
        values, notice = qr_prefill(request.args) if via == "qr" else ({}, None)
        return render_report_form(form, values, via=via, notice=notice)
    payload, values, errors = read_report_form(request.form, form.today)
    uploads = read_uploads()
    if not errors:
        try:
            receipt = domain().reports.submit(payload, uploads, channel=via,
                                              language=current_language())
        except Invalid as exc:
            errors = translate_errors(exc, values)
            if "attachments" not in errors:
                errors.update(file_errors(uploads))
        else:
            tracking = receipt["tracking_number"]
            remember(tracking)
            session[SESSION_RECEIPT] = {"tracking": tracking, "secret": receipt["secret"]}
            return redirect(url_for("pages.receipt", tracking=tracking), 303)
    else:
        # Say everything at once: what the use case would refuse too, files included.
        try:
            domain().reports.check_submission(payload)
        except Invalid as exc:
            errors = {**translate_errors(exc, values), **errors}
        errors.update(file_errors(uploads))
        errors.pop("form", None)
    return render_report_form(form, values, errors, via=via, files_dropped=bool(uploads),
                              status=422)


@pages.get("/lapor/terima/<tracking>")
@no_referrer
def receipt(tracking: str) -> Any:
    tracking = normalise_tracking(tracking)
    principal = complainant_or_404(tracking)
    secret = None
    shown = session.get(SESSION_RECEIPT)
    if isinstance(shown, dict) and shown.get("tracking") == tracking:
        secret = shown.get("secret")
        session.pop(SESSION_RECEIPT, None)
    document = domain().reports.get(tracking, principal)
    link = url_for("pages.track_report", tracking=tracking, _external=True,
                   **{SECRET_PARAM: secret}) if secret else None
    return render_template("public/receipt.html", tracking=tracking, secret=secret,
                           link=link, document=document)


# --------------------------------------------------------------------------- /lacak


def split_pasted(tracking_text: str, secret_text: str) -> tuple[str, str]:
    """Whoever pastes the whole private link into either box still gets in."""
    for text in (secret_text, tracking_text):
        if "/lacak/" in text:
            parts = urlsplit(text.strip())
            found = parse_qs(parts.query).get(SECRET_PARAM)
            number = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if found:
                return number, found[0]
    return tracking_text, secret_text


@pages.route("/lacak", methods=["GET", "POST"])
@no_referrer
def track() -> Any:
    if request.method == "GET":
        return render_template("public/track.html",
                               tracking=normalise_tracking(request.args.get("nomor")),
                               errors={})
    tracking_text, secret = split_pasted(_text(request.form, "tracking_number"),
                                         _text(request.form, "secret"))
    tracking = normalise_tracking(tracking_text)
    errors = {}
    if not tracking:
        errors["tracking_number"] = gettext("Enter the tracking number from your receipt.")
    elif not TRACKING_SHAPE.match(tracking):
        errors["tracking_number"] = gettext("Write the tracking number as on your receipt, "
                                            "for example PPU-2026-000123.")
    if not secret:
        errors["secret"] = gettext("Enter the secret code from your receipt.")
    if errors:
        return render_template("public/track.html", tracking=tracking, errors=errors), 422
    refused = open_with_secret(tracking, secret)
    if refused is not None:
        message, status = refused
        return render_template("public/track.html", tracking=tracking, errors={},
                               message=message), status
    return redirect(url_for("pages.track_report", tracking=tracking), 303)


def tracking_page(tracking: str, tracked: Tracked, *,
                  form_errors: Mapping[str, str] | None = None, form_action: str | None = None,
                  form_values: Mapping[str, Any] | None = None, alert: str | None = None,
                  status: int = 200) -> Any:
    document = tracked.document
    view = TrackingView(tracked)
    location = document.get("location") or {}
    return render_template(
        "public/track_report.html", tracking=tracking, doc=document, view=view,
        has_point=location.get("latitude") is not None
        and location.get("longitude") is not None, tile_url=settings().tile_url,
        tile_attribution=settings().tile_attribution, reopen_days=REOPEN_DAYS,
        form_errors=dict(form_errors or {}), form_action=form_action,
        form_values=dict(form_values or {}), alert=alert, field_labels=FIELD_LABELS,
        max_files=domain().config.max_attachments,
        max_mb=domain().config.max_attachment_bytes // (1024 * 1024),
        accepted_files=ACCEPTED_FILES), status


@pages.get("/lacak/<tracking>")
@no_referrer
def track_report(tracking: str) -> Any:
    tracking = normalise_tracking(tracking)
    secret = request.args.get(SECRET_PARAM)
    if secret is not None:
        refused = open_with_secret(tracking, secret)
        if refused is not None:
            message, status = refused
            return render_template("public/track.html", tracking=tracking, errors={},
                                   message=message), status
        return redirect(url_for("pages.track_report", tracking=tracking), 303)
    if tracking not in remembered():
        return redirect(url_for("pages.track", nomor=tracking))
    principal = access.complainant(tracking)
    return tracking_page(tracking, domain().reports.track(tracking, principal))


def read_action(action: str, form: Mapping[str, str]
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    fields, _message = CITIZEN_ACTIONS[action]
    values = {name: _text(form, name) for name in fields}
    payload: dict[str, Any] = {name: value for name, value in values.items() if value}
    errors: dict[str, str] = {}
    for name, text in REQUIRED_TEXT.get(action, {}).items():
        if not values.get(name):
            errors[name] = gettext(text)
    if action == "rate":
        rating = values.get("rating", "")
        if rating not in ("1", "2", "3", "4", "5"):
            errors["rating"] = gettext(FIELD_HELP["rating"])
            payload.pop("rating", None)
        else:
            payload["rating"] = int(rating)
    return payload, values, errors


@pages.post("/lacak/<tracking>/aksi/<action>")
@no_referrer
def track_action(tracking: str, action: str) -> Any:
    tracking = normalise_tracking(tracking)
    if action not in CITIZEN_ACTIONS:
        abort(404)
    principal = complainant_or_404(tracking)
    payload, values, errors = read_action(action, request.form)
    uploads = read_uploads() if action == "provide_info" else []
    if not errors:
        try:
            domain().reports.act(tracking, action, payload, principal, uploads)
        except Invalid as exc:
            errors = translate_errors(exc, values, REQUIRED_TEXT.get(action))
        except Conflict:
            tracked = domain().reports.track(tracking, principal)
            return tracking_page(tracking, tracked,
                                 alert=conflict_message(action, tracked.document), status=409)
        else:
            flash(gettext(CITIZEN_ACTIONS[action][1]), "success")
            return redirect(url_for("pages.track_report", tracking=tracking), 303)
    elif uploads:
        errors.update(file_errors(uploads))
    tracked = domain().reports.track(tracking, principal)
    return tracking_page(tracking, tracked, form_errors=errors, form_action=action,
                         form_values={**values, "files_dropped": bool(uploads)}, status=422)


def conflict_message(action: str, document: Mapping[str, Any]) -> str:
    if action == "reopen" and document["status"] == ids.STATUS_CLOSED:
        return gettext("The %(days)s days for reopening this report have passed. If the "
                       "problem is back, please file a new report.", days=REOPEN_DAYS)
    return gettext("This is no longer possible: the report changed in the meantime (its "
                   "status is now \"%(status)s\"). The page shows it as it is now.",
                   status=label(document["status_label"]))


@pages.post("/lacak/<tracking>/tutup")
@no_referrer
def track_forget(tracking: str) -> Any:
    """Close the report on this device (a shared phone or a kiosk at the kelurahan)."""
    forget(normalise_tracking(tracking))
    flash(gettext("The report is closed on this device. Open it again with its private link "
                  "or secret code."), "info")
    return redirect(url_for("pages.track"), 303)


def _attachment_id(text: str) -> int:
    if not text.isdigit() or len(text) > 15:
        abort(404)
    return int(text)


@pages.get("/lacak/<tracking>/foto/<attachment_id>")
@no_referrer
def track_photo(tracking: str, attachment_id: str) -> Any:
    """A photo as the page shows it: upright, scaled, with no location or other metadata."""
    return _photo(tracking, attachment_id, DISPLAY_EDGE)


@pages.get("/lacak/<tracking>/foto/<attachment_id>/kecil")
@no_referrer
def track_thumbnail(tracking: str, attachment_id: str) -> Any:
    return _photo(tracking, attachment_id, THUMBNAIL_EDGE)


def _photo(tracking: str, attachment_id: str, edge: int) -> Any:
    tracking = normalise_tracking(tracking)
    principal = complainant_or_404(tracking)
    row, data, content_type = domain().reports.attachment_display(
        tracking, _attachment_id(attachment_id), principal, edge)
    response = Response(data, mimetype=content_type)
    extension = "png" if content_type == "image/png" else "jpg"
    response.headers["Content-Disposition"] = (
        f'inline; filename="{row.filename.rsplit(".", 1)[0]}.{extension}"')
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@pages.get("/lacak/<tracking>/berkas/<attachment_id>")
@no_referrer
def track_file(tracking: str, attachment_id: str) -> Any:
    """A document or video, as uploaded. Photos only ever leave as display copies."""
    tracking = normalise_tracking(tracking)
    principal = complainant_or_404(tracking)
    row, content = domain().reports.attachment(tracking, _attachment_id(attachment_id),
                                               principal)
    if row.content_type in PHOTO_TYPES:
        abort(404)
    response = Response(content, mimetype=row.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{row.filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- the view


class TrackingView:
    """What the tracking page shows, worked out from the complainant's view of the report."""

    def __init__(self, tracked: Tracked) -> None:
        doc = tracked.document
        self.doc = doc
        self.status_help = gettext(STATUS_HELP.get(doc["status"], STATUS_HELP[
            ids.STATUS_SUBMITTED]))
        history = doc.get("history") or []
        self.timeline = [entry for entry in (self._entry(e) for e in history) if entry]
        self.answers = [e for e in history if e["kind"] == "respond" and e.get("text")]
        self.info_request = next((e.get("text") for e in reversed(history)
                                  if e["kind"] == "status"
                                  and e.get("status_to") == ids.STATUS_NEEDS_INFO), None)
        attachments = doc.get("attachments") or []
        self.photos = [a for a in attachments if a["content_type"] in PHOTO_TYPES]
        self.files = [a for a in attachments if a["content_type"] not in PHOTO_TYPES]
        self.actions = [a for a in doc.get("available_actions", []) if a in CITIZEN_ACTIONS
                        and (a != "reopen" or tracked.may_reopen)]
        self.reopen_until = tracked.reopen_until
        self.sla = doc.get("sla")

    def _entry(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        kind = event["kind"]
        text = event.get("text")
        if kind in SKIPPED_EVENTS:
            return None
        if kind == "status":
            title = gettext("Status: %(status)s", status=label(event.get("status_label")))
            if text and text.startswith("disposed to "):
                text = None
            elif text in REASONS:
                text = gettext(REASONS[text])
        elif kind == "assigned":
            title = gettext(EVENT_TITLES[kind], agency=text or "")
            text = None
        elif kind in EVENT_TITLES:
            title = gettext(EVENT_TITLES[kind])
        else:
            title = gettext("Update")
        return {"at": event["at"], "kind": kind, "title": title, "text": text}
