"""Use cases behind the officers' pages: element states, claims, search, expected versions."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.diagram import chain, document, message_catch, user_task, write
from workflows import access, documents
from workflows.errors import Conflict, Forbidden, NotFound
from workflows.models import Complaint


def principal_of(regency, username: str) -> access.Principal:
    from workflows.models import User

    with regency.reads() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return access.principal_for(session, user)


def open_task(regency, tracking: str) -> dict:
    with regency.reads() as session:
        instance = session.scalars(select(Complaint.instance_id).where(
            Complaint.tracking_number == tracking)).one()
    tasks = regency.engine.tasks(instance_id=instance)
    assert len(tasks) == 1, tasks
    return tasks[0]


# --------------------------------------------------------------------------- the engine


def test_element_states_follow_an_instance_through_its_diagram(tmp_path, engine):
    path = write(tmp_path, "states.bpmn", document(
        "states", '<bpmn:startEvent id="start"/>', user_task("check", "Check"),
        message_catch("wait", "go"), '<bpmn:endEvent id="end"/>',
        chain("start", "check", "wait", "end"), messages=("go",)))
    engine.deploy([path])
    instance = engine.start("states", {})
    states = engine.element_states(instance.id)
    assert (states["process_id"], states["definition_version"]) == ("states", 1)
    assert states["current"] == ["check"] and states["waiting"] == []
    assert states["completed"] == ["start", "flow_start_check"]

    engine.complete(engine.tasks(instance_id=instance.id)[0]["id"], {})
    states = engine.element_states(instance.id)
    assert states["current"] == [] and states["waiting"] == ["wait"]
    assert set(states["completed"]) == {"start", "check", "flow_start_check",
                                        "flow_check_wait"}

    engine.send_message("go", {}, instance_id=instance.id)
    states = engine.element_states(instance.id)
    assert states["current"] == states["waiting"] == []
    assert set(states["completed"]) >= {"wait", "end", "flow_wait_end"}
    from engine import NotFound

    with pytest.raises(NotFound):
        engine.element_states(instance.id + 100)


def test_a_loop_back_shows_the_task_as_current_only(site):
    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking = receipt["tracking_number"]
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Foto kurang jelas")
    admin = principal_of(regency, "admin.kominfo")
    asked = regency.domain.reports.diagram(tracking, admin)
    assert asked["current"] == ["provide_information"]
    assert asked["waiting"] == ["provide_information_deadline"]
    assert "screen_report" in asked["completed"]
    regency.act(tracking, "provide_info", secret=receipt["secret"], information="Ini fotonya")
    back = regency.domain.reports.diagram(tracking, admin)
    assert back["current"] == ["screen_report"] and "screen_report" not in back["completed"]
    assert {"provide_information", "f_back_to_screening"} <= set(back["completed"])
    assert '<bpmn:userTask id="screen_report"' in back["xml"]


# --------------------------------------------------------------------------- claims


def test_claims_follow_the_tasks_candidate_groups(site):
    regency = site.regency
    tasks = regency.domain.tasks
    tracking = regency.submit(photo=True)["tracking_number"]
    task = open_task(regency, tracking)
    admin = principal_of(regency, "admin.kominfo")
    liaison = principal_of(regency, "penghubung.pupr")
    with pytest.raises(Forbidden):
        tasks.claim(task["id"], liaison)
    assert tasks.claim(task["id"], admin)["assignee"] == "admin.kominfo"
    assert tasks.claim(task["id"], admin)["assignee"] == "admin.kominfo"  # again: ok
    sysadmin = principal_of(regency, "sysadmin")
    with pytest.raises(Forbidden):  # sees everything, but the task is not for its groups
        tasks.claim(task["id"], sysadmin)
    assert tasks.release(task["id"], sysadmin)["assignee"] is None  # admin may
    with pytest.raises(Conflict):
        tasks.release(task["id"], admin)  # nobody holds it now
    with pytest.raises(Conflict):
        tasks.claim("not-a-task", admin)

    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    follow_up = open_task(regency, tracking)
    tasks.claim(follow_up["id"], liaison)
    other_head = principal_of(regency, "kadis.dlh")
    with pytest.raises(Forbidden):
        tasks.release(follow_up["id"], other_head)
    with pytest.raises(Conflict):  # a colleague of the same group: already claimed
        tasks.claim(follow_up["id"], _another_liaison(regency))
    head = principal_of(regency, "kadis.pupr")
    assert tasks.release(follow_up["id"], head)["assignee"] is None
    events = regency.engine.instance(follow_up["instance_id"])["events"]
    assert [(e["action"], e["actor"]) for e in events if e["action"] in (
        "claim", "unclaim", "assign")][-2:] == [("claim", "penghubung.pupr"),
                                               ("assign", "kadis.pupr")]


def test_releasing_anothers_claim_never_clears_a_claim_taken_meanwhile(site, monkeypatch):
    regency = site.regency
    tasks = regency.domain.tasks
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    task = open_task(regency, tracking)
    liaison = principal_of(regency, "penghubung.pupr")
    colleague = _another_liaison(regency)
    tasks.claim(task["id"], liaison)
    allowed = access.may_release

    def meanwhile(principal, found, agencies):  # after the head read the holder, before
        tasks.release(task["id"], liaison)      # the release
        tasks.claim(task["id"], colleague)
        return allowed(principal, found, agencies)

    monkeypatch.setattr(access, "may_release", meanwhile)
    with pytest.raises(Conflict, match=r"not claimed by penghubung\.pupr"):
        tasks.release(task["id"], principal_of(regency, "kadis.pupr"))
    assert open_task(regency, tracking)["assignee"] == "staf.pupr"


def _another_liaison(regency) -> access.Principal:
    from workflows.users import create_user

    with regency.transaction() as session:
        create_user(session, regency.domain.context.passwords, username="staf.pupr",
                    full_name="Staf PUPR",
                    roles=["liaison_officer"], agency_code="dinas_pupr",
                    now=regency.clock.now())
    return principal_of(regency, "staf.pupr")


# --------------------------------------------------------------------------- search


def test_search_matches_tracking_numbers_and_titles_but_no_hidden_title(site):
    regency = site.regency
    road = regency.submit(photo=True, title="Jalan berlubang di Waru")["tracking_number"]
    secret = regency.submit(photo=True, title="Pungli di loket KTP",
                            confidential=True)["tracking_number"]
    admin = principal_of(regency, "admin.kominfo")
    found = regency.domain.reports.list(admin, q="berLUBANG")
    assert [i["tracking_number"] for i in found["items"]] == [road]
    assert regency.domain.reports.list(admin, q=secret[-6:])["total"] == 1
    assert regency.domain.reports.list(admin, q="pungli")["total"] == 1
    assert regency.domain.reports.list(admin, q="100%")["total"] == 0  # % is a character here
    # Someone outside the case: the title of a `rahasia` report is not searchable, its
    # tracking number is (the list's scope decides whether it is shown at all).
    outsider = principal_of(regency, "penghubung.dinkes")
    with regency.reads() as session:
        def search(q: str) -> list[str]:
            return list(session.scalars(select(Complaint.tracking_number).where(
                documents.search_filter(outsider, q))))

        assert search("pungli") == []
        assert search("berlubang") == [road]
        assert search(secret) == [secret]


# --------------------------------------------------------------------------- versions


def test_an_action_with_a_stale_version_changes_nothing(site):
    regency = site.regency
    receipt = regency.submit(photo=True)
    tracking = receipt["tracking_number"]
    admin = principal_of(regency, "admin.kominfo")
    seen = regency.domain.reports.get(tracking, admin)["version"]
    regency.act(tracking, "request_info", as_="admin.kominfo", reason="Foto kurang jelas")
    regency.act(tracking, "provide_info", secret=receipt["secret"], information="Foto baru")
    with pytest.raises(Conflict, match="changed by someone else"):
        regency.domain.reports.act(tracking, "verify", {}, admin, expected_version=seen)
    report = regency.domain.reports.get(tracking, admin)
    assert report["status"] == "SUBMITTED"
    done = regency.domain.reports.act(tracking, "verify", {}, admin,
                                      expected_version=report["version"], document=True)
    assert done["status"] == "VERIFIED" and done["version"] > report["version"]


def test_the_version_is_checked_again_in_the_transaction_of_the_change(postgres_url, clock,
                                                                         tmp_path, monkeypatch):
    """A change committed by another transaction after the verb read the report (in its own
    transaction, before the instance's lock) is caught by the conditional UPDATE. PostgreSQL:
    on SQLite the verb's write transaction excludes every other writer from its BEGIN."""
    from tests.regency import build
    from workflows.actions import Verbs

    regency = build(postgres_url, clock, tmp_path)
    try:
        reports = regency.domain.reports
        tracking = regency.submit(photo=True)["tracking_number"]
        admin = principal_of(regency, "admin.kominfo")
        seen = reports.get(tracking, admin)["version"]
        precheck = Verbs._precheck

        def someone_else_writes(self, session, *args):  # after the read, before the change
            with regency.transaction() as other:
                other.execute(update(Complaint).where(Complaint.tracking_number == tracking)
                              .values(version=Complaint.version + 1))
            return precheck(self, session, *args)

        monkeypatch.setattr(Verbs, "_precheck", someone_else_writes)
        with pytest.raises(Conflict, match="changed by someone else"):
            reports.act(tracking, "verify", {}, admin, expected_version=seen)
        monkeypatch.undo()
        report = reports.get(tracking, admin)
        assert report["status"] == "SUBMITTED" and report["version"] == seen + 1
        assert [t["element_id"] for t in report["open_tasks"]] == ["screen_report"]
        # without an expected version, the verb counts on from the version committed meanwhile
        monkeypatch.setattr(Verbs, "_precheck", someone_else_writes)
        reports.act(tracking, "verify", {}, admin)
        monkeypatch.undo()
        report = reports.get(tracking, admin)
        # seen + 1 (the first write) + 1 (the second) + 1 (the verb) + 1 (the new status):
        # none lost, although the verb had read the report before the second write
        assert report["status"] == "VERIFIED" and report["version"] == seen + 4
    finally:
        regency.engine.dispose()


def test_reassign_and_link_duplicate_check_the_version_too(site):
    regency = site.regency
    reports = regency.domain.reports
    admin = principal_of(regency, "admin.kominfo")
    first = regency.submit(photo=True)["tracking_number"]
    second = regency.submit(photo=True)["tracking_number"]
    regency.act(first, "verify", as_="admin.kominfo")
    regency.act(first, "dispose", as_="admin.kominfo", agency_code="dishub")
    seen = reports.get(first, admin)["version"]
    moved = reports.act(first, "reassign", {"agency_code": "dinas_pupr", "reason": "Salah"},
                           admin, expected_version=seen, document=True)
    assert moved["agency"]["code"] == "dinas_pupr" and moved["version"] == seen + 1
    with pytest.raises(Conflict):
        reports.act(first, "reassign", {"agency_code": "dlh", "reason": "Lagi"}, admin,
                       expected_version=seen)
    assert reports.get(first, admin)["agency"]["code"] == "dinas_pupr"
    version = reports.get(second, admin)["version"]
    with pytest.raises(Conflict):
        reports.act(second, "link_duplicate", {"duplicate_of": first}, admin,
                       expected_version=version - 1)
    linked = reports.act(second, "link_duplicate", {"duplicate_of": first}, admin,
                            expected_version=version, document=True)
    assert linked["duplicate_of"] == first and linked["status"] == "ARCHIVED"


def test_the_routing_tables_suggestion_is_read_for_the_disposition(site):
    regency = site.regency
    reports = regency.domain.reports
    admin = principal_of(regency, "admin.kominfo")
    tracking = regency.submit(photo=True, category="waste")["tracking_number"]
    assert reports.routing(tracking, admin) is None  # not verified yet
    regency.act(tracking, "verify", as_="admin.kominfo")
    assert reports.routing(tracking, admin) == {
        "authority": "regency", "handler_level": "technical_officer", "agency_code": "dlh"}
    national = regency.submit(photo=True, road_status="national")["tracking_number"]
    regency.act(national, "verify", as_="admin.kominfo")
    assert reports.routing(national, admin)["authority"] == "national"
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dlh")
    assert reports.routing(tracking, admin) is None
    assert reports.routing(tracking, principal_of(regency, "penghubung.dlh")) is None
    with pytest.raises(NotFound):
        reports.routing(national, principal_of(regency, "penghubung.dlh"))


def test_the_citizens_news_of_an_answer_carries_it_and_the_history_keeps_its_order(site):
    """The answer's history entry is written with the operation's other rows (staged,
    workflows/operation.py `insert_row`); the message telling the citizen of the new status
    still reads it in the same transaction, and the history lists the verb before the
    status change it caused."""
    from workflows.models import ComplaintEvent, Outbox

    regency = site.regency
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah ditambal kemarin.")
    with regency.reads() as session:
        complaint_id = session.scalar(select(Complaint.id).where(
            Complaint.tracking_number == tracking))
        news = session.scalars(select(Outbox.payload).where(
            Outbox.complaint_id == complaint_id, Outbox.template == "status_changed")
            .order_by(Outbox.id)).all()
        kinds = session.execute(select(ComplaintEvent.kind, ComplaintEvent.status_to).where(
            ComplaintEvent.complaint_id == complaint_id).order_by(ComplaintEvent.id)).all()
    assert news[-1]["answer"] == "Sudah ditambal kemarin."
    assert [k for k, _ in kinds][:1] == ["submitted"]
    respond = [k for k, _ in kinds].index("respond")
    assert kinds[respond + 1][0] == "status"  # the status it caused comes after it


def test_a_status_message_reads_the_answer_back_when_its_operation_did_not_record_it(site):
    """The respond verb hands its answer to the status message of the same operation
    (workflows/operation.py `ANSWER`); without it, the message reads the latest public
    answer from the history."""
    from workflows import notify

    regency = site.regency
    tracking = regency.submit(photo=True)["tracking_number"]
    regency.act(tracking, "verify", as_="admin.kominfo")
    regency.act(tracking, "dispose", as_="admin.kominfo", agency_code="dinas_pupr")
    regency.act(tracking, "respond", as_="penghubung.pupr", answer="Sudah ditambal kemarin.",
                final=False)
    with regency.reads() as session:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking)).one()
        read_back = notify.status_payload(session, complaint, "Diproses", "interim answer", "")
        handed = notify.status_payload(session, complaint, "Diproses", "interim answer", "",
                                       answer="Jawaban lain")
        other = notify.status_payload(session, complaint, "Diproses", "", "")
    assert read_back["answer"] == "Sudah ditambal kemarin."
    assert handed["answer"] == "Jawaban lain"
    assert other["answer"] == ""
