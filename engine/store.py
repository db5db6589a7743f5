"""The engine's tables, its database factory and the per-operation transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Timezone-aware datetimes in and out, stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime handed to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProcessDefinition(Base):
    """One deployed version of a process: its files, content hash and serialized specs."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_definition_version"),
        Index("ix_process_definition_hash", "process_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict] = mapped_column(JSON)  # file name -> text
    specs: Mapped[str] = mapped_column(Text)  # serialized spec + called specs, stored once
    task_meta: Mapped[dict] = mapped_column(JSON)  # element id -> lane, form, groups, due
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)  # the deployer's change note


class ProcessInstance(Base):
    """A running (or finished) process: its state without the spec, and a version counter."""

    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_status", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HumanTask(Base):
    """Projection: one open user or manual task. Worklists read only this table."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_lane", "lane"),
        Index("ix_human_task_assignee", "assignee"),
        # Worklists read these columns of a group's tasks without the wide rows (forms).
        Index("ix_human_task_worklist", "id", "instance_id", "element_id", "assignee",
              "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # Spiff task id
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    candidate_groups: Mapped[list] = mapped_column(JSON)
    assignee: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TaskGroup(Base):
    """Projection: the candidate groups of each open task, one row each, for indexed lookup."""

    __tablename__ = "human_task_group"
    __table_args__ = (Index("ix_human_task_group_group_task", "group_name", "task_id"),)

    task_id: Mapped[str] = mapped_column(
        ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True)


class Timer(Base):
    """Projection: one waiting timer with its absolute due time. The sweep reads only this."""

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_due_at", "due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # Spiff task id
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # date | duration | cycle
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WaitingEvent(Base):
    """Projection: messages and signals an instance waits for, so delivery needs no scan."""

    __tablename__ = "waiting_event"
    __table_args__ = (Index("ix_waiting_event_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # message | signal
    name: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))


class Incident(Base):
    """A task that failed: where, why, on which line; open until the instance is retried."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    error_type: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class InstanceEvent(Base):
    """Append-only audit trail: when, who, what, which element, which data changed."""

    __tablename__ = "instance_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    element_id: Mapped[str | None] = mapped_column(String(200))
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    data_changes: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[dict | None] = mapped_column(JSON)


metadata = Base.metadata


# --------------------------------------------------------------------------- connections


def make_db_engine(url: str, *, pool: bool = True) -> SqlEngine:
    """A SQLAlchemy engine; on SQLite, WAL and writers that take the lock at BEGIN."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        db = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=None if pool else NullPool,
        )

        @event.listens_for(db, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        db.dialect.do_begin = _sqlite_begin_immediate  # this engine's dialect only
        return db
    kwargs: dict[str, Any] = {}
    if not pool:
        kwargs["poolclass"] = NullPool
    db = create_engine(url, **kwargs)
    _ping_idle_connections(db)
    return db


def _sqlite_begin_immediate(dbapi_connection: Any) -> None:
    """A writer's BEGIN: one writer at a time, decided up front (no deadlocked read-to-write
    upgrades). The dialect's `do_begin` rather than a "begin" listener: any connection
    listener makes SQLAlchemy dispatch its (empty) execution events around every
    statement, about 3,400 Python calls of a complaint lifecycle's 63,000 (issue 17,
    BENCHMARKS.md). A reader's connection has begun already (`read_engine`)."""
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


def read_engine(db: SqlEngine) -> SqlEngine:
    """`db` for read-only units (`aduan_read`): on SQLite they begin deferred and, in WAL
    mode, never wait for the writer. Its "begin" listener is its own (an option engine's
    listeners do not reach `db`), so writers keep SQLAlchemy's event-free path.

    On PostgreSQL their transactions are READ ONLY (`_begin_read_only`), so that they end
    with a COMMIT rather than a ROLLBACK (Store.read): psycopg forgets every prepared
    statement of a connection at each ROLLBACK (and sends DEALLOCATE ALL when it had any),
    and readers and writers share the pool, so the statements of a completion never stayed
    prepared. For a transaction that wrote nothing the two are the same to the server, and
    READ ONLY makes sure a read unit keeps nothing it wrote: it cannot write."""
    reader = db.execution_options(aduan_read=True)
    if db.dialect.name == "sqlite":

        @event.listens_for(reader, "begin")
        def _sqlite_begin_deferred(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    return reader


# A pooled connection idle longer than this is pinged before use (see below).
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_idle_connections(db: SqlEngine) -> None:
    """Ping a pooled PostgreSQL connection before handing it out, when it sat idle for over
    PING_AFTER_IDLE_SECONDS: a server restart, a failover or a firewall dropping idle
    connections then costs nobody an error. SQLAlchemy's pool_pre_ping pings every time,
    a round trip (about 0.8 ms of a 12 ms page) that a busy process, whose connections
    come back within milliseconds, does not need. A connection found dead is replaced
    (the pool retries the checkout)."""

    @event.listens_for(db, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["aduan_idle_since"] = time.monotonic()
        if dbapi_connection is not None and dbapi_connection.read_only:
            # a read unit's (`_begin_read_only`): the next user may be a writer. The pool
            # has ended its transaction; a connection it could not is discarded.
            with suppress(psycopg.Error):
                dbapi_connection.read_only = None

    @event.listens_for(db, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("aduan_idle_since")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = db.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"an idle connection was lost: {exc}") from exc
        if not alive:
            raise DisconnectionError("an idle connection was lost")


def _begin_read_only(_session: Session, _transaction: Any, connection: Any) -> None:
    """A PostgreSQL read session's transaction is READ ONLY (`read_engine`): psycopg's own
    BEGIN, sent with the first statement, then says so (no statement more). A session event
    of the read sessions, once a transaction, rather than SQLAlchemy's `postgresql_readonly`
    option: that one is a connection listener, which puts SQLAlchemy's event dispatch on
    every statement of the readers (about 140 Python calls more a read unit). The pool's
    checkin (`_ping_idle_connections`) sets the connection back."""
    connection.connection.dbapi_connection.read_only = True


def is_postgres(db: SqlEngine) -> bool:
    return db.dialect.name == "postgresql"


# PostgreSQL's refusals of a statement for another transaction's sake: deadlock_detected,
# serialization_failure, lock_not_available.
_TRANSIENT_STATES = frozenset({"40P01", "40001", "55P03"})
# SQLite's, once the busy timeout has run out.
_TRANSIENT_SQLITE = ("database is locked", "database table is locked")


def transient_failure(exc: BaseException | None, *, waited: bool = True) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is the database refusing a
    statement because of another transaction: a deadlock, a serialization failure or a lock
    not granted (PostgreSQL), the database still locked after the busy timeout (SQLite).
    The transaction is void, nothing of it was kept, and the same work done again may well
    pass: a caller retries it or asks for it again; it is never a fault of what ran.
    ``waited=False`` leaves out SQLite's, which has already waited 30 s for the lock (worth
    asking again later, not at once)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DBAPIError):
            original = exc.orig
            if getattr(original, "sqlstate", None) in _TRANSIENT_STATES:
                return True
            if waited and type(original).__name__ == "OperationalError" and str(
                    original).startswith(_TRANSIENT_SQLITE):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


# The read unit shared by the reads of one block (Store.shared_reads): [store, session].
_SHARED_READS: ContextVar[list[Any] | None] = ContextVar("aduan_shared_reads", default=None)


def context_for_thread() -> Context:
    """A copy of this thread's context for work handed to another thread (the timer sweep's
    firing threads): the host's context variables go with it, this thread's shared read
    unit (Store.shared_reads) does not, as a session is never used by two threads."""
    context = copy_context()
    context.run(_SHARED_READS.set, None)
    return context


class Store:
    """The database of one engine: its connection pool and its session factory."""

    def __init__(self, url: str, *, pool: bool = True) -> None:
        self.url = url
        self.db = make_db_engine(url, pool=pool)
        self.sessions = sessionmaker(self.db, expire_on_commit=False)
        self.read_sessions = sessionmaker(read_engine(self.db),
                                          expire_on_commit=False, info={"aduan_read": True})
        self.postgres = is_postgres(self.db)
        if self.postgres:
            event.listen(self.read_sessions, "after_begin", _begin_read_only)

    def create_schema(self) -> None:
        metadata.create_all(self.db)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends normally, rolls back otherwise."""
        session = self.sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit: never takes SQLite's write lock; rolled back at the end
        (committed on PostgreSQL, where it is READ ONLY: `read_engine`). Inside
        shared_reads, the block's one shared session instead."""
        shared = _SHARED_READS.get()
        if shared is not None and shared[0] is self:
            if shared[1] is None:
                shared[1] = self.read_sessions()
            try:
                yield shared[1]
            except DBAPIError:
                shared[1].rollback()  # a failed statement: the next read starts afresh
                raise
            return
        session = self.read_sessions()
        try:
            with session.begin():
                yield session
                self._end_read(session)
        finally:
            session.close()

    def _end_read(self, session: Session) -> None:
        """End a read unit's transaction: a COMMIT of its READ ONLY transaction on
        PostgreSQL (which keeps the connection's prepared statements: `read_engine`), a
        ROLLBACK elsewhere."""
        if self.postgres:
            session.commit()
        else:
            session.rollback()

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Every read unit opened in this block (by this thread) is one session in one
        transaction, begun at its first statement and ended as `read` ends it: a page's reads
        see one snapshot and cost one connection checkout and one BEGIN, instead of one per
        read unit (the principal, the report, its tasks, the agency tree...). For requests
        that only read (the web app wraps GET requests in it): a write unit commits apart,
        and on SQLite a shared snapshot taken earlier would not see it."""
        state: list[Any] = [self, None]
        token = _SHARED_READS.set(state)
        try:
            yield
        finally:
            _SHARED_READS.reset(token)
            if state[1] is not None:
                try:
                    self._end_read(state[1])
                finally:
                    state[1].close()

    def dispose(self) -> None:
        self.db.dispose()
