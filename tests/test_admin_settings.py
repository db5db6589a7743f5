"""The deadline settings stored in the database (workflows/sla_settings.py, /admin/settings):
history, validation, precedence over the environment, and their effect on deadlines started
afterwards only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.store import Timer
from workflows import sla_settings
from workflows.access import Principal
from workflows.admin_models import AdminAudit
from workflows.errors import Conflict, Forbidden, Invalid
from workflows.models import Complaint, SlaRecord

SYSADMIN = Principal("sysadmin", frozenset({"system_admin"}))
REGENCY_ADMIN = Principal("admin.kominfo", frozenset({"regency_admin"}))


def watch_due(regency, tracking: str) -> datetime:
    with regency.reads() as session:
        instance = session.scalar(select(Complaint.instance_id).where(
            Complaint.tracking_number == tracking))
        return session.scalars(select(Timer.due_at).where(
            Timer.instance_id == instance, Timer.element_id == "screen_report_watch")).one()


def test_defaults_come_from_the_environment_until_a_value_is_stored(regency):
    admin = regency.domain.sla_settings
    view = admin.page(REGENCY_ADMIN)
    assert view["values"]["rung_budget_days"] == regency.domain.config.rung_budget_days
    assert view["values"]["reminder_days"] == 1.0 and view["version"] == 0
    assert view["source"]["rung_budget_days"] == "default" and not view["may_change"]
    with pytest.raises(Forbidden):
        admin.save(REGENCY_ADMIN, {}, version=0)
    # the page's own values sent back unchanged store nothing
    assert admin.save(SYSADMIN, {"top_rung": view["values"]["top_rung"],
                                 "rung_budget_days": "2", "reminder_days": "1"},
                      version=0) == []


def test_changes_are_kept_with_who_when_old_new_and_note(regency):
    admin = regency.domain.sla_settings
    made = admin.save(SYSADMIN, {"rung_budget_days": "3", "top_rung": "regional_head"},
                      version=0, note="Perbup 5/2026")
    assert [(c.name, c.previous, c.value) for c in made] == [
        ("top_rung", "province", "regional_head"), ("rung_budget_days", 2.0, 3.0)]
    with pytest.raises(Conflict):  # a form shown before that change
        admin.save(SYSADMIN, {"rung_budget_days": "4"}, version=0)
    version = admin.page(SYSADMIN)["version"]
    admin.save(SYSADMIN, {"rung_budget_days": "", "top_rung": "regional_head"},
               version=version)  # back to the environment's
    view = admin.page(SYSADMIN)
    assert view["values"]["rung_budget_days"] == 2.0
    assert view["source"] == {"top_rung": "database", "rung_budget_days": "default",
                              "reminder_days": "default", "complainant_window_days": "default"}
    history = [(c.name, c.previous, c.value, c.actor, c.note) for c in view["history"]]
    assert history[0] == ("rung_budget_days", 3.0, None, "sysadmin", None)
    assert ("top_rung", "province", "regional_head", "sysadmin", "Perbup 5/2026") in history
    with regency.reads() as session:
        actions = session.scalars(select(AdminAudit.action)).all()
    assert actions == ["settings.change"] * 3


def test_bad_values_are_refused_by_field(regency):
    with pytest.raises(Invalid) as refused:
        regency.domain.sla_settings.save(SYSADMIN, {
            "top_rung": "opd", "rung_budget_days": "0", "reminder_days": "dua",
            "complainant_window_days": "nan"}, version=0)
    assert set(refused.value.field_errors) == {"top_rung", "rung_budget_days",
                                               "reminder_days", "complainant_window_days"}


def test_a_new_lead_time_applies_to_deadlines_started_afterwards_only(regency):
    before = regency.submit(photo=True)["tracking_number"]  # due Thu 5 Mar 09:00 WITA
    regency.clock.advance(minutes=1)
    regency.domain.sla_settings.save(SYSADMIN, {"reminder_days": "2", "rung_budget_days": "4"},
                                     version=0)
    regency.clock.advance(minutes=1)
    after = regency.submit(photo=True)["tracking_number"]  # due Thu 5 Mar 09:02 WITA
    assert watch_due(regency, before) == datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # 1 day
    assert watch_due(regency, after) == datetime(2026, 3, 3, 1, 2, tzinfo=UTC)  # 2 days
    with regency.reads() as session:
        records = {r.complaint_id: r for r in session.scalars(select(SlaRecord))}
        first = min(records)
        old = sla_settings.in_force(session, regency.domain.config,
                                    records[first].started_at)
        new = sla_settings.in_force(session, regency.domain.config)
    assert (old.reminder_days, old.rung_budget_days) == (1.0, 2.0)
    assert (new.reminder_days, new.rung_budget_days) == (2.0, 4.0)
    # the rung budget: the later report climbs to the next rung 4 working days after its due
    regency.advance(days=3)  # Thu 5 Mar 09:02: both deadlines missed, one rung up
    assert regency.report(before)["sla"]["rung_name"] == "regional_head"
    assert regency.report(after)["sla"]["rung_name"] == "regional_head"
    regency.advance(days=4)  # Mon 9 Mar: 2 working days later
    assert regency.report(before)["sla"]["rung_name"] == "province"
    assert regency.report(after)["sla"]["rung_name"] == "regional_head"


# --------------------------------------------------------------------------- the page


def test_the_settings_page_reads_for_regency_admins_and_saves_for_system_admins(site):
    site.login("admin.kominfo")
    page = site.text(site.get("/admin/settings"))
    assert 'id="settings-not-retroactive"' in page and "disabled" in page
    site.post("/admin/settings", {"rung_budget_days": "3", "version": "0"}, expect=403)
    site.login("sysadmin")
    page = site.text(site.get("/admin/settings"))
    assert 'id="settings-form"' in page and 'href="/admin/settings"' in site.text(
        site.get("/admin"))
    refused = site.text(site.post("/admin/settings", {
        "rung_budget_days": "-1", "reminder_days": "1", "version": "0",
        "note": "<b>uji</b>"}, expect=422))
    assert 'id="e-rung_budget_days"' in refused and 'value="-1"' in refused
    assert "&lt;b&gt;uji&lt;/b&gt;" in refused
    site.post("/admin/settings", {"rung_budget_days": "3", "reminder_days": "1",
                                  "top_rung": "province", "version": "0",
                                  "note": "Perbup 5/2026"}, expect=303)
    page = site.text(site.get("/admin/settings"))
    assert "Perbup 5/2026" in page and 'value="3"' in page
    site.post("/admin/settings", {"rung_budget_days": "5", "version": "0"}, expect=409)
    for user in ("kadis.kominfo", "penghubung.pupr", "perancang"):
        site.login(user)
        site.get("/admin/settings", expect=403)
        site.post("/admin/settings", {"rung_budget_days": "3"}, expect=403)


def test_the_stored_complainant_window_replaces_the_deadline_table(regency):
    regency.domain.sla_settings.save(SYSADMIN, {"complainant_window_days": "3"}, version=0)
    regency.clock.advance(minutes=1)
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah ditambal.")
    with regency.reads() as session:
        budget = session.scalars(select(SlaRecord.budget_days).where(
            SlaRecord.step == "complainant_window")).one()
    assert budget == 3.0  # deadlines.dmn says 10
    regency.advance(days=2)  # Wed: 2 working days after Monday's answer
    assert regency.report(tracking)["status"] == "RESPONDED"
    regency.advance(days=1)  # Thu: the window ran out, the report closed by itself
    assert regency.report(tracking)["status"] == "CLOSED"
