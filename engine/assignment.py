"""Who works on an open task: claim, unclaim, assign, hand to other groups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import Conflict, InvalidInput, Message
from engine.queries import open_task, task_dict
from engine.store import (
    HumanTask,
    InstanceEvent,
    Store,
    TaskGroup,
)


@dataclass(eq=False)
class Assignments:
    """Claims, assignments and candidate groups of open tasks (projection only)."""

    store: Store
    clock: Clock

    def claim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._set_assignee(task_id, user, user, "claim", only_if_free=True)

    def unclaim(self, task_id: str, user: str) -> dict[str, Any]:
        return self._set_assignee(task_id, None, user, "unclaim", only_if_holder=user)

    def assign(self, task_id: str, user: str | None, *, actor: str | None = None,
               expected_assignee: str | None = None, only_if_free: bool = False,
               hook: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """Set (or clear, with None) the assignee. With `expected_assignee`, only while that
        user still holds the task; with `only_if_free`, only while nobody does (each a
        compare-and-set): otherwise Conflict, nothing changed. `hook(session)` runs in the
        same transaction once the assignee is set (the host's history and notifications)."""
        return self._set_assignee(task_id, user, actor, "assign", only_if_free=only_if_free,
                                  only_if_holder=expected_assignee, hook=hook)

    def set_candidate_groups(self, task_id: str, groups: Iterable[str], *,
                             actor: str | None = None,
                             hook: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """Hand an open task to other candidate groups (a reassignment); clears the assignee.
        `hook` runs in the same transaction (the host's own writes: all or nothing)."""
        wanted = list(dict.fromkeys(g for g in groups if g))
        if not wanted:
            raise InvalidInput("name at least one candidate group",
                               {"groups": Message("give at least one group")})
        now = self.clock.now()
        with self.store.transaction() as session:
            current = open_task(session, task_id)
            previous = list(current.candidate_groups or [])
            session.execute(delete(TaskGroup).where(TaskGroup.task_id == task_id))
            session.execute(insert(TaskGroup), [{"task_id": task_id, "group_name": g}
                                                for g in wanted])
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(
                candidate_groups=wanted, assignee=None).execution_options(
                synchronize_session=False))
            session.execute(insert(InstanceEvent).values(
                instance_id=current.instance_id, at=now, actor=actor, action="reassign",
                element_id=current.element_id,
                detail={"task_id": task_id, "groups": wanted, "previous": previous}))
            if hook is not None:
                hook(session)
            session.refresh(current)
            return task_dict(current)

    def _set_assignee(self, task_id: str, user: str | None, actor: str | None, action: str,
                      only_if_free: bool = False, only_if_holder: str | None = None,
                      hook: Callable[[Session], None] | None = None) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.transaction() as session:
            current = open_task(session, task_id)
            statement = update(HumanTask).where(HumanTask.id == task_id)
            if only_if_free and action == "assign":  # someone else's hand-over: nobody's
                statement = statement.where(HumanTask.assignee.is_(None))
            elif only_if_free:  # a claim: free, or already the claimant's
                statement = statement.where(
                    or_(HumanTask.assignee.is_(None), HumanTask.assignee == user))
            if only_if_holder is not None:
                statement = statement.where(HumanTask.assignee == only_if_holder)
            result = session.execute(statement.values(assignee=user)
                                     .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                holder = session.scalar(select(HumanTask.assignee).where(
                    HumanTask.id == task_id))
                if only_if_holder is not None:
                    raise Conflict("task %(task)s is not claimed by %(user)s (assignee: "
                                   "%(holder)s)", task=task_id, user=only_if_holder,
                                   holder=holder or "nobody")
                raise Conflict("task %(task)s is already claimed by %(holder)s", task=task_id,
                               holder=holder)
            session.execute(insert(InstanceEvent).values(
                instance_id=current.instance_id, at=now, actor=actor, action=action,
                element_id=current.element_id, detail={"task_id": task_id, "assignee": user,
                                                       "previous": current.assignee},
            ))
            if hook is not None:
                hook(session)
            session.refresh(current)
            return task_dict(current)
