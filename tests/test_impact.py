"""The impact preview: a candidate deadline table replayed over a known history of SLA records
(frozen clock, SQLite and PostgreSQL), the calendar and ladder arithmetic it relies on, and
its page and JSON endpoint for designers and administrators."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import ValidationFailed
from tests.pages import Site
from workflows import diagram_ids as ids
from workflows.access import Principal
from workflows.calendar import WorkingCalendar
from workflows.errors import Forbidden, Invalid
from workflows.ladder import Escalation as Climbed
from workflows.ladder import Ladder
from workflows.models import Agency, CalendarDay, Complaint, Escalation, SlaRecord
from workflows.timeline import WorkingTimeline, epoch_us
from workflows.workdays import calendar_for

DESIGNER = Principal("perancang", frozenset({"process_designer"}))
ADMIN = Principal("admin.kominfo", frozenset({"regency_admin"}))
WITA = 8  # hours ahead of UTC
# Monday 2 February 2026, 09:00 WITA: a week without holidays; the clock is a month later.
MONDAY = datetime(2026, 2, 2, 9 - WITA, tzinfo=UTC)


def local(day: int, hour: float) -> datetime:
    """An instant in February 2026 at a local (WITA) hour."""
    return datetime(2026, 2, day, tzinfo=UTC) + timedelta(hours=hour - WITA)


def deadlines(regency, **budgets: int) -> str:
    """The deployed deadlines.dmn with some rules' budgets changed (rule id suffix: days)."""
    text = regency.engine.definition_files(ids.PROCESS_ID)["deadlines.dmn"]
    for rule, days in budgets.items():
        marker = f'<outputEntry id="rule_{rule}_output_budget_days">\n          <text>'
        head, found, tail = text.partition(marker)
        assert found, rule
        text = head + marker + str(days) + tail[tail.index("</text>"):]
    return text


@dataclass
class History:
    """SLA records written as the live SLA writes them (due time, met or breached, the
    escalations the ladder makes), for a test to know every fact."""

    regency: object
    made: int = 0
    ladder: Ladder = field(init=False)

    def __post_init__(self) -> None:
        self.ladder = Ladder.of(self.regency.domain.config)

    def record(self, step: str, budget: float, started: datetime,
               ended: datetime | str | None, agency: str | None = "dinas_pupr",
               classification: str = "pengaduan") -> None:
        """One record; `ended` None: still open, "due": ended at its due time."""
        config = self.regency.domain.config
        now = self.regency.clock.now()
        with self.regency.transaction() as session:
            calendar = calendar_for(session, config)
            agency_id = session.scalar(select(Agency.id).where(Agency.code == agency)) \
                if agency else None
            self.made += 1
            complaint = Complaint(
                tracking_number=f"TEST-{self.made}", secret_hash="x",
                classification=classification, misconduct=False, category="roads",
                severity="medium", title="Jalan", body="Lubang", anonymous=False,
                confidential=False, channel="web", language="id", status="IN_PROGRESS",
                agency_id=agency_id, created_at=started, updated_at=started, version=1)
            session.add(complaint)
            session.flush()
            holder = self.ladder.holder(step, held_by_unit=False)
            due = calendar.add_working_days(started, budget).astimezone(UTC)
            ended = due if ended == "due" else ended
            end = ended or now
            late = calendar.working_seconds_between(due, end)
            state = "running" if ended is None else "breached" if late > 0 else "met"
            record = SlaRecord(
                complaint_id=complaint.id, step=step, budget_days=budget, holder_rung=holder,
                started_at=started, due_at=due, pauses=[], state=state, ended_at=ended,
                late_seconds=max(late, 0.0) if ended else None, rung=holder,
                reminded_rungs=[])
            session.add(record)
            session.flush()
            if step in ("complainant_window", "info_request"):
                return
            # the watch runs while the step does: the last instant before its answer
            watched = end - timedelta(microseconds=1) if ended else now
            for climb in self.ladder.due(record, watched, calendar):
                if isinstance(climb, Climbed):
                    record.rung = climb.rung
                    session.add(Escalation(
                        complaint_id=complaint.id, sla_id=record.id, step=step,
                        rung=climb.rung, rung_name=config.ladder[climb.rung], at=end,
                        due_at=climb.deadline, status="resolved"))


@pytest.fixture
def history(regency) -> History:
    return History(regency)


def verification_week(history: History) -> None:
    """Four verifications of 3 working days started Monday 09:00: answered on day 2, on
    day 3 (Thursday 08:00, and 09:00 sharp: the due time), and late on Friday 10:00."""
    for ended in (local(4, 8), local(5, 8), local(5, 9), local(6, 10)):
        history.record("verification", 3, MONDAY, ended)


def test_a_budget_cut_from_3_to_2_makes_exactly_those_answered_on_day_3_late(regency,
                                                                            history):
    verification_week(history)
    preview = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, verification=2)}, DESIGNER)
    assert preview.records == 4
    total = preview.total
    assert (total.before.late, total.after.late) == (1, 3)  # + the two of Thursday
    # before: Friday's one rung (1 h late); after: 23 h and 24 h late climb one rung each,
    # 2 days 1 h climbs two (the rung budget is 2 working days), the ladder's room
    assert (total.before.escalated, total.after.escalated) == (1, 3)
    assert (total.before.escalations, total.after.escalations) == (1, 4)
    assert total.difference.late == 2 and total.difference.escalations == 3
    # verification is held by the regency administrator
    assert [(r.agency_code, r.deadlines) for r in preview.rows] == [("diskominfo", 4)]
    assert [(c.step, c.when, c.old, c.new, c.deadlines) for c in preview.changes] == [
        ("verification", {}, 3, 2.0, 4)]


def test_an_unchanged_table_changes_nothing(regency, history):
    verification_week(history)
    for ended in (local(9, 10), local(13, 10), None):
        history.record("follow_up", 5, MONDAY, ended)
    preview = regency.domain.impact.preview({"deadlines.dmn": deadlines(regency)}, ADMIN)
    assert preview.changes == []
    assert preview.total.before == preview.total.after
    assert preview.total.before.late == 4  # Friday's, 9 and 13 Feb, and the open one


def test_a_budget_raise_makes_late_ones_on_time(regency, history):
    # follow-up of 5 working days from Monday 2 Feb 09:00: due Monday 9 Feb 09:00
    history.record("follow_up", 5, MONDAY, local(10, 9))  # 1 day late
    history.record("follow_up", 5, MONDAY, local(12, 10))  # 3 days 1 h late
    history.record("follow_up", 5, MONDAY, local(6, 12))  # on time
    preview = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, follow_up=7)}, DESIGNER)
    total = preview.total
    assert (total.before.late, total.after.late) == (2, 1)
    # before: 1 day late climbs one rung, 3 d 1 h two; after only the second, 1 d 1 h: one
    assert (total.before.escalations, total.after.escalations) == (3, 1)
    row, = preview.rows
    assert (row.agency_code, row.deadlines, row.difference.late) == ("dinas_pupr", 3, -1)
    assert [(c.step, c.old, c.new) for c in preview.changes] == [("follow_up", 5, 7.0)]


def test_a_holiday_in_the_calendar_shifts_the_due_date(regency, history):
    with regency.transaction() as session:  # a decree: Wednesday 4 February off
        session.add(CalendarDay(day=date(2026, 2, 4), kind="day_off", name="Cuti bersama"))
    verification_week(history)
    preview = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, verification=2)}, DESIGNER)
    # Thursday 08:00 is 1 day 23 h of working time after Monday 09:00 (Wednesday is off),
    # Thursday 09:00 exactly 2 days: only Friday's is late under 2 days (three without)
    assert preview.total.after.late == 1
    assert preview.total.before.late == 1  # 3 days end on Friday 09:00 now


def test_a_shorter_complainant_window_closes_more_reports_by_themselves(regency, history):
    history.record("complainant_window", 10, MONDAY, local(10, 9))  # replied after 6 days
    history.record("complainant_window", 10, MONDAY, "due")  # ran out (10 days)
    history.record("complainant_window", 10, MONDAY, local(3, 9))  # replied after 1 day
    preview = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, complainant_window=5)}, DESIGNER)
    assert (preview.total.before.auto_closed, preview.total.after.auto_closed) == (1, 2)
    assert preview.total.windows == 3 and preview.total.deadlines == 0
    longer = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, complainant_window=15)}, DESIGNER)
    assert longer.total.after.auto_closed == 1  # the silent one stays silent


def test_fewer_working_days_per_rung_climb_more_rungs(regency, history):
    history.record("follow_up", 5, MONDAY, local(12, 10))  # 3 days 1 h late
    preview = regency.domain.impact.preview({}, DESIGNER, rung_budget_days=1)
    # from the liaison: the OPD's head, Diskominfo, then (one day per rung) the regional
    # leadership and the province
    assert (preview.total.before.escalations, preview.total.after.escalations) == (2, 4)
    assert preview.rung_budget_days == (2.0, 1.0) and preview.changes == []


def test_only_the_period_is_replayed(regency, history):
    history.record("verification", 3, MONDAY - timedelta(days=400), MONDAY)
    verification_week(history)
    assert regency.domain.impact.preview({}, DESIGNER).records == 4
    assert regency.domain.impact.preview({}, DESIGNER, months=24).records == 5


def test_complaints_handled_through_the_lifecycle_are_replayed(regency):
    """Real SLA records: verified and dispositioned after 1, 2.5 and 3.5 days."""
    tracking = [regency.submit(photo=True)["tracking_number"] for _ in range(3)]
    for number, hours in zip(tracking, (24, 36, 24), strict=True):
        regency.advance(hours=hours)
        regency.act(number, "verify", as_="admin.kominfo")
        regency.act(number, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    same = regency.domain.impact.preview({}, DESIGNER)
    assert same.total.before == same.total.after
    assert same.total.before.late == 1
    cut = regency.domain.impact.preview(
        {"deadlines.dmn": deadlines(regency, verification=2)}, DESIGNER)
    assert (cut.total.before.late, cut.total.after.late) == (1, 2)


def test_a_candidate_that_cannot_be_deployed_is_refused_with_the_engines_findings(regency):
    broken = deadlines(regency).replace('name="budget_days"', 'name="days"')
    with pytest.raises(ValidationFailed) as refused:
        regency.domain.impact.preview({"deadlines.dmn": broken}, DESIGNER)
    assert any(f.file == "deadlines.dmn" and "budget_days" in f.message
               for f in refused.value.findings)
    with pytest.raises(ValidationFailed):
        regency.domain.impact.preview({"deadlines.dmn": "<definitions"}, DESIGNER)


def test_a_table_without_a_budget_for_a_step_is_refused(regency, history):
    history.record("resolution", 14, MONDAY, None, classification="aspirasi")
    text = deadlines(regency)
    start = text.index('<rule id="rule_resolution_aspiration">')
    end = text.index('<rule id="rule_resolution_misconduct">')
    text = text[:start] + text[end:]
    text = text.replace('<rule id="rule_resolution_complaint">', '<rule id="x">').replace(
        '<inputEntry id="rule_resolution_complaint_input_classification">\n          '
        '<text/>', '<inputEntry id="rule_resolution_complaint_input_classification">\n'
        '          <text>"pengaduan"</text>')
    with pytest.raises(ValidationFailed) as refused:
        regency.domain.impact.preview({"deadlines.dmn": text}, DESIGNER)
    assert "aspirasi" in refused.value.findings[0].message


def test_bad_parameters_are_named(regency):
    with pytest.raises(Invalid) as refused:
        regency.domain.impact.preview({"deadlines.dmn": 3}, DESIGNER, months=0,
                                      rung_budget_days=-1)
    assert set(refused.value.field_errors) == {"files", "months", "rung_budget_days"}


def test_only_designers_and_regency_administrators_preview(regency):
    with pytest.raises(Forbidden):
        regency.domain.impact.preview({}, Principal("kadis.pupr", frozenset({"supervisor"})))


# --------------------------------------------------------------------------- arithmetic


def test_the_working_timeline_agrees_with_the_calendar():
    calendar = WorkingCalendar("Asia/Makassar",
                               extra_days_off={date(2026, 2, 4): "Cuti bersama"},
                               working_overrides=[date(2026, 2, 7)])
    timeline = WorkingTimeline(calendar, date(2025, 12, 1), date(2027, 3, 31))
    rng = random.Random(14)
    base = datetime(2025, 12, 2, tzinfo=UTC)
    for _ in range(3000):
        a = base + timedelta(seconds=rng.randrange(0, 360 * 86_400),
                             microseconds=rng.randrange(1_000_000))
        b = a + timedelta(seconds=rng.choice([rng.randrange(0, 86_400 * 3),
                                              rng.randrange(0, 86_400 * 60)]))
        expected = round(calendar.working_seconds_between(a, b) * 1_000_000)
        assert timeline.working_us(epoch_us(a), epoch_us(b)) == expected, (a, b)


@pytest.mark.parametrize("holder", [0, 1, 2])
def test_rungs_climbed_are_those_the_ladder_climbs(holder: int):
    calendar = WorkingCalendar("Asia/Makassar")
    ladder = Ladder(("technical_officer", "opd", "regency_admin", "regional_head",
                     "province"), 2.0)
    due = datetime(2026, 2, 2, 1, tzinfo=UTC)

    @dataclass
    class Climb:
        due_at: datetime
        rung: int
        holder_rung: int
        reminded_rungs: list

    for late_days in (0.01, 0.5, 1, 1.99, 2, 2.5, 3.99, 4, 5, 7.5, 12):
        end = calendar.add_working_days(due, late_days)
        climbs = [s for s in ladder.due(Climb(due, holder, holder, []), end, calendar)
                  if isinstance(s, Climbed)]
        assert ladder.rungs_climbed(late_days * 86_400, holder) == len(climbs), late_days


# --------------------------------------------------------------------------- the page


def upload(site: Site, text: str, **form: str):
    return site.post("/studio/impact", {
        "deadlines": (io.BytesIO(text.encode()), "deadlines.dmn"), **form},
        content_type="multipart/form-data")


@pytest.mark.parametrize("username", ["perancang", "admin.kominfo"])
def test_designers_and_administrators_preview_an_uploaded_table(site: Site, username: str):
    site.regency.submit(photo=True)  # a verification deadline running since this morning
    site.login(username)
    page = site.text(site.get("/studio/impact"))
    assert 'id="impact-form"' in page and 'href="/studio/impact"' in page
    response = upload(site, deadlines(site.regency, verification=2))
    assert response.status_code == 200, site.text(response)
    page = site.text(response)
    assert 'id="impact-table"' in page and 'id="impact-total"' in page
    assert "<code>verification</code>" in page and "Pratinjau dampak" in page


@pytest.mark.parametrize("username", ["penghubung.pupr", "kadis.kominfo", "sysadmin"])
def test_other_roles_get_403(site: Site, username: str):
    site.login(username)
    site.get("/studio/impact", expect=403)
    assert upload(site, "<x/>").status_code == 403
    response = site.client.post("/studio/impact.json", json={"files": {}},
                                headers={"X-CSRF-Token": site.csrf()})
    assert response.status_code == 403


def test_a_broken_upload_answers_422_with_the_findings(site: Site):
    site.login("perancang")
    broken = deadlines(site.regency).replace('name="budget_days"', 'name="days"')
    response = upload(site, broken)
    assert response.status_code == 422
    page = site.text(response)
    assert 'id="impact-findings"' in page and "budget_days" in page
    response = upload(site, "tidak ada", months="many")
    assert response.status_code == 422 and 'id="e-months"' in site.text(response)


def test_the_json_endpoint_takes_the_files_and_the_csrf_header(site: Site):
    site.regency.submit(photo=True)
    site.login("perancang")
    token = site.csrf()
    body = {"files": {"deadlines.dmn": deadlines(site.regency, verification=2)}}
    assert site.client.post("/studio/impact.json", json=body).status_code == 400
    response = site.client.post("/studio/impact.json", json=body,
                                headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["valid"] and answer["changes"][0]["step"] == "verification"
    assert set(answer["total"]) >= {"before", "after", "difference", "deadlines"}
    broken = {"files": {"deadlines.dmn": "<definitions"}}
    response = site.client.post("/studio/impact.json", json=broken,
                                headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    assert response.get_json()["findings"][0]["file"] == "deadlines.dmn"
    response = site.client.post("/studio/impact.json", json={"files": [], "months": "x"},
                                headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["field_errors"]) == {"files", "months"}
