"""What a report looks like to each caller: the report document (officer's or complainant's),
the rows of the report list, and the filters that decide which reports a caller may list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from workflows import access, list_counts, notify, referrals
from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.config import RegencyConfig
from workflows.deadlines import (
    current_deadline,
    current_slas,
    iso,
    sla_deadline,
    sla_document,
)
from workflows.lifecycle_models import ComplaintRouting
from workflows.metoo_models import MeToo
from workflows.models import (
    Agency,
    Attachment,
    Complaint,
    ComplaintEvent,
    Escalation,
    SlaRecord,
)
from workflows.sla import PAUSED, RUNNING
from workflows.workdays import calendar_for

HIDDEN = access.HIDDEN
PUBLIC_ACTIONS = frozenset({"provide_info", "respond", "reply", "rate", "reopen", "archive",
                            "not_authority", "link_duplicate"})
# Which verbs each open task allows, for `available_actions`.
TASK_ACTIONS = {
    ids.SCREEN_REPORT: ("verify", "archive", "request_info", "link_duplicate"),
    ids.DISPOSE_REPORT: ("dispose", "not_authority", "postpone", "request_info"),
    ids.RESUME_REPORT: ("resume",),
    ids.FOLLOW_UP: ("delegate", "respond", "reassign"),
    ids.UNIT_FOLLOW_UP: ("respond", "reassign"),
    ids.PROVIDE_INFORMATION: ("provide_info",),
    ids.REVIEW_ANSWER: ("reply", "rate"),
}



def status_label(status: str) -> dict[str, str]:
    return ids.STATUS_LABELS.get(status, {"id": status, "en": status})


# The columns of a report that lists (and the access rules) read: not its body.
LISTED_COLUMNS = (Complaint.id, Complaint.instance_id, Complaint.tracking_number,
                  Complaint.status, Complaint.title, Complaint.category,
                  Complaint.classification, Complaint.agency_id, Complaint.unit_id,
                  Complaint.created_at, Complaint.confidential, Complaint.anonymous)



def agency_document(session: Session, agency_id: int | None) -> dict[str, Any] | None:
    agency = access.agency_table(session).get(agency_id) if agency_id else None
    return None if agency is None else {"code": agency.code, "name": agency.name,
                                        "kind": agency.kind}


def available_actions(principal: access.Principal, complaint: Complaint,
                      tasks: list[dict[str, Any]]) -> list[str]:
    actions: list[str] = []
    for task in tasks:
        mine = principal.sees_everything and not any(
            g.startswith("complainant:") for g in task["candidate_groups"])
        mine = mine or bool(set(task["candidate_groups"]) & principal.groups)
        if mine:
            actions += [a for a in TASK_ACTIONS.get(task["element_id"], ()) if a not in actions]
    if complaint.status == ids.STATUS_CLOSED and (
            principal.tracking_number == complaint.tracking_number
            or principal.sees_everything):
        actions.append("reopen")
    if principal.sees_everything and "link_duplicate" not in actions:
        actions.append("link_duplicate")
    if principal.has("supervisor") and "reassign" not in actions and any(
            t["element_id"] in (ids.FOLLOW_UP, ids.UNIT_FOLLOW_UP) for t in tasks):
        actions.append("reassign")
    return actions


def complaint_document(session: Session, complaint: Complaint, principal: access.Principal,
                       config: RegencyConfig, tasks: list[dict[str, Any]], now: datetime
                       ) -> dict[str, Any]:
    """The full report for an officer who handles it, or the complainant's own view."""
    calendar = calendar_for(session, config)
    officer = principal.is_officer
    content = access.sees_content(principal, complaint)
    identity = access.sees_identity(principal, complaint)
    originals = access.gets_original(principal, complaint)
    # Every deadline of the report, in one query: officers see them all, and the current
    # one is chosen among the running and paused (current_deadline).
    report = {"report": complaint.id}
    records = session.scalars(_RECORDS, report).all()
    sla = current_deadline([r for r in records if r.state in (RUNNING, PAUSED)])
    events = session.scalars(_EVENTS, report).all()
    attachments = session.scalars(_ATTACHMENTS, report).all()
    duplicates, me_too = [], 0
    for kind, value in session.execute(_RELATED, report):
        if kind == "duplicate":
            duplicates.append(value)
        else:
            me_too = int(value or 0)
    original = session.get(Complaint, complaint.duplicate_of_id) \
        if complaint.duplicate_of_id else None
    routing = session.get(ComplaintRouting, complaint.id)
    document: dict[str, Any] = {
        "tracking_number": complaint.tracking_number,
        "status": complaint.status,
        "status_label": status_label(complaint.status),
        "classification": complaint.classification,
        "misconduct": complaint.misconduct,
        "category": complaint.category,
        "severity": complaint.severity,
        "title": complaint.title if content else HIDDEN,
        "body": complaint.body if content else HIDDEN,
        "incident_date": iso(complaint.incident_date),
        "location": {
            "latitude": complaint.latitude if content else None,
            "longitude": complaint.longitude if content else None,
            "address": complaint.address if content else None,
            "kelurahan": complaint.kelurahan, "kecamatan": complaint.kecamatan,
            "road_status": complaint.road_status,
        },
        "anonymous": complaint.anonymous,
        "confidential": complaint.confidential,
        "channel": complaint.channel,
        "reporter": {"name": complaint.reporter_name, "email": complaint.reporter_email,
                     "phone": complaint.reporter_phone,
                     "contact_channel": complaint.contact_channel} if identity else None,
        # the channels the citizen is really told by (set up here), for the receipt
        "replies": notify.reply_channels(complaint, config.reply_channels) if identity
        else None,
        "agency": agency_document(session, complaint.agency_id),
        "unit": agency_document(session, complaint.unit_id),
        "created_at": iso(complaint.created_at),
        "updated_at": iso(complaint.updated_at),
        "closed_at": iso(complaint.closed_at),
        "sla": sla_document(sla, calendar, now, config) if sla else None,
        "history": _history(session, complaint, events, officer, content),
        # original: whether a download is the file as uploaded, or (a photo the caller
        # may not get with its metadata: access.gets_original) the metadata-free copy.
        # from_agency: sent with an officer's answer (shown beside it), not the citizen's
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type,
                         "size": a.size, "sha256": a.sha256, "kind": a.kind,
                         "original": a.kind != "photo" or originals, "at": iso(a.created_at),
                         "from_agency": from_agency(a.uploaded_by)}
                        for a in attachments] if content else [],
        "duplicate_of": original.tracking_number if original else None,
        # not the regency's authority: where the complainant should take it
        "refer_to": routing.refer_to if routing is not None else None,
        "duplicates": list(duplicates),
        "me_too": me_too,  # citizens who said "me too" (workflows/nearby.py)
        "rating": complaint.rating,
        "rating_comment": complaint.rating_comment if content else None,
        "version": complaint.version,
        "available_actions": available_actions(principal, complaint, tasks),
    }
    if officer:
        document["slas"] = [sla_document(r, calendar, now, config) for r in records]
        # what routing.dmn suggested when the report first waited for its disposition
        document["routing"] = referrals.routing_document(routing)
        agencies = access.agency_table(session)
        # What the officer may do with each task: the use cases decide again when asked.
        document["open_tasks"] = [{**{k: t[k] for k in (
            "id", "element_id", "title", "candidate_groups", "assignee", "due_at")},
            "may_claim": access.may_claim(principal, t),
            "may_release": access.may_release(principal, t, agencies)} for t in tasks]
        document["instance_id"] = complaint.instance_id
    return document


# complaint_document's reads of one report's rows (bound value `report`, its id), built
# once: every case page and report document runs them, and building a statement and its
# cache key costs more Python than running it.
_REPORT = bindparam("report")
_RECORDS = select(SlaRecord).where(SlaRecord.complaint_id == _REPORT).order_by(SlaRecord.id)
_EVENTS = select(ComplaintEvent).where(ComplaintEvent.complaint_id == _REPORT).order_by(
    ComplaintEvent.id)
_ATTACHMENTS = select(Attachment).where(Attachment.complaint_id == _REPORT).order_by(
    Attachment.id)
# The reports filed as duplicates of this one, and how many said "me too", in one statement
# (one row of kind "me_too" with the count, one of kind "duplicate" per duplicate).
_RELATED = union_all(
    select(literal("duplicate").label("kind"), Complaint.tracking_number.label("value"))
    .where(Complaint.duplicate_of_id == _REPORT),
    select(literal("me_too"), cast(func.count(), String)).select_from(MeToo)
    .where(MeToo.complaint_id == _REPORT))
_ESCALATIONS = select(Escalation.at, Escalation.step, Escalation.rung_name).where(
    Escalation.complaint_id == _REPORT).order_by(Escalation.id)


def from_agency(uploaded_by: str | None) -> bool:
    """Whether an attachment came with an officer's step (an answer), not the citizen's
    report or added information (recorded as "pelapor" and "pelapor:<tracking>")."""
    return bool(uploaded_by) and not str(uploaded_by).startswith("pelapor")


def _history(session: Session, complaint: Complaint, events: Iterable[ComplaintEvent],
             officer: bool, content: bool) -> list[dict[str, Any]]:
    """The report's history as the caller may read it: the complainant only its public
    entries; an officer every entry, the internal ones (notes, escalations, tasks given)
    marked `internal`, with the escalations of the report among them."""
    entries = [(e.at, 1, {
        "at": iso(e.at), "kind": e.kind, "status_from": e.status_from,
        "status_to": e.status_to, "status_label": status_label(e.status_to)
        if e.status_to else None, "text": e.text if (content or e.kind == "status") else
        HIDDEN, **({"actor": e.actor, "internal": not e.public} if officer else {}),
    }) for e in events if officer or e.public]
    if officer:
        for row in session.execute(_ESCALATIONS, {"report": complaint.id}):
            entries.append((row.at, 0, {
                "at": iso(row.at), "kind": "escalated", "status_from": None,
                "status_to": None, "status_label": None, "text": None, "actor": None,
                "internal": True, "step": row.step, "rung": row.rung_name}))
    # In time order; at one instant an escalation (the scheduler's) before what people
    # wrote then, and the events in the order they were written (the sort is stable).
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [entry for _at, _rank, entry in entries]


def visible_filter(principal: access.Principal) -> Any:
    if principal.sees_everything:
        return None
    ids_ = list(principal.agency_ids) or [-1]
    held = [Complaint.agency_id.in_(ids_), Complaint.unit_id.in_(ids_)]
    if principal.regency_wide:  # access.handles: the reports not yet sent to an agency
        held.append(and_(Complaint.agency_id.is_(None), Complaint.unit_id.is_(None)))
    return or_(*held)


def content_filter(principal: access.Principal) -> Any:
    """Reports whose content (title, body) the principal may see: access.sees_content."""
    if principal.sees_everything:
        return None
    ids_ = list(principal.agency_ids) or [-1]
    held = [Complaint.confidential.is_(False), Complaint.agency_id.in_(ids_),
            Complaint.unit_id.in_(ids_)]
    if principal.regency_wide:
        held.append(and_(Complaint.agency_id.is_(None), Complaint.unit_id.is_(None)))
    return or_(*held)


def search_filter(principal: access.Principal, q: str) -> Any:
    """A tracking number or title containing `q` (any case); a `rahasia` title is searched
    only for those who may see it, so a search cannot reveal what the list hides."""
    words = q.strip()[:200]
    title = Complaint.title.icontains(words, autoescape=True)
    visible = content_filter(principal)
    if visible is not None:
        title = and_(title, visible)
    return or_(Complaint.tracking_number.icontains(words, autoescape=True), title)


def list_query(session: Session, principal: access.Principal, calendar: WorkingCalendar,
               now: datetime, *, status: str | None, agency_code: str | None,
               overdue: bool | None, since: date | None, until: date | None,
               q: str | None, extra: Sequence[Any] = ()) -> Any:
    """The reports of the list (complaint_list) and of its export: select(Complaint) with
    the caller's scope and the filters."""
    query = select(Complaint).where(*extra)
    scope = visible_filter(principal)
    if scope is not None:
        query = query.where(scope)
    if q and q.strip():
        query = query.where(search_filter(principal, q))
    if status:
        query = query.where(Complaint.status == status)
    if agency_code:
        agency = session.scalars(select(Agency).where(Agency.code == agency_code)).first()
        query = query.where(Complaint.agency_id == (agency.id if agency else -1))
    if since:
        query = query.where(Complaint.created_at >= start_of(since, calendar))
    if until:
        query = query.where(Complaint.created_at < start_of(until, calendar, 1))
    if overdue is not None:  # IN, not EXISTS: a count of EXISTS probes every report (1.6 s)
        late = select(SlaRecord.complaint_id).where(
            SlaRecord.state == RUNNING, SlaRecord.due_at < now)
        query = query.where(Complaint.id.in_(late) if overdue else Complaint.id.not_in(late))
    return query


def complaint_list(session: Session, principal: access.Principal, config: RegencyConfig,
                   now: datetime, *, status: str | None, agency_code: str | None,
                   overdue: bool | None, since: date | None, until: date | None,
                   limit: int, offset: int, q: str | None = None,
                   extra: Sequence[Any] = ()) -> dict[str, Any]:
    """A page of the reports the principal may see, newest first; ``extra``: more
    conditions (workflows/case_filters.py). The total of a page with no search, dates or
    extra conditions comes from kept counts (workflows/list_counts.py); others are
    counted."""
    calendar = calendar_for(session, config)
    query = list_query(session, principal, calendar, now, status=status,
                       agency_code=agency_code, overdue=overdue, since=since, until=until,
                       q=q, extra=extra)
    limit, offset = min(max(limit, 1), 200), max(offset, 0)
    ids_ = None
    if not (q and q.strip()) and not since and not until and not extra \
            and list_counts.usable(session):
        agency_id = None
        if agency_code:
            agency_id = next((a.id for a in access.agency_table(session).values()
                              if a.code == agency_code), -1)
        total = list_counts.total(session, principal, now, status=status,
                                  agency_id=agency_id, overdue=overdue)
        if overdue:  # the late reports are kept too, in filing order
            ids_ = list_counts.late_page(session, principal, now, status=status,
                                         agency_id=agency_id, limit=limit, offset=offset)
    else:
        total = session.scalar(select(func.count()).select_from(
            query.with_only_columns(Complaint.id).subquery()))
    if ids_ is None:
        ids_ = list(session.scalars(query.with_only_columns(Complaint.id).order_by(
            Complaint.created_at.desc(), Complaint.id.desc()).limit(limit).offset(offset)))
    found = {row.id: row for row in session.execute(
        select(*LISTED_COLUMNS).where(Complaint.id.in_(ids_ or [-1])))}
    rows = [found[i] for i in ids_ if i in found]
    slas = current_slas(session, [row.id for row in rows])
    agencies = {a.id: {"code": a.code, "name": a.name, "kind": a.kind}
                for a in access.agency_table(session).values()}
    items = []
    for complaint in rows:
        sla = slas.get(complaint.id)
        sla_doc = sla_deadline(sla, calendar, now, config) if sla else None
        content = access.sees_content(principal, complaint)
        items.append({
            "tracking_number": complaint.tracking_number,
            "status": complaint.status,
            "status_label": status_label(complaint.status),
            "title": complaint.title if content else HIDDEN,
            "category": complaint.category,
            "classification": complaint.classification,
            "agency": agencies.get(complaint.agency_id) if complaint.agency_id else None,
            "created_at": iso(complaint.created_at),
            "due_at": sla_doc["due_at"] if sla_doc else None,
            "working_days_left": sla_doc["working_days_left"] if sla_doc else None,
            "overdue": bool(sla_doc and sla_doc["overdue"]),
            "rung": sla_doc["rung_name"] if sla_doc else None,
        })
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def start_of(day: date, calendar: WorkingCalendar, plus_days: int = 0) -> datetime:
    local = datetime.combine(day + timedelta(days=plus_days), time(0), calendar.tzinfo)
    return local.astimezone(UTC)


def report_columns(columns: Iterable[Any]) -> list[Any]:
    """A report's columns for a query that reads another table's too: named report_<name>
    (report_of reads them back)."""
    return [column.label(f"report_{column.key}") for column in columns]


def report_of(row: Any, columns: Iterable[Any]) -> SimpleNamespace:
    """The report in a row read with report_columns(columns), under the columns' own names
    (what the access rules and the documents read of a Complaint)."""
    return SimpleNamespace(**{column.key: getattr(row, f"report_{column.key}")
                              for column in columns})

