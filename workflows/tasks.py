"""Use cases of the officers' tasks: the worklist, and claiming and releasing a task."""

from __future__ import annotations

from typing import Any

from workflows import access, worklist
from workflows.actions import translate_engine_errors
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, NotFound

TASK_ID_MAX = 64


class Tasks:
    """The use cases of tasks (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def worklist(self, principal: access.Principal) -> list[dict[str, Any]]:
        """Every open task of the caller's groups (the JSON API's worklist)."""
        groups = sorted(principal.groups)
        if not groups:
            return []
        tasks = self.ctx.engine.tasks(groups=groups)
        with self.ctx.reads() as session:
            return worklist.worklist(session, tasks, principal, self.ctx.config,
                                     self.ctx.now())

    def worklist_page(self, principal: access.Principal, *, show: str = "", kind: str = "",
                      overdue: bool = False, q: str = "", sort: str = "deadline",
                      limit: int = 50, offset: int = 0, task_id: str | None = None
                      ) -> dict[str, Any]:
        """A page of the caller's worklist, filtered and sorted (worklist.worklist_page)."""
        with self.ctx.reads() as session:
            return worklist.worklist_page(
                session, principal, self.ctx.config, self.ctx.now(), show=show,
                kind=kind, overdue=overdue, q=q, sort=sort, limit=limit, offset=offset,
                task_id=task_id)

    @translate_engine_errors
    def claim(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        """Take an open task to work on it; only a task of the principal's groups, and only
        while nobody else holds it (Conflict otherwise)."""
        task = self._claimable(task_id, principal)
        if not set(task["candidate_groups"]) & principal.groups:
            raise Forbidden(f"task {task_id} is for {', '.join(task['candidate_groups'])}; "
                            "you may claim only tasks of your own groups")
        return self.ctx.engine.claim(task_id, principal.username)

    @translate_engine_errors
    def release(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        """Give a claimed task back to its groups. One's own claim, always; someone else's
        needs the regency administrator or a supervisor of the task's agency."""
        task = self._claimable(task_id, principal)
        holder = task["assignee"]
        if holder is None:
            raise Conflict("task %(task)s is not claimed by anyone", task=task_id)
        if holder == principal.username:
            return self.ctx.engine.unclaim(task_id, principal.username)
        with self.ctx.reads() as session:
            allowed = access.may_release(principal, task, access.agency_table(session))
        if not allowed:
            raise Forbidden(f"task {task_id} is claimed by {holder}; only they, the regency "
                            "administrator or a supervisor of its agency may release it")
        # Compare-and-set: if the holder released it or someone else claimed it since it was
        # read, this release changes nothing and says so (409), rather than clear a new claim.
        return self.ctx.engine.assign(task_id, None, actor=principal.username,
                                      expected_assignee=holder)

    def _claimable(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        if not principal.is_officer:
            raise Forbidden("only officers claim tasks")
        if not task_id or len(task_id) > TASK_ID_MAX:
            raise NotFound(f"task {task_id!r} does not exist")
        task = self.ctx.engine.task(task_id)
        task.pop("data", None)  # the form's data is not needed here
        return task
