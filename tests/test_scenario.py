"""The scenario diagrams walked through the persisted engine, one saved transaction per step.

`tests/diagrams/scenario_all_elements.bpmn` holds every BPMN element the engine supports (see
docs/bpmn-support.md). The walk alternates between two Engine objects on the same database, so
each step starts from what the previous one saved and nothing survives in memory between steps.
After every step it checks the projections (open tasks, waiting timers with their due times,
awaited messages and signals) and the instance data.

The clock starts on Monday 2 March 2026 at 01:00 UTC (09:00 WITA); the SLA deadline handed to
the diagram is 17:00 WITA the same day, i.e. 09:00 UTC.

Long on purpose: the one test module of its subject, each test a sentence about one
behaviour; splitting it would scatter what a reader of the subject wants together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, FrozenClock, InvalidInput, NotFound, TaskNotOpen

DIAGRAMS = Path(__file__).parent / "diagrams"
UNIT = [
    DIAGRAMS / "scenario_all_elements.bpmn",
    DIAGRAMS / "scenario_called.bpmn",
    DIAGRAMS / "scenario_decision.dmn",
]
PROCESS = "scenario_all_elements"

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DEADLINE_TEXT = "2026-03-02T17:00:00+08:00"
DEADLINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START_DATA = {"channel": "web", "deadline": DEADLINE_TEXT}

POTHOLE = {
    "summary": "Pothole on Jalan Udayana near the market",
    "category": "roads",
    "severity": 4,
}
AGENCY = {"code": "DPUPR", "name": "Dinas Pekerjaan Umum dan Penataan Ruang"}


class AgencyDirectory:
    """The host service behind the `lookup_agency` service task; remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, code: str) -> dict[str, str]:
        self.calls.append({"code": code})
        if code == "roads":
            return dict(AGENCY)
        return {"code": "DLH", "name": "Dinas Lingkungan Hidup"}


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class Walk:
    """One instance of the scenario, driven through the engine(s) step by step.

    Every method is one engine call: it loads the instance from the database, acts, and saves
    it back. With several engines the calls rotate among them.
    """

    def __init__(self, engines: list[Engine], instance_id: int) -> None:
        self.engines = engines
        self.id = instance_id
        self.turn = 0

    @property
    def engine(self) -> Engine:
        engine = self.engines[self.turn % len(self.engines)]
        self.turn += 1
        return engine

    # -------------------------------------------------------------- reading the projections

    def tasks(self) -> list[dict[str, Any]]:
        return self.engine.tasks(instance_id=self.id)

    def open(self) -> list[str]:
        return sorted(t["element_id"] for t in self.tasks())

    def task(self, element_id: str, index: int = 0) -> dict[str, Any]:
        found = [t for t in self.tasks() if t["element_id"] == element_id]
        assert len(found) > index, f"no open task {element_id!r}; open: {self.open()}"
        return found[index]

    def detail(self) -> dict[str, Any]:
        return self.engine.instance(self.id)

    def data(self) -> dict[str, Any]:
        return self.detail()["data"]

    def timers(self) -> dict[str, datetime]:
        timers = self.detail()["timers"]
        due = {t["element_id"]: instant(t["due_at"]) for t in timers}
        assert len(due) == len(timers), f"two timers on one element: {timers}"
        return due

    def waiting_for(self) -> set[tuple[str, str]]:
        return {(w["kind"], w["name"]) for w in self.detail()["waiting_for"]}

    # -------------------------------------------------------------- acting

    def complete(self, element_id: str, data: dict[str, Any] | None = None,
                 actor: str = "alice", index: int = 0) -> str:
        task = self.task(element_id, index)
        summary = self.engine.complete(task["id"], data or {}, actor=actor)
        assert summary.id == self.id
        return summary.status

    def fire(self) -> list[str]:
        report = self.engine.fire_due_timers()
        assert report.failed == [], report.failed
        return sorted(f["element_id"] for f in report.fired if f["instance_id"] == self.id)

    def message(self, name: str, data: dict[str, Any]) -> None:
        assert self.engine.send_message(name, data, instance_id=self.id) == [self.id]


@pytest.fixture
def directory() -> AgencyDirectory:
    return AgencyDirectory()


@pytest.fixture
def engines(make_engine: Callable[..., Engine], directory: AgencyDirectory) -> list[Engine]:
    """Two engines on one database and one clock (the `clock` fixture): a step never sees the
    previous step's memory."""
    first = make_engine(services={"lookup_agency": directory})
    second = make_engine(services={"lookup_agency": directory})
    first.deploy(UNIT)
    return [first, second]


def start(engines: list[Engine], data: dict[str, Any] | None = None,
          business_key: str = "PPU-2026-0001") -> Walk:
    summary = engines[0].start(PROCESS, data or dict(START_DATA), business_key=business_key,
                               actor="citizen")
    assert summary.status == "running"
    return Walk(engines, summary.id)


def register(walk: Walk, complaint: dict[str, Any]) -> None:
    """From the start: acknowledge nothing, register the complaint."""
    assert walk.complete("register_complaint", complaint) == "running"


def to_event_gateway(walk: Walk, clock: FrozenClock) -> None:
    """The shortest way to the event-based gateway: a low-priority waste complaint."""
    register(walk, {"summary": "Rubbish not collected for a week", "category": "waste",
                    "severity": 1})
    # Low priority skips the review and goes straight to the parallel block.
    assert walk.open() == ["review_reports", "review_reports"]
    walk.message("agency_reply", {"accepted": True, "officer": "Putu"})
    walk.complete("review_reports", {"report": "Fine"}, actor="rina")
    walk.complete("review_reports", {"report": "Fine too"}, actor="budi")
    clock.advance(hours=1)
    assert walk.fire() == ["wait_cooling_off"]
    # Neither severity >= 3 nor roads: only the inclusive gateway's default flow is taken.
    assert walk.open() == ["check_evidence"]
    walk.complete("check_evidence", {"evidence_complete": True})
    assert walk.open() == ["confirm_resolution"]
    walk.complete("confirm_resolution", {"resolution": "Collected on Tuesday",
                                         "satisfied": False})


# ------------------------------------------------------------------------------------------
# The whole walk


def test_walks_every_supported_element_to_completion_with_a_save_at_every_step(
        engines: list[Engine], clock: FrozenClock, directory: AgencyDirectory) -> None:
    deployed = engines[0].deploy(UNIT)
    assert (deployed.process_id, deployed.version, deployed.created) == (PROCESS, 1, False)
    assert clock.now() == T0

    # -- none start event, script task, user task with a JSON-Schema form and a pre-script ---
    walk = start(engines)
    assert walk.open() == ["register_complaint"]
    register_task = walk.task("register_complaint")
    assert register_task["title"] == "Register the complaint"
    assert register_task["lane"] == "clerk"
    assert register_task["candidate_groups"] == ["clerk"]
    assert register_task["form"]["required"] == ["summary", "category", "severity"]
    assert register_task["due_at"] is None
    data = walk.data()
    assert data["reviewers"] == ["rina", "budi"]
    assert data["approvers"] == ["kepala_bidang", "sekretaris"]
    # -- non-interrupting boundary timer, timeCycle "R2/PT1H": first due one hour after start
    assert walk.timers() == {"register_reminder": T0 + timedelta(hours=1)}

    # -- the cycle fires at its due time exactly; the registration stays open --------------
    clock.advance(hours=1)
    assert walk.fire() == ["register_reminder"]
    assert walk.open() == ["acknowledge_reminder", "register_complaint"]
    assert walk.task("register_complaint")["id"] == register_task["id"]
    assert walk.timers() == {"register_reminder": T0 + timedelta(hours=2)}
    walk.complete("acknowledge_reminder", {"note": "The citizen called again"})
    assert walk.open() == ["register_complaint"]

    clock.advance(hours=1)
    assert walk.fire() == ["register_reminder"]
    assert walk.open() == ["acknowledge_reminder", "register_complaint"]
    assert "register_reminder" not in walk.timers(), "R2 means two reminders, then no more"
    walk.complete("acknowledge_reminder")
    clock.advance(minutes=30)
    assert walk.fire() == []
    assert walk.open() == ["register_complaint"]

    # -- post-script, business rule task (DMN), service task, exclusive gateway ------------
    walk.complete("register_complaint", POTHOLE)
    data = walk.data()
    assert data["intake_channel"] == "WEB"  # pre-script
    assert data["summary_words"] == 7  # post-script
    assert data["priority"] == "high"  # DMN: severity >= 4
    assert data["agency"] == AGENCY  # service task result variable
    assert directory.calls == [{"code": "roads"}]  # parameter `category` evaluated
    assert walk.open() == ["supervisor_review"]
    review = walk.task("supervisor_review")
    assert review["lane"] == "supervisor"
    assert review["candidate_groups"] == ["supervisor"]
    assert instant(review["due_at"]) == DEADLINE  # dueDate property: the expression `deadline`
    # -- interrupting boundary timer, timeDate read from the variable `deadline` ------------
    assert walk.timers() == {"supervisor_review_deadline": DEADLINE}

    # -- the deadline passes: the review is cancelled, the timeout path records the breach --
    clock.set(DEADLINE)
    assert walk.fire() == ["supervisor_review_deadline"]
    with pytest.raises(TaskNotOpen):
        walk.engine.complete(review["id"], {"review_outcome": "accepted"}, actor="sari")
    data = walk.data()
    assert data["sla_breached"] is True
    assert data["review_outcome"] == "accepted_by_default"

    # -- parallel split: duration timer, message catch, parallel multi-instance user task --
    assert walk.open() == ["review_reports", "review_reports"]
    reports = walk.tasks()
    assert {t["lane"] for t in reports} == {"supervisor"}
    assert reports[0]["candidate_groups"] == ["supervisor", "quality"]
    reviewers = {walk.engine.task(t["id"])["data"]["reviewer"]: t["id"] for t in reports}
    assert set(reviewers) == {"rina", "budi"}
    assert walk.timers() == {"wait_cooling_off": DEADLINE + timedelta(hours=1)}
    assert ("message", "agency_reply") in walk.waiting_for()

    walk.message("agency_reply", {"accepted": True, "officer": "Made"})
    assert ("message", "agency_reply") not in walk.waiting_for()
    walk.engine.complete(reviewers["rina"], {"report": "Deep and dangerous"}, actor="rina")
    assert walk.open() == ["review_reports"]
    walk.engine.complete(reviewers["budi"], {"report": "Agreed, fix first"}, actor="budi")
    assert walk.open() == []
    assert walk.timers() == {"wait_cooling_off": DEADLINE + timedelta(hours=1)}

    # -- the cooling-off timer completes the parallel join; inclusive split takes two flows --
    clock.advance(hours=1)
    assert walk.fire() == ["wait_cooling_off"]
    data = walk.data()
    assert data["agency_reply"] == {"accepted": True, "officer": "Made"}
    assert data["reports"] == ["Deep and dangerous", "Agreed, fix first"]
    # severity >= 3 -> manual task; roads -> receive task; the default flow is not taken
    assert walk.open() == ["call_citizen"]
    assert walk.task("call_citizen")["form"] is None
    assert walk.timers() == {}
    assert ("message", "field_report") in walk.waiting_for()
    walk.complete("call_citizen")
    assert walk.open() == []
    walk.message("field_report", {"inspector": "Komang", "depth_cm": 12})

    # -- inclusive join, embedded subprocess; its error end event meets the error boundary --
    assert walk.open() == ["check_evidence"]
    assert walk.data()["field_report"] == {"inspector": "Komang", "depth_cm": 12}
    assert "follow_up" not in walk.data()  # the inclusive default flow was not taken
    assert walk.task("check_evidence")["lane"] == "clerk"  # inner tasks take the lane
    walk.complete("check_evidence", {"evidence_complete": False})
    assert walk.open() == ["request_evidence"]
    walk.complete("request_evidence", {"request_note": "Please send a photo of the hole"})
    # The flow loops back into a fresh run of the subprocess.
    assert walk.open() == ["check_evidence"]

    # -- escalation end event inside, non-interrupting escalation boundary outside ---------
    walk.complete("check_evidence", {"evidence_complete": True, "evidence_note": "Photo in"})
    assert walk.open() == ["confirm_resolution", "review_escalation"]
    escalation = walk.task("review_escalation")
    assert (escalation["lane"], escalation["candidate_groups"]) == ("supervisor", ["supervisor"])
    data = walk.data()
    assert data["request_note"] == "Please send a photo of the hole"
    # Data written inside a subprocess run that ended in an error is discarded with it.
    assert data["evidence_rounds"] == 1
    walk.complete("review_escalation", {"instruction": "Patch it this week"}, actor="sari")

    # -- call activity: the called process's user task (no lane: candidateGroups) ----------
    confirm = walk.task("confirm_resolution")
    assert (confirm["lane"], confirm["candidate_groups"]) == (None, ["clerk"])
    walk.complete("confirm_resolution", {"resolution": "Pothole patched", "satisfied": True})
    assert walk.data()["resolution_summary"] == "Pothole patched (satisfied)"

    # -- event-based gateway: a message or a three-day timer; here the timer wins ----------
    after_call = clock.now()
    assert walk.open() == []
    assert ("message", "citizen_confirmed") in walk.waiting_for()
    timers = walk.timers()
    assert list(timers.values()) == [after_call + timedelta(days=3)]
    assert set(timers) <= {"confirmation_gateway", "confirmation_timeout"}
    clock.advance(days=3)
    assert len(walk.fire()) == 1
    assert walk.data()["confirmed_by_citizen"] is False
    assert ("message", "citizen_confirmed") not in walk.waiting_for()

    # -- sequential multi-instance user task over `approvers` --------------------------------
    assert walk.open() == ["sign_off"]
    first = walk.task("sign_off")
    assert walk.engine.task(first["id"])["data"]["approver"] == "kepala_bidang"
    walk.complete("sign_off", {"signature": "KB"}, actor="kabid")
    second = walk.task("sign_off")
    assert second["id"] != first["id"]
    assert walk.engine.task(second["id"])["data"]["approver"] == "sekretaris"
    walk.complete("sign_off", {"signature": "SEK"}, actor="sekretaris")

    # -- intermediate signal catch; a broadcast signal reaches it --------------------------
    assert walk.open() == []
    assert ("signal", "case_approved") in walk.waiting_for()
    assert walk.engine.send_signal("case_approved", {"approved_by": "Sekda"}) == [walk.id]

    # -- standard loop, signal throw, message throw, terminate end event -------------------
    detail = walk.detail()
    assert detail["status"] == "completed"
    assert detail["tasks"] == [] and detail["timers"] == [] and detail["waiting_for"] == []
    assert detail["incident"] is None
    data = detail["data"]
    assert data["approval"] == {"approved_by": "Sekda"}  # the signal's variableName
    assert data["signatures"] == ["KB", "SEK"]
    assert data["notice_drafts"] == 2  # loop condition `notice_drafts < 2`
    assert data["priority"] == "high" and data["sla_breached"] is True
    for element in ("prepare_case", "assess_priority", "find_agency", "record_sla_breach",
                    "parallel_join", "inclusive_join", "handle_evidence", "call_follow_up",
                    "record_no_confirmation", "prepare_notice", "announce_closure",
                    "notify_citizen", "case_closed"):
        assert element in detail["completed_elements"], element

    actions = [e["action"] for e in detail["events"]]
    assert actions[0] == "start"
    assert actions.count("timer_fired") == 5
    assert actions.count("message_received") == 2
    assert actions.count("signal_received") == 1
    assert actions.count("complete_task") == 13
    assert detail["events"][-1]["status_to"] == "completed"
    with pytest.raises(NotFound):
        walk.engine.send_message("citizen_confirmed", {}, instance_id=walk.id)


# ------------------------------------------------------------------------------------------
# Focused tests


def test_an_interrupting_boundary_timer_cancels_its_task(engines: list[Engine],
                                                          clock: FrozenClock) -> None:
    walk = start(engines)
    register(walk, POTHOLE)
    review = walk.task("supervisor_review")
    assert walk.timers() == {"supervisor_review_deadline": DEADLINE}

    clock.set(DEADLINE - timedelta(minutes=1))
    assert walk.fire() == []
    assert walk.task("supervisor_review")["id"] == review["id"]

    clock.set(DEADLINE + timedelta(minutes=1))
    assert walk.fire() == ["supervisor_review_deadline"]
    assert "supervisor_review" not in walk.open()
    assert walk.open() == ["review_reports", "review_reports"]
    assert "supervisor_review_deadline" not in walk.timers()
    with pytest.raises(TaskNotOpen):
        walk.engine.complete(review["id"], {"review_outcome": "accepted"}, actor="sari")
    data = walk.data()
    assert data["sla_breached"] is True
    assert data["review_outcome"] == "accepted_by_default"


def test_completing_the_task_before_its_deadline_removes_the_interrupting_timer(
        engines: list[Engine], clock: FrozenClock) -> None:
    walk = start(engines)
    register(walk, POTHOLE)
    walk.complete("supervisor_review", {"review_outcome": "accepted"}, actor="sari")
    assert walk.timers() == {"wait_cooling_off": T0 + timedelta(hours=1)}
    clock.set(DEADLINE + timedelta(hours=1))
    assert walk.fire() == ["wait_cooling_off"]
    data = walk.data()
    assert data["review_outcome"] == "accepted"
    assert "sla_breached" not in data


def test_a_non_interrupting_boundary_timer_leaves_the_task_open_and_adds_a_reminder(
        engines: list[Engine], clock: FrozenClock) -> None:
    walk = start(engines)
    registration = walk.task("register_complaint")

    clock.advance(minutes=59)
    assert walk.fire() == []
    assert walk.open() == ["register_complaint"]

    clock.advance(minutes=1)
    assert walk.fire() == ["register_reminder"]
    assert walk.open() == ["acknowledge_reminder", "register_complaint"]
    assert walk.task("register_complaint")["id"] == registration["id"]
    reminder = walk.task("acknowledge_reminder")
    assert reminder["lane"] == "clerk"
    assert reminder["title"] == "Registration still pending"

    walk.complete("acknowledge_reminder", {"note": "Working on it"})
    assert walk.open() == ["register_complaint"]
    register(walk, POTHOLE)
    assert walk.open() == ["supervisor_review"]
    assert "register_reminder" not in walk.timers()


def test_reminders_from_the_cycle_timer_close_with_the_task_they_remind_of(
        engines: list[Engine], clock: FrozenClock) -> None:
    # SpiffWorkflow 3.2 hangs the paths a timeCycle boundary starts under the boundary event,
    # so completing the host task withdraws an unanswered reminder. The projection must follow.
    walk = start(engines)
    clock.advance(hours=1)
    assert walk.fire() == ["register_reminder"]
    reminder = walk.task("acknowledge_reminder")
    register(walk, POTHOLE)
    assert walk.open() == ["supervisor_review"]
    with pytest.raises(TaskNotOpen):
        walk.engine.complete(reminder["id"], {}, actor="alice")


def test_a_form_refuses_bad_data_with_a_field_error(engines: list[Engine]) -> None:
    walk = start(engines)
    task = walk.task("register_complaint")
    before = walk.detail()

    with pytest.raises(InvalidInput) as caught:
        walk.engine.complete(task["id"], {"summary": "Hole", "category": "parks",
                                          "severity": 9}, actor="alice")
    assert set(caught.value.field_errors) == {"summary", "category", "severity"}

    with pytest.raises(InvalidInput) as caught:
        walk.engine.complete(task["id"], {"summary": "A pothole that swallows scooters"},
                             actor="alice")
    assert set(caught.value.field_errors) == {"category", "severity"}

    after = walk.detail()
    assert after["version"] == before["version"]
    assert after["data"] == before["data"]
    assert walk.task("register_complaint")["id"] == task["id"]
    register(walk, POTHOLE)
    assert walk.open() == ["supervisor_review"]


@pytest.mark.parametrize(
    ("category", "severity", "priority", "first_task"),
    [
        ("roads", 4, "high", "supervisor_review"),
        ("waste", 5, "high", "supervisor_review"),
        ("roads", 2, "normal", "clerk_review"),
        ("water", 3, "normal", "clerk_review"),
        ("waste", 1, "low", "review_reports"),  # low priority skips the review
        ("roads", 1, "low", "review_reports"),
    ],
)
def test_the_decision_table_and_the_exclusive_gateway_route_by_priority(
        engines: list[Engine], category: str, severity: int, priority: str,
        first_task: str) -> None:
    walk = start(engines)
    register(walk, {"summary": "Something is broken here", "category": category,
                    "severity": severity})
    assert walk.data()["priority"] == priority
    assert walk.open()[0] == first_task


def test_the_event_based_gateway_takes_the_message_branch_when_the_message_comes_first(
        engines: list[Engine], clock: FrozenClock) -> None:
    walk = start(engines)
    to_event_gateway(walk, clock)
    data = walk.data()
    assert data["priority"] == "low" and data["review_outcome"] == "skipped"
    assert data["follow_up"] == "none"  # the inclusive gateway's default flow
    assert walk.open() == []
    assert ("message", "citizen_confirmed") in walk.waiting_for()
    [due] = walk.timers().values()
    assert due == clock.now() + timedelta(days=3)

    clock.advance(days=2)
    walk.message("citizen_confirmed", {"confirmed": True, "channel": "whatsapp"})
    data = walk.data()
    assert data["confirmed_by_citizen"] is True
    assert data["confirmation"] == {"confirmed": True, "channel": "whatsapp"}
    assert walk.timers() == {}
    assert walk.open() == ["sign_off"]

    clock.advance(days=2)
    assert walk.fire() == []
    assert walk.open() == ["sign_off"]
    with pytest.raises(NotFound):
        walk.engine.send_message("citizen_confirmed", {"confirmed": True},
                                 instance_id=walk.id)


def test_a_message_starts_the_non_interrupting_event_subprocess_beside_the_main_flow(
        engines: list[Engine]) -> None:
    walk = start(engines)
    registration = walk.task("register_complaint")

    walk.message("citizen_update", {"note": "The hole is getting bigger"})
    assert walk.open() == ["read_citizen_update", "register_complaint"]
    update = walk.task("read_citizen_update")
    assert update["lane"] == "supervisor"
    assert walk.engine.task(update["id"])["data"]["citizen_update"] == {
        "note": "The hole is getting bigger"}
    assert walk.task("register_complaint")["id"] == registration["id"]

    # A second update while the first is unread starts a second run of the event subprocess.
    walk.message("citizen_update", {"note": "Now it rains"})
    assert walk.open() == ["read_citizen_update", "read_citizen_update", "register_complaint"]

    walk.complete("read_citizen_update", {"reply": "Thank you, we are on it"}, actor="sari")
    walk.complete("read_citizen_update", {"reply": "Noted"}, actor="sari")
    assert walk.open() == ["register_complaint"]
    register(walk, POTHOLE)
    assert walk.open() == ["supervisor_review"]


def test_a_message_nobody_waits_for_is_refused(engines: list[Engine]) -> None:
    walk = start(engines)
    with pytest.raises(NotFound):
        walk.engine.send_message("field_report", {"inspector": "Komang"},
                                 instance_id=walk.id)
    assert walk.open() == ["register_complaint"]


# The scenario walks other tests replay with something watched (tests/test_projection_walk.py,
# tests/test_tasktree.py): each needs the engines, some the clock.
OTHER_WALKS = [
    test_a_message_starts_the_non_interrupting_event_subprocess_beside_the_main_flow,
    test_the_event_based_gateway_takes_the_message_branch_when_the_message_comes_first,
    test_a_non_interrupting_boundary_timer_leaves_the_task_open_and_adds_a_reminder,
    test_an_interrupting_boundary_timer_cancels_its_task,
    test_reminders_from_the_cycle_timer_close_with_the_task_they_remind_of,
]


def replay(walk: Callable[..., None], engines: list[Engine], clock: FrozenClock) -> None:
    """Run one of OTHER_WALKS with the fixtures it names."""
    import inspect

    available = {"engines": engines, "clock": clock}
    walk(**{name: available[name] for name in inspect.signature(walk).parameters})
