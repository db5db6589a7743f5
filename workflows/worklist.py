"""The officer's worklist: the open tasks of their groups on reports, filtered, counted and
ordered by the nearest deadline in the database, with what each row shows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, load_only

from engine.store import HumanTask, TaskGroup
from workflows import access, worklist_counts
from workflows.calendar import WorkingCalendar
from workflows.config import RegencyConfig
from workflows.deadlines import (
    current_slas,
    officer_deadline,
    overdue_before,
    sla_deadline,
)
from workflows.documents import (
    HIDDEN,
    LISTED_COLUMNS,
    TASK_ACTIONS,
    report_columns,
    report_of,
    search_filter,
    status_label,
)
from workflows.models import Complaint, SlaRecord
from workflows.sla import CITIZEN_STEPS, RUNNING
from workflows.workdays import calendar_for


def worklist(session: Session, tasks: list[dict[str, Any]], principal: access.Principal,
             config: RegencyConfig, now: datetime) -> list[dict[str, Any]]:
    calendar = calendar_for(session, config)
    agencies = access.agency_table(session)
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
                                  calendar, now, config, agencies))
    return rows


def _worklist_row(task: Mapping[str, Any], complaint: Complaint, sla: Any,
                  principal: access.Principal, calendar: WorkingCalendar, now: datetime,
                  config: RegencyConfig, agencies: Mapping[int, Any]) -> dict[str, Any]:
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
        # what the officer may do with the task; the use cases decide again when asked
        "may_claim": access.may_claim(principal, task),
        "may_release": access.may_release(principal, task, agencies),
    }


# What the worklist shows (web/pages/staff.py): "" mine and unclaimed, "mine", "unclaimed",
# "all" of the officer's groups; sorted by "deadline" (the nearest first) or "newest" task.
WORKLIST_SHOWS = ("", "mine", "unclaimed", "all")
WORKLIST_SORTS = ("deadline", "newest")



def worklist_page(session: Session, principal: access.Principal, config: RegencyConfig,
                  now: datetime, *, show: str = "", kind: str = "", overdue: bool = False,
                  q: str = "", sort: str = "deadline", limit: int = 50, offset: int = 0,
                  task_id: str | None = None) -> dict[str, Any]:
    """One page of the officer's worklist: the open tasks of their groups on a report,
    filtered and sorted, with the number matching, the number in each `show` choice and the
    task types present. ``task_id`` picks one row (for a swap).

    The counts and the page's order read every task of the groups (22,000 for a regency's
    administrator): they are kept per scope and recounted only for the reports a write
    touched (workflows/worklist_counts.py); a search, one task, or a database without the
    change log's task triggers are counted and ranked in the database. The page's rows and
    their working days left are read afresh every time."""
    groups = sorted(principal.groups)
    if not groups:
        return {"rows": [], "matching": 0, "counts": dict.fromkeys(WORKLIST_SHOWS, 0),
                "kinds": [], "kind": ""}
    limit, offset = max(limit, 1), max(offset, 0)
    calendar = calendar_for(session, config)
    kept = None
    if not (q and q.strip()) and task_id is None:
        kept = worklist_counts.view(
            session, tuple(groups), lambda reports: task_places(session, groups, reports),
            me=principal.username, show=show, kind=kind,
            late=overdue_before(calendar, now) if overdue else None, sort=sort,
            limit=limit, offset=offset, rows=lambda ids: _shown_rows(session, ids))
    if kept is not None:
        ranked = {"task_ids": list(kept.task_ids), "matching": kept.matching,
                  "counts": dict(kept.counts), "kinds": list(kept.kinds), "kind": kept.kind}
        shown = kept.rows
    else:
        ranked = _worklist_ranking(session, principal, groups, calendar, now, show=show,
                                   kind=kind, overdue=overdue, q=q, sort=sort, limit=limit,
                                   offset=offset, task_id=task_id)
        found = _shown_rows(session, ranked["task_ids"])
        shown = tuple(found[i] for i in ranked["task_ids"] if i in found)
    agencies = access.agency_table(session)
    rows = [_worklist_row(task, report, sla, principal, calendar, now, config, agencies)
            for task, report, sla in shown]
    return {"rows": rows, "matching": ranked["matching"], "counts": ranked["counts"],
            "kinds": ranked["kinds"], "kind": ranked["kind"]}


def task_places(session: Session, groups: list[str], reports: list[int] | None
                ) -> dict[str, worklist_counts.TaskPlace]:
    """The places of the open tasks of these groups on these reports (None: every one)."""
    query = (select(HumanTask.id, HumanTask.element_id, HumanTask.assignee,
                    HumanTask.created_at, officer_deadline().label("deadline"),
                    Complaint.id.label("report"))
             .join(Complaint, Complaint.instance_id == HumanTask.instance_id))
    if reports is None:
        query = query.where(HumanTask.id.in_(select(TaskGroup.task_id).where(
            TaskGroup.group_name.in_(groups))))
    else:  # a few reports: their tasks first, then each one's groups (not every group row)
        query = query.where(Complaint.id.in_(reports), exists().where(
            TaskGroup.task_id == HumanTask.id, TaskGroup.group_name.in_(groups)))
    return {row.id: worklist_counts.TaskPlace(row.report, row.element_id, row.assignee,
                                              row.deadline, row.created_at)
            for row in session.execute(query)}


def _shown_rows(session: Session, task_ids: list[str]) -> dict[str, tuple[Any, Any, Any]]:
    """What the worklist shows of these tasks, by task id: the task (_task_row), its report
    (the listed columns) and the report's current deadline (or None); plain values, the
    same whoever reads them (workflows/worklist_counts.py keeps them)."""
    page, reports, slas = _worklist_page_rows(session, task_ids)
    return {row.id: (_task_row(row), reports[row.id], slas.get(reports[row.id].id))
            for row in page}


def _worklist_page_rows(session: Session, order: list[str]
                        ) -> tuple[list[Any], dict[str, SimpleNamespace], dict[int, Any]]:
    """The page's tasks in order (plain rows: the task's columns and its report's listed
    ones as report_<name>), their reports, and the reports' current deadlines."""
    found = {row.id: row for row in session.execute(
        select(HumanTask.id, HumanTask.element_id, HumanTask.title, HumanTask.assignee,
               HumanTask.created_at, HumanTask.due_at, HumanTask.candidate_groups,
               *report_columns(LISTED_COLUMNS))
        .join(Complaint, Complaint.instance_id == HumanTask.instance_id)
        .where(HumanTask.id.in_(order or ["-"])))}
    page = [found[i] for i in order if i in found]  # one done since is left out
    reports = {row.id: report_of(row, LISTED_COLUMNS) for row in page}
    return page, reports, current_slas(session, [report.id for report in reports.values()])



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
    if overdue:  # an alias: the deadline walk below joins sla_record itself
        late = aliased(SlaRecord)
        query = query.where(select(late.id).where(
            late.complaint_id == Complaint.id, late.state == RUNNING,
            late.step.not_in(sorted(CITIZEN_STEPS)),
            late.due_at <= overdue_before(calendar, now)).exists())
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
            "assignee": row.assignee, "candidate_groups": row.candidate_groups,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "due_at": row.due_at.isoformat() if row.due_at else None}

