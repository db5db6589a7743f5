"""A persisted completion's trips to the database (issue 17, the engine's toy figure).

`Engine.complete` finds a task's instance and locks it with one statement; on PostgreSQL
the read units are READ ONLY transactions that end with a COMMIT, so that psycopg keeps the
connection's prepared statements (it forgets them all at every ROLLBACK) and a completion's
fixed statements are sent prepared rather than parsed and planned each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from engine import Conflict, SourceFile, TaskNotOpen

PID = "trips"
PROCESS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'id="defs_trips" targetNamespace="http://aduan.test/bpmn">'
    f'<bpmn:process id="{PID}" isExecutable="true">'
    '<bpmn:startEvent id="start"/>'
    '<bpmn:userTask id="one" name="One"/><bpmn:userTask id="two" name="Two"/>'
    '<bpmn:userTask id="three" name="Three"/><bpmn:endEvent id="end"/>'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="one"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="one" targetRef="two"/>'
    '<bpmn:sequenceFlow id="f3" sourceRef="two" targetRef="three"/>'
    '<bpmn:sequenceFlow id="f4" sourceRef="three" targetRef="end"/>'
    "</bpmn:process></bpmn:definitions>\n"
)


@contextmanager
def statements(store: Any) -> Iterator[list[str]]:
    """The SQL the store's writers and readers send inside the block."""
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(store.db, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(store.db, "before_cursor_execute", keep)


@pytest.fixture
def deployed(engine):
    engine.deploy([SourceFile(f"{PID}.bpmn", PROCESS)])
    return engine


def test_a_completion_finds_and_locks_its_instance_with_one_statement(deployed):
    engine = deployed
    instance = engine.start(PID)
    task_id = engine.tasks(instance_id=instance.id)[0]["id"]
    with statements(engine.store) as seen:
        engine.complete(task_id, {"note": "x"})
    reads = [s for s in seen if s.startswith("SELECT")]
    assert len(reads) == 1, seen
    assert "human_task" in reads[0] and "process_instance" in reads[0]
    if engine.store.postgres:  # the instance's row is locked, the task's is not
        assert reads[0].endswith("FOR UPDATE OF process_instance"), reads[0]
        assert len(seen) == 2, seen  # that read and the one save
    assert [t["element_id"] for t in engine.tasks(instance_id=instance.id)] == ["two"]


def test_a_completion_still_refuses_what_it_refused(deployed):
    engine = deployed
    instance = engine.start(PID)
    task_id = engine.tasks(instance_id=instance.id)[0]["id"]
    with pytest.raises(TaskNotOpen):
        engine.complete("00000000-0000-4000-8000-000000000000", {})
    engine.claim(task_id, "ana")
    with pytest.raises(Conflict):
        engine.complete(task_id, {}, actor="budi")
    with pytest.raises(Conflict):
        engine.complete(task_id, {}, actor="ana", expected_version=instance.version + 5)
    done = engine.complete(task_id, {}, actor="ana", expected_version=instance.version)
    assert done.version == instance.version + 1
    with pytest.raises(TaskNotOpen):
        engine.complete(task_id, {}, actor="ana")


def test_read_units_cannot_write_on_postgres(deployed):
    engine = deployed
    if not engine.store.postgres:
        pytest.skip("PostgreSQL's READ ONLY transactions")
    instance = engine.start(PID)
    for unit in (engine.store.read, engine.store.shared_reads):
        with pytest.raises(DBAPIError, match="read-only transaction"):
            if unit is engine.store.read:
                with unit() as session:
                    session.execute(text("UPDATE process_instance SET status = 'x' "
                                         "WHERE id = :i"), {"i": instance.id})
            else:
                with unit(), engine.store.read() as session:
                    session.execute(text("UPDATE process_instance SET status = 'x' "
                                         "WHERE id = :i"), {"i": instance.id})
    # and a writer on the same pooled connection writes again as before
    task_id = engine.tasks(instance_id=instance.id)[0]["id"]
    assert engine.complete(task_id, {}).status == "running"


def test_prepared_statements_outlive_the_read_units_on_postgres(deployed):
    """Completions with reads between them, as a worklist and its officer make them: by the
    fifth use on the connection psycopg prepares the completion's statements, and the read
    units in between (each one, or a page's shared one) no longer make it forget them."""
    engine = deployed
    if not engine.store.postgres:
        pytest.skip("psycopg's prepared statements")
    for n in range(4):
        instance = engine.start(PID)
        for _ in range(3):
            if n % 2:
                with engine.store.shared_reads():
                    task_id = engine.tasks(instance_id=instance.id)[0]["id"]
                    engine.instance(instance.id)
            else:
                task_id = engine.tasks(instance_id=instance.id)[0]["id"]
            engine.complete(task_id, {})
    with engine.store.read() as session:
        prepared = session.scalars(text(
            "SELECT statement FROM pg_prepared_statements")).all()
    assert any("FOR UPDATE OF process_instance" in s for s in prepared), prepared
    assert any("WITH saved AS" in s for s in prepared), prepared


def test_the_merged_save_is_planned_once_on_postgres(deployed):
    """The save's one statement (engine/saving.py, SAVE_ALL) keeps a generic plan once
    psycopg has prepared it, however many timers wait: its removed tasks and timers are an
    array the planner does not count, so a plan made for no ids in particular costs what one
    made for the given ids does. Written as a plain array, on a timer table of some size
    every save was planned anew (a custom plan for the few ids it was given)."""
    engine = deployed
    if not engine.store.postgres:
        pytest.skip("PostgreSQL's plan cache")
    waiting = engine.start(PID)  # other instances' waiting timers, as a regency has them
    with engine.store.transaction() as session:
        session.execute(text(
            "INSERT INTO timer (id, instance_id, element_id, kind, due_at) "
            "SELECT 'waiting-' || n, :i, 'watch', 'date', now() + interval '1 year' "
            "FROM generate_series(1, 50000) AS n"), {"i": waiting.id})
        session.execute(text("ANALYZE timer"))
    for _ in range(4):
        instance = engine.start(PID)
        for _ in range(3):  # each completion removes a task and opens the next
            engine.complete(engine.tasks(instance_id=instance.id)[0]["id"], {})
    with engine.store.read() as session:
        plans = session.execute(text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%WITH saved AS%'")).all()
    assert plans, "the save was never prepared"
    assert all(generic > 0 for generic, _ in plans), plans


def test_the_merged_save_goes_to_the_driver_as_compiled_text_seen_by_listeners(
        deployed, monkeypatch):
    engine = deployed
    if not engine.store.postgres:
        pytest.skip("PostgreSQL's merged save")
    from sqlalchemy.engine import Connection

    from engine.saving import SAVE_ALL
    constructs: list[Any] = []
    through = Connection._execute_clauseelement

    def spy(self: Any, element: Any, *args: Any, **kwargs: Any) -> Any:
        constructs.append(element)
        return through(self, element, *args, **kwargs)

    instance = engine.start(PID)
    task = engine.instance(instance.id)["tasks"][0]
    monkeypatch.setattr(Connection, "_execute_clauseelement", spy)
    with statements(engine.store) as seen:
        engine.complete(task["id"], {})
    assert SAVE_ALL not in constructs  # (its cache key, parameters, compiled context)
    assert sum(s.startswith("WITH saved AS") for s in seen) == 1  # counted as before
    assert [t["element_id"] for t in engine.instance(instance.id)["tasks"]] == ["two"]
