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
  a GET request's read session), and keeps them in the session (a page's read session gets
  them with its first statement, the signed-in officer's: `token_columns`, `seed`); a flush
  or ORM statement of the same session that writes one of the tables forgets them, so a
  transaction that changes the calendar and then computes a deadline sees its own change;
- `cached(session, table, key, build)` returns what this process built for `key` under the
  token it reads now, or builds it (`build()` reads the rows in the caller's session) and
  keeps it, per database (engine) of the process.

Values kept must be immutable (a WorkingCalendar, tuples, frozen dataclasses): every caller
of the process shares them. A table without a token (a database made by create_all, without
the migration's triggers) caches nothing: every call builds.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from workflows.revision_models import ConfigRevision

T = TypeVar("T")

CALENDAR, SETTINGS, CATEGORIES, AGENCIES = "calendar_day", "setting_change", "category", \
    "agency"
ACCOUNTS = "app_user"  # migration 0034: whom notifications go to (workflows/recipients.py)
TABLES = frozenset({CALENDAR, SETTINGS, CATEGORIES, AGENCIES, ACCOUNTS})
_IN_ORDER = tuple(sorted(TABLES))
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
        if any(getattr(row, "__tablename__", None) in TABLES
               for rows in (session.new, session.dirty, session.deleted) for row in rows):
            session.flush()  # the triggers replace the tokens of what it writes
        # a Core statement: the session's other rows wait for their flush, and the ORM's
        # execution (twice the Python calls) adds nothing to two columns of plain values
        found = dict(session.connection().execute(_TOKENS).tuples().all())
        session.info[_MEMO] = found
    return found


def token_columns() -> list[Any]:
    """The tokens as columns to add to a statement a session sends first anyway (every
    page's reading of its signed-in officer): `seed(session, row)` then keeps them, as
    `tokens` would have read them, one statement fewer."""
    return list(_TOKEN_COLUMNS)


def seed(session: Session, row: Any) -> None:
    """Keep the tokens of a row read with `token_columns()` in the session (unless it
    already read them): they were read before the data they guard, as `tokens` reads
    them."""
    if _MEMO not in session.info and not (session.new or session.dirty or session.deleted):
        session.info[_MEMO] = {table: token for table in _IN_ORDER
                               if (token := getattr(row, f"config_token_{table}")) is not None}


_TOKEN_COLUMNS = tuple(
    select(ConfigRevision.token).where(ConfigRevision.name == table).scalar_subquery()
    .label(f"config_token_{table}") for table in _IN_ORDER)


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
