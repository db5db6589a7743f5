"""The complaint lifecycle diagram (bpmn/complaint_lifecycle.bpmn) walked through the real engine.

The host services here are simple in-memory stand-ins that follow docs/lifecycle.md: one record
per instance holds the status history and the SLA records. `sla_start` counts calendar days
(the working-day calendar belongs to the domain layer) and answers a watch cycle
"R/<earliest running deadline - 1 day>/P1D". Time moves only through the `clock` fixture
(Monday 2 March 2026, 09:00 WITA) and `Engine.fire_due_timers`.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine import Engine, FrozenClock, InvalidInput, current_operation
from tests.conftest import START
from workflows import diagram_ids as ids
from workflows.diagram_ids import (
    STATUS_ARCHIVED as ARCHIVED,
)
from workflows.diagram_ids import (
    STATUS_CLOSED as CLOSED,
)
from workflows.diagram_ids import (
    STATUS_DISPOSED as DISPOSED,
)
from workflows.diagram_ids import (
    STATUS_IN_PROGRESS as IN_PROGRESS,
)
from workflows.diagram_ids import (
    STATUS_NEEDS_INFO as NEEDS_INFO,
)
from workflows.diagram_ids import (
    STATUS_POSTPONED as POSTPONED,
)
from workflows.diagram_ids import (
    STATUS_RESPONDED as RESPONDED,
)
from workflows.diagram_ids import (
    STATUS_RETURNED as RETURNED,
)
from workflows.diagram_ids import (
    STATUS_SUBMITTED as SUBMITTED,
)
from workflows.diagram_ids import (
    STATUS_VERIFIED as VERIFIED,
)

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
UNIT = [BPMN_DIR / name for name in ids.DEPLOYMENT_FILES]
WITA = timezone(timedelta(hours=8), "WITA")
DAY = timedelta(days=1)
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
      "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}

POTHOLE = {  # sample report 1 of the domain notes
    "complaint_id": 1,
    "tracking_number": "PPU-2026-000001",
    "classification": "pengaduan",
    "misconduct": False,
    "category": "roads",
    "severity": "medium",
    "road_status": "regency",
    "has_photo": True,
}


# --------------------------------------------------------------------------- host stand-ins


@dataclass
class SlaRecord:
    step: str
    due_at: datetime
    state: str = "running"  # running | paused | stopped
    left: timedelta | None = None
    met: bool | None = None


@dataclass
class Complaint:
    statuses: list[str] = field(default_factory=lambda: [SUBMITTED])
    reasons: list[str] = field(default_factory=lambda: [""])
    slas: dict[str, SlaRecord] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    agencies: list[tuple[str, str]] = field(default_factory=list)
    watched: list[datetime] = field(default_factory=list)


class Host:
    """The domain layer's services, in memory, one Complaint per process instance."""

    def __init__(self) -> None:
        self.complaints: dict[int, Complaint] = {}

    def services(self) -> dict[str, Callable[..., Any]]:
        return {ids.SERVICE_SET_STATUS: self.set_status, ids.SERVICE_SLA_START: self.sla_start,
                ids.SERVICE_SLA_PAUSE: self.sla_pause, ids.SERVICE_SLA_RESUME: self.sla_resume,
                ids.SERVICE_SLA_STOP: self.sla_stop, ids.SERVICE_SLA_WATCH: self.sla_watch,
                ids.SERVICE_ASSIGN_AGENCY: self.assign_agency}

    def _current(self, name: str, **params: Any) -> tuple[Complaint, datetime]:
        operation = current_operation()
        assert operation is not None, "services run inside an engine operation"
        complaint = self.complaints.setdefault(operation.instance_id, Complaint())
        complaint.calls.append((name, params))
        return complaint, operation.now

    @staticmethod
    def _cycle(complaint: Complaint, now: datetime) -> str:
        running = [s.due_at for s in complaint.slas.values() if s.state == "running"]
        if not running:  # nothing to watch: zero repetitions, the boundary never fires
            return f"R0/{now.astimezone(WITA).isoformat()}/P1D"
        check = min(running) - DAY  # the reminder, then daily at the deadlines' time of day
        while check < now:
            check += DAY
        return f"R/{check.astimezone(WITA).isoformat()}/P1D"

    def set_status(self, status: str, reason: str) -> None:
        complaint, _ = self._current(ids.SERVICE_SET_STATUS, status=status, reason=reason)
        assert status in ids.STATUSES
        complaint.statuses.append(status)
        complaint.reasons.append(reason)

    def sla_start(self, step: str, budget_days: int) -> dict[str, str]:
        complaint, now = self._current(ids.SERVICE_SLA_START, step=step, budget_days=budget_days)
        assert step in ids.STEPS and isinstance(budget_days, int)
        record = SlaRecord(step, now + budget_days * DAY)
        complaint.slas[step] = record
        return {"due_at": record.due_at.astimezone(WITA).isoformat(),
                "watch_cycle": self._cycle(complaint, now)}

    def sla_pause(self, step: str, postponed: bool = False) -> dict[str, str]:
        params = {"step": step, **({"postponed": postponed} if postponed else {})}
        complaint, now = self._current(ids.SERVICE_SLA_PAUSE, **params)
        record = complaint.slas[step]
        assert record.state == "running"
        record.state, record.left = "paused", record.due_at - now
        if postponed:  # the postponement's limit: 14 days in this host
            complaint.slas[ids.STEP_POSTPONEMENT] = SlaRecord(ids.STEP_POSTPONEMENT,
                                                              now + 14 * DAY)
        return {"watch_cycle": self._cycle(complaint, now)}

    def sla_resume(self, step: str) -> dict[str, str]:
        complaint, now = self._current(ids.SERVICE_SLA_RESUME, step=step)
        record = complaint.slas[step]
        assert record.state == "paused" and record.left is not None
        record.state, record.due_at, record.left = "running", now + record.left, None
        postponement = complaint.slas.get(ids.STEP_POSTPONEMENT)
        if postponement is not None and postponement.state == "running":
            postponement.met, postponement.state = now <= postponement.due_at, "stopped"
        return {"due_at": record.due_at.astimezone(WITA).isoformat(),
                "watch_cycle": self._cycle(complaint, now)}

    def sla_stop(self, step: str) -> dict[str, Any]:
        complaint, now = self._current(ids.SERVICE_SLA_STOP, step=step)
        record = complaint.slas.get(step)
        if record is not None and record.state != "stopped":
            record.met = now <= record.due_at if record.state == "running" else True
            record.state = "stopped"
        return {"met": None if record is None else record.met,
                "watch_cycle": self._cycle(complaint, now)}

    def sla_watch(self) -> None:
        complaint, now = self._current(ids.SERVICE_SLA_WATCH)
        complaint.watched.append(now)

    def assign_agency(self, agency_code: str, role: str) -> None:
        complaint, _ = self._current(ids.SERVICE_ASSIGN_AGENCY, agency_code=agency_code, role=role)
        complaint.agencies.append((agency_code, role))


# --------------------------------------------------------------------------- the walk


class Walk:
    """One complaint instance: open tasks by element id, completions, timers, statuses."""

    def __init__(self, engine: Engine, host: Host, clock: FrozenClock, data: dict[str, Any]
                 ) -> None:
        self.engine, self.host, self.clock = engine, host, clock
        self.id = engine.start(ids.PROCESS_ID, data, business_key=data["tracking_number"]).id

    @property
    def complaint(self) -> Complaint:
        return self.host.complaints[self.id]

    @property
    def statuses(self) -> list[str]:
        return self.complaint.statuses

    def calls(self, name: str) -> list[dict[str, Any]]:
        return [params for called, params in self.complaint.calls if called == name]

    def open(self) -> list[str]:
        return sorted(t["element_id"] for t in self.engine.tasks(instance_id=self.id))

    def task(self, element_id: str) -> dict[str, Any]:
        found = [t for t in self.engine.tasks(instance_id=self.id)
                 if t["element_id"] == element_id]
        assert len(found) == 1, (element_id, self.open())
        return found[0]

    def complete(self, element_id: str, **data: Any) -> None:
        self.engine.complete(self.task(element_id)["id"], data, actor="tester")
        assert self.state() != "error", self.engine.instance(self.id)["incident"]

    def state(self) -> str:
        return self.engine.instance(self.id, events=False)["status"]

    def data(self) -> dict[str, Any]:
        return self.engine.instance(self.id, events=False)["data"]

    def timers(self) -> dict[str, datetime]:
        return {t["element_id"]: datetime.fromisoformat(t["due_at"])
                for t in self.engine.instance(self.id, events=False)["timers"]}

    def fire(self) -> list[str]:
        report = self.engine.fire_due_timers()
        assert report.failed == []
        return [f["element_id"] for f in report.fired if f["instance_id"] == self.id]

    def at(self, instant: datetime) -> list[str]:
        """Move the clock to `instant` and run the timer sweep."""
        self.clock.set(instant)
        return self.fire()

    # the usual steps ----------------------------------------------------------------

    def verify(self) -> None:
        self.complete(ids.SCREEN_REPORT, decision=ids.VERIFY)

    def dispose(self, agency_code: str = "dinas_pupr", **extra: Any) -> None:
        self.complete(ids.DISPOSE_REPORT, decision=ids.DISPOSE, agency_code=agency_code,
                      handler=extra.pop("handler", ids.HANDLER_FIELD_OPD), **extra)

    def final_answer(self, task: str = ids.FOLLOW_UP) -> None:
        self.complete(task, decision=ids.FINAL, answer="Lubang sudah ditambal.")


@pytest.fixture
def host() -> Host:
    return Host()


@pytest.fixture
def lifecycle(make_engine: Callable[..., Engine], clock: FrozenClock, host: Host
              ) -> Callable[..., Walk]:
    engine = make_engine(services=host.services())
    engine.deploy(UNIT)

    def start(**overrides: Any) -> Walk:
        return Walk(engine, host, clock, {**POTHOLE, **overrides})

    return start


def wita(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=WITA)


# --------------------------------------------------------------------------- the unit


def test_the_lifecycle_unit_validates_without_findings() -> None:
    engine = Engine("sqlite://")
    try:
        assert engine.validate(UNIT) == []
    finally:
        engine.dispose()


def test_a_new_report_waits_for_screening_under_a_three_day_verification_sla(lifecycle) -> None:
    walk = lifecycle()
    assert walk.open() == [ids.SCREEN_REPORT]
    task = walk.task(ids.SCREEN_REPORT)
    assert task["lane"] == ids.LANE_REGENCY_ADMIN
    assert task["title"] == "Verifikasi laporan"
    assert task["form"]["properties"]["decision"]["enum"] == list(ids.TASK_DECISIONS[
        ids.SCREEN_REPORT])
    assert walk.calls(ids.SERVICE_SLA_START) == [{"step": ids.STEP_VERIFICATION, "budget_days": 3}]
    data = walk.data()
    assert data["sla"]["due_at"] == "2026-03-05T09:00:00+08:00"
    assert data["watch"] == {"watch_cycle": "R/2026-03-04T09:00:00+08:00/P1D"}
    assert datetime.fromisoformat(task["due_at"]) == wita(5)
    # the watch fires from the first reminder on: one working day before the deadline
    assert walk.timers() == {ids.WATCH_TIMERS[ids.SCREEN_REPORT]: wita(4)}
    assert walk.statuses == [SUBMITTED]


# --------------------------------------------------------------------------- (a) happy path


def test_a_verified_report_is_disposed_answered_accepted_then_closed_for_good_after_30_days(
        lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    assert walk.open() == [ids.DISPOSE_REPORT]
    assert walk.data()["agency_code"] == "dinas_pupr"  # the routing suggestion
    walk.dispose()
    assert walk.open() == [ids.FOLLOW_UP]
    assert walk.task(ids.FOLLOW_UP)["lane"] == ids.LANE_OPD_LIAISON
    assert walk.calls(ids.SERVICE_SLA_STOP) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.complaint.agencies == [("dinas_pupr", ids.ROLE_OPD)]
    assert [c["step"] for c in walk.calls(ids.SERVICE_SLA_START)] == [
        ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION]
    assert [c["budget_days"] for c in walk.calls(ids.SERVICE_SLA_START)] == [3, 5, 14]

    walk.clock.advance(hours=3)
    walk.final_answer()
    assert walk.open() == [ids.REVIEW_ANSWER]
    review = walk.task(ids.REVIEW_ANSWER)
    assert review["lane"] == ids.LANE_COMPLAINANT
    assert walk.data()["sla_citizen"]["due_at"] == "2026-03-12T12:00:00+08:00"
    assert walk.timers() == {ids.CITIZEN_DEADLINE_TIMERS[ids.REVIEW_ANSWER]: wita(12, 12)}

    walk.complete(ids.REVIEW_ANSWER, decision=ids.ACCEPT, rating=5, comment="Terima kasih")
    assert walk.statuses == [SUBMITTED, VERIFIED, DISPOSED, RESPONDED,
                             CLOSED]
    assert walk.data()["rating"] == 5
    assert [c["step"] for c in walk.calls(ids.SERVICE_SLA_STOP)] == [
        ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION,
        ids.STEP_COMPLAINANT_WINDOW]
    assert all(s.state == "stopped" for s in walk.complaint.slas.values())
    assert walk.open() == []
    assert walk.state() == "running"  # the reopen window
    closed_at = walk.clock.now()
    assert walk.timers() == {ids.REOPEN_GATEWAY: closed_at + 30 * DAY}

    assert walk.at(closed_at + 30 * DAY - timedelta(minutes=1)) == []
    assert walk.at(closed_at + 30 * DAY) == [ids.REOPEN_GATEWAY]
    assert walk.state() == "completed"
    assert walk.statuses[-1] == CLOSED


# --------------------------------------------------------------------------- (b) archive


def test_the_administrator_archives_a_report_with_a_reason(lifecycle) -> None:
    walk = lifecycle()
    walk.complete(ids.SCREEN_REPORT, decision=ids.ARCHIVE, reason="spam",
                  duplicate_of="")
    assert walk.statuses == [SUBMITTED, ARCHIVED]
    assert walk.complaint.reasons[-1] == "spam"
    assert walk.calls(ids.SERVICE_SLA_STOP) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.state() == "completed"
    assert walk.timers() == {}


def test_archiving_a_duplicate_needs_a_reason(lifecycle) -> None:
    walk = lifecycle()
    with pytest.raises(InvalidInput) as refused:
        walk.complete(ids.SCREEN_REPORT, decision=ids.ARCHIVE, duplicate_of="PPU-2026-000001")
    assert set(refused.value.field_errors) == {"reason"}
    with pytest.raises(InvalidInput) as refused:
        walk.complete(ids.SCREEN_REPORT, decision="reject")
    assert set(refused.value.field_errors) == {"decision"}
    assert walk.open() == [ids.SCREEN_REPORT]


# --------------------------------------------------------------------------- (c), (d) info


def test_a_request_for_information_pauses_the_clock_and_the_answer_resumes_screening(
        lifecycle) -> None:
    walk = lifecycle(severity="low")
    walk.clock.advance(days=1)
    walk.complete(ids.SCREEN_REPORT, decision=ids.REQUEST_INFO,
                  reason="Mohon kirim foto dan titik lokasi")
    assert walk.open() == [ids.PROVIDE_INFORMATION]
    provide = walk.task(ids.PROVIDE_INFORMATION)
    assert provide["lane"] == ids.LANE_COMPLAINANT
    assert walk.statuses == [SUBMITTED, NEEDS_INFO]
    assert walk.complaint.reasons[-1] == "Mohon kirim foto dan titik lokasi"
    assert walk.calls(ids.SERVICE_SLA_PAUSE) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.calls(ids.SERVICE_SLA_START)[-1] == {"step": ids.STEP_INFO_REQUEST,
                                                     "budget_days": 10}
    assert walk.timers() == {ids.CITIZEN_DEADLINE_TIMERS[ids.PROVIDE_INFORMATION]: wita(13)}

    walk.clock.advance(days=4)
    walk.complete(ids.PROVIDE_INFORMATION, information="Foto terlampir, km 5 depan SD 012")
    assert walk.open() == [ids.SCREEN_REPORT]
    assert walk.calls(ids.SERVICE_SLA_STOP) == [{"step": ids.STEP_INFO_REQUEST}]
    assert walk.calls(ids.SERVICE_SLA_RESUME) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.statuses == [SUBMITTED, NEEDS_INFO, SUBMITTED]
    # two of the three days were left when the clock was paused
    data = walk.data()
    assert data["sla"]["due_at"] == "2026-03-09T09:00:00+08:00"
    assert data["information"] == "Foto terlampir, km 5 depan SD 012"
    assert walk.timers() == {ids.WATCH_TIMERS[ids.SCREEN_REPORT]: wita(8)}

    walk.verify()
    walk.dispose()
    assert walk.statuses[-2:] == [VERIFIED, DISPOSED]


def test_a_request_for_information_during_disposition_returns_to_disposition(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.complete(ids.DISPOSE_REPORT, decision=ids.REQUEST_INFO, reason="Di RT berapa?")
    assert walk.open() == [ids.PROVIDE_INFORMATION]
    walk.complete(ids.PROVIDE_INFORMATION, information="RT 07")
    assert walk.open() == [ids.DISPOSE_REPORT]
    assert walk.statuses == [SUBMITTED, VERIFIED, NEEDS_INFO, VERIFIED]
    walk.dispose()
    assert walk.open() == [ids.FOLLOW_UP]


def test_an_unanswered_request_for_information_archives_the_report(lifecycle) -> None:
    walk = lifecycle(has_photo=False)  # "tolong min jln rusak"
    walk.complete(ids.SCREEN_REPORT, decision=ids.REQUEST_INFO, reason="Jalan mana?")
    deadline = walk.timers()[ids.CITIZEN_DEADLINE_TIMERS[ids.PROVIDE_INFORMATION]]
    assert deadline == START + 10 * DAY
    assert walk.at(deadline - timedelta(seconds=1)) == []
    assert walk.at(deadline) == [ids.CITIZEN_DEADLINE_TIMERS[ids.PROVIDE_INFORMATION]]
    assert walk.statuses == [SUBMITTED, NEEDS_INFO, ARCHIVED]
    assert walk.complaint.reasons[-1] == ids.REASON_NO_ANSWER
    assert [c["step"] for c in walk.calls(ids.SERVICE_SLA_STOP)] == [
        ids.STEP_INFO_REQUEST, ids.STEP_VERIFICATION]
    assert all(s.state == "stopped" for s in walk.complaint.slas.values())
    assert walk.open() == []
    assert walk.state() == "completed"


# --------------------------------------------------------------------------- (e), (f) disposition


def test_a_report_on_a_national_road_is_returned_as_not_the_regencys_authority(
        lifecycle) -> None:
    walk = lifecycle(road_status="national", severity="high")
    walk.verify()
    assert walk.data()["authority"] == ids.AUTHORITY_NATIONAL
    walk.complete(ids.DISPOSE_REPORT, decision=ids.NOT_AUTHORITY,
                  reason="Jalan nasional: wewenang BBPJN Kalimantan Timur")
    assert walk.statuses == [SUBMITTED, VERIFIED, RETURNED]
    assert walk.calls(ids.SERVICE_SLA_STOP) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.state() == "completed"


def test_a_postponed_report_is_resumed_and_then_disposed(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.complete(ids.DISPOSE_REPORT, decision=ids.POSTPONE, reason="Menunggu anggaran")
    assert walk.open() == [ids.RESUME_REPORT]
    assert walk.task(ids.RESUME_REPORT)["lane"] == ids.LANE_REGENCY_ADMIN
    walk.complete(ids.RESUME_REPORT, note="Anggaran tersedia")
    assert walk.open() == [ids.DISPOSE_REPORT]
    walk.dispose()
    assert walk.statuses == [SUBMITTED, VERIFIED, POSTPONED, VERIFIED,
                             DISPOSED]


def test_disposing_needs_an_agency_and_a_unit_when_a_unit_handles_it(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    with pytest.raises(InvalidInput) as refused:
        walk.complete(ids.DISPOSE_REPORT, decision=ids.DISPOSE, agency_code="dinas_pupr",
                      handler=ids.HANDLER_FIELD_UNIT)
    assert set(refused.value.field_errors) == {"unit_code"}
    with pytest.raises(InvalidInput) as refused:
        walk.complete(ids.DISPOSE_REPORT, decision=ids.DISPOSE)
    assert set(refused.value.field_errors) == {"agency_code"}


def test_a_disposition_without_a_handler_goes_to_the_opds_liaison(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.complete(ids.DISPOSE_REPORT, decision=ids.DISPOSE, agency_code="dinas_pupr",
                  note="Mohon segera")
    assert walk.open() == [ids.FOLLOW_UP]
    assert walk.data()["handler"] == ids.HANDLER_FIELD_OPD


# --------------------------------------------------------------------------- (g), (h) follow-up


def test_the_liaison_delegates_to_a_unit_whose_final_answer_goes_to_the_complainant(
        lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    walk.complete(ids.FOLLOW_UP, decision=ids.DELEGATE, unit_code="upt_jalan_penajam")
    assert walk.open() == [ids.UNIT_FOLLOW_UP]
    assert walk.task(ids.UNIT_FOLLOW_UP)["lane"] == ids.LANE_TECHNICAL_UNIT
    assert walk.complaint.agencies == [("dinas_pupr", ids.ROLE_OPD),
                                       ("upt_jalan_penajam", ids.ROLE_UNIT)]
    assert ids.WATCH_TIMERS[ids.UNIT_FOLLOW_UP] in walk.timers()
    walk.final_answer(ids.UNIT_FOLLOW_UP)
    assert walk.open() == [ids.REVIEW_ANSWER]
    assert walk.statuses == [SUBMITTED, VERIFIED, DISPOSED, RESPONDED]
    assert [c["step"] for c in walk.calls(ids.SERVICE_SLA_STOP)] == [
        ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION]


def test_the_unit_may_answer_in_between_before_its_final_answer(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    walk.complete(ids.FOLLOW_UP, decision=ids.DELEGATE, unit_code="upt_jalan_penajam")
    walk.complete(ids.UNIT_FOLLOW_UP, decision=ids.INTERIM, answer="Dijadwalkan pekan depan")
    assert walk.open() == [ids.UNIT_FOLLOW_UP]
    walk.final_answer(ids.UNIT_FOLLOW_UP)
    assert walk.statuses[2:] == [DISPOSED, IN_PROGRESS, RESPONDED]


def test_disposing_straight_to_a_unit_skips_the_liaison(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose(handler=ids.HANDLER_FIELD_UNIT, unit_code="upt_pju")
    assert walk.open() == [ids.UNIT_FOLLOW_UP]
    assert walk.complaint.agencies == [("dinas_pupr", ids.ROLE_OPD), ("upt_pju", ids.ROLE_UNIT)]


def test_an_interim_answer_keeps_the_follow_up_open_until_the_final_answer(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    walk.complete(ids.FOLLOW_UP, decision=ids.INTERIM, answer="Tim sedang survei lokasi")
    assert walk.open() == [ids.FOLLOW_UP]
    assert walk.calls(ids.SERVICE_SLA_STOP)[-1] == {"step": ids.STEP_FOLLOW_UP}
    # the resolution SLA still runs: the watch now follows its deadline
    assert walk.timers() == {ids.WATCH_TIMERS[ids.FOLLOW_UP]: wita(15)}
    walk.final_answer()
    assert walk.statuses == [SUBMITTED, VERIFIED, DISPOSED, IN_PROGRESS,
                             RESPONDED]
    assert walk.open() == [ids.REVIEW_ANSWER]


# --------------------------------------------------------------------------- (i), (j) answered


def test_an_unsatisfied_complainant_sends_the_case_back_and_silence_then_closes_it(
        lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    walk.final_answer()
    walk.complete(ids.REVIEW_ANSWER, decision=ids.UNSATISFIED,
                  comment="Lubang masih ada di sisi kiri")
    assert walk.open() == [ids.FOLLOW_UP]
    assert walk.statuses[-2:] == [RESPONDED, IN_PROGRESS]
    assert walk.calls(ids.SERVICE_SLA_STOP)[-1] == {"step": ids.STEP_COMPLAINANT_WINDOW}
    # the OPD gets fresh follow-up and resolution budgets, and the watch covers them
    assert walk.calls(ids.SERVICE_SLA_START)[-2:] == [
        {"step": ids.STEP_FOLLOW_UP, "budget_days": 5},
        {"step": ids.STEP_RESOLUTION, "budget_days": 14}]
    assert {s.step for s in walk.complaint.slas.values() if s.state == "running"} == {
        ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION}
    assert walk.data()["watch"] == {"watch_cycle": "R/2026-03-06T09:00:00+08:00/P1D"}
    assert walk.timers() == {ids.WATCH_TIMERS[ids.FOLLOW_UP]: wita(6)}

    walk.clock.advance(days=2)
    walk.final_answer()
    assert walk.open() == [ids.REVIEW_ANSWER]
    window = walk.timers()[ids.CITIZEN_DEADLINE_TIMERS[ids.REVIEW_ANSWER]]
    assert window == START + 12 * DAY
    assert walk.at(window) == [ids.CITIZEN_DEADLINE_TIMERS[ids.REVIEW_ANSWER]]
    assert walk.statuses == [SUBMITTED, VERIFIED, DISPOSED, RESPONDED,
                             IN_PROGRESS, RESPONDED, CLOSED]
    assert walk.complaint.reasons[-1] == ids.REASON_AUTO_CLOSE
    assert walk.complaint.watched == []  # answered before the first reminder
    assert [c["step"] for c in walk.calls(ids.SERVICE_SLA_STOP)][-3:] == [
        ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION, ids.STEP_COMPLAINANT_WINDOW]
    assert all(s.state == "stopped" for s in walk.complaint.slas.values())
    assert walk.open() == []
    assert walk.state() == "running"


def test_the_complainant_reopens_a_closed_case_within_30_days(lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    walk.final_answer()
    walk.complete(ids.REVIEW_ANSWER, decision=ids.ACCEPT, rating=4)
    assert walk.statuses[-1] == CLOSED
    walk.clock.advance(days=20)
    delivered = walk.engine.send_message(ids.REOPEN_REQUESTED, {"reopen_reason": "Rusak lagi"},
                                         instance_id=walk.id)
    assert delivered == [walk.id]
    assert walk.statuses[-2:] == [CLOSED, IN_PROGRESS]
    assert walk.open() == [ids.FOLLOW_UP]
    assert walk.data()["reopen_reason"] == "Rusak lagi"
    # fresh follow-up (due 27 March) and resolution budgets; the reopen timer is gone and
    # the follow-up is watched from the reminder a day before its deadline
    assert walk.calls(ids.SERVICE_SLA_START)[-2:] == [
        {"step": ids.STEP_FOLLOW_UP, "budget_days": 5},
        {"step": ids.STEP_RESOLUTION, "budget_days": 14}]
    assert walk.complaint.slas[ids.STEP_FOLLOW_UP].due_at == wita(27)
    assert walk.complaint.slas[ids.STEP_RESOLUTION].state == "running"
    watch = ids.WATCH_TIMERS[ids.FOLLOW_UP]
    assert walk.timers() == {watch: wita(26)}
    assert walk.at(wita(26)) == [watch]
    assert walk.complaint.watched == [wita(26)]
    assert walk.open() == [ids.FOLLOW_UP]
    walk.final_answer()
    assert watch not in walk.timers()
    walk.complete(ids.REVIEW_ANSWER, decision=ids.ACCEPT, rating=5)
    assert walk.statuses[-3:] == [IN_PROGRESS, RESPONDED, CLOSED]
    assert all(s.state == "stopped" for s in walk.complaint.slas.values())


# --------------------------------------------------------------------------- (k) the watch cycle


def test_the_watch_calls_sla_watch_once_a_day_from_the_reminder_until_the_task_completes(
        lifecycle) -> None:
    walk = lifecycle()
    walk.verify()
    walk.dispose()
    # follow-up due Saturday 7 March 09:00 (5 calendar days here), so the first check is
    # Friday 09:00, then every day at the time of the deadlines
    assert walk.data()["watch"] == {"watch_cycle": "R/2026-03-06T09:00:00+08:00/P1D"}
    watch = ids.WATCH_TIMERS[ids.FOLLOW_UP]
    assert walk.timers() == {watch: wita(6)}
    assert walk.at(wita(6, 8, 59)) == []
    assert walk.at(wita(6)) == [watch]
    assert walk.complaint.watched == [wita(6)]
    assert walk.at(wita(6, 17)) == []  # once per day
    assert walk.timers() == {watch: wita(7)}
    assert walk.at(wita(7)) == [watch]  # the deadline: escalation time
    assert walk.at(wita(8, 10)) == [watch]
    assert walk.at(wita(9, 9)) == [watch]
    assert walk.complaint.watched == [wita(6), wita(7), wita(8, 10), wita(9, 9)]
    assert walk.open() == [ids.FOLLOW_UP]  # the watch paths end by themselves

    walk.final_answer()
    assert watch not in walk.timers()
    assert walk.at(wita(12)) == []
    assert len(walk.complaint.watched) == 4


def test_a_screening_left_open_is_watched_and_disposition_inherits_its_watch(lifecycle) -> None:
    walk = lifecycle()
    screen_watch, dispose_watch = (ids.WATCH_TIMERS[ids.SCREEN_REPORT],
                                   ids.WATCH_TIMERS[ids.DISPOSE_REPORT])
    assert walk.at(wita(4)) == [screen_watch]  # the reminder, a day before the deadline
    walk.clock.set(wita(4, 10))
    walk.verify()
    # no SLA service runs between the two tasks, so dispose_report reads the same cycle,
    # whose first check (09:00) has passed: it is watched at once, then at the deadline
    assert walk.complaint.watched == [wita(4), wita(4, 10)]
    assert walk.timers() == {dispose_watch: wita(5)}
    assert walk.at(wita(5)) == [dispose_watch]
    walk.dispose()
    assert len(walk.complaint.watched) == 3


def test_a_postponed_report_pauses_its_clock_and_is_watched_until_the_limit(lifecycle
                                                                          ) -> None:
    walk = lifecycle()
    walk.verify()  # Monday 2 March 09:00: verification due Thursday 5 March 09:00
    walk.complete(ids.DISPOSE_REPORT, decision=ids.POSTPONE, reason="Menunggu anggaran")
    assert walk.statuses[-1] == POSTPONED
    assert walk.calls(ids.SERVICE_SLA_PAUSE) == [{"step": ids.STEP_VERIFICATION,
                                                  "postponed": True}]
    # the postponement's limit (14 days in this host) is watched on resume_report: the
    # reminder the day before, then daily at the limit's time of day
    resume_watch = ids.WATCH_TIMERS[ids.RESUME_REPORT]
    assert walk.timers() == {resume_watch: wita(15)}
    assert walk.at(wita(15)) == [resume_watch]
    assert walk.at(wita(16)) == [resume_watch]
    assert walk.complaint.watched == [wita(15), wita(16)]
    assert walk.open() == [ids.RESUME_REPORT]  # the watch paths end by themselves
    walk.clock.set(wita(16, 11))
    walk.complete(ids.RESUME_REPORT)
    # the clock restarts with the three days that were left: due Thursday 19 March 11:00
    assert walk.calls(ids.SERVICE_SLA_RESUME) == [{"step": ids.STEP_VERIFICATION}]
    assert walk.data()["sla"]["due_at"] == wita(19, 11).isoformat()
    assert walk.task(ids.DISPOSE_REPORT)["due_at"] == wita(19, 11).astimezone(UTC).isoformat()
    postponement = walk.complaint.slas[ids.STEP_POSTPONEMENT]
    assert postponement.state == "stopped" and postponement.met is False  # past its limit
    assert walk.timers() == {ids.WATCH_TIMERS[ids.DISPOSE_REPORT]: wita(18, 11)}
    assert walk.statuses[-2:] == [POSTPONED, VERIFIED]


# --------------------------------------------------------------------------- (l) decisions


@pytest.mark.parametrize(("report", "authority", "handler_level", "agency_code"), [
    ({"road_status": "national"}, "national", "opd", "dinas_pupr"),
    ({"road_status": "provincial", "severity": "high"}, "provincial", "opd", "dinas_pupr"),
    ({"category": "civil_registration", "misconduct": True, "road_status": ""}, "regency",
     "regional_head", "inspektorat"),
    ({"severity": "high"}, "regency", "opd", "dinas_pupr"),
    ({}, "regency", "technical_officer", "dinas_pupr"),
    ({"category": "waste", "road_status": ""}, "regency", "technical_officer", "dlh"),
    ({"category": "street_lights", "road_status": ""}, "regency", "technical_officer",
     "dishub"),
    ({"category": "water", "severity": "high", "road_status": ""}, "regency", "opd",
     "perumda_air"),
    ({"category": "education", "classification": "permintaan_informasi", "road_status": ""},
     "regency", "technical_officer", "disdik"),
    ({"category": "other", "classification": "aspirasi", "road_status": ""}, "regency", "opd",
     "diskominfo"),
], ids=["national-road", "provincial-road", "misconduct", "high-severity-road", "road",
        "waste", "street-lights", "water-outage", "information-request", "other"])
def test_route_report_decides_authority_rung_and_agency(lifecycle, report, authority,
                                                       handler_level, agency_code) -> None:
    walk = lifecycle(**report)
    walk.verify()
    data = walk.data()
    assert (data["authority"], data["handler_level"], data["agency_code"]) == (
        authority, handler_level, agency_code)


@pytest.mark.parametrize(("report", "resolution_days"), [
    ({"classification": "pengaduan", "misconduct": False}, 14),
    ({"classification": "pengaduan", "misconduct": True}, 60),
    ({"classification": "aspirasi", "misconduct": False}, 5),
    ({"classification": "permintaan_informasi", "misconduct": False}, 5),
])
def test_step_budget_gives_each_classification_its_resolution_budget(
        lifecycle, report, resolution_days) -> None:
    walk = lifecycle(**report)
    walk.verify()
    walk.dispose()
    assert walk.calls(ids.SERVICE_SLA_START) == [
        {"step": ids.STEP_VERIFICATION, "budget_days": 3},
        {"step": ids.STEP_FOLLOW_UP, "budget_days": 5},
        {"step": ids.STEP_RESOLUTION, "budget_days": resolution_days},
    ]


# --------------------------------------------------------------------------- (m) the constants


def _tree(name: str) -> Any:
    return etree.parse(str(BPMN_DIR / name))


def test_every_diagram_id_constant_names_an_element_and_every_element_has_a_constant() -> None:
    bpmn = _tree(ids.BPMN_FILE)
    element_ids = {e.get("id") for e in bpmn.iter() if isinstance(e.tag, str) and e.get("id")}
    process = bpmn.find("bpmn:process", NS)
    assert process.get("id") == ids.PROCESS_ID and process.get("isExecutable") == "true"

    user_tasks = {e.get("id") for e in process.iterfind(".//bpmn:userTask", NS)}
    assert user_tasks == set(ids.USER_TASKS)
    assert set(ids.OFFICER_TASKS) | set(ids.CITIZEN_TASKS) <= user_tasks
    operators = {e.get("id") for e in process.iterfind(".//spiff:serviceTaskOperator", NS)}
    assert operators == set(ids.SERVICE_OPERATORS)
    messages = {e.get("name") for e in bpmn.iterfind("bpmn:message", NS)}
    assert messages == set(ids.MESSAGES)
    called = {e.text for e in process.iterfind(".//spiff:calledDecisionId", NS)}
    assert called == set(ids.DECISIONS)
    decisions = {_tree(f).find("dmn:decision", NS).get("id")
                 for f in (ids.ROUTING_DMN_FILE, ids.DEADLINES_DMN_FILE)}
    assert decisions == set(ids.DECISIONS)
    lanes = {e.get("id"): e.get("name") for e in process.iterfind(".//bpmn:lane", NS)}
    assert lanes == ids.LANES

    named_elements = [ids.ROUTING_TASK, ids.REOPEN_GATEWAY, ids.REOPEN_WINDOW_TIMER,
                      ids.AWAIT_REOPEN, *ids.WATCH_TIMERS.values(),
                      *ids.CITIZEN_DEADLINE_TIMERS.values()]
    assert [e for e in named_elements if e not in element_ids] == []
    boundaries = {e.get("id"): e for e in process.iterfind(".//bpmn:boundaryEvent", NS)}
    assert set(boundaries) == set(ids.WATCH_TIMERS.values()) | set(
        ids.CITIZEN_DEADLINE_TIMERS.values())
    for task, timer in {**ids.WATCH_TIMERS, **ids.CITIZEN_DEADLINE_TIMERS}.items():
        assert boundaries[timer].get("attachedToRef") == task
    for lane_id, name in ids.LANES.items():
        lane = process.find(f".//bpmn:lane[@id='{lane_id}']", NS)
        refs = {r.text for r in lane.iterfind("bpmn:flowNodeRef", NS)}
        assert {t for t, n in ids.TASK_LANES.items() if n == name} <= refs


def test_the_forms_and_service_parameters_use_only_the_constants() -> None:
    process = _tree(ids.BPMN_FILE).find("bpmn:process", NS)
    for task in process.iterfind(".//bpmn:userTask", NS):
        props = {p.get("name"): p.get("value")
                 for p in task.iterfind(".//spiff:property", NS)}
        form = json.loads(props["formJsonSchema"])
        decision = form["properties"].get(ids.VAR_DECISION)
        if task.get("id") in ids.TASK_DECISIONS:
            assert decision["enum"] == list(ids.TASK_DECISIONS[task.get("id")])
            assert ids.VAR_DECISION in form["required"]
        else:
            assert decision is None
        assert props["candidateGroupsExpression"].startswith("[")
    literals: dict[str, set[str]] = {"status": set(), "step": set()}
    for operator in process.iterfind(".//spiff:serviceTaskOperator", NS):
        for param in operator.iterfind(".//spiff:parameter", NS):
            value = param.get("value")
            if param.get("id") in literals and value.startswith('"'):
                literals[param.get("id")].add(json.loads(value))
    for script in process.iterfind(".//bpmn:businessRuleTask//spiff:preScript", NS):
        name, value = script.text.split("=", 1)  # step = "..." before step_budget
        assert name.strip() == "step"
        literals["step"].add(json.loads(value))
    assert literals["status"] <= set(ids.STATUSES)
    assert literals["step"] == set(ids.STEPS)
    assert set(ids.STATUS_LABELS) == set(ids.STATUSES)
    assert all(set(labels) == {"id", "en"} for labels in ids.STATUS_LABELS.values())
    assert ids.STATUS_LABELS[DISPOSED]["id"] == "Terdisposisi Belum Ditindaklanjuti"


def test_the_decision_tables_use_hit_policy_first_and_python_cells() -> None:
    for name in (ids.ROUTING_DMN_FILE, ids.DEADLINES_DMN_FILE):
        table = _tree(name).find("dmn:decision/dmn:decisionTable", NS)
        assert table.get("hitPolicy") == "FIRST"
        cells = [t.text or "" for t in table.iterfind(".//dmn:inputEntry/dmn:text", NS)]
        assert not [c for c in cells if c.strip().startswith("in ")]


def test_start_is_the_same_instant_as_the_fixture_clock() -> None:
    assert START == datetime(2026, 3, 2, 1, 0, tzinfo=UTC) == wita(2)
