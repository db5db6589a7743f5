"""The supervisors' SLA board: the open cases of their scope whose government deadline is due
within a working day, is past, or has climbed the ladder, counted per OPD and per rung of the
ladder, and the cases themselves with the fewest working days left first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from engine.recent import Recent
from workflows import access, readcounts, stats
from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.deadlines import overdue_before
from workflows.errors import Forbidden, Invalid
from workflows.escalations import agency_brief, supervised_title
from workflows.models import OPEN_PREDICATE, Agency, Complaint, SlaRecord
from workflows.sla import CITIZEN_STEPS, RUNNING, STEP_LABELS
from workflows.workdays import calendar_for

DUE_SOON_DAYS = 1.0  # "due soon": at most this many working days left
BOARD_STATES = ("due_soon", "overdue", "escalated")
BOARD_CASES_LISTED = 50
NO_AGENCY = "none"  # the board's key for reports not yet sent to an OPD


@dataclass(frozen=True)
class BoardQuery:
    """One reading of the board: who asks and when, on which calendar and ladder, which
    reports and deadlines it counts, and which cases its filters list."""

    principal: access.Principal
    calendar: WorkingCalendar
    now: datetime
    ladder: list[str]
    agencies: dict[int, Any]
    where: list[Any]  # the open reports in scope
    scope_ids: list[int] | None  # their agencies and units (None: the whole regency)
    matched: list[Any]  # the board's deadlines of those reports (matched_of)
    late: datetime  # due at or before: overdue
    soon: datetime  # due at or before (and not late): due soon
    opd: str | None  # an agency code, or NO_AGENCY
    opd_id: int | None
    rung: str | None
    state: str | None
    limit: int

    @property
    def listed_agency(self) -> int | str | None:
        """The agency the list keeps: an id, NO_AGENCY (not yet sent), or None (any)."""
        return None if self.opd is None else (self.opd_id or NO_AGENCY)


def sla_board(session: Session, principal: access.Principal, config: RegencyConfig,
              now: datetime, *, opd: str | None = None, rung: str | None = None,
              state: str | None = None, limit: int = BOARD_CASES_LISTED) -> dict[str, Any]:
    """The open cases of the caller's scope whose government deadline is due within a
    working day, is past, or has climbed the ladder, counted per OPD and per rung.

    Scope as for the statistics (workflows.stats.resolve_scope): the regency administrator,
    Diskominfo's supervisors and the supervisors of the regency or province (Sekda, Bupati,
    province) see the whole regency, reports not yet sent to an OPD included; an OPD's
    supervisor sees the reports their agency or its units hold. ``opd`` (an agency code, or
    "none" for reports not yet sent to an OPD), ``rung`` and ``state`` (due_soon, overdue,
    escalated) narrow the list of cases, not the counts.

    A case's figures come from the government's running deadlines (the complainant's own
    windows never escalate): the one that ends first gives the working days left, the
    highest rung reached gives its place on the ladder; it is *escalated* when a deadline
    has climbed above the rung that holds the case.
    """
    if not principal.has("supervisor", "regency_admin", "system_admin"):
        raise Forbidden("the SLA board is for supervisors and the regency administrator")
    scope = stats.resolve_scope(session, principal, config, None)
    errors: dict[str, str] = {}
    if state is not None and state not in BOARD_STATES:
        errors["state"] = f"one of {', '.join(BOARD_STATES)}"
    if rung is not None and rung not in config.ladder:
        errors["rung"] = f"one of {', '.join(config.ladder)}"
    if opd is not None and opd != NO_AGENCY and session.scalar(
            select(func.count()).select_from(Agency).where(Agency.code == opd)) == 0:
        errors["opd"] = f"no agency has the code {opd!r}"
    if errors:
        raise Invalid("the board's filters are not valid", errors)

    calendar = calendar_for(session, config)
    soon = calendar.add_working_days(now, DUE_SOON_DAYS)
    late = overdue_before(calendar, now)  # due at or before: overdue
    # Open reports, written as the condition of their partial index (OPEN_PREDICATE) so
    # that both databases see the query can read that index instead of every report.
    where: list[Any] = [text(OPEN_PREDICATE)]
    agency_ids = None
    if scope.agency_ids is not None:
        agency_ids = sorted(scope.agency_ids) or [-1]
        where.append(or_(Complaint.agency_id.in_(agency_ids),
                         Complaint.unit_id.in_(agency_ids)))
    ladder = list(config.ladder)
    agencies = access.agency_table(session)
    opd_id = None
    if opd is not None and opd != NO_AGENCY:
        opd_id = next((a.id for a in agencies.values() if a.code == opd), -1)
    query = BoardQuery(principal, calendar, now, ladder, agencies, where, agency_ids,
                       matched_of(where, soon), late, soon, opd, opd_id, rung, state, limit)

    # The counts: every open report's place kept per scope, recounted only for the reports
    # a write touched or the clock brought onto the board (workflows/readcounts.py).
    key = ("board", None if scope.agency_ids is None else tuple(sorted(scope.agency_ids)),
           tuple(ladder))
    figures = readcounts.tally(session, key, late, soon,
                               lambda reports, edge: _places(session, query, reports, edge),
                               lambda after, until: _entering(session, after, until))
    open_by_agency, cells, cases_total = _board_counts(query, figures)
    # The list of cases depends on the places only (not on the clock) unless it is filtered
    # by state: kept with the tally's version, and across later versions while the reports
    # they recounted were neither listed nor could enter the list (_list_holds).
    if state is None:
        listed_ids, records = readcounts.derived(
            session, key, figures, ("listed", opd, rung, limit),
            lambda: _listed_with_records(session, query),
            lambda kept, changes: _list_holds(kept, changes, limit))
    else:
        listed_ids, records = _listed_with_records(session, query)
    counted = {"at": now, "listed": listed_ids, "records": records}
    # The listed cases' working days left change by the hour: counted now.
    docs = _listed_cases(query, counted["records"])
    listed = sorted((docs[i] for i in counted["listed"] if i in docs),
                    key=lambda c: (c["working_days_left"], c["tracking_number"]))

    def blank() -> dict[str, int]:
        return {name: 0 for name in BOARD_STATES}

    rows = []
    for agency_id in set(open_by_agency) | set(cells):
        agency = agencies.get(agency_id)
        per_rung = cells[agency_id] if agency_id in cells else {n: blank() for n in ladder}
        total = {name: sum(per_rung[r][name] for r in ladder) for name in BOARD_STATES}
        rows.append({"agency": agency_brief(agency),
                     "key": agency.code if agency else NO_AGENCY,
                     "open": open_by_agency.get(agency_id, 0), "cells": per_rung,
                     "total": total})
    rows.sort(key=lambda r: (r["agency"] is None, -r["total"]["overdue"],
                             -r["total"]["due_soon"], -r["open"],
                             r["agency"]["name"] if r["agency"] else ""))
    column_totals = {r: {name: sum(row["cells"][r][name] for row in rows)
                         for name in BOARD_STATES} for r in ladder}
    totals = {"open": sum(r["open"] for r in rows), "cells": column_totals,
              "total": {name: sum(row["total"][name] for row in rows)
                        for name in BOARD_STATES}}

    return {
        # when the counts were made: now (they are exact at the reading's instant)
        "as_of": counted["at"].astimezone(calendar.tzinfo).isoformat(),
        "scope": scope.document(),
        "due_soon_days": DUE_SOON_DAYS,
        "ladder": [{"key": r, "label": RUNG_LABELS.get(r, {"id": r, "en": r})}
                   for r in ladder],
        "rows": rows,
        "totals": totals,
        "filters": {"opd": opd, "rung": rung, "state": state},
        "cases": listed,
        "cases_total": cases_total,
        # What the counts are, as one immutable value: what callers derive from the counts
        # alone (the page's rendered table) may be kept under it.
        "counts_key": (key, figures.open, figures.cases),
    }


def matched_of(where: list[Any], soon: datetime) -> list[Any]:
    """The board's deadlines: running government deadlines of the open reports in scope
    (``where``) that are due by ``soon`` or have climbed above their holder."""
    return [*where, SlaRecord.state == RUNNING, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)),
            or_(SlaRecord.due_at <= soon, SlaRecord.rung > SlaRecord.holder_rung)]



def _per_case(matched: list[Any], last: Any, late: Any, soon: Any
              ) -> tuple[Any, Any, Any, Any]:
    """One row per case of the board's deadlines (``matched``), in the database: its nearest
    matching deadline (the fewest working days left), the highest rung reached (at most the
    ladder's last rung, ``last``: an index or a bound value), whether a deadline climbed above
    its holder; and the conditions of its rung, overdue and due soon."""
    # Grouped by `id + 0`: grouped by the bare id, SQLite reads every report in id order
    # to save a sort instead of only the open ones from their index.
    case_id = Complaint.id + 0
    per_case = (
        select(case_id.label("complaint_id"), Complaint.agency_id.label("agency_id"),
               func.min(SlaRecord.due_at).label("due"),
               func.max(SlaRecord.rung).label("rung"),
               func.max(sql_case((SlaRecord.rung > SlaRecord.holder_rung, 1), else_=0))
               .label("escalated"))
        .join(Complaint, Complaint.id == SlaRecord.complaint_id).where(*matched)
        .group_by(case_id, Complaint.agency_id)).subquery()
    rung_of = sql_case((per_case.c.rung > last, last), else_=per_case.c.rung)
    return (per_case, rung_of, per_case.c.due <= late,
            and_(per_case.c.due > late, per_case.c.due <= soon))


def board_case_ids(session: Session, config: RegencyConfig, now: datetime,
                   state: str | None, rung: str | None) -> Any:
    """The ids of the open cases a count of the board counts (a subquery): on the board at
    all (``state`` None), or due soon, overdue or escalated; at a rung of the ladder if
    given. Scoped by the caller of the list (workflows/case_filters.py)."""
    calendar = calendar_for(session, config)
    ladder = list(config.ladder)
    per_case, rung_of, is_overdue, is_due_soon = _per_case(
        matched_of([text(OPEN_PREDICATE)], calendar.add_working_days(now, DUE_SOON_DAYS)),
        len(ladder) - 1, overdue_before(calendar, now),
        calendar.add_working_days(now, DUE_SOON_DAYS))
    where: list[Any] = []
    if state == "overdue":
        where.append(is_overdue)
    elif state == "due_soon":
        where.append(is_due_soon)
    elif state == "escalated":
        where.append(per_case.c.escalated == 1)
    if rung is not None:
        where.append(rung_of == ladder.index(rung))
    return select(per_case.c.complaint_id).where(*where)


def _places(session: Session, query: BoardQuery, reports: list[int] | None,
            edge: datetime) -> dict[int, readcounts.Place]:
    """Where these open reports of the scope (None: all) are counted on the board at
    due-soon edge ``edge``: their agency, and for those with a deadline on the board their
    agency and rung, nearest due time and whether a deadline climbed (see sla_board)."""
    open_reports, on_board = _places_statements(query.scope_ids is not None,
                                                reports is not None)
    values: dict[str, Any] = {"edge": edge, "last_rung": len(query.ladder) - 1}
    if query.scope_ids is not None:
        values["scope"] = query.scope_ids
    if reports is not None:
        values["reports"] = list(reports)
    places = {report: readcounts.Place(agency_id)
              for report, agency_id in session.execute(open_reports, values)}
    for report, agency_id, due, rung_index, escalated in session.execute(on_board, values):
        places[report] = readcounts.Place(agency_id, (agency_id, int(rung_index)), due,
                                          bool(escalated))
    return places


@cache
def _places_statements(scoped: bool, some: bool) -> tuple[Any, Any]:
    """_places's two statements (the open reports; those on the board, one row a case),
    built once per shape with bound values: a write's recount runs them on every reader's
    next board, and building the grouped query costs more than running it for one report.
    Values: ``edge``, ``last_rung``, and ``scope`` (agency ids) and ``reports`` (ids) when
    ``scoped`` and ``some``."""
    where: list[Any] = [text(OPEN_PREDICATE)]
    if scoped:
        scope = bindparam("scope", expanding=True)
        where.append(or_(Complaint.agency_id.in_(scope), Complaint.unit_id.in_(scope)))
    if some:
        where.append(Complaint.id.in_(bindparam("reports", expanding=True)))
    edge = bindparam("edge", type_=SlaRecord.due_at.type)
    per_case, rung_of, _late, _soon = _per_case(matched_of(where, edge),
                                                bindparam("last_rung"), edge, edge)
    return (select(Complaint.id, Complaint.agency_id).where(*where),
            select(per_case.c.complaint_id, per_case.c.agency_id, per_case.c.due, rung_of,
                   per_case.c.escalated))


def _entering(session: Session, after: datetime, until: datetime) -> list[int]:
    """The reports with a running government deadline due in (after, until]: the clock
    brought them within the due-soon window (read over ix_sla_record_state_due)."""
    return list(session.scalars(
        select(SlaRecord.complaint_id).where(
            SlaRecord.state == RUNNING, SlaRecord.due_at > after, SlaRecord.due_at <= until,
            SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))))


def _board_counts(query: BoardQuery, figures: readcounts.Figures
                  ) -> tuple[dict[Any, int], dict[Any, dict[str, dict[str, int]]], int]:
    """The board's counts (open reports per agency; cases per agency, rung and state; the
    cases the filters match) from the scope's tally."""
    ladder, opd, opd_id, rung, state = (query.ladder, query.opd, query.opd_id, query.rung,
                                        query.state)

    def blank() -> dict[str, int]:
        return {name: 0 for name in BOARD_STATES}

    cells: dict[int | None, dict[str, dict[str, int]]] = {}
    cases_total = 0
    for counted in figures.cases:
        agency_id, rung_index = counted.group
        figures_of = {"overdue": counted.due_by_late, "due_soon": counted.due_by_soon,
                      "escalated": counted.flagged}
        cell = cells.setdefault(agency_id, {name: blank() for name in ladder})[
            ladder[rung_index]]
        for name, value in figures_of.items():
            cell[name] += value
        if (opd is None or (agency_id is None if opd == NO_AGENCY else agency_id == opd_id)) \
                and (rung is None or ladder[rung_index] == rung):
            cases_total += figures_of[state] if state is not None else counted.cases
    return dict(figures.open), cells, cases_total


def _list_holds(kept: tuple[tuple[int, ...], tuple[Any, ...]],
                changes: list[readcounts.Change], limit: int) -> bool:
    """Whether a list of cases (unfiltered by state) still holds after these reports were
    recounted: none of them is listed, and none has a place on the board due at or before
    the last listed case's nearest deadline (or the list is short of ``limit`` and any
    case could join it). A recounted report outside the list that cannot enter it changes
    nothing listed: the list is the first ``limit`` cases by nearest deadline."""
    listed_ids, records = kept
    listed = set(listed_ids)
    cutoff = None
    if len(listed_ids) >= limit:
        nearest: dict[int, datetime] = {}
        for record in records:
            if record.id not in nearest or record.due_at < nearest[record.id]:
                nearest[record.id] = record.due_at
        cutoff = max(nearest.values(), default=None)
    for change in changes:
        if change.report in listed:
            return False
        after = change.after
        if after is not None and after.case_group is not None and (
                cutoff is None or after.due <= cutoff):
            return False
    return True


def _listed_with_records(session: Session, query: BoardQuery
                         ) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """The board's list: the ids of the cases matching the filters with the fewest working
    days left, and their matching deadlines (_board_records), as read while choosing them.

    The deadlines are read in order of due time (ix_sla_record_state_due), so the first time
    a case appears is its nearest deadline; reading stops once `limit` cases match, instead
    of ranking every open case."""
    limit, rung, state, opd = query.limit, query.rung, query.state, query.listed_agency
    if limit <= 0:
        return (), ()
    walk = (select(SlaRecord.complaint_id)
            .join(Complaint, Complaint.id == SlaRecord.complaint_id).where(*query.matched)
            .order_by(SlaRecord.due_at, SlaRecord.id))
    if opd == NO_AGENCY:
        walk = walk.where(Complaint.agency_id.is_(None))
    elif opd is not None:
        walk = walk.where(Complaint.agency_id == opd)
    seen: set[int] = set()
    listed: list[dict[str, Any]] = []
    records_of: dict[int, list[Any]] = {}
    batch = max(4 * limit, 400)
    while True:
        read = session.scalars(walk.limit(batch)).all()
        fresh = [i for i in dict.fromkeys(read) if i not in seen]
        seen.update(fresh)
        while fresh and len(listed) < limit:
            # as many cases as are still wanted (at least 50), so that an unfiltered list
            # loads only the cases it shows
            size = max(limit - len(listed), 50)
            chunk, fresh = fresh[:size], fresh[size:]
            read_records = _board_records(session, query.matched, chunk)
            cases = _board_cases(query, read_records)
            for record in read_records:
                records_of.setdefault(record.id, []).append(record)
            for complaint_id in chunk:
                case = cases.get(complaint_id)
                if case is None or (rung is not None and case["rung"] != rung) or (
                        state is not None and not (case["escalated"] if state == "escalated"
                                                   else case["state"] == state)):
                    continue
                listed.append(case)
        if len(listed) >= limit or len(read) < batch:
            break
        batch *= 4
    ids = tuple(case["complaint_id"] for case in listed[:limit])
    # the listed cases' deadlines in the order _board_records reads them (by deadline id)
    return ids, tuple(sorted((r for i in ids for r in records_of.get(i, ())),
                             key=lambda r: r.record_id))


def _board_records(session: Session, matched: list[Any], complaint_ids: list[int]
                   ) -> list[Any]:
    """The matching deadlines of these cases with their reports' listed columns, as plain
    rows (no ORM objects: a report's body and its deadlines' pauses are not shown). Named
    as the report's attributes, which is what _title and the access rules read."""
    return session.execute(
        select(SlaRecord.step, SlaRecord.due_at, SlaRecord.rung, SlaRecord.holder_rung,
               SlaRecord.id.label("record_id"), Complaint.id, Complaint.tracking_number,
               Complaint.title, Complaint.status, Complaint.confidential, Complaint.agency_id,
               Complaint.unit_id)
        .join(Complaint, Complaint.id == SlaRecord.complaint_id)
        .where(*matched, SlaRecord.complaint_id.in_(complaint_ids or [-1]))
        .order_by(SlaRecord.id)).all()


def _board_cases(query: BoardQuery, records: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """A board row for each case of these records (_board_records), its working days left
    counted at the query's instant."""
    return _at_instant(query, _case_parts(query, records))


def _listed_cases(query: BoardQuery, records: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """_board_cases for the kept list's records (the same tuple while the list holds): what
    does not move with the clock is made once per reader, list, agency table and calendar,
    and only the working days left are counted at each reading."""
    key = (query.principal, tuple(query.ladder))
    kept = _PARTS.get(key)
    if kept is not None and kept[0] is records and kept[1] is query.agencies and \
            kept[2] is query.calendar:
        _PARTS.touch(key)
        parts = kept[3]
    else:
        parts = _case_parts(query, records)
        _PARTS.put(key, (records, query.agencies, query.calendar, parts))
    return _at_instant(query, parts)


PARTS_KEPT = 64  # readers (and ladders) whose listed cases' fixed parts are kept
_PARTS: Recent[Any, tuple[Any, Any, Any, dict[int, Any]]] = Recent(PARTS_KEPT)


def _case_parts(query: BoardQuery, records: Sequence[Any]
                ) -> dict[int, tuple[dict[str, Any], datetime, dict[str, Any]]]:
    """Per case: its row's fields before and after the working days left and state, and
    the due time those are counted to (the deadline that ends first: the fewest working
    days left at any instant, the first read among equals)."""
    principal, calendar, agencies, ladder = (query.principal, query.calendar,
                                             query.agencies, query.ladder)
    by_case: dict[int, dict[str, Any]] = {}
    for record in records:
        complaint = record  # the report's columns, by their names
        case = by_case.get(complaint.id)
        if case is None:
            case = by_case[complaint.id] = {
                "complaint": complaint, "record": record, "rung": record.rung,
                "escalated": False}
        elif record.due_at < case["record"].due_at and \
                calendar.working_days_left(record.due_at, case["record"].due_at) > 0:
            case["record"] = record
        case["rung"] = max(case["rung"], record.rung)
        case["escalated"] = case["escalated"] or record.rung > record.holder_rung
    found = {}
    for complaint_id, case in by_case.items():
        complaint, record = case["complaint"], case["record"]
        rung_name = ladder[min(case["rung"], len(ladder) - 1)]
        found[complaint_id] = ({
            "complaint_id": complaint_id,
            "tracking_number": complaint.tracking_number,
            "title": supervised_title(principal, complaint),
            "status": complaint.status,
            "status_label": ids.STATUS_LABELS.get(complaint.status, {}),
            "agency": agency_brief(agencies.get(complaint.agency_id)),
            "unit": agency_brief(agencies.get(complaint.unit_id)),
            "step": record.step,
            "step_label": STEP_LABELS.get(record.step, {"id": record.step, "en": record.step}),
            "due_at": record.due_at.astimezone(calendar.tzinfo).isoformat(),
        }, record.due_at, {
            "escalated": case["escalated"],
            "rung": rung_name,
            "rung_label": RUNG_LABELS.get(rung_name, {}),
        })
    return found


def _at_instant(query: BoardQuery, parts: Mapping[int, tuple[dict[str, Any], datetime,
                                                            dict[str, Any]]]
                ) -> dict[int, dict[str, Any]]:
    calendar, now = query.calendar, query.now
    found = {}
    for complaint_id, (head, due, tail) in parts.items():
        left = calendar.working_days_left(now, due)
        found[complaint_id] = {
            **head, "working_days_left": round(left, 2),
            "state": "overdue" if left < 0 else "due_soon" if left <= DUE_SOON_DAYS else None,
            **tail}
    return found
