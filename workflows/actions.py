"""The domain verbs on a report (verify, dispose, respond, rate, reopen, link a duplicate,
reassign...): who may use each, what it checks first, and the task or message it becomes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

import engine as bpm
from engine import Operation
from workflows import (
    access,
    agency_directory,
    categories,
    documents,
    notify,
    referrals,
    revisions,
    sla,
)
from workflows import diagram_ids as ids
from workflows import groups as task_groups
from workflows.agency_directory import AgencyEntry
from workflows.context import Context
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound
from workflows.models import Attachment, Complaint, ComplaintEvent, Escalation, SlaRecord
from workflows.operation import (
    ANSWER,
    count_change,
    event_row,
    insert_row,
    keep_complaint,
)
from workflows.sla import SlaPolicy
from workflows.storage import Upload
from workflows.validation import check_action

# Built once: building a query and its cache key cost each verb some 150 Python calls. The
# configuration tokens come with the report (revisions.seed): the verb's services read the
# calendar, categories or agencies next, and would read the tokens by a statement of their
# own.
_BY_TRACKING_NUMBER = select(Complaint, *revisions.token_columns()).where(
    Complaint.tracking_number == bindparam("b_tracking"))
_PHOTOS = select(func.count()).select_from(Attachment).where(
    Attachment.complaint_id == bindparam("b_id"), Attachment.kind == "photo")


def load_report(session: Session, tracking_number: str) -> Complaint:
    """The report with this tracking number (NotFound otherwise)."""
    row = session.execute(_BY_TRACKING_NUMBER, {"b_tracking": tracking_number}).first()
    if row is None:
        raise NotFound("report %(tracking)s does not exist", tracking=tracking_number)
    revisions.seed(session, row)
    return row[0]


def _load_report_and_records(session: Session, tracking_number: str
                             ) -> tuple[Complaint, list[SlaRecord]]:
    """The report with this tracking number and its running and paused SLA records (one
    statement; NotFound if there is no such report)."""
    rows = session.execute(sla.REPORT_AND_OPEN_RECORDS_BY_NUMBER,
                           {"b_tracking": tracking_number}).all()
    if not rows:
        raise NotFound("report %(tracking)s does not exist", tracking=tracking_number)
    revisions.seed(session, rows[0])
    return rows[0][0], [row[1] for row in rows if row[1] is not None]


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


class Verbs:
    """The domain verbs on one report: each checks who may, then completes the open task
    (or sends the message) that the verb stands for; Reports.act is their entry point."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def act(self, tracking_number: str, action: str, payload: Mapping[str, Any] | None,
            principal: access.Principal, uploads: list[Upload] | None = None,
            expected_version: int | None = None) -> None:
        """Perform a domain verb on a report.

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
        stored = self.ctx.storage.check(uploads) if uploads else []
        found: dict[str, Any] = {}

        def check(session: Session) -> None:  # the report's instance is locked: current
            complaint, found["records"] = _load_report_and_records(session, tracking_number)
            self._authorize(action, principal, complaint)
            if expected_version is not None and complaint.version != expected_version:
                raise _stale(tracking_number, expected_version)
            self._precheck(session, action_name, complaint, data)
            found["complaint"] = complaint

        def choose(open_tasks: list[dict[str, Any]]) -> dict[str, Any]:
            if not open_tasks:
                raise Conflict("%(action)r is not possible while report %(tracking)s is "
                               "%(status)s", action=action_name, tracking=tracking_number,
                               status=found["complaint"].status)
            task = open_tasks[0]
            if not action.complainant and not principal.sees_everything and not (
                    set(task["candidate_groups"]) & principal.groups):
                raise Forbidden(f"{action_name!r} on {tracking_number} is for "
                                f"{', '.join(task['candidate_groups'])}")
            if uploads:
                self.ctx.storage.save(uploads, stored)
            return task

        task_data = action.to_task_data(data)

        def record(operation: Operation) -> None:
            session = operation.session
            target = found["complaint"]  # read under the instance's lock: current
            self._check_version(session, target.id, tracking_number, expected_version)
            keep_complaint(operation, target)
            sla.keep_open_records(operation, target.id, found["records"])
            for item in stored:
                session.add(Attachment(
                    complaint_id=target.id, filename=item.filename,
                    content_type=item.content_type, size=item.size, sha256=item.sha256,
                    storage_key=item.storage_key, kind=item.kind,
                    uploaded_by=principal.username, created_at=operation.now))
            text = data.get("answer") or data.get("information") or data.get("comment") \
                or data.get("reason") or data.get("note")
            public = action_name in documents.PUBLIC_ACTIONS
            insert_row(session, ComplaintEvent, **event_row(
                target.id, operation.now, principal.username, action_name, text=text,
                public=public))
            if action_name == "respond" and public and text:  # the latest public answer
                operation.memo[ANSWER] = text
            if action_name == "not_authority":  # the complainant is told where to turn
                referrals.keep_referral(session, target.id, data.get("refer_to"),
                                        operation.now)
            if action_name == "rate":
                target.rating = data["rating"]
                target.rating_comment = data.get("comment")
            if action_name == "respond" and target.first_answer_at is None:
                target.first_answer_at = operation.now
            target.updated_at = operation.now
            count_change(target)

        if action_name == "provide_info" and any(s.kind == "photo" for s in stored):
            task_data["has_photo"] = True
        self.ctx.engine.complete_open(tracking_number, action.tasks, task_data,
                                      actor=principal.username, check=check, choose=choose,
                                      hook=record)

    def _authorize(self, action: Action, principal: access.Principal,
                   complaint: Complaint) -> None:
        # Visibility first: a report the caller may not see answers as if it did not exist,
        # whatever the verb, so that refusals never confirm a tracking number.
        if not access.can_view(principal, complaint):
            raise NotFound(f"report {complaint.tracking_number} does not exist")
        if action.complainant:
            if principal.tracking_number != complaint.tracking_number:
                raise Forbidden("only the complainant (with the report's secret) may do this")
            return
        if not principal.has(*action.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(sorted(action.roles))}")

    def _precheck(self, session: Session, action: str, complaint: Complaint,
                  data: dict[str, Any]) -> None:
        if action == "verify" and categories.catalog(session).photo_required(
                complaint.category):
            photos = session.scalar(_PHOTOS, {"b_id": complaint.id})
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
    def _agency(session: Session, code: str, field: str) -> AgencyEntry:
        agency = agency_directory.by_code(session, code)
        if agency is None or not agency.active:
            raise Invalid("unknown agency %(code)r",
                          {field: Message("no active agency has the code %(code)r; see "
                                          "/agencies", code=code)}, code=code)
        return agency

    def _reopen(self, tracking_number: str, data: dict[str, Any],
                principal: access.Principal, expected_version: int | None = None) -> None:
        with self.ctx.transaction() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            if principal.tracking_number != tracking_number and not principal.sees_everything:
                raise Forbidden("only the complainant or the regency administrator reopens")
            # (the message is delivered once: a second reopen finds nothing waiting)
            self._check_version(session, complaint.id, tracking_number, expected_version)
            if complaint.status != ids.STATUS_CLOSED:
                raise Conflict("only a closed report can be reopened; %(tracking)s is "
                               "%(status)s", tracking=tracking_number, status=complaint.status)
            instance_id = complaint.instance_id
        try:
            self.ctx.engine.send_message(ids.MESSAGE_REOPEN, {"reopen_reason": data["reason"]},
                                     instance_id=instance_id, actor=principal.username)
        except bpm.NotFound as exc:
            raise Conflict("report %(tracking)s can no longer be reopened (the reopening "
                           "period has ended); file a new report",
                           tracking=tracking_number) from exc

    def _link_duplicate(self, tracking_number: str, data: dict[str, Any],
                        principal: access.Principal, expected_version: int | None = None
                        ) -> None:
        with self.ctx.transaction() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            if not principal.has(*ADMIN):
                raise Forbidden("only the regency administrator links duplicates")
            self._check_version(session, complaint.id, tracking_number, expected_version,
                                bump=True)
            original = load_report(session, data["duplicate_of"])
            if original.id == complaint.id:
                raise Invalid("a report cannot duplicate itself",
                              {"duplicate_of": Message("name another report")})
            if original.duplicate_of_id == complaint.id:
                raise Invalid("that report is already a duplicate of this one",
                              {"duplicate_of": Message("link the other way round")})
            now = self.ctx.now()
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
        with self.ctx.transaction() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            if not principal.has("regency_admin", "system_admin", "supervisor"):
                raise Forbidden("only the regency administrator or a supervisor reassigns")
            agency = self._agency(session, data["agency_code"], "agency_code")
            if not principal.sees_everything and agency.id not in principal.agency_ids:
                raise Forbidden("a supervisor reassigns only within their own agency tree")
            instance_id = complaint.instance_id
        tasks = [t for t in self.ctx.engine.tasks(instance_id=instance_id)
                 if t["element_id"] in (ids.FOLLOW_UP, ids.UNIT_FOLLOW_UP)]
        if not tasks:
            raise Conflict("report %(tracking)s has no follow-up to reassign (dispose it "
                           "first)", tracking=tracking_number)
        role = task_groups.TECHNICAL_UNIT if agency.kind == "unit" else task_groups.OPD_LIAISON
        group = task_groups.group(role, agency.code)
        reason = data["reason"]

        def record(session: Session) -> None:  # in the task's transaction: all or nothing
            self._check_version(session, complaint.id, tracking_number, expected_version,
                                bump=True)
            target = load_report(session, tracking_number)
            if expected_version is None:
                count_change(target)  # (else the check bumped it)
            self._moved(session, target, agency, group, tasks[0]["title"], reason, principal)

        # one follow-up task is open at a time; the report's writes go with the first
        for number, task in enumerate(tasks):
            self.ctx.engine.set_candidate_groups(task["id"], [group], actor=principal.username,
                                                 hook=None if number else record)

    def _moved(self, session: Session, complaint: Complaint, agency: AgencyEntry, group: str,
               task_title: str, reason: str, principal: access.Principal) -> None:
        """What a reassignment changes besides the task: who holds the report and its
        running deadlines (their due times and the rungs they reached stay: the case is as
        late as it was), the open escalations (resolved), a history entry for staff (with
        the reason) and one for the complainant (the new handler, in their words on the
        tracking page), and a message to each: the complainant, the new holders."""
        now = self.ctx.now()
        before = complaint.agency_id, complaint.unit_id
        if agency.kind == "unit":
            complaint.unit_id, complaint.agency_id = agency.id, agency.parent_id
        else:
            complaint.agency_id, complaint.unit_id = agency.id, None
        complaint.updated_at = now
        # the new agency's working level (its unit, or its liaison) now holds the deadlines
        SlaPolicy(self.ctx.config).hand_to_working_level(session, complaint)
        session.add(ComplaintEvent(complaint_id=complaint.id, at=now,
                                   actor=principal.username, kind="reassign",
                                   text=f"dialihkan ke {agency.name}: {reason}",
                                   public=False))
        session.add(ComplaintEvent(complaint_id=complaint.id, at=now,
                                   actor=principal.username, kind="reassigned",
                                   text=agency.name, public=True))
        session.execute(update(Escalation).where(
            Escalation.complaint_id == complaint.id, Escalation.status == "open"
        ).values(status="resolved", acknowledged_by=principal.username,
                 acknowledged_at=now, comment=f"reassigned to {agency.code}"))
        if before != (complaint.agency_id, complaint.unit_id):
            notify.to_complainant(session, complaint, "handler_changed", now, {
                "tracking_number": complaint.tracking_number, "title": complaint.title,
                "agency": agency.name,
                "link": notify.tracking_link(complaint, self.ctx.config.public_url)})
        officers = notify.users_for_groups(session, [group])
        notify.to_users(session, officers, complaint, "task_assigned", now,
                        notify.task_payload(complaint, task_title, "-"))


def _stale(tracking_number: str, expected_version: int) -> Conflict:
    return Conflict("report %(tracking)s was changed by someone else since you opened it (you "
                    "had version %(version)s); reload it and try again",
                    tracking=tracking_number, version=expected_version)

