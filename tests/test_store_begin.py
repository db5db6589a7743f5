"""How SQLite units begin (engine/store.py): a writer takes the write lock at its BEGIN, a
reader begins deferred and never holds a writer up, and the writers' engine carries no
connection event listener (SQLAlchemy would dispatch its execution events around every
statement: issue 17)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'begin.db'}")
    with made.transaction() as session:
        session.execute(text("CREATE TABLE t (id int)"))
    try:
        yield made
    finally:
        made.db.dispose()


def _other_writer_begins(store: Store) -> bool:
    """Whether another connection can take the write lock now (without waiting)."""
    other = sqlite3.connect(store.db.url.database, timeout=0.05, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    else:
        other.execute("ROLLBACK")
        return True
    finally:
        other.close()


def test_a_writer_holds_the_write_lock_from_its_first_statement(store: Store) -> None:
    with store.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0  # a read only
        assert not _other_writer_begins(store)
    assert _other_writer_begins(store)


def test_a_reader_begins_deferred_and_holds_no_writer_up(store: Store) -> None:
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        connection = session.connection().connection.dbapi_connection
        assert connection.in_transaction  # its reads see one snapshot
        assert _other_writer_begins(store)


def test_writers_send_their_statements_without_event_dispatch(store: Store) -> None:
    assert not store.db._has_events  # SQLAlchemy's flag: no connection listener on writers
    assert store.read_sessions.kw["bind"]._has_events  # the reader's own "begin" listener
