"""Starting instances, human tasks, forms, claims, audit and lost-update protection."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine import Conflict, InvalidInput, NotFound, TaskNotOpen
from engine.sandbox import SandboxError
from tests.diagram import linear, script_task, user_task, write

FORM = {
    "type": "object",
    "required": ["decision", "reason"],
    "properties": {
        "decision": {"type": "string", "enum": ["accept", "reject"]},
        "reason": {"type": "string", "minLength": 3},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
}


@pytest.fixture
def review(tmp_path, engine):
    path = write(tmp_path, "review.bpmn", linear(
        "review",
        user_task("check", "Check the report", form=FORM, groups="admin,supervisor"),
        script_task("tally", "result = decision + ':' + reason"),
        user_task("confirm", "Confirm"),
        lanes={"admin": ["check", "tally", "confirm"]},
    ))
    engine.deploy([path])
    return path


def test_start_runs_to_the_first_user_task_and_projects_it(engine, review):
    inst = engine.start("review", {"title": "Jalan berlubang"}, business_key="PPU-1")
    assert inst.status == "running"
    tasks = engine.tasks(instance_id=inst.id)
    assert [t["element_id"] for t in tasks] == ["check"]
    task = tasks[0]
    assert task["title"] == "Check the report"
    assert task["lane"] == "admin"
    assert task["candidate_groups"] == ["admin", "supervisor"]
    assert task["form"]["required"] == ["decision", "reason"]
    assert task["assignee"] is None
    assert engine.tasks(group="supervisor")[0]["id"] == task["id"]
    assert engine.tasks(lane="admin")[0]["id"] == task["id"]
    assert engine.tasks(lane="nobody") == []


def test_completing_walks_the_process_and_records_every_change(engine, review):
    inst = engine.start("review", {"title": "x"}, actor="citizen")
    check = engine.tasks(instance_id=inst.id)[0]
    engine.complete(check["id"], {"decision": "accept", "reason": "clear"}, actor="admin1")
    confirm = engine.tasks(instance_id=inst.id)[0]
    assert confirm["element_id"] == "confirm"
    done = engine.complete(confirm["id"], {}, actor="admin1")
    assert done.status == "completed"
    detail = engine.instance(inst.id)
    assert detail["status"] == "completed"
    assert detail["data"]["result"] == "accept:clear"
    assert detail["tasks"] == [] and detail["timers"] == []
    actions = [(e["action"], e["actor"], e["element_id"]) for e in detail["events"]]
    assert actions == [("start", "citizen", None), ("complete_task", "admin1", "check"),
                       ("complete_task", "admin1", "confirm")]
    second = detail["events"][1]
    assert second["data_changes"]["result"] == {"from": None, "to": "accept:clear"}
    assert "tally" in second["detail"]["steps"]
    assert detail["events"][-1]["status_to"] == "completed"


def test_form_errors_name_each_field(engine, review):
    inst = engine.start("review")
    task = engine.tasks(instance_id=inst.id)[0]
    with pytest.raises(InvalidInput) as caught:
        engine.complete(task["id"], {"decision": "maybe", "score": 9})
    errors = caught.value.field_errors
    assert set(errors) == {"decision", "reason", "score"}
    assert "required" in errors["reason"]
    assert "maybe" in errors["decision"]
    # nothing moved
    assert engine.tasks(instance_id=inst.id)[0]["id"] == task["id"]
    assert engine.instance(inst.id)["version"] == 1


def test_a_task_without_a_form_accepts_any_object_but_not_unstorable_data(engine, review):
    inst = engine.start("review")
    check = engine.tasks(instance_id=inst.id)[0]
    engine.complete(check["id"], {"decision": "reject", "reason": "vague"})
    confirm = engine.tasks(instance_id=inst.id)[0]
    with pytest.raises(InvalidInput) as caught:
        engine.complete(confirm["id"], {"nested": {"typename": "UUID"}})
    assert "typename" in str(caught.value)
    with pytest.raises(InvalidInput):
        engine.complete(confirm["id"], {"bad key": 1})
    engine.complete(confirm["id"], {"anything": [1, {"a": None}], "note": "ok"})


def test_claim_unclaim_and_assign_guard_each_other(engine, review):
    inst = engine.start("review")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    assert engine.claim(task_id, "budi")["assignee"] == "budi"
    assert engine.claim(task_id, "budi")["assignee"] == "budi"  # idempotent for the holder
    with pytest.raises(Conflict, match="already claimed by budi"):
        engine.claim(task_id, "sari")
    assert [t["id"] for t in engine.tasks(assignee="budi")] == [task_id]
    with pytest.raises(Conflict, match="not claimed by sari"):
        engine.unclaim(task_id, "sari")
    with pytest.raises(Conflict, match="assigned to budi"):
        engine.complete(task_id, {"decision": "accept", "reason": "fine"}, actor="sari")
    engine.unclaim(task_id, "budi")
    assert engine.tasks(unassigned=True)[0]["id"] == task_id
    engine.assign(task_id, "sari", actor="kepala")
    assert engine.tasks(assignee="sari")[0]["id"] == task_id
    actions = [e["action"] for e in engine.instance(inst.id)["events"]]
    assert actions == ["start", "claim", "claim", "unclaim", "assign"]


def test_a_completed_task_cannot_be_completed_again(engine, review):
    inst = engine.start("review")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    engine.complete(task_id, {"decision": "accept", "reason": "fine"})
    with pytest.raises(TaskNotOpen):
        engine.complete(task_id, {"decision": "accept", "reason": "fine"})


def test_a_stale_expected_version_is_a_conflict_not_an_overwrite(engine, review):
    inst = engine.start("review")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    with pytest.raises(Conflict, match="changed"):
        engine.complete(task_id, {"decision": "accept", "reason": "fine"},
                        expected_version=inst.version + 5)
    engine.complete(task_id, {"decision": "accept", "reason": "fine"},
                    expected_version=inst.version)


def test_the_spec_is_stored_once_per_version_not_in_instances(engine, review):
    inst = engine.start("review")
    with engine.store.db.connect() as connection:
        state = connection.execute(text("SELECT state FROM process_instance WHERE id = :i"),
                                   {"i": inst.id}).scalar_one()
        specs = connection.execute(text("SELECT specs FROM process_definition")).scalar_one()
    saved = json.loads(state)
    assert "spec" not in saved and "subprocess_specs" not in saved
    assert "task_specs" not in state
    assert "check" in json.loads(specs)["spec"]["task_specs"]


def test_another_engine_sees_the_same_instance(make_engine, engine, review):
    inst = engine.start("review")
    other = make_engine()  # a second process would see exactly this: nothing shared in memory
    task_id = other.tasks(instance_id=inst.id)[0]["id"]
    other.complete(task_id, {"decision": "accept", "reason": "fine"})
    assert engine.tasks(instance_id=inst.id)[0]["element_id"] == "confirm"


def test_unknown_things_are_not_found(engine, review):
    with pytest.raises(NotFound, match="no deployed"):
        engine.start("nope")
    with pytest.raises(NotFound):
        engine.instance(999)
    with pytest.raises(TaskNotOpen):
        engine.complete("00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(InvalidInput):
        engine.start("review", {"typename": "x"})


def test_cancel_closes_tasks_and_is_audited(engine, review):
    inst = engine.start("review")
    engine.cancel(inst.id, actor="admin", reason="duplicate")
    detail = engine.instance(inst.id)
    assert detail["status"] == "cancelled"
    assert detail["tasks"] == []
    assert detail["events"][-1]["detail"] == {"reason": "duplicate"}
    with pytest.raises(Conflict):
        engine.cancel(inst.id)


def test_start_a_given_version_and_business_key(engine, review, tmp_path):
    path = write(tmp_path, "review.bpmn", linear("review", user_task("check2", "Check")))
    assert engine.deploy([path]).version == 2
    old = engine.start("review", version=1, business_key="K-1")
    new = engine.start("review")
    assert engine.tasks(instance_id=old.id)[0]["element_id"] == "check"
    assert engine.tasks(instance_id=new.id)[0]["element_id"] == "check2"
    assert engine.instances(business_key="K-1")[0]["instance_id"] == old.id


def test_reassigning_a_task_changes_its_groups_and_clears_the_claim(engine, review):
    inst = engine.start("review")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    engine.claim(task_id, "budi")
    moved = engine.set_candidate_groups(task_id, ["opd_liaison:dlh"], actor="kepala")
    assert moved["candidate_groups"] == ["opd_liaison:dlh"] and moved["assignee"] is None
    assert [t["id"] for t in engine.tasks(group="opd_liaison:dlh")] == [task_id]
    assert engine.tasks(group="admin") == []
    with pytest.raises(InvalidInput):
        engine.set_candidate_groups(task_id, [])
    assert engine.instance(inst.id)["events"][-1]["action"] == "reassign"


def add_working_days(start: str, days: int) -> str:
    """A host helper: a module-level function, which sandbox workers import by reference."""
    return f"{start}+{days}wd"


def test_host_helpers_are_callable_from_diagrams_and_files_are_kept(engine, tmp_path, review):
    with pytest.raises(SandboxError, match="top level of a module"):
        engine.register_helper("add_working_days", lambda start, days: f"{start}+{days}wd")
    engine.register_helper("add_working_days", add_working_days)
    path = write(tmp_path, "helper.bpmn", linear(
        "helper", script_task("due", "deadline = add_working_days(received, 3)"),
        user_task("look")))
    engine.deploy([path])
    inst = engine.start("helper", {"received": "2026-03-02"})
    assert engine.instance(inst.id)["data"]["deadline"] == "2026-03-02+3wd"
    files = engine.definition_files("helper")
    assert list(files) == ["helper.bpmn"] and "add_working_days" in files["helper.bpmn"]
