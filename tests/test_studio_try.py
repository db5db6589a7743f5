"""Try before deploy: a candidate lifecycle in a scratch copy (workflows/scratch.py and the
studio's /studio/try pages), never touching the live database."""

from __future__ import annotations

import io
import re
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import ValidationFailed
from engine.store import metadata
from tests.pages import Site
from workflows import access, scratch_runs
from workflows import diagram_ids as ids
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.lifecycle import BPMN_DIR

DESIGNER = access.Principal("perancang", frozenset({"process_designer"}))
ADMIN = access.Principal("admin.kominfo", frozenset({"regency_admin"}))
REPORT = {"classification": "pengaduan", "category": "roads", "title": "Jalan berlubang",
          "body": "Lubang besar di jalan, berbahaya.", "reporter_name": "Budi",
          "reporter_email": "budi@example.org"}


def shipped_files() -> dict[str, str]:
    return {name: (BPMN_DIR / name).read_text("utf-8") for name in ids.DEPLOYMENT_FILES}


def with_verification_budget(days: int) -> dict[str, str]:
    files = shipped_files()
    dmn, count = re.subn(
        r'(<outputEntry id="rule_verification_output_budget_days">\s*<text>)3(</text>)',
        rf"\g<1>{days}\g<2>", files[ids.DEADLINES_DMN_FILE])
    assert count == 1
    return {**files, ids.DEADLINES_DMN_FILE: dmn}


def live_rows(site: Site) -> dict[str, int]:
    """How many rows each table of the live database holds."""
    with site.regency.reads() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in metadata.sorted_tables}


def run_id_of(response: Any) -> str:
    found = re.search(r"/studio/try/([0-9a-f]{16})", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def version_of(site: Site, run_id: str) -> str:
    page = site.text(site.get(f"/studio/try/{run_id}"))
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def test_the_shipped_lifecycle_reminds_and_escalates_in_the_scratch_copy_only(site: Site):
    site.login("perancang")
    before = live_rows(site)
    run_id = run_id_of(site.post("/studio/try", {"source": "deployed"}, expect=303))
    site.post(f"/studio/try/{run_id}/complaints", {
        **REPORT, "severity": "medium", "sample_photo": "true",
        "version": version_of(site, run_id)}, expect=303)
    page = site.text(site.get(f"/studio/try/{run_id}"))
    tracking = re.search(r"UJI-2026-\d{6}", page).group(0)
    assert 'data-element="screen_report"' in page
    for verb, fields in (("verify", {}), ("dispose", {"field_agency_code": "dinas_pupr"})):
        site.post(f"/studio/try/{run_id}/act", {
            "tracking": tracking, "verb": verb, "as_role": "regency_admin",
            "version": version_of(site, run_id), **fields}, expect=303)
    page = site.text(site.get(f"/studio/try/{run_id}?tracking={tracking}"))
    assert 'data-element="follow_up"' in page and 'id="try-no-tasks"' not in page

    response = site.post(f"/studio/try/{run_id}/advance", {
        "working_days": "5", "tracking": tracking, "version": version_of(site, run_id)},
        expect=303)
    page = site.text(site.get(response.headers["Location"]))
    assert 'data-template="sla_reminder"' in page  # the liaison's reminder, a day before
    # missed by the liaison: to the OPD's head first
    assert 'class="try-escalation" data-step="follow_up" data-rung="opd"' in page
    assert "1 pengingat, 1 eskalasi" in page  # the flash of what happened
    assert re.search(r'class="try-sla" data-step="follow_up" data-state="running"', page)
    assert live_rows(site) == before  # the live database did not change at all


def test_a_verification_budget_cut_to_two_days_escalates_a_working_day_earlier(site: Site):
    scratch = site.regency.domain.scratch
    shipped = scratch.create(shipped_files(), DESIGNER)
    cut = scratch.create(with_verification_budget(2), DESIGNER)
    runs = {"shipped": shipped.id, "cut": cut.id}
    for run_id in runs.values():
        scratch.submit(run_id, REPORT, DESIGNER, sample_photo=True)
    after_two = {name: scratch.advance(run_id, DESIGNER, working_days=2)["escalations"]
                 for name, run_id in runs.items()}
    assert after_two["shipped"] == []
    assert [(e["step"], e["rung_name"]) for e in after_two["cut"]] == [
        ("verification", "regional_head")]
    after_three = scratch.advance(runs["shipped"], DESIGNER, working_days=1)["escalations"]
    assert [(e["step"], e["rung_name"]) for e in after_three] == [
        ("verification", "regional_head")]
    # Monday 09:00 WITA + 2 working days = Wednesday, + 3 = Thursday
    cut_due = datetime.fromisoformat(after_two["cut"][0]["due_at"])
    shipped_due = datetime.fromisoformat(after_three[0]["due_at"])
    assert shipped_due - cut_due == timedelta(days=1)


def test_a_candidate_that_breaks_the_contract_is_refused_with_its_findings(site: Site):
    files = shipped_files()
    files[ids.BPMN_FILE] = files[ids.BPMN_FILE].replace('"unit_follow_up"',
                                                        '"unit_follow_up_renamed"')
    with pytest.raises(ValidationFailed) as refused:
        site.regency.domain.scratch.create(files, DESIGNER)
    assert any(f.element_id == "unit_follow_up" and f.severity == "error"
               for f in refused.value.findings)
    assert site.regency.domain.scratch.list(DESIGNER) == []  # nothing kept

    site.login("perancang")
    response = site.post("/studio/try", {"files": [
        (io.BytesIO(text.encode()), name) for name, text in files.items()]},
        content_type="multipart/form-data", expect=422)
    page = site.text(response)
    assert 'id="try-findings"' in page and "<code>unit_follow_up</code>" in page


def test_files_that_cannot_be_tried_get_a_422_naming_the_file(site: Site):
    site.login("perancang")
    response = site.post("/studio/try", {"files": [(io.BytesIO(b"hello"), "notes.txt")]},
                         content_type="multipart/form-data", expect=422)
    assert "notes.txt" in site.text(response)
    response = site.post("/studio/try", {}, content_type="multipart/form-data", expect=422)
    assert "complaint_lifecycle.bpmn" in site.text(response)


def test_bad_steps_and_verbs_get_a_422_naming_the_field(site: Site):
    site.login("perancang")
    run_id = run_id_of(site.post("/studio/try", {"source": "deployed"}, expect=303))
    response = site.post(f"/studio/try/{run_id}/advance", {"working_days": "-3"}, expect=422)
    assert "30" in site.text(response)
    site.post(f"/studio/try/{run_id}/complaints", {**REPORT, "title": "x"}, expect=422)
    scratch = site.regency.domain.scratch
    tracking = scratch.submit(run_id, REPORT, DESIGNER)["tracking_number"]
    response = site.post(f"/studio/try/{run_id}/act", {
        "tracking": tracking, "verb": "archive", "as_role": "regency_admin"}, expect=422)
    assert "reason" in site.text(response)


def test_regency_administrators_read_and_other_roles_are_refused(site: Site):
    run = site.regency.domain.scratch.create_from_deployed(DESIGNER)
    site.regency.domain.scratch.submit(run.id, REPORT, DESIGNER, sample_photo=True)
    site.login("admin.kominfo")
    page = site.text(site.get(f"/studio/try/{run.id}"))
    assert 'id="try-advance"' not in page and "UJI-2026-000001" in page
    site.get(f"/studio/try/{run.id}/diagram.json?tracking=UJI-2026-000001")
    for path, form in (("/studio/try", {"source": "deployed"}),
                       (f"/studio/try/{run.id}/complaints", REPORT),
                       (f"/studio/try/{run.id}/act", {"tracking": "UJI-2026-000001",
                                                      "verb": "verify",
                                                      "as_role": "regency_admin"}),
                       (f"/studio/try/{run.id}/advance", {"step": "day"}),
                       (f"/studio/try/{run.id}/delete", {})):
        site.post(path, form, expect=403)
    site.logout()
    site.login("penghubung.pupr")
    site.get("/studio/try", expect=403)
    site.get(f"/studio/try/{run.id}", expect=403)
    site.post(f"/studio/try/{run.id}/advance", {"step": "day"}, expect=403)
    with pytest.raises(Forbidden):
        site.regency.domain.scratch.advance(run.id, ADMIN, hours=1)


def test_the_diagram_shows_where_the_token_is(site: Site):
    scratch = site.regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    tracking = scratch.submit(run.id, REPORT, DESIGNER, sample_photo=True)["tracking_number"]
    site.login("perancang")
    diagram = site.get(f"/studio/try/{run.id}/diagram.json?tracking={tracking}").get_json()
    assert diagram["current"] == ["screen_report"]
    assert "screen_report_watch" in diagram["waiting"] and "<bpmn:" in diagram["xml"]
    scratch.act(run.id, tracking, "verify", {}, "regency_admin", DESIGNER)
    diagram = site.get(f"/studio/try/{run.id}/diagram.json?tracking={tracking}").get_json()
    assert diagram["current"] == ["dispose_report"] and "screen_report" in diagram["completed"]


def test_a_report_is_delegated_answered_and_closed_by_its_window_acting_as_each_lane(site: Site):
    scratch = site.regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    tracking = scratch.submit(run.id, REPORT, DESIGNER, sample_photo=True)["tracking_number"]
    scratch.act(run.id, tracking, "verify", {}, "regency_admin", DESIGNER)
    scratch.act(run.id, tracking, "dispose", {"agency_code": "dinas_pupr"}, "regency_admin",
                DESIGNER)
    scratch.act(run.id, tracking, "delegate", {"unit_code": "pupr_bina_marga"},
                "liaison_officer", DESIGNER)
    done = scratch.act(run.id, tracking, "respond", {"answer": "Sudah ditambal."},
                       "technical_officer", DESIGNER)
    assert done["as"] == "uji.teknis.pupr_bina_marga"
    with pytest.raises(Forbidden):  # the liaison's lane cannot rate for the complainant
        scratch.act(run.id, tracking, "rate", {"rating": 5}, "liaison_officer", DESIGNER)
    happened = scratch.advance(run.id, DESIGNER, working_days=10)
    assert happened["auto_closed"] == [tracking]  # the complainant's window passed
    view = scratch.view(run.id, ADMIN)
    assert view["report"]["status"] == ids.STATUS_CLOSED and view["tasks"] == []
    assert "review_answer_deadline" in view["states"]["completed"]  # the window timer


def test_two_requests_on_one_run_never_interleave(site: Site, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(scratch_runs, "WRITE_WAIT_SECONDS", 0.3)
    scratch = site.regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with scratch.runs.locked(run.id):
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Conflict):  # still busy after the wait
            scratch.advance(run.id, DESIGNER, hours=1)
    finally:
        release.set()
        worker.join()
    site.login("perancang")
    stale = version_of(site, run.id)
    scratch.advance(run.id, DESIGNER, hours=1)
    response = site.post(f"/studio/try/{run.id}/advance", {"step": "hour", "version": stale},
                         expect=409)
    assert "versi" in site.text(response)


def test_a_change_waits_for_a_read_of_the_run_in_flight(site: Site):
    """The run page fetches its diagram as it loads (a shared lock for a moment): a click on
    the clock meanwhile waits for it, and is not refused as busy (seen under CI's load)."""
    scratch = site.regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def read() -> None:
        with scratch.runs.locked(run.id, shared=True):
            holding.set()
            release.wait(10)

    def change() -> None:
        try:
            scratch.advance(run.id, DESIGNER, hours=1)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert holding.wait(10)
    writer = threading.Thread(target=change)
    writer.start()
    writer.join(timeout=0.3)
    assert writer.is_alive() and not failures  # waiting for the read, not refused
    release.set()
    reader.join(10)
    writer.join(10)
    assert failures == []
    assert scratch.view(run.id, DESIGNER)["run"].version == run.version + 1


def test_delete_removes_the_runs_files_and_idle_runs_are_swept(site: Site):
    scratch = site.regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    folder = Path(scratch.runs.root) / run.id
    assert (folder / "scratch.db").is_file()
    site.login("perancang")
    site.post(f"/studio/try/{run.id}/delete", {}, expect=303)
    assert not folder.exists()
    site.get(f"/studio/try/{run.id}", expect=404)

    idle = scratch.create_from_deployed(DESIGNER)
    site.regency.clock.advance(timedelta(hours=25))
    fresh = scratch.create_from_deployed(DESIGNER)
    assert [r.id for r in scratch.list(DESIGNER)] == [fresh.id]
    assert not (Path(scratch.runs.root) / idle.id).exists()


@pytest.mark.parametrize("run_id", ["..", "0123456789abcdeg", "../../aduan.db"])
def test_a_run_id_never_names_a_path(site: Site, run_id: str):
    with pytest.raises(NotFound):
        site.regency.domain.scratch.view(run_id, DESIGNER)


def test_files_of_another_process_are_refused_with_findings(site: Site):
    from tests.diagram import linear, user_task

    with pytest.raises(ValidationFailed) as refused:
        site.regency.domain.scratch.create(
            {"other.bpmn": linear("other_process", user_task("look"))}, DESIGNER)
    assert refused.value.findings


def test_a_live_regency_on_either_database_is_copied_and_left_as_it_was(regency: Any):
    """The live database may be PostgreSQL; the scratch run is SQLite all the same."""

    def rows() -> dict[str, int]:
        with regency.reads() as session:
            return {table.name: session.scalar(select(func.count()).select_from(table))
                    for table in metadata.sorted_tables}

    before = rows()
    scratch = regency.domain.scratch
    run = scratch.create_from_deployed(DESIGNER)
    tracking = scratch.submit(run.id, REPORT, DESIGNER, sample_photo=True)["tracking_number"]
    scratch.act(run.id, tracking, "verify", {}, "regency_admin", DESIGNER)
    scratch.act(run.id, tracking, "dispose", {"agency_code": "dlh"}, "regency_admin", DESIGNER)
    happened = scratch.advance(run.id, DESIGNER, working_days=5)
    assert [e["step"] for e in happened["escalations"]] == ["follow_up"]
    assert {n["recipient"] for n in happened["notifications"]} >= {"uji.penghubung.dlh"}
    assert rows() == before
    assert scratch.runs.database_url(run.id).startswith("sqlite:///")
