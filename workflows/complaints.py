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
from workflows import access, images, notify, views
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.models import (
    Agency,
    Attachment,
    Complaint,
    ComplaintEvent,
    Escalation,
    TrackingCounter,
)
from workflows.sla import SlaPolicy, calendar_for
from workflows.storage import Storage, Upload
from workflows.validation import check_action, check_submission

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
INFRASTRUCTURE = "photo_required"


def translate_engine_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Engine errors become domain errors; web/ maps only the domain's."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except bpm.InvalidInput as exc:
            raise Invalid(str(exc), exc.field_errors) from exc
        except bpm.Conflict as exc:
            raise Conflict(str(exc)) from exc
        except bpm.NotFound as exc:
            raise NotFound(str(exc)) from exc

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
            raise Invalid(f"at most {self.config.max_attachments} attachments",
                          {"attachments": f"attach at most {self.config.max_attachments} files"})
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
            raise NotFound(f"report {tracking_number} does not exist")
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
            return views.complaint_document(session, complaint, principal, self.config,
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
             offset: int = 0) -> dict[str, Any]:
        if not principal.is_officer:
            raise Forbidden("only officers list reports")
        with self.read_session() as session:
            return views.complaint_list(
                session, principal, self.config, self.engine.clock.now(), status=status,
                agency_code=agency_code, overdue=overdue, since=since, until=until,
                limit=limit, offset=offset)

    def worklist(self, principal: access.Principal) -> list[dict[str, Any]]:
        groups = sorted(principal.groups)
        if not groups:
            return []
        tasks = self.engine.tasks(groups=groups)
        with self.read_session() as session:
            return views.worklist(session, tasks, principal, self.config,
                                  self.engine.clock.now())

    # ------------------------------------------------------------------ verbs

    @translate_engine_errors
    def act(self, tracking_number: str, action: str, payload: Mapping[str, Any] | None,
            principal: access.Principal, uploads: list[Upload] | None = None
            ) -> dict[str, Any]:
        """Perform a domain verb on a report; returns the report as the caller may see it."""
        if action not in ACTIONS and action not in OTHER_ACTIONS:
            known = ", ".join(sorted([*ACTIONS, *OTHER_ACTIONS]))
            raise NotFound(f"unknown action {action!r}; one of: {known}")
        data = check_action(action, dict(payload or {}))
        if action == "reopen":
            self._reopen(tracking_number, data, principal)
        elif action == "link_duplicate":
            self._link_duplicate(tracking_number, data, principal)
        elif action == "reassign":
            self._reassign(tracking_number, data, principal)
        else:
            self._complete(tracking_number, action, data, principal, uploads or [])
        return self.get(tracking_number, principal)

    def _complete(self, tracking_number: str, action_name: str, data: dict[str, Any],
                  principal: access.Principal, uploads: list[Upload]) -> None:
        action = ACTIONS[action_name]
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            self._authorize(action, principal, complaint)
            self._precheck(session, action_name, complaint, data)
            instance_id = complaint.instance_id
        open_tasks = [t for t in self.engine.tasks(instance_id=instance_id)
                      if t["element_id"] in action.tasks]
        if not open_tasks:
            raise Conflict(f"{action_name!r} is not possible while report {tracking_number} "
                           f"is {complaint.status}")
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
                kind=action_name, text=text, public=action_name in views.PUBLIC_ACTIONS))
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
                    f"report {complaint.tracking_number} ({complaint.category}) needs a photo "
                    "as evidence before it can be verified; request information from the "
                    "complainant (request_info) instead")
        if action == "dispose":
            agency = self._agency(session, data["agency_code"], "agency_code")
            if agency.kind not in ("opd", "bumd", "kecamatan", "kelurahan"):
                raise Invalid("dispose to an OPD, BUMD, kecamatan or kelurahan",
                              {"agency_code": f"{agency.code} is a {agency.kind}"})
            if data.get("handler") == "unit":
                unit = self._agency(session, data.get("unit_code") or "", "unit_code")
                if unit.parent_id != agency.id:
                    raise Invalid("the unit must belong to the agency",
                                  {"unit_code": f"{unit.code} is not a unit of {agency.code}"})
        if action == "delegate":
            unit = self._agency(session, data["unit_code"], "unit_code")
            if unit.parent_id != complaint.agency_id:
                raise Invalid("delegate to a unit of the agency holding the report",
                              {"unit_code": f"{unit.code} is not a unit of this agency"})

    @staticmethod
    def _agency(session: Session, code: str, field: str) -> Agency:
        agency = session.scalars(select(Agency).where(Agency.code == code)).first()
        if agency is None or not agency.active:
            raise Invalid(f"unknown agency {code!r}",
                          {field: f"no active agency has the code {code!r}; see /agencies"})
        return agency

    def _reopen(self, tracking_number: str, data: dict[str, Any],
                principal: access.Principal) -> None:
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            if principal.tracking_number != tracking_number and not principal.sees_everything:
                raise Forbidden("only the complainant or the regency administrator reopens")
            if complaint.status != ids.STATUS_CLOSED:
                raise Conflict(f"only a closed report can be reopened; {tracking_number} is "
                               f"{complaint.status}")
            instance_id = complaint.instance_id
        try:
            self.engine.send_message(ids.MESSAGE_REOPEN, {"reopen_reason": data["reason"]},
                                     instance_id=instance_id, actor=principal.username)
        except bpm.NotFound as exc:
            raise Conflict(f"report {tracking_number} can no longer be reopened (the reopening "
                           "period has ended); file a new report") from exc

    def _link_duplicate(self, tracking_number: str, data: dict[str, Any],
                        principal: access.Principal) -> None:
        if not principal.has(*ADMIN):
            raise Forbidden("only the regency administrator links duplicates")
        with self.session() as session:
            complaint = self._load(session, tracking_number)
            original = self._load(session, data["duplicate_of"])
            if original.id == complaint.id:
                raise Invalid("a report cannot duplicate itself",
                              {"duplicate_of": "name another report"})
            if original.duplicate_of_id == complaint.id:
                raise Invalid("that report is already a duplicate of this one",
                              {"duplicate_of": "link the other way round"})
            now = self.engine.clock.now()
            complaint.duplicate_of_id = original.id
            for target, text in ((complaint, f"duplikat dari {original.tracking_number}"),
                                 (original, f"laporan duplikat: {complaint.tracking_number}")):
                session.add(ComplaintEvent(complaint_id=target.id, at=now,
                                           actor=principal.username, kind="link_duplicate",
                                           text=text, public=True))
            screening = complaint.status == ids.STATUS_SUBMITTED
        if screening:  # a fresh duplicate is archived, never lost: it stays linked
            self._complete(tracking_number, "archive",
                           {"reason": f"duplikat dari {data['duplicate_of']}",
                            "duplicate_of": data["duplicate_of"]}, principal, [])

    def _reassign(self, tracking_number: str, data: dict[str, Any],
                  principal: access.Principal) -> None:
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
            raise Conflict(f"report {tracking_number} has no follow-up to reassign "
                           "(dispose it first)")
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
            users = views.users_for_groups(session, task["candidate_groups"])
            if not users:
                continue
            due = task.get("due_at")
            notify.to_users(session, users, complaint, "task_assigned", change.operation.now, {
                "tracking_number": complaint.tracking_number,
                "title": "[rahasia]" if complaint.confidential else complaint.title,
                "task_title": task["title"],
                "due_local": due.astimezone(calendar.tzinfo).strftime("%d-%m-%Y %H:%M")
                if isinstance(due, datetime) else "-"})


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


