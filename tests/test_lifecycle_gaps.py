"""Lifecycle gaps of issue 16, walked through the JSON API with the clock moved and the real
timers fired: a postponed (Tertunda) report's clock, the OPD head's rung of the ladder, the
referral of a report that is not the regency's authority, the routing suggestion, and a
reassignment the citizen reads about."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import FrozenClock
from engine.store import make_db_engine
from tests.regency import Regency, attach
from workflows.config import RegencyConfig
from workflows.models import Complaint, Outbox, SlaRecord
from workflows.notify import render


def wita(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def outbox(regency: Regency, template: str, channel: str = "inapp") -> list[str]:
    """The recipients of the notifications of `template` written so far, in order."""
    with regency.reads() as session:
        return list(session.scalars(select(Outbox.recipient).where(
            Outbox.template == template, Outbox.channel == channel).order_by(Outbox.id)))


def records(regency: Regency, step: str) -> list[SlaRecord]:
    with regency.reads() as session:
        found = list(session.scalars(select(SlaRecord).where(SlaRecord.step == step)
                                     .order_by(SlaRecord.id)))
        for record in found:
            session.expunge(record)
        return found


@pytest.fixture
def short_postponement(database_url: str, clock: FrozenClock, tmp_path: Path) -> Any:
    """The demo regency with a postponement limit of 3 working days."""
    regency = attach(database_url, clock, tmp_path, {},
                     config=RegencyConfig(postpone_max_days=3))
    accounts = regency.domain.install(demo_data=True)
    regency.tokens = {u["username"]: u["token"] for u in accounts["users"]}
    yield regency
    regency.engine.dispose()


# --------------------------------------------------------------------------- Tertunda


def test_a_postponed_report_pauses_its_clock_until_the_limit_then_is_late(short_postponement):
    regency = short_postponement
    tracking = regency.submit(photo=True)["tracking_number"]  # Mon 2 Mar 09:00
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.advance(days=1)  # Tue 3 Mar 09:00: one of the three working days used
    report = regency.act(tracking, "postpone", as_="admin.kominfo",
                         reason="Menunggu anggaran perubahan.")
    assert report["status"] == "POSTPONED"
    # the verification clock is paused with its two days left; the postponement has a
    # deadline of its own: 3 working days, Fri 6 Mar 09:00
    slas = {s["step"]: s for s in report["slas"] if s["state"] in ("running", "paused")}
    assert slas["verification"]["paused"] and slas["verification"]["working_days_left"] == 2
    assert slas["postponement"]["due_at"] == "2026-03-06T09:00:00+08:00"
    assert report["sla"]["step"] == "postponement"
    assert report["sla"]["step_label"] == {"id": "penundaan (tertunda)", "en": "postponement"}

    regency.advance(days=2)  # Thu 5 Mar 09:00: verification would have been due now
    assert outbox(regency, "sla_reminder") == ["admin.kominfo"]  # the limit is tomorrow
    assert regency.get("/api/v1/escalations?status=all", as_="admin.kominfo") == []
    regency.advance(days=1)  # Fri 6 Mar 09:00: the limit passed -> one rung up
    inbox = regency.get("/api/v1/escalations", as_="sekda")
    assert [(e["tracking_number"], e["step"], e["rung_name"]) for e in inbox] == [
        (tracking, "postponement", "regional_head")]
    assert "sekda" in outbox(regency, "escalated")

    regency.advance(days=3, hours=1)  # Mon 9 Mar 10:00: still postponed, and late
    late = regency.report(tracking)["sla"]
    assert (late["step"], late["overdue"], late["working_days_left"]) == (
        "postponement", True, -1.04)
    report = regency.act(tracking, "resume", as_="admin.kominfo")
    assert report["status"] == "VERIFIED"
    # the clock restarts with the two working days that were left: Wed 11 Mar 10:00
    assert report["sla"]["step"] == "verification"
    assert report["sla"]["due_at"] == "2026-03-11T10:00:00+08:00"
    verification, = records(regency, "verification")
    assert verification.pauses == [{"from": "2026-03-03T01:00:00+00:00",
                                    "to": "2026-03-09T02:00:00+00:00"}]
    postponement, = records(regency, "postponement")
    assert postponement.state == "breached" and postponement.late_seconds == 86400 + 3600
    # the verification deadline itself was never missed: nothing escalated for it
    everything = regency.get("/api/v1/escalations?status=all", as_="admin.kominfo")
    assert {e["step"] for e in everything} == {"postponement"}
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    verification, = records(regency, "verification")
    assert verification.state == "met"


def test_a_report_resumed_within_the_limit_is_neither_reminded_nor_escalated(regency):
    tracking = regency.submit(photo=True)["tracking_number"]  # Mon 2 Mar 09:00
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "postpone", as_="admin.kominfo", reason="Menunggu musim kemarau.")
    regency.advance(days=9)  # Wed 11 Mar: the default limit is 14 working days
    assert outbox(regency, "sla_reminder") == []
    report = regency.act(tracking, "resume", as_="admin.kominfo")
    assert report["sla"]["working_days_left"] == 3  # the whole verification budget
    postponement, = records(regency, "postponement")
    assert postponement.state == "met"
    assert regency.get("/api/v1/escalations?status=all", as_="admin.kominfo") == []


# --------------------------------------------------------------------------- the OPD head


def test_a_liaisons_missed_follow_up_goes_to_the_opd_heads_inbox_first(regency):
    tracking = regency.submit(photo=True)["tracking_number"]  # Mon 2 Mar 09:00
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.advance(days=4)  # Fri 6 Mar: the follow-up is due Monday 09:00
    assert outbox(regency, "sla_reminder") == ["penghubung.pupr"]
    regency.advance(days=3)  # Mon 9 Mar 09:00: missed by the liaison
    inbox = regency.get("/api/v1/escalations", as_="kadis.pupr")
    assert [(e["tracking_number"], e["step"], e["rung_name"], e["agency"]) for e in inbox] == [
        (tracking, "follow_up", "opd", "dinas_pupr")]
    assert inbox[0]["rung_label"] == {"id": "Kepala OPD", "en": "OPD head"}
    assert outbox(regency, "escalated") == ["kadis.pupr"]
    assert regency.get("/api/v1/escalations", as_="kadis.kominfo") == []
    regency.advance(days=1)  # Tue 10 Mar: the head is reminded of their own deadline
    assert outbox(regency, "sla_reminder") == ["penghubung.pupr", "kadis.pupr"]
    regency.advance(days=1)  # Wed 11 Mar: the head let it slip too -> Diskominfo
    assert [e["rung_name"] for e in regency.get("/api/v1/escalations",
                                                 as_="kadis.kominfo")] == ["regency_admin"]
    # the head's inbox covers their agency: their own rung, not Diskominfo's
    assert [e["rung_name"] for e in regency.get("/api/v1/escalations",
                                                 as_="kadis.pupr")] == ["opd"]


# --------------------------------------------------------------------------- referral


def test_not_authority_refers_the_citizen_in_their_language(regency):
    english = regency.submit(photo=True, road_status="national", language="en",
                             title="National road broken")
    tracking = english["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    report = regency.act(tracking, "not_authority", as_="admin.kominfo",
                         reason="A national road: BPJN's authority.",
                         refer_to="  BPJN Kalimantan Timur  ")
    assert report["status"] == "RETURNED" and report["refer_to"] == "BPJN Kalimantan Timur"
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=english["secret"])
    assert own["refer_to"] == "BPJN Kalimantan Timur"
    with regency.reads() as session:
        row = session.scalars(select(Outbox).where(
            Outbox.complaint_id == regency_id(session, tracking),
            Outbox.template == "status_changed").order_by(Outbox.id.desc())).first()
        language, (_subject, body) = row.language, render(row.template, row.language,
                                                          row.payload)
    assert language == "en"
    assert "Please take your report to: BPJN Kalimantan Timur." in body
    assert "A national road: BPJN's authority." in body

    # in Indonesian; and without a referral, no line
    local = regency.submit(photo=True, road_status="national")
    regency.act(local["tracking_number"], "verify", as_="admin.kominfo")
    regency.act(local["tracking_number"], "not_authority", as_="admin.kominfo",
                reason="Jalan nasional.", refer_to="BPJN Kaltim")
    silent = regency.submit(photo=True, road_status="national")
    regency.act(silent["tracking_number"], "verify", as_="admin.kominfo")
    report = regency.act(silent["tracking_number"], "not_authority", as_="admin.kominfo",
                         reason="Jalan nasional.")
    assert report["refer_to"] is None
    with regency.reads() as session:
        bodies = {number: render(row.template, row.language, row.payload)[1]
                  for number in (local["tracking_number"], silent["tracking_number"])
                  for row in session.scalars(select(Outbox).where(
                      Outbox.complaint_id == regency_id(session, number),
                      Outbox.payload["status"].as_string() == "RETURNED"))}
    assert "Silakan sampaikan laporan Anda kepada: BPJN Kaltim." in bodies[
        local["tracking_number"]]
    assert "Silakan sampaikan" not in bodies[silent["tracking_number"]]
    # too long a referral is refused, naming the field
    other = regency.submit(photo=True, road_status="national")
    regency.act(other["tracking_number"], "verify", as_="admin.kominfo")
    refused = regency.act(other["tracking_number"], "not_authority", as_="admin.kominfo",
                          expect=422, reason="Jalan nasional.", refer_to="x" * 201)
    assert "refer_to" in refused["error"]["field_errors"]


def regency_id(session, tracking: str) -> int:
    return session.scalar(select(Complaint.id).where(Complaint.tracking_number == tracking))


def test_the_referral_is_on_the_tracking_page_and_the_case_page(site):
    receipt = site.regency.submit(photo=True, road_status="national")
    tracking = receipt["tracking_number"]
    site.regency.act(tracking, "verify", as_="admin.kominfo")
    site.regency.act(tracking, "not_authority", as_="admin.kominfo",
                     reason="Jalan nasional.", refer_to="BPJN <Kaltim>")
    page = site.text(site.get(f"/lacak/{tracking}?k={receipt['secret']}", expect=303))
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Silakan melapor ke: BPJN &lt;Kaltim&gt;" in page  # escaped, never markup
    site.login("admin.kominfo")
    case = site.text(site.get(f"/cases/{tracking}"))
    assert 'id="case-refer-to">BPJN &lt;Kaltim&gt;</dd>' in case and "Dirujuk ke" in case


# --------------------------------------------------------------------------- routing


def test_the_routing_suggestion_is_in_the_officers_report_document(regency):
    receipt = regency.submit(photo=True, road_status="provincial", severity="high")
    tracking = receipt["tracking_number"]
    assert regency.report(tracking)["routing"] is None  # not routed before verification
    regency.act(tracking, "verify", as_="admin.kominfo")
    routing = regency.report(tracking)["routing"]
    assert {k: routing[k] for k in ("authority", "handler_level", "agency_code")} == {
        "authority": "provincial", "handler_level": "opd", "agency_code": "dinas_pupr"}
    assert routing["suggested_at"] == "2026-03-02T01:00:00+00:00"
    # kept as suggested, whatever the officer then chose
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dishub")
    assert regency.report(tracking)["routing"]["agency_code"] == "dinas_pupr"
    assert regency.report(tracking, as_="penghubung.dishub")["routing"] == routing
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=receipt["secret"])
    assert "routing" not in own  # the complainant's view: no internal routing


# --------------------------------------------------------------------------- reassignment


def delegated_and_late(regency: Regency, **fields: Any) -> dict[str, Any]:
    """A pothole report at PUPR's Bina Marga unit whose follow-up (due Mon 9 Mar 09:00) was
    missed: at Mon 9 Mar 11:00 it is escalated to PUPR's head."""
    receipt = regency.submit(photo=True, **fields)
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "delegate", as_="penghubung.pupr", unit_code="pupr_bina_marga")
    regency.advance(days=7, hours=2)
    assert [e["rung_name"] for e in regency.get("/api/v1/escalations", as_="kadis.pupr")] == [
        "opd"]
    return receipt


def test_reassignment_moves_the_late_deadline_and_the_unit_task_and_tells_everyone(regency):
    receipt = delegated_and_late(regency, language="en", title="Drain blocked")
    tracking = receipt["tracking_number"]
    assert [t["element_id"] for t in regency.get("/api/v1/tasks", as_="teknis.binamarga")] == [
        "unit_follow_up"]
    report = regency.act(tracking, "reassign", as_="admin.kominfo", agency_code="dlh",
                         reason="Salah disposisi: saluran air urusan DLH.")
    assert report["agency"]["code"] == "dlh" and report["unit"] is None
    # the unit's task is now DLH's liaison's; Bina Marga has nothing left
    assert regency.get("/api/v1/tasks", as_="teknis.binamarga") == []
    assert [t["element_id"] for t in regency.get("/api/v1/tasks", as_="penghubung.dlh")] == [
        "unit_follow_up"]
    assert "penghubung.dlh" in outbox(regency, "task_assigned")
    # the missed deadline moved with it, as late as it was: DLH's working level holds it
    follow_up, = [r for r in records(regency, "follow_up") if r.state == "running"]
    assert follow_up.due_at == wita("2026-03-09T09:00:00")
    assert (follow_up.holder_rung, follow_up.rung) == (0, 1)
    assert report["sla"]["overdue"] is True
    assert regency.get("/api/v1/escalations", as_="kadis.pupr") == []  # resolved
    regency.advance(days=2)  # Wed 11 Mar 11:00: the next rung, for DLH's case
    [escalation] = regency.get("/api/v1/escalations", as_="kadis.kominfo")
    assert (escalation["rung_name"], escalation["held_by"]["code"]) == ("regency_admin", "dlh")

    # the citizen: a public entry naming the new handler, and a message in their language
    own = regency.get(f"/api/v1/complaints/{tracking}", secret=receipt["secret"])
    moved = [h for h in own["history"] if h["kind"].startswith("reassign")]
    assert [(h["kind"], h["text"]) for h in moved] == [("reassigned", "Dinas Lingkungan Hidup")]
    with regency.reads() as session:
        row = session.scalars(select(Outbox).where(Outbox.template == "handler_changed")).one()
        language, (subject, body) = row.language, render(row.template, row.language,
                                                         row.payload)
    assert language == "en" and subject == f"Report {tracking} moved to Dinas Lingkungan Hidup"
    assert "Dinas Lingkungan Hidup follows it up from now on" in body
    # staff: both entries, the reason in the internal one
    kinds = {h["kind"]: h["text"] for h in regency.report(tracking)["history"]}
    assert kinds["reassign"] == ("dialihkan ke Dinas Lingkungan Hidup: Salah disposisi: "
                                 "saluran air urusan DLH.")
    assert kinds["reassigned"] == "Dinas Lingkungan Hidup"


def test_a_stale_or_racing_reassignment_changes_nothing(regency):
    """The task's groups and the report's writes are one transaction: of two supervisors
    moving the report with the same version, one wins and nothing of the other remains."""
    import threading

    from workflows import access
    from workflows.errors import Conflict
    from workflows.models import ComplaintEvent, User

    tracking = delegated_and_late(regency)["tracking_number"]
    with regency.reads() as session:
        admin = access.principal_for(session, session.scalars(
            select(User).where(User.username == "admin.kominfo")).one())
        version = session.scalar(select(Complaint.version).where(
            Complaint.tracking_number == tracking))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def move(code: str) -> None:
        barrier.wait(timeout=10)
        try:
            regency.domain.reports.act(tracking, "reassign",
                                       {"agency_code": code, "reason": "Salah disposisi"},
                                       admin, expected_version=version)
            outcomes.append(code)
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=move, args=(code,)) for code in ("dlh", "dishub")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes).count("conflict") == 1, outcomes
    [winner] = [o for o in outcomes if o != "conflict"]
    loser = {"dlh": "dishub", "dishub": "dlh"}[winner]
    liaison = {"dlh": "penghubung.dlh", "dishub": "penghubung.dishub"}
    assert len(regency.get("/api/v1/tasks", as_=liaison[winner])) == 1
    assert regency.get("/api/v1/tasks", as_=liaison[loser]) == []
    report = regency.report(tracking)
    assert report["agency"]["code"] == winner
    with regency.reads() as session:
        moved = session.scalars(select(ComplaintEvent.kind).where(
            ComplaintEvent.kind.in_(("reassign", "reassigned")))).all()
    assert sorted(moved) == ["reassign", "reassigned"]
    # a stale version afterwards: refused, nothing changed
    with pytest.raises(Conflict):
        regency.domain.reports.act(tracking, "reassign",
                                   {"agency_code": loser, "reason": "Lagi"}, admin,
                                   expected_version=version)
    assert regency.report(tracking)["agency"]["code"] == winner
    assert regency.get("/api/v1/tasks", as_=liaison[loser]) == []


def test_the_citizen_reads_the_move_on_the_tracking_page(site):
    receipt = delegated_and_late(site.regency)
    tracking = receipt["tracking_number"]
    site.regency.act(tracking, "reassign", as_="admin.kominfo", agency_code="dlh",
                     reason="Catatan internal: salah pilih unit.")
    site.get(f"/lacak/{tracking}?k={receipt['secret']}", expect=303)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Dialihkan ke Dinas Lingkungan Hidup" in page
    assert "jadi atasan mengalihkannya" in page
    assert "Catatan internal" not in page  # the supervisor's reason stays with staff
    site.login("admin.kominfo")
    case = site.text(site.get(f"/cases/{tracking}"))
    assert "Penanganan dialihkan (pelapor melihat catatan ini)" in case
    assert "Catatan internal: salah pilih unit." in case


def test_the_migration_moves_running_liaison_deadlines_to_the_working_level(sqlite_url, clock,
                                                                            tmp_path):
    """Deadlines from before the fix (held at the OPD rung) move down a rung on upgrade, and
    back on downgrade; an escalated one keeps its rung."""
    from alembic import command
    from sqlalchemy import update

    import migrations

    regency = attach(sqlite_url, clock, tmp_path, {})
    regency.tokens = {u["username"]: u["token"]
                      for u in regency.domain.install(demo_data=True)["users"]}
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.engine.dispose()
    config = migrations.alembic_config(sqlite_url)
    command.downgrade(config, "0017_admin_audit")
    held = {r.step: (r.holder_rung, r.rung) for r in records_at(sqlite_url)}
    assert held == {"verification": (2, 2), "follow_up": (1, 1), "resolution": (1, 1)}
    engine = make_db_engine(sqlite_url, pool=False)
    with engine.begin() as connection:  # one of them had already climbed to Diskominfo
        connection.execute(update(SlaRecord).where(SlaRecord.step == "resolution")
                           .values(rung=2))
    engine.dispose()
    migrations.upgrade(sqlite_url)
    held = {r.step: (r.holder_rung, r.rung) for r in records_at(sqlite_url)}
    assert held == {"verification": (2, 2), "follow_up": (0, 0), "resolution": (1, 2)}


def records_at(url: str) -> list[Any]:
    engine = make_db_engine(url, pool=False)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(
                SlaRecord.step, SlaRecord.holder_rung, SlaRecord.rung)))
    finally:
        engine.dispose()


def test_a_postponed_report_on_the_tracking_page_and_in_the_impact_preview(site):
    from workflows.access import Principal

    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking = receipt["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "postpone", as_="admin.kominfo", reason="Menunggu anggaran.")
    site.get(f"/lacak/{tracking}?k={receipt['secret']}", expect=303)
    page = site.text(site.get(f"/lacak/{tracking}"))
    assert "Laporan Anda ditunda. Tenggat instansi dijeda sampai penanganan dilanjutkan" in page
    # the postponement's limit is a setting, not a budget of the deadline table: the
    # impact preview replays the other deadlines and leaves it out
    designer = Principal("perancang", frozenset({"process_designer"}))
    preview = regency.domain.impact.preview({}, designer)
    assert preview.records == 1  # the paused verification
