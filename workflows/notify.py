"""Notifications: templates in Bahasa Indonesia and English, written to the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflows import access, agency_directory, recipients
from workflows import groups as task_groups
from workflows.metoo_models import MeToo
from workflows.models import Complaint, ComplaintEvent, Outbox
from workflows.operation import insert_row, reading
from workflows.recipients import Recipient

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    # To citizens: their words only, never an internal event name or agency code; the
    # agency's answer and the tracking link are added by render() (CITIZEN_LINES).
    "status_changed": {
        "id": ("Laporan {tracking_number}: {status_label}",
               "Status laporan Anda \"{title}\" kini {status_label}. {note}"),
        "en": ("Report {tracking_number}: {status_label}",
               "Your report \"{title}\" is now {status_label}. {note}"),
    },
    "info_requested": {
        "id": ("Laporan {tracking_number} perlu informasi tambahan",
               "Mohon lengkapi laporan Anda: {note} Batas waktu: {due_local}."),
        "en": ("Report {tracking_number} needs more information",
               "Please complete your report: {note} Deadline: {due_local}."),
    },
    # A supervisor moved the report to another agency (workflows/actions.py, reassign).
    "handler_changed": {
        "id": ("Laporan {tracking_number} dialihkan ke {agency}",
               "Laporan Anda \"{title}\" dialihkan ke {agency} karena disposisi sebelumnya "
               "keliru. {agency} menindaklanjutinya mulai sekarang, dengan batas waktu yang "
               "sama."),
        "en": ("Report {tracking_number} moved to {agency}",
               "Your report \"{title}\" was moved to {agency} because it had been sent to the "
               "wrong agency. {agency} follows it up from now on, within the same deadlines."),
    },
    # To a citizen who said "me too" on a report (workflows/nearby.py): its title and
    # status only, nothing of its complainant or the agency's answer to them.
    "followed_status_changed": {
        "id": ("Laporan {tracking_number} yang Anda ikuti: {status_label}",
               "Laporan \"{title}\" yang Anda ikuti kini {status_label}.\n{stop}"),
        "en": ("Report {tracking_number} you follow: {status_label}",
               "The report \"{title}\" you follow is now {status_label}.\n{stop}"),
    },
    "task_assigned": {
        "id": ("Tugas baru: {task_title} ({tracking_number})",
               "Laporan \"{title}\" menunggu tindak lanjut Anda. Batas waktu: {due_local}."),
        "en": ("New task: {task_title} ({tracking_number})",
               "Report \"{title}\" awaits your follow-up. Deadline: {due_local}."),
    },
    # A colleague (or the regency administrator) gave the officer a task (workflows/desk.py).
    "task_given": {
        "id": ("Tugas untuk Anda dari {by}: {task_title} ({tracking_number})",
               "{by} menyerahkan tugas atas laporan \"{title}\" kepada Anda."),
        "en": ("A task for you from {by}: {task_title} ({tracking_number})",
               "{by} gave you the task on report \"{title}\"."),
    },
    "sla_reminder": {
        "id": ("Pengingat: {tracking_number} jatuh tempo {due_local}",
               "Laporan \"{title}\" ({step_label}) jatuh tempo pada {due_local}."),
        "en": ("Reminder: {tracking_number} is due {due_local}",
               "Report \"{title}\" ({step_label}) is due at {due_local}."),
    },
    "escalated": {
        "id": ("Eskalasi: {tracking_number} terlambat ({rung_label})",
               "Laporan \"{title}\" melewati batas waktu {step_label} ({due_local}) dan "
               "dieskalasikan ke {rung_label}."),
        "en": ("Escalation: {tracking_number} is overdue ({rung_label})",
               "Report \"{title}\" missed its {step_label} deadline ({due_local}) and was "
               "escalated to {rung_label}."),
    },
    # A system administrator's test of a channel (workflows/channel_admin.py).
    "channel_test": {
        "id": ("Pesan uji Aduan", "Ini pesan uji dari Aduan {regency}, dikirim oleh {actor} "
               "pada {at_local}. Kanal ini berfungsi."),
        "en": ("Aduan test message", "This is a test message from Aduan {regency}, sent by "
               "{actor} at {at_local}. This channel works."),
    },
    # An SMS gateway's reply (workflows/sms.py), written in full by the use case; and a
    # WhatsApp conversation's (workflows/whatsapp.py).
    "sms_reply": {"id": ("", "{text}"), "en": ("", "{text}")},
    "whatsapp_reply": {"id": ("", "{text}"), "en": ("", "{text}")},
    # A report begun on WhatsApp and left unfinished (sent outside the 24-hour window: the
    # template `whatsapp_abandoned`, workflows/channels.py).
    "whatsapp_abandoned": {
        "id": ("", "Laporan yang belum selesai Anda tulis lewat WhatsApp kami hapus karena "
                   "tidak ada balasan selama 24 jam. Kirim pesan apa saja untuk memulai lagi."),
        "en": ("", "The report you began on WhatsApp and did not finish was removed after "
                   "24 hours without a reply. Send any message to start again."),
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


CITIZEN_TEMPLATES = frozenset({"status_changed", "info_requested", "handler_changed"})

# Lines added to a citizen's message when the payload has the value.
CITIZEN_LINES: dict[str, dict[str, str]] = {
    "answer": {"id": "Jawaban instansi: {answer}", "en": "The agency's answer: {answer}"},
    "refer_to": {"id": "Silakan sampaikan laporan Anda kepada: {refer_to}.",
                 "en": "Please take your report to: {refer_to}."},
    "link": {"id": "Ikuti laporan Anda: {link}", "en": "Follow your report: {link}"},
    "no_link": {"id": "Ikuti laporan Anda di halaman Lacak Laporan dengan nomor "
                      "{tracking_number} dan kode rahasia Anda.",
                "en": "Follow your report on the Track a report page with the number "
                      "{tracking_number} and your secret code."},
}

# The reasons the lifecycle writes itself (bpmn/complaint_lifecycle.bpmn), in the citizen's
# words; an officer's own reason (archive, not our authority, postpone, a question) was
# written for the citizen and is passed on as it is.
CITIZEN_REASONS: dict[str, dict[str, str]] = {
    "information provided": {"id": "Informasi yang diminta sudah Anda tambahkan.",
                             "en": "You added the information that was asked for."},
    "interim answer": {"id": "Instansi memberikan jawaban sementara.",
                       "en": "The agency gave an interim answer."},
    "final answer": {"id": "Instansi memberikan jawaban akhir.",
                     "en": "The agency gave its final answer."},
    "accepted": {"id": "Anda menerima jawaban.", "en": "You accepted the answer."},
    "unsatisfied": {"id": "Anda menyatakan masalahnya belum selesai.",
                    "en": "You said the problem is not solved."},
    "auto": {"id": "Ditutup otomatis: tidak ada tanggapan dalam batas waktu.",
             "en": "Closed automatically: there was no reply within the time allowed."},
    "no answer": {"id": "Diarsipkan: informasi yang diminta tidak datang tepat waktu.",
                  "en": "Archived: the information asked for did not arrive in time."},
    "resumed": {"id": "Penanganan dilanjutkan.", "en": "Handling has resumed."},
    "reopened": {"id": "Laporan dibuka kembali.", "en": "The report was reopened."},
}
DISPOSED_PREFIX = "disposed to "  # + the agency's code, written by the diagram
DISPOSED_NOTE = {"id": "Laporan Anda diteruskan ke {agency} untuk ditindaklanjuti.",
                 "en": "Your report was sent to {agency} to be followed up."}
AGENCY_IN_CHARGE = {"id": "instansi yang berwenang", "en": "the agency in charge"}


def citizen_note(reason: str | None, language: str, agency_name: str | None = None) -> str:
    """A status change's reason as the citizen reads it."""
    lang = language if language in ("id", "en") else "id"
    reason = (reason or "").strip()
    if reason in CITIZEN_REASONS:
        return CITIZEN_REASONS[reason][lang]
    if reason.startswith(DISPOSED_PREFIX.strip()):
        return DISPOSED_NOTE[lang].format(agency=agency_name or AGENCY_IN_CHARGE[lang])
    if reason and reason[-1].isalnum():  # a sentence, before the lines that follow
        reason += "."
    return reason


def deadline_words(due: datetime, tz: Any, zone_name: str, language: str) -> str:
    """A deadline as people say it, in messages: "Rabu, 9 Des 2026" ("Wednesday, 9 Dec
    2026"), the last day to act. Working days end at midnight, so a due time of 00:00 is the
    end of the day before and is written as that day; another time of day keeps its time
    ("Kamis, 10 Des 2026 10.05 WITA"). The pages say the same (web/i18n.format_deadline)."""
    lang = language if language in ("id", "en") else "id"
    local = due.astimezone(tz)
    if local.time() == datetime.min.time():
        return format_date(local.date() - timedelta(days=1), "EEEE, d MMM y", locale=lang)
    return format_date(local.date(), "EEEE, d MMM y", locale=lang) + \
        local.strftime(" %H.%M ") + zone_name


def due_fields(due: datetime, config: Any) -> dict[str, str]:
    """What a payload carries for render() to say its deadline in the reader's language."""
    return {"due_at": due.isoformat(), "zone": config.timezone, "zone_name": config.zone_name}


def render(template: str, language: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of a template in a language (Indonesian when unknown)."""
    texts = TEMPLATES[template]
    lang = language if language in texts else "id"
    subject, body = texts[lang]
    values = _Defaulting(payload)
    if payload.get("due_at") and payload.get("zone"):  # rows queued since deadlines say so
        due = datetime.fromisoformat(payload["due_at"])
        values["due_local"] = deadline_words(due, ZoneInfo(payload["zone"]),
                                             payload.get("zone_name") or "", lang)
    if template in CITIZEN_TEMPLATES:
        if "note" not in payload:  # rows queued before notes: the reason, in citizen words
            values["note"] = citizen_note(payload.get("reason"), lang)
        lines = [body.format_map(values).strip()]
        if payload.get("answer"):
            lines.append(CITIZEN_LINES["answer"][lang].format_map(values))
        if payload.get("refer_to"):
            lines.append(CITIZEN_LINES["refer_to"][lang].format_map(values))
        lines.append(CITIZEN_LINES["link" if payload.get("link") else "no_link"][lang]
                     .format_map(values))
        return subject.format_map(values), "\n".join(lines)
    return subject.format_map(values), body.format_map(values).strip()


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return ""


def complainant_channels(complaint: Complaint) -> list[tuple[str, str]]:
    """Where the citizen is told, whatever channel they filed by: the phone channel they
    chose (sms or whatsapp; reports from before the choice: the channel they filed by when it
    was sms or whatsapp), and their e-mail address whenever they gave one."""
    channels: list[tuple[str, str]] = []
    phone_channel = complaint.contact_channel
    if phone_channel is None and complaint.channel in ("sms", "whatsapp"):
        phone_channel = complaint.channel
    if phone_channel in ("sms", "whatsapp") and complaint.reporter_phone:
        channels.append((phone_channel, complaint.reporter_phone))
    if complaint.reporter_email:
        channels.append(("email", complaint.reporter_email))
    return channels


def default_contact_channel(filed_by: str, phone: str | None, email: str | None) -> str | None:
    """The choice made for a citizen who made none: the phone channel they filed by, else
    SMS when they gave a phone number, else e-mail when they gave an address."""
    if phone:
        return filed_by if filed_by in ("sms", "whatsapp") else "sms"
    return "email" if email else None


def reply_channels(complaint: Complaint, configured: Iterable[str]) -> list[str]:
    """The channels the citizen will really be told by: theirs that this regency has set up."""
    ready = set(configured)
    return [channel for channel, _ in complainant_channels(complaint) if channel in ready]


def task_payload(complaint: Complaint, task_title: str, due_local: str) -> dict[str, Any]:
    """What an officer's `task_assigned` message says (a rahasia report's title hidden)."""
    return {"tracking_number": complaint.tracking_number,
            "title": access.HIDDEN if complaint.confidential else complaint.title,
            "task_title": task_title, "due_local": due_local}


def tracking_link(complaint: Complaint, public_url: str) -> str:
    """The citizen's link to their report's tracking page ("" when no public address is set:
    the message then says how to find it)."""
    return f"{public_url.rstrip('/')}/lacak/{complaint.tracking_number}" if public_url else ""


def status_payload(session: Session, complaint: Complaint, status_label: str, reason: str,
                   public_url: str, refer_to: str | None = None, answer: str | None = None
                   ) -> dict[str, Any]:
    """What a citizen's status message says: the citizen's words for the reason, the
    agency's latest answer when the report was just answered (`answer`, when the caller
    has it; else read back), where to take a report that is not the regency's authority
    (`refer_to`), the tracking link."""
    language = complaint.language if complaint.language in ("id", "en") else "id"
    agency_name = None
    if reason.startswith(DISPOSED_PREFIX):
        found = agency_directory.by_code(session, reason[len(DISPOSED_PREFIX):].strip())
        agency_name = found.name if found else None
    if answer is None and reason in ("interim answer", "final answer"):
        with reading(session, ComplaintEvent):  # the answer's event, from this transaction
            answer = session.scalars(select(ComplaintEvent.text).where(
                ComplaintEvent.complaint_id == complaint.id, ComplaintEvent.kind == "respond",
                ComplaintEvent.public.is_(True)).order_by(ComplaintEvent.id.desc())).first()
    link = tracking_link(complaint, public_url)
    return {"tracking_number": complaint.tracking_number, "title": complaint.title,
            "status": complaint.status, "status_label": status_label,
            "note": citizen_note(reason, language, agency_name), "answer": answer or "",
            "refer_to": refer_to or "", "link": link}


def to_complainant(session: Session, complaint: Complaint, template: str, now: datetime,
                   payload: dict[str, Any]) -> None:
    for channel, recipient in complainant_channels(complaint):
        insert_row(session, Outbox, **outbox_row(now, channel, recipient, complaint.id,
                                                  template, complaint.language, payload))


# A report's followers as to_followers reads them (Core rows: read once, never changed).
_FOLLOWERS = select(MeToo.phone, MeToo.email, MeToo.channel, MeToo.language,
                    MeToo.stop_token).where(
    MeToo.complaint_id == bindparam("b_id")).order_by(MeToo.id)

STOP_FOLLOWING = {
    "phone": {"id": "Balas BERHENTI {number} untuk tidak lagi menerima kabar laporan ini.",
              "en": "Reply BERHENTI {number} to stop news of this report."},
    "email": {"id": "Berhenti mengikuti laporan ini: {link}",
              "en": "Stop following this report: {link}"},
}


def stop_following_line(channel: str, language: str, complaint: Complaint,
                        token: str | None, public_url: str) -> str:
    """How a follower stops: a reply on the phone channels, a link in an e-mail."""
    if channel in ("sms", "whatsapp"):
        return STOP_FOLLOWING["phone"][language].format(number=complaint.tracking_number)
    if token and public_url:
        link = f"{public_url.rstrip('/')}/lapor/berhenti/{token}"
        return STOP_FOLLOWING["email"][language].format(link=link)
    return ""


def to_followers(session: Session, complaint: Complaint, now: datetime,
                 labels: dict[str, str], public_url: str = "") -> int:
    """Tell those who said "me too" with a phone or e-mail (workflows/nearby.py) that the
    report's status changed; `labels`: the new status by language. Returns how many."""
    count = 0
    with reading(session, MeToo):
        followers = session.connection().execute(_FOLLOWERS, {"b_id": complaint.id}).all()
    for follower in followers:
        rows = []
        if follower.phone and follower.channel in ("sms", "whatsapp"):
            rows.append((follower.channel, follower.phone))
        if follower.email:
            rows.append(("email", follower.email))
        language = follower.language if follower.language in labels else "id"
        for channel, recipient in rows:
            insert_row(session, Outbox, **outbox_row(
                now, channel, recipient, complaint.id, "followed_status_changed", language,
                {"tracking_number": complaint.tracking_number, "title": complaint.title,
                 "status": complaint.status, "status_label": labels[language],
                 "stop": stop_following_line(channel, language, complaint,
                                             follower.stop_token, public_url)}))
            count += 1
    return count


def to_users(session: Session, users: Iterable[Recipient], complaint: Complaint | None,
             template: str, now: datetime, payload: dict[str, Any]) -> int:
    """In-app for each officer, and email when they have one; returns how many. Inside an
    engine operation the rows are staged and written with the operation's other messages
    by one statement (workflows/operation.py, `insert_row`); elsewhere they are added to
    the caller's session."""
    count = 0
    for user in users:
        channels = [("inapp", user.username)]
        if user.email:
            channels.append(("email", user.email))
        for channel, recipient in channels:
            insert_row(session, Outbox, **outbox_row(
                now, channel, recipient, complaint.id if complaint else None, template,
                user.language, payload, user_id=user.id))
            count += 1
    return count


def outbox_row(now: datetime, channel: str, recipient: str, complaint_id: int | None,
               template: str, language: str, payload: dict[str, Any],
               user_id: int | None = None) -> dict[str, Any]:
    """A message for the outbox with every column its writers give (workflows/operation.py,
    `insert_row`): pending delivery now, or an officer's unread in-app notice."""
    inapp = channel == "inapp"
    return {"created_at": now, "channel": channel, "recipient": recipient,
            "user_id": user_id, "complaint_id": complaint_id, "template": template,
            "language": language, "payload": payload,
            "status": "unread" if inapp else "pending", "attempts": 0,
            "next_attempt_at": None if inapp else now}


def users_with(session: Session, role: str, agency_ids: Iterable[int] | None
               ) -> list[Recipient]:
    """The active users with `role` (of those agencies, when given), from the process's
    directory of officers (workflows/recipients.py), read again after any account changed."""
    return recipients.with_role(session, role, agency_ids)


def users_for_groups(session: Session, groups: list[str]) -> list[Recipient]:
    """The officers behind a task's candidate groups: who is told of a new task."""
    found: dict[int, Recipient] = {}
    for group in groups:
        role, code = task_groups.parse(group)
        if role not in task_groups.USER_ROLES:
            continue  # the complainant is told through the status, not as an officer
        agency_ids = None
        if code:
            agency = agency_directory.by_code(session, code)
            agency_ids = [agency.id] if agency else []
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
