"""Failing tasks become incidents on their own instance; others carry on; retry resumes."""

from __future__ import annotations

import pytest

from engine import Conflict
from tests.diagram import linear, script_task, service_task, timer_event, user_task, write


def test_a_script_error_records_element_message_and_line(engine, tmp_path):
    engine.deploy([write(tmp_path, "calc.bpmn", linear(
        "calc", script_task("divide", "a = 1\nb = total / count\nc = 2"), user_task("after")))])
    broken = engine.start("calc", {"total": 10, "count": 0})
    healthy = engine.start("calc", {"total": 10, "count": 2})
    detail = engine.instance(broken.id)
    assert detail["status"] == "error"
    incident = detail["incident"]
    assert incident["element_id"] == "divide"
    assert incident["line"] == 2
    assert "ZeroDivisionError" in incident["message"] or "division" in incident["message"]
    assert detail["tasks"] == []
    assert engine.instance(healthy.id)["status"] == "running"
    assert [i["instance_id"] for i in engine.incidents()] == [broken.id]


def test_a_failing_service_is_an_incident_with_its_own_message_and_retry_resumes(
        make_engine, tmp_path):
    calls = {"n": 0}

    def lookup(code: str) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("SIMPEG is unreachable")
        return {"agency": "dinas_pupr", "code": code}

    engine = make_engine(services={"lookup_agency": lookup})
    engine.deploy([write(tmp_path, "svc.bpmn", linear(
        "svc", service_task("find_agency", "lookup_agency", {"code": "category"}, "agency"),
        user_task("handle")))])
    inst = engine.start("svc", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "find_agency"
    assert "SIMPEG is unreachable" in detail["incident"]["message"]
    summary = engine.retry(inst.id, actor="operator")
    assert summary.status == "running"
    detail = engine.instance(inst.id)
    assert detail["data"]["agency"] == {"agency": "dinas_pupr", "code": "roads"}
    assert [t["element_id"] for t in detail["tasks"]] == ["handle"]
    assert detail["incident"] is None
    assert engine.incidents() == []
    assert len(engine.incidents(open_only=False)) == 1
    assert [e["action"] for e in detail["events"]] == ["start", "retry"]


def test_an_unregistered_service_is_named_in_the_incident(engine, tmp_path):
    engine.deploy([write(tmp_path, "svc.bpmn", linear(
        "svc", service_task("find_agency", "no_such_service", {}, "x")))])
    inst = engine.start("svc")
    assert "no_such_service" in engine.instance(inst.id)["incident"]["message"]


def test_retry_is_refused_for_a_healthy_instance(engine, tmp_path):
    engine.deploy([write(tmp_path, "ok.bpmn", linear("ok", user_task("t")))])
    inst = engine.start("ok")
    with pytest.raises(Conflict, match="not in error"):
        engine.retry(inst.id)


def test_a_post_script_failure_reopens_the_task_on_retry_and_keeps_the_audit(engine, tmp_path):
    engine.deploy([write(tmp_path, "post.bpmn", linear(
        "post", user_task("rate", post="stars = int(rating)"), user_task("thanks")))])
    inst = engine.start("post")
    task = engine.tasks(instance_id=inst.id)[0]
    engine.complete(task["id"], {"rating": "lima"}, actor="warga")
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "rate"
    assert detail["tasks"] == []  # nothing can be completed while the instance is in error
    assert detail["events"][-1]["detail"]["data"] == {"rating": "lima"}  # what was submitted
    engine.retry(inst.id)
    again = engine.tasks(instance_id=inst.id)
    assert [t["element_id"] for t in again] == ["rate"]
    engine.complete(again[0]["id"], {"rating": "5"})
    detail = engine.instance(inst.id)
    assert detail["data"]["stars"] == 5
    assert [t["element_id"] for t in detail["tasks"]] == ["thanks"]


# --------------------------------------------------------------------------- one bad instance

DEEP_LIST = "x = []\nfor i in range(100000):\n    x = [x]"


def _timed(pid: str, *elements: str) -> str:
    return linear(pid, timer_event("wait", "timeDuration", '"PT1H"'), *elements,
                  user_task("after"))


def test_state_too_deep_to_save_is_an_incident_and_the_sweep_fires_the_others(
        engine, clock, tmp_path):
    engine.deploy([write(tmp_path, "deep.bpmn", _timed("deep", script_task("build", DEEP_LIST)))])
    engine.deploy([write(tmp_path, "plain.bpmn", _timed("plain", script_task("note", "y = 1")))])
    bad = engine.start("deep")
    good = [engine.start("plain") for _ in range(3)]
    clock.advance(hours=2)
    report = engine.fire_due_timers()  # must not raise
    assert sorted(f["instance_id"] for f in report.fired if not f["incident"]) == sorted(
        g.id for g in good)
    for g in good:
        assert [t["element_id"] for t in engine.instance(g.id)["tasks"]] == ["after"]
    detail = engine.instance(bad.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "build"
    assert "deep" in detail["incident"]["message"]
    assert [f["instance_id"] for f in report.failed] == [bad.id]
    assert engine.fire_due_timers().fired == []  # nothing claimed again behind it


def test_any_exception_while_firing_one_instance_becomes_its_incident(
        make_engine, clock, tmp_path):
    engine = make_engine()
    engine.deploy([write(tmp_path, "plain.bpmn", _timed("plain", script_task("note", "y = 1")))])
    bad = engine.start("plain")
    good = [engine.start("plain") for _ in range(2)]

    def broken_host(change):  # a host listener with a bug, for one instance only
        if change.operation.instance_id == bad.id:
            raise RuntimeError("listener bug")

    engine.add_listener(broken_host)
    clock.advance(hours=2)
    report = engine.fire_due_timers()
    assert sorted(f["instance_id"] for f in report.fired) == sorted(g.id for g in good)
    detail = engine.instance(bad.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "wait"
    assert "listener bug" in detail["incident"]["message"]
    assert detail["timers"] == []
    assert [f["instance_id"] for f in report.failed] == [bad.id]
    assert engine.fire_due_timers().fired == []


def test_a_start_whose_state_cannot_be_saved_is_an_incident_not_a_crash(engine, tmp_path):
    engine.deploy([write(tmp_path, "deep.bpmn", linear(
        "deep", script_task("build", DEEP_LIST), user_task("after")))])
    inst = engine.start("deep")
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "build"


def test_a_script_leaving_an_unstorable_value_names_the_variable(engine, tmp_path):
    engine.deploy([write(tmp_path, "r.bpmn", linear(
        "r", script_task("make", "ok = [1, 2]\nr = range(3)"), user_task("after")))])
    detail = engine.instance(engine.start("r").id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "make"
    assert "'r'" in detail["incident"]["message"] and "range" in detail["incident"]["message"]


def test_a_service_result_too_deep_to_store_is_the_service_tasks_incident(
        make_engine, tmp_path):
    def deep() -> list:
        value: list = []
        for _ in range(100_000):
            value = [value]
        return value

    engine = make_engine(services={"deep": deep})
    engine.deploy([write(tmp_path, "svc.bpmn", linear(
        "svc", service_task("fetch", "deep", {}, "result"), user_task("after")))])
    detail = engine.instance(engine.start("svc").id)
    assert detail["status"] == "error"
    assert detail["incident"]["element_id"] == "fetch"


def test_state_that_fails_to_save_keeps_the_last_saved_state_in_error(engine, tmp_path):
    """A decision output is not a script's variable: the save itself refuses it, and the
    instance keeps the state it had, in error, with the decision's element named."""
    from engine import SourceFile
    from tests.test_definitions import dmn, rule_task

    engine.deploy([
        SourceFile("ruled.bpmn", linear("ruled", user_task("first"),
                                        rule_task("assess", "priority_table"),
                                        user_task("after"))),
        SourceFile("priority.dmn", dmn("priority_table", [("", "range(3)")]))])
    inst = engine.start("ruled", {"category": "roads"})
    task = engine.instance(inst.id)["tasks"][0]
    engine.complete(task["id"], {})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error"
    assert "cannot be saved" in detail["incident"]["message"]
    assert detail["incident"]["element_id"] == "assess"
    assert detail["tasks"] == []


def _writer(name: str, calls: list[str], fail_first: bool = False):
    """A service that writes one row (a tracking counter named after it) in the operation's
    transaction; with fail_first, its first call writes and then fails."""
    from engine import current_operation
    from workflows.models import TrackingCounter

    def service(code: str) -> str:
        calls.append(name)
        session = current_operation().session
        session.add(TrackingCounter(prefix=f"{name}-{len(calls)}", year=2026, last=1))
        session.flush()
        if fail_first and calls.count(name) == 1:
            raise ConnectionError(f"{name} failed after writing")
        return code

    return service


def _counters(engine) -> list[str]:
    from sqlalchemy import select

    from workflows.models import TrackingCounter
    with engine.store.transaction() as session:
        return sorted(session.scalars(select(TrackingCounter.prefix)))


def _two_services(engine, tmp_path, first: str, second: str) -> None:
    engine.deploy([write(tmp_path, "pair.bpmn", linear(
        "pair", service_task("call_one", first, {"code": "category"}, "a"),
        service_task("call_two", second, {"code": "category"}, "b"), user_task("handle")))])


def test_replayable_services_need_no_savepoint_in_a_command(make_engine, tmp_path):
    """A command (start, complete) replays its whole transaction if one fails, so its
    replayable services run with no savepoint at all."""
    from sqlalchemy import event

    calls: list[str] = []
    engine = make_engine()
    engine.register_service("first", _writer("first", calls), replayable=True)
    engine.register_service("second", _writer("second", calls), replayable=True)
    _two_services(engine, tmp_path, "first", "second")
    savepoints: list[str] = []
    event.listen(engine.store.db, "before_cursor_execute",
                 lambda c, cur, statement, *a: savepoints.append(statement)
                 if statement.startswith("SAVEPOINT") else None)
    inst = engine.start("pair", {"category": "roads"})
    assert engine.instance(inst.id)["status"] == "running"
    assert calls == ["first", "second"] and savepoints == []
    assert _counters(engine) == ["first-1", "second-2"]


def test_a_replayable_service_failing_is_replayed_and_leaves_exactly_its_own_rows_out(
        make_engine, tmp_path):
    """The second service writes, then fails: the shared savepoint is rolled back and the
    operation replayed with a savepoint per call. The first service's row stays (once), the
    failing one leaves none, the incident names it, and a retry completes it."""
    calls: list[str] = []
    engine = make_engine()
    engine.register_service("first", _writer("first", calls), replayable=True)
    engine.register_service("second", _writer("second", calls, fail_first=True),
                            replayable=True)
    _two_services(engine, tmp_path, "first", "second")
    inst = engine.start("pair", {"category": "roads"})
    detail = engine.instance(inst.id)
    # replayed: first ran again; second succeeded the second time (a transient failure)
    assert calls == ["first", "second", "first", "second"]
    assert detail["status"] == "running"
    assert _counters(engine) == ["first-3", "second-4"]


def test_a_failure_that_repeats_on_replay_is_an_incident_with_the_rows_before_it(
        make_engine, tmp_path):
    calls: list[str] = []
    engine = make_engine()

    def broken(code: str) -> str:
        from engine import current_operation
        from workflows.models import TrackingCounter
        calls.append("broken")
        current_operation().session.add(TrackingCounter(prefix="broken", year=2026, last=1))
        current_operation().session.flush()
        raise ConnectionError("always down")

    engine.register_service("first", _writer("first", calls), replayable=True)
    engine.register_service("broken", broken, replayable=True)
    _two_services(engine, tmp_path, "first", "broken")
    inst = engine.start("pair", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error" and detail["incident"]["element_id"] == "call_two"
    assert "always down" in detail["incident"]["message"]
    assert calls == ["first", "broken", "first", "broken"]
    assert _counters(engine) == ["first-3"]  # the replay's row; the failing one left none


def test_a_service_that_is_not_replayable_is_never_called_twice(make_engine, tmp_path):
    calls: list[str] = []
    engine = make_engine()
    engine.register_service("outside", _writer("outside", calls))  # e.g. a remote call
    engine.register_service("second", _writer("second", calls, fail_first=True),
                            replayable=True)
    _two_services(engine, tmp_path, "outside", "second")
    inst = engine.start("pair", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert calls == ["outside", "second"]  # no replay once it ran
    assert detail["status"] == "error" and detail["incident"]["element_id"] == "call_two"
    assert _counters(engine) == ["outside-1"]
    assert engine.retry(inst.id).status == "running"
    assert calls == ["outside", "second", "second"]
    assert _counters(engine) == ["outside-1", "second-3"]


def _later_with_a_failing_second_service(engine, tmp_path, calls: list[str]) -> None:
    """A timer, then two replayable services that write; the second fails its first call."""
    engine.register_service("first", _writer("first", calls), replayable=True)
    engine.register_service("second", _writer("second", calls, fail_first=True),
                            replayable=True)
    engine.deploy([write(tmp_path, "later.bpmn", _timed(
        "later", service_task("call_one", "first", {"code": "category"}, "a"),
        service_task("call_two", "second", {"code": "category"}, "b")))])


def _statements(engine) -> list[str]:
    """The SQL the engine's database is sent from now on."""
    from sqlalchemy import event

    sent: list[str] = []
    event.listen(engine.store.db, "before_cursor_execute",
                 lambda c, cur, statement, *a: sent.append(statement))
    return sent


def test_a_timer_firing_alone_replays_its_transaction_on_failure(make_engine, clock, tmp_path):
    """The sweep fires an instance alone like a command: its replayable services run with no
    savepoint; when one fails the firing's transaction is rolled back and run again with a
    savepoint per call, so the failing first attempt leaves no row."""
    calls: list[str] = []
    engine = make_engine()
    _later_with_a_failing_second_service(engine, tmp_path, calls)
    inst = engine.start("later", {"category": "roads"})
    statements = _statements(engine)
    clock.advance(hours=2)
    report = engine.fire_due_timers()
    assert [f["incident"] for f in report.fired] == [None]
    assert calls == ["first", "second", "first", "second"]  # the firing ran again
    assert _counters(engine) == ["first-3", "second-4"]  # the first attempt left nothing
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    assert len(savepoints) == 2  # none in the first attempt, one per call in the replay
    assert engine.instance(inst.id)["status"] == "running"


def test_in_a_batch_of_firings_the_services_share_one_savepoint_replayed_in_place(
        make_engine, clock, tmp_path):
    """Several instances fired in one transaction (PostgreSQL, TimerSweep.per_transaction):
    each firing's replayable services share one savepoint; when one fails only that
    firing is rolled back and replayed in place, the batch's other firing keeps its rows."""
    calls: list[str] = []
    engine = make_engine()
    if not engine.store.postgres:
        pytest.skip("batched firings are PostgreSQL's (SQLite fires one at a time)")
    engine.timer_sweep.per_transaction = 8
    _later_with_a_failing_second_service(engine, tmp_path, calls)
    one = engine.start("later", {"category": "roads"})
    two = engine.start("later", {"category": "roads"})
    statements = _statements(engine)
    clock.advance(hours=2)
    report = engine.fire_due_timers()
    assert sorted(f["instance_id"] for f in report.fired) == sorted([one.id, two.id])
    assert [f["incident"] for f in report.fired] == [None, None]
    # the first firing: first, second (fails), replayed: first, second; then the other's
    assert calls == ["first", "second", "first", "second", "first", "second"]
    assert _counters(engine) == ["first-3", "first-5", "second-4", "second-6"]
    savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
    assert len(savepoints) == 4  # shared, two in the replay; shared for the other
    assert {engine.instance(i.id)["status"] for i in (one, two)} == {"running"}


def _unflushed_writer(name: str, calls: list[str], prefix: str | None = None,
                      staged: bool = False):
    """A service that adds one row and leaves it to the operation's flush (as the
    complaint's services do: workflows/operation.py, `reading`), or stages it
    (Operation.stage, as `insert_row` does); with `prefix`, a row whose key another row
    already holds, which the database refuses when it is written."""
    from engine import current_operation
    from workflows.models import TrackingCounter

    def service(code: str) -> str:
        calls.append(name)
        row = {"prefix": prefix or f"{name}-{len(calls)}", "year": 2026, "last": 1}
        if staged:
            current_operation().stage(TrackingCounter.__table__, row)
        else:
            current_operation().session.add(TrackingCounter(**row))
        return code

    return service


def _taken(engine, prefix: str) -> None:
    from workflows.models import TrackingCounter
    with engine.store.transaction() as session:
        session.add(TrackingCounter(prefix=prefix, year=2026, last=1))


@pytest.mark.parametrize("staged", [False, True], ids=["orm", "staged"])
def test_a_row_refused_at_the_operations_flush_is_the_incident_of_the_service_that_wrote_it(
        make_engine, tmp_path, staged):
    """Replayable services' rows are flushed once, after the engine steps: a row the
    database refuses there voids the attempt, and the replay (a savepoint per call, each
    flushed at its end) names the service that wrote it and keeps the other's row."""
    calls: list[str] = []
    engine = make_engine()
    engine.register_service("first", _unflushed_writer("first", calls, staged=staged),
                            replayable=True)
    engine.register_service("second", _unflushed_writer("second", calls, prefix="taken",
                                                        staged=staged), replayable=True)
    _two_services(engine, tmp_path, "first", "second")
    _taken(engine, "taken")
    inst = engine.start("pair", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert calls == ["first", "second", "first", "second"]
    assert detail["status"] == "error" and detail["incident"]["element_id"] == "call_two"
    assert _counters(engine) == ["first-3", "taken"]


@pytest.mark.parametrize("staged", [False, True], ids=["orm", "staged"])
def test_in_a_batch_a_row_refused_at_the_firings_flush_is_replayed_in_place(
        make_engine, clock, tmp_path, staged):
    """The same in a batch of firings sharing one transaction (PostgreSQL): the firing's
    shared savepoint is rolled back, the firing replayed with a savepoint per call, and the
    batch's other firing keeps its rows."""
    calls: list[str] = []
    engine = make_engine()
    if not engine.store.postgres:
        pytest.skip("batched firings are PostgreSQL's (SQLite fires one at a time)")
    engine.timer_sweep.per_transaction = 8
    refused: list[str] = []

    def second(code: str) -> str:  # refused once: the first firing's first attempt
        return _unflushed_writer("second", calls, "taken" if not refused else None,
                                 staged)(code)

    def refuse_once(code: str) -> str:
        result = second(code)
        refused.append(code)
        return result

    engine.register_service("first", _unflushed_writer("first", calls, staged=staged),
                            replayable=True)
    engine.register_service("second", refuse_once, replayable=True)
    engine.deploy([write(tmp_path, "later.bpmn", _timed(
        "later", service_task("call_one", "first", {"code": "category"}, "a"),
        service_task("call_two", "second", {"code": "category"}, "b")))])
    _taken(engine, "taken")
    one = engine.start("later", {"category": "roads"})
    two = engine.start("later", {"category": "roads"})
    clock.advance(hours=2)
    report = engine.fire_due_timers()
    assert sorted(f["instance_id"] for f in report.fired) == sorted([one.id, two.id])
    assert [f["incident"] for f in report.fired] == [None, None]
    assert calls == ["first", "second", "first", "second", "first", "second"]
    assert _counters(engine) == ["first-3", "first-5", "second-4", "second-6", "taken"]
    assert {engine.instance(i.id)["status"] for i in (one, two)} == {"running"}


def test_staged_rows_are_written_in_order_and_a_failing_careful_call_leaves_none(
        make_engine, tmp_path):
    """Rows staged by the services reach the database in the order they were staged, one
    statement per run of rows with the same columns; a service that is not replayable runs
    in its own savepoint, so the rows it staged before failing are never written, while
    the replayable service's before it are."""
    calls: list[str] = []
    engine = make_engine()
    engine.register_service("first", _unflushed_writer("first", calls, staged=True),
                            replayable=True)

    def outside(code: str) -> str:  # not replayable: a savepoint of its own
        from engine import current_operation
        from workflows.models import TrackingCounter
        calls.append("outside")
        current_operation().stage(TrackingCounter.__table__,
                                  {"prefix": "outside", "year": 2026, "last": 1})
        raise ConnectionError("remote system down")

    engine.register_service("outside", outside)
    _two_services(engine, tmp_path, "first", "outside")
    sent = _statements(engine)
    inst = engine.start("pair", {"category": "roads"})
    detail = engine.instance(inst.id)
    assert detail["status"] == "error" and detail["incident"]["element_id"] == "call_two"
    assert _counters(engine) == ["first-1"]
    inserts = [s for s in sent if s.startswith("INSERT INTO tracking_counter")]
    assert len(inserts) == 1  # first's row, written before the savepoint; outside's never
