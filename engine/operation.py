"""The operation in progress: what host services and listeners may know about it."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.store import transient_failure

log = logging.getLogger(__name__)
_INSERTS: dict[Table, Any] = {}


def _insert(table: Table) -> Any:
    """`insert(table)`, built once per table (its building and cache key cost more Python
    calls than its execution)."""
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


@dataclass
class Operation:
    """One engine mutation: its transaction, its instance, its instant and its actor.

    Host services called from a diagram run inside this transaction: what they write commits
    or rolls back together with the instance's new state.
    """

    session: Session
    instance_id: int
    process_id: str
    business_key: str | None
    now: datetime
    actor: str | None
    action: str
    prepared: Mapping[str, Any] | None = None
    # What the caller said of the action, as recorded in the audit event (a cancel's reason).
    detail: Mapping[str, Any] | None = None
    # The host's own memo for this operation (rows its services loaded once and share: the
    # engine never reads it). It lives as long as the operation's transaction.
    memo: dict[str, Any] = field(default_factory=dict)
    # How host services' writes are guarded (engine/transaction.py, InstanceTransaction.run):
    # not careful, the first service call opens `savepoint` for all of the operation's;
    # careful, each call runs in a savepoint of its own.
    careful: bool = True
    savepoint: Any = None
    tainted: bool = False  # a service failed under the shared savepoint
    shared_savepoint: bool = True  # False: the command replays instead (REPLAY is FAST)
    # Insert-only rows the host staged (`stage`), by table, not yet written.
    staged: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)

    def stage(self, table: Table, row: dict[str, Any]) -> None:
        """A row for an insert-only table (a history entry, a message), written with the
        operation's other rows of that table by one statement (`write_staged`): when the
        services' rows are flushed, at the end of each service call run in a savepoint of
        its own, before the host reads the table, and at the latest before the instance's
        own rows. Nothing may change it after: it is not an ORM object."""
        self.staged.setdefault(table, []).append(row)

    def write_staged(self, tables: Collection[Table] | None = None) -> None:
        """Insert the staged rows (of `tables`, or all) in the order they were staged: one
        statement for each run of rows with the same columns."""
        if not self.staged:
            return
        connection = self.session.connection()
        for table in [t for t in self.staged if tables is None or t in tables]:
            rows = self.staged.pop(table)
            start = 0
            for end in range(1, len(rows) + 1):
                if end == len(rows) or rows[end].keys() != rows[start].keys():
                    connection.execute(_insert(table), rows[start:end])
                    start = end

    def flush_services(self) -> None:
        """Write what the replayable services left unflushed and staged, once, after the
        engine steps (rather than one flush per query or service: workflows/operation.py,
        `reading`). A row the database refuses is their failure (`tainted`): replayed with
        a savepoint per call, whose end writes that call's rows and so names the service."""
        if self.careful or self.tainted or (self.savepoint is None and self.shared_savepoint):
            return  # careful: each call written at its savepoint's end; else before the save
        try:
            self.session.flush()
            self.write_staged()
        except SQLAlchemyError:
            self.tainted = True


@dataclass(frozen=True)
class InstanceChange:
    """What one mutation did to an instance, handed to listeners before the commit."""

    operation: Operation
    status_before: str
    status_after: str
    data: Mapping[str, Any]
    opened_tasks: list[dict[str, Any]] = field(default_factory=list)
    closed_task_ids: list[str] = field(default_factory=list)
    incident: str | None = None


T = TypeVar("T")
Hook = Callable[[Operation], "Mapping[str, Any] | None"]
# A business key, or a function of the starting transaction's session that allocates one.
BusinessKey = str | Callable[[Session], str]

# How a command's host services guard their writes (see InstanceTransaction.run): FAST, no
# savepoint at all (the command runs again, CAREFUL, if one fails); CAREFUL, a savepoint per
# call; unset, one savepoint shared by the operation's calls.
FAST, CAREFUL = "fast", "careful"
REPLAY: contextvars.ContextVar[str | None] = contextvars.ContextVar("aduan_replay",
                                                                    default=None)


class ReplayCarefully(Exception):
    """A replayable service failed in a FAST command: roll it all back and run it again."""


# Runs of a unit of work in all when PostgreSQL refuses it for another transaction's sake (a
# deadlock, a lock not granted: engine.store.transient_failure); past them, or when SQLite's
# database stayed locked for its whole busy timeout, the refusal is raised (the sweep fires it
# at its next round, the web answers 409 "send it again").
TRANSIENT_ATTEMPTS = 3


def replayable(unit: Callable[[], T]) -> T:
    """Run a unit of work (a command, a timer firing) with its replayable host services
    guarded by no savepoint; if one of them fails, the unit's transaction is rolled back
    and the unit run again with a savepoint per service call (engine/transaction.py). A run
    the database refused for another transaction's sake is void as a whole and run again,
    TRANSIENT_ATTEMPTS times in all. The unit must open its own transaction and do nothing
    outside it that a second run would repeat wrongly."""
    token = REPLAY.set(FAST)
    try:
        attempt = 1
        while True:
            try:
                try:
                    return unit()
                except ReplayCarefully:
                    REPLAY.set(CAREFUL)
                    return unit()
            except Exception as exc:
                if attempt >= TRANSIENT_ATTEMPTS or not transient_failure(exc, waited=False):
                    raise
                log.info("run %s of a unit met another transaction (%s); running it again",
                         attempt, exc)
                time.sleep(0.005 * attempt)  # let the other transaction finish
                attempt += 1
                REPLAY.set(FAST)
    finally:
        REPLAY.reset(token)


_current: contextvars.ContextVar[Operation | None] = contextvars.ContextVar(
    "aduan_engine_operation", default=None)


def current_operation() -> Operation | None:
    """The engine operation running in this thread, if any (for host services)."""
    return _current.get()


@contextmanager
def running(operation: Operation) -> Iterator[Operation]:
    token = _current.set(operation)
    try:
        yield operation
    finally:
        _current.reset(token)
