"""Concurrent writers on one database: no lost update, each timer fired exactly once."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from engine import Conflict, Engine, FrozenClock
from tests.conftest import START
from tests.diagram import linear, script_task, timer_event, user_task, write

DUE = START + timedelta(days=1)


def _race(engine: Engine, task_id: str) -> list[object]:
    barrier = threading.Barrier(2)
    results: list[object] = []
    lock = threading.Lock()

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            engine.complete(task_id, {"by": name}, actor=name)
            outcome: object = "ok"
        except Conflict as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("budi", "sari")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_two_threads_completing_one_task_give_one_success_and_one_conflict(
        backend, request, tmp_path, clock):
    url = request.getfixturevalue(f"{backend}_url")
    engine = Engine(url, clock=clock)
    try:
        engine.deploy([write(tmp_path, "race.bpmn", linear(
            "race", user_task("verify"), user_task("answer")))])
        for _ in range(10):
            inst = engine.start("race")
            task_id = engine.tasks(instance_id=inst.id)[0]["id"]
            results = _race(engine, task_id)
            assert sorted(map(str, results)).count("ok") == 1, results
            assert sum(isinstance(r, Conflict) for r in results) == 1, results
            detail = engine.instance(inst.id)
            completions = [e for e in detail["events"] if e["action"] == "complete_task"]
            assert len(completions) == 1
            assert detail["version"] == 2
    finally:
        engine.dispose()


def _complete_in_process(url: str, task_id: str, name: str, start_at: float,
                         queue: multiprocessing.Queue) -> None:
    import time

    engine = Engine(url, clock=FrozenClock(START))
    while time.time() < start_at:  # line both processes up on the same instant
        pass
    try:
        engine.complete(task_id, {"by": name}, actor=name)
        queue.put("ok")
    except Conflict as exc:
        queue.put(f"conflict: {exc}")
    finally:
        engine.dispose()


def test_two_processes_completing_one_task_give_one_success_and_one_conflict(
        postgres_url, tmp_path, clock):
    import time

    engine = Engine(postgres_url, clock=clock)
    engine.deploy([write(tmp_path, "race.bpmn", linear("race", user_task("verify")))])
    inst = engine.start("race")
    task_id = engine.tasks(instance_id=inst.id)[0]["id"]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 3
    procs = [context.Process(target=_complete_in_process,
                             args=(postgres_url, task_id, n, start_at, queue))
             for n in ("budi", "sari")]
    for p in procs:
        p.start()
    outcomes = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert outcomes[1] == "ok" and outcomes[0].startswith("conflict"), outcomes
    assert engine.instance(inst.id)["status"] == "completed"
    engine.dispose()


def _sweeper(url: str, now_iso: str, queue: multiprocessing.Queue) -> None:
    engine = Engine(url, clock=FrozenClock(START), pool=False)
    now = datetime.fromisoformat(now_iso)
    fired: list[str] = []
    failed: list[object] = []
    idle = 0
    while idle < 3:
        report = engine.fire_due_timers(now=now, limit=25)
        fired += [f["timer_id"] for f in report.fired]
        failed += report.failed
        idle = idle + 1 if not report.fired else 0
    engine.dispose()
    queue.put((fired, failed))


def _sweep_with_processes(url: str, tmp_path, count: int, workers: int) -> None:
    engine = Engine(url, clock=FrozenClock(START))
    engine.deploy([write(tmp_path, "deadline.bpmn", linear(
        "deadline", timer_event("due", "timeDate", "deadline"),
        script_task("escalate", "escalations = escalations + 1")))])
    deadline = DUE.isoformat()
    for _ in range(count):
        engine.start("deadline", {"deadline": deadline, "escalations": 0})
    assert len(engine.timers(limit=count + 1)) == count
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=_sweeper, args=(url, DUE.isoformat(), queue))
             for _ in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    fired = [t for worker_fired, _ in results for t in worker_fired]
    failed = [f for _, worker_failed in results for f in worker_failed]
    assert failed == []
    assert len(fired) == count and len(set(fired)) == count  # all, and none twice
    with engine.store.db.connect() as connection:
        per_instance = connection.execute(text(
            "SELECT instance_id, count(*) FROM instance_event WHERE action = 'timer_fired' "
            "GROUP BY instance_id")).all()
        statuses = connection.execute(text(
            "SELECT status, count(*) FROM process_instance GROUP BY status")).all()
        waiting = connection.execute(text("SELECT count(*) FROM timer")).scalar_one()
    assert len(per_instance) == count and {n for _, n in per_instance} == {1}
    assert dict(statuses) == {"completed": count}
    assert waiting == 0
    engine.dispose()


@pytest.mark.slow
def test_four_processes_sweeping_1200_due_timers_fire_each_exactly_once(postgres_url, tmp_path):
    # 1,200 (2,500 until the suite took 20 minutes): each of the four still claims dozens of
    # batches of the same due rows as the others
    _sweep_with_processes(postgres_url, tmp_path, count=1200, workers=4)


@pytest.mark.slow
def test_four_processes_sweeping_on_sqlite_fire_each_exactly_once(sqlite_url, tmp_path):
    _sweep_with_processes(sqlite_url, tmp_path, count=300, workers=4)


def test_the_timer_projection_is_ordered_by_due_time(engine, tmp_path):
    engine.deploy([write(tmp_path, "deadline.bpmn", linear(
        "deadline", timer_event("due", "timeDate", "deadline")))])
    for day in (5, 3, 4):
        engine.start("deadline", {"deadline": datetime(2026, 3, day, tzinfo=UTC).isoformat()})
    assert [t["due_at"][:10] for t in engine.timers()] == ["2026-03-03", "2026-03-04",
                                                           "2026-03-05"]


def test_a_claim_takes_no_more_than_its_limit(make_engine, clock, tmp_path):
    engine = make_engine()
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"')))])
    for _ in range(12):
        engine.start("wait")
    clock.advance(minutes=1)
    assert len(engine.timer_sweep.claim(clock.now(), 3)) == 3
    assert len(engine.timer_sweep.claim(clock.now(), 3)) == 3
    assert len(engine.fire_due_timers(limit=100).fired) == 6  # the other six, unclaimed


def test_reports_filed_at_once_as_the_years_first_get_distinct_numbers(database_url, tmp_path):
    """The tracking counter is one upsert: eight reports racing to be the year's first (no
    counter row yet) take numbers 1 to 8, none twice, none refused."""
    from tests.regency import build

    regency = build(database_url, FrozenClock(START), tmp_path)
    try:
        barrier = threading.Barrier(8)
        numbers: list[str] = []
        failures: list[BaseException] = []
        lock = threading.Lock()
        payload = {"classification": "aspirasi", "category": "other", "title": "Taman kota",
                   "body": "Mohon taman kota diberi lampu.", "anonymous": True}

        def file_one() -> None:
            barrier.wait()
            try:
                receipt = regency.domain.reports.submit(payload)
            except BaseException as exc:  # noqa: BLE001 - reported below
                with lock:
                    failures.append(exc)
                return
            with lock:
                numbers.append(receipt["tracking_number"])

        threads = [threading.Thread(target=file_one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        year = START.year
        assert sorted(numbers) == [f"PPU-{year}-{n:06d}" for n in range(1, 9)]
    finally:
        regency.engine.dispose()
