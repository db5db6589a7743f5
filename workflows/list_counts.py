"""The list API's totals from kept counts instead of a count over a million reports.

The list of reports (workflows/documents.py) answers its total for the common pages, no
search, no dates, no drill-down, with at most a status, an agency and lateness, from:

- ``report_count`` (migration 0034_page_counts, workflows/page_count_models.py): the
  reports per status, agency and unit, kept by triggers in the writer's transaction; a
  total is a sum over a few hundred rows, exact at the reading's snapshot, shared by every
  process (the database is the one computation);
- for lateness (a running deadline already past), the late reports' places kept like the
  SLA board's (workflows/readcounts.py, one scope for every reader): every report with a
  running deadline, its status, agency and unit and the earliest such deadline, recounted
  only for the reports the change log names since the last reading; late is decided at the
  reading's instant from the kept deadlines, never by recounting.

A reader's scope (workflows/documents.visible_filter: their agencies and units, and the
reports not yet sent anywhere for the regency-wide) is applied to these keys at reading.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows import access, readcache, readcounts
from workflows.models import Complaint, SlaRecord
from workflows.page_count_models import ReportCount
from workflows.sla import RUNNING

_TRIGGERS = {"postgresql": ("trg_report_count",),
             "sqlite": ("trg_report_count_insert", "trg_report_count_update",
                        "trg_report_count_delete")}
_USABLE: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
LATE_SCOPE = ("list late",)  # one tally for every reader: scopes are applied at reading
_TICK = timedelta(microseconds=1)


def usable(session: Session) -> bool:
    """Whether totals are kept here: the database has the triggers (migrated to 0034) and
    kept counts are not switched off (readcounts.ENABLED, tests and benchmarks)."""
    if not readcounts.ENABLED:
        return False
    pool = session.get_bind().pool
    with _LOCK:
        found = _USABLE.get(pool)
    if found is None:
        found = readcache.has_triggers(session, _TRIGGERS)
        with _LOCK:
            _USABLE[pool] = found
    return found


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
    late = _late(session, principal, now, status=status, agency_id=agency_id)
    return late if overdue else every - late


def _late(session: Session, principal: access.Principal, now: datetime, *,
          status: str | None, agency_id: int | None) -> int:
    figures = readcounts.tally(session, LATE_SCOPE, now - _TICK, now,
                               lambda reports, _edge: _places(session, reports),
                               lambda _after, _until: ())
    found = 0
    for case in figures.cases:
        key = case.group
        if ((status and key[0] != status) or (agency_id is not None and key[1] != agency_id)
                or not _shown(principal, key)):
            continue
        found += case.due_by_late
    return found


def _places(session: Session, reports: Iterable[int] | None) -> dict[int, readcounts.Place]:
    """Every report with a running deadline (or these): its status, agency and unit, and
    the earliest running deadline (late once it is before the reading's instant). The
    running deadlines are read over their state's index and the earliest picked here: a
    GROUP BY lets SQLite walk every deadline (3,000,000) in report order instead."""
    query = (select(Complaint.id, Complaint.status, Complaint.agency_id, Complaint.unit_id,
                    SlaRecord.due_at)
             .join(Complaint, Complaint.id == SlaRecord.complaint_id)
             .where(SlaRecord.state == RUNNING))
    if reports is not None:
        query = query.where(SlaRecord.complaint_id.in_(list(reports)))
    found: dict[int, readcounts.Place] = {}
    for report, status, agency, unit, due in session.execute(query):
        kept = found.get(report)
        if due is not None and (kept is None or due < kept.due):
            key = (status, agency, unit)
            found[report] = readcounts.Place(key, key, due)
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
