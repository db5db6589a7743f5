"""The drill-down filters of the list of cases: which reports stand behind a figure of the
dashboard (workflows/stats) or a count of the SLA board (workflows/board).

Each filter is written as the very condition the figure counts with, so that a count and the
list its link opens hold the same reports (tests/test_drilldown.py checks every count kind):

- ``scope``: an agency and everything below it (the dashboard's agency: reports held by the
  agency or one of its units), as ``stats.resolve_scope``;
- ``agency``: the agency holding the report (the figures' rows per agency), or ``none``;
- ``category``, ``channel``, ``classification``: the report's own;
- ``stage``: the figures' counts (received, verified, ..., closed, and the reports each
  speed measure measured); ``rating``: rated at all (``any``) or with that many stars;
- ``deadline`` and ``deadline_state``: reports with a deadline of that class (a step, or
  the resolution by classification; ``opd``: follow-up or resolution; ``any``) that was met,
  breached, is still open or is overdue now; a report with two such steps is listed once;
- ``escalated`` (a rung or ``any``) and ``escalation`` (``open`` or ``any``);
- ``ombudsman``: not finished more than the Ombudsman's days after it was filed;
- ``board`` (due_soon, overdue, escalated, or ``any``: on the board at all) with ``rung``,
  and ``open``: the open reports (the board's first column);
- ``kelurahan`` (as the report names it) and ``area`` (a square of the map's grid:
  south,west,north,east; workflows/case_map.py).

The period is the list's own ``since`` and ``until`` (the day the report was filed, in the
regency's time zone), as the figures' cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import Session

from workflows import access, board, case_map, categories
from workflows import diagram_ids as ids
from workflows.config import RegencyConfig
from workflows.errors import Invalid, Message
from workflows.models import OPEN_PREDICATE, Complaint, Escalation, SlaRecord
from workflows.sla import BREACHED, CITIZEN_STEPS, MET, PAUSED, RUNNING
from workflows.stats import IN_PROGRESS, MEASURES, PENDING, resolve_scope
from workflows.validation import CHANNELS, CLASSIFICATIONS

NO_AGENCY = "none"
STAGES = ("received", "verified", "dispositioned", "answered", "pending", "in_progress",
          "closed", "archived", "returned", *MEASURES)
DEADLINE_STATES = ("met", "breached", "open", "overdue")
RESOLUTION_CLASSES = ("pengaduan", "pengaduan_berkadar_pengawasan", "aspirasi",
                      "permintaan_informasi")
DEADLINE_CLASSES = (ids.STEP_VERIFICATION, ids.STEP_FOLLOW_UP,
                    *(f"{ids.STEP_RESOLUTION}.{c}" for c in RESOLUTION_CLASSES), "opd", "any")
RATINGS = ("any", *(str(k) for k in ids.RATINGS))
BOARD_VIEWS = ("any", *board.BOARD_STATES)


@dataclass(frozen=True)
class CaseFilter:
    """The drill-down filters (see the module); None: not filtered."""

    scope: str | None = None
    agency: str | None = None
    category: str | None = None
    channel: str | None = None
    classification: str | None = None
    stage: str | None = None
    rating: str | None = None
    deadline: str | None = None
    deadline_state: str | None = None
    escalated: str | None = None
    escalation: str | None = None
    ombudsman: bool = False
    board: str | None = None
    rung: str | None = None
    open: bool = False
    kelurahan: str | None = None
    area: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def of(cls, args: Any) -> CaseFilter:
        """From a query string's values (text; empty is not filtered)."""
        given = {name: (str(args.get(name) or "")).strip() or None for name in cls.names()}
        flags = {name: given[name] in ("1", "yes", "true", "on") for name in ("ombudsman",
                                                                            "open")}
        return cls(**{**given, **flags})

    def query(self) -> dict[str, str]:
        """The filters set, as a query string's values (the links keep them)."""
        found: dict[str, str] = {}
        for name in self.names():
            value = getattr(self, name)
            if value is True:
                found[name] = "1"
            elif value not in (None, False):
                found[name] = str(value)
        return found

    def __bool__(self) -> bool:
        return bool(self.query())


def conditions(session: Session, principal: access.Principal, config: RegencyConfig,
               now: datetime, wanted: CaseFilter) -> list[Any]:
    """The filters as SQL conditions on Complaint; Invalid names each bad one (Forbidden: a
    ``scope`` outside the caller's agency tree)."""
    errors: dict[str, Message] = {}

    def choose(name: str, allowed: tuple[str, ...]) -> str | None:
        value = getattr(wanted, name)
        if value is not None and value not in allowed:
            errors[name] = Message("choose one of %(choices)s", choices=", ".join(allowed))
            return None
        return value

    ladder = tuple(config.ladder)
    known = tuple(categories.catalog(session).by_code)  # deactivated ones too: old reports
    for name, allowed in (("category", known), ("channel", CHANNELS),
                          ("classification", CLASSIFICATIONS), ("stage", STAGES),
                          ("rating", RATINGS), ("deadline", DEADLINE_CLASSES),
                          ("deadline_state", DEADLINE_STATES),
                          ("escalated", ("any", *ladder)), ("escalation", ("open", "any")),
                          ("board", BOARD_VIEWS), ("rung", ladder)):
        choose(name, allowed)
    agencies = access.agency_table(session)
    codes = {a.code: a.id for a in agencies.values()}
    if wanted.agency is not None and wanted.agency != NO_AGENCY \
            and wanted.agency not in codes:
        errors["agency"] = Message("no agency has the code %(code)s", code=wanted.agency)
    if wanted.scope is not None and wanted.scope not in codes:
        errors["scope"] = Message("no agency has the code %(code)s", code=wanted.scope)
    if wanted.deadline_state is not None and wanted.deadline is None:
        errors["deadline"] = Message("choose the deadline class the state is of")
    box = None
    if wanted.area is not None:
        try:
            box = case_map.parse_box(wanted.area)
        except Invalid:
            errors["area"] = Message("write south,west,north,east in degrees")
    if wanted.kelurahan is not None and len(wanted.kelurahan) > 100:
        errors["kelurahan"] = Message("at most %(n)s characters", n=100)
    if wanted.rung is not None and wanted.board is None:
        errors["board"] = Message("choose the board's state the rung is of")
    if errors:
        raise Invalid("the list's filters are not valid", errors)

    found: list[Any] = []
    if wanted.scope is not None:
        scope = resolve_scope(session, principal, config, wanted.scope)
        if scope.agency_ids is not None:
            tree = sorted(scope.agency_ids) or [-1]
            found.append(or_(Complaint.agency_id.in_(tree), Complaint.unit_id.in_(tree)))
    if wanted.agency == NO_AGENCY:
        found.append(Complaint.agency_id.is_(None))
    elif wanted.agency is not None:
        found.append(Complaint.agency_id == codes[wanted.agency])
    for name in ("category", "channel", "classification"):
        if getattr(wanted, name) is not None:
            found.append(getattr(Complaint, name) == getattr(wanted, name))
    if wanted.stage is not None:
        found.append(_stage(wanted.stage))
    if wanted.rating == "any":
        found.append(Complaint.rating.is_not(None))
    elif wanted.rating is not None:
        found.append(Complaint.rating == int(wanted.rating))
    if wanted.deadline is not None:
        found.append(deadline_condition(wanted.deadline, wanted.deadline_state, now))
    if wanted.escalated is not None or wanted.escalation is not None:  # open: to any rung
        found.append(_escalated(wanted.escalated or "any", wanted.escalation))
    if wanted.ombudsman:
        found += [text(OPEN_PREDICATE),
                  Complaint.created_at <= now - timedelta(days=config.ombudsman_days)]
    if wanted.open:
        found.append(text(OPEN_PREDICATE))
    if wanted.kelurahan is not None:
        found.append(Complaint.kelurahan == wanted.kelurahan)
    if box is not None:
        found.append(case_map.area_condition(box))
    if wanted.board is not None:
        found.append(Complaint.id.in_(board.board_case_ids(
            session, config, now, None if wanted.board == "any" else wanted.board,
            wanted.rung)))
    return found


def _stage(stage: str) -> Any:
    if stage in MEASURES:  # the reports a speed measure measured: both instants known
        start, end = MEASURES[stage]
        return and_(start.is_not(None), end.is_not(None))
    return {
        "received": Complaint.id.is_not(None),
        "verified": Complaint.verified_at.is_not(None),
        "dispositioned": Complaint.disposed_at.is_not(None),
        "answered": Complaint.first_answer_at.is_not(None),
        "pending": Complaint.status.in_(PENDING),
        "in_progress": Complaint.status.in_(IN_PROGRESS),
        "closed": Complaint.status == ids.STATUS_CLOSED,
        "archived": Complaint.status == ids.STATUS_ARCHIVED,
        "returned": Complaint.status == ids.STATUS_RETURNED,
    }[stage]


def deadline_condition(kind: str, state: str | None, now: datetime) -> Any:
    """Reports with a government deadline of this class in this state (as the figures'
    deadline classes: workflows/stats/rendering._deadline_class)."""
    where: list[Any] = [SlaRecord.step.not_in(sorted(CITIZEN_STEPS))]
    step, _, kind_of = kind.partition(".")
    outer: list[Any] = []
    if kind == "opd":
        where.append(SlaRecord.step.in_((ids.STEP_FOLLOW_UP, ids.STEP_RESOLUTION)))
    elif kind != "any":
        where.append(SlaRecord.step == step)
    if kind_of == "pengaduan_berkadar_pengawasan":
        outer += [Complaint.classification == "pengaduan", Complaint.misconduct.is_(True)]
    elif kind_of == "pengaduan":
        outer += [Complaint.classification == "pengaduan", Complaint.misconduct.is_not(True)]
    elif kind_of:
        outer.append(Complaint.classification == kind_of)
    if state == "met":
        where.append(SlaRecord.state == MET)
    elif state == "breached":
        where.append(SlaRecord.state == BREACHED)
    elif state == "open":
        where.append(SlaRecord.state.in_((RUNNING, PAUSED)))
    elif state == "overdue":
        where += [SlaRecord.state == RUNNING, SlaRecord.due_at < now]
    return and_(Complaint.id.in_(select(SlaRecord.complaint_id).where(*where)), *outer)


def _escalated(rung: str, status: str | None) -> Any:
    where: list[Any] = []
    if rung != "any":
        where.append(Escalation.rung_name == rung)
    if status == "open":
        where.append(Escalation.status == "open")
    return Complaint.id.in_(select(Escalation.complaint_id).where(*where))
