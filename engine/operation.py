"""The operation in progress: what host services and listeners may know about it."""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, and_, bindparam, insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.store import transient_failure

log = logging.getLogger(__name__)
_INSERTS: dict[Table, Any] = {}
# Statements built once per shape (their building and cache key cost more Python calls than
# their execution): an update by key, and the merged statements of `_merged`.
_BUILT: dict[tuple[Any, ...], Any] = {}
_BUILT_MAX = 512  # shapes kept (a few dozen in practice); past it the cache starts again


def _insert(table: Table) -> Any:
    """`insert(table)`, built once per table (its building and cache key cost more Python
    calls than its execution)."""
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


@dataclass
class StagedUpdate:
    """An UPDATE of one row staged by the host (`Operation.stage_update`): the row's key
    columns and the values it gets."""

    key: dict[str, Any]
    values: dict[str, Any]


# A piece of the staged writes: ("insert", table, columns, rows) or ("update", table,
# key columns, value columns, the update)
Piece = tuple[Any, ...]


def _pieces(table: Table, staged: list[Any]) -> list[Piece]:
    """The statements a table's staged entries need, in the order staged: one INSERT for
    each run of rows with the same columns, one UPDATE for each staged update."""
    pieces: list[Piece] = []
    start = 0
    for end in range(1, len(staged) + 1):
        first = staged[start]
        if isinstance(first, StagedUpdate):
            pieces.append(("update", table, tuple(first.key), tuple(first.values), first))
            start = end
        elif end == len(staged) or isinstance(staged[end], StagedUpdate) or \
                staged[end].keys() != first.keys():
            pieces.append(("insert", table, tuple(first), staged[start:end]))
            start = end
    return pieces


def _built(shape: tuple[Any, ...], build: Callable[..., Any], *args: Any) -> Any:
    """`build(*args)`, once per `shape`."""
    statement = _BUILT.get(shape)
    if statement is None:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        statement = _BUILT[shape] = build(*args)
    return statement


def _update_by_key(table: Table, key: tuple[str, ...], values: tuple[str, ...],
                   prefix: str = "") -> Any:
    """UPDATE of one row of `table` by its `key` columns (parameters `<prefix>k_<column>`)
    setting the `values` columns (`<prefix>v_<column>`)."""
    return update(table).where(and_(*(
        table.c[c] == bindparam(f"{prefix}k_{c}", type_=table.c[c].type) for c in key))
    ).values({table.c[c]: bindparam(f"{prefix}v_{c}", type_=table.c[c].type)
              for c in values})


def _update_parameters(staged: StagedUpdate, prefix: str = "") -> dict[str, Any]:
    return {**{f"{prefix}k_{c}": v for c, v in staged.key.items()},
            **{f"{prefix}v_{c}": v for c, v in staged.values.items()}}


@functools.cache
def _mergeable(table: Table) -> bool:
    """Whether `table`'s Python-side column defaults are all constants (the merged
    statement is compiled once, and only a constant is given without SQLAlchemy's
    execution of each statement)."""
    return all(c.default is None or c.default.is_scalar for c in table.c)


def _merged(pieces: list[Piece], dialect: Any) -> tuple[str, dict[str, Any]]:
    """The pieces as one statement (PostgreSQL) and its parameters: every piece but the
    last a data-modifying WITH of the last, each insert's rows in one VALUES list (its
    Python-side column defaults given for each row, as an executemany gives them). All its
    parts see the same snapshot: none may read or write what another writes (the callers'
    tables are insert-only, and a staged update's row is not staged twice: `stage_update`).
    SQLAlchemy does not cache a statement of several VALUES rows: it is compiled here once
    for each shape (tables, columns, rows), and run as its text with the parameters made
    as SQLAlchemy would (defaults, then each type's conversion)."""
    shape = tuple((kind, table, columns, len(rest[0]) if kind == "insert" else rest[0])
                  for kind, table, columns, *rest in pieces)

    def build() -> tuple[Any, dict[str, Any]]:
        parts = []
        for i, (kind, table, columns, *rest) in enumerate(pieces):
            if kind == "insert":
                parts.append(insert(table).values([
                    {c: bindparam(f"w{i}_{j}_{c}", type_=table.c[c].type) for c in columns}
                    for j in range(len(rest[0]))]))
            else:
                parts.append(_update_by_key(table, columns, rest[0], f"w{i}_"))
        *ctes, main = parts
        compiled = main.add_cte(*(part.cte(f"w{i}") for i, part in enumerate(ctes))).compile(
            dialect=dialect)
        return compiled, dict(compiled._bind_processors)

    compiled, processors = _built(("merged", dialect.name, shape), build)
    given: dict[str, Any] = {}
    for i, (kind, _table, columns, *rest) in enumerate(pieces):
        if kind == "insert":
            for j, row in enumerate(rest[0]):
                for c in columns:
                    given[f"w{i}_{j}_{c}"] = row[c]
        else:
            given.update(_update_parameters(rest[1], f"w{i}_"))
    parameters = compiled.construct_params(given)
    for name, process in processors.items():
        parameters[name] = process(parameters[name])
    return compiled.string, parameters


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
    # Insert-only rows the host staged (`stage`), and updates of one row (`stage_update`),
    # by table, not yet written.
    staged: dict[Table, list[Any]] = field(default_factory=dict)

    def stage(self, table: Table, row: dict[str, Any]) -> None:
        """A row for an insert-only table (a history entry, a message), written with the
        operation's other rows of that table by one statement (`write_staged`): when the
        services' rows are flushed, at the end of each service call run in a savepoint of
        its own, before the host reads the table, and at the latest before the instance's
        own rows. Nothing may change it after: it is not an ORM object."""
        self.staged.setdefault(table, []).append(row)

    def stage_update(self, table: Table, key: Mapping[str, Any],
                     values: Mapping[str, Any]) -> None:
        """An UPDATE of the row of `table` whose `key` columns (its primary key) hold these
        values, setting `values`: written with the staged rows (`write_staged`), so that on
        PostgreSQL a firing's writes are one statement. Staged again before it is written,
        the same row's update takes the new values as well (one statement may not update a
        row twice). The row must not be one staged for insertion (the statement's parts do
        not see each other's rows)."""
        rows = self.staged.setdefault(table, [])
        for entry in rows:
            if isinstance(entry, StagedUpdate) and entry.key == key:
                entry.values.update(values)
                return
        rows.append(StagedUpdate(dict(key), dict(values)))

    def write_staged(self, tables: Collection[Table] | None = None) -> None:
        """Write the staged rows and updates (of `tables`, or all): on PostgreSQL one
        statement for all of them (`_merged`), when no table needs two INSERTs (rows of one
        table reach the database in the order staged); else one statement for each run of
        rows with the same columns and for each update, in the order staged."""
        if not self.staged:
            return
        connection = self.session.connection()
        pieces: list[Piece] = []
        for table in [t for t in self.staged if tables is None or t in tables]:
            pieces.extend(_pieces(table, self.staged.pop(table)))
        if not pieces:
            return
        inserted = [piece[1] for piece in pieces if piece[0] == "insert"]
        # one update, or one row: a statement already
        alone = len(pieces) == 1 and (pieces[0][0] == "update" or len(pieces[0][3]) == 1)
        if connection.dialect.name == "postgresql" and not alone \
                and len(inserted) == len(set(inserted)) and all(map(_mergeable, inserted)):
            connection.exec_driver_sql(*_merged(pieces, connection.dialect))
            return
        for kind, table, columns, *rest in pieces:
            if kind == "insert":
                connection.execute(_insert(table), rest[0])
            else:
                connection.execute(_built(("update", table, columns, rest[0]), _update_by_key,
                                          table, columns, rest[0]), _update_parameters(rest[1]))

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
