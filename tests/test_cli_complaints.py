"""The engine's CLI commands on real complaint instances of the demo regency (issue 14, "one
engine, always with its host"): each command moves a complaint as the web app and the
scheduler do, and `aduan retry` restores an instance that failed because it was run without
the domain's services, with no reminder or escalation lost.

A complaint is filed through the domain; the CLI (click's CliRunner) then acts on its
instance against the same SQLite database. The CLI reads the system clock: instants are
computed from the SLA records, and `timers fire --now` / ADUAN_CLOCK_OFFSET_SECONDS (with
ADUAN_ALLOW_TIME_TRAVEL=1) move the CLI's time where a step needs it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import Engine
from tests.regency import PHOTO
from web.app import build_domain
from web.cli import main
from web.config import Settings
from workflows import diagram_ids as ids
from workflows.models import Agency, Complaint, ComplaintEvent, Escalation, Outbox, SlaRecord
from workflows.storage import Upload

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ADUAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ADUAN_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("ADUAN_SANDBOX_WORKERS", "0")
    monkeypatch.setenv("ADUAN_ALLOW_TIME_TRAVEL", "1")
    monkeypatch.delenv("ADUAN_CLOCK_OFFSET_SECONDS", raising=False)
    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "8"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"ADUAN_ARGON2_{name}", value)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == code, (args, result.output, result.stderr)
        assert "Traceback" not in result.output + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    run("db", "upgrade")
    assert run("demo")["loaded"] is True
    return run


@pytest.fixture
def domain(cli):
    domain = build_domain(Settings.from_env())
    yield domain
    domain.dispose()


def file_report(domain, **fields: Any) -> tuple[str, int]:
    receipt = domain.reports.submit({
        "classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
        "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi", **fields},
        [Upload("lubang.jpg", PHOTO)])
    with domain.context.reads() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == receipt["tracking_number"])).one()
        return complaint.tracking_number, complaint.instance_id


def report_state(domain, tracking: str) -> dict[str, Any]:
    """What the domain holds of a report: status, agency, SLA records, escalations, notices."""
    with domain.context.reads() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        agency = session.get(Agency, complaint.agency_id) if complaint.agency_id else None
        slas = session.scalars(select(SlaRecord).where(
            SlaRecord.complaint_id == complaint.id).order_by(SlaRecord.id)).all()
        escalations = session.scalars(select(Escalation).where(
            Escalation.complaint_id == complaint.id).order_by(Escalation.id)).all()
        notices = session.execute(select(Outbox.template, func.count()).where(
            Outbox.complaint_id == complaint.id).group_by(Outbox.template)).all()
        events = session.scalars(select(ComplaintEvent.kind).where(
            ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)).all()
        return {
            "status": complaint.status,
            "agency": agency.code if agency else None,
            "slas": [(s.step, s.state, s.due_at) for s in slas],
            "escalations": [(e.step, e.rung_name, e.status) for e in escalations],
            "notices": dict(notices),
            "events": list(events),
        }


def running(state: dict[str, Any]) -> dict[str, datetime]:
    return {step: due for step, sla_state, due in state["slas"] if sla_state == "running"}


def open_tasks(cli, instance_id: int) -> dict[str, dict[str, Any]]:
    return {t["element_id"]: t for t in cli("tasks", "--instance", str(instance_id))}


def at(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def test_every_engine_command_moves_a_complaint_as_the_domain_expects(cli, domain, tmp_path):
    tracking, instance_id = file_report(domain)
    state = report_state(domain, tracking)
    assert state["status"] == ids.STATUS_SUBMITTED
    verification_due = running(state)[ids.STEP_VERIFICATION]

    # timers fire: the watch reminds a working day before the deadline, escalates at it
    [watch] = cli("timers", "list")
    assert watch["instance_id"] == instance_id
    fired = cli("timers", "fire", "--now", at(datetime.fromisoformat(watch["due_at"])))
    assert fired["fired"] == 1 and fired["failed"] == []
    state = report_state(domain, tracking)
    assert state["notices"].get("sla_reminder", 0) >= 1 and state["escalations"] == []
    fired = cli("timers", "fire", "--now", at(verification_due + timedelta(minutes=1)))
    assert fired["fired"] >= 1 and fired["failed"] == []
    state = report_state(domain, tracking)
    assert [(e[0], e[2]) for e in state["escalations"]] == [(ids.STEP_VERIFICATION, "open")]
    assert cli("instance", str(instance_id))["status"] == "running"

    # complete: screening, then disposition to the roads agency
    tasks = open_tasks(cli, instance_id)
    cli("complete", tasks[ids.SCREEN_REPORT]["id"], "--data", '{"decision": "verify"}',
        "--as", "admin.kominfo")
    assert report_state(domain, tracking)["status"] == ids.STATUS_VERIFIED
    tasks = open_tasks(cli, instance_id)
    assert set(tasks) == {ids.DISPOSE_REPORT}
    cli("complete", tasks[ids.DISPOSE_REPORT]["id"], "--data",
        '{"decision": "dispose", "agency_code": "dinas_pupr"}', "--as", "admin.kominfo")
    state = report_state(domain, tracking)
    assert state["status"] == ids.STATUS_DISPOSED and state["agency"] == "dinas_pupr"
    assert set(running(state)) == {ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION}
    tasks = open_tasks(cli, instance_id)
    assert tasks[ids.FOLLOW_UP]["candidate_groups"] == ["opd_liaison:dinas_pupr"]

    # migrate: version 2 (a label changed) takes the running complaint, which carries on
    changed = tmp_path / "v2"
    changed.mkdir()
    for name in ids.DEPLOYMENT_FILES:
        text = (BPMN_DIR / name).read_text(encoding="utf-8")
        if name == ids.BPMN_FILE:
            text = text.replace('name="Tindak lanjuti laporan"', 'name="Tindak lanjut OPD"')
        (changed / name).write_text(text, encoding="utf-8")
    assert cli("deploy", *(str(changed / n) for n in ids.DEPLOYMENT_FILES))["version"] == 2
    report = cli("migrate", ids.PROCESS_ID, "--to", "2", "--from", "1")
    assert [i["instance_id"] for i in report["instances"]] == [instance_id]
    assert cli("instance", str(instance_id))["definition_version"] == 2
    follow_up_due = running(report_state(domain, tracking))[ids.STEP_FOLLOW_UP]
    fired = cli("timers", "fire", "--now", at(follow_up_due + timedelta(minutes=1)))
    assert fired["failed"] == []
    state = report_state(domain, tracking)
    assert ids.STEP_FOLLOW_UP in [e[0] for e in state["escalations"]]

    # complete: the final answer, the complainant accepts; the case closes
    tasks = open_tasks(cli, instance_id)
    cli("complete", tasks[ids.FOLLOW_UP]["id"], "--data",
        '{"decision": "final", "answer": "Sudah ditambal."}', "--as", "liaison.pupr")
    state = report_state(domain, tracking)
    assert state["status"] == ids.STATUS_RESPONDED
    assert set(running(state)) == {ids.STEP_COMPLAINANT_WINDOW}
    tasks = open_tasks(cli, instance_id)
    cli("complete", tasks[ids.REVIEW_ANSWER]["id"], "--data",
        '{"decision": "accept", "rating": 5}')
    state = report_state(domain, tracking)
    assert state["status"] == ids.STATUS_CLOSED and running(state) == {}

    # signal: the lifecycle waits for none; nothing changes
    assert cli("signal", "nothing_waits_for_this", "--instance", str(instance_id)) == {
        "delivered": []}
    assert report_state(domain, tracking)["status"] == ids.STATUS_CLOSED

    # message: the complainant reopens within 30 days; the case is back with the OPD
    delivered = cli("message", ids.MESSAGE_REOPEN, "--instance", str(instance_id), "--data",
                    '{"reopen_reason": "Lubang muncul lagi."}')
    assert delivered == {"delivered": [instance_id]}
    state = report_state(domain, tracking)
    assert state["status"] == ids.STATUS_IN_PROGRESS
    assert set(running(state)) == {ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION}
    assert set(open_tasks(cli, instance_id)) == {ids.FOLLOW_UP}

    # cancel: the instance ends, and so do the report's deadlines
    cancelled = cli("cancel", str(instance_id), "--reason", "laporan ganda", "--as", "operator")
    assert cancelled["status"] == "cancelled"
    state = report_state(domain, tracking)
    assert running(state) == {} and open_tasks(cli, instance_id) == {}
    assert state["status"] == ids.STATUS_ARCHIVED
    assert [e for e in state["escalations"] if e[2] == "open"] == []
    assert cli("incidents") == []


def test_start_refuses_a_complaint_lifecycle_without_its_report(cli, domain):
    refused = cli("start", ids.PROCESS_ID, "--data", '{"complaint_id": 1}', code=1)
    assert "start with their report" in refused["error"]["message"]
    assert cli("instances") == [] and cli("incidents") == []


def test_retry_restores_a_complaint_that_failed_without_the_domains_services(
        cli, domain, monkeypatch):
    tracking, instance_id = file_report(domain)
    due = running(report_state(domain, tracking))[ids.STEP_VERIFICATION]
    [watch] = [t for t in cli("timers", "list") if t["instance_id"] == instance_id]
    reminder_at = datetime.fromisoformat(watch["due_at"])
    assert reminder_at < due

    # an engine without the host, as the CLI was before issue 14, fires the watch
    bare = Engine(Settings.from_env().database_url, sandbox_workers=0)
    try:
        report = bare.fire_due_timers(now=reminder_at + timedelta(minutes=1))
    finally:
        bare.dispose()
    assert [f["instance_id"] for f in report.as_dict()["failed"]] == [instance_id]
    [incident] = cli("incidents")
    assert incident["instance_id"] == instance_id
    assert "service 'sla_watch' is not registered" in incident["message"]
    assert report_state(domain, tracking)["notices"].get("sla_reminder", 0) == 0

    # the operator retries an hour later: the reminder that was due goes out then
    retry_at = reminder_at + timedelta(hours=1)
    monkeypatch.setenv("ADUAN_CLOCK_OFFSET_SECONDS",
                       str((retry_at - datetime.now(UTC)).total_seconds()))
    assert cli("retry", str(instance_id), "--as", "operator")["status"] == "running"
    monkeypatch.delenv("ADUAN_CLOCK_OFFSET_SECONDS")
    assert cli("incidents") == []
    state = report_state(domain, tracking)
    assert state["notices"].get("sla_reminder", 0) >= 1 and state["escalations"] == []

    # and the escalation still comes at the deadline, not before
    assert cli("timers", "fire", "--now", at(due - timedelta(minutes=1)))["failed"] == []
    assert report_state(domain, tracking)["escalations"] == []
    fired = cli("timers", "fire", "--now", at(due + timedelta(minutes=1)))
    assert fired["fired"] >= 1 and fired["failed"] == []
    state = report_state(domain, tracking)
    assert [e[0] for e in state["escalations"]] == [ids.STEP_VERIFICATION]
    assert set(open_tasks(cli, instance_id)) == {ids.SCREEN_REPORT}
