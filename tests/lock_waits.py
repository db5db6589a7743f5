"""Two PostgreSQL writers of one report, the second made to wait for the first at the
report's advisory lock (the statistics' triggers take it: migrations 0035 and 0039)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import text


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

    with db.connect() as first, db.connect() as watcher:
        first.begin()
        first_write(first)
        writer = threading.Thread(target=second_writer)
        writer.start()
        # until the second writer waits for the report's lock (asked of the server)
        waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                       "AND NOT granted")
        while writer.is_alive() and not watcher.execute(waiting).scalar():
            watcher.rollback()
        assert writer.is_alive(), "the second writer did not wait for the first"
        first.commit()
        writer.join()
    assert not errors, errors
