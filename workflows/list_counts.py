"""The list API's totals from kept counts instead of a count over a million reports.

The list of reports (workflows/documents.py) answers its total for the common pages, no
search, no dates, no drill-down, with at most a status, an agency and lateness, from:

- ``report_count`` (migration 0036_page_counts, workflows/page_count_models.py): the
  reports per status, agency and unit, kept by triggers in the writer's transaction; a
  total is a sum over a few hundred rows, exact at the reading's snapshot, shared by every
  process (the database is the one computation);
- for lateness (a running deadline already past), every report with a running deadline
  kept per process like the SLA board's places (one scope for every reader, in the
  registry of workflows/readcounts.py): its status, agency and unit, its earliest running
  deadline and when it was filed, recounted only for the reports the change log names
  since the last reading. Late is decided at the reading's instant from the kept deadlines
  (sorted), never by recounting: the reports late at that instant are kept per status,
  agency and unit in filing order, and a later reading moves in only those whose deadline
  passed since. The count of late reports is the sizes of the shown lists; their page (the
  newest first) is those lists merged, not read from the database and not a walk over the
  reports that are not late.

A reader's scope (workflows/documents.visible_filter: their agencies and units, and the
reports not yet sent anywhere for the regency-wide) is applied to these keys at reading.
"""

from __future__ import annotations

import threading
import time as time_module
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from heapq import merge
from itertools import islice
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import access, readcounts
from workflows.models import Complaint, SlaRecord
from workflows.page_count_models import ReportCount
from workflows.sla import RUNNING

_TRIGGERS = {"postgresql": ("trg_report_count",),
             "sqlite": ("trg_report_count_insert", "trg_report_count_update",
                        "trg_report_count_delete")}
LATE_SCOPE = ("list late",)  # one keeper for every reader: scopes are applied at reading
_TICK = timedelta(microseconds=1)
SOURCES = ("c", "s")  # a report's own rows and its deadlines
Key = tuple[Any, Any, Any]  # status, agency id, unit id (None: none)
_AFTER_EVERY_ID = float("inf")  # sorts after any report id of the same deadline


@dataclass(frozen=True, slots=True)
class LatePlace:
    """A report with a running deadline: where the list counts it, its earliest running
    deadline, when it was filed."""

    key: Key
    due: datetime
    created_at: datetime


class _Late:
    """Every report with a running deadline (see the module); changed and read only under
    its lock.

    The reports late at the last instant asked about (`until`) are kept apart, per status,
    agency and unit, in filing order: a count is the sizes of the shown keys' lists, and a
    page the newest of them merged, so neither walks the reports that are not late. Another
    instant moves only the reports whose deadline lies between the two (`by_due`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.places: dict[int, LatePlace] = {}
        self.by_due: list[tuple[datetime, int]] = []  # every kept report, by deadline
        self.late: dict[Key, list[tuple[datetime, int]]] = {}  # filing order, per key
        self.until: datetime | None = None  # `late` holds the deadlines up to this instant
        self.mark: tuple | None = None
        self.born = 0.0

    def rebuild(self, places: dict[int, LatePlace], mark: tuple | None) -> None:
        self.places = dict(places)
        self.by_due = sorted((p.due, r) for r, p in places.items())
        self.late, self.until = {}, None
        self.mark, self.born = mark, time_module.monotonic()

    def apply(self, reports: list[int], places: dict[int, LatePlace]) -> None:
        until = self.until
        for report in reports:
            old = self.places.pop(report, None)
            if old is not None:
                _drop(self.by_due, (old.due, report))
                if until is not None and old.due <= until:
                    self._unlate(old.key, (old.created_at, report))
            new = places.get(report)
            if new is not None:
                self.places[report] = new
                insort(self.by_due, (new.due, report))
                if until is not None and new.due <= until:
                    insort(self.late.setdefault(new.key, []), (new.created_at, report))

    def count(self, late: datetime, shown: Callable[[Key], bool]) -> int:
        return sum(len(filed) for key, filed in self._late_at(late).items() if shown(key))

    def page(self, late: datetime, shown: Callable[[Key], bool], limit: int,
             offset: int) -> list[int]:
        newest = merge(*(reversed(filed) for key, filed in self._late_at(late).items()
                         if shown(key)), reverse=True)
        return [report for _, report in islice(newest, offset, offset + limit)]

    def _late_at(self, late: datetime) -> dict[Key, list[tuple[datetime, int]]]:
        """`late` made to hold exactly the reports whose deadline is no later than `late`."""
        if self.until is None:
            grouped: dict[Key, list[tuple[datetime, int]]] = {}
            for _, report in islice(self.by_due, self._upto(late)):
                place = self.places[report]
                grouped.setdefault(place.key, []).append((place.created_at, report))
            for filed in grouped.values():
                filed.sort()
            self.late = grouped
        elif late > self.until:
            for _, report in self.by_due[self._upto(self.until):self._upto(late)]:
                place = self.places[report]
                insort(self.late.setdefault(place.key, []), (place.created_at, report))
        elif late < self.until:
            for _, report in self.by_due[self._upto(late):self._upto(self.until)]:
                place = self.places[report]
                self._unlate(place.key, (place.created_at, report))
        self.until = late
        return self.late

    def _upto(self, instant: datetime) -> int:
        """How many kept deadlines are no later than `instant`."""
        return bisect_right(self.by_due, (instant, _AFTER_EVERY_ID))

    def _unlate(self, key: Key, entry: tuple[datetime, int]) -> None:
        filed = self.late[key]
        _drop(filed, entry)
        if not filed:
            del self.late[key]


def _drop(keys: list, key: Any) -> None:
    at = bisect_right(keys, key) - 1
    if at >= 0 and keys[at] == key:
        del keys[at]


def usable(session: Session) -> bool:
    """Whether totals are kept here: the database has the triggers (migrated to 0036) and
    kept counts are not switched off (readcounts.ENABLED, tests and benchmarks)."""
    return readcounts.in_use(session, _TRIGGERS)


def total(session: Session, principal: access.Principal, now: datetime, *,
          status: str | None, agency_id: int | None, overdue: bool | None) -> int:
    """How many reports the principal's list shows with these filters (``agency_id``: the
    holding agency asked for, -1 for a code no agency has)."""
    counts = select(ReportCount.status, ReportCount.agency_id, ReportCount.unit_id,
                    func.sum(ReportCount.n)).group_by(
        ReportCount.status, ReportCount.agency_id, ReportCount.unit_id)
    if status:
        counts = counts.where(ReportCount.status == status)
    if agency_id is not None:
        counts = counts.where(ReportCount.agency_id == agency_id)
    every = sum(int(n) for s, a, u, n in session.execute(counts)
                if _shown(principal, (s, a or None, u or None)))
    if overdue is None:
        return every
    shown = _filter(principal, status, agency_id)
    late = _read(session, lambda kept: kept.count(now - _TICK, shown))
    return late if overdue else every - late


def late_page(session: Session, principal: access.Principal, now: datetime, *,
              status: str | None, agency_id: int | None, limit: int, offset: int
              ) -> list[int] | None:
    """The ids of the page of late reports the list shows (the newest first), from the
    kept reports; None when nothing is kept (the caller reads the database)."""
    shown = _filter(principal, status, agency_id)
    return _read(session, lambda kept: kept.page(now - _TICK, shown, limit, offset),
                 fresh_ok=False)


def _filter(principal: access.Principal, status: str | None, agency_id: int | None
            ) -> Callable[[Key], bool]:
    def shown(key: Key) -> bool:
        return not ((status and key[0] != status)
                    or (agency_id is not None and key[1] != agency_id)
                    or not _shown(principal, key))
    return shown


def _read(session: Session, answer: Callable[[_Late], Any], fresh_ok: bool = True) -> Any:
    """``answer`` of the kept late reports, brought up to date (see the module)."""
    kept = readcounts.kept(session, LATE_SCOPE, _Late)
    if kept is None:
        if not fresh_ok:
            return None
        fresh = _Late()
        fresh.rebuild(_places(session, None), None)
        return answer(fresh)
    with kept.lock:
        mark = readcounts.log_mark(session)
        touched = None
        if kept.mark is not None and time_module.monotonic() - kept.born < readcounts.MAX_AGE:
            touched = readcounts.touched_since(session, kept.mark, SOURCES)
        if touched is None:
            kept.rebuild(_places(session, None), mark)
        else:
            if touched:
                reports = sorted(touched)
                kept.apply(reports, _places(session, reports))
            kept.mark = mark
        return answer(kept)


def _places(session: Session, reports: Iterable[int] | None) -> dict[int, LatePlace]:
    """Every report with a running deadline (or these): where the list counts it, the
    earliest running deadline, when it was filed. The running deadlines are read over their
    state's index and the earliest picked here: a GROUP BY lets SQLite walk every deadline
    (3,000,000) in report order instead."""
    query = (select(Complaint.id, Complaint.status, Complaint.agency_id, Complaint.unit_id,
                    Complaint.created_at, SlaRecord.due_at)
             .join(Complaint, Complaint.id == SlaRecord.complaint_id)
             .where(SlaRecord.state == RUNNING))
    if reports is not None:
        query = query.where(SlaRecord.complaint_id.in_(list(reports)))
    found: dict[int, LatePlace] = {}
    for report, status, agency, unit, created, due in session.execute(query):
        kept = found.get(report)
        if due is not None and (kept is None or due < kept.due):
            found[report] = LatePlace((status, agency, unit), due, created)
    return found


def _shown(principal: access.Principal, key: tuple[Any, ...]) -> bool:
    """Whether reports of (status, agency, unit) are in the principal's list (as
    documents.visible_filter)."""
    if principal.sees_everything:
        return True
    _, agency, unit = key
    held = principal.agency_ids
    if agency in held or unit in held:
        return True
    return bool(principal.regency_wide and agency is None and unit is None)
