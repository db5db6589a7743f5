"""The officer's case page: the report as the use case returns it for this officer, its
evidence, location, deadlines, history, lifecycle diagram and one form per available action.
Each form carries the report's version; a change by someone else in between gets 409 and the
page again, with what was typed kept."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import (
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from web import auth
from web.files import file_response
from web.i18n import N_, format_number, gettext, say
from web.pages import pages
from web.pages.case_forms import forms_html
from web.pages.case_view import history_entries, split_attachments, units_by_agency
from web.pages.common import domain, settings
from web.pages.officers import (
    DISPOSE_KINDS,
    clean,
    grouped,
    officer,
    scoped_agencies,
    task_name,
    units_under_their_agency,
)
from workflows import access
from workflows import diagram_ids as ids
from workflows.actions import ACTIONS, OTHER_ACTIONS
from workflows.desk import NOTE_MAX
from workflows.errors import Conflict, Invalid, NotFound
from workflows.groups import for_complainant
from workflows.images import DISPLAY_EDGE, THUMBNAIL_EDGE
from workflows.reports import NAMED_STEPS
from workflows.sla import STEP_LABELS
from workflows.stats import CHANNEL_LABELS, CLASSIFICATION_LABELS
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
from workflows.validation import ACTION_SCHEMAS

# The officers' verbs, in the order the case page offers them: (title, what it does).
ACTION_TEXTS = {
    "verify": (N_("Verify"), N_(
        "The report is complete and for the regency: it goes on to disposition. The "
        "verification deadline (%(verification)s working days) keeps running until it is "
        "dispositioned.")),
    "dispose": (N_("Dispose to an agency"), N_(
        "Send the report to the agency in charge. The verification deadline stops; the "
        "agency has %(follow_up)s working days to follow up, and the resolution deadline "
        "starts.")),
    "delegate": (N_("Delegate to a unit"), N_(
        "Hand the follow-up to one of your agency's units. The deadlines keep running.")),
    "respond": (N_("Answer"), N_(
        "Post the follow-up for the complainant. A final answer stops the deadlines and "
        "gives the complainant %(complainant_window)s working days to reply; an interim answer "
        "stops the follow-up deadline while the resolution deadline keeps running.")),
    "request_info": (N_("Ask the complainant for information"), N_(
        "The verification deadline pauses. The complainant has %(info_request)s working days to "
        "answer; without an answer the report is archived.")),
    "archive": (N_("Archive"), N_(
        "Close the report without follow-up (spam, unclear, too general). The deadline "
        "stops.")),
    "not_authority": (N_("Not the regency's authority"), N_(
        "Return the report: it belongs to another level of government. The deadline "
        "stops.")),
    "postpone": (N_("Postpone"), N_(
        "Hold the report for now. The verification deadline keeps running.")),
    "resume": (N_("Resume"), N_(
        "Take the postponed report back to disposition.")),
    "reassign": (N_("Reassign"), N_(
        "Move the follow-up to another agency or unit (a wrong disposition). The deadlines "
        "keep running; open escalations of the report are resolved.")),
    "link_duplicate": (N_("Link as a duplicate"), N_(
        "Mark this report as a duplicate of an earlier one. A report still being verified "
        "is archived, linked to the original; nothing is lost.")),
    "reopen": (N_("Reopen"), N_(
        "Send the closed report back to the agency; the follow-up and resolution deadlines "
        "start afresh.")),
}
DONE_TEXTS = {
    "verify": N_("The report is verified."),
    "dispose": N_("The report is dispositioned."),
    "delegate": N_("The report is delegated to the unit."),
    "respond": N_("Your answer is posted."),
    "request_info": N_("The complainant is asked for information."),
    "archive": N_("The report is archived."),
    "not_authority": N_("The report is returned as not the regency's authority."),
    "postpone": N_("The report is postponed."),
    "resume": N_("The report is resumed."),
    "reassign": N_("The follow-up is reassigned."),
    "link_duplicate": N_("The report is linked as a duplicate."),
    "reopen": N_("The report is reopened."),
}
FIELD_LABELS = {
    "note": N_("Note (optional)"),
    "reason": N_("Reason"),
    "refer_to": N_("Refer to (agency or level of government, optional)"),
    "agency_code": N_("Agency"),
    "handler": N_("Who follows it up"),
    "unit_code": N_("Unit"),
    "answer": N_("Answer for the complainant"),
    "final": N_("This is the final answer"),
    "duplicate_of": N_("Tracking number of the original report"),
    "attachments": N_("Attachments (optional)"),
}
FIELD_HINTS = {
    "final": N_("Untick for an interim answer: the report stays in progress."),
    "unit_code": N_("Only when a unit follows it up."),
    "duplicate_of": N_("For example PPU-2026-000001."),
    "attachments": N_("Photos (JPEG, PNG, WebP), PDF or MP4; at most 5 files of 10 MB."),
}
HANDLER_OPTIONS = (("opd", N_("The agency's liaison officer")),
                   ("unit", N_("Straight to one of its units")))
SHORT_TEXT = frozenset({"refer_to", "duplicate_of"})
# Verbs of the complainant; never offered on the officers' pages.
COMPLAINANT_ACTIONS = frozenset({name for name, a in ACTIONS.items() if a.complainant})
OFFICER_ACTIONS = tuple(name for name in ACTION_TEXTS
                        if name in ACTIONS or name in OTHER_ACTIONS)

SLA_STATES = {"running": N_("running"), "paused": N_("paused"), "met": N_("met"),
              "breached": N_("late"), "stopped": N_("stopped")}
SEVERITY_LABELS = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}


TRACKING_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def _tracking(tracking: str) -> str:
    """A tracking number as they are written; anything else cannot exist (404, no query)."""
    if not TRACKING_SHAPE.fullmatch(tracking or ""):
        raise NotFound("this report does not exist")
    return tracking



def _field(action: str, name: str, schema: Mapping[str, Any], required: bool,
           document: Mapping[str, Any], agencies: list[dict[str, Any]],
           principal: access.Principal) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": name, "id": f"f-{action}-{name}", "required": required,
        "label": gettext(FIELD_LABELS.get(name, name)),
        "hint": gettext(FIELD_HINTS[name]) if name in FIELD_HINTS else "",
        "default": schema.get("default"),
    }
    if name in ("agency_code", "unit_code"):
        field["kind"] = "select"
        if action == "dispose" and name == "agency_code":
            choices = [a for a in agencies if a["kind"] in DISPOSE_KINDS]
            field["groups"] = grouped(choices, agencies)
        elif action == "dispose":  # each agency's units; the page shows the chosen one's
            field["groups"], field["group_codes"] = units_by_agency(agencies)
            field["units_of"] = f"f-{action}-agency_code"
        elif action == "delegate":
            holder = (document.get("agency") or {}).get("code")
            units = [a for a in agencies if a["kind"] == "unit" and a["parent"] == holder]
            field["groups"] = grouped(units, agencies)
        else:  # reassign: the agencies (and units) within the officer's reach
            scoped = scoped_agencies(principal, agencies, (*DISPOSE_KINDS, "unit"))
            field["groups"] = units_under_their_agency(scoped, agencies)
        field["empty"] = True  # a "choose" option: nobody disposes by accident
    elif "enum" in schema:
        field["kind"] = "select"
        options = HANDLER_OPTIONS if name == "handler" else [(v, v) for v in schema["enum"]]
        field["groups"] = [("", [(value, gettext(text)) for value, text in options])]
        field["empty"] = False
    elif schema.get("type") == "boolean":
        field["kind"] = "checkbox"
    elif schema.get("type") == "integer":
        field["kind"] = "number"
        field["min"], field["max"] = schema.get("minimum"), schema.get("maximum")
    elif name in SHORT_TEXT or schema.get("maxLength", 5000) < 500 or "maxLength" not in schema:
        field["kind"] = "text"
    else:
        field["kind"] = "textarea"
    return field


def action_forms(document: Mapping[str, Any], agencies: list[dict[str, Any]],
                 principal: access.Principal, routing: Mapping[str, Any] | None = None,
                 budgets: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """A form for each verb this officer may use now, built from its JSON schema; the
    disposition starts from what the routing table suggests; the help texts name the
    working days the deadline table gives each step (`budgets`, by step)."""
    available = set(document.get("available_actions") or []) - COMPLAINANT_ACTIONS
    days = {step: format_number((budgets or {}).get(step)) for step in NAMED_STEPS}
    forms = []
    for action in OFFICER_ACTIONS:
        if action not in available:
            continue
        schema = ACTION_SCHEMAS[action]
        required = set(schema.get("required", []))
        fields = [_field(action, name, spec, name in required, document, agencies, principal)
                  for name, spec in schema.get("properties", {}).items()]
        if action == "respond":
            fields.append({"name": "attachments", "id": f"f-{action}-attachments",
                           "kind": "file", "required": False,
                           "label": gettext(FIELD_LABELS["attachments"]),
                           "hint": gettext(FIELD_HINTS["attachments"])})
        notes: list[str] = []
        if action == "dispose" and routing:
            notes = _routing_notes(routing, agencies)
            for field in fields:
                if field["name"] == "agency_code" and routing.get("agency_code"):
                    field["default"] = routing["agency_code"]
        title, help_text = ACTION_TEXTS[action]
        forms.append({"action": action, "title": gettext(title),
                      "help": gettext(help_text, **days),
                      "fields": fields, "multipart": action == "respond", "notes": notes})
    return forms


def _routing_notes(routing: Mapping[str, Any], agencies: list[dict[str, Any]]) -> list[str]:
    names = {a["code"]: a["name"] for a in agencies}
    notes = []
    if routing.get("agency_code") in names:
        notes.append(gettext("The routing table suggests %(agency)s; it is chosen below.",
                             agency=names[routing["agency_code"]]))
    if routing.get("authority") in ("national", "provincial"):
        notes.append(gettext(
            "The routing table says this report is for the %(level)s government (for "
            "example a national or provincial road): consider “Not the regency's authority”.",
            level=gettext(LEVELS[routing["authority"]])))
    if routing.get("handler_level") == "regional_head":
        notes.append(gettext("The routing table says the regional leadership should oversee "
                             "this report (it alleges misconduct)."))
    return notes


LEVELS = {"national": N_("national"), "provincial": N_("provincial")}


def read_payload(action: str, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The verb's payload from a submitted form (empty optional fields left out)."""
    schema = ACTION_SCHEMAS[action]
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in schema.get("properties", {}).items():
        if spec.get("type") == "boolean":
            payload[name] = form.get(name) in ("1", "on", "true", "yes")
            continue
        value = clean(form.get(name) or "").strip()
        if not value:
            continue
        if spec.get("type") == "integer":
            if not re.fullmatch(r"-?\d{1,9}", value):
                errors[name] = gettext("Enter a whole number.")
                continue
            payload[name] = int(value)
        else:
            payload[name] = value
    if action == "dispose" and payload.get("handler", "opd") != "unit":
        payload.pop("unit_code", None)
    if action == "dispose" and payload.get("handler") == "unit" and "unit_code" not in payload:
        errors["unit_code"] = gettext("Choose the unit that follows it up.")
    return payload, errors


# A use case's field error in the officer's words where the form has better ones, by the
# message's id (its parameters fill them in); every other message is said by web/i18n.say.
# tests/test_i18n.py checks that each key is a message id the use cases or the engine use.
FIELD_WORDS = {
    "name another report": N_("A report cannot duplicate itself: name another report."),
    "link the other way round":
        N_("That report is already a duplicate of this one: link the other way round."),
    "unknown field; remove it": N_("This field is not accepted here."),
    "no active agency has the code %(code)r; see /agencies":
        N_("Choose an agency from the list."),
    "%(unit)s is not a unit of %(agency)s":
        N_("Choose a unit of the agency that holds the report."),
    "%(unit)s is not a unit of this agency":
        N_("Choose a unit of the agency that holds the report."),
    "%(code)s is a %(kind)s": N_("Dispose only to an OPD, BUMD, kecamatan or kelurahan."),
    FILE_EMPTY: N_("%(file)s is empty; attach it again."),
    FILE_TOO_LARGE: N_("%(file)s is larger than %(mb)s MB; send a smaller one."),
    FILE_NOT_ACCEPTED: N_("%(file)s is not a JPEG, PNG or WebP photo, a PDF or an MP4 video."),
    FILE_TOO_MANY_PIXELS: N_("%(file)s is %(megapixels)s megapixels; the limit is "
                             "%(limit)s. Send a smaller copy of the photo."),
    FILE_DAMAGED: N_("%(file)s is damaged or cut short. Save or export it again and attach "
                     "the new file."),
    FILE_TRAILING_DATA: N_("%(file)s carries other data after the end of the picture. Attach "
                           "the photo alone (save it again)."),
    FILE_ACTIVE_PDF: N_("%(file)s contains scripts, actions or embedded files (%(found)s). "
                        "Print it to a new PDF and attach that."),
    "not one of the allowed values": N_("Choose one of the options."),
}

# A refused action in the officer's words, by the Conflict's message id.
SOMEONE_CHANGED = N_("Someone else changed this report since you opened it. The page now shows "
                     "the report as it is; check it and send your form again if it is still "
                     "needed.")
SOMEONE_ACTED = N_("Someone else acted on this report first. The page now shows the report as "
                   "it is.")
CONFLICT_WORDS = {
    "report %(tracking)s was changed by someone else since you opened it (you had version "
    "%(version)s); reload it and try again": SOMEONE_CHANGED,
    "instance %(instance)s changed (version %(version)s, you had %(expected)s); reload it and "
    "try again": SOMEONE_CHANGED,
    "instance %(instance)s was changed by someone else; reload and retry": SOMEONE_CHANGED,
    "report %(tracking)s (%(category)s) needs a photo as evidence before it can be verified; "
    "request information from the complainant (request_info) instead":
        N_("This report needs a photo as evidence before it can be verified. Ask the "
           "complainant for information instead."),
    "task %(task)s is assigned to %(holder)s; ask them, or unassign it first":
        N_("%(holder)s has claimed this task. Ask them, or have it released first."),
    "task %(task)s is not open: it was completed or cancelled (or never existed)": SOMEONE_ACTED,
    "task %(task)s is no longer open; someone else completed it": SOMEONE_ACTED,
    "instance %(instance)s is %(status)s": SOMEONE_ACTED,
    "report %(tracking)s can no longer be reopened (the reopening period has ended); file a "
    "new report": N_("The reopening period has ended; the complainant must file a new report."),
    "%(action)r is not possible while report %(tracking)s is %(status)s":
        N_("This is not possible in the report's current state."),
    "only a closed report can be reopened; %(tracking)s is %(status)s":
        N_("Only a closed report can be reopened."),
}

# A claim or release that lost a race, by the Conflict's message id.


def field_error(name: str, message: str) -> str:
    """A use case's field error in the officer's language."""
    return say(message, FIELD_WORDS)


def _field_errors(exc: Invalid) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in (exc.field_errors or {}).items():
        key = "attachments" if name.startswith("attachments[") else name
        errors.setdefault(key, field_error(key, message))
    return errors


def conflict_message(exc: Conflict) -> str:
    return say(exc.message, CONFLICT_WORDS)


def _photo_url(tracking: str, attachment: Mapping[str, Any], thumb: bool = False) -> str:
    return url_for("pages.case_photo", tracking=tracking, attachment_id=attachment["id"],
                   size="thumb" if thumb else None)


def _task_controls(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's open tasks with their names, and whether each waits for the complainant
    (what the officer may do with each, may_claim and may_release, is the domain's)."""
    return [{**task, "name": task_name(task["element_id"], task["title"]),
             "complainant": for_complainant(task["candidate_groups"])}
            for task in document.get("open_tasks") or []]


def render_case(tracking: str, *, status: int = 200, open_action: str | None = None,
                values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
                message: str | None = None, note: str = "", note_error: str | None = None
                ) -> Any:
    """The case page; any other status than 200 answers a form's POST, and the page puts
    the case's own address back in the address bar (static/js/address.js)."""
    principal = officer()
    case = domain().reports.case(_tracking(tracking), principal)
    document, agencies, routing = case.document, case.agencies, case.routing
    photos, files = split_attachments(document.get("attachments") or [])
    location = document.get("location") or {}
    tasks = _task_controls(document)
    held_by_other = [t for t in tasks if not t["complainant"] and t["assignee"]
                     and t["assignee"] != principal.username
                     and set(t["candidate_groups"]) & principal.groups]
    forms = [f for f in action_forms(document, agencies, principal, routing, case.budgets)
             if not (f["action"] == "verify" and case.needs_photo)]
    return render_template(
        "staff/case.html", doc=document, photos=photos, files=files, location=location,
        forms=forms, forms_html=forms_html(forms, document, values or {}, errors or {},
                                           open_action),
        needs_photo=case.needs_photo, colleagues=case.colleagues, note=note,
        note_error=note_error, note_max=NOTE_MAX, history=history_entries(document, agencies),
        tasks=tasks,
        held_by_other=held_by_other, open_action=open_action, values=values or {},
        errors=errors or {}, message=message, settings=settings(),
        classification_labels=CLASSIFICATION_LABELS,
        channel_labels=CHANNEL_LABELS, severity_labels=SEVERITY_LABELS,
        step_labels=STEP_LABELS, sla_states=SLA_STATES,
        status_labels=ids.STATUS_LABELS,
        photo_url=_photo_url, hidden=HIDDEN_TEXT,
        next_url=url_for("pages.case", tracking=document["tracking_number"]),
    ), status


HIDDEN_TEXT = access.HIDDEN


@pages.get("/cases/<tracking>")
@auth.login_required()
def case(tracking: str) -> Any:
    return render_case(tracking)


@pages.post("/cases/<tracking>/actions/<action>")
@auth.login_required()
def case_action(tracking: str, action: str) -> Any:
    principal = officer()
    if action not in ACTION_TEXTS:
        raise NotFound(f"unknown action {action!r}")
    _tracking(tracking)
    form = request.form
    payload, errors = read_payload(action, form)
    values = {key: form.get(key, "") for key in form if key != "csrf_token"}
    version_text = form.get("version", "")
    if not version_text.isdigit():
        return render_case(tracking, status=422, open_action=action, values=values,
                           errors=errors, message=gettext(
                               "The form is incomplete (the report's version is missing). "
                               "Reload the page and try again."))
    uploads: list[Upload] = []
    if action == "respond":
        files = [f for f in request.files.getlist("attachments") if f.filename]
        limit = domain().config.max_attachments
        if len(files) > limit:
            errors["attachments"] = gettext("Attach at most %(n)s files.", n=limit)
        else:
            uploads = [Upload(f.filename or "file", f.read()) for f in files]
    if errors:
        return render_case(tracking, status=422, open_action=action, values=values,
                           errors=errors)
    try:
        domain().reports.act(tracking, action, payload, principal, uploads,
                             expected_version=int(version_text))
    except Invalid as exc:
        found = _field_errors(exc) or {"(form)": say(exc.message)}
        return render_case(tracking, status=422, open_action=action, values=values,
                           errors=found)
    except NotFound as exc:
        duplicate = payload.get("duplicate_of")
        if action == "link_duplicate" and duplicate and exc.message.params.get(
                "tracking") == duplicate:
            return render_case(tracking, status=422, open_action=action, values=values,
                               errors={"duplicate_of": gettext(
                                   "No report has this tracking number.")})
        raise
    except Conflict as exc:
        return render_case(tracking, status=409, open_action=action, values=values,
                           message=conflict_message(exc))
    flash(gettext(DONE_TEXTS[action]), "success")
    return redirect(url_for("pages.case", tracking=tracking), 303)


@pages.get("/cases/<tracking>/diagram.json")
@auth.login_required()
def case_diagram(tracking: str) -> Any:
    response = jsonify(domain().reports.diagram(_tracking(tracking), officer()))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@pages.get("/cases/<tracking>/attachments/<int:attachment_id>/photo")
@auth.login_required()
def case_photo(tracking: str, attachment_id: int) -> Any:
    edge = THUMBNAIL_EDGE if request.args.get("size") == "thumb" else DISPLAY_EDGE
    shown = domain().reports.attachment_display(_tracking(tracking), attachment_id, officer(),
                                                edge=edge)
    return file_response(shown, inline=True, cache="private, max-age=3600")


@pages.get("/cases/<tracking>/attachments/<int:attachment_id>/download")
@auth.login_required()
def case_download(tracking: str, attachment_id: int) -> Any:
    """The file as uploaded, or the photo without its metadata where the officer may not
    have it (an `anonim` report's, for the agencies)."""
    return file_response(domain().reports.attachment(_tracking(tracking), attachment_id,
                                                     officer()))
