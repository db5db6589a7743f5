"""Use cases of the officers' desk: the notification centre (their in-app notifications:
new tasks, reminders, escalations), internal notes on a case, and giving a task to a named
colleague of its group.

- Notifications are the outbox's in-app rows (workflows/notify.py: channel 'inapp', status
  'unread' until read); the unread count is one range of ix_outbox_inbox.
- An internal note is a history entry of the case (complaint_event, kind "note", public
  false): staff who may see the case read it on the case page; the complainant's document,
  the tracking page, the citizens' messages, the public API and Open311 read only public
  entries, so it is never shown to the citizen.
- A task is given to a colleague by the regency administrator or by a member of the task's
  group, only to an active member of that group, with a compare-and-set on who held it
  when the form was read (a stale form: Conflict); the colleague is told in-app (and by
  e-mail when they have an address), in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from workflows import access, notify
from workflows.actions import load_report, translate_engine_errors
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import Complaint, ComplaintEvent, Outbox, User
from workflows.recipients import Recipient
from workflows.validation import MAX_ID, check_text

NOTE_MAX = 2000
NOTIFICATIONS_PAGE = 20
TASK_ID_MAX = 64
NOTE_KIND = "note"
GIVEN_KIND = "task_given"  # the history's internal entry when a task is given to someone


class Desk:
    """The use cases of the officers' desk (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ notifications

    def unread_count(self, principal: access.Principal) -> int:
        """How many of the officer's in-app notifications are unread (0 without an
        account): one count over ix_outbox_inbox, for the navigation bar of every page."""
        if principal.user_id is None:
            return 0
        with self.ctx.reads() as session:
            return int(session.scalar(_UNREAD, {"user_id": principal.user_id}) or 0)

    def notifications(self, principal: access.Principal, *, page: int = 1,
                      language: str = "id", unread_only: bool = False) -> dict[str, Any]:
        """A page of the officer's in-app notifications, newest first, written in
        `language`, with how many there are, how many unread and the number of pages."""
        if principal.user_id is None:
            raise Forbidden("only accounts have notifications")
        page = page if 1 <= page <= 100000 else 1
        mine = (Outbox.user_id == principal.user_id, Outbox.channel == "inapp")
        with self.ctx.reads() as session:
            unread = int(session.scalar(select(func.count()).select_from(Outbox).where(
                *mine, Outbox.status == "unread")) or 0)
            query = select(Outbox).where(*mine)
            if unread_only:
                query = query.where(Outbox.status == "unread")
                total = unread
            else:
                total = int(session.scalar(select(func.count()).select_from(Outbox).where(
                    *mine)) or 0)
            rows = session.scalars(query.order_by(Outbox.id.desc()).limit(NOTIFICATIONS_PAGE)
                                   .offset((page - 1) * NOTIFICATIONS_PAGE)).all()
            items = [_notification(row, language) for row in rows]
        return {"items": items, "total": total, "unread": unread, "page": page,
                "pages": max(1, -(-total // NOTIFICATIONS_PAGE))}

    def mark_read(self, principal: access.Principal, notification_id: int) -> bool:
        """Mark one of the officer's notifications read (NotFound when it is not theirs);
        whether it was unread."""
        if not isinstance(notification_id, int) or not 1 <= notification_id <= MAX_ID:
            raise NotFound("notification %(id)s does not exist", id=notification_id)
        with self.ctx.transaction() as session:
            row = session.get(Outbox, notification_id)
            if row is None or row.channel != "inapp" or row.user_id != principal.user_id \
                    or principal.user_id is None:
                raise NotFound("notification %(id)s does not exist", id=notification_id)
            return notify.mark_read(session, principal.user_id, [notification_id]) == 1

    def mark_all_read(self, principal: access.Principal) -> int:
        """Mark every unread notification of the officer read; how many there were."""
        if principal.user_id is None:
            return 0
        with self.ctx.transaction() as session:
            return int(session.execute(
                update(Outbox).where(Outbox.user_id == principal.user_id,
                                     Outbox.channel == "inapp", Outbox.status == "unread")
                .values(status="read").execution_options(synchronize_session=False)
            ).rowcount or 0)

    # ------------------------------------------------------------------ internal notes

    def add_note(self, tracking_number: str, text: Any, principal: access.Principal) -> None:
        """An internal note on a case, by staff who may see it; never shown to the citizen.
        A note changes nothing of the report (its version stays: open forms stay valid)."""
        note = _note_text(text)
        with self.ctx.transaction() as session:
            complaint = load_report(session, tracking_number)
            if not principal.is_officer or not access.can_view(principal, complaint):
                raise NotFound("report %(tracking)s does not exist", tracking=tracking_number)
            session.add(ComplaintEvent(complaint_id=complaint.id, at=self.ctx.now(),
                                       actor=principal.username, kind=NOTE_KIND, text=note,
                                       public=False))

    # ------------------------------------------------------------------ giving a task

    def colleagues(self, task: dict[str, Any], principal: access.Principal
                   ) -> list[dict[str, str]]:
        """Whom the officer may give this open task (a document of open_tasks) to: the
        active members of its groups, themselves and the task's holder left out; empty when
        they may not."""
        if not may_give(principal, task):
            return []
        with self.ctx.reads() as session:
            return [{"username": u.username, "full_name": u.full_name}
                    for u in members(session, task["candidate_groups"])
                    if u.username not in (principal.username, task.get("assignee"))]

    def colleagues_of_tasks(self, tasks: list[dict[str, Any]], principal: access.Principal
                            ) -> dict[str, list[dict[str, str]]]:
        """colleagues() for each task, by task id (the case page's open tasks)."""
        return {task["id"]: found for task in tasks
                if (found := self.colleagues(task, principal))}

    @translate_engine_errors
    def give(self, task_id: str, username: str, principal: access.Principal, *,
             expected_assignee: str | None) -> dict[str, Any]:
        """Give an open task to a named colleague of its group. `expected_assignee`: who
        held it when the form was read ("" or None: nobody); if that changed since, Conflict
        and nothing changes. Forbidden unless the caller is the regency administrator or a
        member of the task's group; Invalid (naming `assignee`) unless the colleague is an
        active member of the group. The colleague is told in the same transaction."""
        if not principal.is_officer:
            raise Forbidden("only officers give tasks")
        if not task_id or len(task_id) > TASK_ID_MAX:
            raise NotFound(f"task {task_id!r} does not exist")
        task = self.ctx.engine.task(task_id)
        task.pop("data", None)
        if not may_give(principal, task):
            raise Forbidden(f"task {task_id} is for {', '.join(task['candidate_groups'])}; "
                            "only its group's members or the regency administrator give it")
        name = (username or "").strip() if isinstance(username, str) else ""
        with self.ctx.reads() as session:
            complaint = session.scalars(select(Complaint).where(
                Complaint.instance_id == task["instance_id"])).first()
            if complaint is not None and not access.can_view(principal, complaint):
                raise NotFound(f"task {task_id!r} does not exist")
            complaint_id = complaint.id if complaint is not None else None
            colleague = next(((u.id, u.username) for u in members(
                session, task["candidate_groups"]) if u.username == name), None)
        if colleague is None:
            raise Invalid("the task can be given only to a member of its group",
                          {"assignee": Message("choose a colleague of the task's group")})
        colleague_id, colleague_name = colleague
        expected = expected_assignee or None
        if expected == colleague_name:
            raise Conflict("task %(task)s is already claimed by %(holder)s", task=task_id,
                           holder=colleague_name)
        now = self.ctx.now()

        def record(session: Session) -> None:
            user = session.get(User, colleague_id)
            report = session.get(Complaint, complaint_id) if complaint_id else None
            if report is not None:
                session.add(ComplaintEvent(complaint_id=report.id, at=now,
                                           actor=principal.username, kind=GIVEN_KIND,
                                           text=user.username, public=False))
            notify.to_users(session, [user], report, "task_given", now, {
                "tracking_number": report.tracking_number if report else "",
                "title": (access.HIDDEN if report is None or report.confidential
                          else report.title),
                "task_title": task["title"], "by": principal.username})

        return self.ctx.engine.assign(task_id, colleague_name, actor=principal.username,
                                      expected_assignee=expected, only_if_free=expected is None,
                                      hook=record)


def may_give(principal: access.Principal, task: dict[str, Any]) -> bool:
    """The regency administrator, or a member of the task's groups (holder or not); never
    for a task that waits for the complainant."""
    groups = set(task.get("candidate_groups") or [])
    if not principal.is_officer or any(g.startswith("complainant") for g in groups):
        return False
    return principal.has("regency_admin") or bool(groups & principal.groups)


def members(session: Session, groups: list[str]) -> list[Recipient]:
    """The active officers of a task's candidate groups, by username."""
    return sorted(notify.users_for_groups(session, groups), key=lambda u: u.username)


def _note_text(text: Any) -> str:
    if text is not None and not isinstance(text, str):
        raise Invalid("the note must be text", {"note": Message("write the note as text")})
    check_text({"note": text}, "the note")
    note = (text or "").strip()
    if not note:
        raise Invalid("the note is empty", {"note": Message("write the note")})
    if len(note) > NOTE_MAX:
        raise Invalid("the note is too long",
                      {"note": Message("at most %(limit)s characters", limit=NOTE_MAX)})
    return note


def _notification(row: Outbox, language: str) -> dict[str, Any]:
    subject, body = notify.render(row.template, language, row.payload or {})
    return {"id": row.id, "at": row.created_at.isoformat(), "template": row.template,
            "subject": subject, "body": body, "read": row.status == "read",
            "tracking_number": (row.payload or {}).get("tracking_number") or None}


# Every officer's page counts them (the navigation bar): built once, not per request.
_UNREAD = select(func.count()).select_from(Outbox).where(
    Outbox.user_id == bindparam("user_id"), Outbox.channel == "inapp",
    Outbox.status == "unread")
