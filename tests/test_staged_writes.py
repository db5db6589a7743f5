"""engine/operation.py: what host services stage (rows of insert-only tables, updates of one
row by key) is written with the operation's other rows. tests/test_incidents.py has the
failure cases, tests/test_sla_watch.py the watch's one statement on PostgreSQL."""

from __future__ import annotations

from tests.test_incidents import _taken, _two_services


def test_staged_updates_of_one_row_are_merged_and_written_before_a_read_of_their_table(
        make_engine, tmp_path):
    """A service's staged update (Operation.stage_update) is written with the staged rows;
    a second update of the same row before then adds its values to the first (one
    statement may not update a row twice), and a later service that reads the table
    (workflows/operation.py, `reading`) finds the row updated."""
    from sqlalchemy import select

    from engine import current_operation
    from workflows.models import TrackingCounter
    from workflows.operation import reading

    table = TrackingCounter.__table__
    _taken(make_engine(), "kept")
    seen: list[tuple[str, int, int]] = []

    def climb(code: str) -> str:
        operation = current_operation()
        operation.stage(table, {"prefix": "new", "year": 2026, "last": 1})
        operation.stage_update(table, {"prefix": "kept", "year": 2026}, {"last": 7})
        operation.stage_update(table, {"prefix": "kept", "year": 2026}, {"year": 2027})
        return code

    def read(code: str) -> str:
        session = current_operation().session
        with reading(session, TrackingCounter):
            seen.extend(session.execute(select(TrackingCounter.prefix, TrackingCounter.year,
                                               TrackingCounter.last)
                                        .order_by(TrackingCounter.prefix)).tuples())
        return code

    engine = make_engine()
    engine.register_service("first", climb, replayable=True)
    engine.register_service("second", read, replayable=True)
    _two_services(engine, tmp_path, "first", "second")
    inst = engine.start("pair", {"category": "roads"})
    assert engine.instance(inst.id)["status"] == "running"
    assert seen == [("kept", 2027, 7), ("new", 2026, 1)]
