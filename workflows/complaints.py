"""Complaint use cases: submit, read, list, and the domain verbs that drive the lifecycle."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import engine as bpm
from engine import Engine, Operation, current_operation
from workflows import access, documents, images, notify, worklist
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import (
    Agency,
    Attachment,
    Complaint,
    ComplaintEvent,
    Escalation,
    TrackingCounter,
)
from workflows.sla import SlaPolicy
from workflows.storage import Storage, Upload
from workflows.validation import check_action, check_submission
from workflows.workdays import calendar_for

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
INFRASTRUCTURE = "photo_required"


def translate_engine_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Engine errors become domain errors; web/ maps only the domain's."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except bpm.InvalidInput as exc:  # the message keeps its id and parameters
            raise Invalid(exc.message, exc.field_errors) from exc
        except bpm.Conflict as exc:
            raise Conflict(exc.message) from exc
        except bpm.NotFound as exc:
            raise NotFound(exc.message) from exc

    return wrapper


@dataclass(frozen=True)
class Action:
    """A domain verb: which open task it completes (or message it sends), and who may."""

    tasks: tuple[str, ...]
    roles: frozenset[str]
    to_task_data: Callable[[dict[str, Any]], dict[str, Any]]
    complainant: bool = False


def _const(**fixed: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda payload: {**fixed, **payload}


ADMIN = frozenset({"regency_admin", "system_admin"})
OPD = frozenset({"liaison_officer", "regency_admin", "system_admin"})
UNIT = frozenset({"liaison_officer", "technical_officer", "regency_admin", "system_admin"})

ACTIONS: dict[str, Action] = {
    "verify": Action((ids.SCREEN_REPORT,), ADMIN, _const(decision="verify")),
    "archive": Action((ids.SCREEN_REPORT,), ADMIN, _const(decision="archive")),
    "request_info": Action((ids.SCREEN_REPORT, ids.DISPOSE_REPORT), ADMIN,
                           _const(decision="request_info")),
    "provide_info": Action((ids.PROVIDE_INFORMATION,), frozenset(), _const(), complainant=True),
    "not_authority": Action((ids.DISPOSE_REPORT,), ADMIN, _const(decision="not_authority")),
    "postpone": Action((ids.DISPOSE_REPORT,), ADMIN, _const(decision="postpone")),
    "resume": Action((ids.RESUME_REPORT,), ADMIN, _const()),
    "dispose": Action((ids.DISPOSE_REPORT,), ADMIN, _const(decision="dispose")),
    "delegate": Action((ids.FOLLOW_UP,), OPD, _const(decision="delegate")),
    "respond": Action((ids.FOLLOW_UP, ids.UNIT_FOLLOW_UP), UNIT,
                      lambda p: {**p, "decision": "final" if p.get("final", True)
                                 else "interim"}),
    "reply": Action((ids.REVIEW_ANSWER,), frozenset(), _const(decision="unsatisfied"),
                    complainant=True),
    "rate": Action((ids.REVIEW_ANSWER,), frozenset(), _const(decision="accept"),
                   complainant=True),
}
OTHER_ACTIONS = ("reopen", "link_duplicate", "reassign")


class Complaints:
    """The use cases of the complaint domain, over the engine and the domain tables."""

    def __init__(self, engine: Engine, config: RegencyConfig, storage: Storage) -> None:
        self.engine = engine
        self.config = config
        self.storage = storage
        self.sla = SlaPolicy(config)
        self._diagram_xml: dict[tuple[str, int], str] = {}  # deployed files never change
        for name, service in self.sla.services().items():
            engine.register_service(name, service)
        engine.register_service(ids.SERVICE_SET_STATUS, self._set_status)
        engine.register_service(ids.SERVICE_ASSIGN_AGENCY, self._assign_agency)
        engine.add_listener(self._on_change)

    # ------------------------------------------------------------------ set-up

    def install_diagrams(self, actor: str | None = None) -> bpm.Deployment:
        """Deploy the shipped lifecycle (a no-op when the same version is deployed)."""
        files = [BPMN_DIR / name for name in ids.DEPLOYMENT_FILES]
        return self.engine.deploy(files, process_id=ids.PROCESS_ID, deployed_by=actor)

    def session(self) -> Any:
        """A unit of work that may write."""
        return self.engine.store.transaction()

    def read_session(self) -> Any:
        """A read-only unit (never waits for a writer on SQLite)."""
        return self.engine.store.read()

    # ------------------------------------------------------------------ submit

    @translate_engine_errors
    def submit(self, payload: Mapping[str, Any], uploads: list[Upload] | None = None, *,
               channel: str = "web", language: str = "id") -> dict[str, Any]:
        """File a report; returns the tracking number, the secret (shown once) and status."""
        uploads = list(uploads or [])
        fields = check_submission(payload, self.config)
        if len(uploads) > self.config.max_attachments:
            limit = self.config.max_attachments
            raise Invalid("at most %(n)s attachments",
                          {"attachments": Message("attach at most %(n)s files", n=limit)},
                          n=limit)
        stored = self.storage.check(uploads)
        self.storage.save(uploads, stored)
        now = self.engine.clock.now()
        tracking = self._next_tracking_number(now)
        secret = access.new_secret()
        has_photo = any(s.kind == "photo" for s in stored)

        def create(operation: Operation) -> dict[str, Any]:
            session = operation.session
            complaint = Complaint(
                tracking_number=tracking, secret_hash=access.digest(secret),
                status=ids.STATUS_SUBMITTED, channel=channel, language=language,
                instance_id=operation.instance_id, created_at=now, updated_at=now, version=1,
                **fields)
            session.add(complaint)
            session.flush()
            for item in stored:
                session.add(Attachment(
                    complaint_id=complaint.id, filename=item.filename,
                    content_type=item.content_type, size=item.size, sha256=item.sha256,
                    storage_key=item.storage_key, kind=item.kind, uploaded_by="pelapor",
                    created_at=now))
            session.add(ComplaintEvent(
                complaint_id=complaint.id, at=now, actor="pelapor", kind="submitted",
                status_to=ids.STATUS_SUBMITTED, text=None, public=True))
            return {"complaint_id": complaint.id}

        start_data = {
            "tracking_number": tracking,
            "classification": fields["classification"],
            "misconduct": fields["misconduct"],
            "category": fields["category"],
            "severity": fields["severity"],
            "road_status": fields.get("road_status") or "",
            "has_photo": has_photo,
        }
        self.engine.start(ids.PROCESS_ID, start_data, business_key=tracking,
                          actor="pelapor", hook=create)
        return {"tracking_number": tracking, "secret": secret, "status": ids.STATUS_SUBMITTED,
                "status_label": ids.STATUS_LABELS[ids.STATUS_SUBMITTED]["id"]}

    def _next_tracking_number(self, now: datetime) -> str:
        year = now.astimezone(calendar_tz(self.config)).year
        prefix = self.config.tracking_prefix
        for _ in range(3):
            try:
                with self.session() as session:
                    result = session.execute(
                        update(TrackingCounter)
                        .where(TrackingCounter.prefix == prefix, TrackingCounter.year == year)
                        .values(last=TrackingCounter.last + 1)
                        .returning(TrackingCounter.last))
                    number = result.scalar()
                    if number is None:
                        session.add(TrackingCounter(prefix=prefix, year=year, last=1))
                        session.flush()
                        number = 1
                return f"{prefix}-{year}-{number:06d}"
            except IntegrityError:  # two first reports of a year at once: try again
                continue
        raise Conflict("could not allocate a tracking number; try again")

    # ------------------------------------------------------------------ reading

    def _load(self, session: Session, tracking_number: str) -> Complaint:
        complaint = session.scalars(select(Complaint).where(
            Complaint.tracking_number == tracking_number)).first()
        if complaint is None:
            raise NotFound("report %(tracking)s does not exist", tracking=tracking_number)
        return complaint

    def authenticate_complainant(self, tracking_number: str, secret: str | None
                                 ) -> access.Principal:
        with self.read_session() as session:
            complaint = session.scalars(select(Complaint).where(
                Complaint.tracking_number == tracking_number)).first()
            if complaint is None or not access.secret_matches(secret, complaint.secret_hash):
                # the same answer for both: a guessed number reveals nothing
                raise NotFound(f"report {tracking_number} does not exist or the secret is "
                               "wrong")
        return access.complainant(tracking_number)

    def get(self, tracking_number: str, principal: access.Principal) -> dict[str, Any]:
        with self.read_session() as session:
            complaint = self._load(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            tasks = self.engine.tasks(instance_id=complaint.instance_id) \
                if complaint.instance_id else []
            return documents.complaint_document(session, complaint, principal, self.config,
                                            tasks, self.engine.clock.now())

    def attachment(self, tracking_number: str, attachment_id: int,
                   principal: access.Principal) -> tuple[Attachment, bytes]:
        """One evidence file, for those who may see the report's content."""
        with self.read_session() as session:
            complaint = self._load(session, tracking_number)
            if not access.can_view(principal, complaint) or not access.sees_content(
                    principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            row = session.scalars(select(Attachment).where(
                Attachment.id == attachment_id, Attachment.complaint_id == complaint.id)).first()
            if row is None:
                raise NotFound(f"report {tracking_number} has no attachment {attachment_id}")
            session.expunge(row)
        return row, self.storage.open(row.storage_key)

    def attachment_display(self, tracking_number: str, attachment_id: int,
                           principal: access.Principal, edge: int = images.DISPLAY_EDGE
                           ) -> tuple[Attachment, bytes, str]:
        """A photo of the evidence as pages show it (workflows/images.py): upright, scaled,
        stripped of location and other metadata. Not a photo: NotFound."""
        row, _content = self.attachment(tracking_number, attachment_id, principal)
        if row.content_type not in images.PHOTO_TYPES:
            raise NotFound(f"attachment {attachment_id} of {tracking_number} is not a photo")
        try:
            data, content_type = self.storage.display(row.storage_key, edge)
        except images.NotAPhoto as exc:
            raise NotFound(f"attachment {attachment_id} of {tracking_number} cannot be shown "
                           "as a photo; download the original") from exc
        return row, data, content_type

    def list(self, principal: access.Principal, *, status: str | None = None,
             agency_code: str | None = None, overdue: bool | None = None,
             since: date | None = None, until: date | None = None, limit: int = 50,
             offset: int = 0, q: str | None = None) -> dict[str, Any]:
        """A page of the reports the officer may see; `q` matches the tracking number or
        the title (a `rahasia` title only for those who may see its content)."""
        if not principal.is_officer:
            raise Forbidden("only officers list reports")
        with self.read_session() as session:
            return documents.complaint_list(
                session, principal, self.config, self.engine.clock.now(), status=status,
                agency_code=agency_code, overdue=overdue, since=since, until=until,
                limit=limit, offset=offset, q=q)

    def worklist(self, principal: access.Principal) -> list[dict[str, Any]]:
        groups = sorted(principal.groups)
        if not groups:
            return []
        tasks = self.engine.tasks(groups=groups)
        with self.read_session() as session:
            return worklist.worklist(session, tasks, principal, self.config,
                                  self.engine.clock.now())

    def worklist_page(self, principal: access.Principal, *, show: str = "", kind: str = "",
                      overdue: bool = False, q: str = "", sort: str = "deadline",
                      limit: int = 50, offset: int = 0, task_id: str | None = None
                      ) -> dict[str, Any]:
        """A page of the caller's worklist, filtered and sorted (worklist.worklist_page)."""
        with self.read_session() as session:
            return worklist.worklist_page(
                session, principal, self.config, self.engine.clock.now(), show=show,
                kind=kind, overdue=overdue, q=q, sort=sort, limit=limit, offset=offset,
                task_id=task_id)

    def agencies(self) -> list[dict[str, Any]]:
        """The active agency tree (province > regency > OPD > unit), parents first."""
        with self.read_session() as session:
            rows = session.scalars(select(Agency).where(Agency.active.is_(True))
                                   .order_by(Agency.id)).all()
            codes = {a.id: a.code for a in rows}
            return [{"id": a.id, "code": a.code, "name": a.name, "kind": a.kind,
                     "parent": codes.get(a.parent_id)} for a in rows]

    def diagram(self, tracking_number: str, principal: access.Principal) -> dict[str, Any]:
        """The report's lifecycle diagram (the BPMN XML of the version its instance runs)
        with the elements it completed, the open tasks and what it waits for. Authorized
        like `get`."""
        with self.read_session() as session:
            complaint = self._load(session, tracking_number)
            if not access.can_view(principal, complaint) or complaint.instance_id is None:
                raise NotFound(f"report {tracking_number} does not exist")
            instance_id = complaint.instance_id
        try:
            states = self.engine.element_states(instance_id)
        except bpm.NotFound as exc:
            raise NotFound(f"report {tracking_number} has no process instance") from exc
        key = (states["process_id"], states["definition_version"])
        xml = self._diagram_xml.get(key)
        if xml is None:
            files = self.engine.definition_files(*key)
            xml = files.get(ids.BPMN_FILE) or next(
                (text for name, text in sorted(files.items()) if name.endswith(".bpmn")), "")
            self._diagram_xml[key] = xml
        return {"xml": xml, "completed": states["completed"], "current": states["current"],
                "waiting": states["waiting"]}

    def routing(self, tracking_number: str, principal: access.Principal
                ) -> dict[str, Any] | None:
        """What the routing table (routing.dmn) suggests for a report waiting for its
        disposition: `authority`, `handler_level`, `agency_code`. None when no disposition
        is open or the principal does not dispose."""
        with self.read_session() as session:
            complaint = self._load(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            instance_id = complaint.instance_id
        if not principal.has(*ADMIN) or instance_id is None:
            return None
        open_tasks = [t for t in self.engine.tasks(instance_id=instance_id)
                      if t["element_id"] == ids.DISPOSE_REPORT]
        if not open_tasks:
            return None
        try:
            data = self.engine.task(open_tasks[0]["id"])["data"]
        except (bpm.Conflict, bpm.NotFound):  # just completed by someone else
            return None
        return {key: data.get(key) for key in ("authority", "handler_level", "agency_code")}

    # ------------------------------------------------------------------ task claims

    @translate_engine_errors
    def claim_task(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        """Take an open task to work on it; only a task of the principal's groups, and only
        while nobody else holds it (Conflict otherwise)."""
        task = self._claimable(task_id, principal)
        if not set(task["candidate_groups"]) & principal.groups:
            raise Forbidden(f"task {task_id} is for {', '.join(task['candidate_groups'])}; "
                            "you may claim only tasks of your own groups")
        return self.engine.claim(task_id, principal.username)

    @translate_engine_errors
    def release_task(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        """Give a claimed task back to its groups. One's own claim, always; someone else's
        needs the regency administrator or a supervisor of the task's agency."""
        task = self._claimable(task_id, principal)
        holder = task["assignee"]
        if holder is None:
            raise Conflict("task %(task)s is not claimed by anyone", task=task_id)
        if holder == principal.username:
            return self.engine.unclaim(task_id, principal.username)
        if not self._may_release_others(task, principal):
            raise Forbidden(f"task {task_id} is claimed by {holder}; only they, the regency "
                            "administrator or a supervisor of its agency may release it")
        # Compare-and-set: if the holder released it or someone else claimed it since it was
        # read, this release changes nothing and says so (409), rather than clear a new claim.
        return self.engine.assign(task_id, None, actor=principal.username,
                                  expected_assignee=holder)

    def _claimable(self, task_id: str, principal: access.Principal) -> dict[str, Any]:
        if not principal.is_officer:
            raise Forbidden("only officers claim tasks")
        if not task_id or len(task_id) > 64:
            raise NotFound(f"task {task_id!r} does not exist")
        task = self.engine.task(task_id)
        task.pop("data", None)  # the form's data is not needed here
        return task

    def _may_release_others(self, task: dict[str, Any], principal: access.Principal) -> bool:
        if principal.sees_everything:
            return True
        if not principal.has("supervisor"):
            return False
        codes = [g.partition(":")[2] for g in task["candidate_groups"] if ":" in g]
        with self.read_session() as session:
            agency_ids = set(session.scalars(select(Agency.id).where(Agency.code.in_(
                codes or [""]))))
        return bool(agency_ids & principal.agency_ids)

    # ------------------------------------------------------------------ verbs

    @translate_engine_errors
    def act(self, tracking_number: str, action: str, payload: Mapping[str, Any] | None,
            principal: access.Principal, uploads: list[Upload] | None = None,
            expected_version: int | None = None) -> dict[str, Any]:
        """Perform a domain verb on a report; returns the report as the caller may see it.

        With `expected_version` (the report's `version` when the caller read it) the verb
        is refused with Conflict if anyone changed the report since; the check is made in
        the transaction that records the change, so of two officers racing only one wins.
        """
        if action not in ACTIONS and action not in OTHER_ACTIONS:
            known = ", ".join(sorted([*ACTIONS, *OTHER_ACTIONS]))
            raise NotFound(f"unknown action {action!r}; one of: {known}")
        data = check_action(action, dict(payload or {}))
        if action == "reopen":
            self._reopen(tracking_number, data, principal, expected_version)
        elif action == "link_duplicate":
            self._link_duplicate(tracking_number, data, principal, expected_version)
        elif action == "reassign":
            self._reassign(tracking_number, data, principal, expected_version)
        else:
            self._complete(tracking_number, action, data, principal, uploads or [],
                           expected_version)
        return self.get(tracking_number, principal)

    @staticmethod
    def _check_version(session: Session, complaint_id: int, tracking_number: str,
                       expected_version: int | None, bump: bool = False) -> None:
        """Refuse (Conflict) unless the report still has the version the caller read.

        A conditional UPDATE: it takes the row's lock (PostgreSQL) and compares at once, so
        two transactions expecting the same version cannot both pass."""
        if expected_version is None:
            return
        result = session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id, Complaint.version == expected_version)
            .values(version=Complaint.version + (1 if bump else 0))
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise _stale(tracking_number, expected_version)

    def _complete(self, tracking_number: str, action_name: str, data: dict[str, Any],
                  principal: access.Principal, uploads: list[Upload],
                  expected_version: int | None = None) -> None:
        action = ACTIONS[action_name]
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            self._authorize(action, principal, complaint)
            if expected_version is not None and complaint.version != expected_version:
                raise _stale(tracking_number, expected_version)
            self._precheck(session, action_name, complaint, data)
            instance_id = complaint.instance_id
        open_tasks = [t for t in self.engine.tasks(instance_id=instance_id)
                      if t["element_id"] in action.tasks]
        if not open_tasks:
            raise Conflict("%(action)r is not possible while report %(tracking)s is "
                           "%(status)s", action=action_name, tracking=tracking_number,
                           status=complaint.status)
        task = open_tasks[0]
        if not action.complainant and not principal.sees_everything and not (
                set(task["candidate_groups"]) & principal.groups):
            raise Forbidden(f"{action_name!r} on {tracking_number} is for "
                            f"{', '.join(task['candidate_groups'])}")
        stored = self.storage.check(uploads) if uploads else []
        if uploads:
            self.storage.save(uploads, stored)
        task_data = action.to_task_data(data)

        def record(operation: Operation) -> None:
            session = operation.session
            self._check_version(session, complaint.id, tracking_number, expected_version)
            target = session.get(Complaint, complaint.id)
            for item in stored:
                session.add(Attachment(
                    complaint_id=target.id, filename=item.filename,
                    content_type=item.content_type, size=item.size, sha256=item.sha256,
                    storage_key=item.storage_key, kind=item.kind,
                    uploaded_by=principal.username, created_at=operation.now))
            text = data.get("answer") or data.get("information") or data.get("comment") \
                or data.get("reason") or data.get("note")
            session.add(ComplaintEvent(
                complaint_id=target.id, at=operation.now, actor=principal.username,
                kind=action_name, text=text, public=action_name in documents.PUBLIC_ACTIONS))
            if action_name == "rate":
                target.rating = data["rating"]
                target.rating_comment = data.get("comment")
            if action_name == "respond" and target.first_answer_at is None:
                target.first_answer_at = operation.now
            target.updated_at = operation.now
            target.version += 1

        if action_name == "provide_info" and any(s.kind == "photo" for s in stored):
            task_data["has_photo"] = True
        self.engine.complete(task["id"], task_data, actor=principal.username, hook=record)

    def _authorize(self, action: Action, principal: access.Principal,
                   complaint: Complaint) -> None:
        if action.complainant:
            if principal.tracking_number != complaint.tracking_number:
                raise Forbidden("only the complainant (with the report's secret) may do this")
            return
        if not principal.has(*action.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(sorted(action.roles))}")
        if not access.can_view(principal, complaint):
            raise NotFound(f"report {complaint.tracking_number} does not exist")

    def _precheck(self, session: Session, action: str, complaint: Complaint,
                  data: dict[str, Any]) -> None:
        if action == "verify" and complaint.category in self.config.photo_required_categories:
            photos = session.scalar(select(func.count()).select_from(Attachment).where(
                Attachment.complaint_id == complaint.id, Attachment.kind == "photo"))
            if not photos:
                raise Conflict(
                    "report %(tracking)s (%(category)s) needs a photo as evidence before it "
                    "can be verified; request information from the complainant "
                    "(request_info) instead", tracking=complaint.tracking_number,
                    category=complaint.category)
        if action == "dispose":
            agency = self._agency(session, data["agency_code"], "agency_code")
            if agency.kind not in ("opd", "bumd", "kecamatan", "kelurahan"):
                raise Invalid("dispose to an OPD, BUMD, kecamatan or kelurahan",
                              {"agency_code": Message(
                                  "%(code)s is a %(kind)s", code=agency.code,
                                  kind=agency.kind)})
            if data.get("handler") == "unit":
                unit = self._agency(session, data.get("unit_code") or "", "unit_code")
                if unit.parent_id != agency.id:
                    raise Invalid("the unit must belong to the agency",
                                  {"unit_code": Message("%(unit)s is not a unit of %(agency)s",
                                                        unit=unit.code, agency=agency.code)})
        if action == "delegate":
            unit = self._agency(session, data["unit_code"], "unit_code")
            if unit.parent_id != complaint.agency_id:
                raise Invalid("delegate to a unit of the agency holding the report",
                              {"unit_code": Message("%(unit)s is not a unit of this agency",
                                                    unit=unit.code)})

    @staticmethod
    def _agency(session: Session, code: str, field: str) -> Agency:
        agency = session.scalars(select(Agency).where(Agency.code == code)).first()
        if agency is None or not agency.active:
            raise Invalid("unknown agency %(code)r",
                          {field: Message("no active agency has the code %(code)r; see "
                                          "/agencies", code=code)}, code=code)
        return agency

    def _reopen(self, tracking_number: str, data: dict[str, Any],
                principal: access.Principal, expected_version: int | None = None) -> None:
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            if principal.tracking_number != tracking_number and not principal.sees_everything:
                raise Forbidden("only the complainant or the regency administrator reopens")
            # (the message is delivered once: a second reopen finds nothing waiting)
            self._check_version(session, complaint.id, tracking_number, expected_version)
            if complaint.status != ids.STATUS_CLOSED:
                raise Conflict("only a closed report can be reopened; %(tracking)s is "
                               "%(status)s", tracking=tracking_number, status=complaint.status)
            instance_id = complaint.instance_id
        try:
            self.engine.send_message(ids.MESSAGE_REOPEN, {"reopen_reason": data["reason"]},
                                     instance_id=instance_id, actor=principal.username)
        except bpm.NotFound as exc:
            raise Conflict("report %(tracking)s can no longer be reopened (the reopening "
                           "period has ended); file a new report",
                           tracking=tracking_number) from exc

    def _link_duplicate(self, tracking_number: str, data: dict[str, Any],
                        principal: access.Principal, expected_version: int | None = None
                        ) -> None:
        if not principal.has(*ADMIN):
            raise Forbidden("only the regency administrator links duplicates")
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            self._check_version(session, complaint.id, tracking_number, expected_version,
                                bump=True)
            original = self._load(session, data["duplicate_of"])
            if original.id == complaint.id:
                raise Invalid("a report cannot duplicate itself",
                              {"duplicate_of": Message("name another report")})
            if original.duplicate_of_id == complaint.id:
                raise Invalid("that report is already a duplicate of this one",
                              {"duplicate_of": Message("link the other way round")})
            now = self.engine.clock.now()
            complaint.duplicate_of_id = original.id
            for target, text in ((complaint, f"duplikat dari {original.tracking_number}"),
                                 (original, f"laporan duplikat: {complaint.tracking_number}")):
                session.add(ComplaintEvent(complaint_id=target.id, at=now,
                                           actor=principal.username, kind="link_duplicate",
                                           text=text, public=True))
            screening = complaint.status == ids.STATUS_SUBMITTED
            version = None if expected_version is None else expected_version + 1
        if screening:  # a fresh duplicate is archived, never lost: it stays linked
            self._complete(tracking_number, "archive",
                           {"reason": f"duplikat dari {data['duplicate_of']}",
                            "duplicate_of": data["duplicate_of"]}, principal, [], version)

    def _reassign(self, tracking_number: str, data: dict[str, Any],
                  principal: access.Principal, expected_version: int | None = None) -> None:
        if not principal.has("regency_admin", "system_admin", "supervisor"):
            raise Forbidden("only the regency administrator or a supervisor reassigns")
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            agency = self._agency(session, data["agency_code"], "agency_code")
            if not principal.sees_everything and agency.id not in principal.agency_ids:
                raise Forbidden("a supervisor reassigns only within their own agency tree")
            instance_id = complaint.instance_id
        tasks = [t for t in self.engine.tasks(instance_id=instance_id)
                 if t["element_id"] in (ids.FOLLOW_UP, ids.UNIT_FOLLOW_UP)]
        if not tasks:
            raise Conflict("report %(tracking)s has no follow-up to reassign (dispose it "
                           "first)", tracking=tracking_number)
        if expected_version is not None:
            # the reassignment spans several transactions: take the version first, so a
            # second officer racing with the same version changes nothing
            with self.session() as session:
                self._check_version(session, complaint.id, tracking_number,
                                    expected_version, bump=True)
        role = "technical_unit" if agency.kind == "unit" else "opd_liaison"
        for task in tasks:
            self.engine.set_candidate_groups(task["id"], [f"{role}:{agency.code}"],
                                             actor=principal.username)
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            if agency.kind == "unit":
                complaint.unit_id, complaint.agency_id = agency.id, agency.parent_id
            else:
                complaint.agency_id, complaint.unit_id = agency.id, None
            now = self.engine.clock.now()
            session.add(ComplaintEvent(complaint_id=complaint.id, at=now,
                                       actor=principal.username, kind="reassign",
                                       text=f"dialihkan ke {agency.name}: {data['reason']}",
                                       public=False))
            session.execute(update(Escalation).where(
                Escalation.complaint_id == complaint.id, Escalation.status == "open"
            ).values(status="resolved", acknowledged_by=principal.username,
                     acknowledged_at=now, comment=f"reassigned to {agency.code}"))

    # ------------------------------------------------------------------ diagram services

    def _set_status(self, status: str, reason: str = "") -> None:
        operation = _operation()
        session = operation.session
        complaint = _complaint_of(session, operation)
        if status not in ids.STATUS_LABELS:
            raise ValueError(f"unknown status {status!r}")
        before = complaint.status
        complaint.status = status
        complaint.updated_at = operation.now
        complaint.version += 1
        stamp = {ids.STATUS_VERIFIED: "verified_at", ids.STATUS_DISPOSED: "disposed_at",
                 ids.STATUS_CLOSED: "closed_at"}.get(status)
        if stamp and getattr(complaint, stamp) is None:
            setattr(complaint, stamp, operation.now)
        if status == ids.STATUS_IN_PROGRESS:
            complaint.closed_at = None
        session.add(ComplaintEvent(complaint_id=complaint.id, at=operation.now,
                                   actor=operation.actor, kind="status", status_from=before,
                                   status_to=status, text=reason or None, public=True))
        if before != status:
            notify.to_complainant(session, complaint, "status_changed", operation.now, {
                "tracking_number": complaint.tracking_number, "title": complaint.title,
                "status": status, "status_label": ids.STATUS_LABELS[status][complaint.language
                                                                          if complaint.language
                                                                          in ("id", "en")
                                                                          else "id"],
                "reason": reason or ""})

    def _assign_agency(self, agency_code: str, role: str = "opd") -> None:
        operation = _operation()
        session = operation.session
        complaint = _complaint_of(session, operation)
        agency = session.scalars(select(Agency).where(Agency.code == agency_code)).first()
        if agency is None:
            raise LookupError(f"agency {agency_code!r} does not exist")
        if role == "unit":
            complaint.unit_id = agency.id
            unit_rung = self.config.rung_index("technical_officer")
            for record in self.sla._running(session, complaint, None):
                if record.step in ("follow_up", "resolution"):
                    # Not escalated yet: the unit holds the deadline now, so missing it goes
                    # to the OPD's head first (the next rung), not straight past them.
                    if record.rung <= record.holder_rung:
                        record.rung = unit_rung
                    record.holder_rung = unit_rung
        else:
            complaint.agency_id, complaint.unit_id = agency.id, None
        session.add(ComplaintEvent(complaint_id=complaint.id, at=operation.now,
                                   actor=operation.actor, kind="assigned",
                                   text=agency.name, public=True))

    def _on_change(self, change: bpm.InstanceChange) -> None:
        """Tell officers of each new task for them (in the same transaction)."""
        if not change.opened_tasks:
            return
        session = change.operation.session
        complaint = _complaint_of(session, change.operation, required=False)
        if complaint is None:
            return
        calendar = calendar_for(session, self.config)
        for task in change.opened_tasks:
            users = notify.users_for_groups(session, task["candidate_groups"])
            if not users:
                continue
            due = task.get("due_at")
            notify.to_users(session, users, complaint, "task_assigned", change.operation.now, {
                "tracking_number": complaint.tracking_number,
                "title": "[rahasia]" if complaint.confidential else complaint.title,
                "task_title": task["title"],
                "due_local": due.astimezone(calendar.tzinfo).strftime("%d-%m-%Y %H:%M")
                if isinstance(due, datetime) else "-"})


def _stale(tracking_number: str, expected_version: int) -> Conflict:
    return Conflict("report %(tracking)s was changed by someone else since you opened it (you "
                    "had version %(version)s); reload it and try again",
                    tracking=tracking_number, version=expected_version)


def _operation() -> Operation:
    operation = current_operation()
    if operation is None:
        raise RuntimeError("called outside an engine operation")
    return operation


def _complaint_of(session: Session, operation: Operation, required: bool = True
                  ) -> Complaint | None:
    complaint = session.scalars(select(Complaint).where(
        Complaint.instance_id == operation.instance_id)).first()
    if complaint is None and required:
        raise LookupError(f"no complaint belongs to instance {operation.instance_id}")
    return complaint


def calendar_tz(config: RegencyConfig) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(config.timezone)


