"""The complainant's tracking pages, no account needed.

- /lacak (GET, POST): tracking number + secret code. /lacak/<tracking>?k=<secret> (the
  private link) checks the secret, remembers the report in the session and redirects to the
  clean /lacak/<tracking>, so the secret stays neither in the history nor in a Referer.
- /lacak/<tracking>: status, deadline, answers, timeline, evidence and the complainant's
  actions (provide_info, reply, rate, reopen), each a POST to /lacak/<tracking>/aksi/<action>.
- /lacak/<tracking>/foto/<id>[/kecil]: a photo's display copy (upright, no GPS or other
  metadata; workflows/images.py); /lacak/<tracking>/berkas/<id>: a document or video.

Wrong numbers and wrong codes get the same answer; failures are counted per address
(workflows/throttle.py). Every page here is sent with Referrer-Policy: no-referrer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from web import auth
from web.files import file_response
from web.i18n import N_, gettext, label
from web.pages import pages
from web.pages.case_view import sent_with_answers, split_attachments
from web.pages.common import domain, settings
from web.pages.public import (
    ACCEPTED_FILES,
    FIELD_HELP,
    FIELD_LABELS,
    SECRET_PARAM,
    complainant_or_404,
    file_errors,
    forget,
    no_referrer,
    normalise_tracking,
    read_uploads,
    remember,
    remembered,
    text_of,
    told_by,
    translate_errors,
)
from workflows import access
from workflows import diagram_ids as ids
from workflows.errors import Conflict, Invalid, NotFound, TooManyAttempts
from workflows.images import DISPLAY_EDGE, PHOTO_TYPES, THUMBNAIL_EDGE
from workflows.reports import TRACKING_SHAPE, Tracked

REOPEN_DAYS = ids.REOPEN_WINDOW_DAYS  # the lifecycle waits this long after closing

STATUS_HELP = {
    ids.STATUS_SUBMITTED: N_("Your report has been received. The regency administrator checks "
                             "it and sends it to the agency in charge within 3 working days."),
    ids.STATUS_VERIFIED: N_("Your report has been checked and is about to be sent to the "
                            "agency in charge."),
    ids.STATUS_NEEDS_INFO: N_("The regency administrator needs more information from you "
                              "before the report can go further. Please add it below."),
    ids.STATUS_ARCHIVED: N_("Your report was archived and will not be followed up. The reason "
                            "is in the history below."),
    ids.STATUS_RETURNED: N_("This matter is not the regency's authority. The reason is in the "
                            "history below; where to turn, when the administrator named it, "
                            "is shown here."),
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
    "reassigned": N_("Moved to %(agency)s"),
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

REQUIRED_TEXT = {
    "reply": {"comment": N_("Tell the agency what is still wrong.")},
    "provide_info": {"information": N_("Write the information asked for.")},
    "reopen": {"reason": N_("Write why you reopen the report.")},
}



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
    tracking_text, secret = split_pasted(text_of(request.form, "tracking_number"),
                                         text_of(request.form, "secret"))
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
    return opened(tracking, secret)


def opened(tracking: str, secret: str) -> Any:
    """The clean tracking page when the secret opens the report, else the form again with
    why not (the same words for an unknown number and a wrong code)."""
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
        return opened(tracking, secret)
    if tracking not in remembered():
        return redirect(url_for("pages.track", nomor=tracking))
    principal = access.complainant(tracking)
    return tracking_page(tracking, domain().reports.track(tracking, principal))


def read_action(action: str, form: Mapping[str, str]
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    fields, _message = CITIZEN_ACTIONS[action]
    values = {name: text_of(form, name) for name in fields}
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
    shown = domain().reports.attachment_display(tracking, _attachment_id(attachment_id),
                                                principal, edge)
    return file_response(shown, inline=True, cache="private, max-age=3600")


@pages.get("/lacak/<tracking>/berkas/<attachment_id>")
@no_referrer
def track_file(tracking: str, attachment_id: str) -> Any:
    """A document or video, as uploaded. Photos only ever leave as display copies."""
    tracking = normalise_tracking(tracking)
    principal = complainant_or_404(tracking)
    served = domain().reports.attachment(tracking, _attachment_id(attachment_id), principal)
    if served.photo:
        abort(404)
    return file_response(served)


# --------------------------------------------------------------------------- the view


class TrackingView:
    """What the tracking page shows, worked out from the complainant's view of the report."""

    def __init__(self, tracked: Tracked) -> None:
        doc = tracked.document
        self.doc = doc
        self.status_help = gettext(STATUS_HELP.get(doc["status"], STATUS_HELP[
            ids.STATUS_SUBMITTED]))
        channels = told_by(doc)
        self.replies_help = gettext(
            "We tell you of each change by %(channels)s.", channels=channels) if channels \
            else gettext("No messages are sent for this report: check this page for changes.")
        history = doc.get("history") or []
        self.timeline = [entry for entry in (self._entry(e) for e in history) if entry]
        # each answer with the photos and files the agency sent with it
        sent = sent_with_answers(history, doc.get("attachments") or [])
        self.answers = [{**e, "photos": [a for a in sent.get(i, [])
                                         if a["content_type"] in PHOTO_TYPES],
                         "files": [a for a in sent.get(i, [])
                                   if a["content_type"] not in PHOTO_TYPES]}
                        for i, e in enumerate(history)
                        if e["kind"] == "respond" and e.get("text")]
        self.info_request = next((e.get("text") for e in reversed(history)
                                  if e["kind"] == "status"
                                  and e.get("status_to") == ids.STATUS_NEEDS_INFO), None)
        self.photos, self.files = split_attachments(doc.get("attachments") or [])
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
        elif kind == "reassigned":
            title = gettext(EVENT_TITLES[kind], agency=text or "")
            text = gettext("The report had been sent to the wrong agency, so a supervisor "
                           "moved it. This agency follows it up from now on, within the same "
                           "deadlines.")
        elif kind in EVENT_TITLES:
            title = gettext(EVENT_TITLES[kind])
        else:
            title = gettext("Update")
        return {"at": event["at"], "kind": kind, "title": title, "text": text}
