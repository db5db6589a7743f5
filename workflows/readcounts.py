"""Counts over thousands of reports that stay exact under writes without being recounted.

The SLA board counts the open reports of a scope per agency, and the cases whose
deadlines are due soon, past or climbed per agency and rung: 100,000 open reports, 40,000
late deadlines, 0.1-0.3 s a count. Officers write all day (a filing, a verification, a task
completed a few times a minute or a second), so a count discarded by every write (the read
cache, workflows/readcache.py) is recounted nearly every request, by every worker, for
every scope. Here instead each worker keeps, per scope, every report's *place*
(:class:`Place`: the group it is counted in, and when on the board its group, nearest due
time and flag) and after a write recounts only the reports the write touched:

- the change log ``case_change`` (migration 0031_read_counts, workflows/readcount_models.py)
  gets a row per row written of a report or its deadlines, naming the report, from
  database triggers in the writer's transaction whoever the writer. Before each reading the
  tally notes where the log stands (on PostgreSQL the transaction snapshot, so a
  transaction still running then is caught once it commits; on SQLite the last id, one
  writer at a time; a page reads it with its signed-in officer, the read session's first
  statement, and every keeper of the page uses that one mark), then recounts the reports
  named since the last mark (one small query per report set, not per report);
- the clock: a place depends on the time only through the due-soon edge (a deadline due
  by then is on the board). The tally knows the edge it counted at; when the edge moves on,
  the reports with a deadline due in between (read over the deadlines' due index) are
  recounted. Past, due soon or neither is decided at each reading from the places' due
  times (kept sorted per group): exact at the reading's instant, not up to a minute late;
- anything it cannot follow (the clock going back, a bulk write of thousands of reports,
  a TRUNCATE, a tally six hours old, well before its log rows may be pruned) recounts the
  scope from scratch.

What it hands out (:class:`Figures`) is immutable; the per-report table behind it is
private to the tally and changed only under its lock. Each process (gunicorn worker) keeps
its own tallies: what they share is the database, which names the touched reports once for
all of them. Without the triggers (a database not migrated to 0031) every reading counts
from scratch.

Functions: :func:`tally` (the figures of a scope, brought up to date), :func:`derived`
(one value computed from a tally's version, such as the board's list of cases, and kept
across later versions when the reports they changed cannot have changed it: each tally
remembers which reports its last few versions changed, :class:`Change`) and
:func:`activity` (what the tallies did, for tests and benchmarks). Other keepers of
per-report places share the log and the registry through :func:`kept`, :func:`log_mark`
and :func:`touched_since`: the worklist (workflows/worklist_counts.py, whose task rows the
log carries since migration 0036 as source 't') and the list's late reports
(workflows/list_counts.py, a :func:`tally` of its own scope). One log serves every page.
"""

from __future__ import annotations

import threading
import time as time_module
import weakref
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from engine.recent import Recent
from workflows import readcache
from workflows.readcount_models import LogPosition

# seconds: a tally older than this counts its scope again (the change log keeps a day of
# rows; a whole count of a regency-sized scope costs 0.2-3 s, BENCHMARKS.md)
MAX_AGE = 6 * 3600.0
MAX_DELTA = 2000  # reports touched since the last reading above which a scope is recounted
TALLIES = 64  # scopes kept per process (least recently read out first)
JOURNAL = 256  # versions whose recounted reports a tally remembers (for derived's `keep`)...
JOURNAL_REPORTS = 4 * MAX_DELTA  # ... and at most this many recounted reports in all

# Whether a database has the log's triggers (migration 0031_read_counts).
_TRIGGERS = {"postgresql": ("trg_complaint_case_change", "trg_sla_record_case_change"),
             "sqlite": ("trg_complaint_case_insert", "trg_complaint_case_update",
                        "trg_complaint_case_delete", "trg_sla_record_case_insert",
                        "trg_sla_record_case_update", "trg_sla_record_case_delete")}


@dataclass(frozen=True, slots=True)
class Place:
    """Where one report is counted: ``group`` among the open reports (an agency, say), and
    when it is on the board, ``case_group`` (agency and rung), the ``due`` time that
    decides past or due soon, and ``flag`` (escalated)."""

    group: Hashable
    case_group: Hashable | None = None
    due: datetime | None = None
    flag: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """A report a new version of a tally recounted: its place before and after (None: not
    counted), whether or not the place moved (a write may change what a place does not
    hold, such as a report's title)."""

    report: int
    before: Place | None
    after: Place | None


@dataclass(frozen=True)
class CaseCount:
    group: Hashable
    cases: int
    due_by_late: int  # due at or before `late`: past
    due_by_soon: int  # due after `late` and at or before `soon`: due soon
    flagged: int


@dataclass(frozen=True)
class Figures:
    """A tally's counts at one instant (immutable)."""

    version: int  # changes whenever a report's place changed
    open: tuple[tuple[Hashable, int], ...]
    cases: tuple[CaseCount, ...]


# A recount: the places of these reports (None: every report of the scope) at due-soon
# edge `soon`; a report missing from the answer is no longer counted (closed, moved away).
Recount = Callable[[list[int] | None, datetime], Mapping[int, Place]]
# The reports with a deadline due after the first instant and at or before the second.
Entering = Callable[[datetime, datetime], Iterable[int]]


@dataclass
class _Group:
    dues: list[datetime] = field(default_factory=list)
    flagged: int = 0


class _Tally:
    """One scope's places and counts (see the module)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.places: dict[int, Place] = {}
        self.open: dict[Hashable, int] = {}
        self.groups: dict[Hashable, _Group] = {}
        self.mark: tuple | None = None
        self.edge: datetime | None = None
        self.born = 0.0
        self.version = 0
        self.derived: dict[Hashable, tuple[int, Any]] = {}
        # the reports each of the last versions recounted (a rebuild forgets them all)
        self.journal: OrderedDict[int, tuple[Change, ...]] = OrderedDict()
        self.journaled = 0  # the recounted reports the journal holds
        # the last figures handed out: (version, late, soon, the nearest due times past
        # late and past soon, the figures)
        self.shown: tuple[Any, ...] | None = None

    def rebuild(self, places: Mapping[int, Place], mark: tuple | None, edge: datetime) -> None:
        self.places, self.open, self.groups = {}, {}, {}
        for report, place in places.items():
            self._add(report, place)
        self.mark, self.edge, self.born = mark, edge, time_module.monotonic()
        self.version += 1
        self.derived.clear()
        self.journal.clear()
        self.journaled = 0

    def apply(self, reports: Iterable[int], places: Mapping[int, Place]) -> None:
        changes = []
        for report in reports:
            old = self.places.pop(report, None)
            if old is not None:
                self._remove(old)
            new = places.get(report)
            if new is not None:
                self._add(report, new)
            changes.append(Change(report, old, new))
        self.version += 1
        self.journal[self.version] = tuple(changes)
        self.journaled += len(changes)
        while len(self.journal) > JOURNAL or self.journaled > JOURNAL_REPORTS:
            self.journaled -= len(self.journal.popitem(last=False)[1])

    def changes_between(self, since: int, until: int) -> list[Change] | None:
        """The reports recounted by versions since+1 .. until; None when one of them is
        no longer remembered (or was a rebuild)."""
        found: list[Change] = []
        for version in range(since + 1, until + 1):
            changes = self.journal.get(version)
            if changes is None:
                return None
            found.extend(changes)
        return found

    def _add(self, report: int, place: Place) -> None:
        self.places[report] = place
        self.open[place.group] = self.open.get(place.group, 0) + 1
        if place.case_group is not None:
            group = self.groups.setdefault(place.case_group, _Group())
            insort(group.dues, place.due)
            group.flagged += place.flag

    def _remove(self, place: Place) -> None:
        left = self.open[place.group] - 1
        if left:
            self.open[place.group] = left
        else:
            del self.open[place.group]
        if place.case_group is not None:
            group = self.groups[place.case_group]
            dues = group.dues
            del dues[bisect_right(dues, place.due) - 1]
            group.flagged -= place.flag
            if not dues:
                del self.groups[place.case_group]

    def figures(self, late: datetime, soon: datetime) -> Figures:
        """The counts at edges ``late`` and ``soon``. The last ones are handed out again
        while no place changed and neither edge has moved back or reached the next due
        time beyond it: a board read many times a second finds them so nearly always."""
        shown = self.shown
        if shown is not None and shown[0] == self.version and shown[1] <= late and \
                shown[2] <= soon and (shown[3] is None or late < shown[3]) and \
                (shown[4] is None or soon < shown[4]):
            return shown[5]
        cases = []
        next_late = next_soon = None  # the nearest due time past each edge, in any group
        for key, group in self.groups.items():
            dues = group.dues
            past = bisect_right(dues, late)
            by_soon = bisect_right(dues, soon)
            if past < len(dues) and (next_late is None or dues[past] < next_late):
                next_late = dues[past]
            if by_soon < len(dues) and (next_soon is None or dues[by_soon] < next_soon):
                next_soon = dues[by_soon]
            cases.append(CaseCount(key, len(dues), past, by_soon - past, group.flagged))
        found = Figures(self.version, tuple(self.open.items()), tuple(cases))
        self.shown = (self.version, late, soon, next_late, next_soon, found)
        return found


class _Tallies:
    """The tallies of one database (one connection pool), least recently read out first."""

    def __init__(self, usable: bool) -> None:
        self.usable = usable
        self.entries: Recent[Hashable, Any] = Recent(TALLIES)
        self.lock = threading.Lock()  # for `activity`
        # what the tallies did: readings, scopes counted from scratch, reports recounted
        self.activity = {"readings": 0, "rebuilds": 0, "recounted": 0}

    def get(self, key: Hashable, make: Callable[[], Any] = _Tally) -> Any:
        return self.entries.kept(key, make)


_BY_POOL: weakref.WeakKeyDictionary[Any, _Tallies] = weakref.WeakKeyDictionary()
_BY_POOL_LOCK = threading.Lock()
ENABLED = True  # tests and benchmarks switch it off to count from scratch every time


def tally(session: Session, key: Hashable, late: datetime, soon: datetime,
          recount: Recount, entering: Entering) -> Figures:
    """The counts of scope ``key`` at this instant: open reports per group, and the board's
    cases per case group with those due by ``late`` (past) and by ``soon`` (due soon).
    ``recount`` gives the places of some (or all) reports of the scope as they are at
    due-soon edge ``soon``; ``entering`` the reports whose deadlines fall due between two
    instants. Reports touched since the last reading, and those whose deadline the clock
    brought within ``soon``, are recounted; everything else is kept."""
    tallies = _tallies(session)
    if tallies is None:
        fresh = _Tally()
        fresh.rebuild(recount(None, soon), None, soon)
        return fresh.figures(late, soon)
    entry = tallies.get(key)
    with entry.lock:
        mark = _mark(session)
        touched = None
        if (entry.mark is not None and entry.edge is not None and soon >= entry.edge
                and time_module.monotonic() - entry.born < MAX_AGE):
            touched = _touched_since(session, entry.mark)
            if touched is not None and soon > entry.edge:
                touched.update(entering(entry.edge, soon))
            if touched is not None and len(touched) > MAX_DELTA:
                touched = None
        if touched is None:
            entry.rebuild(recount(None, soon), mark, soon)
        else:
            if touched:
                reports = sorted(touched)
                entry.apply(reports, recount(reports, soon))
            entry.mark, entry.edge = mark, soon
        with tallies.lock:
            tallies.activity["readings"] += 1
            if touched is None:
                tallies.activity["rebuilds"] += 1
            else:
                tallies.activity["recounted"] += len(touched)
        return entry.figures(late, soon)


# Whether a derived value still holds after these reports were recounted (see derived).
Keep = Callable[[Any, list[Change]], bool]


def derived(session: Session, key: Hashable, figures: Figures, name: Hashable,
            compute: Callable[[], Any], keep: Keep | None = None) -> Any:
    """``compute()``, kept with scope ``key``'s tally for as long as its places are those
    of ``figures`` (its version): what depends on the places only, not on the clock (the
    board's listed cases with no state filter, say). The value should be immutable.

    ``keep(value, changes)``, if given, says whether a value computed at an earlier version
    still holds after the reports those versions recounted (every report the change log
    named, whether or not its place moved); it is asked only while the tally remembers every
    version in between (JOURNAL), otherwise the value is computed again."""
    tallies = _tallies(session)
    if tallies is None:
        return compute()
    entry = tallies.get(key)
    with entry.lock:
        found = entry.derived.get(name)
        if found is not None and found[0] == figures.version:
            return found[1]
        changes = None
        if found is not None and keep is not None and found[0] < figures.version:
            changes = entry.changes_between(found[0], figures.version)
        if changes is not None and keep(found[1], changes):
            if entry.version == figures.version:
                entry.derived[name] = (figures.version, found[1])
            return found[1]
    value = compute()
    with entry.lock:
        if entry.version == figures.version:
            entry.derived[name] = (figures.version, value)
    return value


def kept(session: Session, key: Hashable, make: Callable[[], Any]) -> Any | None:
    """The object kept under ``key`` for the session's database in this process (made by
    ``make()`` the first time; least recently read out first with the tallies): how other
    keepers of per-report places (the worklist's, workflows/worklist_counts.py) share this
    module's registry. None when nothing is kept (switched off, or no change log)."""
    tallies = _tallies(session)
    return None if tallies is None else tallies.get(key, make)


def log_mark(session: Session) -> tuple:
    """Where the change log stands, read before the data it guards (see the module)."""
    return _mark(session)


def _logged(session: Session, mark: tuple, sources: list[str], columns: str) -> list[Any]:
    """``columns`` of the log's distinct rows since ``mark`` for these ``sources``, at
    most MAX_DELTA + 1 of them."""
    if mark[0] == "snapshot":
        query = text(f"SELECT DISTINCT {columns} FROM case_change "  # noqa: S608
                     "WHERE xid >= :xmin AND source IN :sources AND NOT "
                     "pg_visible_in_snapshot(xid::text::xid8, CAST(:snapshot AS pg_snapshot)) "
                     "LIMIT :most")
        params = {"xmin": mark[1], "snapshot": mark[2], "most": MAX_DELTA + 1}
    else:
        query = text(f"SELECT DISTINCT {columns} FROM case_change "  # noqa: S608
                     "WHERE id > :last AND source IN :sources LIMIT :most")
        params = {"last": mark[1], "most": MAX_DELTA + 1}
    query = query.bindparams(bindparam("sources", expanding=True))
    return list(session.execute(query, {**params, "sources": sources}).all())


def touched_since(session: Session, mark: tuple, sources: Iterable[str]) -> set[int] | None:
    """The reports the log names since ``mark`` for rows of these ``sources`` (c: the
    report, s: its deadlines, e: its escalations, t: its tasks and their groups); None:
    every report (a TRUNCATE), or more than MAX_DELTA to follow."""
    found = {row[0] for row in _logged(session, mark, sorted(sources), "complaint_id")}
    if None in found or len(found) > MAX_DELTA:
        return None
    return found


def touched_by_source(session: Session, mark: tuple, sources: Iterable[str]
                      ) -> dict[str, set[int]] | None:
    """touched_since, by source: the reports named for each of ``sources`` (an empty set
    for a source with none); None as touched_since, or more than MAX_DELTA (report,
    source) pairs to follow."""
    sources = sorted(sources)
    found: dict[str, set[int]] = {source: set() for source in sources}
    rows = _logged(session, mark, sources, "complaint_id, source")
    if len(rows) > MAX_DELTA:
        return None
    for complaint_id, source in rows:
        if complaint_id is None:
            return None
        found[source].add(complaint_id)
    return found


def activity(session: Session) -> dict[str, int] | None:
    """What the tallies of the session's database did in this process so far (readings,
    scopes counted from scratch, reports recounted); None when nothing is kept."""
    tallies = _tallies(session)
    if tallies is None:
        return None
    with tallies.lock:
        return dict(tallies.activity)


def clear() -> None:
    """Forget every tally of this process (tests)."""
    with _BY_POOL_LOCK:
        _BY_POOL.clear()


def _tallies(session: Session) -> _Tallies | None:
    if not ENABLED:
        return None
    pool = session.get_bind().pool
    with _BY_POOL_LOCK:
        found = _BY_POOL.get(pool)
    if found is None:
        found = _Tallies(_has_triggers(session))
        with _BY_POOL_LOCK:
            found = _BY_POOL.setdefault(pool, found)
    return found if found.usable else None


def _mark(session: Session) -> tuple:
    """Where the log stands, read before the data it guards (see the module). A read
    session (one per GET request) reads it once for every keeper it serves (the board's
    tally and the inbox's, say): an earlier mark only makes more writes count as newer,
    never fewer (as readcache.log_mark)."""
    if session.info.get("aduan_read"):
        memo = session.info.get("aduan_case_change_mark")
        if memo is None:
            memo = session.info["aduan_case_change_mark"] = _read_mark(session)
        return memo
    return _read_mark(session)


def mark_column() -> Any:
    """Where the log stands, as a column for the first statement of a read session (a
    page's reading of its signed-in officer): `seed_mark` keeps it for the keepers the
    page serves, one statement fewer."""
    return _POSITION


def seed_mark(session: Session, position: str | None) -> None:
    """Keep a read session's mark read with `mark_column()` (see _mark)."""
    if position is not None and session.info.get("aduan_read") and \
            "aduan_case_change_mark" not in session.info:
        session.info["aduan_case_change_mark"] = _parsed_mark(session, position)


_POSITION = LogPosition().label("case_change_position")


def _read_mark(session: Session) -> tuple:
    return _parsed_mark(session, session.scalar(select(LogPosition())))


def _parsed_mark(session: Session, position: str) -> tuple:
    if session.get_bind().dialect.name == "postgresql":
        return ("snapshot", int(position.split(":")[0]), position)
    return ("id", int(position or 0))


def _touched_since(session: Session, mark: tuple) -> set[int] | None:
    """The reports written since ``mark`` (their reports or deadlines; escalations and
    tasks do not move a report on the board)."""
    return touched_since(session, mark, ("c", "s"))


def _has_triggers(session: Session) -> bool:
    return readcache.has_triggers(session, _TRIGGERS)


_IN_USE: weakref.WeakKeyDictionary[Any, dict[tuple, bool]] = weakref.WeakKeyDictionary()
_IN_USE_LOCK = threading.Lock()


def in_use(session: Session, triggers: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a keeper of counts may keep them here: kept counts are not switched off
    (ENABLED) and the session's database has the keeper's triggers (checked once per
    database of the process; ``triggers``: its trigger names by dialect)."""
    if not ENABLED:
        return False
    pool = session.get_bind().pool
    key = tuple(sorted((dialect, tuple(names)) for dialect, names in triggers.items()))
    with _IN_USE_LOCK:
        found = _IN_USE.get(pool, {}).get(key)
    if found is None:
        found = readcache.has_triggers(session, triggers)
        with _IN_USE_LOCK:
            _IN_USE.setdefault(pool, {})[key] = found
    return found
