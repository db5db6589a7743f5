"""The drill-down from a figure to its cases: the links the dashboard and the SLA board give
every count (to /cases with the matching filters, workflows/case_filters.py), the words the
list says about those filters, and the case-level exports (CSV and XLSX) of a filtered list.
See docs/supervisors.md."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Response, stream_with_context, url_for

from web.i18n import N_, gettext, label
from workflows.case_filters import NO_AGENCY, CaseFilter
from workflows.config import RUNG_LABELS
from workflows.stats import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLASSIFICATION_LABELS,
    LABELS,
    MEASURE_LABELS,
    class_label,
)

BOARD_WORDS = {"any": N_("On the SLA board"), "due_soon": N_("Due soon"),
               "overdue": N_("Overdue"), "escalated": N_("Escalated")}
EXPORT_COLUMNS = (
    ("tracking_number", N_("Tracking number")), ("title", N_("Title")),
    ("category", N_("Category")), ("agency", N_("Agency")), ("status", N_("Status")),
    ("filed", N_("Filed")), ("due_at", N_("Current deadline")), ("late", N_("Late")),
    ("rungs", N_("Rungs reached")), ("closed", N_("Closed")))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cases_href(params: Mapping[str, Any]) -> str:
    """/cases with these filters (empty ones left out)."""
    query = {k: v for k, v in params.items() if v not in (None, "", False)}
    base = url_for("pages.cases")
    return f"{base}?{urlencode(query)}" if query else base


def month_span(key: str, period: Mapping[str, str]) -> dict[str, str]:
    """The days of a month ('2024-03') within the period: the cohort of a month's row."""
    year, month = int(key[:4]), int(key[5:7])
    first = max(date(year, month, 1).isoformat(), period["from"])
    last = min(date(year, month, monthrange(year, month)[1]).isoformat(), period["to"])
    return {"since": first, "until": last}


class Drill:
    """The links of a figures page's counts: the period and scope of the figures, and what
    each count adds (its row's key, the figure's stage, ...)."""

    def __init__(self, figures: Mapping[str, Any]) -> None:
        self.period = figures["period"]
        self.base = {"since": self.period["from"], "until": self.period["to"],
                     "scope": figures["scope"]["agency"]}

    def __call__(self, dimension: str | None = None, key: Any = None, **more: Any) -> str:
        params = dict(self.base)
        if dimension == "month":
            params.update(month_span(str(key), self.period))
        elif dimension == "year":
            params.update(since=max(f"{key}-01-01", self.period["from"]),
                          until=min(f"{key}-12-31", self.period["to"]))
        elif dimension == "agency":
            params["agency"] = key or NO_AGENCY
        elif dimension is not None:
            params[dimension] = key
        params.update(more)
        return cases_href(params)


def filter_words(filters: CaseFilter, agency_names: Mapping[str, str],
                 ombudsman_days: int) -> list[str]:
    """What the list's drill-down filters say, one phrase each, in the page's language."""
    words: list[str] = []

    def add(text: str) -> None:
        words.append(text)

    if filters.scope:
        add(gettext("Within %(agency)s and its units",
                    agency=agency_names.get(filters.scope, filters.scope)))
    if filters.agency == NO_AGENCY:
        add(gettext("Not yet sent to an agency"))
    for value, labels in ((filters.category, CATEGORY_LABELS),
                          (filters.channel, CHANNEL_LABELS),
                          (filters.classification, CLASSIFICATION_LABELS)):
        if value:
            add(label(labels.get(value, {"id": value, "en": value})))
    if filters.stage and filters.stage != "received":
        add(label(MEASURE_LABELS.get(filters.stage) or LABELS.get(filters.stage)
                  or filters.stage))
    if filters.rating == "any":
        add(gettext("Rated by the complainant"))
    elif filters.rating:
        add(label(LABELS.get(f"rating_{filters.rating}", filters.rating)))
    if filters.deadline:
        kind = (gettext("Follow-up or resolution deadline") if filters.deadline == "opd"
                else gettext("Deadline: %(kind)s", kind=label(class_label(filters.deadline))))
        state = label(LABELS.get(filters.deadline_state)) if filters.deadline_state else ""
        add(f"{kind}: {state}" if state else kind)
    if filters.escalated:
        rung = gettext("any rung") if filters.escalated == "any" else label(
            RUNG_LABELS.get(filters.escalated, filters.escalated))
        add(gettext("Open escalation to %(rung)s", rung=rung) if filters.escalation == "open"
            else gettext("Escalated to %(rung)s", rung=rung))
    if filters.ombudsman:
        add(gettext("Not finished after %(days)s days", days=ombudsman_days))
    if filters.open:
        add(gettext("Open reports"))
    if filters.board:
        text = gettext(BOARD_WORDS[filters.board]) if filters.board in BOARD_WORDS \
            else filters.board
        if filters.rung:
            text = f"{text} · {label(RUNG_LABELS.get(filters.rung, filters.rung))}"
        add(text)
    return words


# --------------------------------------------------------------------------- exports


def export_header() -> list[str]:
    return [gettext(words) for _, words in EXPORT_COLUMNS]


def export_values(row: Mapping[str, Any]) -> list[Any]:
    """One case's cells, in the page's language (its status, category, yes/no)."""
    yes, no = gettext("yes"), gettext("no")
    return [
        row["tracking_number"], row["title"],
        label(CATEGORY_LABELS.get(row["category"], {"id": row["category"],
                                                   "en": row["category"]})),
        row["agency"] or gettext("Not yet sent to an agency"), label(row["status_label"]),
        row["filed"], row["due_at"] or "", yes if row["late"] else no,
        ", ".join(label(RUNG_LABELS.get(r, {"id": r, "en": r})) for r in row["rungs"]),
        row["closed"] or ""]


def csv_response(rows: Iterator[Mapping[str, Any]], filename: str) -> Response:
    """A streamed CSV (UTF-8 with a byte-order mark, so spreadsheets read Indonesian)."""
    import csv
    import io

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write("\ufeff")
        writer.writerow(export_header())
        for count, row in enumerate(rows, start=1):
            writer.writerow(export_values(row))
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return attachment(Response(stream_with_context(lines()), mimetype="text/csv"), filename)


def xlsx_response(rows: Iterator[Mapping[str, Any]], filename: str) -> Response:
    """An XLSX of one sheet, written row by row (openpyxl's write-only mode keeps the rows
    in a temporary file, not in memory), then sent from that file."""
    import tempfile

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(gettext("Reports"))
    sheet.append(export_header())
    for row in rows:
        sheet.append(export_values(row))
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
    book.save(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(64 * 1024):
                yield chunk

    return attachment(Response(chunks(), mimetype=XLSX), filename)


def attachment(response: Response, filename: str) -> Response:
    """A download, kept by no cache (the figures and reports of one reader)."""
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
