"""Results of expensive reads kept in memory for as long as the database proves them current.

The statistics count what a million reports say although those rows change a few times a
minute. A cached result answers a later request only when *all* hold, so it never says
other than a fresh read would:

- the same key: the caller's scope and filters, everything the read depends on;
- no change since: triggers append a row to a change log in the writer's transaction,
  whoever the writer (the ORM, a bulk statement, a hand-written UPDATE):
  ``stats_change`` for complaints, SLA records and escalations (migration 0006,
  ``workflows.models.STATS_TRIGGERS``). Before reading, the cache notes where the log
  stands (:func:`log_mark`): on PostgreSQL the transaction snapshot, so a change is new when
  its transaction is not visible in it, which also catches transactions still running then
  and committed later; on SQLite the last row ids (one writer at a time, so ids follow
  commit order). A newer row in a log the entry depends on discards it;
- the clock: ``now`` not before the moment it was read, and either within
  ``CLOCK_TOLERANCE`` of it or the entry's own condition on time still true
  (``still_valid``: e.g. no deadline has become overdue since). With 100,000 open reports a
  deadline passes every few seconds, so a figure that depends on the clock would be read
  again nearly every time; instead it may follow the clock within a minute, and every
  write at once (the statistics ask for no tolerance: their figures are exact);
- younger than ``MAX_AGE`` (the logs keep a day of rows).

Without the triggers (a database not migrated) nothing is cached. Each process (each
gunicorn worker) has its own cache; nothing is shared between processes but the database.

Any write discards every entry that depends on its log, in every process: under a steady
stream of writes the entries are recounted nearly every request. Only the statistics
(workflows/stats/) read through this cache now: the SLA board, the worklist and the list
API's totals are kept per report and recounted only where a write touched
(workflows/readcounts.py, workflows/worklist_counts.py, workflows/list_counts.py; issue
17), and the escalation inbox is read afresh. Nothing new is to be added to this cache's
shape. ``has_triggers`` is the one helper the kept counts share with it.
"""

from __future__ import annotations

import threading
import time as time_module
import weakref
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from engine.recent import Recent
from workflows.models import STATS_TRIGGER_NAMES

MAX_AGE = 3600.0  # seconds; the change logs keep a day of rows
CLOCK_TOLERANCE = timedelta(seconds=60)  # how far a cached figure may lag the clock
ENTRIES = 512

STATS = "stats_change"  # complaints, SLA records, escalations
TRIGGER_NAMES = {STATS: STATS_TRIGGER_NAMES}


# The SQL of each log (fixed text: no name is ever taken from input).
_LAST_ID = {STATS: "(SELECT coalesce(max(id), 0) FROM stats_change)"}
_NEWER_ID = {STATS: "EXISTS (SELECT 1 FROM stats_change WHERE id > :stats_change{period})"}
_NEWER_XID = {
    STATS: "EXISTS (SELECT 1 FROM stats_change WHERE xid >= :xmin AND NOT "
           "pg_visible_in_snapshot(xid::text::xid8, CAST(:snapshot AS pg_snapshot)){period})",
}
_PERIOD = " AND (received_at IS NULL OR (received_at >= :first AND received_at < :after))"


def log_mark(session: Session, logs: Iterable[str]) -> tuple:
    """Where the change logs stand for this session, read *before* the data it guards. A
    read session (one per GET request) reads it once and gives the same mark to every entry
    it computes: an earlier mark only makes more writes count as newer, never fewer, and
    entries with one mark are checked with one query (changed_since)."""
    logs = tuple(logs)
    if session.info.get("aduan_read"):
        memo = session.info.setdefault("aduan_log_marks", {})
        if logs not in memo:
            memo[logs] = _log_mark(session, logs)
        return memo[logs]
    return _log_mark(session, logs)


def _log_mark(session: Session, logs: tuple[str, ...]) -> tuple:
    if session.get_bind().dialect.name == "postgresql":
        snapshot = session.scalar(text("SELECT pg_current_snapshot()::text"))
        return ("snapshot", int(snapshot.split(":")[0]), snapshot)
    logs = tuple(logs)
    found = session.execute(text("SELECT " + ", ".join(_LAST_ID[log] for log in logs))).one()
    return ("id", dict(zip(logs, (int(v) for v in found), strict=True)))


def changed_since(session: Session, mark: tuple, logs: Iterable[str],
                  received: tuple[datetime, datetime] | None = None) -> bool:
    """Whether any of these logs has a row newer than ``mark``. ``received`` narrows
    ``stats_change`` to complaints received in [first, after) (rows without a date concern
    every period). A read session asks each question once: its request's pages check
    several entries made at the same mark."""
    logs = tuple(logs)
    if not session.info.get("aduan_read"):
        return _changed_since(session, mark, logs, received)
    memo = session.info.setdefault("aduan_log_checks", {})
    key = (_hashable(mark), logs, received)
    if key not in memo:
        memo[key] = _changed_since(session, mark, logs, received)
    return memo[key]


def _hashable(mark: tuple) -> tuple:
    return (mark[0], tuple(sorted(mark[1].items()))) if mark[0] == "id" else mark


def _changed_since(session: Session, mark: tuple, logs: tuple[str, ...],
                   received: tuple[datetime, datetime] | None) -> bool:
    params: dict[str, Any] = {}
    if mark[0] == "snapshot":
        params.update(xmin=mark[1], snapshot=mark[2])
        templates = _NEWER_XID
    else:
        params.update(mark[1])
        templates = _NEWER_ID
    if received is not None:
        params.update(first=received[0], after=received[1])
    period = _PERIOD if received is not None else ""
    parts = [templates[log].replace("{period}", period) for log in logs]
    return bool(session.scalar(text("SELECT " + " OR ".join(parts)), params))


@dataclass(frozen=True)
class _Entry:
    mark: tuple
    computed_at: datetime
    born: float
    logs: tuple[str, ...]
    received: tuple[datetime, datetime] | None
    still_valid: Callable[[datetime], bool] | None
    tolerance: timedelta
    value: Any


class ReadCache:
    """Recent read results of one database, in memory, least recently used out first."""

    def __init__(self, usable: frozenset[str], size: int = ENTRIES) -> None:
        self.usable = usable  # the logs whose triggers the database has
        self.entries: Recent[Hashable, _Entry] = Recent(size)
        self.hits = self.misses = 0  # counted without a lock: a figure, not a guarantee

    def get(self, session: Session, key: Hashable, now: datetime) -> Any | None:
        """The value put under ``key``, if it still holds (see the module); else None."""
        entry = self.entries.get(key)
        found = None
        if entry is not None and (
                entry.computed_at <= now
                and time_module.monotonic() - entry.born < MAX_AGE
                and (entry.still_valid is None or now - entry.computed_at <= entry.tolerance
                     or entry.still_valid(now))
                and not changed_since(session, entry.mark, entry.logs, entry.received)):
            found = entry
        if found is not None:
            self.hits += 1
            self.entries.touch(key)
        else:
            self.misses += 1
            if entry is not None:
                self.entries.discard(key, entry)
        return None if found is None else found.value

    def read(self, session: Session, key: Hashable, now: datetime, logs: Iterable[str],
             compute: Callable[[], tuple[Any, Callable[[datetime], bool] | None]], *,
             received: tuple[datetime, datetime] | None = None,
             tolerance: timedelta = CLOCK_TOLERANCE) -> Any:
        """The cached value of ``key``, or ``compute()``'s (value, still_valid) kept for
        later. The logs' mark is read before ``compute`` runs: whatever commits during or
        after it is newer than the mark and discards the entry. ``received`` narrows the
        statistics' log to a period; ``tolerance`` is how far the entry may lag the clock
        before ``still_valid`` is asked (none for the statistics, which are exact)."""
        logs = tuple(logs)
        if not set(logs) <= self.usable:
            return compute()[0]
        value = self.get(session, key, now)
        if value is not None:
            return value
        mark = log_mark(session, logs)
        value, still_valid = compute()
        self.entries.put(key, _Entry(mark, now, time_module.monotonic(), logs, received,
                                     still_valid, tolerance, value))
        return value

    def clear(self) -> None:
        self.entries.clear()


_CACHES: weakref.WeakKeyDictionary[Any, ReadCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()
ENABLED = True  # tests and benchmarks switch it off to measure the reads themselves


def read_cache(session: Session) -> ReadCache | None:
    """The cache of the session's database (one per connection pool); None when switched
    off or when the database has none of the change logs' triggers."""
    if not ENABLED:
        return None
    pool = session.get_bind().pool
    with _CACHES_LOCK:
        cache = _CACHES.get(pool)
    if cache is None:
        usable = frozenset(log for log, names in TRIGGER_NAMES.items()
                           if has_triggers(session, names))
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(pool, ReadCache(usable))
    return cache if cache.usable else None


def cached(session: Session, key: Hashable, now: datetime, logs: Iterable[str],
           compute: Callable[[], tuple[Any, Callable[[datetime], bool] | None]]) -> Any:
    """``compute()``'s value through the session's cache when there is one."""
    cache = read_cache(session)
    if cache is None:
        return compute()[0]
    return cache.read(session, key, now, logs, compute)


def has_triggers(session: Session, names_by_dialect: dict[str, tuple[str, ...]]) -> bool:
    """Whether the database has every trigger named for its dialect (migrated)."""
    dialect = session.get_bind().dialect.name
    names = list(names_by_dialect.get(dialect, ()))
    if not names:
        return False
    if dialect == "postgresql":
        query = text("SELECT count(*) FROM pg_trigger WHERE tgname IN :names "
                     "AND NOT tgisinternal")
    else:
        query = text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                     "AND name IN :names")
    query = query.bindparams(bindparam("names", expanding=True))
    return session.scalar(query, {"names": names}) == len(names)
