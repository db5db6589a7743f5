"""The impact preview: what a candidate deadline table (deadlines.dmn), or another rung budget
of the escalation ladder, would have meant for the last months of real complaints, per OPD,
before it is deployed (docs/designers.md, "Impact preview").

Model. Every SLA record started in the period is replayed as it happened: the same start,
the same pauses, the same answer (a record still open runs until the clock's now); only the
deadlines move. W is the working time the step's clock ran: from its start to its end on
the regency's calendar, less its pauses. Under a budget of B working days:

- an officer's deadline is late when W > B. The live SLA (workflows/sla.py) sets the due
  time to add_working_days(start, B) and shifts it by each pause; working time is additive,
  so W > B is exactly "answered after the new due time, or still open past it";
- it climbs Ladder.rungs_climbed(W - B) rungs (ladder.py: one at the due time, then one
  each rung budget, up to the last rung), counted from the holder's rung of the record;
- the complainant's window (after the answer) closes the report by itself when W >= B, the
  window having run out; or when it did run out: a complainant who stayed silent is taken
  to stay silent under a longer window.

"Before" is what the stored records say happened: deadlines breached or open past their due
time, the escalation rows of each record, windows that ran out. The candidate table is
evaluated with the engine's sandbox without being deployed (Engine.decide_unit), for each
combination of the inputs the records need; the budgets it changes are listed against the
deployed version's. The records are read in one query of plain columns (instants as epoch
microseconds) and measured on a WorkingTimeline (workflows/timeline.py): a few integer
operations each, so 100,000 complaints take seconds (BENCHMARKS.md, bench/impact.py).
"""

from __future__ import annotations

import json
import time as timer
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Text, cast, func, literal_column, select
from sqlalchemy.orm import Session

from engine import SourceFile
from engine.errors import Finding, ValidationFailed
from workflows import access
from workflows import diagram_ids as ids
from workflows.context import Context
from workflows.errors import Invalid, Message
from workflows.ladder import Ladder
from workflows.models import Agency, Complaint, Escalation, SlaRecord
from workflows.sla import BREACHED, CITIZEN_STEPS, PAUSED, RUNNING
from workflows.studio import require_reader
from workflows.timeline import US_PER_DAY, US_PER_SECOND, epoch_us, timeline_for
from workflows.workdays import calendar_for

DEADLINES_FILE = "deadlines.dmn"
WINDOW = ids.STEP_COMPLAINANT_WINDOW  # the step whose running out closes the report by itself
# What the deadline table may read of a report: the lifecycle's start data the complaint
# keeps (workflows/diagram_ids.START_VARIABLES), and the step.
INPUTS = ("step", "classification", "misconduct", "category", "severity", "road_status")
MAX_MONTHS = 36
MAX_RUNG_BUDGET_DAYS = 60.0
MAX_FILE_CHARS = 2_000_000


@dataclass(frozen=True)
class Counts:
    """What happened to a set of deadlines: how many were late, climbed the ladder (and
    how many rungs in all), and how many complainant's windows closed a report by itself."""

    late: int = 0
    escalated: int = 0
    escalations: int = 0
    auto_closed: int = 0

    def minus(self, other: Counts) -> Counts:
        return Counts(self.late - other.late, self.escalated - other.escalated,
                      self.escalations - other.escalations,
                      self.auto_closed - other.auto_closed)


@dataclass(frozen=True)
class ImpactRow:
    """One OPD (or the regency administrator, who holds verification; `agency_code` None:
    reports not yet sent to an OPD), before and after."""

    agency_code: str | None
    agency_name: str | None
    deadlines: int  # officers' deadlines of the period
    windows: int  # complainant's windows of the period
    before: Counts
    after: Counts

    @property
    def difference(self) -> Counts:
        return self.after.minus(self.before)

    def as_dict(self) -> dict[str, Any]:
        return {"agency_code": self.agency_code, "agency_name": self.agency_name,
                "deadlines": self.deadlines, "windows": self.windows,
                "before": asdict(self.before), "after": asdict(self.after),
                "difference": asdict(self.difference)}


@dataclass(frozen=True)
class BudgetChange:
    """A budget the candidate changes: the step, the inputs it depends on (only those that
    matter for this step), the deployed and the candidate's working days, and how many
    deadlines of the period it concerns."""

    step: str
    when: dict[str, Any]
    old: float | None
    new: float | None
    deadlines: int


@dataclass(frozen=True)
class ImpactPreview:
    since: datetime
    until: datetime
    months: int
    rung_budget_days: tuple[float, float]  # deployed, previewed
    records: int
    rows: list[ImpactRow]
    total: ImpactRow
    changes: list[BudgetChange]
    computed_seconds: float = field(compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "months": self.months,
                "rung_budget_days": {"before": self.rung_budget_days[0],
                                     "after": self.rung_budget_days[1]},
                "records": self.records, "rows": [r.as_dict() for r in self.rows],
                "total": self.total.as_dict(),
                "changes": [asdict(c) for c in self.changes],
                "computed_seconds": self.computed_seconds}


class Impact:
    """The impact preview use case (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def preview(self, files: Mapping[str, str], principal: access.Principal, months: int = 12,
                rung_budget_days: float | None = None) -> ImpactPreview:
        """What the candidate unit's deadline table (and, if given, another rung budget of
        the ladder) would have meant for the SLA records of the last `months` months.

        `files` are the candidate's files by name (deadlines.dmn, usually); the deployed
        version of the lifecycle supplies the others (none: the deployed table, to preview
        another rung budget alone). A unit that could not be deployed
        raises the engine's ValidationFailed with its findings."""
        require_reader(principal)
        began = timer.perf_counter()
        files, months, rung_days = self._checked(files, months, rung_budget_days)
        ctx, config = self.ctx, self.ctx.config
        unit = {**ctx.engine.definition_files(ids.PROCESS_ID), **files}
        now = ctx.now()
        since = months_before(now.astimezone(config.tzinfo), months)
        with ctx.reads() as session:
            calendar = calendar_for(session, config)
            records = self._records(session, since, now)
            agencies = {row.id: (row.code, row.name) for row in session.execute(
                select(Agency.id, Agency.code, Agency.name))}
            admin_id = next((key for key, (code, _) in agencies.items()
                             if code == config.admin_agency_code), None)
        combos = sorted({record[0] for record in records}, key=repr)
        inputs = [dict(zip(INPUTS, combo, strict=True)) for combo in combos]
        new = ctx.engine.decide_unit([SourceFile(name, text) for name, text in unit.items()],
                                     ids.STEP_BUDGET, *inputs, process_id=ids.PROCESS_ID)
        old = ctx.engine.decide(ids.PROCESS_ID, ids.STEP_BUDGET, *inputs) if inputs else []
        budgets = {combo: _budget(answer, combo) for combo, answer in zip(combos, new,
                                                                          strict=True)}
        deployed = {combo: answer.get(ids.BUDGET_DAYS) for combo, answer in zip(
            combos, old, strict=True)}
        now_us = epoch_us(now)
        timeline = timeline_for(calendar, min((r[2] for r in records), default=now_us),
                                max((now_us, *(r[4] for r in records if r[4] is not None))))
        ladder = Ladder(tuple(config.ladder), rung_days)
        rows, total, used = _replay(records, budgets, timeline, ladder, now_us, agencies,
                                    admin_id)
        return ImpactPreview(
            since=since, until=now, months=months,
            rung_budget_days=(config.rung_budget_days, rung_days), records=len(records),
            rows=rows, total=total, changes=_changes(deployed, budgets, used),
            computed_seconds=round(timer.perf_counter() - began, 3))

    # ------------------------------------------------------------------ input

    def _checked(self, files: Any, months: Any, rung_budget_days: Any
                 ) -> tuple[dict[str, str], int, float]:
        errors: dict[str, Any] = {}
        if not isinstance(files, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            errors["files"] = Message("give the candidate's files as names with their text")
        elif any(len(text) > MAX_FILE_CHARS for text in files.values()):
            errors["files"] = Message("a file is larger than %(limit)s characters",
                                      limit=MAX_FILE_CHARS)
        if isinstance(months, bool) or not isinstance(months, int) \
                or not 1 <= months <= MAX_MONTHS:
            errors["months"] = Message("a whole number of months from 1 to %(limit)s",
                                       limit=MAX_MONTHS)
        rung_days = self.ctx.config.rung_budget_days if rung_budget_days is None \
            else rung_budget_days
        if isinstance(rung_days, bool) or not isinstance(rung_days, int | float) \
                or not 0 < rung_days <= MAX_RUNG_BUDGET_DAYS:
            errors["rung_budget_days"] = Message(
                "working days per rung: a number above 0 and at most %(limit)s",
                limit=MAX_RUNG_BUDGET_DAYS)
        if errors:
            raise Invalid("the impact preview's request has errors", errors)
        return dict(files), months, float(rung_days)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _records(session: Session, since: datetime, until: datetime) -> list[tuple]:
        """The period's SLA records as plain tuples, in one query: (decision inputs, step,
        started, due, ended, paused (epoch us), state, remaining s, pauses JSON or None,
        holder rung, escalation rows, OPD id)."""
        us = _epoch_us_sql(session.get_bind().dialect.name)
        escalations = (select(Escalation.sla_id, func.count().label("n"))
                       .group_by(Escalation.sla_id).subquery())
        query = (
            select(SlaRecord.step, Complaint.classification, Complaint.misconduct,
                   Complaint.category, Complaint.severity, Complaint.road_status,
                   us(SlaRecord.started_at), us(SlaRecord.due_at), us(SlaRecord.ended_at),
                   us(SlaRecord.paused_at), SlaRecord.state, SlaRecord.remaining_seconds,
                   cast(SlaRecord.pauses, Text), SlaRecord.holder_rung,
                   func.coalesce(escalations.c.n, 0), Complaint.agency_id)
            .join(Complaint, Complaint.id == SlaRecord.complaint_id)
            .outerjoin(escalations, escalations.c.sla_id == SlaRecord.id)
            .where(SlaRecord.started_at >= since, SlaRecord.started_at <= until,
                   # a postponement's limit is a setting (ADUAN_POSTPONE_MAX_DAYS), not a
                   # budget of the deadline table
                   SlaRecord.step != ids.STEP_POSTPONEMENT))
        found = []
        append = found.append
        for (step, classification, misconduct, category, severity, road_status, started,
             due, ended, paused, state, remaining, pauses, holder, escalated, agency
             ) in session.execute(query).tuples():
            combo = (step, classification, bool(misconduct), category, severity,
                     road_status or "")
            append((combo, step, started, due, ended, paused, state, remaining,
                    None if not pauses or pauses == "[]" else pauses, holder, escalated,
                    agency))
        return found


def _epoch_us_sql(dialect: str) -> Any:
    """An instant column as integer microseconds since the epoch, computed by the database
    (no datetime objects made for 400,000 rows). SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff'
    (UTC, engine/store.UtcDateTime); PostgreSQL's extract(epoch) is exact (numeric)."""
    def sqlite(column: Any) -> Any:
        name = f"{column.class_.__tablename__}.{column.key}"
        return literal_column(f"(CAST(strftime('%s', {name}) AS INTEGER) * 1000000 + "
                              f"CAST(substr({name}, 21, 6) AS INTEGER))", BigInteger)

    def postgres(column: Any) -> Any:
        return cast(func.extract("epoch", column) * 1_000_000, BigInteger)

    return postgres if dialect == "postgresql" else sqlite


def _budget(answer: Mapping[str, Any], combo: tuple) -> int:
    """The candidate's budget in microseconds of working time; a table that gives a step no
    number could not run (the lifecycle's sla_start needs one)."""
    days = answer.get(ids.BUDGET_DAYS)
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        inputs = ", ".join(f"{k}={v!r}" for k, v in zip(INPUTS, combo, strict=True))
        raise ValidationFailed([Finding(
            DEADLINES_FILE, ids.STEP_BUDGET, "error",
            f"the table gives no number of working days ({ids.BUDGET_DAYS}) for {inputs}: "
            f"{days!r}; add a rule for it (every step of a report needs a budget)")])
    return round(days * US_PER_DAY)


def _replay(records: list[tuple], budgets: dict[tuple, int], timeline: Any, ladder: Ladder,
            now_us: int, agencies: dict[int, tuple[str, str]], admin_id: int | None
            ) -> tuple[list[ImpactRow], ImpactRow, dict[tuple, int]]:
    """Before and after for each record (the module's model), summed per OPD."""
    # per agency: [deadlines, windows, late, escalated, escalations, auto] before and after
    sums: dict[int | None, list[int]] = defaultdict(lambda: [0] * 10)
    used: dict[tuple, int] = defaultdict(int)
    working = timeline.working_us
    climbed = ladder.rungs_climbed
    for (combo, step, started, due, ended, paused, state, remaining, pauses, holder,
         escalated, agency) in records:
        used[combo] += 1
        end = ended if ended is not None else paused if state == PAUSED else now_us
        ran = working(started, end)
        if pauses is not None:
            ran -= _paused_us(pauses, working)
        budget = budgets[combo]
        if step == WINDOW:
            row = sums[agency]
            row[1] += 1
            ran_out = (ended is not None and due is not None and ended >= due) or (
                state == RUNNING and due is not None and due <= now_us)
            row[5] += ran_out
            row[9] += ran_out or ran >= budget
            continue
        if step in CITIZEN_STEPS:
            continue
        row = sums[admin_id if step == ids.STEP_VERIFICATION else agency]
        row[0] += 1
        late = state == BREACHED or (state == RUNNING and due is not None and due < now_us) \
            or (state == PAUSED and (remaining or 0.0) < 0)
        row[2] += late
        row[3] += escalated > 0
        row[4] += escalated
        over = ran - budget
        if over > 0:
            rungs = climbed(over / US_PER_SECOND, holder)
            row[6] += 1
            row[7] += rungs > 0
            row[8] += rungs
    rows = [_row(agencies.get(key) if key is not None else None, values)
            for key, values in sums.items()]
    rows.sort(key=lambda r: (r.agency_code is None, (r.agency_name or "").lower()))
    totals = [sum(values[i] for values in sums.values()) for i in range(10)]
    return rows, _row(None, totals), used


def _row(agency: tuple[str, str] | None, v: list[int]) -> ImpactRow:
    code, name = agency if agency is not None else (None, None)
    return ImpactRow(code, name, v[0], v[1], Counts(v[2], v[3], v[4], v[5]),
                     Counts(v[6], v[7], v[8], v[9]))


def _paused_us(pauses: str, working: Any) -> int:
    """Working time of a record's pauses (the ledger of workflows/sla.py)."""
    total = 0
    for pause in json.loads(pauses):
        total += working(epoch_us(datetime.fromisoformat(pause["from"])),
                         epoch_us(datetime.fromisoformat(pause["to"])))
    return total


def _changes(deployed: dict[tuple, Any], budgets: dict[tuple, int], used: dict[tuple, int]
             ) -> list[BudgetChange]:
    """The budgets that differ, per step, by the inputs that matter for that step: an input
    is left out when, whatever its value, the deployed and the candidate's budgets stay the
    same for the rest of the inputs."""
    by_step: dict[str, dict[tuple, tuple[Any, float]]] = defaultdict(dict)
    for combo, budget in budgets.items():
        by_step[combo[0]][combo[1:]] = (deployed.get(combo), budget / US_PER_DAY)
    found = []
    for step, answers in sorted(by_step.items()):
        kept = list(range(len(INPUTS) - 1))
        for position in list(kept):
            rest = [k for k in kept if k != position]
            seen: dict[tuple, tuple] = {}
            if all(seen.setdefault(tuple(key[k] for k in rest), pair) == pair
                   for key, pair in answers.items()):
                kept = rest
        grouped: dict[tuple, list] = {}
        for key, (old, new) in answers.items():
            entry = grouped.setdefault(tuple(key[k] for k in kept), [old, new, 0])
            entry[2] += used.get((step, *key), 0)
        for key, (old, new, count) in sorted(grouped.items(), key=repr):
            if old is None or float(old) != new:
                found.append(BudgetChange(step, {INPUTS[k + 1]: v for k, v in zip(
                    kept, key, strict=True)}, old, new, count))
    return found


def months_before(moment: datetime, months: int) -> datetime:
    """The same local time `months` calendar months earlier (the 31st becomes the last day
    of a shorter month)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - date(year, month + 1, 1)
            ).days
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last))
