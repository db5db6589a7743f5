"""Use cases on reports: file one, open it as its complainant, read it, list them, its
evidence and diagram, and the domain verbs (Reports.act). Each owns its units of work and
its clock; callers hand it what they parsed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import engine as bpm
from engine import Operation
from workflows import (
    access,
    case_export,
    case_filters,
    categories,
    documents,
    images,
    notify,
    places,
    posters,
    throttle,
    upserts,
)
from workflows import diagram_ids as ids
from workflows.actions import ADMIN, Verbs, load_report, translate_engine_errors
from workflows.context import Context
from workflows.desk import Desk
from workflows.errors import Conflict, Forbidden, Invalid, Message, NotFound, TooManyAttempts
from workflows.models import Attachment, Complaint, ComplaintEvent, TrackingCounter
from workflows.operation import event_row, insert_row, keep_complaint
from workflows.sla import no_records_yet
from workflows.storage import Upload, served_name
from workflows.validation import (
    check_id,
    check_submission,
    check_window,
    submission_schema,
)

# What a tracking number looks like (PPU-2026-000123); anything else is not even looked up.
TRACKING_SHAPE = re.compile(r"^[A-Z0-9]{1,10}-[0-9]{4}-[0-9]{1,12}$")
COMPLAINANT = "pelapor"  # the actor the complainant's steps are recorded as


@dataclass(frozen=True)
class ReportForm:
    """What the citizen's report form offers: today's date (an incident is not in the
    future), the regency's kecamatan and kelurahan, and the active categories."""

    today: date
    places: places.Places
    categories: tuple[categories.CategoryView, ...] = ()  # those offered, in their order


@dataclass(frozen=True)
class Tracked:
    """The complainant's view of their report, and whether it may still be reopened."""

    document: dict[str, Any]
    reopen_until: datetime | None
    may_reopen: bool


@dataclass(frozen=True)
class Case:
    """The officer's case page: the report, the agencies a form may name, what the routing
    table suggests when the report waits for its disposition, and the working days each
    step of the report gets (deadlines.dmn, for the forms' help texts)."""

    document: dict[str, Any]
    agencies: list[dict[str, Any]]
    routing: dict[str, Any] | None
    budgets: dict[str, float]
    # whom the officer may give each open task to, by task id (workflows/desk.py)
    colleagues: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # the report's category needs a photo before it is verified, and it has none
    needs_photo: bool = False


@dataclass(frozen=True)
class ServedFile:
    """An evidence file as served: a safe name whose extension is the type found in its
    content (never the uploader's), that type, the bytes, whether they are the file as
    uploaded, and whether it is a photo."""

    filename: str
    content_type: str
    data: bytes
    original: bool
    photo: bool


# The steps whose working days the officers' forms name.
NAMED_STEPS = (ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP, ids.STEP_COMPLAINANT_WINDOW,
               ids.STEP_INFO_REQUEST)


class Reports:
    """The use cases of reports (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.verbs = Verbs(ctx)
        self._diagram_xml: dict[tuple[str, int], str] = {}  # deployed files never change

    # ------------------------------------------------------------------ filing

    @translate_engine_errors
    def submit(self, payload: Mapping[str, Any], uploads: list[Upload] | None = None, *,
               channel: str = "web", language: str = "id", poster: str | None = None
               ) -> dict[str, Any]:
        """File a report; returns the tracking number, the secret (shown once) and status.
        `poster`: the QR poster it was filed through, counted in the same transaction."""
        ctx = self.ctx
        uploads = list(uploads or [])
        fields = self._checked(payload)
        fields["contact_channel"] = fields["contact_channel"] or notify.default_contact_channel(
            channel, fields["reporter_phone"], fields["reporter_email"])
        if len(uploads) > ctx.config.max_attachments:
            limit = ctx.config.max_attachments
            raise Invalid("at most %(n)s attachments",
                          {"attachments": Message("attach at most %(n)s files", n=limit)},
                          n=limit)
        stored = ctx.storage.check(uploads)
        ctx.storage.save(uploads, stored)
        now = ctx.now()
        year = now.astimezone(ctx.config.tzinfo).year
        secret = access.new_secret()
        has_photo = any(s.kind == "photo" for s in stored)

        def number(session: Session) -> str:  # in the submission's own transaction
            return allocate_tracking_number(session, ctx.config.tracking_prefix, year)

        def create(operation: Operation) -> dict[str, Any]:
            session = operation.session
            tracking = operation.business_key
            complaint = Complaint(
                tracking_number=tracking, secret_hash=access.digest(secret),
                status=ids.STATUS_SUBMITTED, channel=channel, language=language,
                instance_id=operation.instance_id, created_at=now, updated_at=now, version=1,
                **fields)
            session.add(complaint)
            session.flush()
            keep_complaint(operation, complaint)
            no_records_yet(operation, complaint.id)
            for item in stored:
                session.add(Attachment(
                    complaint_id=complaint.id, filename=item.filename,
                    content_type=item.content_type, size=item.size, sha256=item.sha256,
                    storage_key=item.storage_key, kind=item.kind, uploaded_by=COMPLAINANT,
                    created_at=now))
            insert_row(session, ComplaintEvent, **event_row(
                complaint.id, now, COMPLAINANT, "submitted", status_to=ids.STATUS_SUBMITTED))
            if poster:
                posters.count_report(session, poster)
            return {"tracking_number": tracking, "complaint_id": complaint.id}

        start_data = {
            "classification": fields["classification"],
            "misconduct": fields["misconduct"],
            "category": fields["category"],
            "severity": fields["severity"],
            "road_status": fields.get("road_status") or "",
            "has_photo": has_photo,
        }
        started = ctx.engine.start(ids.PROCESS_ID, start_data, business_key=number,
                                   actor=COMPLAINANT, hook=create)
        tracking = started.business_key
        return {"tracking_number": tracking, "secret": secret, "status": ids.STATUS_SUBMITTED,
                "status_label": ids.STATUS_LABELS[ids.STATUS_SUBMITTED]["id"]}

    def report_form(self) -> ReportForm:
        """What the report form needs to know (see ReportForm)."""
        with self.ctx.reads() as session:
            found = places.regency_places(session)
            offered = categories.catalog(session).active
        return ReportForm(self.ctx.today(), found, offered)

    def check_submission(self, payload: Mapping[str, Any]) -> None:
        """Refuse (Invalid, by field) what `submit` would refuse of these fields."""
        self._checked(payload)

    def _checked(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        with self.ctx.reads() as session:
            known = categories.catalog(session)
        return check_submission(payload, self.ctx.config, known.refusal)

    def submission_schema(self) -> dict[str, Any]:
        """The submission's JSON Schema as published: the active categories' codes."""
        with self.ctx.reads() as session:
            codes = categories.catalog(session).active_codes
        return submission_schema(codes)

    def check_uploads(self, uploads: list[Upload]) -> None:
        """Refuse (Invalid, by file) what `submit` would refuse of these files: too large,
        empty, or not a photo, PDF or MP4 by content."""
        self.ctx.storage.check(uploads)

    # ------------------------------------------------------------------ the complainant

    def authenticate_complainant(self, tracking_number: str, secret: str | None
                                 ) -> access.Principal:
        """The complainant of a report, by the report's secret (the JSON API)."""
        with self.ctx.reads() as session:
            complaint = session.scalars(select(Complaint).where(
                Complaint.tracking_number == tracking_number)).first()
            if complaint is None or not access.secret_matches(secret, complaint.secret_hash):
                # the same answer for both: a guessed number reveals nothing
                raise NotFound(f"report {tracking_number} does not exist or the secret is "
                               "wrong")
        return access.complainant(tracking_number)

    def open_report(self, tracking_number: str, secret: str, address: str
                    ) -> access.Principal:
        """The complainant of a report by its secret code, for the tracking pages: wrong
        codes are counted per address (workflows/throttle.py), TooManyAttempts past the
        limit; an unknown number and a wrong code get the same NotFound."""
        now = self.ctx.now()
        with self.ctx.reads() as session:
            failures = throttle.address_failures(session, address, now, tracking=True)
        if failures >= throttle.TRACK_FAILURES_PER_ADDRESS:
            raise TooManyAttempts("too many wrong tracking codes from this address; try "
                                  "again in %(minutes)s minutes",
                                  retry_minutes=throttle.TRACK_WINDOW_MINUTES,
                                  minutes=throttle.TRACK_WINDOW_MINUTES)
        if not TRACKING_SHAPE.match(tracking_number):
            raise NotFound(f"report {tracking_number} does not exist")
        try:
            return self.authenticate_complainant(tracking_number, secret)
        except NotFound:
            with self.ctx.transaction() as session:
                throttle.record_tracking_failure(session, tracking_number, address, now)
            raise

    def track(self, tracking_number: str, principal: access.Principal) -> Tracked:
        """The complainant's tracking page: the report, and until when it may be reopened
        (the lifecycle waits REOPEN_WINDOW_DAYS after closing)."""
        document = self.get(tracking_number, principal)
        closed = document.get("closed_at")
        reopen_until = None
        if document["status"] == ids.STATUS_CLOSED and closed:
            reopen_until = datetime.fromisoformat(closed) + timedelta(
                days=ids.REOPEN_WINDOW_DAYS)
        may_reopen = "reopen" in document.get("available_actions", []) and (
            reopen_until is None or reopen_until > self.ctx.now())
        return Tracked(document, reopen_until, may_reopen)

    # ------------------------------------------------------------------ reading

    def get(self, tracking_number: str, principal: access.Principal) -> dict[str, Any]:
        """The report as the caller may see it (documents.complaint_document)."""
        with self.ctx.reads() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            tasks = self.ctx.engine.tasks(instance_id=complaint.instance_id) \
                if complaint.instance_id else []
            return documents.complaint_document(session, complaint, principal,
                                                self.ctx.config, tasks, self.ctx.now())

    def case(self, tracking_number: str, principal: access.Principal) -> Case:
        """The officer's case page (see Case)."""
        document = self.get(tracking_number, principal)
        routing = self.routing(document["tracking_number"], principal) if "dispose" in (
            document.get("available_actions") or []) else None
        with self.ctx.reads() as session:
            photo_rule = categories.catalog(session).photo_required(document["category"])
        needs_photo = "verify" in (document.get("available_actions") or []) and \
            photo_rule and not any(a["kind"] == "photo"
                                   for a in document.get("attachments") or [])
        return Case(document, self.agencies(), routing,
                    self.step_budgets(document["classification"], document["misconduct"]),
                    Desk(self.ctx).colleagues_of_tasks(document.get("open_tasks") or [],
                                                       principal), needs_photo)

    def step_budgets(self, classification: str, misconduct: bool) -> dict[str, float]:
        """The working days the lifecycle's deadline table (deadlines.dmn, as deployed now)
        gives each named step of a report of this kind; a step it gives none is left out."""
        decided = self.ctx.engine.decide(
            ids.PROCESS_ID, ids.STEP_BUDGET,
            *({"step": step, "classification": classification, "misconduct": misconduct}
              for step in NAMED_STEPS))
        return {step: found[ids.BUDGET_DAYS] for step, found in zip(NAMED_STEPS, decided,
                                                                     strict=True)
                if found.get(ids.BUDGET_DAYS) is not None}

    def _attachment(self, tracking_number: str, attachment_id: int,
                    principal: access.Principal) -> tuple[Attachment, bool]:
        """The attachment's row, for those who may see the report's content, and whether
        they get a photo's original (access.gets_original)."""
        check_id(attachment_id, "attachment")
        with self.ctx.reads() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint) or not access.sees_content(
                    principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            row = session.scalars(select(Attachment).where(
                Attachment.id == attachment_id, Attachment.complaint_id == complaint.id)).first()
            if row is None:
                raise NotFound(f"report {tracking_number} has no attachment {attachment_id}")
            session.expunge(row)
            return row, access.gets_original(principal, complaint)

    def attachment(self, tracking_number: str, attachment_id: int,
                   principal: access.Principal) -> ServedFile:
        """One evidence file, for those who may see the report's content: as uploaded, or
        for a photo whose metadata the caller may not have (an `anonim` report's, for all
        but the regency administrator; any report's, for the complainant), the copy
        without it. Named by the type its content was found to be (storage.served_name)."""
        row, original = self._attachment(tracking_number, attachment_id, principal)
        photo = row.content_type in images.PHOTO_TYPES
        if photo and not original:
            data = self.ctx.storage.clean(row.storage_key, row.content_type)
        else:
            data = self.ctx.storage.open(row.storage_key)
        return ServedFile(served_name(row.filename, row.content_type), row.content_type,
                          data, original=not photo or original, photo=photo)

    def attachment_display(self, tracking_number: str, attachment_id: int,
                           principal: access.Principal, edge: int = images.DISPLAY_EDGE
                           ) -> ServedFile:
        """A photo of the evidence as pages show it (workflows/images.py): upright, scaled,
        stripped of location and other metadata, read from the copy made at upload. Not a
        photo, or no such size: NotFound."""
        row, _original = self._attachment(tracking_number, attachment_id, principal)
        if row.content_type not in images.PHOTO_TYPES or edge not in images.EDGES:
            raise NotFound(f"attachment {attachment_id} of {tracking_number} is not a photo")
        try:
            shown = self.ctx.storage.display(row.storage_key, row.content_type, edge)
        except images.NotAPhoto as exc:
            raise NotFound(f"attachment {attachment_id} of {tracking_number} cannot be shown "
                           "as a photo; download the original") from exc
        return ServedFile(served_name(row.filename, shown.content_type), shown.content_type,
                          shown.data, original=False, photo=True)

    def list(self, principal: access.Principal, *, status: str | None = None,
             agency_code: str | None = None, overdue: bool | None = None,
             since: date | None = None, until: date | None = None, limit: int = 50,
             offset: int = 0, q: str | None = None,
             filters: case_filters.CaseFilter | None = None) -> dict[str, Any]:
        """A page of the reports the officer may see; `q` matches the tracking number or
        the title (a `rahasia` title only for those who may see its content); `filters`:
        the drill-down from a figure to its reports (workflows/case_filters.py)."""
        if not principal.is_officer:
            raise Forbidden("only officers list reports")
        check_window(limit=limit, offset=offset, since=since, until=until, status=status,
                     statuses=ids.STATUSES)
        now = self.ctx.now()
        with self.ctx.reads() as session:
            extra = case_filters.conditions(session, principal, self.ctx.config, now,
                                            filters) if filters else []
            return documents.complaint_list(
                session, principal, self.ctx.config, now, status=status,
                agency_code=agency_code, overdue=overdue, since=since, until=until,
                limit=limit, offset=offset, q=q, extra=extra)

    def export(self, principal: access.Principal, *, status: str | None = None,
               agency_code: str | None = None, overdue: bool | None = None,
               since: date | None = None, until: date | None = None, q: str | None = None,
               filters: case_filters.CaseFilter | None = None) -> Iterator[dict[str, Any]]:
        """Every report of the list (as `list` filters it) as an export row
        (workflows/case_export.py), read EXPORT_BATCH at a time, each batch in its own read
        transaction: the caller streams them. The filters are checked before the first row
        (Invalid, Forbidden)."""
        if not principal.is_officer:
            raise Forbidden("only officers export reports")
        check_window(limit=1, offset=0, since=since, until=until, status=status,
                     statuses=ids.STATUSES)
        now, config = self.ctx.now(), self.ctx.config
        with self.ctx.reads() as session:
            if filters:
                case_filters.conditions(session, principal, config, now, filters)
        arguments = {"status": status, "agency_code": agency_code, "overdue": overdue,
                     "since": since, "until": until, "q": q}

        def rows() -> Iterator[dict[str, Any]]:
            after = 0
            while True:
                with self.ctx.reads() as session:
                    extra = case_filters.conditions(session, principal, config, now,
                                                    filters) if filters else []
                    batch = case_export.export_batch(session, principal, config, now,
                                                     after=after, extra=extra, **arguments)
                if not batch:
                    return
                yield from batch
                after = batch[-1]["id"]

        return rows()

    def agencies(self) -> list[dict[str, Any]]:
        """The active agency tree (province > regency > OPD > unit), parents first."""
        with self.ctx.reads() as session:
            active = [a for a in access.agency_table(session).values() if a.active]
        codes = {a.id: a.code for a in active}
        return [{"id": a.id, "code": a.code, "name": a.name, "kind": a.kind,
                 "parent": codes.get(a.parent_id)} for a in active]

    def diagram(self, tracking_number: str, principal: access.Principal) -> dict[str, Any]:
        """The report's lifecycle diagram (the BPMN XML of the version its instance runs)
        with the elements it completed, the open tasks and what it waits for. Authorized
        like `get`."""
        with self.ctx.reads() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint) or complaint.instance_id is None:
                raise NotFound(f"report {tracking_number} does not exist")
            instance_id = complaint.instance_id
        try:
            states = self.ctx.engine.element_states(instance_id)
        except bpm.NotFound as exc:
            raise NotFound(f"report {tracking_number} has no process instance") from exc
        key = (states["process_id"], states["definition_version"])
        xml = self._diagram_xml.get(key)
        if xml is None:
            files = self.ctx.engine.definition_files(*key)
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
        with self.ctx.reads() as session:
            complaint = load_report(session, tracking_number)
            if not access.can_view(principal, complaint):
                raise NotFound(f"report {tracking_number} does not exist")
            instance_id = complaint.instance_id
        if not principal.has(*ADMIN) or instance_id is None:
            return None
        open_tasks = [t for t in self.ctx.engine.tasks(instance_id=instance_id)
                      if t["element_id"] == ids.DISPOSE_REPORT]
        if not open_tasks:
            return None
        try:
            data = self.ctx.engine.task(open_tasks[0]["id"])["data"]
        except (bpm.Conflict, bpm.NotFound):  # just completed by someone else
            return None
        return {key: data.get(key) for key in ("authority", "handler_level", "agency_code")}

    # ------------------------------------------------------------------ verbs

    @translate_engine_errors
    def act(self, tracking_number: str, action: str, payload: Mapping[str, Any] | None,
            principal: access.Principal, uploads: list[Upload] | None = None,
            expected_version: int | None = None, *, document: bool = False
            ) -> dict[str, Any] | None:
        """Perform a domain verb on a report (workflows/actions.py). With `document`, returns
        the report as the caller may see it afterwards (read in a transaction of its own:
        a dozen queries, so only callers that show it ask: the JSON API); else None.

        With `expected_version` (the report's `version` when the caller read it) the verb
        is refused with Conflict if anyone changed the report since; the check is made in
        the transaction that records the change, so of two officers racing only one wins.
        """
        self.verbs.act(tracking_number, action, payload, principal, uploads,
                       expected_version)
        return self.get(tracking_number, principal) if document else None


def allocate_tracking_number(session: Session, prefix: str, year: int) -> str:
    """The next tracking number of the year (PPU-2026-000123), in the caller's transaction.
    One upsert: the first report of a year inserts the counter, every later one (and one
    racing it) counts on, so two reports never share a number and none waits for a retry."""
    try:
        number = next_number(session, prefix, year)
    except IntegrityError as exc:  # (not expected from the upsert: said, not hidden)
        raise Conflict("could not allocate a tracking number; try again") from exc
    return f"{prefix}-{year}-{number:06d}"


# The tracking counter's upsert, in each database's words.
_NEXT_NUMBER = upserts.by_dialect(lambda insert: insert(TrackingCounter).values(
    prefix=bindparam("b_prefix"), year=bindparam("b_year"), last=1
).on_conflict_do_update(
    index_elements=[TrackingCounter.prefix, TrackingCounter.year],
    set_={"last": TrackingCounter.last + 1}).returning(TrackingCounter.last))


def next_number(session: Session, prefix: str, year: int) -> int:
    return upserts.run(session.connection(), _NEXT_NUMBER,
                       {"b_prefix": prefix, "b_year": year}).scalar_one()
