"""The supervisors' escalation inbox: the escalations addressed to their agency and below, and
what they do with one (acknowledge, note, the agencies a report may be moved to)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflows import access, readcounts
from workflows import diagram_ids as ids
from workflows.config import RUNG_LABELS
from workflows.documents import report_columns, report_of
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.models import Agency, Complaint, ComplaintEvent, Escalation
from workflows.sla import STEP_LABELS
from workflows.validation import check_id, check_text

HIDDEN = access.HIDDEN
NOTE_MAX = 2000
# Reports a supervisor may move to another agency: those waiting on an OPD's follow-up.
REASSIGNABLE = (ids.STATUS_DISPOSED, ids.STATUS_IN_PROGRESS)
TARGET_KINDS = ("opd", "bumd", "kecamatan", "kelurahan", "unit")


def supervised_title(principal: access.Principal, complaint: Complaint) -> str:
    """Those handling the case read its title; other supervisors too, unless it is rahasia."""
    if access.sees_content(principal, complaint) or (
            principal.has("supervisor") and not complaint.confidential):
        return complaint.title
    return HIDDEN


def agency_brief(agency: Agency | None) -> dict[str, Any] | None:
    return None if agency is None else {"code": agency.code, "name": agency.name}


def _document(session: Session, row: Any, principal: access.Principal,
              complaint: Any = None) -> dict[str, Any]:
    """An escalation (an Escalation or a row of _INBOX_COLUMNS) for its inbox; ``complaint``
    its report (what supervised_title and the access rules read) when the caller has it."""
    complaint = complaint or session.get(Complaint, row.complaint_id)
    agencies = access.agency_table(session)
    agency = agencies.get(row.agency_id) if row.agency_id else None
    holder = agencies.get(complaint.agency_id) if complaint.agency_id else None
    unit = agencies.get(complaint.unit_id) if complaint.unit_id else None
    return {
        "id": row.id,
        "tracking_number": complaint.tracking_number,
        "title": supervised_title(principal, complaint),
        "status_of_report": complaint.status,
        "status_label": ids.STATUS_LABELS.get(complaint.status, {}),
        "step": row.step,
        "step_label": STEP_LABELS.get(row.step, {"id": row.step, "en": row.step}),
        "rung": row.rung,
        "rung_name": row.rung_name,
        "rung_label": RUNG_LABELS.get(row.rung_name, {}),
        "agency": agency.code if agency else None,
        "agency_name": agency.name if agency else None,
        "held_by": agency_brief(holder),
        "unit": agency_brief(unit),
        "missed_due_at": row.due_at.isoformat(),
        "escalated_at": row.at.isoformat(),
        "status": row.status,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
        "comment": row.comment,
        # A hint for pages; the reassign verb decides (workflows/actions.py).
        "may_reassign": complaint.status in REASSIGNABLE and principal.has(
            "regency_admin", "system_admin", "supervisor") and access.can_view(
            principal, complaint),
    }


def _scope(principal: access.Principal) -> Any:
    if principal.sees_everything:
        return None
    if not principal.has("supervisor"):
        raise Forbidden("the escalation inbox is for supervisors and the regency administrator")
    # Addressed to their agency or one below it (not every agency they may oversee).
    return Escalation.agency_id.in_(list(principal.org_agency_ids) or [-1])


def _find(session: Session, escalation_id: int, principal: access.Principal, *,
          lock: bool = False) -> Escalation:
    check_id(escalation_id, "escalation")
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


def list_escalations(session: Session, principal: access.Principal, now: datetime, *,
                     status: str | None = "open", limit: int = 100, offset: int = 0
                     ) -> list[dict[str, Any]]:
    # Read every time: the newest page of a scope is an index range (ix_escalation_status_at)
    # and the documents depend on who asks. (The board's page: inbox_page, kept.)
    return [_document(session, row, principal, report_of(row, _INBOX_REPORT_COLUMNS))
            for row in _inbox_rows(session, _scope(principal), status, limit, offset)]


# What moves an inbox page: its escalations' rows (a new one, acknowledged, noted, moved)
# and their reports' (a title, a status, the agency holding it).
INBOX_SOURCES = ("c", "e")


class _KeptInbox:
    """The inbox pages of one scope as last read in this process (readcounts.kept: one
    entry per scope beside the board's tallies), by (status, page, page size): total, page
    shown, pages, rows and the reports listed; all valid at `mark`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mark: tuple | None = None
        self.pages: dict[tuple[Any, ...], tuple[tuple[int, int, int, list[Any]],
                                                frozenset[int]]] = {}
        # a page's documents as one reader sees them, by (page asked, reader): made from
        # the kept page (its very tuple) and agency table (the revision's very object)
        self.documents: dict[tuple[Any, ...], tuple[Any, Any, tuple[dict[str, Any], ...]]] = {}


PAGES_KEPT = 16  # inbox pages kept per scope (views and page numbers read)
DOCUMENTS_KEPT = 64  # pages' documents kept per scope (pages times readers)


def inbox_page(session: Session, principal: access.Principal, now: datetime, *,
               status: str | None, page: int, page_size: int
               ) -> tuple[int, int, int, list[dict[str, Any]]]:
    """One page of the inbox (the newest first): how many escalations it holds, the page
    shown (the asked one, within the pages), the number of pages and the page's documents.

    Kept per scope, status and page in this process and read again only when the change
    log names an escalation written since (anywhere: a new one may come first), or the
    report of one of the page's: a filing, a disposition or an answer elsewhere leaves the
    inbox as it was. The documents are made for each reader (the access rules decide what
    a title shows and whether a report may be moved) once per kept page and agency table,
    and handed out again: callers must not change them."""
    scope = _scope(principal)  # Forbidden for officers who do not supervise
    key = ("inbox", None if scope is None else tuple(sorted(principal.org_agency_ids)))

    def read() -> tuple[int, int, int, list[Any]]:
        total = count_escalations(session, principal, now, status=status)
        pages = max(1, -(-total // page_size))
        shown = min(max(page, 1), pages)
        return total, shown, pages, _inbox_rows(session, scope, status, page_size,
                                                (shown - 1) * page_size)

    entry = readcounts.kept(session, key, _KeptInbox)
    if entry is None:  # no change log (or switched off): read every time
        found = read()
    else:
        with entry.lock:
            mark = readcounts.log_mark(session)
            touched = None if entry.mark is None else readcounts.touched_by_source(
                session, entry.mark, INBOX_SOURCES)
            if touched is None or touched["e"]:
                entry.pages.clear()
            elif touched["c"]:
                for asked in [k for k, (_, reports) in entry.pages.items()
                              if reports & touched["c"]]:
                    del entry.pages[asked]
            entry.mark = mark
            asked = (status, page, page_size)
            kept = entry.pages.get(asked)
            if kept is None:
                if len(entry.pages) >= PAGES_KEPT:
                    entry.pages.clear()
                found = read()
                entry.pages[asked] = (found, frozenset(row.complaint_id for row in found[3]))
            else:
                found = kept[0]
    total, shown, pages, rows = found
    agencies = access.agency_table(session)
    if entry is not None:
        with entry.lock:
            made = entry.documents.get((asked, principal))
        if made is not None and made[0] is found and made[1] is agencies:
            return total, shown, pages, list(made[2])
    documents = tuple(
        _document(session, row, principal, report_of(row, _INBOX_REPORT_COLUMNS))
        for row in rows)
    if entry is not None:
        with entry.lock:
            if len(entry.documents) >= DOCUMENTS_KEPT:
                entry.documents.clear()
            entry.documents[(asked, principal)] = (found, agencies, documents)
    return total, shown, pages, list(documents)


def _inbox_rows(session: Session, scope: Any, status: str | None, limit: int, offset: int
                ) -> list[Any]:
    """The plain rows of a page of the inbox (list_escalations' query)."""
    query = (select(*_INBOX_COLUMNS, *report_columns(_INBOX_REPORT_COLUMNS))
             .join(Complaint, Complaint.id == Escalation.complaint_id)
             .order_by(Escalation.at.desc(), Escalation.id.desc()))
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(Escalation.status == status)
    return list(session.execute(query.limit(min(limit, 500)).offset(max(offset, 0))))


def count_escalations(session: Session, principal: access.Principal, now: datetime, *,
                      status: str | None = "open") -> int:
    """How many escalations list_escalations would list without a limit."""
    query = select(func.count()).select_from(Escalation)
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(Escalation.status == status)
    # Counted every time over the index on (status, agency_id) (BENCHMARKS.md, "Web pages
    # under writes": an index-only count), so that a write shows at once.
    return int(session.scalar(query) or 0)


def get_escalation(session: Session, escalation_id: int, principal: access.Principal
                   ) -> dict[str, Any]:
    """One escalation of the caller's inbox (NotFound when it is not theirs)."""
    return _document(session, _find(session, escalation_id, principal), principal)


def _note(text: Any, *, required: bool) -> str | None:
    if text is not None and not isinstance(text, str):
        raise Invalid("the note must be text", {"comment": "write the note as text"})
    check_text({"comment": text}, "the note")
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
    """The agencies the caller may move a report to (the rule of the reassign verb,
    workflows/actions.py): any OPD, BUMD, kecamatan, kelurahan or unit for the regency
    administrator; their own agency tree for a supervisor. Each OPD is followed by its
    units."""
    if not principal.sees_everything and not principal.has("supervisor"):
        return []
    return agency_choices([a for a in access.agency_table(session).values()
                           if a.active and a.kind in TARGET_KINDS and principal.reaches(a.id)])


def agency_choices(rows: list[Any]) -> list[dict[str, Any]]:
    """Agencies (rows in id order) as a picker lists them: each followed by its units."""
    listed = {a.id for a in rows}

    def order(agency: Any) -> tuple[int, int, int]:
        if agency.kind == "unit" and agency.parent_id in listed:
            return (agency.parent_id, 1, agency.id)
        return (agency.id, 0, agency.id)

    return [{"code": a.code, "name": a.name, "kind": a.kind, "unit": a.kind == "unit"}
            for a in sorted(rows, key=order)]
