"""The supervisors' escalation inbox (list, acknowledge, note, reassign targets) and their SLA
board: the open cases of their scope that are due within a working day, late or escalated,
counted per OPD and per rung of the ladder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from workflows import access, readcache, stats
from workflows import diagram_ids as ids
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.deadlines import next_due_after, overdue_before
from workflows.documents import report_columns, report_of
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.models import (
    OPEN_PREDICATE,
    Agency,
    Complaint,
    ComplaintEvent,
    Escalation,
    SlaRecord,
)
from workflows.sla import CITIZEN_STEPS, RUNNING, STEP_LABELS
from workflows.workdays import calendar_for

HIDDEN = "[rahasia]"
NOTE_MAX = 2000
# Reports a supervisor may move to another agency: those waiting on an OPD's follow-up.
REASSIGNABLE = (ids.STATUS_DISPOSED, ids.STATUS_IN_PROGRESS)
TARGET_KINDS = ("opd", "bumd", "kecamatan", "kelurahan", "unit")

# The SLA board.
DUE_SOON_DAYS = 1.0  # "due soon": at most this many working days left
BOARD_STATES = ("due_soon", "overdue", "escalated")
BOARD_CASES_LISTED = 50
NO_AGENCY = "none"  # the board's key for reports not yet sent to an OPD
FINISHED = (ids.STATUS_CLOSED, ids.STATUS_ARCHIVED, ids.STATUS_RETURNED)


def _title(principal: access.Principal, complaint: Complaint) -> str:
    """Those handling the case read its title; other supervisors too, unless it is rahasia."""
    if access.sees_content(principal, complaint) or (
            principal.has("supervisor") and not complaint.confidential):
        return complaint.title
    return HIDDEN


def _agency_doc(agency: Agency | None) -> dict[str, Any] | None:
    return None if agency is None else {"code": agency.code, "name": agency.name}


def _document(session: Session, row: Any, principal: access.Principal,
              complaint: Any = None) -> dict[str, Any]:
    """An escalation (an Escalation or a row of _INBOX_COLUMNS) for its inbox; ``complaint``
    its report (what _title and the access rules read) when the caller has it."""
    complaint = complaint or session.get(Complaint, row.complaint_id)
    agencies = access.agency_table(session)
    agency = agencies.get(row.agency_id) if row.agency_id else None
    holder = agencies.get(complaint.agency_id) if complaint.agency_id else None
    unit = agencies.get(complaint.unit_id) if complaint.unit_id else None
    return {
        "id": row.id,
        "tracking_number": complaint.tracking_number,
        "title": _title(principal, complaint),
        "status_of_report": complaint.status,
        "status_label": ids.STATUS_LABELS.get(complaint.status, {}),
        "step": row.step,
        "step_label": STEP_LABELS.get(row.step, {"id": row.step, "en": row.step}),
        "rung": row.rung,
        "rung_name": row.rung_name,
        "rung_label": RUNG_LABELS.get(row.rung_name, {}),
        "agency": agency.code if agency else None,
        "agency_name": agency.name if agency else None,
        "held_by": _agency_doc(holder),
        "unit": _agency_doc(unit),
        "missed_due_at": row.due_at.isoformat(),
        "escalated_at": row.at.isoformat(),
        "status": row.status,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
        "comment": row.comment,
        # A hint for pages; the reassign use case decides (workflows/complaints.py).
        "may_reassign": complaint.status in REASSIGNABLE and principal.has(
            "regency_admin", "system_admin", "supervisor") and access.can_view(
            principal, complaint),
    }


def _listed_cases(session: Session, principal: access.Principal, calendar: Any,
                  now: datetime, matched: list[Any], agencies: dict[int, Agency],
                  ladder: list[str], *, opd: int | str | None, rung: str | None,
                  state: str | None, limit: int) -> list[int]:
    """The board's list: the ids of the cases matching the filters with the fewest working
    days left.

    The deadlines are read in order of due time (ix_sla_record_state_due), so the first time
    a case appears is its nearest deadline; reading stops once `limit` cases match, instead
    of ranking every open case."""
    if limit <= 0:
        return []
    walk = (select(SlaRecord.complaint_id)
            .join(Complaint, Complaint.id == SlaRecord.complaint_id).where(*matched)
            .order_by(SlaRecord.due_at, SlaRecord.id))
    if opd == NO_AGENCY:
        walk = walk.where(Complaint.agency_id.is_(None))
    elif opd is not None:
        walk = walk.where(Complaint.agency_id == opd)
    seen: set[int] = set()
    listed: list[dict[str, Any]] = []
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
            cases = _board_cases(principal, calendar, now, agencies, ladder,
                                 _board_records(session, matched, chunk))
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
    return [case["complaint_id"] for case in listed[:limit]]


def _board_records(session: Session, matched: list[Any], complaint_ids: list[int]
                   ) -> list[Any]:
    """The matching deadlines of these cases with their reports' listed columns, as plain
    rows (no ORM objects: a report's body and its deadlines' pauses are not shown). Named
    as the report's attributes, which is what _title and the access rules read."""
    return session.execute(
        select(SlaRecord.step, SlaRecord.due_at, SlaRecord.rung, SlaRecord.holder_rung,
               Complaint.id, Complaint.tracking_number, Complaint.title, Complaint.status,
               Complaint.confidential, Complaint.agency_id, Complaint.unit_id)
        .join(Complaint, Complaint.id == SlaRecord.complaint_id)
        .where(*matched, SlaRecord.complaint_id.in_(complaint_ids or [-1]))
        .order_by(SlaRecord.id)).all()


def _board_cases(principal: access.Principal, calendar: Any, now: datetime,
                 agencies: dict[int, Agency], ladder: list[str], records: list[Any]
                 ) -> dict[int, dict[str, Any]]:
    """A board row for each case of these records (_board_records), its working days left
    counted at ``now``."""
    by_case: dict[int, dict[str, Any]] = {}
    for record in records:
        complaint = record  # the report's columns, by their names
        case = by_case.get(complaint.id)
        if case is None:
            case = by_case[complaint.id] = {
                "complaint": complaint, "record": record, "rung": record.rung,
                "left": calendar.working_days_left(now, record.due_at), "escalated": False}
        elif record.due_at < case["record"].due_at:
            # the working days left grow with the due time: a later deadline has no fewer
            left = calendar.working_days_left(now, record.due_at)
            if left < case["left"]:
                case["left"], case["record"] = left, record
        case["rung"] = max(case["rung"], record.rung)
        case["escalated"] = case["escalated"] or record.rung > record.holder_rung
    found = {}
    for complaint_id, case in by_case.items():
        complaint, record = case["complaint"], case["record"]
        left = case["left"]
        status = "overdue" if left < 0 else "due_soon" if left <= DUE_SOON_DAYS else None
        rung_name = ladder[min(case["rung"], len(ladder) - 1)]
        agency = agencies.get(complaint.agency_id)
        found[complaint_id] = {
            "complaint_id": complaint_id,
            "tracking_number": complaint.tracking_number,
            "title": _title(principal, complaint),
            "status": complaint.status,
            "status_label": ids.STATUS_LABELS.get(complaint.status, {}),
            "agency": _agency_doc(agency),
            "unit": _agency_doc(agencies.get(complaint.unit_id)),
            "step": record.step,
            "step_label": STEP_LABELS.get(record.step, {"id": record.step, "en": record.step}),
            "due_at": record.due_at.astimezone(calendar.tzinfo).isoformat(),
            "working_days_left": round(left, 2),
            "state": status,
            "escalated": case["escalated"],
            "rung": rung_name,
            "rung_label": RUNG_LABELS.get(rung_name, {}),
        }
    return found


def _scope(principal: access.Principal) -> Any:
    if principal.sees_everything:
        return None
    if not principal.has("supervisor"):
        raise Forbidden("the escalation inbox is for supervisors and the regency administrator")
    # Addressed to their agency or one below it (not every agency they may oversee).
    return Escalation.agency_id.in_(list(principal.org_agency_ids) or [-1])


def _find(session: Session, escalation_id: int, principal: access.Principal, *,
          lock: bool = False) -> Escalation:
    scope = _scope(principal)
    query = select(Escalation).where(Escalation.id == escalation_id)
    if scope is not None:
        query = query.where(scope)
    if lock:  # PostgreSQL: one writer at a time per escalation (SQLite writers queue anyway)
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFound(f"escalation {escalation_id} does not exist in your inbox")
    return row


# What an inbox document reads of an escalation and of its report (as report_<name>).
_INBOX_COLUMNS = (Escalation.id, Escalation.complaint_id, Escalation.step, Escalation.rung,
                  Escalation.rung_name, Escalation.agency_id, Escalation.at, Escalation.due_at,
                  Escalation.status, Escalation.acknowledged_by, Escalation.acknowledged_at,
                  Escalation.comment)
_INBOX_REPORT_COLUMNS = (Complaint.id, Complaint.tracking_number, Complaint.title,
                         Complaint.status, Complaint.confidential, Complaint.agency_id,
                         Complaint.unit_id)


def list_escalations(session: Session, principal: access.Principal, *,
                     status: str | None = "open", limit: int = 100, offset: int = 0
                     ) -> list[dict[str, Any]]:
    query = (select(*_INBOX_COLUMNS, *report_columns(_INBOX_REPORT_COLUMNS))
             .join(Complaint, Complaint.id == Escalation.complaint_id)
             .order_by(Escalation.at.desc(), Escalation.id.desc()))
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(Escalation.status == status)
    query = query.limit(min(limit, 500)).offset(max(offset, 0))
    # The page's escalations and their reports, as plain rows, kept until an escalation or
    # a report changes (the statistics' change log); the documents, which depend on who
    # asks, are made per request.
    key = ("inbox", principal.sees_everything, tuple(sorted(principal.org_agency_ids)),
           status, min(limit, 500), max(offset, 0))
    rows = readcache.cached(session, key, datetime.now(UTC), (readcache.STATS,),
                            lambda: (session.execute(query).all(), None))
    return [_document(session, row, principal, report_of(row, _INBOX_REPORT_COLUMNS))
            for row in rows]


def count_escalations(session: Session, principal: access.Principal, *,
                      status: str | None = "open") -> int:
    """How many escalations list_escalations would list without a limit."""
    query = select(func.count()).select_from(Escalation)
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(Escalation.status == status)
    # Counted again only after an escalation changed (the statistics' change log).
    key = ("escalations", principal.sees_everything,
           tuple(sorted(principal.org_agency_ids)), status)
    return readcache.cached(session, key, datetime.now(UTC), (readcache.STATS,),
                            lambda: (int(session.scalar(query) or 0), None))


def get_escalation(session: Session, escalation_id: int, principal: access.Principal
                   ) -> dict[str, Any]:
    """One escalation of the caller's inbox (NotFound when it is not theirs)."""
    return _document(session, _find(session, escalation_id, principal), principal)


def _note(text: Any, *, required: bool) -> str | None:
    if text is not None and not isinstance(text, str):
        raise Invalid("the note must be text", {"comment": "write the note as text"})
    text = (text or "").strip()
    if not text:
        if required:
            raise Invalid("the note is empty", {"comment": "write the note"})
        return None
    if len(text) > NOTE_MAX:
        raise Invalid("the note is too long",
                      {"comment": f"at most {NOTE_MAX} characters"})
    return text


def _append(existing: str | None, text: str) -> str:
    return f"{existing}\n{text}" if existing else text


def _history(session: Session, row: Escalation, principal: access.Principal, now: datetime,
             kind: str, text: str) -> None:
    """An internal entry in the case's history: officers read it, the complainant never."""
    session.add(ComplaintEvent(complaint_id=row.complaint_id, at=now, actor=principal.username,
                               kind=kind, text=text, public=False))


def acknowledge(session: Session, escalation_id: int, principal: access.Principal,
                comment: str | None, now: datetime) -> dict[str, Any]:
    """Take note of an escalation (once: whoever comes second gets Conflict)."""
    text = _note(comment, required=False)
    row = _find(session, escalation_id, principal, lock=True)
    # Compare and set: of two supervisors acknowledging at once, one wins.
    changed = session.execute(
        update(Escalation).where(Escalation.id == row.id, Escalation.status == "open")
        .values(status="acknowledged", acknowledged_by=principal.username,
                acknowledged_at=now, comment=_append(row.comment, text) if text
                else row.comment)
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(row)
    if changed != 1:
        raise Conflict(f"escalation {escalation_id} is already {row.status}")
    rung = RUNG_LABELS.get(row.rung_name, {}).get("id", row.rung_name)
    _history(session, row, principal, now, "escalation_acknowledged",
             f"eskalasi ({rung}) diterima" + (f": {text}" if text else ""))
    return _document(session, row, principal)


def comment(session: Session, escalation_id: int, principal: access.Principal,
            text: str | None, now: datetime) -> dict[str, Any]:
    """A supervisor's note on an escalation, open or acknowledged: kept on the escalation
    and in the case's history as an internal (non-public) event."""
    note = _note(text, required=True)
    row = _find(session, escalation_id, principal, lock=True)
    if row.status == "resolved":
        raise Conflict(f"escalation {escalation_id} is resolved; write on the case instead")
    row.comment = _append(row.comment, f"{principal.username}: {note}")
    _history(session, row, principal, now, "escalation_note", note)
    session.flush()
    return _document(session, row, principal)


def reassign_targets(session: Session, principal: access.Principal) -> list[dict[str, Any]]:
    """The agencies the caller may move a report to (the rule of Complaints.reassign):
    any OPD, BUMD, kecamatan, kelurahan or unit for the regency administrator; their own
    agency tree for a supervisor. Each OPD is followed by its units."""
    if not principal.sees_everything and not principal.has("supervisor"):
        return []
    rows = [a for a in access.agency_table(session).values()
            if a.active and a.kind in TARGET_KINDS
            and (principal.sees_everything or a.id in principal.agency_ids)]
    listed = {a.id for a in rows}

    def order(agency: Agency) -> tuple[int, int, int]:
        if agency.kind == "unit" and agency.parent_id in listed:
            return (agency.parent_id, 1, agency.id)
        return (agency.id, 0, agency.id)

    return [{"code": a.code, "name": a.name, "kind": a.kind, "unit": a.kind == "unit"}
            for a in sorted(rows, key=order)]


def figure_agencies(session: Session, principal: access.Principal, config: RegencyConfig
                    ) -> list[dict[str, Any]]:
    """The agencies whose figures the caller may ask for (workflows.stats.resolve_scope):
    every OPD-level agency for the regency-wide, otherwise their own agency and its units."""
    scope = stats.resolve_scope(session, principal, config, None)
    query = select(Agency).where(Agency.active.is_(True), Agency.kind.in_(TARGET_KINDS))
    if scope.agency_ids is not None:
        query = query.where(Agency.id.in_(sorted(scope.agency_ids) or [-1]))
    rows = session.scalars(query.order_by(Agency.id)).all()
    listed = {a.id for a in rows}
    rows = sorted(rows, key=lambda a: (a.parent_id, 1, a.id) if a.kind == "unit"
                  and a.parent_id in listed else (a.id, 0, a.id))
    return [{"code": a.code, "name": a.name, "kind": a.kind, "unit": a.kind == "unit"}
            for a in rows]


# --------------------------------------------------------------------------- the SLA board


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
    if scope.agency_ids is not None:
        agency_ids = sorted(scope.agency_ids) or [-1]
        where.append(or_(Complaint.agency_id.in_(agency_ids),
                         Complaint.unit_id.in_(agency_ids)))
    ladder = list(config.ladder)
    agencies = access.agency_table(session)
    opd_id = None
    if opd is not None and opd != NO_AGENCY:
        opd_id = next((a.id for a in agencies.values() if a.code == opd), -1)
    matched = matched_of(where, soon)

    def count() -> tuple[dict[str, Any], Any]:
        counted = _board_counts(session, principal, calendar, now, where, matched, late,
                                soon, agencies, ladder, opd=opd, opd_id=opd_id, rung=rung,
                                state=state, limit=limit)
        # The listed cases' deadlines and reports change only by the writes that discard
        # the counts too (the same log); their working days left are counted per request.
        counted["records"] = _board_records(session, matched, counted["listed"])
        # they hold until a deadline enters the due-soon window or becomes overdue
        next_late = next_due_after(session, late)
        next_soon = next_due_after(session, soon)

        def still_valid(later: datetime) -> bool:
            return ((next_late is None or overdue_before(calendar, later) < next_late)
                    and (next_soon is None or calendar.add_working_days(
                        later, DUE_SOON_DAYS) < next_soon))

        return counted, still_valid

    # The calendar's identity is part of the key: the entry holds it (its still_valid), so
    # no other calendar can take its id while the entry lives.
    key = ("board", None if scope.agency_ids is None else tuple(sorted(scope.agency_ids)),
           tuple(ladder), opd, rung, state, limit, id(calendar))
    counted = readcache.cached(session, key, now, (readcache.STATS,), count)
    open_by_agency, cells, cases_total = (counted["open_by_agency"], counted["cells"],
                                          counted["cases_total"])
    # The listed cases' working days left change by the hour: counted now.
    docs = _board_cases(principal, calendar, now, agencies, ladder, counted["records"])
    listed = sorted((docs[i] for i in counted["listed"] if i in docs),
                    key=lambda c: (c["working_days_left"], c["tracking_number"]))

    def blank() -> dict[str, int]:
        return {name: 0 for name in BOARD_STATES}

    rows = []
    for agency_id in set(open_by_agency) | set(cells):
        agency = agencies.get(agency_id)
        per_rung = cells[agency_id] if agency_id in cells else {n: blank() for n in ladder}
        total = {name: sum(per_rung[r][name] for r in ladder) for name in BOARD_STATES}
        rows.append({"agency": _agency_doc(agency),
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
        # when the counts were made: up to readcache.CLOCK_TOLERANCE ago (the cases listed
        # are read now)
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
        # What callers derive from these counts alone (the page's rendered table) may be
        # kept here: it lives exactly as long as the counts do (the read cache's entry).
        "memo": counted.setdefault("memo", {}),
    }


def matched_of(where: list[Any], soon: datetime) -> list[Any]:
    """The board's deadlines: running government deadlines of the open reports in scope
    (``where``) that are due by ``soon`` or have climbed above their holder."""
    return [*where, SlaRecord.state == RUNNING, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)),
            or_(SlaRecord.due_at <= soon, SlaRecord.rung > SlaRecord.holder_rung)]


def _board_counts(session: Session, principal: access.Principal, calendar: Any,
                  now: datetime, where: list[Any], matched: list[Any], late: datetime,
                  soon: datetime, agencies: dict[int, Agency], ladder: list[str], *,
                  opd: str | None, opd_id: int | None, rung: str | None,
                  state: str | None, limit: int) -> dict[str, Any]:
    """What the board counts (open reports per agency; cases per agency, rung and state;
    the cases the filters match) and the ids of the cases it lists (see sla_board)."""
    open_by_agency = dict(session.execute(
        select(Complaint.agency_id, func.count()).where(*where)
        .group_by(Complaint.agency_id)).all())
    last = len(ladder) - 1
    # One row per case, in the database: its nearest matching deadline (the fewest working
    # days left), the highest rung reached, whether a deadline climbed above its holder.
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
    is_overdue = per_case.c.due <= late
    is_due_soon = and_(per_case.c.due > late, per_case.c.due <= soon)

    def blank() -> dict[str, int]:
        return {name: 0 for name in BOARD_STATES}

    cells: dict[int | None, dict[str, dict[str, int]]] = {}
    cases_total = 0
    for agency_id, rung_index, count, overdue, due_soon, escalated in session.execute(
            select(per_case.c.agency_id, rung_of, func.count(),
                   func.sum(sql_case((is_overdue, 1), else_=0)),
                   func.sum(sql_case((is_due_soon, 1), else_=0)),
                   func.sum(per_case.c.escalated))
            .group_by(per_case.c.agency_id, rung_of)):
        figures = {"overdue": int(overdue or 0), "due_soon": int(due_soon or 0),
                   "escalated": int(escalated or 0)}
        cell = cells.setdefault(agency_id, {name: blank() for name in ladder})[
            ladder[int(rung_index)]]
        for name, value in figures.items():
            cell[name] += value
        if (opd is None or (agency_id is None if opd == NO_AGENCY else agency_id == opd_id)) \
                and (rung is None or ladder[int(rung_index)] == rung):
            cases_total += figures[state] if state is not None else int(count)

    listed = _listed_cases(session, principal, calendar, now, matched, agencies, ladder,
                           opd=None if opd is None else (opd_id or NO_AGENCY), rung=rung,
                           state=state, limit=limit)
    return {"open_by_agency": open_by_agency, "cells": cells, "cases_total": cases_total,
            "listed": listed, "at": now}
