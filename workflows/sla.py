"""SLA records in working days, and the escalation ladder; called by the lifecycle diagram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import Operation, current_operation
from workflows import diagram_ids as ids
from workflows import notify
from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.models import Agency, Complaint, Escalation, SlaRecord
from workflows.workdays import calendar_for

RUNNING, PAUSED, MET, BREACHED = "running", "paused", "met", "breached"
CITIZEN_STEPS = frozenset({"info_request", "complainant_window"})
NO_CHECK = "R/2100-01-01T00:00:00+00:00/P1D"  # a cycle that never comes due
STEP_LABELS = {
    "verification": {"id": "verifikasi dan disposisi", "en": "verification and disposition"},
    "follow_up": {"id": "tindak lanjut", "en": "follow-up"},
    "resolution": {"id": "penyelesaian", "en": "resolution"},
    "info_request": {"id": "melengkapi informasi", "en": "additional information"},
    "complainant_window": {"id": "tanggapan pelapor", "en": "complainant's reply"},
}


class SlaPolicy:
    """The host services the diagram calls for deadlines: start, pause, resume, stop, watch."""

    def __init__(self, config: RegencyConfig) -> None:
        self.config = config

    # ------------------------------------------------------------------ engine services

    def services(self) -> dict[str, Any]:
        return {
            ids.SERVICE_SLA_START: self.sla_start,
            ids.SERVICE_SLA_PAUSE: self.sla_pause,
            ids.SERVICE_SLA_RESUME: self.sla_resume,
            ids.SERVICE_SLA_STOP: self.sla_stop,
            ids.SERVICE_SLA_WATCH: self.sla_watch,
        }

    def _context(self) -> tuple[Operation, Session, Complaint, WorkingCalendar]:
        operation = current_operation()
        if operation is None:
            raise RuntimeError("SLA services run only inside an engine operation")
        session = operation.session
        complaint = session.scalars(select(Complaint).where(
            Complaint.instance_id == operation.instance_id)).first()
        if complaint is None:
            raise LookupError(f"no complaint belongs to instance {operation.instance_id}")
        return operation, session, complaint, calendar_for(session, self.config)

    def sla_start(self, step: str, budget_days: float) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        for old in self._running(session, complaint, step):  # a step restarts, not doubles
            self._close(old, now, calendar)
        budget = float(budget_days)
        record = SlaRecord(
            complaint_id=complaint.id, step=step, budget_days=budget,
            holder_rung=self._holder_rung(complaint, step), started_at=now,
            due_at=calendar.add_working_days(now, budget).astimezone(UTC), pauses=[],
            state=RUNNING, rung=self._holder_rung(complaint, step), reminded_rungs=[])
        session.add(record)
        session.flush()
        return {"due_at": self._iso(record.due_at, calendar), **self._watch(session, complaint,
                                                                            calendar, now)}

    def sla_pause(self, step: str) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        for record in self._running(session, complaint, step):
            record.remaining_seconds = (
                calendar.working_seconds_between(now, record.due_at) if record.due_at > now
                else -calendar.working_seconds_between(record.due_at, now))
            record.paused_at, record.state = now, PAUSED
        session.flush()
        return self._watch(session, complaint, calendar, now)

    def sla_resume(self, step: str) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        record = session.scalars(select(SlaRecord).where(
            SlaRecord.complaint_id == complaint.id, SlaRecord.step == step,
            SlaRecord.state == PAUSED).order_by(SlaRecord.id.desc())).first()
        if record is None:
            raise LookupError(f"no paused SLA for step {step!r} of {complaint.tracking_number}")
        record.pauses = [*record.pauses, {"from": record.paused_at.isoformat(),
                                          "to": now.isoformat()}]
        record.due_at = calendar.add_working_seconds(now, record.remaining_seconds or 0
                                                     ).astimezone(UTC)
        record.paused_at, record.remaining_seconds, record.state = None, None, RUNNING
        session.flush()
        return {"due_at": self._iso(record.due_at, calendar),
                **self._watch(session, complaint, calendar, now)}

    def sla_stop(self, step: str) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        met = True
        for record in self._running(session, complaint, step, include_paused=True):
            met = self._close(record, now, calendar) and met
        session.flush()
        return {"met": met, **self._watch(session, complaint, calendar, now)}

    def sla_watch(self) -> None:
        """Send the reminders and escalations that are due; each happens once."""
        operation, session, complaint, calendar = self._context()
        now = operation.now
        for record in self._running(session, complaint, None):
            if record.step in CITIZEN_STEPS:
                continue
            self._watch_record(session, complaint, record, calendar, now)

    # ------------------------------------------------------------------ the ladder

    def _holder_rung(self, complaint: Complaint, step: str) -> int:
        ladder = self.config.ladder
        if step == "verification":
            return ladder.index("regency_admin")
        if complaint.unit_id is not None:
            return ladder.index("technical_officer")
        return ladder.index("opd")

    def deadline_for_rung(self, record: SlaRecord, k: int, calendar: WorkingCalendar
                          ) -> datetime:
        """When the holder's rung + k is missed: the due time, then one rung budget each."""
        if k == 0:
            return record.due_at
        return calendar.add_working_days(record.due_at, k * self.config.rung_budget_days
                                         ).astimezone(UTC)

    def _watch_record(self, session: Session, complaint: Complaint, record: SlaRecord,
                      calendar: WorkingCalendar, now: datetime) -> None:
        last_rung = len(self.config.ladder) - 1
        while True:
            k = record.rung - record.holder_rung
            deadline = self.deadline_for_rung(record, k, calendar)
            reminder = calendar.add_working_days(deadline, -1)
            if now >= reminder and k not in record.reminded_rungs and now < deadline:
                record.reminded_rungs = [*record.reminded_rungs, k]
                self._remind(session, complaint, record, deadline, calendar, now)
            if now < deadline or record.rung >= last_rung:
                break
            record.rung += 1
            self._escalate(session, complaint, record, deadline, calendar, now)
        session.flush()

    def _rung_agency(self, session: Session, complaint: Complaint, rung: str) -> Agency | None:
        code = {
            "regency_admin": self.config.admin_agency_code,
            "regional_head": self.config.regency_code,
            "province": self.config.province_code,
        }.get(rung)
        if code is not None:
            return session.scalars(select(Agency).where(Agency.code == code)).first()
        agency_id = complaint.unit_id if rung == "technical_officer" else complaint.agency_id
        return session.get(Agency, agency_id) if agency_id else None

    def _escalate(self, session: Session, complaint: Complaint, record: SlaRecord,
                  deadline: datetime, calendar: WorkingCalendar, now: datetime) -> None:
        rung = self.config.ladder[record.rung]
        agency = self._rung_agency(session, complaint, rung)
        session.add(Escalation(
            complaint_id=complaint.id, sla_id=record.id, step=record.step, rung=record.rung,
            rung_name=rung, agency_id=agency.id if agency else None, at=now, due_at=deadline,
            status="open"))
        supervisors = notify.users_with(session, "supervisor", [agency.id] if agency else [])
        notify.to_users(session, supervisors, complaint, "escalated", now, self._payload(
            complaint, record, deadline, calendar, rung_label=RUNG_LABELS[rung]["id"]))

    def _remind(self, session: Session, complaint: Complaint, record: SlaRecord,
                deadline: datetime, calendar: WorkingCalendar, now: datetime) -> None:
        rung = self.config.ladder[record.rung]
        agency = self._rung_agency(session, complaint, rung)
        if record.rung == record.holder_rung:
            role = {"technical_officer": "technical_officer", "opd": "liaison_officer",
                    "regency_admin": "regency_admin"}.get(rung, "supervisor")
        else:
            role = "supervisor"
        users = notify.users_with(session, role, [agency.id] if agency else [])
        notify.to_users(session, users, complaint, "sla_reminder", now,
                        self._payload(complaint, record, deadline, calendar))

    # ------------------------------------------------------------------ helpers

    def _running(self, session: Session, complaint: Complaint, step: str | None, *,
                 include_paused: bool = False) -> list[SlaRecord]:
        states = (RUNNING, PAUSED) if include_paused else (RUNNING,)
        query = select(SlaRecord).where(SlaRecord.complaint_id == complaint.id,
                                        SlaRecord.state.in_(states))
        if step is not None:
            query = query.where(SlaRecord.step == step)
        return list(session.scalars(query.order_by(SlaRecord.id)))

    @staticmethod
    def _close(record: SlaRecord, now: datetime, calendar: WorkingCalendar) -> bool:
        if record.state == PAUSED:  # closed while waiting on the citizen: the clock stopped
            record.pauses = [*record.pauses, {"from": record.paused_at.isoformat(),
                                              "to": now.isoformat()}]
            late = -(record.remaining_seconds or 0.0)
        else:
            late = calendar.working_seconds_between(record.due_at, now)
        record.state = MET if late <= 0 else BREACHED
        record.late_seconds = max(late, 0.0)
        record.ended_at = now
        return record.state == MET

    def _watch(self, session: Session, complaint: Complaint, calendar: WorkingCalendar,
               now: datetime) -> dict[str, str]:
        """A daily cycle starting at the earliest pending reminder or deadline."""
        anchors = []
        for record in self._running(session, complaint, None):
            if record.step in CITIZEN_STEPS:
                continue
            k = record.rung - record.holder_rung
            deadline = self.deadline_for_rung(record, k, calendar)
            reminder = calendar.add_working_days(deadline, -1)
            anchors.append(reminder if k not in record.reminded_rungs else deadline)
        if not anchors:
            return {"watch_cycle": NO_CHECK}
        first = min(anchors)
        if first < now:  # fire at once to catch up, then keep the deadlines' time of day
            first = first + timedelta(days=(now - first).days)
        return {"watch_cycle": f"R/{self._iso(first, calendar)}/P1D"}

    @staticmethod
    def _iso(instant: datetime, calendar: WorkingCalendar) -> str:
        return instant.astimezone(calendar.tzinfo).isoformat()

    def _payload(self, complaint: Complaint, record: SlaRecord, deadline: datetime,
                 calendar: WorkingCalendar, **extra: str) -> dict[str, Any]:
        return {
            "tracking_number": complaint.tracking_number,
            "title": "[rahasia]" if complaint.confidential else complaint.title,
            "step": record.step,
            "step_label": STEP_LABELS.get(record.step, {}).get("id", record.step),
            "due_local": deadline.astimezone(calendar.tzinfo).strftime("%d-%m-%Y %H:%M WITA"),
            **extra,
        }
