"""One read unit per GET request (engine/store.Store.shared_reads): the reads of a page share
one session, one connection and one transaction, whatever the layers that open them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError

from workflows.models import Agency


@contextmanager
def checkouts(store: Any) -> Iterator[list[int]]:
    """How many connections the store's pool hands out inside the block."""
    seen = [0]

    def count(*_args: Any) -> None:
        seen[0] += 1

    event.listen(store.db, "checkout", count)
    try:
        yield seen
    finally:
        event.remove(store.db, "checkout", count)


def test_reads_inside_shared_reads_are_one_session_and_one_checkout(engine):
    store = engine.store
    with checkouts(store) as seen:
        with store.read() as first:
            first.scalar(text("SELECT 1"))
        with store.read() as second:
            second.scalar(text("SELECT 1"))
    assert first is not second and seen[0] == 2  # outside: a unit each

    with checkouts(store) as seen, store.shared_reads():
        with store.read() as first:
            first.scalar(text("SELECT 1"))
            with store.read() as nested:  # a layer below opening its own read
                assert nested is first
        with store.read() as second:
            second.scalar(text("SELECT 1"))
        assert second is first
    assert seen[0] == 1
    # the unit ended with the block: the next read is a unit of its own again
    with store.read() as after:
        assert after is not first


def test_writes_inside_a_shared_read_commit_apart(engine):
    """A write unit inside the block is its own transaction: committed when it ends, seen by
    every unit after the block. (Inside it, PostgreSQL's reads see it at once, read
    committed; SQLite's shared snapshot, begun before, does not: GET requests only read.)"""
    store = engine.store
    postgres = store.postgres
    with store.shared_reads():
        with store.read() as session:
            session.scalar(select(Agency.id).limit(1))  # the snapshot begins
        with store.transaction() as writer:
            writer.add(Agency(code="uji_baca", name="Dinas Uji", kind="opd"))
        with store.read() as session:
            seen = session.scalar(select(Agency.code).where(Agency.code == "uji_baca"))
        assert seen == ("uji_baca" if postgres else None)
    with store.read() as session:
        assert session.scalar(select(Agency.code).where(Agency.code == "uji_baca")) == (
            "uji_baca")


def test_a_failed_statement_does_not_spoil_the_next_read_of_the_request(engine):
    store = engine.store
    with store.shared_reads():
        with pytest.raises(DBAPIError), store.read() as session:
            session.execute(text("SELECT * FROM no_such_table"))
        with store.read() as session:
            assert session.scalar(text("SELECT 1")) == 1


def test_a_get_request_takes_one_connection_whatever_it_reads(regency):
    """The API's list: the token's principal, the report page, the agencies and the read
    cache's log check, all on one connection."""
    regency.submit(photo=True)
    store = regency.engine.store
    headers = regency.headers("admin.kominfo")
    regency.client.get("/api/v1/complaints", headers=headers)  # notes the token's first use
    with checkouts(store) as seen:
        response = regency.client.get("/api/v1/complaints", headers=headers)
    assert response.status_code == 200 and response.get_json()["total"] == 1
    assert seen[0] == 1


def test_pages_read_once_per_request(site):
    site.login("admin.kominfo")
    tracking = site.regency.submit(photo=True)["tracking_number"]
    store = site.regency.engine.store
    for path in ("/tasks", f"/cases/{tracking}", "/board"):
        with checkouts(store) as seen:
            site.get(path)
        assert seen[0] == 1, path


def test_a_read_session_reads_the_agency_tree_once_a_write_session_each_time(engine):
    from workflows import access

    store = engine.store
    with store.transaction() as writer:
        writer.add(Agency(code="uji_pohon", name="Dinas Uji", kind="opd"))
    with store.shared_reads():
        with store.read() as session:
            table = access.agency_table(session)
            assert "uji_pohon" in {a.code for a in table.values()}
        with checkouts(store) as seen, store.transaction() as writer:
            writer.add(Agency(code="uji_cabang", name="Cabang Uji", kind="unit",
                              parent_id=next(a.id for a in table.values()
                                             if a.code == "uji_pohon")))
            writer.flush()
            # a session that writes sees its own rows
            assert "uji_cabang" in {a.code for a in access.agency_table(writer).values()}
        assert seen[0] == 1
        with store.read() as session:
            assert access.agency_table(session) is table  # the request's own, read once
    with store.read() as session:  # the next request reads the tree again
        parent = next(a.id for a in access.agency_table(session).values()
                      if a.code == "uji_pohon")
        assert len(access.subtree(session, parent)) == 2


def test_an_idle_connection_lost_meanwhile_is_replaced_before_use(postgres_url, monkeypatch):
    """PostgreSQL: a pooled connection idle for a while is pinged before use
    (engine/store.py), so a server that dropped it costs the next request nothing."""
    from engine import store as store_module
    from engine.store import Store

    store = Store(postgres_url)
    try:
        with store.read() as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
        other = Store(postgres_url, pool=False)
        try:  # the server drops it (a restart, a failover, a firewall)
            with other.transaction() as session:
                session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            other.dispose()
        monkeypatch.setattr(store_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        with store.read() as session:  # pinged, found dead, replaced
            assert session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        store.dispose()


def test_a_live_idle_connection_pinged_serves_readers_and_writers(postgres_url, monkeypatch):
    """PostgreSQL: the ping leaves no transaction behind, so the read unit's READ ONLY
    (engine/store.py, `_begin_read_only`) can still be set on the pinged connection, and a
    writer on it begins a transaction of its own that writes."""
    from engine import store as store_module
    from engine.store import Store

    store = Store(postgres_url)
    try:
        with store.read() as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
        monkeypatch.setattr(store_module, "PING_AFTER_IDLE_SECONDS", -1.0)
        with store.read() as session:  # pinged, alive, kept
            assert session.scalar(text("SELECT pg_backend_pid()")) == pid
            assert session.scalar(text("SHOW transaction_read_only")) == "on"
        with store.transaction() as session:  # pinged again, now for a writer
            assert session.scalar(text("SELECT pg_backend_pid()")) == pid
            assert session.scalar(text("SHOW transaction_read_only")) == "off"
            session.execute(text("CREATE TEMPORARY TABLE pinged (n int)"))
    finally:
        store.dispose()
