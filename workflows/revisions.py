"""What a process builds from the configuration tables, kept while the database says it is
current: the working calendar (`calendar_day`), the SLA settings (`setting_change`), the
categories (`category`), the agencies (`agency`) and the active officers (`app_user`,
migration 0034).

These tables change a few times a year, yet a complaint's lifecycle asked for the calendar
16 times and the settings 9 times (issue 17: every deadline computed or checked read the
whole table again). Each table has a row in `config_revision` whose random token a trigger
replaces on every statement that writes to the table (migration 0033; on PostgreSQL also
TRUNCATE), whoever the writer: this process, another web or scheduler process, bulk SQL or
psql. So:

- `tokens(session)` reads the tokens in one query, once per session (a transaction or
  a GET request's read session), and keeps them in the session; a flush or ORM statement of
  the same session that writes one of the tables forgets them, so a transaction that changes
  the calendar and then computes a deadline sees its own change;
- `carried(dialect)` is a column of the same tokens as one JSON object that a statement the
  session sends anyway can carry (a timer firing's first read, workflows/sla.py), and
  `remember(session, value)` keeps what it returned as that session's tokens: one round
  trip fewer where it matters;
- `cached(session, table, key, build)` returns what this process built for `key` under the
  token it reads now, or builds it (`build()` reads the rows in the caller's session) and
  keeps it, per database (engine) of the process.

Values kept must be immutable (a WorkingCalendar, tuples, frozen dataclasses): every caller
of the process shares them. A table without a token (a database made by create_all, without
the migration's triggers) caches nothing: every call builds.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from workflows.revision_models import ConfigRevision

T = TypeVar("T")

CALENDAR, SETTINGS, CATEGORIES, AGENCIES = "calendar_day", "setting_change", "category", \
    "agency"
ACCOUNTS = "app_user"  # migration 0034: whom notifications go to (workflows/recipients.py)
TABLES = frozenset({CALENDAR, SETTINGS, CATEGORIES, AGENCIES, ACCOUNTS})
_MEMO = "aduan_config_tokens"
_MISSING = object()
_TOKENS = select(ConfigRevision.name, ConfigRevision.token)


class _Store:
    """Per database (SQLAlchemy engine, weakly held): {(table, key): (token, value)}."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_bind: weakref.WeakKeyDictionary[Any, dict[tuple[str, Hashable],
                                                          tuple[int, Any]]] = \
            weakref.WeakKeyDictionary()


_STORE = _Store()


def tokens(session: Session) -> Mapping[str, int]:
    """The configuration tables' tokens as this session sees them (a table without a token:
    a database made by create_all, without the triggers, e.g. a scratch run's)."""
    found = session.info.get(_MEMO, _MISSING)
    if found is _MISSING:
        if _unwritten(session):
            session.flush()  # the triggers replace the tokens of what it writes
        # a Core statement: the session's other rows wait for their flush, and the ORM's
        # execution (twice the Python calls) adds nothing to two columns of plain values
        found = dict(session.connection().execute(_TOKENS).tuples().all())
        session.info[_MEMO] = found
    return found


def carried(dialect: str) -> ColumnElement[Any]:
    """The tokens as one JSON object (NULL without any), as a scalar subquery: a column for
    a statement the session sends anyway, whose value `remember` then keeps. PostgreSQL
    reads the table once per statement (an InitPlan), whatever the rows around it."""
    aggregate = func.json_object_agg if dialect == "postgresql" else func.json_group_object
    return select(aggregate(ConfigRevision.name, ConfigRevision.token)).scalar_subquery()


def remember(session: Session, carried_value: Any) -> None:
    """Keep the tokens a statement of this session carried (`carried`) as the session's,
    unless it has them already or holds unwritten rows of a configuration table (whose
    triggers have not yet replaced the tokens: `tokens` flushes them and reads again)."""
    if _MEMO in session.info or _unwritten(session):
        return
    if isinstance(carried_value, str):  # SQLite's JSON is text
        carried_value = json.loads(carried_value)
    session.info[_MEMO] = {str(name): int(token)
                           for name, token in (carried_value or {}).items()}


def _unwritten(session: Session) -> bool:
    """Whether the session holds ORM rows of a configuration table not flushed yet."""
    return any(getattr(row, "__tablename__", None) in TABLES
               for rows in (session.new, session.dirty, session.deleted) for row in rows)


def cached(session: Session, table: str, key: Hashable, build: Callable[[], T]) -> T:
    """What `build()` returns for `key`, built once per token of `table` in this process."""
    token = tokens(session).get(table)
    if token is None:
        return build()
    bind = session.get_bind()
    with _STORE.lock:
        entries = _STORE.by_bind.setdefault(bind, {})
        entry = entries.get((table, key))
    if entry is not None and entry[0] == token:
        return entry[1]
    value = build()
    with _STORE.lock:
        entries[(table, key)] = (token, value)
    return value


def forget(session: Session) -> None:
    """Read the tokens again at the next use (after this session wrote a configuration
    table by hand-written SQL, which the flush events below do not see)."""
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if _MEMO not in session.info:
        return
    for item in (*session.new, *session.dirty, *session.deleted):
        if getattr(item, "__tablename__", None) in TABLES:
            forget(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _orm_statement(state: Any) -> None:
    if _MEMO not in state.session.info or not (
            state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in TABLES:
        forget(state.session)
