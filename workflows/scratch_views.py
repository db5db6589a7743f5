"""What a scratch run shows (workflows/scratch.py): what happened while its clock moved,
its escalations and outbox, its open tasks with the verbs and fields of their lanes, and the
diagram's element states. Reads only, in the scratch run's own database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from workflows import diagram_ids as ids
from workflows import groups as task_groups
from workflows import notify
from workflows.actions import ACTIONS
from workflows.documents import TASK_ACTIONS
from workflows.models import Complaint, ComplaintEvent, Escalation, Outbox, SlaRecord
from workflows.validation import ACTION_SCHEMAS

if TYPE_CHECKING:
    from workflows.domain import Domain

# The lanes of the candidate groups' roles (the synthetic officer a designer acts as).
GROUP_LANES = {task_groups.REGENCY_ADMIN: "regency_admin",
               task_groups.OPD_LIAISON: "liaison_officer",
               task_groups.TECHNICAL_UNIT: "technical_officer",
               task_groups.SUPERVISOR: "supervisor", task_groups.COMPLAINANT: "complainant"}


def marks(scratch: Domain) -> dict[str, Any]:
    """Where the run's records stand before a step: the highest ids, reminded rungs."""
    with scratch.context.reads() as session:
        return {
            "outbox": session.scalar(select(func.max(Outbox.id))) or 0,
            "escalation": session.scalar(select(func.max(Escalation.id))) or 0,
            "event": session.scalar(select(func.max(ComplaintEvent.id))) or 0,
            "reminded": {r.id: list(r.reminded_rungs or []) for r in session.scalars(
                select(SlaRecord))},
        }


def since(scratch: Domain, before: dict[str, Any]) -> dict[str, Any]:
    """What happened after `_marks`: reminders, escalations, status changes, outbox."""
    ladder = scratch.config.ladder
    with scratch.context.reads() as session:
        numbers = dict(session.execute(select(Complaint.id, Complaint.tracking_number)).all())
        reminders = []
        for record in session.scalars(select(SlaRecord).order_by(SlaRecord.id)):
            for k in record.reminded_rungs or []:
                if k not in before["reminded"].get(record.id, []):
                    reminders.append({"tracking_number": numbers.get(record.complaint_id),
                                      "step": record.step,
                                      "rung_name": ladder[min(record.holder_rung + k,
                                                              len(ladder) - 1)]})
        escalations = [escalation_dict(e, numbers) for e in session.scalars(
            select(Escalation).where(Escalation.id > before["escalation"])
            .order_by(Escalation.id))]
        changes = [{"tracking_number": numbers.get(e.complaint_id), "at": e.at.isoformat(),
                    "from": e.status_from, "to": e.status_to, "text": e.text}
                   for e in session.scalars(select(ComplaintEvent).where(
                       ComplaintEvent.id > before["event"], ComplaintEvent.kind == "status")
                       .order_by(ComplaintEvent.id))]
        notifications = [outbox_dict(o) for o in session.scalars(
            select(Outbox).where(Outbox.id > before["outbox"]).order_by(Outbox.id))]
    return {"reminders": reminders, "escalations": escalations, "status_changes": changes,
            "auto_closed": [c["tracking_number"] for c in changes
                            if c["to"] == ids.STATUS_CLOSED],
            "notifications": notifications}


def escalation_dict(row: Escalation, numbers: Mapping[int, str]) -> dict[str, Any]:
    return {"tracking_number": numbers.get(row.complaint_id), "step": row.step,
            "rung": row.rung, "rung_name": row.rung_name, "at": row.at.isoformat(),
            "due_at": row.due_at.isoformat(), "status": row.status}


def outbox_dict(row: Outbox) -> dict[str, Any]:
    subject, body = notify.render(row.template, row.language, row.payload or {})
    return {"at": row.created_at.isoformat(), "channel": row.channel,
            "recipient": row.recipient, "template": row.template, "subject": subject,
            "body": body}


def escalations(session: Any, complaint_id: int) -> list[dict[str, Any]]:
    numbers = dict(session.execute(select(Complaint.id, Complaint.tracking_number)).all())
    return [escalation_dict(e, numbers) for e in session.scalars(select(Escalation).where(
        Escalation.complaint_id == complaint_id).order_by(Escalation.id))]


def outbox(session: Any, complaint_id: int) -> list[dict[str, Any]]:
    return [outbox_dict(o) for o in session.scalars(select(Outbox).where(
        Outbox.complaint_id == complaint_id).order_by(Outbox.id))]


def task_view(task: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """An open task with its lane and what can be done with it there: the domain verbs
    that complete it, each with the fields of its form (validation.ACTION_SCHEMAS)."""
    lanes = []
    for group in task["candidate_groups"]:
        lane = GROUP_LANES.get(task_groups.parse(group)[0])
        if lane and lane not in lanes:
            lanes.append(lane)
    verbs = [verb for verb in TASK_ACTIONS.get(task["element_id"], ())
             if verb in ACTIONS]
    return {"id": task["id"], "element_id": task["element_id"], "title": task["title"],
            "candidate_groups": task["candidate_groups"], "due_at": task["due_at"],
            "lanes": lanes or ["regency_admin"], "form": task.get("form"),
            "verbs": [{"name": verb, "fields": fields(ACTION_SCHEMAS[verb])}
                      for verb in verbs]}


def fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    found = []
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type", "string")
        if "enum" in spec:
            kind = "choice"
        found.append({"name": name, "type": kind, "required": name in required,
                      "choices": list(spec.get("enum", ())), "default": spec.get("default")})
    return found


def diagram_view(scratch: Domain, instance_id: int) -> dict[str, Any]:
    states = scratch.engine.element_states(instance_id)
    files = scratch.engine.definition_files(states["process_id"],
                                            states["definition_version"])
    xml = files.get(ids.BPMN_FILE) or next(
        (text for name, text in sorted(files.items()) if name.endswith(".bpmn")), "")
    return {"xml": xml, "completed": states["completed"], "current": states["current"],
            "waiting": states["waiting"]}
