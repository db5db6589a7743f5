"""The worklist's counts and order, kept per scope and recounted only where a write touched.

An officer's worklist counts the open tasks of their groups (22,000 for a regency's
administrator) per `show` choice (mine and unclaimed, mine, unclaimed, all) and per task
kind, and orders them by the nearest government deadline or the newest. Instead of
counting and ranking every task again after every write (the old read cache,
workflows/readcache.py, discarded by any write), each process keeps per scope (the sorted
groups) every task's *place* (:class:`TaskPlace`: its report, kind, assignee, deadline and
creation time), and:

- the change log is the one the SLA board keeps its counts by (``case_change``,
  workflows/readcounts.py): since migration 0036_page_counts its triggers also name the
  report of every row written of ``human_task`` and ``human_task_group`` (source 't'),
  beside the report's own rows (c) and its deadlines' (s). Before each reading the tally
  notes where the log stands and recounts the tasks of the reports named since (one query
  for them all); a TRUNCATE, more than ``readcounts.MAX_DELTA`` reports or a tally six hours
  old count the scope from scratch;
- the counts are kept per (kind, assignee), and so are the tasks' sort keys, in two sorted
  lists (by deadline, by creation): a page is a merge of the lists its filters select, cut
  at offset + limit; "late" (a deadline at or before the overdue edge) is decided at each
  reading by bisecting the deadline lists, so the clock never forces a recount (a task's
  deadline, the earliest running government deadline of its report, changes only by a write
  of the report's deadlines, which the log names).

What it hands out (:class:`WorklistView`) is immutable and made per reading; the places are
private to the tally and changed only under its lock. Per process, like the board's tallies
(and in the same registry, readcounts.kept); without the triggers (a database not migrated
to 0036) the caller counts in the database as before (``view`` returns None).
"""

from __future__ import annotations

import heapq
import threading
import time as time_module
import weakref
from bisect import bisect_right, insort
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import islice, takewhile
from typing import Any

from sqlalchemy.orm import Session

from workflows import readcounts

SOURCES = ("c", "s", "t")  # what moves a task on a worklist: its report, deadlines, tasks
_LAST = datetime.max.replace(tzinfo=UTC)
_TRIGGERS = {
    "postgresql": ("trg_human_task_case_change", "trg_human_task_group_case_change"),
    "sqlite": tuple(f"trg_human_task{group}_case_{op}" for group in ("", "_group")
                    for op in ("insert", "update", "delete")),
}


@dataclass(frozen=True, slots=True)
class TaskPlace:
    """Where one open task is counted and ranked."""

    report: int
    kind: str  # the task's element id
    assignee: str | None
    deadline: datetime | None  # its report's nearest running government deadline
    created_at: datetime


@dataclass(frozen=True)
class WorklistView:
    """One reading of a worklist: the counts per show choice, the kinds present, the kind
    asked for (or "" when none has it), how many tasks match, the page's task ids."""

    counts: tuple[tuple[str, int], ...]
    kinds: tuple[str, ...]
    kind: str
    matching: int
    task_ids: tuple[str, ...]
    rows: tuple[Any, ...] = ()  # the page's rows when asked for (`view(rows=...)`)


# The places of the tasks of these reports (None: every report) in the scope's groups.
Recount = Callable[[list[int] | None], Mapping[str, TaskPlace]]
# The rows the worklist shows of these tasks, by task id (a task done since is left out).
ReadRows = Callable[[list[str]], Mapping[str, Any]]
# The shown rows a scope keeps (those of the pages read since the last write that touched
# them: ten pages of fifty, a few kilobytes each); beyond it they are forgotten and read
# again. With readcounts.TALLIES scopes a process keeps at most 32,000 rows.
ROWS_KEPT = 500


def _deadline_key(task_id: str, place: TaskPlace) -> tuple:
    # nearest deadline first, those without one last; then the oldest task, then the id
    if place.deadline is None:
        return (1, place.created_at, task_id)
    return (0, place.deadline, place.created_at, task_id)


class _Lists:
    __slots__ = ("by_creation", "by_deadline")

    def __init__(self) -> None:
        self.by_deadline: list[tuple] = []
        self.by_creation: list[tuple] = []


class _TaskTally:
    """One scope's task places, counts and orders (see the module)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[str, TaskPlace] = {}
        self.by_report: dict[int, set[str]] = {}
        self.lists: dict[tuple[str, str | None], _Lists] = {}
        self.mark: tuple | None = None
        self.born = 0.0
        # The shown rows of tasks read for pages (ReadRows), as the database had them at
        # `mark` or later: a task's row goes when the log names its report.
        self.rows: dict[str, Any] = {}

    def rebuild(self, places: Mapping[str, TaskPlace], mark: tuple | None) -> None:
        self.tasks, self.by_report, self.lists, self.rows = {}, {}, {}, {}
        by_list: dict[tuple[str, str | None], list[tuple[str, TaskPlace]]] = {}
        for task_id, place in places.items():
            self.tasks[task_id] = place
            self.by_report.setdefault(place.report, set()).add(task_id)
            by_list.setdefault((place.kind, place.assignee), []).append((task_id, place))
        for key, items in by_list.items():
            lists = self.lists[key] = _Lists()
            lists.by_deadline = sorted(_deadline_key(i, p) for i, p in items)
            lists.by_creation = sorted((p.created_at, i) for i, p in items)
        self.mark, self.born = mark, time_module.monotonic()

    def apply(self, reports: list[int], places: Mapping[str, TaskPlace]) -> None:
        for report in reports:
            for task_id in self.by_report.pop(report, ()):
                self._remove(task_id)
                self.rows.pop(task_id, None)
        for task_id, place in places.items():
            if task_id in self.tasks:  # moved from a report not named (cannot be: kept safe)
                self._remove(task_id)
            self.tasks[task_id] = place
            self.by_report.setdefault(place.report, set()).add(task_id)
            lists = self.lists.setdefault((place.kind, place.assignee), _Lists())
            insort(lists.by_deadline, _deadline_key(task_id, place))
            insort(lists.by_creation, (place.created_at, task_id))

    def page_rows(self, task_ids: tuple[str, ...], read: ReadRows) -> tuple[Any, ...]:
        """The rows of these tasks, those not kept read (and kept), in this order."""
        missing = [i for i in task_ids if i not in self.rows]
        if missing:
            found = read(missing)
            if len(self.rows) + len(found) > ROWS_KEPT:
                self.rows = {}
            for task_id in missing:
                if task_id in found and task_id in self.tasks:
                    self.rows[task_id] = found[task_id]
            return tuple(self.rows.get(i) or found[i] for i in task_ids
                         if i in self.rows or i in found)
        return tuple(self.rows[i] for i in task_ids)

    def _remove(self, task_id: str) -> None:
        place = self.tasks.pop(task_id, None)
        if place is None:
            return
        held = self.by_report.get(place.report)
        if held is not None:
            held.discard(task_id)
            if not held:
                del self.by_report[place.report]
        key = (place.kind, place.assignee)
        lists = self.lists[key]
        _drop(lists.by_deadline, _deadline_key(task_id, place))
        _drop(lists.by_creation, (place.created_at, task_id))
        if not lists.by_creation:
            del self.lists[key]

    def view(self, me: str, show: str, kind: str, late: datetime | None, sort: str,
             limit: int, offset: int) -> WorklistView:
        mine = sum(len(v.by_creation) for (_, a), v in self.lists.items() if a == me)
        unclaimed = sum(len(v.by_creation) for (_, a), v in self.lists.items() if a is None)
        counts = (("", mine + unclaimed), ("mine", mine), ("unclaimed", unclaimed),
                  ("all", len(self.tasks)))
        kinds = tuple(sorted({k for k, _ in self.lists}))
        kind = kind if kind in kinds else ""
        chosen = [v for (k, a), v in self.lists.items()
                  if (not kind or k == kind) and _shown(show, a, me)]
        bound = None if late is None else (0, late, _LAST)
        if bound is None:
            matching = sum(len(v.by_creation) for v in chosen)
        else:
            matching = sum(bisect_right(v.by_deadline, bound) for v in chosen)
        ids: Iterator[str]
        if sort == "newest":
            ids = (key[-1] for key in heapq.merge(*(reversed(v.by_creation) for v in chosen),
                                                   reverse=True))
            if late is not None:
                ids = (i for i in ids if _late(self.tasks[i], late))
        else:
            merged: Iterator[tuple] = heapq.merge(*(v.by_deadline for v in chosen))
            if bound is not None:
                merged = takewhile(lambda key: key <= bound, merged)
            ids = (key[-1] for key in merged)
        page = tuple(islice(ids, offset, offset + limit))
        return WorklistView(counts, kinds, kind, matching, page)


def _drop(keys: list[tuple], key: tuple) -> None:
    at = bisect_right(keys, key) - 1
    if at >= 0 and keys[at] == key:
        del keys[at]


def _late(place: TaskPlace, late: datetime) -> bool:
    return place.deadline is not None and place.deadline <= late


def _shown(show: str, assignee: str | None, me: str) -> bool:
    if show == "mine":
        return assignee == me
    if show == "unclaimed":
        return assignee is None
    if show == "":
        return assignee is None or assignee == me
    return True


def view(session: Session, scope: Hashable, recount: Recount, *, me: str, show: str,
         kind: str, late: datetime | None, sort: str, limit: int, offset: int,
         rows: ReadRows | None = None) -> WorklistView | None:
    """Scope ``scope``'s worklist as ``me`` sees it now: counts, kinds, the number matching
    and the page's task ids for the filters (``late``: only tasks whose deadline is at or
    before it). ``recount`` gives the places of the tasks of some (or all) reports. The
    tasks of reports written since the last reading are recounted; None when nothing is
    kept (switched off, or the database lacks the triggers): the caller counts itself.

    With ``rows``, the view also holds the page's rows (what the worklist shows of each
    task, its report and deadline: plain rows, the same whoever reads them), kept with the
    places and read again (by ``rows``) only for tasks whose report the log named since:
    read after the log's mark, under the tally's lock, so a kept row is never older than
    the mark that guards it."""
    if not _usable(session):
        return None
    tally = readcounts.kept(session, ("worklist", scope), _TaskTally)
    if tally is None:
        return None
    with tally.lock:
        mark = readcounts.log_mark(session)
        touched = None
        if (tally.mark is not None
                and time_module.monotonic() - tally.born < readcounts.MAX_AGE):
            touched = readcounts.touched_since(session, tally.mark, SOURCES)
        if touched is None:
            tally.rebuild(recount(None), mark)
        else:
            if touched:
                reports = sorted(touched)
                tally.apply(reports, recount(reports))
            tally.mark = mark
        _note(session, touched)
        found = tally.view(me, show, kind, late, sort, limit, offset)
        if rows is not None:
            found = replace(found, rows=tally.page_rows(found.task_ids, rows))
        return found


# What the tallies did, per database (connection pool).
_ACTIVITY: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _usable(session: Session) -> bool:
    return readcounts.in_use(session, _TRIGGERS)


def _note(session: Session, touched: set[int] | None) -> None:
    with _LOCK:
        seen = _ACTIVITY.setdefault(session.get_bind().pool,
                                    {"readings": 0, "rebuilds": 0, "recounted": 0})
        seen["readings"] += 1
        if touched is None:
            seen["rebuilds"] += 1
        else:
            seen["recounted"] += len(touched)


def activity(session: Session) -> dict[str, int]:
    """What the worklist tallies of the session's database did in this process (readings,
    scopes counted from scratch, reports recounted), for tests and benchmarks."""
    with _LOCK:
        return dict(_ACTIVITY.get(session.get_bind().pool, {}))
