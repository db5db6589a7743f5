"""The citizen's pages, no account needed: the report form and its receipt, and what the
tracking pages (web/pages/tracking.py) share with them.

- /lapor (GET, POST): the report form. `?poster=<code>` opens it through a QR poster
  (workflows/posters.py): the scan is counted, the poster's agency is named and its place
  and coordinates filled in, the channel is "qr" and the filing is counted on the poster.
  `?via=qr` marks the channel "qr" too, and may prefill `lat`, `lon`, `alamat`,
  `kelurahan`, `kecamatan`. A filing is
  POST-redirect-GET to the receipt.
- /lapor/terima/<tracking>: the receipt. The secret travels from the POST to this page in
  the session and is shown once; a reload shows the number only.

The session (a signed, HttpOnly cookie that lasts while the browser is open) holds the
tracking numbers this browser has proven it may open, never the secret itself (except the
one moment between the filing and its receipt). Every page here is sent with
Referrer-Policy: no-referrer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import wraps
from typing import Any

from flask import (
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from web.i18n import N_, current_language, gettext, say
from web.pages import pages
from web.pages.common import domain, settings
from workflows import access
from workflows.errors import Invalid
from workflows.reports import ReportForm
from workflows.storage import (
    FILE_ACTIVE_PDF,
    FILE_DAMAGED,
    FILE_EMPTY,
    FILE_NOT_ACCEPTED,
    FILE_TOO_LARGE,
    FILE_TOO_MANY_PIXELS,
    FILE_TRAILING_DATA,
    Upload,
)

SESSION_REPORTS = "pelapor"  # tracking numbers this browser may open
SESSION_RECEIPT = "tanda_terima"  # {"tracking", "secret"}: shown once on the receipt
REMEMBERED = 10
SECRET_PARAM = "k"  # noqa: S105 - the query parameter of the private link
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
    "contact_channel": N_("How we tell you"),
    "information": N_("The information asked for"),
    "comment": N_("Comment"),
    "rating": N_("Your rating"),
    "reason": N_("Why do you reopen the report?"),
    "tracking_number": N_("Tracking number"),
    "secret": N_("Secret code"),
}

# How a receipt names the channels a citizen is told by (workflows/notify.py).
REPLY_CHANNEL_NAMES = {"email": N_("e-mail"), "sms": N_("SMS"), "whatsapp": N_("WhatsApp")}

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
    "contact_channel": N_("To be told by SMS or WhatsApp, enter your phone number; to be "
                          "told by e-mail, enter your e-mail address."),
    "information": N_("Write the information asked for (at most 5,000 characters)."),
    "comment": N_("Write a comment of at most 5,000 characters."),
    "rating": N_("Choose a rating from 1 to 5."),
    "reason": N_("Write why you reopen the report (at most 5,000 characters)."),
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



# --------------------------------------------------------------------------- form reading


def text_of(form: Mapping[str, str], name: str) -> str:
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
    values: dict[str, Any] = {name: text_of(form, name) for name in (
        "classification", "category", "title", "body", "incident_date", "latitude",
        "longitude", "address", "kelurahan", "kecamatan", "reporter_name", "reporter_email",
        "reporter_phone", "contact_channel")}
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
        # the choice matters only with a phone number (an e-mail address is always used)
        if values["contact_channel"]:
            payload["contact_channel"] = values["contact_channel"]
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
    FILE_TOO_MANY_PIXELS: N_("%(file)s is %(megapixels)s megapixels; the limit is "
                             "%(limit)s. Send a smaller copy (your phone's share or resize "
                             "option makes one)."),
    FILE_DAMAGED: N_("%(file)s is damaged or cut short. Save it again and choose the new "
                     "file."),
    FILE_TRAILING_DATA: N_("%(file)s carries other data after the end of the picture (a "
                           "moving photo, or something hidden in it). Choose a plain photo, "
                           "or a screenshot of it."),
    FILE_ACTIVE_PDF: N_("%(file)s contains scripts, actions or embedded files (%(found)s). "
                        "Print it to a new PDF, or take a photo of the paper, and choose that."),
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


def told_by(document: Mapping[str, Any]) -> str:
    """The channels the citizen is really told by, in words ("SMS and e-mail"); empty when
    none is set up or they gave no way to be reached."""
    return gettext(" and ").join(gettext(REPLY_CHANNEL_NAMES[channel])
                                 for channel in document.get("replies") or [])


# --------------------------------------------------------------------------- /lapor


def render_report_form(form: ReportForm, values: Mapping[str, Any],
                       errors: Mapping[str, str] | None = None, via: str = "web",
                       notice: str | None = None, files_dropped: bool = False,
                       status: int = 200, poster: Any = None, poster_code: str = "",
                       prefilled: str | None = None) -> Any:
    """The report form. `prefilled` says what a QR poster's link filled in, for the notice:
    "point" (coordinates: the map shows the place), "address" (only words), None."""
    config = domain().config
    site = settings()
    categories = [(category.code, category.label) for category in form.categories]
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
        today=form.today.isoformat(), poster=poster, poster_code=poster_code,
        prefilled=prefilled,
        contact_choices=[
            ("sms", gettext("SMS")), ("whatsapp", gettext("WhatsApp")),
            ("email", gettext("E-mail only"))],
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


def poster_prefill(code: str) -> tuple[dict[str, Any], Any]:
    """A scanned poster (counted as a scan): its place as form values, and the poster."""
    poster = domain().posters.scan(code)
    if poster is None:
        return {}, None
    values: dict[str, Any] = {}
    if poster.latitude is not None and poster.longitude is not None:
        values["latitude"] = f"{poster.latitude:.6f}"
        values["longitude"] = f"{poster.longitude:.6f}"
    if poster.place_name:
        values["address"] = poster.place_name[:300]
    return values, poster


@pages.route("/lapor", methods=["GET", "POST"])
@no_referrer
def report_form() -> Any:
    poster_code = (request.values.get("poster") or "").strip()[:40]
    via = "qr" if request.values.get("via") == "qr" or poster_code else "web"
    form = domain().reports.report_form()
    if request.method == "GET":
        values: dict[str, Any] = {}
        notice = poster = None
        if poster_code:
            values, poster = poster_prefill(poster_code)
            if poster is None:
                notice = gettext("This QR code is not known (any more). You can still file "
                                 "your report: tap the place on the map or type the address.")
        elif via == "qr":
            values, notice = qr_prefill(request.args)
        prefilled = ("point" if values.get("latitude") and values.get("longitude")
                     else "address" if values.get("address") else None)
        return render_report_form(form, values, via=via, notice=notice, poster=poster,
                                  poster_code=poster_code if poster else "",
                                  prefilled=prefilled)
    payload, values, errors = read_report_form(request.form, form.today)
    uploads = read_uploads()
    if not errors:
        try:
            receipt = domain().reports.submit(payload, uploads, channel=via,
                                              language=current_language(),
                                              poster=poster_code or None)
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
                              status=422, poster_code=poster_code)


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
                           link=link, document=document, told_by=told_by(document))
