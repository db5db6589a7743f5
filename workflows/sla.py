"""SLA records in working days, and the escalation ladder; called by the lifecycle diagram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from engine import Operation, current_operation
from workflows import access, agency_directory, notify, revisions, sla_settings
from workflows import diagram_ids as ids
from workflows.agency_directory import AgencyEntry
from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.ladder import HANDED_TO_UNIT, POSTPONEMENT, Ladder, Reminder
from workflows.models import Complaint, Escalation, SlaRecord
from workflows.operation import (
    COMPLAINT,
    complaint_of,
    insert_row,
    reading,
    running_operation,
)
from workflows.workdays import calendar_for

RUNNING, PAUSED, MET, BREACHED = "running", "paused", "met", "breached"
_OPEN_RECORDS = "sla_open_records"
COMPLAINANT_WINDOW = "complainant_window"
CITIZEN_STEPS = frozenset({"info_request", COMPLAINANT_WINDOW})
NO_CHECK = "R/2100-01-01T00:00:00+00:00/P1D"  # a cycle that never comes due
STEP_LABELS = {
    "verification": {"id": "verifikasi dan disposisi", "en": "verification and disposition"},
    "follow_up": {"id": "tindak lanjut", "en": "follow-up"},
    "resolution": {"id": "penyelesaian", "en": "resolution"},
    "info_request": {"id": "melengkapi informasi", "en": "additional information"},
    "complainant_window": {"id": "tanggapan pelapor", "en": "complainant's reply"},
    "postponement": {"id": "penundaan (tertunda)", "en": "postponement"},
}


# A report with its running and paused records, oldest first, and the configuration's
# tokens, by tracking number: a verb's check reads the report, its services the records.
REPORT_AND_OPEN_RECORDS_BY_NUMBER = (
    select(Complaint, SlaRecord, *revisions.token_columns())
    .outerjoin(SlaRecord, and_(SlaRecord.complaint_id == Complaint.id,
                               SlaRecord.state.in_((RUNNING, PAUSED))))
    .where(Complaint.tracking_number == bindparam("b_tracking"))
    .order_by(SlaRecord.id))

# A watch's firing, as the first of its operation to read the report (a timer firing runs
# the watch alone): the report's columns the watch uses and its running records, oldest
# first, with the configuration's tokens (the watch reads the calendar and the settings
# next), as plain rows in one Core statement: as ORM objects, and written back by the unit
# of work, they cost a firing about 1,000 Python calls more (BENCHMARKS.md, issue 17,
# eighth round). Built once, as a firing runs it every time.
_COMPLAINTS, _RECORDS = Complaint.__table__, SlaRecord.__table__
_WATCHED = (
    select(_COMPLAINTS.c.id, _COMPLAINTS.c.tracking_number, _COMPLAINTS.c.title,
           _COMPLAINTS.c.confidential, _COMPLAINTS.c.unit_id, _COMPLAINTS.c.agency_id,
           _RECORDS.c.id.label("sla_id"), _RECORDS.c.step, _RECORDS.c.rung,
           _RECORDS.c.holder_rung, _RECORDS.c.reminded_rungs, _RECORDS.c.started_at,
           _RECORDS.c.due_at, *revisions.token_columns())
    .select_from(_COMPLAINTS.outerjoin(_RECORDS, and_(_RECORDS.c.complaint_id == _COMPLAINTS.c.id,
                                                      _RECORDS.c.state == RUNNING)))
    .where(_COMPLAINTS.c.instance_id == bindparam("instance_id"))
    .order_by(_RECORDS.c.id))


@dataclass
class WatchedReport:
    """The report's columns a watch reads (`_WATCHED`): what it hands the messages."""

    id: int
    tracking_number: str
    title: str
    confidential: bool
    unit_id: int | None
    agency_id: int | None


@dataclass
class WatchedRecord:
    """A running record as a watch reads and climbs it (`_WATCHED`; an SlaRecord's
    columns of the same names)."""

    id: int
    step: str
    rung: int
    holder_rung: int
    reminded_rungs: list[int]
    started_at: datetime
    due_at: datetime


def keep_open_records(operation: Operation, complaint_id: int, records: list[SlaRecord]
                      ) -> None:
    """The report's running and paused records, oldest first, as read in the operation's
    transaction under its instance's lock (`REPORT_AND_OPEN_RECORDS_BY_NUMBER`): its services
    use them instead of a query (`_open_records`)."""
    operation.memo.setdefault((_OPEN_RECORDS, complaint_id), list(records))


def no_records_yet(operation: Operation, complaint_id: int) -> None:
    """The report was created by this operation: it has no SLA records to read."""
    operation.memo[(_OPEN_RECORDS, complaint_id)] = []


class SlaPolicy:
    """The host services the diagram calls for deadlines: start, pause, resume, stop, watch."""

    def __init__(self, config: RegencyConfig) -> None:
        self.config = config
        self.ladder = Ladder.of(config)

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
        current = running_operation()
        complaint = complaint_of(current)
        return current, current.session, complaint, calendar_for(current.session, self.config)

    def sla_start(self, step: str, budget_days: float) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        for old in self.running_records(session, complaint, step):  # a step restarts, not doubles
            self._close(old, now, calendar)
        budget = float(budget_days)
        window = sla_settings.in_force(session, self.config).complainant_window_days
        if step == COMPLAINANT_WINDOW and window is not None:  # the stored setting wins
            budget = window
        record = SlaRecord(
            complaint_id=complaint.id, step=step, budget_days=budget,
            holder_rung=self._holder(complaint, step), started_at=now,
            due_at=calendar.add_working_days(now, budget).astimezone(UTC), pauses=[],
            state=RUNNING, rung=self._holder(complaint, step), reminded_rungs=[])
        self._started(session, record)
        return {"due_at": self._iso(record.due_at, calendar), **self._watch(session, complaint,
                                                                            calendar, now)}

    def sla_pause(self, step: str, postponed: bool = False) -> dict[str, Any]:
        """Pause the step's running SLA (the budget left is kept). ``postponed`` (Tertunda):
        the pause has a limit, RegencyConfig.postpone_max_days working days, kept as a
        deadline of its own (step "postponement", held by the regency administrator) that
        the watch reminds and escalates like any other; sla_resume closes it."""
        operation, session, complaint, calendar = self._context()
        now = operation.now
        for record in self.running_records(session, complaint, step):
            record.remaining_seconds = (
                calendar.working_seconds_between(now, record.due_at) if record.due_at > now
                else -calendar.working_seconds_between(record.due_at, now))
            record.paused_at, record.state = now, PAUSED
        if postponed:
            for old in self.running_records(session, complaint, POSTPONEMENT):
                self._close(old, now, calendar)
            budget = float(self.config.postpone_max_days)
            holder = self._holder(complaint, POSTPONEMENT)
            self._started(session, SlaRecord(
                complaint_id=complaint.id, step=POSTPONEMENT, budget_days=budget,
                holder_rung=holder, started_at=now,
                due_at=calendar.add_working_days(now, budget).astimezone(UTC), pauses=[],
                state=RUNNING, rung=holder, reminded_rungs=[]))
        session.flush()
        return self._watch(session, complaint, calendar, now)

    def sla_resume(self, step: str) -> dict[str, Any]:
        operation, session, complaint, calendar = self._context()
        now = operation.now
        paused = [r for r in self._open_records(session, complaint)
                  if r.step == step and r.state == PAUSED]
        record = paused[-1] if paused else None
        if record is None:
            raise LookupError(f"no paused SLA for step {step!r} of {complaint.tracking_number}")
        for postponement in self.running_records(session, complaint, POSTPONEMENT):
            self._close(postponement, now, calendar)  # met, or breached past the limit
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
        for record in self.running_records(session, complaint, step, include_paused=True):
            met = self._close(record, now, calendar) and met
        return {"met": met, **self._watch(session, complaint, calendar, now)}

    def sla_watch(self) -> None:
        """Send the reminders and escalations that are due; each happens once. A timer
        firing runs it alone: the report and its running records are read by one Core
        statement (`_watched`); a record's new rung, the escalations and the messages are
        staged, and written with the operation's other rows after the engine steps (on
        PostgreSQL by one statement: engine/operation.py, `write_staged`). When the
        operation has read the report already (its objects are in the memo), the watch
        climbs those."""
        operation = running_operation()
        session = operation.session
        if not any(key == COMPLAINT or (type(key) is tuple and key[0] == _OPEN_RECORDS)
                   for key in operation.memo):
            self._watched(operation)
            return
        complaint = complaint_of(operation)
        calendar = calendar_for(session, self.config)
        now = operation.now
        for record in self.running_records(session, complaint, None):
            if record.step in CITIZEN_STEPS:
                continue
            self._watch_record(session, complaint, record, calendar, now)

    def _watched(self, operation: Operation) -> None:
        """The watch, the first in its operation to read the report (see `_WATCHED`): what
        it reads is not kept in the memo (a later service reads the records again, and
        finds what the watch wrote)."""
        session = operation.session
        with reading(session, Complaint, SlaRecord):
            rows = session.connection().execute(
                _WATCHED, {"instance_id": operation.instance_id}).all()
        if not rows:
            complaint_of(operation)  # says which instance has no report
            return
        revisions.seed(session, rows[0])
        first = rows[0]
        report = WatchedReport(first.id, first.tracking_number, first.title,
                               first.confidential, first.unit_id, first.agency_id)
        calendar = calendar_for(session, self.config)
        now = operation.now
        for row in rows:
            if row.sla_id is None or row.step in CITIZEN_STEPS:
                continue
            record = WatchedRecord(row.sla_id, row.step, row.rung, row.holder_rung,
                                   list(row.reminded_rungs), row.started_at, row.due_at)
            self._watch_record(session, report, record, calendar, now)
            # only the columns it changed, as the unit of work would (the statistics'
            # triggers watch columns): staged, written with the escalations and messages
            changed = {column: getattr(record, column) for column, before in (
                ("rung", row.rung), ("reminded_rungs", row.reminded_rungs))
                if getattr(record, column) != before}
            if changed:
                operation.stage_update(_RECORDS, {"id": record.id}, changed)

    def stop_all(self, session: Session, complaint: Complaint, now: datetime) -> None:
        """Close every running or paused SLA of the report (its instance ended without the
        diagram doing so: an operator cancelled it), met or breached as of `now`."""
        calendar = calendar_for(session, self.config)
        for record in self.running_records(session, complaint, None, include_paused=True):
            self._close(record, now, calendar)
        session.flush()

    # ------------------------------------------------------------------ the ladder

    def hand_to_working_level(self, session: Session, complaint: Complaint) -> None:
        """The working level now holding the report (a unit it was delegated to, or the
        agency or unit it was reassigned to) holds its follow-up and resolution deadlines;
        those already escalated keep their rung (Ladder.handed_to_unit)."""
        for record in self.running_records(session, complaint, None):
            if record.step in HANDED_TO_UNIT:
                record.rung, record.holder_rung = self.ladder.handed_to_unit(
                    record.rung, record.holder_rung)

    def _watch_record(self, session: Session, complaint: Complaint, record: SlaRecord,
                      calendar: WorkingCalendar, now: datetime) -> None:
        for step in self.rules(session, record).due(record, now, calendar):
            if isinstance(step, Reminder):
                record.reminded_rungs = [*record.reminded_rungs, step.k]
                self._remind(session, complaint, record, step.deadline, calendar, now)
            else:
                record.rung = step.rung
                self._escalate(session, complaint, record, step.deadline, calendar, now)

    def _rung_agency(self, session: Session, complaint: Complaint, rung: str
                     ) -> AgencyEntry | None:
        code = {
            "regency_admin": self.config.admin_agency_code,
            "regional_head": self.config.regency_code,
            "province": self.config.province_code,
        }.get(rung)
        if code is not None:
            return agency_directory.by_code(session, code)
        # the working level: the unit holding the report, or else the OPD (its liaison)
        agency_id = (complaint.unit_id or complaint.agency_id) if rung == "technical_officer" \
            else complaint.agency_id
        return agency_directory.by_id(session, agency_id) if agency_id else None

    def _holder(self, complaint: Complaint, step: str) -> int:
        return self.ladder.holder(step, held_by_unit=complaint.unit_id is not None)

    def _escalate(self, session: Session, complaint: Complaint, record: SlaRecord,
                  deadline: datetime, calendar: WorkingCalendar, now: datetime) -> None:
        rung = self.config.ladder[record.rung]
        agency = self._rung_agency(session, complaint, rung)
        if record.id is None:  # started in this operation, not yet written
            session.flush()
        insert_row(session, Escalation,  # insert-only: staged, no ORM bookkeeping
                   complaint_id=complaint.id, sla_id=record.id, step=record.step,
                   rung=record.rung, rung_name=rung, agency_id=agency.id if agency else None,
                   at=now, due_at=deadline, status="open")
        supervisors = notify.users_with(session, "supervisor", [agency.id] if agency else [])
        notify.to_users(session, supervisors, complaint, "escalated", now, self._payload(
            complaint, record, deadline, calendar, rung_label=RUNG_LABELS[rung]["id"]))

    def _remind(self, session: Session, complaint: Complaint, record: SlaRecord,
                deadline: datetime, calendar: WorkingCalendar, now: datetime) -> None:
        rung = self.config.ladder[record.rung]
        agency = self._rung_agency(session, complaint, rung)
        if record.rung == record.holder_rung:
            working = "technical_officer" if complaint.unit_id else "liaison_officer"
            role = {"technical_officer": working, "opd": "liaison_officer",
                    "regency_admin": "regency_admin"}.get(rung, "supervisor")
        else:
            role = "supervisor"
        users = notify.users_with(session, role, [agency.id] if agency else [])
        notify.to_users(session, users, complaint, "sla_reminder", now,
                        self._payload(complaint, record, deadline, calendar))

    # ------------------------------------------------------------------ helpers

    def rules(self, session: Session, record: SlaRecord) -> Ladder:
        """The ladder, rung budget and reminder lead time in force when the deadline started
        (workflows/sla_settings.py: a later change applies to later deadlines)."""
        return sla_settings.in_force(session, self.config, record.started_at).ladder_rules()

    def running_records(self, session: Session, complaint: Complaint, step: str | None, *,
                        include_paused: bool = False) -> list[SlaRecord]:
        states = (RUNNING, PAUSED) if include_paused else (RUNNING,)
        return [r for r in self._open_records(session, complaint)
                if r.state in states and (step is None or r.step == step)]

    @staticmethod
    def _open_records(session: Session, complaint: Complaint) -> list[SlaRecord]:
        """The report's running and paused records, oldest first. Inside an engine
        operation on this session they are read once and kept in the operation's memo:
        its services change them as objects (closing one changes its state), and add the
        records they start (`_started`), so the list stays what a query would return."""
        operation = current_operation()
        shared = operation is not None and operation.session is session
        key = (_OPEN_RECORDS, complaint.id)
        if shared and key in operation.memo:
            return operation.memo[key]
        with reading(session, SlaRecord):
            found = list(session.scalars(select(SlaRecord).where(
                SlaRecord.complaint_id == complaint.id,
                SlaRecord.state.in_((RUNNING, PAUSED))).order_by(SlaRecord.id)))
        if shared:
            operation.memo[key] = found
        return found

    @staticmethod
    def _started(session: Session, record: SlaRecord) -> None:
        """Add a new record, and to the operation's memo (it is written with the operation's
        other rows: workflows/operation.py, `reading`)."""
        session.add(record)
        operation = current_operation()
        key = (_OPEN_RECORDS, record.complaint_id)
        if operation is not None and operation.session is session and key in operation.memo:
            operation.memo[key].append(record)

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

    def watch(self, session: Session, complaint: Complaint, calendar: WorkingCalendar,
              now: datetime) -> dict[str, str]:
        """The watch cycle the report's timers should follow now (after its deadlines moved:
        workflows/calendar_changes.py)."""
        return self._watch(session, complaint, calendar, now)

    def _watch(self, session: Session, complaint: Complaint, calendar: WorkingCalendar,
               now: datetime) -> dict[str, str]:
        """A daily cycle starting at the earliest pending reminder or deadline."""
        checks = [self.rules(session, r).next_check([r], calendar)
                  for r in self.running_records(session, complaint, None)
                  if r.step not in CITIZEN_STEPS]
        first = min((c for c in checks if c is not None), default=None)
        if first is None:
            return {"watch_cycle": NO_CHECK}
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
            "title": access.HIDDEN if complaint.confidential else complaint.title,
            "step": record.step,
            "step_label": STEP_LABELS.get(record.step, {}).get("id", record.step),
            "due_local": deadline.astimezone(calendar.tzinfo).strftime(
                f"%d-%m-%Y %H:%M {self.config.zone_name}"),
            **notify.due_fields(deadline, self.config),
            **extra,
        }
