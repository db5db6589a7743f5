"""Read-only engine queries: definitions, tasks, instances, timers, incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.deployments import Deployments
from engine.errors import NotFound, TaskNotOpen
from engine.store import (
    HumanTask,
    Incident,
    InstanceEvent,
    ProcessDefinition,
    ProcessInstance,
    Store,
    TaskGroup,
    Timer,
    WaitingEvent,
)
from engine.transaction import (
    ERROR,
    RUNNING,
    InstanceTransaction,
    instance_data,
    jsonable,
    task_uuid,
)


@dataclass(eq=False)
class Queries:
    """Reads from the projections and the saved state; never writes."""

    store: Store
    clock: Clock
    deployments: Deployments
    transaction: InstanceTransaction  # only to restore workflows, never to act
    _flows: dict[int, dict[tuple[str, str], list[str]]] = field(
        default_factory=dict, init=False, repr=False)

    def definitions(self) -> list[dict[str, Any]]:
        with self.store.read() as session:
            running = dict(session.execute(
                select(ProcessInstance.definition_id, func.count()).where(
                    ProcessInstance.status.in_((RUNNING, ERROR))
                ).group_by(ProcessInstance.definition_id)
            ).all())
            rows = session.execute(
                select(ProcessDefinition.id, ProcessDefinition.process_id,
                       ProcessDefinition.version, ProcessDefinition.name,
                       ProcessDefinition.content_hash, ProcessDefinition.deployed_at,
                       ProcessDefinition.deployed_by, ProcessDefinition.files,
                       ProcessDefinition.note)
                .order_by(ProcessDefinition.process_id, ProcessDefinition.version)
            ).all()
        return [{
            "process_id": r.process_id, "version": r.version, "name": r.name,
            "hash": r.content_hash, "deployed_at": r.deployed_at.isoformat(),
            "deployed_by": r.deployed_by, "files": sorted(r.files), "note": r.note,
            "open_instances": running.get(r.id, 0),
        } for r in rows]

    def definition_files(self, process_id: str, version: int | None = None) -> dict[str, str]:
        with self.store.read() as session:
            row = self.deployments.find(session, process_id, version)
            return dict(session.get(ProcessDefinition, row.id).files)

    def tasks(self, *, instance_id: int | None = None, lane: str | None = None,
              group: str | None = None, groups: Iterable[str] | None = None,
              assignee: str | None = None, unassigned: bool = False,
              limit: int = 500) -> list[dict[str, Any]]:
        """Open tasks from the projection; no workflow is loaded."""
        query = select(HumanTask).order_by(HumanTask.created_at, HumanTask.id).limit(limit)
        if instance_id is not None:
            query = query.where(HumanTask.instance_id == instance_id)
        if lane is not None:
            query = query.where(HumanTask.lane == lane)
        wanted = [*(groups or []), *([group] if group else [])]
        if wanted:
            query = query.where(HumanTask.id.in_(
                select(TaskGroup.task_id).where(TaskGroup.group_name.in_(wanted))))
        if assignee is not None:
            query = query.where(HumanTask.assignee == assignee)
        if unassigned:
            query = query.where(HumanTask.assignee.is_(None))
        with self.store.read() as session:
            return [task_dict(t) for t in session.scalars(query)]

    def task(self, task_id: str) -> dict[str, Any]:
        """One open task with the data its form starts from."""
        now = self.clock.now()
        with self.store.read() as session:
            human = open_task(session, task_id)
            row = session.get(ProcessInstance, human.instance_id)
            definition = self.deployments.get(session, row.definition_id)
            workflow = self.transaction.restore(definition, row.state, now)
            live = workflow.get_task_from_id(task_uuid(task_id))
            return {**task_dict(human), "data": dict(live.data),
                    "instance_version": row.version}

    def instance(self, instance_id: int, *, events: bool = True) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            definition = self.deployments.get(session, row.definition_id)
            workflow = self.transaction.restore(definition, row.state, now)
            tasks = session.scalars(select(HumanTask).where(
                HumanTask.instance_id == instance_id).order_by(HumanTask.created_at)).all()
            timers = session.scalars(select(Timer).where(
                Timer.instance_id == instance_id).order_by(Timer.due_at)).all()
            waits = session.scalars(select(WaitingEvent).where(
                WaitingEvent.instance_id == instance_id)).all()
            incident = session.scalars(select(Incident).where(
                Incident.instance_id == instance_id, Incident.resolved_at.is_(None)
            ).order_by(Incident.id.desc())).first()
            audit = session.scalars(select(InstanceEvent).where(
                InstanceEvent.instance_id == instance_id).order_by(InstanceEvent.id)
            ).all() if events else []
            return {
                "instance_id": row.id,
                "process_id": row.process_id,
                "definition_version": definition.version,
                "business_key": row.business_key,
                "status": row.status,
                "version": row.version,
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
                "data": jsonable(instance_data(workflow)),
                "tasks": [task_dict(t) for t in tasks],
                "timers": [{"id": t.id, "element_id": t.element_id, "kind": t.kind,
                            "due_at": t.due_at.isoformat()} for t in timers],
                "waiting_for": [{"kind": w.kind, "name": w.name, "element_id": w.element_id}
                                for w in waits],
                "incident": None if incident is None else {
                    "element_id": incident.element_id, "message": incident.message,
                    "line": incident.line, "error_type": incident.error_type,
                    "created_at": incident.created_at.isoformat()},
                "completed_elements": _completed_elements(workflow),
                "events": [_event_dict(e) for e in audit],
            }

    def element_states(self, instance_id: int) -> dict[str, Any]:
        """Where an instance has been, is, and waits, as element ids of its diagram.

        - completed: tasks, events and gateways finished on the instance's path, and the
          sequence flows it took between them;
        - current: open (ready) user and manual tasks;
        - waiting: timers, message or signal catches (boundary events included), an
          event-based gateway and the events after it, and running subprocesses.

        An element done before and open again (a loop) is only current or waiting. The ids
        are those of the deployed definition version the instance runs
        (`process_id`, `definition_version`).
        """
        now = self.clock.now()
        with self.store.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            definition = self.deployments.get(session, row.definition_id)
            workflow = self.transaction.restore(definition, row.state, now)
            flows = self._sequence_flows(session, row.definition_id)
            process_id = row.process_id
        completed: list[str] = []
        current: list[str] = []
        waiting: list[str] = []
        taken: list[str] = []

        def add(found: list[str], element: str | None) -> None:
            if element and element not in found:
                found.append(element)

        for task in workflow.get_tasks():
            spec = task.task_spec
            element = spec.bpmn_id
            if task.state == TaskState.COMPLETED:
                add(completed, element)
            elif task.state == TaskState.READY and spec.manual:
                add(current, element)
            elif task.state == TaskState.STARTED and isinstance(spec, SubWorkflowTask):
                add(waiting, element)
            elif task.state == TaskState.WAITING and isinstance(spec, CatchingEvent):
                add(waiting, element)
                if isinstance(spec, EventBasedGateway):
                    for child in task.children:
                        add(waiting, child.task_spec.bpmn_id)
            else:
                continue
            if element is None:
                continue
            source = task.parent
            while source is not None and source.task_spec.bpmn_id is None:
                source = source.parent
            if source is not None:
                for flow in flows.get((source.task_spec.bpmn_id, element), ()):
                    add(taken, flow)
        open_now = set(current) | set(waiting)
        return {
            "process_id": process_id,
            "definition_version": definition.version,
            "completed": [e for e in completed if e not in open_now] + taken,
            "current": current,
            "waiting": waiting,
        }

    def _sequence_flows(self, session: Session, definition_id: int
                        ) -> dict[tuple[str, str], list[str]]:
        """(source id, target id) -> ids of the sequence flows between them (cached)."""
        cache = self._flows
        if definition_id not in cache:
            files = session.scalar(select(ProcessDefinition.files).where(
                ProcessDefinition.id == definition_id)) or {}
            flows: dict[tuple[str, str], list[str]] = {}
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            for name, content in files.items():
                if not name.endswith(".bpmn"):
                    continue
                for node in etree.fromstring(content.encode("utf-8"), parser).iter():
                    if str(node.tag).endswith("}sequenceFlow") and node.get("id"):
                        key = (node.get("sourceRef") or "", node.get("targetRef") or "")
                        flows.setdefault(key, []).append(node.get("id"))
            cache[definition_id] = flows
        return cache[definition_id]

    def instances(self, *, process_id: str | None = None, status: str | None = None,
                  business_key: str | None = None, limit: int = 100,
                  version: int | None = None, key_contains: str | None = None,
                  offset: int = 0) -> list[dict[str, Any]]:
        query = _instance_filter(
            select(ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.status,
                   ProcessInstance.version, ProcessInstance.business_key,
                   ProcessInstance.created_at, ProcessInstance.updated_at,
                   ProcessDefinition.version.label("definition_version"))
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id),
            process_id, status, version, key_contains,
        ).order_by(ProcessInstance.id.desc()).limit(limit).offset(max(offset, 0))
        if business_key:
            query = query.where(ProcessInstance.business_key == business_key)
        with self.store.read() as session:
            return [{"instance_id": r.id, "process_id": r.process_id, "status": r.status,
                     "version": r.version, "business_key": r.business_key,
                     "definition_version": r.definition_version,
                     "created_at": r.created_at.isoformat(),
                     "updated_at": r.updated_at.isoformat()} for r in session.execute(query)]

    def count_instances(self, *, process_id: str | None = None, status: str | None = None,
                        version: int | None = None, key_contains: str | None = None) -> int:
        query = _instance_filter(
            select(func.count()).select_from(ProcessInstance).join(
                ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id),
            process_id, status, version, key_contains)
        with self.store.read() as session:
            return int(session.scalar(query) or 0)

    def history(self, *, process_id: str | None = None, limit: int = 100
                ) -> list[dict[str, Any]]:
        """Deployments (process_definition) and migrations (the instances' migrate events,
        one entry per run: the events of one run share its `batch`), newest first."""
        deploys = select(ProcessDefinition.process_id, ProcessDefinition.version,
                         ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
                         ProcessDefinition.note).order_by(
            ProcessDefinition.deployed_at.desc(), ProcessDefinition.id.desc()).limit(limit)
        # Every migrate event up to a bound: a run moves many instances, one event each.
        moves = select(InstanceEvent.at, InstanceEvent.actor, InstanceEvent.detail,
                       InstanceEvent.instance_id, ProcessInstance.process_id).join(
            ProcessInstance, ProcessInstance.id == InstanceEvent.instance_id).where(
            InstanceEvent.action == "migrate").order_by(InstanceEvent.id.desc()).limit(
            HISTORY_EVENTS)
        if process_id:
            deploys = deploys.where(ProcessDefinition.process_id == process_id)
            moves = moves.where(ProcessInstance.process_id == process_id)
        with self.store.read() as session:
            entries: list[dict[str, Any]] = [{
                "kind": "deploy", "at": r.deployed_at.isoformat(), "actor": r.deployed_by,
                "process_id": r.process_id, "to_version": r.version, "from_versions": [],
                "note": r.note, "instances": []} for r in session.execute(deploys)]
            runs: dict[Any, dict[str, Any]] = {}
            for r in session.execute(moves):
                detail = r.detail or {}
                key = detail.get("batch") or (r.at, r.actor, detail.get("to_version"))
                run = runs.get(key)
                if run is None:
                    run = runs[key] = {
                        "kind": "migrate", "at": r.at.isoformat(), "actor": r.actor,
                        "process_id": r.process_id, "to_version": detail.get("to_version"),
                        "from_versions": [], "note": detail.get("change_note"), "instances": []}
                source = detail.get("from_version")
                if source is not None and source not in run["from_versions"]:
                    run["from_versions"].append(source)
                run["instances"].append(r.instance_id)
        for run in runs.values():
            run["from_versions"].sort()
            run["instances"].sort()
        entries += runs.values()
        # newest first; at one instant a migration follows the deploy of its target
        entries.sort(key=lambda e: (e["at"], e["kind"] == "migrate", e["to_version"] or 0),
                     reverse=True)
        return entries[:limit]

    def incidents(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        query = select(Incident, ProcessInstance.process_id, ProcessInstance.business_key,
                       ProcessDefinition.version).join(
            ProcessInstance, ProcessInstance.id == Incident.instance_id).join(
            ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
        ).order_by(Incident.id)
        if open_only:
            query = query.where(Incident.resolved_at.is_(None))
        with self.store.read() as session:
            return [{"id": i.id, "instance_id": i.instance_id, "element_id": i.element_id,
                     "message": i.message, "line": i.line, "error_type": i.error_type,
                     "created_at": i.created_at.isoformat(),
                     "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
                     "process_id": process_id, "business_key": business_key,
                     "definition_version": version}
                    for i, process_id, business_key, version in session.execute(query)]

    def timers(self, *, due_before: datetime | None = None, limit: int = 100
               ) -> list[dict[str, Any]]:
        query = select(Timer).order_by(Timer.due_at).limit(limit)
        if due_before is not None:
            query = query.where(Timer.due_at <= due_before)
        with self.store.read() as session:
            return [{"id": t.id, "instance_id": t.instance_id, "element_id": t.element_id,
                     "kind": t.kind, "due_at": t.due_at.isoformat()}
                    for t in session.scalars(query)]

    def next_due_at(self, *, claimable: bool = False) -> datetime | None:
        """When the earliest waiting timer falls due (an index lookup; for the scheduler).
        With `claimable`, the earliest that no live lease holds: what a sweep could claim
        (TimerSweep.claim), not what another sweeper is firing."""
        query = select(func.min(Timer.due_at))
        if claimable:
            query = query.where(or_(Timer.claimed_until.is_(None),
                                    Timer.claimed_until < self.clock.now()))
        with self.store.read() as session:
            return session.scalar(query)


# The most migrate events `history` reads (a run moves many instances, one event each).
HISTORY_EVENTS = 20_000


def _instance_filter(query: Any, process_id: str | None, status: str | None,
                     version: int | None, key_contains: str | None) -> Any:
    if process_id:
        query = query.where(ProcessInstance.process_id == process_id)
    if status:
        query = query.where(ProcessInstance.status == status)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    if key_contains:
        query = query.where(ProcessInstance.business_key.icontains(key_contains,
                                                                  autoescape=True))
    return query


def open_task(session: Session, task_id: str) -> HumanTask:
    """The projection row of an open task, or TaskNotOpen."""
    row = session.get(HumanTask, task_id)
    if row is None:
        raise TaskNotOpen("task %(task)s is not open: it was completed or cancelled "
                          "(or never existed)", task=task_id)
    return row


def task_dict(t: HumanTask) -> dict[str, Any]:
    """An open task as callers see it."""
    return {
        "id": t.id, "element_id": t.element_id, "title": t.title, "lane": t.lane,
        "candidate_groups": list(t.candidate_groups or []), "instance_id": t.instance_id,
        "assignee": t.assignee, "form": t.form, "created_at": t.created_at.isoformat(),
        "due_at": t.due_at.isoformat() if t.due_at else None,
    }


def _event_dict(e: InstanceEvent) -> dict[str, Any]:
    return {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "element_id": e.element_id, "status_from": e.status_from,
            "status_to": e.status_to, "data_changes": e.data_changes, "detail": e.detail}


def _completed_elements(workflow: BpmnWorkflow) -> list[str]:
    seen: list[str] = []
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        bpmn_id = task.task_spec.bpmn_id
        if bpmn_id and bpmn_id not in seen:
            seen.append(bpmn_id)
    return seen
