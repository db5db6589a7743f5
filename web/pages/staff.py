"""The officers' pages: the worklist, the reports they may see, and the case page.

- /tasks: the officer's open tasks (their groups' tasks: claimed by them, or by nobody, or
  everyone's with `show=all`), filtered by task type, overdue and a search, sorted by the
  working days left. Claim and release are plain POST forms (htmx swaps the row in place).
- /cases: the reports the officer may see (`Complaints.list`), filtered, searched, paged.
- /cases/<tracking> and what belongs to it: web/pages/case.py.

Visibility, permissions and every change go through the use cases (workflows.reports,
workflows.tasks); the domain also says which buttons each task may show (may_claim,
may_release); the use cases check again when one is pressed.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from flask import (
    abort,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from web import auth, i18n
from web.i18n import N_, current_language, format_deadline, gettext, label, say
from web.pages import pages
from web.pages.case import render_case
from web.pages.case_lists import csv_response, filter_words, xlsx_response
from web.pages.common import domain, field_messages, sla_badge
from web.pages.kept import CSRF_SLOT, NEXT_SLOT, Kept
from web.pages.officers import (
    DISPOSE_KINDS,
    SEARCH_MAX,
    TASK_NAMES,
    clean,
    grouped,
    htmx,
    officer,
    scoped_agencies,
    task_name,
)
from workflows import access
from workflows import diagram_ids as ids
from workflows.case_filters import NO_AGENCY, CaseFilter
from workflows.errors import Conflict, Forbidden, Invalid

PAGE_SIZE = 25
SHOW_FILTERS = (("", N_("Mine and unclaimed")), ("mine", N_("Claimed by me")),
                ("unclaimed", N_("Unclaimed")), ("all", N_("All of my groups")))
SORTS = (("deadline", N_("Deadline first")), ("newest", N_("Newest task first")))


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
    principal = officer()
    show = args.get("show", "")
    show = show if show in dict(SHOW_FILTERS) else ""
    kind = args.get("type", "")
    kind = kind if kind in TASK_NAMES else ""
    overdue = args.get("overdue", "") in ("1", "on", "true", "yes")
    q = clean(args.get("q", "")).strip()[:SEARCH_MAX]
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
    next_url = url_for("pages.worklist", **params, page=page if page > 1 else None)
    return render_template(
        "staff/worklist.html", rows=found["rows"],
        total=found["counts"]["all"],
        matching=found["matching"], counts=found["counts"], page=page,
        pages_total=pages_total, first=(page - 1) * WORKLIST_PAGE_SIZE + 1,
        params=params, show=show, kind=kind, overdue=overdue, q=q, sort=sort,
        show_filters=[(k, gettext(t)) for k, t in SHOW_FILTERS],
        sorts=[(k, gettext(t)) for k, t in SORTS],
        kinds=[(k, task_name(k)) for k in kinds], message=message,
        next_url=next_url, rows_html=rows_html(found["rows"], principal, next_url)), status


# The worklist's rows as rendered, by what each shows (web/pages/kept.py): a page is fifty
# rows, and a row changes when its task, report or deadline does (days left are rounded to a
# hundredth), so most are rendered once and then only put together.
ROWS_KEPT = 8192
KEPT_ROWS = Kept(ROWS_KEPT)


def _row_key(row: Mapping[str, Any], principal: access.Principal, language: tuple[str, ...],
             root: str) -> tuple[Any, ...]:
    """Everything a row shows (shown_rows and staff/_task_rows.html read these alone)."""
    return (language, root, row["task_id"], row["tracking_number"], row["report_title"],
            row["element_id"], row["title"], row["status"], repr(row["status_label"]),
            row["assignee"], row["assignee"] is not None
            and row["assignee"] == principal.username, row["may_claim"], row["may_release"],
            row["overdue"], row["paused"], row["working_days_left"], row["due_at"])


def rows_html(rows: list[dict[str, Any]], principal: access.Principal, next_url: str
              ) -> Markup:
    """The rows of the page, each rendered once per what it shows; the session's CSRF
    field and the page's address put in here."""
    # the language, the site's address and the regency's zone (the deadline's words)
    language, root = (current_language(), *i18n.zone()), request.script_root
    template = current_app.jinja_env.get_template("staff/_task_rows.html")

    def render(row: dict[str, Any]) -> str:
        return template.render(rows=shown_rows([row], principal), csrf_field=CSRF_SLOT,
                               next_url=NEXT_SLOT)

    csrf_field = str(get_template_attribute("_macros.html", "csrf")())
    address = str(escape(next_url))
    return Markup("".join(  # noqa: S704 - rendered by Jinja, the slots escaped here
        KEPT_ROWS.get(_row_key(row, principal, language, root), lambda row=row: render(row))
        .replace(CSRF_SLOT, csrf_field).replace(NEXT_SLOT, address) for row in rows))


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
            "due_short": format_deadline(row["due_at"]) if row["due_at"] else "",
            "case_href": f"{case_href[0]}{quote(tracking, safe='')}{case_href[1]}",
            "task_label": task_name(row["element_id"], row["title"]),
            "status_text": label(row["status_label"]),
            "mine": assignee is not None and assignee == principal.username,
            "action": action,
            "action_href": f"{href[0]}{quote(task_id, safe='')}{href[1]}" if href else None,
            "action_label": aria % {"tracking": tracking} if aria else None,
        })
    return shown


def _task_row(task_id: str) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """The task's worklist row (None once it is not in the worklist) and the worklist's
    counts by `show` choice, as they are now."""
    found = domain().tasks.worklist_page(officer(), show="all", task_id=task_id, limit=1)
    return (found["rows"][0] if found["rows"] else None), found["counts"]


def _back() -> str:
    return auth.safe_next(request.form.get("next")) or url_for("pages.worklist")


def _after_claim(task_id: str, message: str, error: bool = False) -> Any:
    """The answer to a claim or release: the row again (htmx) or back where it came from."""
    if htmx():
        row, counts = _task_row(task_id)
        back = _back()
        show = parse_qs(urlsplit(back).query).get("show", [""])[0]
        return render_template("staff/_task_row_swap.html",
                               row=shown_rows([row], officer())[0] if row else None,
                               task_id=task_id, message=message, error=error,
                               next_url=back, counts=counts,
                               show=show if show in dict(SHOW_FILTERS) else "",
                               show_filters=[(k, gettext(t)) for k, t in SHOW_FILTERS])
    flash(message, "success")
    return redirect(_back(), 303)


def _claim_conflict(exc: Conflict) -> str:
    return say(exc.message, CLAIM_WORDS)


@pages.post("/tasks/<task_id>/claim")
@auth.login_required()
def claim_task(task_id: str) -> Any:
    try:
        domain().tasks.claim(task_id, officer())
    except Conflict as exc:
        return _claim_failed(task_id, _claim_conflict(exc))
    return _after_claim(task_id, gettext("You claimed the task. Others in your group see it "
                                         "as yours."))


@pages.post("/tasks/<task_id>/release")
@auth.login_required()
def release_task(task_id: str) -> Any:
    try:
        domain().tasks.release(task_id, officer())
    except Conflict as exc:
        return _claim_failed(task_id, _claim_conflict(exc))
    return _after_claim(task_id, gettext("The task is released: anyone in its group may take "
                                         "it."))


def _claim_failed(task_id: str, message: str) -> Any:
    """Someone else was first: 409 with the page the officer came from, as it is now."""
    if htmx():  # htmx swaps only successful answers: show the row as it is now
        return _after_claim(task_id, message, error=True)
    came_from = re.fullmatch(r"/cases/([^/?#]+)", _back())
    if came_from:
        return render_case(came_from.group(1), status=409, message=message)
    return render_worklist({}, message=message, status=409)



CLAIM_WORDS = {
    "task %(task)s is already claimed by %(holder)s": N_("%(holder)s claimed this task first."),
    "task %(task)s is not claimed by %(user)s (assignee: %(holder)s)":
        N_("This task is not claimed (any more)."),
    "task %(task)s is not claimed by anyone": N_("This task is not claimed (any more)."),
    "task %(task)s is not open: it was completed or cancelled (or never existed)":
        N_("This task is no longer open: someone completed it."),
}



# --------------------------------------------------------------------------- reports


def _parse_date(value: str, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = gettext("Write the date as YYYY-MM-DD, for example 2026-03-02.")
        return None




def _case_query(principal: access.Principal) -> dict[str, Any]:
    """The list's filters from the query string, checked: what the list and its exports ask
    the use case (`arguments`), what the page shows, and the errors by field."""
    args = request.args
    errors: dict[str, str] = {}
    status = args.get("status", "")
    if status and status not in ids.STATUSES:
        errors["status"] = gettext("Choose a status from the list.")
    agencies = domain().reports.agencies()
    agency_choices = scoped_agencies(principal, agencies, DISPOSE_KINDS)
    agency = args.get("agency", "")
    if agency and agency != NO_AGENCY and agency not in {a["code"] for a in agency_choices}:
        errors["agency"] = gettext("Choose an agency from the list.")
    overdue_arg = args.get("overdue", "")
    if overdue_arg not in ("", "yes", "no"):
        errors["overdue"] = gettext("Choose one of the options.")
    since = _parse_date(args.get("since", "").strip(), "since", errors)
    until = _parse_date(args.get("until", "").strip(), "until", errors)
    if since and until and until < since:
        errors["until"] = gettext("The end date comes before the start date.")
    q = clean(args.get("q", "")).strip()
    if len(q) > SEARCH_MAX:
        errors["q"] = gettext("Search with at most %(n)s characters.", n=SEARCH_MAX)
    drill = CaseFilter.of({**args.to_dict(), "agency": agency if agency == NO_AGENCY else ""})
    params = {k: v for k, v in {"status": status, "agency": agency, "overdue": overdue_arg,
                                "since": args.get("since", ""), "until": args.get("until", ""),
                                "q": q, **drill.query()}.items() if v}
    return {
        "errors": errors, "params": params, "drill": drill, "agencies": agencies,
        "agency_choices": agency_choices, "status": status, "agency": agency,
        "overdue": overdue_arg, "q": q,
        "arguments": {"status": status or None,
                      "agency_code": agency if agency and agency != NO_AGENCY else None,
                      "overdue": None if not overdue_arg else overdue_arg == "yes",
                      "since": since, "until": until, "q": q or None, "filters": drill},
    }


@pages.get("/cases")
@auth.login_required()
def cases() -> Any:
    principal = officer()
    if not principal.is_officer:
        abort(403)
    args = request.args
    asked = _case_query(principal)
    errors, params = asked["errors"], asked["params"]
    page_arg = args.get("page", "1").strip() or "1"
    page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) <= 100000 else 0
    if not page:
        errors["page"] = gettext("The page must be a whole number from 1.")
    listing = {"items": [], "total": 0}
    if not errors:
        try:  # the use case keeps the filters' ranges (dates from 2000 to 2100, paging)
            listing = domain().reports.list(principal, **asked["arguments"], limit=PAGE_SIZE,
                                            offset=(page - 1) * PAGE_SIZE)
        except Invalid as exc:
            errors.update(field_messages(exc))
        except Forbidden:
            abort(403)
    pages_total = max(1, -(-listing["total"] // PAGE_SIZE))
    agency_names = {a["code"]: a["name"] for a in asked["agencies"]}
    return render_template(
        "staff/cases.html", items=listing["items"], total=listing["total"], page=page or 1,
        pages_total=pages_total, params=params, errors=errors, status=asked["status"],
        agency=asked["agency"], overdue=asked["overdue"], since=args.get("since", ""),
        until=args.get("until", ""), q=asked["q"],
        statuses=[(s, label(ids.STATUS_LABELS[s])) for s in ids.STATUSES],
        agency_options=grouped(asked["agency_choices"], asked["agencies"]),
        drill=asked["drill"].query(),
        drill_words=filter_words(asked["drill"], agency_names,
                                 domain().config.ombudsman_days),
        no_agency=NO_AGENCY,
    ), 422 if errors else 200


def _case_export(extension: str) -> Any:
    principal = officer()
    if not principal.is_officer:
        abort(403)
    asked = _case_query(principal)
    if asked["errors"]:
        return cases()
    try:
        rows = domain().reports.export(principal, **asked["arguments"])
    except Invalid:
        return cases()
    except Forbidden:
        abort(403)
    since, until = asked["arguments"]["since"], asked["arguments"]["until"]
    span = "".join(f"-{day.isoformat()}" for day in (since, until) if day)
    name = f"laporan{span}.{extension}"
    return csv_response(rows, name) if extension == "csv" else xlsx_response(rows, name)


@pages.get("/cases/export.csv")
@auth.login_required()
def cases_csv() -> Any:
    return _case_export("csv")


@pages.get("/cases/export.xlsx")
@auth.login_required()
def cases_xlsx() -> Any:
    return _case_export("xlsx")
