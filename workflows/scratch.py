"""Try before deploy: a candidate lifecycle run in a scratch copy of the regency.

A scratch run (workflows/scratch_runs.py keeps it on disk) is a SQLite database of its own
with its own engine, frozen clock and Domain: the same host services as the live one
(building a Domain registers them), the live regency's agencies and working calendar copied
in, and synthetic officers, one per lane and agency ("uji.penghubung.dinas_pupr"), so that
reminders and escalations reach somebody's inbox. No live user or complaint is copied, and
nothing here writes to the live database. The candidate's files are deployed there (a
ValidationFailed with the findings if they cannot be); then a designer files test
complaints, acts as each lane through the domain's verbs, and moves the scratch clock,
firing the due timers as the scheduler would, at each timer's due time.

Process designers create, act, advance and delete (studio.require_designer); regency
administrators may look (studio.require_reader). docs/designers.md, "Trying a change before
deploying it", is the guide.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

import engine as bpm
from engine import Engine, FrozenClock, SourceFile
from engine.definitions.files import decode_source
from workflows import access, categories
from workflows import diagram_ids as ids
from workflows import groups as task_groups
from workflows.actions import load_report
from workflows.category_models import Category
from workflows.context import Context
from workflows.errors import Conflict, Invalid, Message, NotFound
from workflows.models import (
    Agency,
    CalendarDay,
    User,
)
from workflows.scratch_runs import RunDirectory, ScratchRun
from workflows.scratch_views import (
    GROUP_LANES,
    diagram_view,
    escalations,
    marks,
    outbox,
    since,
    task_view,
)
from workflows.storage import Storage, Upload
from workflows.studio import require_designer, require_reader
from workflows.workdays import calendar_for

if TYPE_CHECKING:
    from workflows.domain import Domain

__all__ = ["LANES", "Scratch", "ScratchRun"]

TRACKING_PREFIX = "UJI"  # test complaints are numbered UJI-2026-000001: never a live number
MAX_FILES = 20
MAX_FILE_BYTES = 2 * 1024 * 1024
FILE_SUFFIXES = (".bpmn", ".dmn", ".json")
MAX_WORKING_DAYS = 30
MAX_HOURS = 240
MAX_TIMERS_PER_ADVANCE = 2000  # a cycle timer firing every second must not hold a request
# The lanes a designer acts as, and the synthetic officer's name part for each.
LANES = ("regency_admin", "liaison_officer", "technical_officer", "supervisor", "complainant")
NAMES = {"regency_admin": "admin", "liaison_officer": "penghubung",
         "technical_officer": "teknis", "supervisor": "kepala"}
# A 1x1 JPEG: the sample photo a test complaint may carry (roads need one to be verified).
SAMPLE_PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==")


class Scratch:
    """The use cases of scratch runs (see the module)."""

    def __init__(self, ctx: Context, directory: Path) -> None:
        self.ctx = ctx
        self.runs = RunDirectory(directory)

    # ------------------------------------------------------------------ runs

    def list(self, principal: access.Principal) -> list[ScratchRun]:
        require_reader(principal)
        return self.runs.runs()

    def create(self, files: Mapping[str, str | bytes], principal: access.Principal, *,
               source: str = "upload") -> ScratchRun:
        """A new scratch run with the candidate's files deployed (ValidationFailed, with
        every finding, when they cannot be: nothing is kept then)."""
        require_designer(principal)
        unit = check_files(files)
        now = self.ctx.now()
        self.runs.sweep(now)
        with self.ctx.reads() as session:
            agencies = session.execute(select(
                Agency.id, Agency.code, Agency.name, Agency.kind, Agency.parent_id,
                Agency.active).order_by(Agency.id)).all()
            days = session.execute(select(CalendarDay.day, CalendarDay.kind,
                                          CalendarDay.name)).all()
            shown = categories.read_catalog(session)
        with self.runs.creating() as run_id:
            self.runs.migrate(run_id)
            run = ScratchRun(run_id, principal.username, now, now, now,
                             tuple(sorted(unit)), source, (), 1)
            with self._opened(run) as (scratch, _clock):
                with scratch.context.transaction() as session:
                    _copy_regency(session, agencies, days, self.ctx.config, now)
                    _copy_categories(session, shown)
                scratch.engine.deploy([SourceFile(n, t) for n, t in unit.items()],
                                      process_id=ids.PROCESS_ID,
                                      deployed_by=principal.username)
            self.runs.save(run)
        return run

    def create_from_deployed(self, principal: access.Principal) -> ScratchRun:
        """A scratch run of the lifecycle as deployed now (its latest version)."""
        require_designer(principal)
        try:
            files = self.ctx.engine.definition_files(ids.PROCESS_ID)
        except bpm.NotFound as exc:
            raise NotFound(f"{ids.PROCESS_ID} is not deployed") from exc
        return self.create(files, principal, source="deployed")

    def delete(self, run_id: str, principal: access.Principal) -> None:
        require_designer(principal)
        with self.runs.locked(run_id):
            self.runs.remove(run_id)

    # ------------------------------------------------------------------ acting

    def submit(self, run_id: str, payload: Mapping[str, Any], principal: access.Principal, *,
               sample_photo: bool = False, expected_version: int | None = None
               ) -> dict[str, Any]:
        """File a test complaint through the scratch domain's `reports.submit`; returns its
        receipt (tracking number, status)."""
        require_designer(principal)
        uploads = [Upload("foto-contoh.jpg", SAMPLE_PHOTO)] if sample_photo else []
        with self._changing(run_id, expected_version) as (run, scratch, _clock):
            receipt = scratch.reports.submit(payload, uploads, channel="web")
            self._saved(run, complaints=(*run.complaints, receipt["tracking_number"]))
        return receipt

    def act(self, run_id: str, tracking: str, verb: str, data: Mapping[str, Any] | None,
            as_role: str, principal: access.Principal, *,
            expected_version: int | None = None) -> dict[str, Any]:
        """A domain verb on a test complaint, as the synthetic officer of the lane `as_role`
        (of the agency holding the report), or as its complainant."""
        require_designer(principal)
        if as_role not in LANES:
            raise Invalid("unknown lane %(lane)r", {"as_role": Message(
                "choose one of: %(lanes)s", lanes=", ".join(LANES))}, lane=as_role)
        with self._changing(run_id, expected_version) as (run, scratch, _clock):
            if tracking not in run.complaints:
                raise NotFound(f"scratch run {run_id} has no report {tracking}")
            actor = self._lane_principal(scratch, tracking, as_role)
            scratch.reports.act(tracking, verb, data, actor)
            self._saved(run)
        return {"tracking_number": tracking, "verb": verb, "as": actor.username}

    def advance(self, run_id: str, principal: access.Principal, *,
                working_days: float | None = None, hours: float | None = None,
                expected_version: int | None = None) -> dict[str, Any]:
        """Move the scratch clock by working days (on the regency's calendar) or hours,
        firing each due timer at its due time, as the scheduler would; returns what
        happened: reminders, escalations, status changes (auto-closes among them), the
        notifications queued, and the timers that fired or failed."""
        require_designer(principal)
        working_days, hours = _check_step(working_days, hours)
        with self._changing(run_id, expected_version) as (run, scratch, clock):
            before = marks(scratch)
            start = clock.now()
            if working_days is not None:
                with scratch.context.reads() as session:
                    calendar = calendar_for(session, scratch.config)
                target = calendar.add_working_days(start, working_days)
            else:
                target = start + timedelta(hours=hours or 0)
            fired, failed, stopped = _fire_until(scratch, clock, target)
            clock.set(target)
            happened = since(scratch, before)
            self._saved(run, clock=target)
        return {"from": start.isoformat(), "to": target.isoformat(), "timers_fired": fired,
                "failed": failed, "stopped_early": stopped, **happened}

    # ------------------------------------------------------------------ reading

    def view(self, run_id: str, principal: access.Principal, tracking: str | None = None
             ) -> dict[str, Any]:
        """What the try page shows of a run and one of its test complaints (the newest
        unless `tracking` names another): the report, its open tasks with the verbs and
        forms of their lane, its SLA records, escalations, the outbox, the timers, the
        scratch clock, and the diagram's element states."""
        require_reader(principal)
        with self.runs.locked(run_id, shared=True):
            run = self.runs.load(run_id)
            result: dict[str, Any] = {"run": run, "clock": run.clock,
                                      "may_change": principal.has("process_designer"),
                                      "report": None, "tasks": [], "escalations": [],
                                      "outbox": [], "timers": [], "states": None}
            if tracking is not None and tracking not in run.complaints:
                raise NotFound(f"scratch run {run_id} has no report {tracking}")
            tracking = tracking or (run.complaints[-1] if run.complaints else None)
            with self._opened(run) as (scratch, _clock):
                result["agencies"] = scratch.reports.agencies()
                result["categories"] = scratch.categories.catalog().active_codes
                if tracking is None:
                    return result
                admin = self._lane_principal(scratch, tracking, "regency_admin")
                report = scratch.reports.get(tracking, admin)
                result["report"] = report
                instance_id = report.get("instance_id")
                if instance_id is None:
                    return result
                result["tasks"] = [task_view(t, report)
                                   for t in scratch.engine.tasks(instance_id=instance_id)]
                result["timers"] = [t for t in scratch.engine.timers(limit=100)
                                    if t["instance_id"] == instance_id]
                states = scratch.engine.element_states(instance_id)
                result["states"] = {key: states[key]
                                    for key in ("completed", "current", "waiting")}
                with scratch.context.reads() as session:
                    complaint = load_report(session, tracking)
                    result["escalations"] = escalations(session, complaint.id)
                    result["outbox"] = outbox(session, complaint.id)
            return result

    def diagram(self, run_id: str, principal: access.Principal, tracking: str
                ) -> dict[str, Any]:
        """A test complaint's diagram with where its instance has been, is and waits
        (the JSON the case page's diagram script reads)."""
        require_reader(principal)
        with self.runs.locked(run_id, shared=True):
            run = self.runs.load(run_id)
            if tracking not in run.complaints:
                raise NotFound(f"scratch run {run_id} has no report {tracking}")
            with self._opened(run) as (scratch, _clock):
                with scratch.context.reads() as session:
                    instance_id = load_report(session, tracking).instance_id
                if instance_id is None:
                    raise NotFound(f"report {tracking} has no process instance")
                return diagram_view(scratch, instance_id)

    # ------------------------------------------------------------------ the scratch domain

    @contextmanager
    def _opened(self, run: ScratchRun) -> Iterator[tuple[Domain, FrozenClock]]:
        """The run's own engine and Domain, on its database and its frozen clock."""
        from workflows.domain import Domain  # the Domain holds this area

        clock = FrozenClock(run.clock)
        engine = Engine(self.runs.database_url(run.id), clock=clock, pool=False,
                        **_sandbox_limits(self.ctx.engine))
        config = replace(self.ctx.config, tracking_prefix=TRACKING_PREFIX)
        storage = Storage(self.runs.uploads(run.id), config.max_attachment_bytes,
                          self.ctx.storage.decoder)
        scratch = Domain(engine, config, storage, self.ctx.passwords,
                         scratch_dir=self.runs.root / run.id / "nested")
        try:
            yield scratch, clock
        finally:
            scratch.dispose()

    @contextmanager
    def _changing(self, run_id: str, expected_version: int | None
                  ) -> Iterator[tuple[ScratchRun, Domain, FrozenClock]]:
        with self.runs.locked(run_id):
            run = self.runs.load(run_id)
            if expected_version is not None and expected_version != run.version:
                raise Conflict("scratch run %(run)s changed since you opened it (you had "
                               "version %(version)s); reload it and try again",
                               run=run_id, version=expected_version)
            with self._opened(run) as (scratch, clock):
                yield run, scratch, clock

    def _saved(self, run: ScratchRun, **changes: Any) -> None:
        self.runs.save(replace(run, used_at=self.ctx.now(), version=run.version + 1,
                               **changes))

    def _lane_principal(self, scratch: Domain, tracking: str, lane: str
                        ) -> access.Principal:
        """The synthetic officer of a lane for this report: the regency administrator; the
        liaison, technical officer or supervisor of the agency (unit) whose open task it
        is, or else of the agency (unit) holding the report; or the complainant."""
        if lane == "complainant":
            return access.complainant(tracking)
        config = scratch.config
        tasks = []
        with scratch.context.reads() as session:
            complaint = load_report(session, tracking)
            if complaint.instance_id is not None:
                tasks = scratch.engine.tasks(instance_id=complaint.instance_id)
            code = config.admin_agency_code if lane == "regency_admin" else None
            for task in tasks:
                for group in task["candidate_groups"]:
                    role, named = task_groups.parse(group)
                    if code is None and GROUP_LANES.get(role) == lane and named:
                        code = named
            if code is None:
                holder = complaint.unit_id if lane == "technical_officer" else (
                    complaint.agency_id)
                agency = session.get(Agency, holder) if holder else None
                code = agency.code if agency else None
            if code is None:
                raise Conflict("no agency holds report %(tracking)s for the lane %(lane)s "
                               "yet", tracking=tracking, lane=lane)
            user = session.scalars(select(User).where(
                User.username == synthetic_name(lane, code))).first()
            if user is None:
                raise Conflict("the agency %(code)s has no %(lane)s lane", code=code,
                               lane=lane)
            return access.principal_for(session, user, config.admin_agency_code)


# ---------------------------------------------------------------------- helpers


def check_files(files: Mapping[str, str | bytes]) -> dict[str, str]:
    """The unit's files as text; Invalid naming the file when one cannot be tried."""
    if not files:
        raise Invalid("choose the unit's files", {"files": Message(
            "choose complaint_lifecycle.bpmn and its .dmn files")})
    if len(files) > MAX_FILES:
        raise Invalid("at most %(n)s files", {"files": Message(
            "choose at most %(n)s files", n=MAX_FILES)}, n=MAX_FILES)
    unit: dict[str, str] = {}
    for name, content in files.items():
        where = f"files[{name}]"
        if not isinstance(name, str) or not name.lower().endswith(FILE_SUFFIXES) or (
                "/" in name or "\\" in name or len(name) > 200):
            raise Invalid("%(file)s is not a .bpmn, .dmn or .json file", {where: Message(
                "%(file)s is not a .bpmn, .dmn or .json file", file=str(name)[:200])},
                file=str(name)[:200])
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if not raw.strip():
            raise Invalid("%(file)s is empty", {where: Message("%(file)s is empty",
                                                               file=name)}, file=name)
        if len(raw) > MAX_FILE_BYTES:
            mb = MAX_FILE_BYTES // (1024 * 1024)
            raise Invalid("%(file)s is larger than %(mb)s MB", {where: Message(
                "%(file)s is larger than %(mb)s MB", file=name, mb=mb)}, file=name, mb=mb)
        unit[name] = content if isinstance(content, str) else decode_source(raw)
    if not any(name.lower().endswith(".bpmn") for name in unit):
        raise Invalid("choose the unit's files", {"files": Message(
            "choose complaint_lifecycle.bpmn and its .dmn files")})
    return unit


def synthetic_name(lane: str, code: str) -> str:
    return f"uji.{NAMES[lane]}" if lane == "regency_admin" else f"uji.{NAMES[lane]}.{code}"


def _copy_regency(session: Any, agencies: list[Any], days: list[Any], config: Any,
                  now: datetime) -> None:
    """The live agencies (same ids, parents set once all exist), the administrator's
    calendar days, and the synthetic officers of every lane of every agency."""
    for row in agencies:
        session.add(Agency(id=row.id, code=row.code, name=row.name, kind=row.kind,
                           parent_id=None, active=row.active))
    session.flush()
    for row in agencies:
        if row.parent_id is not None:
            session.get(Agency, row.id).parent_id = row.parent_id
    for row in days:
        session.add(CalendarDay(day=row.day, kind=row.kind, name=row.name,
                                created_by="scratch"))
    for row in agencies:
        if not row.active:
            continue
        lanes = ["supervisor"]
        if row.kind == "unit":
            lanes.append("technical_officer")
        elif row.kind in ("opd", "bumd", "kecamatan", "kelurahan"):
            lanes.append("liaison_officer")
        if row.code == config.admin_agency_code:
            lanes.append("regency_admin")
        for lane in lanes:
            session.add(User(username=synthetic_name(lane, row.code)[:80],
                             full_name=f"Uji {NAMES[lane]} {row.name}"[:200], roles=[lane],
                             agency_id=row.id, language="id", active=True, created_at=now))


def _copy_categories(session: Any, shown: categories.Catalog) -> None:
    """The live categories in place of the shipped ones the scratch database was seeded
    with (a test report may use a category the administrator added)."""
    session.execute(delete(Category))
    for row in shown.categories:
        session.add(Category(**row.as_dict()))


def _sandbox_limits(live: Engine) -> dict[str, Any]:
    """The live engine's limits on diagram code: a candidate runs under the same ones."""
    sandbox = live.sandbox
    options: dict[str, Any] = {"script_time_limit_seconds": sandbox.time_limit_seconds}
    if sandbox.pool is None:
        options["sandbox_workers"] = 0
    else:
        limits = sandbox.pool.limits
        options.update(sandbox_workers=limits.workers, sandbox_memory_mb=limits.memory_mb,
                       sandbox_cpu_seconds=limits.cpu_seconds,
                       sandbox_wall_seconds=limits.wall_seconds)
    return options


def _check_step(working_days: Any, hours: Any) -> tuple[float | None, float | None]:
    if (working_days is None) == (hours is None):
        raise Invalid("give working_days or hours", {"working_days": Message(
            "give either working days or hours to move the clock by")})
    name, value, limit = (("working_days", working_days, MAX_WORKING_DAYS)
                          if working_days is not None else ("hours", hours, MAX_HOURS))
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number <= limit:
        raise Invalid("%(field)s must be more than 0 and at most %(limit)s",
                      {name: Message("a number more than 0 and at most %(limit)s",
                                     limit=limit)}, field=name, limit=limit)
    return (number, None) if name == "working_days" else (None, number)


def _fire_until(scratch: Domain, clock: FrozenClock, target: datetime
                ) -> tuple[int, list[dict[str, Any]], bool]:
    """Fire every timer due up to `target`, each at its own due time (a reminder is sent
    only before its deadline: jumping past both would skip it)."""
    fired, failed = 0, []
    while fired < MAX_TIMERS_PER_ADVANCE:
        due = scratch.engine.next_due_at()
        if due is None or due > target:
            return fired, failed, False
        clock.set(max(due, clock.now()))
        progressed = False
        for report in scratch.operations.fire_due_timers(100):
            fired += len(report.fired)
            failed += report.failed
            progressed = progressed or bool(report.fired)
        if not progressed:  # only failures left due: they wait for a fix, not for time
            return fired, failed, False
    return fired, failed, True
