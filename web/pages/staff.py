"""The officers' pages: the worklist, the reports they may see, and the case page.

- /tasks: the officer's open tasks (their groups' tasks: claimed by them, or by nobody, or
  everyone's with `show=all`), filtered by task type, overdue and a search, sorted by the
  working days left. Claim and release are plain POST forms (htmx swaps the row in place).
- /cases: the reports the officer may see (`Complaints.list`), filtered, searched, paged.
- /cases/<tracking>: the report as `Complaints.get` returns it for this officer, its
  evidence, location, deadlines, history, lifecycle diagram and one form per available
  action. Each form carries the report's version; a change by someone else in between
  gets 409 and the page again, with what was typed kept.
- /cases/<tracking>/diagram.json: the BPMN XML and element states for static/js/diagram.js.
- /cases/<tracking>/attachments/<id>/photo[?size=thumb] and .../download: evidence.

Visibility, permissions and every change go through the use cases (workflows.reports,
workflows.tasks); the domain also says which buttons each task may show (may_claim,
may_release); the use cases check again when one is pressed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from web import auth
from web.i18n import N_, format_when, gettext, label, say
from web.pages import pages
from web.pages.common import domain, settings, sla_badge
from workflows import access
from workflows import diagram_ids as ids
from workflows.actions import ACTIONS, OTHER_ACTIONS
from workflows.errors import Conflict, Invalid, NotFound
from workflows.groups import for_complainant
from workflows.images import DISPLAY_EDGE, PHOTO_TYPES, THUMBNAIL_EDGE
from workflows.sla import STEP_LABELS
from workflows.stats import CATEGORY_LABELS, CHANNEL_LABELS, CLASSIFICATION_LABELS
from workflows.storage import FILE_EMPTY, FILE_NOT_ACCEPTED, FILE_TOO_LARGE, Upload
from workflows.validation import ACTION_SCHEMAS

PAGE_SIZE = 25
SEARCH_MAX = 100
ACCEPTED_FILES = "image/jpeg,image/png,image/webp,application/pdf,video/mp4,.jpg,.jpeg,.png," \
                 ".webp,.pdf,.mp4"

# Task names in both languages (the diagram names them in Indonesian).
TASK_NAMES = {
    ids.SCREEN_REPORT: N_("Verify the report"),
    ids.DISPOSE_REPORT: N_("Dispose the report"),
    ids.RESUME_REPORT: N_("Resume the postponed report"),
    ids.FOLLOW_UP: N_("Follow up the report"),
    ids.UNIT_FOLLOW_UP: N_("Follow up the report (unit)"),
    ids.PROVIDE_INFORMATION: N_("Complainant adds information"),
    ids.REVIEW_ANSWER: N_("Complainant reviews the answer"),
}

# The officers' verbs, in the order the case page offers them: (title, what it does).
ACTION_TEXTS = {
    "verify": (N_("Verify"), N_(
        "The report is complete and for the regency: it goes on to disposition. The "
        "verification deadline (3 working days) keeps running until it is dispositioned.")),
    "dispose": (N_("Dispose to an agency"), N_(
        "Send the report to the agency in charge. The verification deadline stops; the "
        "agency has 5 working days to follow up, and the resolution deadline starts.")),
    "delegate": (N_("Delegate to a unit"), N_(
        "Hand the follow-up to one of your agency's units. The deadlines keep running.")),
    "respond": (N_("Answer"), N_(
        "Post the follow-up for the complainant. A final answer stops the deadlines and "
        "gives the complainant 10 working days to reply; an interim answer stops the "
        "follow-up deadline while the resolution deadline keeps running.")),
    "request_info": (N_("Ask the complainant for information"), N_(
        "The verification deadline pauses. The complainant has 10 working days to answer; "
        "without an answer the report is archived.")),
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

EVENT_LABELS = {
    "submitted": N_("Report filed"),
    "status": N_("Status changed"),
    "assigned": N_("Assigned"),
    "verify": N_("Verified"),
    "archive": N_("Archived"),
    "request_info": N_("Information requested"),
    "provide_info": N_("Information added by the complainant"),
    "not_authority": N_("Returned: not the regency's authority"),
    "postpone": N_("Postponed"),
    "resume": N_("Resumed"),
    "dispose": N_("Dispositioned"),
    "delegate": N_("Delegated"),
    "respond": N_("Answered"),
    "reply": N_("Complainant not satisfied"),
    "rate": N_("Complainant rated the answer"),
    "reopen": N_("Reopened"),
    "link_duplicate": N_("Duplicate linked"),
    "reassign": N_("Reassigned"),
}
SLA_STATES = {"running": N_("running"), "paused": N_("paused"), "met": N_("met"),
              "breached": N_("late"), "stopped": N_("stopped")}
SHOW_FILTERS = (("", N_("Mine and unclaimed")), ("mine", N_("Claimed by me")),
                ("unclaimed", N_("Unclaimed")), ("all", N_("All of my groups")))
SORTS = (("deadline", N_("Deadline first")), ("newest", N_("Newest task first")))
SEVERITY_LABELS = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}
DISPOSE_KINDS = ("opd", "bumd", "kecamatan", "kelurahan")


def _principal() -> access.Principal:
    principal = auth.current_user()
    assert principal is not None  # login_required ran first
    return principal


def task_name(element_id: str, title: str | None = None) -> str:
    text = TASK_NAMES.get(element_id)
    return gettext(text) if text else (title or element_id)


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# --------------------------------------------------------------------------- worklist


WORKLIST_PAGE_SIZE = 50


@pages.get("/tasks")
@auth.login_required()
def worklist() -> Any:
    return render_worklist(request.args)


def render_worklist(args: Mapping[str, str], message: str | None = None, status: int = 200
                    ) -> Any:
    """One page of the officer's tasks (WORKLIST_PAGE_SIZE rows), filtered and sorted by the
    database (workflows.tasks.Tasks.worklist_page)."""
    principal = _principal()
    show = args.get("show", "")
    show = show if show in dict(SHOW_FILTERS) else ""
    kind = args.get("type", "")
    kind = kind if kind in TASK_NAMES else ""
    overdue = args.get("overdue", "") in ("1", "on", "true", "yes")
    q = _clean(args.get("q", "")).strip()[:SEARCH_MAX]
    sort = args.get("sort", "deadline")
    sort = sort if sort in dict(SORTS) else "deadline"
    page_arg = (args.get("page") or "1").strip()
    page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) <= 100000 else 1
    found = domain().tasks.worklist_page(principal, show=show, kind=kind, overdue=overdue, q=q,
                                    sort=sort, limit=WORKLIST_PAGE_SIZE,
                                    offset=(page - 1) * WORKLIST_PAGE_SIZE)
    kinds = sorted(found["kinds"], key=lambda e: task_name(e))
    kind = found["kind"]
    pages_total = max(1, -(-found["matching"] // WORKLIST_PAGE_SIZE))
    params = {k: v for k, v in {"show": show, "type": kind, "overdue": "1" if overdue else "",
                                "q": q, "sort": "" if sort == "deadline" else sort}.items()
              if v}
    return render_template(
        "staff/worklist.html", rows=shown_rows(found["rows"], principal),
        total=found["counts"]["all"],
        matching=found["matching"], counts=found["counts"], page=page,
        pages_total=pages_total, first=(page - 1) * WORKLIST_PAGE_SIZE + 1,
        params=params, show=show, kind=kind, overdue=overdue, q=q, sort=sort,
        show_filters=[(k, gettext(t)) for k, t in SHOW_FILTERS],
        sorts=[(k, gettext(t)) for k, t in SORTS],
        kinds=[(k, task_name(k)) for k in kinds], message=message,
        next_url=url_for("pages.worklist", **params, page=page if page > 1 else None)), status


def shown_rows(rows: list[dict[str, Any]], principal: access.Principal
               ) -> list[dict[str, Any]]:
    """The worklist's rows with what each shows worked out here, once per page, rather
    than by the template's filters and calls (fifty rows a page): the SLA badge, the
    deadline, the links, the task's name, the status, who holds it, what the officer may
    do and the button's label."""
    case_href = url_for("pages.case", tracking="__ID__").split("__ID__")
    claim_href = url_for("pages.claim_task", task_id="__ID__").split("__ID__")
    release_href = url_for("pages.release_task", task_id="__ID__").split("__ID__")
    claim_of, release_of = gettext("Claim the task of %(tracking)s"), gettext(
        "Release the task of %(tracking)s")
    shown = []
    for row in rows:
        tracking, task_id, assignee = row["tracking_number"], row["task_id"], row["assignee"]
        if row["may_claim"]:
            action, href, aria = "claim", claim_href, claim_of
        elif row["may_release"]:
            action, href, aria = "release", release_href, release_of
        else:
            action, href, aria = None, None, None
        shown.append({
            **row,
            "badge": sla_badge(row["working_days_left"], row["paused"], row["due_at"]),
            "due_short": format_when(row["due_at"], "short") if row["due_at"] else "",
            "case_href": f"{case_href[0]}{quote(tracking, safe='')}{case_href[1]}",
            "task_label": task_name(row["element_id"], row["title"]),
            "status_text": label(row["status_label"]),
            "mine": assignee is not None and assignee == principal.username,
            "action": action,
            "action_href": f"{href[0]}{quote(task_id, safe='')}{href[1]}" if href else None,
            "action_label": aria % {"tracking": tracking} if aria else None,
        })
    return shown


def _task_row(task_id: str) -> dict[str, Any] | None:
    rows = domain().tasks.worklist_page(_principal(), show="all", task_id=task_id,
                                        limit=1)["rows"]
    return rows[0] if rows else None


def _back() -> str:
    return auth.safe_next(request.form.get("next")) or url_for("pages.worklist")


def _after_claim(task_id: str, message: str, error: bool = False) -> Any:
    """The answer to a claim or release: the row again (htmx) or back where it came from."""
    if _htmx():
        row = _task_row(task_id)
        return render_template("staff/_task_row_swap.html",
                               row=shown_rows([row], _principal())[0] if row else None,
                               task_id=task_id, message=message, error=error,
                               next_url=_back())
    flash(message, "success")
    return redirect(_back(), 303)


def _claim_conflict(exc: Conflict) -> str:
    return say(exc.message, CLAIM_WORDS)


@pages.post("/tasks/<task_id>/claim")
@auth.login_required()
def claim_task(task_id: str) -> Any:
    try:
        domain().tasks.claim(task_id, _principal())
    except Conflict as exc:
        return _claim_failed(task_id, _claim_conflict(exc))
    return _after_claim(task_id, gettext("You claimed the task. Others in your group see it "
                                         "as yours."))


@pages.post("/tasks/<task_id>/release")
@auth.login_required()
def release_task(task_id: str) -> Any:
    try:
        domain().tasks.release(task_id, _principal())
    except Conflict as exc:
        return _claim_failed(task_id, _claim_conflict(exc))
    return _after_claim(task_id, gettext("The task is released: anyone in its group may take "
                                         "it."))


def _claim_failed(task_id: str, message: str) -> Any:
    """Someone else was first: 409 with the page the officer came from, as it is now."""
    if _htmx():  # htmx swaps only successful answers: show the row as it is now
        return _after_claim(task_id, message, error=True)
    came_from = re.fullmatch(r"/cases/([^/?#]+)", _back())
    if came_from:
        return render_case(came_from.group(1), status=409, message=message)
    return render_worklist({}, message=message, status=409)


# --------------------------------------------------------------------------- reports


def _parse_date(value: str, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = gettext("Write the date as YYYY-MM-DD, for example 2026-03-02.")
        return None


def _scoped_agencies(principal: access.Principal, agencies: list[dict[str, Any]],
                     kinds: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(kinds)
    return [a for a in agencies if a["kind"] in wanted and principal.reaches(a["id"])]


@pages.get("/cases")
@auth.login_required()
def cases() -> Any:
    principal = _principal()
    if not principal.is_officer:
        abort(403)
    args = request.args
    errors: dict[str, str] = {}
    status = args.get("status", "")
    if status and status not in ids.STATUSES:
        errors["status"] = gettext("Choose a status from the list.")
    agencies = domain().reports.agencies()
    agency_choices = _scoped_agencies(principal, agencies, DISPOSE_KINDS)
    agency = args.get("agency", "")
    if agency and agency not in {a["code"] for a in agency_choices}:
        errors["agency"] = gettext("Choose an agency from the list.")
    overdue_arg = args.get("overdue", "")
    if overdue_arg not in ("", "yes", "no"):
        errors["overdue"] = gettext("Choose one of the options.")
    since = _parse_date(args.get("since", "").strip(), "since", errors)
    until = _parse_date(args.get("until", "").strip(), "until", errors)
    if since and until and until < since:
        errors["until"] = gettext("The end date comes before the start date.")
    q = _clean(args.get("q", "")).strip()
    if len(q) > SEARCH_MAX:
        errors["q"] = gettext("Search with at most %(n)s characters.", n=SEARCH_MAX)
    page_arg = args.get("page", "1").strip() or "1"
    page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) <= 100000 else 0
    if not page:
        errors["page"] = gettext("The page must be a whole number from 1.")
    listing = {"items": [], "total": 0}
    if not errors:
        listing = domain().reports.list(
            principal, status=status or None, agency_code=agency or None,
            overdue=None if not overdue_arg else overdue_arg == "yes", since=since,
            until=until, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, q=q or None)
    pages_total = max(1, -(-listing["total"] // PAGE_SIZE))
    params = {k: v for k, v in {"status": status, "agency": agency, "overdue": overdue_arg,
                                "since": args.get("since", ""), "until": args.get("until", ""),
                                "q": q}.items() if v}
    return render_template(
        "staff/cases.html", items=listing["items"], total=listing["total"], page=page or 1,
        pages_total=pages_total, params=params, errors=errors, status=status,
        agency=agency, overdue=overdue_arg, since=args.get("since", ""),
        until=args.get("until", ""), q=q,
        statuses=[(s, label(ids.STATUS_LABELS[s])) for s in ids.STATUSES],
        agency_options=_grouped(agency_choices, agencies),
        category_labels=CATEGORY_LABELS,
    ), 422 if errors else 200


def _grouped(choices: list[dict[str, Any]], agencies: list[dict[str, Any]]
             ) -> list[tuple[str, list[tuple[str, str]]]]:
    """Options for a <select> with <optgroup>s: each agency under its parent's name."""
    names = {a["code"]: a["name"] for a in agencies}
    groups: dict[str, list[tuple[str, str]]] = {}
    for agency in choices:
        parent = names.get(agency["parent"] or "", "")
        groups.setdefault(parent, []).append((agency["code"], agency["name"]))
    return list(groups.items())


def _units_under_their_agency(choices: list[dict[str, Any]], agencies: list[dict[str, Any]]
                              ) -> list[tuple[str, list[tuple[str, str]]]]:
    """Agencies that follow reports up, each with its units under it (one optgroup each)."""
    codes = {a["code"] for a in choices}
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for agency in agencies:
        if agency["kind"] not in DISPOSE_KINDS:
            continue
        options = [(agency["code"], agency["name"])] if agency["code"] in codes else []
        options += [(u["code"], u["name"]) for u in agencies
                    if u["parent"] == agency["code"] and u["kind"] == "unit"
                    and u["code"] in codes]
        if options:
            groups.append((agency["name"], options))
    return groups


# --------------------------------------------------------------------------- the case page


TRACKING_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _tracking(tracking: str) -> str:
    """A tracking number as they are written; anything else cannot exist (404, no query)."""
    if not TRACKING_SHAPE.fullmatch(tracking or ""):
        raise NotFound("this report does not exist")
    return tracking


def _clean(text: str) -> str:
    """Typed text without control characters (a NUL byte is refused by PostgreSQL)."""
    return CONTROL.sub("", text)


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
            field["groups"] = _grouped(choices, agencies)
        elif action == "dispose":
            field["groups"] = _units_under_their_agency(
                [a for a in agencies if a["kind"] == "unit"], agencies)
        elif action == "delegate":
            holder = (document.get("agency") or {}).get("code")
            units = [a for a in agencies if a["kind"] == "unit" and a["parent"] == holder]
            field["groups"] = _grouped(units, agencies)
        else:  # reassign: the agencies (and units) within the officer's reach
            scoped = _scoped_agencies(principal, agencies, (*DISPOSE_KINDS, "unit"))
            field["groups"] = _units_under_their_agency(scoped, agencies)
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
                 principal: access.Principal, routing: Mapping[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
    """A form for each verb this officer may use now, built from its JSON schema; the
    disposition starts from what the routing table suggests."""
    available = set(document.get("available_actions") or []) - COMPLAINANT_ACTIONS
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
        forms.append({"action": action, "title": gettext(title), "help": gettext(help_text),
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
        value = _clean(form.get(name) or "").strip()
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
CLAIM_WORDS = {
    "task %(task)s is already claimed by %(holder)s": N_("%(holder)s claimed this task first."),
    "task %(task)s is not claimed by %(user)s (assignee: %(holder)s)":
        N_("This task is not claimed (any more)."),
    "task %(task)s is not claimed by anyone": N_("This task is not claimed (any more)."),
    "task %(task)s is not open: it was completed or cancelled (or never existed)":
        N_("This task is no longer open: someone completed it."),
}


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
                message: str | None = None) -> Any:
    principal = _principal()
    case = domain().reports.case(_tracking(tracking), principal)
    document, agencies, routing = case.document, case.agencies, case.routing
    attachments = document.get("attachments") or []
    photos = [a for a in attachments if a["content_type"] in PHOTO_TYPES]
    files = [a for a in attachments if a["content_type"] not in PHOTO_TYPES]
    location = document.get("location") or {}
    tasks = _task_controls(document)
    held_by_other = [t for t in tasks if not t["complainant"] and t["assignee"]
                     and t["assignee"] != principal.username
                     and set(t["candidate_groups"]) & principal.groups]
    return render_template(
        "staff/case.html", doc=document, photos=photos, files=files, location=location,
        forms=action_forms(document, agencies, principal, routing), tasks=tasks,
        held_by_other=held_by_other, open_action=open_action, values=values or {},
        errors=errors or {}, message=message, settings=settings(),
        category_labels=CATEGORY_LABELS, classification_labels=CLASSIFICATION_LABELS,
        channel_labels=CHANNEL_LABELS, severity_labels=SEVERITY_LABELS,
        event_labels=EVENT_LABELS, step_labels=STEP_LABELS, sla_states=SLA_STATES,
        status_labels=ids.STATUS_LABELS,
        photo_url=_photo_url, accepted_files=ACCEPTED_FILES, hidden=HIDDEN_TEXT,
        next_url=url_for("pages.case", tracking=document["tracking_number"]),
    ), status


HIDDEN_TEXT = "[rahasia]"


@pages.get("/cases/<tracking>")
@auth.login_required()
def case(tracking: str) -> Any:
    return render_case(tracking)


@pages.post("/cases/<tracking>/actions/<action>")
@auth.login_required()
def case_action(tracking: str, action: str) -> Any:
    principal = _principal()
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
    response = jsonify(domain().reports.diagram(_tracking(tracking), _principal()))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@pages.get("/cases/<tracking>/attachments/<int:attachment_id>/photo")
@auth.login_required()
def case_photo(tracking: str, attachment_id: int) -> Any:
    edge = THUMBNAIL_EDGE if request.args.get("size") == "thumb" else DISPLAY_EDGE
    row, data, content_type = domain().reports.attachment_display(
        _tracking(tracking), attachment_id, _principal(), edge=edge)
    response = Response(data, mimetype=content_type)
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(row.filename)}"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@pages.get("/cases/<tracking>/attachments/<int:attachment_id>/download")
@auth.login_required()
def case_download(tracking: str, attachment_id: int) -> Any:
    row, content = domain().reports.attachment(_tracking(tracking), attachment_id,
                                               _principal())
    response = Response(content, mimetype=row.content_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{_ascii_name(row.filename)}\"; "
        f"filename*=UTF-8''{quote(row.filename)}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ascii_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "file"

