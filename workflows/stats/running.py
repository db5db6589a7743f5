"""The steps overdue now from the statistics' copy of the running steps (``stats_running``,
workflows/stats_running_models.py, kept by the triggers of migration 0038).

What is overdue depends on the clock, so it is not summed ahead; but only running records
can be overdue, and the table holds just those (the open backlog, with their reports'
keys): one aggregate over the period's rows, hashed by key, counts the records past due at
``now``, and the reports behind them through the rows flagged first to come due of their
step and of their report (a report is overdue on a step exactly when its first record of
the step is). No join, no ``DISTINCT``.

Returns exactly what facts.running_late returns from the SLA records (its oracle):
tests/test_stats_running.py and tests/test_stats_facts.py compare the two."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from workflows import diagram_ids as ids
from workflows.stats.cohort import Scope
from workflows.stats.facts import RunningLate
from workflows.stats_running_models import StatsRunning, StatsRunningMark


def running_usable(session: Session) -> bool:
    """Whether the migration installed the table's triggers (its mark row)."""
    return session.scalar(select(StatsRunningMark.id).where(StatsRunningMark.id == 1)) is not None


def running_now(session: Session, first: datetime, after: datetime, scope: Scope,
                now: datetime) -> RunningLate:
    """The running records of the reports received in [``first``, ``after``) within
    ``scope`` past due at ``now`` (as facts.running_late counts them), and the earliest due
    time still ahead."""
    r = StatsRunning
    where = [r.received_at >= first, r.received_at < after]
    if scope.agency_ids is not None:
        ids_ = sorted(scope.agency_ids) or [-1]
        where.append(or_(r.agency_id.in_(ids_), r.unit_id.in_(ids_)))
    following = session.scalar(select(func.min(r.due_at)).where(*where, r.due_at >= now))
    key = [r.agency_id, r.step, r.classification, r.misconduct]

    def flagged(condition: object) -> object:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    query = (select(*key, func.count(), flagged(r.first_of_step),
                    flagged(r.first_of_report),
                    flagged(and_(r.first_of_step, r.unanswered,
                                 r.step == ids.STEP_FOLLOW_UP)))
             .where(*where, r.due_at < now).group_by(*key))
    steps = []
    agencies: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for g, step, cls, misc, records, reports, any_step, unanswered in session.execute(query):
        steps.append((g, step, cls, misc, int(records), int(reports)))
        cell = agencies[g]
        cell[0] += int(any_step)
        cell[1] += int(unanswered)
    return RunningLate(steps, [(g, n, unanswered) for g, (n, unanswered) in agencies.items()],
                       following)
