"""The supervisors' SLA board: late and nearly late cases per OPD and rung, and the escalation
inbox (acknowledge, note, reassign). Scoped by workflows/escalations.py; see
docs/supervisors.md."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import (
    abort,
    current_app,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from web import auth, i18n
from web.i18n import N_, current_language, format_deadline, format_when, gettext, label, say
from web.pages import pages
from web.pages.common import domain, field_messages, settings, sla_badge
from web.pages.kept import Kept
from workflows.errors import Conflict, Forbidden, Invalid, NotFound

ROLES = ("supervisor", "regency_admin", "system_admin")
INBOX_VIEWS = ("open", "acknowledged", "all")
INBOX_PAGE_SIZE = 25  # escalations per page of the inbox, the newest first
STATE_LABELS = {
    "due_soon": N_("Due soon"),
    "overdue": N_("Overdue"),
    "escalated": N_("Escalated"),
}
INBOX_LABELS = {"open": N_("Open"), "acknowledged": N_("Acknowledged"), "all": N_("All")}
ESCALATION_STATUS = {"open": N_("open"), "acknowledged": N_("acknowledged"),
                     "resolved": N_("resolved")}
# The use cases' field messages, in Indonesian on the pages (web/pages/common.field_messages).
USE_CASE_MESSAGES = (N_("write the note"), N_("write the note as text"),
                     N_("at most 2000 characters"), N_("this field is required"))


def _filters() -> tuple[dict[str, str | None], str, dict[str, str]]:
    """The board's query: which cases to list and which part of the inbox to show."""
    args = request.args if request.method == "GET" else {}
    chosen = {name: (args.get(name) or "").strip() or None for name in ("opd", "rung", "state")}
    inbox = (args.get("inbox") or "open").strip()
    errors: dict[str, str] = {}
    if inbox not in INBOX_VIEWS:
        errors["inbox"] = gettext("Choose which escalations to show: open, acknowledged "
                                  "or all.")
        inbox = "open"
    return chosen, inbox, errors


FILTER_MESSAGES = {
    "state": N_("Choose due soon, overdue or escalated."),
    "rung": N_("Choose a rung of the escalation ladder."),
    "opd": N_("No agency has this code; use the links of the board."),
}


def shown_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The board's listed cases with their words and badge worked out once here rather
    than by the template's filters (fifty rows a page)."""
    no_agency = gettext("Not yet sent to an agency")
    return [{**case,
             "status_text": label(case["status_label"]),
             "agency_text": case["agency"]["name"] if case["agency"] else no_agency,
             "step_text": label(case["step_label"]),
             "badge": sla_badge(case["working_days_left"], False, case["due_at"]),
             "due_text": format_deadline(case["due_at"]),
             "rung_text": label(case["rung_label"])} for case in cases]


# The listed cases as rendered, by what each shows (web/pages/kept.py): a row changes when
# its report or deadline does (days left are rounded to a hundredth).
KEPT_CASES = Kept(4096)


def cases_html(cases: list[dict[str, Any]], escalated: str) -> Markup:
    """The board's listed cases (supervision/_case_rows.html), each rendered once per what
    it shows and the language."""
    language = (current_language(), *i18n.zone())  # the deadline's words: the zone too
    template = current_app.jinja_env.get_template("supervision/_case_rows.html")

    def render(case: dict[str, Any]) -> str:
        return template.render(cases=shown_cases([case]), escalated=escalated)

    return Markup("".join(  # noqa: S704 - rendered by Jinja
        KEPT_CASES.get((language, escalated, repr(case)), lambda case=case: render(case))
        for case in cases))


def shown_escalations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inbox's escalations with their words and times worked out once here."""
    return [{**esc,
             "rung_text": label(esc["rung_label"]),
             "report_status_text": label(esc["status_label"]),
             "step_text": label(esc["step_label"]),
             "missed_text": format_deadline(esc["missed_due_at"], by=False),
             "escalated_text": format_when(esc["escalated_at"]),
             "acknowledged_text": format_when(esc["acknowledged_at"])} for esc in rows]


def escalation_url(escalation_id: int | str) -> str:
    """/board/escalations/<id>: the inbox card's forms add /acknowledge, /comment and
    /reassign (a card's four url_for calls, 25 cards a page, cost a millisecond)."""
    return f"{url_for('pages.board')}/escalations/{escalation_id}"


# The board's rendered tables of counts, by counts, language and address (this process),
# and their rendered rows, by a row's own counts: a write that moves a report changes one or
# two agencies' rows, and only those are rendered again (a regency's table of 20 agencies
# takes 5-6 ms to render whole).
MATRICES_KEPT = 64
ROWS_KEPT = 1024
_MATRICES: OrderedDict[Any, Markup] = OrderedDict()
_ROWS: OrderedDict[Any, Markup] = OrderedDict()
_MATRICES_LOCK = threading.Lock()


def _frozen(value: Any) -> str:
    """A board row (dicts, lists and plain values: text, numbers, times, None) as one
    hashable value: its repr, which writes every key and value, nested ones too, and tells a
    text from a number (one call, in C, where freezing it into tuples in Python made one
    per value: 1,400 a board request for 25 inbox cards and 20 agency rows)."""
    return repr(value)


# The inbox's cards without a form sent (nearly all), rendered once per escalation as shown,
# language and address: 25 cards are a third of the board's template. The page's CSRF field
# (the session's) is put in on each request in place of CSRF_SLOT: markup no escaped text can
# contain (a "<" in a note is written "&lt;").
CARDS_KEPT = 1024
_CARDS: OrderedDict[Any, str] = OrderedDict()
CSRF_SLOT = Markup("<aduan-csrf-slot>")


def _inbox_card(esc: Mapping[str, Any], form: Mapping[str, Any], words: Mapping[str, str],
                shared: Mapping[str, Any]) -> Markup:
    """One card of the inbox (supervision/_inbox_card.html); ``shared``: the page's CSRF
    field, the inbox's address, the statuses' names, the agencies a report may move to."""
    card = get_template_attribute("supervision/_inbox_card.html", "inbox_card")
    reassign_allowed = bool(shared["targets"])
    if form:  # the form sent for this card, with its errors and what was typed
        return card(esc, form, shared["csrf_field"], shared["escalation_url"], words,
                    shared["escalation_status"], shared["targets"], reassign_allowed)
    key = (_frozen(esc), _frozen(words), _frozen(shared["escalation_status"]),
           shared["escalation_url"], reassign_allowed, current_language(), *i18n.zone())
    with _MATRICES_LOCK:
        kept = _CARDS.get(key)
        if kept is not None:
            _CARDS.move_to_end(key)
    if kept is None:
        kept = str(card(esc, {}, CSRF_SLOT, shared["escalation_url"], words,
                        shared["escalation_status"], (), reassign_allowed))
        with _MATRICES_LOCK:
            _CARDS[key] = kept
            while len(_CARDS) > CARDS_KEPT:
                _CARDS.popitem(last=False)
    return Markup(kept.replace(CSRF_SLOT, shared["csrf_field"]))  # noqa: S704 - rendered by Jinja


def _matrix_rows(board: Mapping[str, Any], context: tuple[Any, ...], count_href: Any,
                 state_labels: Mapping[str, str]) -> list[Markup]:
    """The table's agency rows, each rendered once per its own counts (and ``context``:
    the language and the address of the list)."""
    found = []
    ladder = board["ladder"]
    for row in board["rows"]:
        key = (_frozen(row), _frozen(ladder), context)
        with _MATRICES_LOCK:
            markup = _ROWS.get(key)
            if markup is not None:
                _ROWS.move_to_end(key)
        if markup is None:
            markup = get_template_attribute("supervision/_matrix_rows.html", "agency_row")(
                row, ladder, count_href, state_labels)
            with _MATRICES_LOCK:
                _ROWS[key] = markup
                while len(_ROWS) > ROWS_KEPT:
                    _ROWS.popitem(last=False)
        found.append(markup)
    return found


def render_board(status: int = 200, forms: Mapping[int, Mapping[str, Any]] | None = None,
                 message: str | None = None) -> Any:
    principal = auth.current_user()
    chosen, inbox, errors = _filters()
    page_arg = (request.args.get("inbox_page") or "1").strip() if request.method == "GET" \
        else "1"
    inbox_page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) <= 100000 else 1
    found = domain().supervision.board_page(
        principal, **chosen, inbox=None if inbox == "all" else inbox, inbox_page=inbox_page,
        inbox_page_size=INBOX_PAGE_SIZE, keep=tuple(forms or ()))  # a form's stays in view
    errors.update({name: gettext(FILTER_MESSAGES[name]) if name in FILTER_MESSAGES
                   else say(text) for name, text in found.filter_errors.items()})
    board, inbox_rows, targets = found.board, found.inbox, found.targets
    inbox_total, inbox_page, inbox_pages = (found.inbox_total, found.inbox_page,
                                            found.inbox_pages)
    if errors and status == 200:
        status = 422
    base = url_for("pages.cases")

    def count_href(opd: str | None, rung: str | None, state: str) -> str:
        """A count's link to the list of its cases, /cases with the board's filters
        (workflows/case_filters.py; url_for for each of the hundreds of counts of a
        regency's board would cost more than the rest of the table). ``state`` "open": the
        open reports of the agency (the first column)."""
        query = ({"open": "1", "agency": opd} if state == "open" else
                 {"board": state, "rung": rung, "agency": opd})
        return f"{base}?{urlencode({k: v for k, v in query.items() if v})}"

    state_labels = {k: gettext(v) for k, v in STATE_LABELS.items()}
    # The table of counts is hundreds of links: rendered once per counts (and language),
    # kept here in the web layer under the counts' own immutable value.
    matrix_key = (board["counts_key"], current_language(), base,
                  tuple((row["key"], row["agency"] and row["agency"].get("name"))
                        for row in board["rows"]))
    with _MATRICES_LOCK:
        matrix = _MATRICES.get(matrix_key)
    if matrix is None:
        rows = _matrix_rows(board, (current_language(), base), count_href, state_labels)
        matrix = Markup(render_template(  # noqa: S704 - escaped by Jinja
            "supervision/_matrix.html", board=board, rows=rows, count_href=count_href,
            state_labels=state_labels))
        with _MATRICES_LOCK:
            _MATRICES[matrix_key] = matrix
            while len(_MATRICES) > MATRICES_KEPT:
                _MATRICES.popitem(last=False)
    escalation_status = {k: gettext(v) for k, v in ESCALATION_STATUS.items()}
    shared = {"csrf_field": str(get_template_attribute("_macros.html", "csrf")()),
              "escalation_url": escalation_url(""), "escalation_status": escalation_status,
              "targets": targets}
    return render_template(
        "supervision/board.html", board=board, inbox=shown_escalations(inbox_rows),
        inbox_card=lambda esc, form, words: _inbox_card(esc, form, words, shared),
        inbox_view=inbox,
        inbox_total=inbox_total, inbox_page=inbox_page, inbox_pages=inbox_pages,
        targets=targets, reassign_allowed=bool(targets), forms=forms or {},
        matrix=matrix, cases_html=cases_html(board["cases"], state_labels["escalated"]),
        filter_errors=errors, message=message,
        escalation_url=escalation_url(""),
        state_labels=state_labels,
        inbox_labels={k: gettext(v) for k, v in INBOX_LABELS.items()},
        escalation_status=escalation_status,
        inbox_views=INBOX_VIEWS), status


@pages.get("/board")
@auth.login_required(*ROLES)
def board() -> Any:
    return render_board()


@pages.get("/board/map")
@auth.login_required(*ROLES)
def case_map() -> Any:
    """The open and late cases on a map (squares of a grid, fetched by js/case-map.js from
    /board/map/cells.json) and per kelurahan, each count linked to its list."""
    found = domain().supervision.case_map(auth.current_user())
    site = settings()
    return render_template("supervision/map.html", kelurahan=found["kelurahan"],
                           settings=site, center=f"{site.map_center[0]},{site.map_center[1]}")


@pages.get("/board/map/cells.json")
@auth.login_required(*ROLES)
def case_map_cells() -> Any:
    zoom_arg = (request.args.get("zoom") or "").strip()
    try:
        found = domain().supervision.case_map(
            auth.current_user(), zoom=int(zoom_arg) if zoom_arg.isdigit() else -1,
            bbox=request.args.get("bbox"))
    except Invalid as exc:
        return jsonify({"errors": field_messages(exc)}), 422
    response = jsonify(found["grid"])
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _done(escalation_id: int, message: str) -> Any:
    flash(message, "success")
    return redirect(url_for("pages.board") + f"#escalation-{escalation_id}")


def _form_error(escalation_id: int, action: str, errors: dict[str, str]) -> Any:
    return render_board(422, forms={escalation_id: {
        "action": action, "errors": errors, "entered": request.form.to_dict()}})


@pages.post("/board/escalations/<int:escalation_id>/acknowledge")
@auth.login_required(*ROLES)
def acknowledge_escalation(escalation_id: int) -> Any:
    try:
        done = domain().supervision.acknowledge(escalation_id, auth.current_user(),
                                                request.form.get("comment"))
    except Invalid as exc:
        return _form_error(escalation_id, "acknowledge", field_messages(exc))
    except Conflict:
        return render_board(409, message=gettext(
            "Someone else handled this escalation first; the inbox below shows where it "
            "stands now."))
    return _done(escalation_id, gettext("Escalation of %(tracking)s acknowledged.",
                                        tracking=done["tracking_number"]))


@pages.post("/board/escalations/<int:escalation_id>/comment")
@auth.login_required(*ROLES)
def comment_escalation(escalation_id: int) -> Any:
    if not (request.form.get("comment") or "").strip():
        return _form_error(escalation_id, "comment",
                           {"comment": gettext("Write the note before saving it.")})
    try:
        done = domain().supervision.comment(escalation_id, auth.current_user(),
                                            request.form.get("comment"))
    except Invalid as exc:
        return _form_error(escalation_id, "comment", field_messages(exc))
    except Conflict:
        return render_board(409, message=gettext(
            "This escalation is already resolved; add your note on the case instead."))
    return _done(escalation_id, gettext("Note added to the escalation of %(tracking)s.",
                                        tracking=done["tracking_number"]))


@pages.get("/board/escalations/<int:escalation_id>/reassign")
@auth.login_required(*ROLES)
def reassign_form(escalation_id: int) -> Any:
    """The form that moves an escalated report to another agency: the fragment the board
    fetches when its section is opened (htmx), or a page of its own without JavaScript."""
    principal = auth.current_user()
    try:
        escalation, targets = domain().supervision.reassign_form(principal, escalation_id)
    except NotFound:
        abort(404)
    if not escalation["may_reassign"] or not targets:
        abort(404)
    template = ("supervision/_reassign_fragment.html" if request.headers.get("HX-Request")
                else "supervision/reassign.html")
    return render_template(template, esc=escalation, targets=targets)


@pages.post("/board/escalations/<int:escalation_id>/reassign")
@auth.login_required(*ROLES)
def reassign_escalation(escalation_id: int) -> Any:
    principal = auth.current_user()
    agency_code = (request.form.get("agency_code") or "").strip()
    reason = (request.form.get("reason") or "").strip()
    errors = {}
    if not agency_code:
        errors["agency_code"] = gettext("Choose the agency that should follow the report up.")
    if not reason:
        errors["reason"] = gettext("Say why the report moves to another agency.")
    if errors:
        return _form_error(escalation_id, "reassign", errors)
    try:
        report = domain().supervision.reassign(escalation_id, principal, agency_code, reason)
    except Invalid as exc:
        found = field_messages(exc)
        if "agency_code" in found:
            found["agency_code"] = gettext("Choose an agency from the list.")
        return _form_error(escalation_id, "reassign", found)
    except Forbidden:  # NotFound (not in the inbox) is a 404
        return render_board(403, forms={escalation_id: {
            "action": "reassign", "entered": request.form.to_dict(), "errors": {
                "agency_code": gettext("You may move this report only within your own "
                                       "agency and its units.")}}})
    except Conflict as exc:
        return render_board(409, message=gettext(
            "Report %(tracking)s can no longer be reassigned: it is not waiting for an "
            "agency's follow-up any more (someone may have acted first).",
            tracking=exc.tracking_number))
    holder = report.get("unit") or report.get("agency") or {}
    return _done(escalation_id, gettext("Report %(tracking)s moved to %(agency)s.",
                                        tracking=report["tracking_number"],
                                        agency=holder.get("name", "")))
