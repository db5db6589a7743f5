"""Notifications: templates in Bahasa Indonesia and English, written to the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import groups as task_groups
from workflows.models import Agency, Complaint, Outbox, User

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "status_changed": {
        "id": ("Laporan {tracking_number}: {status_label}",
               "Status laporan Anda \"{title}\" kini {status_label}. {reason}"),
        "en": ("Report {tracking_number}: {status_label}",
               "Your report \"{title}\" is now {status_label}. {reason}"),
    },
    "info_requested": {
        "id": ("Laporan {tracking_number} perlu informasi tambahan",
               "Mohon lengkapi laporan Anda: {reason}. Batas waktu: {due_local}."),
        "en": ("Report {tracking_number} needs more information",
               "Please complete your report: {reason}. Deadline: {due_local}."),
    },
    "task_assigned": {
        "id": ("Tugas baru: {task_title} ({tracking_number})",
               "Laporan \"{title}\" menunggu tindak lanjut Anda. Batas waktu: {due_local}."),
        "en": ("New task: {task_title} ({tracking_number})",
               "Report \"{title}\" awaits your follow-up. Deadline: {due_local}."),
    },
    "sla_reminder": {
        "id": ("Pengingat: {tracking_number} jatuh tempo {due_local}",
               "Laporan \"{title}\" ({step_label}) jatuh tempo dalam satu hari kerja."),
        "en": ("Reminder: {tracking_number} is due {due_local}",
               "Report \"{title}\" ({step_label}) is due within one working day."),
    },
    "escalated": {
        "id": ("Eskalasi: {tracking_number} terlambat ({rung_label})",
               "Laporan \"{title}\" melewati batas waktu {step_label} ({due_local}) dan "
               "dieskalasikan ke {rung_label}."),
        "en": ("Escalation: {tracking_number} is overdue ({rung_label})",
               "Report \"{title}\" missed its {step_label} deadline ({due_local}) and was "
               "escalated to {rung_label}."),
    },
    "daily_digest": {
        "id": ("Ringkasan harian {date_local}: {overdue} terlambat, {due_soon} segera jatuh tempo",
               "Terlambat: {overdue} ({overdue_list}). Jatuh tempo dalam satu hari kerja: "
               "{due_soon} ({due_soon_list}). Eskalasi terbuka: {escalated}."),
        "en": ("Daily digest {date_local}: {overdue} overdue, {due_soon} due soon",
               "Overdue: {overdue} ({overdue_list}). Due within one working day: {due_soon} "
               "({due_soon_list}). Open escalations: {escalated}."),
    },
}


def render(template: str, language: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a template in a language (Indonesian when unknown)."""
    texts = TEMPLATES[template]
    subject, body = texts.get(language) or texts["id"]
    values = _Defaulting(payload)
    return subject.format_map(values), body.format_map(values).strip()


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return ""


def complainant_channels(complaint: Complaint) -> list[tuple[str, str]]:
    """Where the citizen is told: the channel they used, and email when they gave one."""
    channels: list[tuple[str, str]] = []
    if complaint.channel == "whatsapp" and complaint.reporter_phone:
        channels.append(("whatsapp", complaint.reporter_phone))
    elif complaint.channel == "sms" and complaint.reporter_phone:
        channels.append(("sms", complaint.reporter_phone))
    if complaint.reporter_email:
        channels.append(("email", complaint.reporter_email))
    return channels


def to_complainant(session: Session, complaint: Complaint, template: str, now: datetime,
                   payload: dict[str, Any]) -> None:
    for channel, recipient in complainant_channels(complaint):
        session.add(Outbox(
            created_at=now, channel=channel, recipient=recipient, complaint_id=complaint.id,
            template=template, language=complaint.language, payload=payload,
            status="pending", attempts=0, next_attempt_at=now))


def to_users(session: Session, users: Iterable[User], complaint: Complaint | None,
             template: str, now: datetime, payload: dict[str, Any]) -> int:
    """In-app for each officer, and email when they have one; returns how many."""
    count = 0
    for user in users:
        rows = [("inapp", user.username)]
        if user.email:
            rows.append(("email", user.email))
        for channel, recipient in rows:
            session.add(Outbox(
                created_at=now, channel=channel, recipient=recipient, user_id=user.id,
                complaint_id=complaint.id if complaint else None, template=template,
                language=user.language, payload=payload,
                status="pending" if channel != "inapp" else "unread", attempts=0,
                next_attempt_at=now if channel != "inapp" else None))
            count += 1
    return count


def users_with(session: Session, role: str, agency_ids: Iterable[int] | None) -> list[User]:
    query = select(User).where(User.active.is_(True))
    if agency_ids is not None:
        ids = list(agency_ids)
        if not ids:
            return []
        query = query.where(User.agency_id.in_(ids))
    return [u for u in session.scalars(query) if role in (u.roles or [])]


def users_for_groups(session: Session, groups: list[str]) -> list[User]:
    """The officers behind a task's candidate groups: who is told of a new task."""
    found: dict[int, User] = {}
    for group in groups:
        role, code = task_groups.parse(group)
        if role not in task_groups.USER_ROLES:
            continue  # the complainant is told through the status, not as an officer
        agency_ids = None
        if code:
            agency_ids = list(session.scalars(select(Agency.id).where(Agency.code == code)))
        for user in users_with(session, task_groups.USER_ROLES[role], agency_ids):
            found[user.id] = user
    return list(found.values())


def inbox(session: Session, user_id: int, *, unread_only: bool = False, limit: int = 100
          ) -> list[dict[str, Any]]:
    """A user's in-app notifications, newest first, rendered in their language."""
    query = select(Outbox).where(Outbox.user_id == user_id, Outbox.channel == "inapp")
    if unread_only:
        query = query.where(Outbox.status == "unread")
    rows = session.scalars(query.order_by(Outbox.id.desc()).limit(min(limit, 500))).all()
    items = []
    for row in rows:
        subject, body = render(row.template, row.language, row.payload or {})
        items.append({"id": row.id, "at": row.created_at.isoformat(), "template": row.template,
                      "subject": subject, "body": body, "read": row.status == "read",
                      "tracking_number": (row.payload or {}).get("tracking_number")})
    return items


def mark_read(session: Session, user_id: int, ids: Iterable[int]) -> int:
    rows = session.scalars(select(Outbox).where(
        Outbox.user_id == user_id, Outbox.channel == "inapp", Outbox.id.in_(list(ids)),
        Outbox.status == "unread")).all()
    for row in rows:
        row.status = "read"
    return len(rows)
