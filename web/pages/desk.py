"""The officers' desk (workflows/desk.py): the notification centre, internal notes on a
case, and giving a task to a named colleague.

- /notifications: the officer's in-app notifications (new tasks, tasks given to them,
  reminders, escalations), newest first, twenty a page, each linking to its case; "mark
  read" for one and for all (POST forms with CSRF). The navigation bar of every page shows
  the unread count (`unread_notifications`, one indexed count).
- POST /cases/<tracking>/notes: an internal note, shown in the case's history as internal.
- POST /tasks/<task_id>/give: the task to a colleague of its group; the form carries who
  held the task when it was read, so a stale form gets 409.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from web import auth
from web.i18n import N_, current_language, gettext, say
from web.pages import pages
from web.pages.case import render_case
from web.pages.common import domain, field_messages
from web.pages.officers import clean, officer
from web.pages.staff import render_worklist
from workflows.access import OFFICER_ROLES
from workflows.errors import Conflict, Invalid

OFFICERS = tuple(sorted(OFFICER_ROLES))
log = logging.getLogger(__name__)


@pages.app_template_global("unread_notifications")
def unread_notifications() -> int | None:
    """The signed-in officer's unread notifications (0 for anyone else). None when they
    cannot be counted: the navigation bar of every page, error pages included (a database
    that is down), shows the link without the count rather than fail."""
    principal = auth.current_user()
    if principal is None or not principal.is_officer:
        return 0
    counted = g.get("unread_notifications")
    if counted is not None:  # read with the session's user (a GET's one read)
        return counted
    try:
        return domain().desk.unread_count(principal)
    except Exception:  # a count that cannot be made is left out, and logged
        log.warning("the unread notifications could not be counted", exc_info=True)
        return None


# --------------------------------------------------------------------------- notifications


@pages.get("/notifications")
@auth.login_required(*OFFICERS)
def notifications() -> Any:
    unread_only = request.args.get("show") == "unread"
    page_arg = (request.args.get("page") or "1").strip()
    page = int(page_arg) if page_arg.isdigit() and 0 < int(page_arg) <= 100000 else 1
    found = domain().desk.notifications(officer(), page=page, language=current_language(),
                                        unread_only=unread_only)
    case_href = url_for("pages.case", tracking="__ID__").split("__ID__")
    for item in found["items"]:
        tracking = item["tracking_number"]
        item["href"] = f"{case_href[0]}{tracking}{case_href[1]}" if tracking else None
        item["kind"] = gettext(KINDS.get(item["template"], N_("Notice")))
    params = {"show": "unread"} if unread_only else {}
    return render_template("staff/notifications.html", **found, unread_only=unread_only,
                           params=params,
                           next_url=url_for("pages.notifications", **params,
                                            page=found["page"] if found["page"] > 1 else None))


KINDS = {"task_assigned": N_("New task"), "task_given": N_("Task given to you"),
         "sla_reminder": N_("Reminder"), "escalated": N_("Escalation"),
         "daily_digest": N_("Daily digest")}


def _back_to_list() -> str:
    return auth.safe_next(request.form.get("next")) or url_for("pages.notifications")


@pages.post("/notifications/<int:notification_id>/read")
@auth.login_required(*OFFICERS)
def notification_read(notification_id: int) -> Any:
    domain().desk.mark_read(officer(), notification_id)
    return redirect(_back_to_list(), 303)


@pages.post("/notifications/read-all")
@auth.login_required(*OFFICERS)
def notifications_read_all() -> Any:
    count = domain().desk.mark_all_read(officer())
    flash(gettext("%(n)s notifications marked read.", n=count), "success")
    return redirect(_back_to_list(), 303)


# --------------------------------------------------------------------------- notes


@pages.post("/cases/<tracking>/notes")
@auth.login_required(*OFFICERS)
def case_note(tracking: str) -> Any:
    text = clean(request.form.get("note") or "")
    try:
        domain().desk.add_note(tracking, text, officer())
    except Invalid as exc:
        return render_case(tracking, status=422, note=text,
                           note_error=field_messages(exc).get("note") or say(exc.message))
    flash(gettext("Your internal note is added to the history."), "success")
    return redirect(url_for("pages.case", tracking=tracking) + "#history", 303)


# --------------------------------------------------------------------------- giving a task


@pages.post("/tasks/<task_id>/give")
@auth.login_required(*OFFICERS)
def give_task(task_id: str) -> Any:
    form = request.form
    colleague = form.get("assignee", "")
    back = auth.safe_next(form.get("next")) or url_for("pages.worklist")
    came_from = re.fullmatch(r"/cases/([^/?#]+)", back)
    tracking = came_from.group(1) if came_from else None
    try:
        domain().desk.give(task_id, colleague, officer(),
                           expected_assignee=form.get("expected", ""))
    except Conflict:
        message = gettext("Someone changed this task since you opened the page: it now "
                          "shows who holds it. Choose again if it is still needed.")
        return _give_refused(tracking, message, 409)
    except Invalid as exc:
        return _give_refused(tracking, field_messages(exc).get("assignee") or say(exc.message),
                             422)
    flash(gettext("The task is given to %(name)s; they are told.", name=colleague), "success")
    return redirect(back, 303)


def _give_refused(tracking: str | None, message: str, status: int) -> Any:
    """A refused give: the case page it came from (or the worklist), as it is now."""
    if tracking:
        return render_case(tracking, status=status, message=message)
    return render_worklist({}, message=message, status=status)
