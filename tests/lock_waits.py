"""Making a PostgreSQL transaction wait at a lock in tests: two writers of one report, the
second made to wait for the first at the report's advisory lock (the statistics' triggers
take it: migrations 0035 and 0039), and the wait itself (tests/test_transient_failures.py
makes deadlocks with it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text


def until_waiting(waiting: Callable[[], bool], worker: threading.Thread,
                  message: str, seconds: float = 30.0) -> None:
    """Return once ``waiting()`` says the server has ``worker``'s transaction waiting at a
    lock; fail with ``message`` if the worker ended first or ``seconds`` passed. Ask it on a
    connection in autocommit (or end the transaction each time): PostgreSQL takes its view
    of the other backends (pg_stat_activity, pg_locks) once per transaction."""
    until = time.monotonic() + seconds
    while not waiting():
        assert worker.is_alive(), message
        assert time.monotonic() < until, message


def second_waits_for_first(db: Any, first_write: Any, second_write: Any) -> None:
    """``first_write(connection)`` in one transaction, then ``second_write(connection)`` in
    another (a thread of its own): the second must wait at a report's advisory lock until
    the first commits, then commit too."""
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with db.begin() as second:
                second.execute(text("SET LOCAL lock_timeout = '30s'"))
                second_write(second)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    with db.connect() as first, db.connect().execution_options(
            isolation_level="AUTOCOMMIT") as watcher:
        first.begin()
        first_write(first)
        writer = threading.Thread(target=second_writer)
        writer.start()
        # until the second writer waits for the report's lock (asked of the server)
        waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       "AND NOT granted")
        until_waiting(lambda: bool(watcher.execute(waiting).scalar()), writer,
                      "the second writer did not wait for the first")
        first.commit()
        writer.join()
    assert not errors, errors
