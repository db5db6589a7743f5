"""Migration 0042: on PostgreSQL a process instance's saved state is compressed with lz4, and
a state written under either method reads back the same after going down and up again; on
SQLite the migration changes nothing."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

import migrations
from engine import Engine
from tests.diagram import linear, timer_event, write

COMPRESSION = text("SELECT attcompression FROM pg_attribute WHERE attname = 'state' "
                   "AND attrelid = 'process_instance'::regclass")
WRITTEN_WITH = text("SELECT pg_column_compression(state) FROM process_instance WHERE id = :i")


def _started(url: str, clock, tmp_path) -> tuple[Engine, int]:
    """An instance waiting on a timer, its state about 30 KB (as a report's is after weeks
    of watches) by a variable of its own."""
    engine = Engine(url, clock=clock)
    engine.deploy([write(tmp_path, "wait.bpmn", linear(
        "wait", timer_event("due", "timeDuration", '"PT1M"')))])
    notes = [{"at": f"2026-03-{i % 28 + 1:02d}", "rung": i % 5, "n": i * 7919 % 10007}
             for i in range(600)]
    return engine, engine.start("wait", {"notes": notes}).id


def _rewrite(engine: Engine, instance_id: int, state: str) -> None:
    """The same text written again by hand, compressed with the column's method of now."""
    with engine.store.db.begin() as conn:
        conn.execute(text("UPDATE process_instance SET state = :s WHERE id = :i"),
                     {"s": state, "i": instance_id})


def _read(engine: Engine, instance_id: int) -> tuple[str, str | None]:
    """The state as read back, and the method it is stored with (None on SQLite)."""
    with engine.store.db.connect() as conn:
        state = conn.execute(text("SELECT state FROM process_instance WHERE id = :i"),
                             {"i": instance_id}).scalar()
        method = (conn.execute(WRITTEN_WITH, {"i": instance_id}).scalar()
                  if engine.store.postgres else None)
    return state, method


def _column(engine: Engine) -> str | None:
    if not engine.store.postgres:
        return None
    with engine.store.db.connect() as conn:
        return conn.execute(COMPRESSION).scalar()


def test_the_saved_state_is_written_with_lz4_and_reads_back_both_ways(database_url, clock,
                                                                     tmp_path):
    engine, instance_id = _started(database_url, clock, tmp_path)
    config = migrations.alembic_config(database_url)
    pg = engine.store.postgres
    try:
        saved, method = _read(engine, instance_id)
        assert len(saved) > 20_000
        assert (_column(engine), method) == (("l", "lz4") if pg else (None, None))

        command.downgrade(config, "0041_stats_trigger_plans")
        assert _column(engine) == ("" if pg else None)  # the server's default
        assert _read(engine, instance_id) == (saved, "lz4" if pg else None)
        _rewrite(engine, instance_id, saved)
        assert _read(engine, instance_id) == (saved, "pglz" if pg else None)
    finally:
        command.upgrade(config, "head")
    assert _column(engine) == ("l" if pg else None)
    assert _read(engine, instance_id) == (saved, "pglz" if pg else None)  # as written
    # The engine reads it and writes it back with lz4 at its next save.
    clock.advance(minutes=1)
    assert engine.fire_due_timers().fired
    assert engine.instance(instance_id)["status"] == "completed"
    assert _read(engine, instance_id)[1] == ("lz4" if pg else None)
    engine.dispose()
