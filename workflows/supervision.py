"""Use cases of the supervisors: the SLA board with their escalation inbox, and what they do
with an escalation (acknowledge, note, move the report to another agency)."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from workflows import access, board, case_map, escalations
from workflows.context import Context
from workflows.errors import DomainError, Forbidden, Invalid, NotFound
from workflows.reports import Reports


@dataclass(frozen=True)
class BoardPage:
    """What the board page shows: the board (its filters' errors by field, if any, and then
    the unfiltered board), one page of the inbox, and where a report may be moved."""

    board: dict[str, Any]
    filter_errors: dict[str, str]
    inbox: list[dict[str, Any]]
    inbox_total: int
    inbox_page: int
    inbox_pages: int
    targets: list[dict[str, Any]] = field(default_factory=list)


class Supervision:
    """The use cases of supervision (see the module)."""

    def __init__(self, ctx: Context, reports: Reports) -> None:
        self.ctx = ctx
        self.reports = reports

    def board_page(self, principal: access.Principal, *, opd: str | None = None,
                   rung: str | None = None, state: str | None = None,
                   inbox: str | None = "open", inbox_page: int = 1,
                   inbox_page_size: int = 25, keep: tuple[int, ...] = ()) -> BoardPage:
        """The SLA board (board.sla_board) and one page of the inbox (the newest first;
        ``inbox`` None: every status), in one read. ``keep``: escalations to show on the
        page whatever the inbox's page (the one a form was just sent for)."""
        now = self.ctx.now()
        config = self.ctx.config
        with self.ctx.reads() as session:
            errors: dict[str, str] = {}
            try:
                found = board.sla_board(session, principal, config, now, opd=opd, rung=rung,
                                        state=state)
            except Invalid as exc:
                errors = dict(exc.field_errors)
                found = board.sla_board(session, principal, config, now)
            total, page, pages, rows = escalations.inbox_page(
                session, principal, now, status=inbox, page=inbox_page,
                page_size=inbox_page_size)
            for escalation_id in keep:
                if all(row["id"] != escalation_id for row in rows):
                    with suppress(NotFound):
                        rows.insert(0, escalations.get_escalation(session, escalation_id,
                                                                  principal))
            targets = escalations.reassign_targets(session, principal)
        return BoardPage(found, errors, rows, total, page, pages, targets)

    def case_map(self, principal: access.Principal, *, zoom: int | None = None,
                 bbox: str | None = None) -> dict[str, Any]:
        """The open cases of the caller's scope on a map (workflows/case_map.py): counted
        per kelurahan and, with ``zoom``, per square of the grid within ``bbox``."""
        if not principal.has("supervisor", "regency_admin", "system_admin"):
            raise Forbidden("the map of cases is for supervisors and the regency "
                            "administrator")
        now = self.ctx.now()
        box = case_map.parse_box(bbox)
        with self.ctx.reads() as session:
            found: dict[str, Any] = {"kelurahan": case_map.by_kelurahan(session, principal,
                                                                       now)}
            if zoom is not None:
                found["grid"] = case_map.grid(session, principal, now, zoom, box)
        return found

    def escalations(self, principal: access.Principal, status: str | None = "open"
                    ) -> list[dict[str, Any]]:
        """The caller's escalation inbox (``status`` None: every status), newest first."""
        with self.ctx.reads() as session:
            return escalations.list_escalations(session, principal, self.ctx.now(),
                                                status=status)

    def reassign_form(self, principal: access.Principal, escalation_id: int
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """An escalation of the caller's inbox and the agencies its report may move to."""
        with self.ctx.reads() as session:
            return (escalations.get_escalation(session, escalation_id, principal),
                    escalations.reassign_targets(session, principal))

    def acknowledge(self, escalation_id: int, principal: access.Principal,
                    comment: str | None) -> dict[str, Any]:
        """Take note of an escalation (once: whoever comes second gets Conflict)."""
        with self.ctx.transaction() as session:
            return escalations.acknowledge(session, escalation_id, principal, comment,
                                           self.ctx.now())

    def comment(self, escalation_id: int, principal: access.Principal, text: str | None
                ) -> dict[str, Any]:
        """A supervisor's note on an open or acknowledged escalation."""
        with self.ctx.transaction() as session:
            return escalations.comment(session, escalation_id, principal, text,
                                       self.ctx.now())

    def reassign(self, escalation_id: int, principal: access.Principal, agency_code: str,
                 reason: str) -> dict[str, Any]:
        """Move an escalated report to another agency (the reassign verb); returns the
        report as the caller sees it afterwards. NotFound: no such escalation in the
        caller's inbox; Forbidden: the report or the agency is outside the caller's tree;
        a refusal carries the report's number as `tracking_number`."""
        with self.ctx.reads() as session:
            escalation = escalations.get_escalation(session, escalation_id, principal)
        tracking = escalation["tracking_number"]
        try:
            return self.reports.act(tracking, "reassign",
                                    {"agency_code": agency_code, "reason": reason}, principal,
                                    document=True)
        except NotFound as exc:
            refused = Forbidden("a supervisor reassigns only reports and agencies of their "
                                "own agency tree")
            refused.tracking_number = tracking
            raise refused from exc
        except DomainError as exc:
            exc.tracking_number = tracking
            raise
