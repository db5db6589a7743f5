"""Moving running instances from one definition version to another, or refusing to."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update

from engine import projections as proj
from engine.clock import Clock
from engine.deployments import DeployedDefinition, Deployments
from engine.errors import Conflict, NotFound
from engine.runtime import workflow_serializer
from engine.store import HumanTask, ProcessInstance, Store
from engine.transaction import ERROR, RUNNING, InstanceTransaction, LoadedInstance

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def plan(loaded: LoadedInstance, target: DeployedDefinition) -> dict[str, Any]:
    """What moving one loaded instance to `target` would change, and whether it is safe."""
    workflow = loaded.workflow
    registry = workflow_serializer().registry
    top, subs = diff_workflow(registry, workflow, target.spec, target.subprocess_specs)
    problems: list[str] = []
    removed_active = [t for t in top.removed if t.has_state(ACTIVE)]
    for sp_id, sp_diff in subs.items():
        subprocess = workflow.subprocesses[sp_id]
        if sp_diff is None:
            if not subprocess.completed:
                problems.append(f"called process {subprocess.spec.name!r} is running but "
                                "missing from the new version")
            continue
        removed_active += [t for t in sp_diff.removed if t.has_state(ACTIVE)]
    for task in removed_active:
        problems.append(f"element {task.task_spec.bpmn_id or task.task_spec.name!r} is "
                        f"{TaskState.get_name(task.state).lower()} and does not exist in "
                        f"version {target.version}; finish it first or keep the element")
    # A completed task keeps its element in the saved state: without the element in the
    # target, the moved instance could never be loaded again.
    removed_done = [t for t in top.removed if t.has_state(TaskState.COMPLETED)]
    for sp_diff in subs.values():
        if sp_diff is not None:
            removed_done += [t for t in sp_diff.removed if t.has_state(TaskState.COMPLETED)]
    for element in sorted({t.task_spec.bpmn_id or t.task_spec.name for t in removed_done}):
        problems.append(f"element {element!r} was completed on this instance's path and does "
                        f"not exist in version {target.version}; keep the element (it may be "
                        "unreachable) in the new version")
    changed = sorted({t.task_spec.bpmn_id for t in top.changed if t.task_spec.bpmn_id})
    for sp_diff in subs.values():
        if sp_diff is not None:
            changed += sorted({t.task_spec.bpmn_id for t in sp_diff.changed
                               if t.task_spec.bpmn_id})
    waiting = sorted({t.task_spec.bpmn_id for t in workflow.get_tasks(
        state=TaskState.READY | TaskState.WAITING) if t.task_spec.bpmn_id})
    return {
        "instance_id": loaded.row.id,
        "business_key": loaded.row.business_key,
        "from_version": loaded.definition.version,
        "to_version": target.version,
        "safe": not problems,
        "problems": problems,
        "changed_elements": changed,
        "active_elements": waiting,
        "_diff": (top, subs),
    }


def apply(loaded: LoadedInstance, target: DeployedDefinition, diffs: tuple[Any, Any]
          ) -> None:
    """Swap the workflow onto the new specs, keeping timers' due times where they survive."""
    workflow = loaded.workflow
    top, subs = diffs
    saved_timers = {
        t.id: (t.task_spec.bpmn_id, t.internal_data.get("event_value"))
        for t in workflow.get_tasks(state=TaskState.WAITING)
        if t.internal_data.get("event_value") is not None
    }
    for sp_id, sp_diff in subs.items():
        if sp_diff is not None:
            subprocess = workflow.subprocesses[sp_id]
            migrate_workflow(sp_diff, subprocess, target.subprocess_specs[subprocess.spec.name])
    migrate_workflow(top, workflow, target.spec)
    workflow.subprocess_specs = dict(target.subprocess_specs)
    for task in workflow.get_tasks(state=TaskState.WAITING):
        bpmn_id, value = saved_timers.get(task.id, (None, None))
        if value is not None and bpmn_id == task.task_spec.bpmn_id:
            task.internal_data["event_value"] = value


def refresh_open_tasks(session: Any, loaded: LoadedInstance, target: DeployedDefinition
                       ) -> None:
    """The open tasks' title, lane and form as the target version describes them: the
    projection keeps the rows of the tasks that survive a migration (their assignee, groups
    and due time stay), but a relabelled task must show its new label and form."""
    for task in proj.snapshot(loaded.workflow).tasks.values():
        meta = target.task_meta.get(task.meta_key) or {}
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(
            title=meta.get("title") or task.element_id, lane=meta.get("lane"),
            form=meta.get("form")))


@dataclass(eq=False)
class Migration:
    """Moves the open instances of a process to another version, or refuses to.

    Every instance is planned before any is moved: if one cannot move (an active element
    missing from the target), none is. Each move is its own instance transaction, planned
    again under the instance lock; an instance that changed meanwhile so that it can no
    longer move stops the migration with a Conflict, and those moved before it stay moved.
    """

    store: Store
    clock: Clock
    deployments: Deployments
    transaction: InstanceTransaction

    def migrate(self, process_id: str, to_version: int, *, from_version: int | None = None,
                dry_run: bool = False, actor: str | None = None,
                instance_ids: Iterable[int] | None = None, note: str | None = None
                ) -> dict[str, Any]:
        """Migrate every open instance of `process_id` (of `from_version`, among
        `instance_ids` when given); all are checked before any is moved. The migrate event
        of each instance moved keeps `note` and the run's `batch` id (one per call)."""
        with self.store.transaction() as session:
            target_row = self.deployments.find(session, process_id, to_version)
            target = self.deployments.get(session, target_row.id)
            query = select(ProcessInstance.id).where(
                ProcessInstance.process_id == process_id,
                ProcessInstance.status.in_((RUNNING, ERROR)),
                ProcessInstance.definition_id != target_row.id,
            ).order_by(ProcessInstance.id)
            if from_version is not None:
                source = self.deployments.find(session, process_id, from_version)
                query = query.where(ProcessInstance.definition_id == source.id)
            if instance_ids is not None:
                query = query.where(ProcessInstance.id.in_(list(instance_ids) or [-1]))
            instance_ids = list(session.scalars(query))
        now = self.clock.now()
        plans = []
        for instance_id in instance_ids:
            with self.store.transaction() as session:
                loaded = self.transaction.load(session, instance_id, now, allow_error=True)
                plans.append(plan(loaded, target))
                session.rollback()
        refused = [p for p in plans if not p["safe"]]
        report: dict[str, Any] = {
            "process_id": process_id, "to_version": to_version, "dry_run": dry_run,
            "instances": [{k: v for k, v in p.items() if not k.startswith("_")} for p in plans],
            "refused": bool(refused),
            "migrated": 0,
        }
        if refused:
            report["message"] = (f"{len(refused)} of {len(plans)} instance(s) cannot move to "
                                 f"version {to_version}; nothing was migrated")
        if dry_run or refused:
            return report
        batch = uuid.uuid4().hex
        for p in plans:
            with self.store.transaction() as session:
                try:
                    loaded = self.transaction.load(session, p["instance_id"], now,
                                                   allow_error=True)
                except NotFound:
                    continue
                fresh = plan(loaded, target)
                if not fresh["safe"]:
                    raise Conflict("instance %(instance)s changed while migrating: "
                                   "%(problems)s", instance=p["instance_id"],
                                   problems="; ".join(fresh["problems"]))
                apply(loaded, target, fresh["_diff"])
                session.execute(update(ProcessInstance).where(
                    ProcessInstance.id == loaded.row.id).values(definition_id=target.id))
                loaded.definition = target
                loaded.rebuild = None  # (its workflow was changed above)
                self.transaction.run(
                    session, loaded, now, actor, "migrate", None,
                    detail={"from_version": p["from_version"], "to_version": to_version,
                            "changed_elements": p["changed_elements"], "batch": batch,
                            **({"change_note": note} if note else {})},
                    act=lambda _workflow: None,
                    final_status=None if loaded.row.status != ERROR else ERROR)
                refresh_open_tasks(session, loaded, target)
                report["migrated"] += 1
        return report
