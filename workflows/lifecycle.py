"""The complaint domain as the lifecycle diagram's host: the services its service tasks call
(status, agency, deadlines), the notice of each new task, and the diagrams it deploys.

Whoever acts on a complaint instance (the web app, the scheduler, the CLI, a test) builds the
engine through workflows.domain.Domain, which registers all of this once, so that no path
can run a complaint instance without its host (docs/lifecycle.md lists the contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update

import engine as bpm
from engine import Engine
from workflows import agency_directory, contract, notify, referrals
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.errors import N_
from workflows.models import ComplaintEvent, Escalation
from workflows.operation import (
    ANSWER,
    complaint_of,
    count_change,
    event_row,
    insert_row,
    running_operation,
)
from workflows.sla import SlaPolicy
from workflows.workdays import calendar_for

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"
# When a status is first reached, the report records the moment.
STATUS_STAMPS = {ids.STATUS_VERIFIED: "verified_at", ids.STATUS_DISPOSED: "disposed_at",
                 ids.STATUS_CLOSED: "closed_at"}
# Statuses a report ends in; a cancelled instance leaves these as they are.
FINAL_STATUSES = (ids.STATUS_ARCHIVED, ids.STATUS_RETURNED, ids.STATUS_CLOSED)
CANCELLED = "cancelled"  # the engine's status of an instance an operator cancelled


@dataclass(frozen=True)
class Parameter:
    """One parameter of a host service, as a designer sets it on a service task."""

    name: str
    doc: str
    required: bool = True


@dataclass(frozen=True)
class ServiceDoc:
    """What a host service does and takes (the studio's service drop-down shows it)."""

    doc: str
    parameters: tuple[Parameter, ...] = ()


_STEP = Parameter("step", N_("the SLA step: \"verification\", \"follow_up\", \"resolution\", "
                             "\"info_request\" or \"complainant_window\""))
# The lifecycle's services (docs/lifecycle.md, "Host services"); tests/test_drafts.py checks
# the parameters against the functions the host registers.
SERVICE_DOCS: dict[str, ServiceDoc] = {
    ids.SERVICE_SET_STATUS: ServiceDoc(
        N_("Sets the report's status, writes its history entry and notifies the complainant; "
           "returns nothing."),
        (Parameter("status", N_("the new status, e.g. \"VERIFIED\" (docs/lifecycle.md lists "
                                "them)")),
         Parameter("reason", N_("why, shown to the complainant (may be empty)"), False))),
    ids.SERVICE_SLA_START: ServiceDoc(
        N_("Opens the SLA record of a step with a budget in working days; returns due_at and "
           "watch_cycle."),
        (_STEP, Parameter("budget_days", N_("the budget in working days (a number)")))),
    ids.SERVICE_SLA_PAUSE: ServiceDoc(
        N_("Pauses the running SLA of a step while the case waits on the citizen, or is "
           "postponed; returns watch_cycle."),
        (_STEP, Parameter("postponed", N_("true when the report is postponed (Tertunda): the "
                                          "pause then has a limit in working days, watched "
                                          "like a deadline"), False))),
    ids.SERVICE_SLA_RESUME: ServiceDoc(
        N_("Resumes a paused SLA with the budget that was left; returns due_at and "
           "watch_cycle."), (_STEP,)),
    ids.SERVICE_SLA_STOP: ServiceDoc(
        N_("Closes the SLA record of a step, met or breached; returns met and watch_cycle."),
        (_STEP,)),
    ids.SERVICE_SLA_WATCH: ServiceDoc(
        N_("Sends the reminders and escalations that are due for every running SLA of the "
           "report (each once); returns nothing.")),
    ids.SERVICE_ASSIGN_AGENCY: ServiceDoc(
        N_("Records which agency (or unit) now holds the report; returns nothing."),
        (Parameter("agency_code", N_("the agency's code, e.g. \"dinas_pupr\"")),
         Parameter("role", N_("\"opd\" for the agency, \"unit\" for one of its units"),
                   False))),
}


def shipped_files() -> dict[str, str]:
    """The lifecycle's files as shipped in bpmn/ (one deployment unit)."""
    return {name: (BPMN_DIR / name).read_text(encoding="utf-8")
            for name in ids.DEPLOYMENT_FILES}


class LifecycleHost:
    """Registers the domain's host services and task listener on an engine."""

    def __init__(self, engine: Engine, config: RegencyConfig) -> None:
        self.engine = engine
        self.config = config
        self.sla = SlaPolicy(config)
        # Every domain service writes only rows of the operation's transaction (messages go
        # to the outbox table and leave after the commit): replayable.
        for name, service in self.sla.services().items():
            engine.register_service(name, service, replayable=True)
        engine.register_service(ids.SERVICE_SET_STATUS, self.set_status, replayable=True)
        engine.register_service(ids.SERVICE_ASSIGN_AGENCY, self.assign_agency,
                                replayable=True)
        engine.add_listener(self.tell_officers)
        engine.add_listener(self.end_with_cancelled_instance)
        engine.add_listener(self.keep_routing)
        # A new version of the lifecycle must keep the contract (docs/lifecycle.md).
        engine.add_unit_check(ids.PROCESS_ID, contract.check_unit)

    def install_diagrams(self, actor: str | None = None) -> bpm.Deployment:
        """Deploy the shipped lifecycle (a no-op when the same version is deployed)."""
        files = [BPMN_DIR / name for name in ids.DEPLOYMENT_FILES]
        return self.engine.deploy(files, process_id=ids.PROCESS_ID, deployed_by=actor)

    # ------------------------------------------------------------------ services

    def set_status(self, status: str, reason: str = "") -> None:
        """The report's status (docs/lifecycle.md), its history entry and the complainant's
        notification, in the operation's transaction."""
        operation = running_operation()
        session = operation.session
        complaint = complaint_of(operation)
        if status not in ids.STATUS_LABELS:
            raise ValueError(f"unknown status {status!r}")
        before = complaint.status
        complaint.status = status
        complaint.updated_at = operation.now
        count_change(complaint)
        stamp = STATUS_STAMPS.get(status)
        if stamp and getattr(complaint, stamp) is None:
            setattr(complaint, stamp, operation.now)
        if status == ids.STATUS_IN_PROGRESS:
            complaint.closed_at = None
        insert_row(session, ComplaintEvent, **event_row(
            complaint.id, operation.now, operation.actor, "status", status_from=before,
            status_to=status, text=reason or None))
        if before != status:
            language = complaint.language if complaint.language in ("id", "en") else "id"
            # not our authority: where to turn, as the administrator named it (referrals)
            refer_to = referrals.refer_to(session, complaint.id) \
                if status == ids.STATUS_RETURNED else None
            notify.to_complainant(session, complaint, "status_changed", operation.now,
                                  notify.status_payload(session, complaint,
                                                        ids.STATUS_LABELS[status][language],
                                                        reason or "", self.config.public_url,
                                                        refer_to=refer_to,
                                                        answer=operation.memo.get(ANSWER)))
            notify.to_followers(session, complaint, operation.now,
                                ids.STATUS_LABELS[status], self.config.public_url)

    def assign_agency(self, agency_code: str, role: str = "opd") -> None:
        """The agency (or, with role "unit", the unit) that now holds the report."""
        operation = running_operation()
        session = operation.session
        complaint = complaint_of(operation)
        agency = agency_directory.by_code(session, agency_code)
        if agency is None:
            raise LookupError(f"agency {agency_code!r} does not exist")
        if role == "unit":
            complaint.unit_id = agency.id
            self.sla.hand_to_working_level(session, complaint)
        else:
            complaint.agency_id, complaint.unit_id = agency.id, None
        insert_row(session, ComplaintEvent, **event_row(
            complaint.id, operation.now, operation.actor, "assigned", text=agency.name))

    def end_with_cancelled_instance(self, change: bpm.InstanceChange) -> None:
        """An instance an operator cancelled (`aduan cancel`) ends its report too: the
        deadlines stop, open escalations are resolved, and a report still being handled is
        archived with the cancellation's reason (a closed one stays closed)."""
        if change.status_after != CANCELLED or change.status_before == CANCELLED:
            return
        operation = change.operation
        session = operation.session
        complaint = complaint_of(operation, required=False)
        if complaint is None:
            return
        self.sla.stop_all(session, complaint, operation.now)
        session.execute(update(Escalation).where(
            Escalation.complaint_id == complaint.id, Escalation.status == "open"
        ).values(status="resolved", acknowledged_by=operation.actor,
                 acknowledged_at=operation.now, comment="instance cancelled"))
        if complaint.status not in FINAL_STATUSES:
            reason = str((operation.detail or {}).get("reason") or "") or "cancelled"
            self.set_status(ids.STATUS_ARCHIVED, reason)

    def keep_routing(self, change: bpm.InstanceChange) -> None:
        """When a report first waits for its disposition, keep what the routing table
        suggested (the API's report document shows it, workflows/referrals.py)."""
        if not any(t["element_id"] == ids.DISPOSE_REPORT for t in change.opened_tasks):
            return
        complaint = complaint_of(change.operation, required=False)
        if complaint is not None:
            referrals.keep_suggestion(change.operation.session, complaint.id, change.data,
                                      change.operation.now)

    def tell_officers(self, change: bpm.InstanceChange) -> None:
        """Tell officers of each new task for them (in the same transaction)."""
        if not change.opened_tasks:
            return
        session = change.operation.session
        complaint = complaint_of(change.operation, required=False)
        if complaint is None:
            return
        calendar = calendar_for(session, self.config)
        for task in change.opened_tasks:
            users = notify.users_for_groups(session, task["candidate_groups"])
            if not users:
                continue
            due = task.get("due_at")
            notify.to_users(session, users, complaint, "task_assigned", change.operation.now, {
                **notify.task_payload(
                    complaint, task["title"],
                    due.astimezone(calendar.tzinfo).strftime("%d-%m-%Y %H:%M")
                    if isinstance(due, datetime) else "-"),
                **(notify.due_fields(due, self.config) if isinstance(due, datetime) else {})})
