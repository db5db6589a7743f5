"""A citizen's reports as the phone channels (SMS, WhatsApp) see them: found by the phone
number they were filed with, their status and deadline in one line, information added.

A report belongs to a phone when its `reporter_phone`, written however the citizen wrote it
("0812-3456-7890", "+62 812..."), is the same number (workflows/channels.normalize_phone).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import access
from workflows import diagram_ids as ids
from workflows.channels import same_phone
from workflows.context import Context
from workflows.errors import Conflict, Invalid
from workflows.models import Complaint, ComplaintEvent, SlaRecord
from workflows.notify import deadline_words
from workflows.reports import COMPLAINANT, Reports

FINISHED = (ids.STATUS_CLOSED, ids.STATUS_ARCHIVED, ids.STATUS_RETURNED)
TEXT_LIMIT = 5000
STATUS_LINE = {
    "id": ("Laporan {number}: {status}. {deadline}", "Batas waktu tahap ini: {due}.",
           "Tidak ada batas waktu yang berjalan."),
    "en": ("Report {number}: {status}. {deadline}", "This stage's deadline: {due}.",
           "No deadline is running."),
}


def open_reports(session: Session, phone: str, limit: int = 20) -> list[Complaint]:
    """The phone's reports not finished, newest first (in the caller's session)."""
    written = func.replace(func.replace(func.replace(
        Complaint.reporter_phone, " ", ""), "-", ""), "+", "")
    rows = session.scalars(
        select(Complaint).where(Complaint.status.not_in(FINISHED),
                                Complaint.reporter_phone.is_not(None),
                                written.like(f"%{phone[-9:]}"))
        .order_by(Complaint.id.desc()).limit(limit * 2)).all()
    return [row for row in rows if same_phone(row.reporter_phone, phone)][:limit]


class PhoneReports:
    """The reports of one phone number (see the module)."""

    def __init__(self, ctx: Context, reports: Reports) -> None:
        self.ctx = ctx
        self.reports = reports

    def own(self, phone: str, number: str) -> Complaint | None:
        """The report with this number when it was filed with this phone, else None."""
        with self.ctx.reads() as session:
            complaint = session.scalars(select(Complaint).where(
                Complaint.tracking_number == number)).first()
            if complaint is None or not same_phone(complaint.reporter_phone, phone):
                return None
            session.expunge(complaint)
            return complaint

    def open_reports(self, phone: str, limit: int = 20) -> list[Complaint]:
        """The phone's reports not finished, newest first."""
        with self.ctx.reads() as session:
            found = open_reports(session, phone, limit)
            for row in found:
                session.expunge(row)
            return found

    def add_information(self, complaint: Complaint, text: str,
                        uploads: list | None = None) -> bool:
        """The citizen's information on their report: the answer to the officer's question
        (`provide_info`, True) when the report waits for it, else a note on the report
        (False; photos are only taken as an answer)."""
        number = complaint.tracking_number
        if complaint.status == ids.STATUS_NEEDS_INFO:
            try:
                self.reports.act(number, "provide_info", {"information": text[:TEXT_LIMIT]},
                                 access.complainant(number), uploads=uploads or None)
                return True
            except (Conflict, Invalid):
                pass  # the question was closed meanwhile: kept as a note below
        now = self.ctx.now()
        with self.ctx.transaction() as session:
            session.add(ComplaintEvent(complaint_id=complaint.id, at=now, actor=COMPLAINANT,
                                       kind="citizen_note", text=text[:TEXT_LIMIT],
                                       public=False))
            target = session.get(Complaint, complaint.id)
            target.updated_at = now
        return False

    def status_line(self, complaint: Complaint, language: str = "id") -> str:
        """"Laporan PPU-...: Diproses. Batas waktu tahap ini: Rabu, 9 Des 2026." (the last
        working day of the step now running)."""
        with self.ctx.reads() as session:
            due = session.scalars(
                select(SlaRecord.due_at).where(SlaRecord.complaint_id == complaint.id,
                                               SlaRecord.state == "running",
                                               SlaRecord.due_at.is_not(None))
                .order_by(SlaRecord.started_at.desc())).first()
        lang = language if language in STATUS_LINE else "id"
        line, with_due, without = STATUS_LINE[lang]
        label = ids.STATUS_LABELS[complaint.status][lang]
        config = self.ctx.config
        deadline = with_due.format(due=deadline_words(
            due, config.tzinfo, config.zone_name, lang)) if due else without
        return line.format(number=complaint.tracking_number, status=label, deadline=deadline)
