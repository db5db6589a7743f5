"""What the host sees of an operation: services in its transaction, listeners before commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import InstanceChange, TaskNotOpen, current_operation
from tests.diagram import linear, service_task, user_task, write


def _notes_table(engine) -> None:
    with engine.store.db.begin() as connection:  # the PostgreSQL test database is shared
        connection.execute(text("DROP TABLE IF EXISTS note"))
        connection.execute(text("CREATE TABLE note (instance_id INTEGER, body VARCHAR(100))"))


def _notes(engine) -> list[tuple]:
    with engine.store.db.connect() as connection:
        return [tuple(r) for r in connection.execute(
            text("SELECT instance_id, body FROM note ORDER BY body"))]


def test_a_service_writes_in_the_instances_transaction_and_a_failure_leaves_nothing(
        make_engine, tmp_path):
    def record(body: str) -> str:
        operation = current_operation()
        operation.session.execute(text("INSERT INTO note VALUES (:i, :b)"),
                                  {"i": operation.instance_id, "b": body})
        if body == "boom":
            raise RuntimeError("the outbox is full")
        return "ok"

    engine = make_engine(services={"record": record})
    _notes_table(engine)
    engine.deploy([write(tmp_path, "notes.bpmn", linear(
        "notes", service_task("first", "record", {"body": '"first"'}, "r1"),
        service_task("second", "record", {"body": "second"}, "r2"), user_task("done")))])
    good = engine.start("notes", {"second": "second"})
    bad = engine.start("notes", {"second": "boom"})
    assert engine.instance(good.id)["status"] == "running"
    assert engine.instance(bad.id)["incident"]["element_id"] == "second"
    # the failing call's row is gone; the step before it (already done) keeps its row
    assert _notes(engine) == [(good.id, "first"), (bad.id, "first"), (good.id, "second")]
    assert current_operation() is None


def test_listeners_see_each_change_before_the_commit(engine, tmp_path):
    seen: list[InstanceChange] = []
    engine.add_listener(seen.append)
    engine.deploy([write(tmp_path, "two.bpmn", linear("two", user_task("a"), user_task("b")))])
    inst = engine.start("two", {"x": 1}, actor="warga")
    first = seen[-1]
    assert first.operation.action == "start" and first.operation.actor == "warga"
    assert first.status_before == "running" and first.status_after == "running"
    assert [t["element_id"] for t in first.opened_tasks] == ["a"]
    assert first.data["x"] == 1
    engine.complete(first.opened_tasks[0]["id"], {"y": 2})
    second = seen[-1]
    assert second.closed_task_ids == [first.opened_tasks[0]["id"]]
    assert [t["element_id"] for t in second.opened_tasks] == ["b"]
    engine.complete(second.opened_tasks[0]["id"])
    assert seen[-1].status_after == "completed" and seen[-1].operation.instance_id == inst.id


def test_a_failing_listener_rolls_the_whole_operation_back(engine, tmp_path):
    engine.deploy([write(tmp_path, "one.bpmn", linear("one", user_task("a")))])
    inst = engine.start("one")

    def refuse(change: InstanceChange) -> None:
        raise ValueError("domain rule broken")

    engine.add_listener(refuse)
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    with pytest.raises(ValueError, match="domain rule broken"):
        engine.complete(task_id)
    assert engine.tasks(instance_id=inst.id)[0]["id"] == task_id
    assert engine.instance(inst.id)["version"] == 1


def test_a_start_hook_writes_in_the_same_transaction_and_adds_data(engine, tmp_path):
    _notes_table(engine)
    engine.deploy([write(tmp_path, "one.bpmn", linear("one", user_task("a")))])

    def prepare(operation):
        operation.session.execute(text("INSERT INTO note VALUES (:i, 'created')"),
                                  {"i": operation.instance_id})
        return {"complaint_id": 77}

    inst = engine.start("one", {"x": 1}, hook=prepare)
    assert engine.instance(inst.id)["data"] == {"x": 1, "complaint_id": 77}
    assert _notes(engine) == [(inst.id, "created")]


def test_a_complete_hook_rolls_back_with_a_failed_completion(engine, tmp_path):
    _notes_table(engine)
    engine.deploy([write(tmp_path, "one.bpmn", linear(
        "one", user_task("a", form={"type": "object", "required": ["ok"]})))])
    inst = engine.start("one")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]

    def answer(operation):
        operation.session.execute(text("INSERT INTO note VALUES (:i, 'answer')"),
                                  {"i": operation.instance_id})

    engine.complete(task_id, {"ok": True}, hook=answer)
    with pytest.raises(TaskNotOpen):
        engine.complete(task_id, {"ok": True}, hook=answer)
    assert _notes(engine) == [(inst.id, "answer")]


def _restores(engine, monkeypatch) -> list[int]:
    """Count the workflows rebuilt from their JSON state."""
    counted: list[int] = []
    transaction = engine._instances.transaction
    restore = transaction.restore

    def counting(definition, state, now):
        counted.append(1)
        return restore(definition, state, now)

    monkeypatch.setattr(transaction, "restore", counting)
    return counted


def test_the_workflow_this_process_saved_is_used_again_without_a_rebuild(
        make_engine, tmp_path, monkeypatch):
    engine = make_engine()
    engine.deploy([write(tmp_path, "three.bpmn", linear(
        "three", user_task("a"), user_task("b"), user_task("c")))])
    restores = _restores(engine, monkeypatch)
    inst = engine.start("three", {"x": 1})
    engine.complete(engine.tasks(instance_id=inst.id)[0]["id"], {"y": 2})
    assert restores == []  # the saved workflow was taken as it was
    # another process (its own engine, so its own warm workflows) acts on the instance
    other = make_engine()
    other.complete(other.tasks(instance_id=inst.id)[0]["id"], {"z": 3})
    engine.complete(engine.tasks(instance_id=inst.id)[0]["id"])
    assert restores == [1]  # the version moved on elsewhere: rebuilt from the database
    detail = engine.instance(inst.id)
    assert detail["status"] == "completed"
    assert {k: detail["data"][k] for k in ("x", "y", "z")} == {"x": 1, "y": 2, "z": 3}


def test_a_workflow_changed_by_a_rolled_back_operation_is_never_used_again(
        make_engine, tmp_path, monkeypatch):
    engine = make_engine()
    engine.deploy([write(tmp_path, "two.bpmn", linear("two", user_task("a"), user_task("b")))])
    inst = engine.start("two")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]

    def refuse(change: InstanceChange) -> None:
        raise ValueError("domain rule broken")

    engine.add_listener(refuse)
    with pytest.raises(ValueError):
        engine.complete(task_id, {"y": 2})  # the taken workflow ran task a, then rolled back
    engine._listeners.clear()
    restores = _restores(engine, monkeypatch)
    engine.complete(task_id, {"y": 3})  # task a is still open: rebuilt, not the changed one
    assert restores == [1]
    detail = engine.instance(inst.id)
    assert detail["data"]["y"] == 3
    assert [t["element_id"] for t in detail["tasks"]] == ["b"]
