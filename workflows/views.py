"""What a complaint looks like to each caller: officer, complainant, list row, worklist row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, load_only

from engine.store import HumanTask, TaskGroup
from workflows import access, notify, readcache
from workflows import diagram_ids as ids
from workflows.calendar import WorkingCalendar
from workflows.config import RUNG_LABELS, RegencyConfig
from workflows.models import Agency, Attachment, Complaint, ComplaintEvent, SlaRecord, User
from workflows.sla import CITIZEN_STEPS, PAUSED, RUNNING, STEP_LABELS, calendar_for

HIDDEN = "[rahasia]"
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


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def status_label(status: str) -> dict[str, str]:
    return ids.STATUS_LABELS.get(status, {"id": status, "en": status})


# The columns of a report that lists (and the access rules) read: not its body.
LISTED_COLUMNS = (Complaint.id, Complaint.instance_id, Complaint.tracking_number,
                  Complaint.status, Complaint.title, Complaint.category,
                  Complaint.classification, Complaint.agency_id, Complaint.unit_id,
                  Complaint.created_at, Complaint.confidential, Complaint.anonymous)

# The columns of a deadline that lists show (sla_deadline), and _current's choice needs.
DEADLINE_COLUMNS = (SlaRecord.id, SlaRecord.complaint_id, SlaRecord.step, SlaRecord.state,
                    SlaRecord.due_at, SlaRecord.remaining_seconds, SlaRecord.rung)


def current_slas(session: Session, complaint_ids: Iterable[int]) -> dict[int, Any]:
    """The current deadline (_current) of many complaints, in one query: rows of
    DEADLINE_COLUMNS, which is what sla_deadline reads (not sla_document)."""
    wanted = sorted(set(complaint_ids))
    if not wanted:
        return {}
    by_complaint: dict[int, list[Any]] = defaultdict(list)
    # Plain rows of what sla_deadline reads (no ORM objects, no pauses: lists show neither)
    for record in session.execute(select(*DEADLINE_COLUMNS).where(
            SlaRecord.complaint_id.in_(wanted), SlaRecord.state.in_((RUNNING, PAUSED))
    ).order_by(SlaRecord.id)):
        by_complaint[record.complaint_id].append(record)
    found = {cid: _current(records) for cid, records in by_complaint.items()}
    return {cid: record for cid, record in found.items() if record is not None}


def _current(records: Sequence[SlaRecord]) -> SlaRecord | None:
    """The deadline that matters now, of one complaint's running and paused records."""
    officer = [r for r in records if r.step not in CITIZEN_STEPS]
    citizen = [r for r in records if r.step in CITIZEN_STEPS]
    # While the citizen is asked, their window is what matters; then the officer's step
    # that ends first.
    if citizen:
        return citizen[-1]
    return min(officer, key=lambda r: (r.state != RUNNING, r.due_at)) if officer else None


def sla_deadline(record: Any, calendar: WorkingCalendar, now: datetime,
                 config: RegencyConfig) -> dict[str, Any]:
    """What lists show of a deadline (an SlaRecord, or a row of DEADLINE_COLUMNS): when it
    is due, the working days left, whether it is late or paused, the rung it reached."""
    paused = record.state == PAUSED
    if paused:
        left = (record.remaining_seconds or 0.0) / 86400
    elif record.state == RUNNING:
        left = calendar.working_days_left(now, record.due_at)
    else:
        left = None
    rung = config.ladder[record.rung] if 0 <= record.rung < len(config.ladder) else None
    return {
        "due_at": None if paused else _iso(record.due_at.astimezone(calendar.tzinfo)),
        "working_days_left": None if left is None else round(left, 2),
        "overdue": bool(left is not None and left < 0),
        "paused": paused,
        "rung_name": rung,
    }


def sla_document(record: SlaRecord, calendar: WorkingCalendar, now: datetime,
                 config: RegencyConfig) -> dict[str, Any]:
    deadline = sla_deadline(record, calendar, now, config)
    return {
        "step": record.step,
        "step_label": STEP_LABELS.get(record.step, {"id": record.step, "en": record.step}),
        "state": record.state,
        "budget_days": record.budget_days,
        "started_at": _iso(record.started_at),
        "due_at": deadline["due_at"],
        "working_days_left": deadline["working_days_left"],
        "overdue": deadline["overdue"],
        "paused": deadline["paused"],
        "pauses": record.pauses,
        "rung": record.rung,
        "rung_name": deadline["rung_name"],
        "rung_label": RUNG_LABELS.get(deadline["rung_name"] or "", {}),
        "late_working_days": None if record.late_seconds is None
        else round(record.late_seconds / 86400, 2),
        "ended_at": _iso(record.ended_at),
    }


def _agency(session: Session, agency_id: int | None) -> dict[str, Any] | None:
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
    # Every deadline of the report, in one query: officers see them all, and the current
    # one is chosen among the running and paused (_current).
    records = session.scalars(select(SlaRecord).where(
        SlaRecord.complaint_id == complaint.id).order_by(SlaRecord.id)).all()
    sla = _current([r for r in records if r.state in (RUNNING, PAUSED)])
    events = session.scalars(select(ComplaintEvent).where(
        ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)).all()
    attachments = session.scalars(select(Attachment).where(
        Attachment.complaint_id == complaint.id).order_by(Attachment.id)).all()
    duplicates = session.scalars(select(Complaint.tracking_number).where(
        Complaint.duplicate_of_id == complaint.id)).all()
    original = session.get(Complaint, complaint.duplicate_of_id) \
        if complaint.duplicate_of_id else None
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
        "incident_date": _iso(complaint.incident_date),
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
                     "phone": complaint.reporter_phone} if identity else None,
        "agency": _agency(session, complaint.agency_id),
        "unit": _agency(session, complaint.unit_id),
        "created_at": _iso(complaint.created_at),
        "updated_at": _iso(complaint.updated_at),
        "closed_at": _iso(complaint.closed_at),
        "sla": sla_document(sla, calendar, now, config) if sla else None,
        "history": [{
            "at": _iso(e.at), "kind": e.kind, "status_from": e.status_from,
            "status_to": e.status_to, "status_label": status_label(e.status_to)
            if e.status_to else None, "text": e.text if (content or e.kind == "status") else
            HIDDEN, **({"actor": e.actor} if officer else {}),
        } for e in events if officer or e.public],
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type,
                         "size": a.size, "sha256": a.sha256, "kind": a.kind}
                        for a in attachments] if content else [],
        "duplicate_of": original.tracking_number if original else None,
        "duplicates": list(duplicates),
        "rating": complaint.rating,
        "rating_comment": complaint.rating_comment if content else None,
        "version": complaint.version,
        "available_actions": available_actions(principal, complaint, tasks),
    }
    if officer:
        document["slas"] = [sla_document(r, calendar, now, config) for r in records]
        document["open_tasks"] = [{k: t[k] for k in (
            "id", "element_id", "title", "candidate_groups", "assignee", "due_at")}
            for t in tasks]
        document["instance_id"] = complaint.instance_id
    return document


def visible_filter(principal: access.Principal) -> Any:
    if principal.sees_everything:
        return None
    ids_ = list(principal.agency_ids) or [-1]
    return or_(Complaint.agency_id.in_(ids_), Complaint.unit_id.in_(ids_))


def content_filter(principal: access.Principal) -> Any:
    """Reports whose content (title, body) the principal may see: access.sees_content."""
    if principal.sees_everything:
        return None
    ids_ = list(principal.agency_ids) or [-1]
    return or_(Complaint.confidential.is_(False), Complaint.agency_id.in_(ids_),
               Complaint.unit_id.in_(ids_))


def search_filter(principal: access.Principal, q: str) -> Any:
    """A tracking number or title containing `q` (any case); a `rahasia` title is searched
    only for those who may see it, so a search cannot reveal what the list hides."""
    words = q.strip()[:200]
    title = Complaint.title.icontains(words, autoescape=True)
    visible = content_filter(principal)
    if visible is not None:
        title = and_(title, visible)
    return or_(Complaint.tracking_number.icontains(words, autoescape=True), title)


def complaint_list(session: Session, principal: access.Principal, config: RegencyConfig,
                   now: datetime, *, status: str | None, agency_code: str | None,
                   overdue: bool | None, since: date | None, until: date | None,
                   limit: int, offset: int, q: str | None = None) -> dict[str, Any]:
    calendar = calendar_for(session, config)
    query = select(Complaint)
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
        query = query.where(Complaint.created_at >= _start_of(since, calendar))
    if until:
        query = query.where(Complaint.created_at < _start_of(until, calendar, 1))
    if overdue is not None:
        late = select(SlaRecord.complaint_id).where(
            SlaRecord.state == RUNNING, SlaRecord.due_at < now)
        query = query.where(Complaint.id.in_(late) if overdue else Complaint.id.not_in(late))
    limit, offset = min(max(limit, 1), 200), max(offset, 0)

    def read() -> tuple[dict[str, Any], Any]:
        total = session.scalar(select(func.count()).select_from(
            query.with_only_columns(Complaint.id).subquery()))
        ids_ = list(session.scalars(query.with_only_columns(Complaint.id).order_by(
            Complaint.created_at.desc(), Complaint.id.desc()).limit(limit).offset(offset)))
        # The page's reports (their listed columns, plain rows) and current deadlines
        # change only by writes that discard the entry too (the same log); the working
        # days left are counted per request.
        found = {row.id: row for row in session.execute(
            select(*LISTED_COLUMNS).where(Complaint.id.in_(ids_ or [-1])))}
        rows = [found[i] for i in ids_ if i in found]
        listed = {"total": total, "rows": rows,
                  "slas": current_slas(session, [row.id for row in rows])}
        if overdue is None:
            return listed, None
        # a report becomes late when one of its running deadlines passes
        due = session.scalar(select(func.min(SlaRecord.due_at)).where(
            SlaRecord.state == RUNNING, SlaRecord.due_at >= now))
        return listed, None if due is None else (lambda later: later <= due)

    if q and q.strip():
        page = read()[0]
    else:
        key = ("complaints", principal.sees_everything, tuple(sorted(principal.agency_ids)),
               status, agency_code, since, until, overdue, limit, offset, calendar.tzinfo)
        page = readcache.cached(session, key, now, (readcache.STATS,), read)
    total, rows, slas = page["total"], page["rows"], page["slas"]
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
            "created_at": _iso(complaint.created_at),
            "due_at": sla_doc["due_at"] if sla_doc else None,
            "working_days_left": sla_doc["working_days_left"] if sla_doc else None,
            "overdue": bool(sla_doc and sla_doc["overdue"]),
            "rung": sla_doc["rung_name"] if sla_doc else None,
        })
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _start_of(day: date, calendar: WorkingCalendar, plus_days: int = 0) -> datetime:
    local = datetime.combine(day + timedelta(days=plus_days), time(0), calendar.tzinfo)
    return local.astimezone(UTC)


def worklist(session: Session, tasks: list[dict[str, Any]], principal: access.Principal,
             config: RegencyConfig, now: datetime) -> list[dict[str, Any]]:
    calendar = calendar_for(session, config)
    by_instance = {c.instance_id: c for c in session.scalars(select(Complaint).where(
        Complaint.instance_id.in_([t["instance_id"] for t in tasks] or [-1]))
        .options(load_only(*LISTED_COLUMNS)))}
    slas = current_slas(session, [c.id for c in by_instance.values()])
    rows = []
    for task in tasks:
        complaint = by_instance.get(task["instance_id"])
        if complaint is None:
            continue
        rows.append(_worklist_row(task, complaint, slas.get(complaint.id), principal,
                                  calendar, now, config))
    return rows


def _worklist_row(task: Mapping[str, Any], complaint: Complaint, sla: Any,
                  principal: access.Principal, calendar: WorkingCalendar, now: datetime,
                  config: RegencyConfig) -> dict[str, Any]:
    sla_doc = sla_deadline(sla, calendar, now, config) if sla else None
    return {
        "task_id": task["id"], "element_id": task["element_id"], "title": task["title"],
        "assignee": task["assignee"], "created_at": task["created_at"],
        "tracking_number": complaint.tracking_number, "status": complaint.status,
        "status_label": status_label(complaint.status),
        "report_title": complaint.title if access.sees_content(principal, complaint)
        else HIDDEN,
        "due_at": sla_doc["due_at"] if sla_doc else task["due_at"],
        "working_days_left": sla_doc["working_days_left"] if sla_doc else None,
        "overdue": bool(sla_doc and sla_doc["overdue"]),
        "paused": bool(sla_doc and sla_doc["paused"]),
        "actions": list(TASK_ACTIONS.get(task["element_id"], ())),
    }


# What the worklist shows (web/pages/staff.py): "" mine and unclaimed, "mine", "unclaimed",
# "all" of the officer's groups; sorted by "deadline" (the nearest first) or "newest" task.
WORKLIST_SHOWS = ("", "mine", "unclaimed", "all")
WORKLIST_SORTS = ("deadline", "newest")


def overdue_before(calendar: WorkingCalendar, now: datetime) -> datetime:
    """The latest due time already overdue at ``now``: a deadline is late (negative working
    days left) exactly when it is at or before this instant."""
    return calendar.add_working_seconds(now, -0.000001).astimezone(UTC)


def officer_deadline() -> Any:
    """The complaint's nearest running government deadline (a correlated subquery): what
    _current gives for a complaint an officer's task waits on (the complainant's own
    windows run only while the complainant, not an officer, has the task)."""
    return (select(func.min(SlaRecord.due_at))
            .where(SlaRecord.complaint_id == Complaint.id, SlaRecord.state == RUNNING,
                   SlaRecord.step.not_in(sorted(CITIZEN_STEPS)))
            .correlate(Complaint).scalar_subquery())


def worklist_page(session: Session, principal: access.Principal, config: RegencyConfig,
                  now: datetime, *, show: str = "", kind: str = "", overdue: bool = False,
                  q: str = "", sort: str = "deadline", limit: int = 50, offset: int = 0,
                  task_id: str | None = None) -> dict[str, Any]:
    """One page of the officer's worklist: the open tasks of their groups on a report,
    filtered and sorted in the database, with the number matching, the number in each
    `show` choice and the task types present. ``task_id`` picks one row (for a swap).

    The counts and the page's order read every task of the groups (22,000 for a regency's
    administrator); they come from the read cache (workflows/readcache.py) while no task,
    report or deadline changed and, with `overdue`, no deadline has become overdue. The
    page's rows (tasks, reports, deadlines) are kept with them, the same writes changing
    both; the working days left are counted afresh every time."""
    groups = sorted(principal.groups)
    if not groups:
        return {"rows": [], "matching": 0, "counts": dict.fromkeys(WORKLIST_SHOWS, 0),
                "kinds": [], "kind": ""}
    limit, offset = max(limit, 1), max(offset, 0)
    calendar = calendar_for(session, config)
    searched = bool(q and q.strip())

    def rank() -> tuple[dict[str, Any], Any]:
        ranked = _worklist_ranking(session, principal, groups, calendar, now, show=show,
                                   kind=kind, overdue=overdue, q=q, sort=sort, limit=limit,
                                   offset=offset, task_id=task_id)
        # The page's tasks, reports and deadlines change only by writes that discard the
        # ranking too (the same logs); their working days left are counted per request.
        ranked["page"] = _worklist_page_rows(session, ranked["task_ids"])
        if not overdue:
            return ranked, None
        # which tasks are late changes when the next running deadline passes
        due = next_due_after(session, overdue_before(calendar, now))
        return ranked, None if due is None else (
            lambda later: overdue_before(calendar, later) < due)

    if searched or task_id is not None:  # one-off reads: not worth keeping
        ranked = rank()[0]
    else:
        key = ("worklist", tuple(groups), principal.username, show, kind, overdue, sort,
               limit, offset, id(calendar) if overdue else None)
        ranked = readcache.cached(session, key, now, (readcache.TASKS, readcache.STATS), rank)
    page, reports, slas = ranked["page"]
    rows = [_worklist_row(_task_row(row), reports[row.id], slas.get(reports[row.id].id),
                          principal, calendar, now, config) for row in page]
    return {"rows": rows, "matching": ranked["matching"], "counts": ranked["counts"],
            "kinds": ranked["kinds"], "kind": ranked["kind"]}


def report_columns(columns: Iterable[Any]) -> list[Any]:
    """A report's columns for a query that reads another table's too: named report_<name>
    (report_of reads them back)."""
    return [column.label(f"report_{column.key}") for column in columns]


def report_of(row: Any, columns: Iterable[Any]) -> SimpleNamespace:
    """The report in a row read with report_columns(columns), under the columns' own names
    (what the access rules and the documents read of a Complaint)."""
    return SimpleNamespace(**{column.key: getattr(row, f"report_{column.key}")
                              for column in columns})


def _worklist_page_rows(session: Session, order: list[str]
                        ) -> tuple[list[Any], dict[str, SimpleNamespace], dict[int, Any]]:
    """The page's tasks in order (plain rows: the task's columns and its report's listed
    ones as report_<name>), their reports, and the reports' current deadlines."""
    found = {row.id: row for row in session.execute(
        select(HumanTask.id, HumanTask.element_id, HumanTask.title, HumanTask.assignee,
               HumanTask.created_at, HumanTask.due_at,
               *report_columns(LISTED_COLUMNS))
        .join(Complaint, Complaint.instance_id == HumanTask.instance_id)
        .where(HumanTask.id.in_(order or ["-"])))}
    page = [found[i] for i in order if i in found]  # one done since is left out
    reports = {row.id: report_of(row, LISTED_COLUMNS) for row in page}
    return page, reports, current_slas(session, [report.id for report in reports.values()])


def next_due_after(session: Session, instant: datetime) -> datetime | None:
    """The first running government deadline due after ``instant``: until it passes, no
    deadline becomes overdue (nor does a report become late) but by a write."""
    return session.scalar(select(func.min(SlaRecord.due_at)).where(
        SlaRecord.state == RUNNING, SlaRecord.step.not_in(sorted(CITIZEN_STEPS)),
        SlaRecord.due_at > instant))


def _worklist_ranking(session: Session, principal: access.Principal, groups: list[str],
                      calendar: WorkingCalendar, now: datetime, *, show: str, kind: str,
                      overdue: bool, q: str, sort: str, limit: int, offset: int,
                      task_id: str | None) -> dict[str, Any]:
    """The worklist's counts and the ids of the page's tasks, in order."""
    me = principal.username
    in_groups = HumanTask.id.in_(select(TaskGroup.task_id).where(
        TaskGroup.group_name.in_(groups)))
    on_report = Complaint.instance_id == HumanTask.instance_id
    mine = func.sum(case((HumanTask.assignee == me, 1), else_=0))
    unclaimed = func.sum(case((HumanTask.assignee.is_(None), 1), else_=0))
    per_kind = session.execute(
        select(HumanTask.element_id, func.count(), mine, unclaimed)
        .select_from(HumanTask).join(Complaint, on_report).where(in_groups)
        .group_by(HumanTask.element_id)).all()
    counts = {"all": sum(int(r[1]) for r in per_kind),
              "mine": sum(int(r[2] or 0) for r in per_kind),
              "unclaimed": sum(int(r[3] or 0) for r in per_kind)}
    counts[""] = counts["mine"] + counts["unclaimed"]
    kinds = sorted(r[0] for r in per_kind)
    kind = kind if kind in kinds else ""  # a task type none of the tasks has: every type

    query = (select(HumanTask.id, HumanTask.created_at, Complaint.id.label("complaint_id"))
             .join(Complaint, on_report).where(in_groups))
    if task_id is not None:
        query = query.where(HumanTask.id == task_id)
    if show == "mine":
        query = query.where(HumanTask.assignee == me)
    elif show == "unclaimed":
        query = query.where(HumanTask.assignee.is_(None))
    elif show == "":
        query = query.where(or_(HumanTask.assignee.is_(None), HumanTask.assignee == me))
    if kind:
        query = query.where(HumanTask.element_id == kind)
    if q and q.strip():
        query = query.where(search_filter(principal, q))
    if overdue:
        query = query.where(select(SlaRecord.id).where(
            SlaRecord.complaint_id == Complaint.id, SlaRecord.state == RUNNING,
            SlaRecord.step.not_in(sorted(CITIZEN_STEPS)),
            SlaRecord.due_at <= overdue_before(calendar, now)).exists())
    if kind or overdue or (q and q.strip()) or task_id is not None:
        matching = session.scalar(select(func.count()).select_from(
            query.with_only_columns(HumanTask.id).subquery()))
    else:  # only the `show` choice: counted above already
        matching = counts.get(show, counts["all"])
    found = None
    if sort != "newest" and int(matching or 0) > WALK_FROM:
        found = _by_deadline_walk(session, query, offset + limit)
    if found is not None:
        found = found[offset:offset + limit]
    else:
        if sort == "newest":
            order = (HumanTask.created_at.desc(), HumanTask.id.desc())
        else:
            order = (officer_deadline().asc().nulls_last(), HumanTask.created_at,
                     HumanTask.id)
        found = session.execute(query.order_by(*order).limit(limit).offset(offset)).all()
    return {"task_ids": [row.id for row in found], "matching": int(matching or 0),
            "counts": counts, "kinds": kinds, "kind": kind}


# Above this many matching tasks the worklist reads deadlines in due order instead of
# ranking every task (see _by_deadline_walk).
WALK_FROM = 1000


def _by_deadline_walk(session: Session, query: Any, wanted: int) -> list[Any] | None:
    """The first `wanted` rows of `query` by nearest deadline, for a large worklist.

    Ranking every task of a large group by its deadline (a subquery per task) costs as much
    as the group is large. Instead, read the running government deadlines in due order
    (ix_sla_record_state_due) joined to the group's tasks, and stop once `wanted` distinct
    tasks are found: a task's first appearance is its nearest deadline, so the order is the
    same. None when the deadlines run out first (the tasks without one come last, and the
    caller ranks them the usual way)."""
    walk = (query.join(SlaRecord, and_(SlaRecord.complaint_id == Complaint.id,
                                       SlaRecord.state == RUNNING,
                                       SlaRecord.step.not_in(sorted(CITIZEN_STEPS))))
            .order_by(SlaRecord.due_at, HumanTask.created_at, HumanTask.id))
    batch = 2 * wanted + 20  # a report has at most two running government deadlines
    while True:
        read = session.execute(walk.limit(batch)).all()
        found: dict[str, Any] = {}
        for row in read:
            found.setdefault(row.id, row)
        if len(found) >= wanted:
            return list(found.values())[:wanted]
        if len(read) < batch:
            return None
        batch *= 4


def _task_row(row: Any) -> dict[str, Any]:
    return {"id": row.id, "element_id": row.element_id, "title": row.title,
            "assignee": row.assignee,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "due_at": row.due_at.isoformat() if row.due_at else None}


# A task's candidate-group role -> the user role that works it.
GROUP_ROLES = {"regency_admin": "regency_admin", "opd_liaison": "liaison_officer",
               "technical_unit": "technical_officer"}


def users_for_groups(session: Session, groups: list[str]) -> list[User]:
    """The officers behind a task's candidate groups, for notifications."""
    found: dict[int, User] = {}
    for group in groups:
        role, _, code = group.partition(":")
        if role not in GROUP_ROLES:
            continue  # the complainant is told through the status, not as an officer
        agency_ids = None
        if code:
            agency_ids = list(session.scalars(select(Agency.id).where(Agency.code == code)))
        for user in notify.users_with(session, GROUP_ROLES[role], agency_ids):
            found[user.id] = user
    return list(found.values())
