"""The JSON API, version 1: thin views over the complaint use cases."""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from typing import Any

from flask import Response, current_app, jsonify, request

from web.files import file_response
from web.openapi import Api
from workflows import access, stats_export
from workflows import diagram_ids as ids
from workflows.actions import ACTIONS, OTHER_ACTIONS
from workflows.calendar_admin import YEARS as CALENDAR_YEARS
from workflows.domain import Domain
from workflows.errors import BadParameter, Invalid, NotFound, Unauthenticated
from workflows.storage import Upload
from workflows.validation import (
    ACTION_SCHEMAS,
    FIRST_DAY,
    LAST_DAY,
    MAX_DEPTH,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    SUBMISSION_SCHEMA,
    TEXT_PATTERN,
    nesting_depth,
)

api = Api("api_v1", "/api/v1", "Aduan API", "1.0.0")

_obj = {"type": "object"}
_maybe_text = {"type": ["string", "null"]}
COMPLAINT = {"type": "object", "required": ["tracking_number", "status", "status_label",
                                            "refer_to"],
             "properties": {
                 "tracking_number": {"type": "string"},
                 "status": {"type": "string"},
                 "status_label": {"type": "object"}, "sla": {},
                 "refer_to": {**_maybe_text, "maxLength": 200, "description":
                              "where the complainant should take a report that is not the "
                              "regency's authority (status RETURNED), as the administrator "
                              "named it; null when none was named"},
                 "routing": {
                     "type": ["object", "null"],
                     "description": "officers only: what the routing table (routing.dmn, "
                                    "decision route_report) suggested when the report first "
                                    "waited for its disposition; null before that",
                     "required": ["authority", "handler_level", "agency_code",
                                  "suggested_at"],
                     "properties": {
                         "authority": {"enum": ["regency", "provincial", "national", None]},
                         "handler_level": {"enum": ["technical_officer", "opd",
                                                    "regional_head", None]},
                         "agency_code": _maybe_text,
                         "suggested_at": {"type": "string", "format": "date-time"}}}}}
RECEIPT = {"type": "object", "required": ["tracking_number", "secret", "status"],
           "properties": {"tracking_number": {"type": "string"}, "secret": {"type": "string"},
                          "status": {"type": "string"}, "status_label": {"type": "string"}}}
ACTION_NAMES = sorted([*ACTIONS, *OTHER_ACTIONS])
ERROR = {"$ref": "#/components/schemas/Error"}
# A day a filter may name: an ISO date from FIRST_DAY to LAST_DAY (400 otherwise).
DAYS = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
DAY = {"type": "string", "format": "date",
       "pattern": r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}
ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def domain() -> Domain:
    return current_app.extensions["aduan.domain"]


def principal() -> access.Principal:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return domain().accounts.authenticate_token(token)


def principal_for_report(tracking_number: str) -> access.Principal:
    """An officer by bearer token, or the complainant by the report's secret."""
    secret = request.headers.get("X-Tracking-Secret")
    if secret is not None and not request.headers.get("Authorization"):
        return domain().reports.authenticate_complainant(tracking_number, secret)
    return principal()


def json_body() -> dict[str, Any]:
    """The request's JSON object: the body, or the multipart form field `data`. Every JSON
    the API reads comes through here, read with a bounded depth (parse_json)."""
    if request.mimetype == "multipart/form-data":
        body = parse_json(request.form.get("data", "{}"), "data")
    elif request.is_json:
        raw = request.get_data()
        body = parse_json(raw, "(body)") if raw.strip() else {}
    elif request.get_data():
        raise Invalid("the request body is not valid JSON",
                      {"(body)": "send a JSON object with Content-Type: application/json"})
    else:
        body = {}
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object", {"(body)": "send an object"})
    return body


def parse_json(raw: str | bytes, field: str) -> Any:
    """JSON nested at most MAX_DEPTH levels; anything else is Invalid naming `field`.
    (Python's parser recurses: very deep input raises RecursionError, caught here.)"""
    where = "the form field 'data'" if field == "data" else "the request body"
    try:
        value = json.loads(raw)
    except RecursionError:
        value = None
        depth = MAX_DEPTH + 1
    except ValueError as exc:  # not JSON, or not UTF-8
        detail = (f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError)
                  else "send the text as UTF-8")
        raise Invalid(f"{where} is not valid JSON", {field: detail}) from exc
    else:
        depth = nesting_depth(value)
    if depth > MAX_DEPTH:
        raise Invalid(f"{where} is nested too deeply",
                      {field: f"at most {MAX_DEPTH} levels of nesting"})
    return value


def uploads() -> list[Upload]:
    if request.mimetype != "multipart/form-data":
        return []
    return [Upload(f.filename or "file", f.read())
            for f in request.files.getlist("attachments")]


# --------------------------------------------------------------------------- complaints


@api.route("POST", "/complaints", operation_id="submit_complaint", tag="complaints",
           summary="File a report (JSON, or multipart with attachments)", security=[],
           request=SUBMISSION_SCHEMA, multipart=True,
           responses={201: ("Filed; keep the secret, it is shown once", RECEIPT)})
def submit_complaint() -> Any:
    body = json_body()
    channel = body.pop("channel", "api") if isinstance(body.get("channel"), str) else "api"
    if channel not in ("web", "qr", "whatsapp", "sms", "api"):
        raise Invalid("unknown channel", {"channel": "one of web, qr, whatsapp, sms, api"})
    receipt = domain().reports.submit(body, uploads(), channel=channel,
                                      language=body.get("language", "id"))
    return jsonify(receipt), 201


@api.route("GET", "/complaints/{tracking_number}", operation_id="get_complaint",
           tag="complaints", summary="One report: full for officers who handle it, the public "
           "view for the complainant (X-Tracking-Secret)", security=["bearer", "trackingSecret"],
           responses={200: ("The report", COMPLAINT), 404: ("Unknown, or not yours", None)})
def get_complaint(tracking_number: str) -> Any:
    who = principal_for_report(tracking_number)
    return jsonify(domain().reports.get(tracking_number, who))


@api.route("GET", "/complaints/{tracking_number}/attachments/{attachment_id}",
           operation_id="get_attachment", tag="complaints",
           summary="An evidence file (for whoever may see the report's content)",
           security=["bearer", "trackingSecret"],
           parameters=[{"name": "attachment_id", "in": "path", "schema": ROW_ID}],
           responses={200: ("The file as uploaded (a photo without its metadata where the "
                           "caller may not have it: an anonim report's, for agencies; any, "
                           "for the complainant), as an attachment", None),
                      404: ("Unknown, or not yours", None)})
def get_attachment(tracking_number: str, attachment_id: str) -> Any:
    who = principal_for_report(tracking_number)
    return file_response(domain().reports.attachment(
        tracking_number, path_id(attachment_id, "attachment"), who))


@api.route("GET", "/complaints", operation_id="list_complaints", tag="complaints",
           summary="Reports the caller may see, newest first",
           parameters=[
               {"name": "status", "in": "query", "schema": {"enum": list(ids.STATUSES)}},
               {"name": "agency", "in": "query", "schema": {"type": "string",
                                                            "pattern": TEXT_PATTERN},
                "description": "an agency code (an unknown code lists nothing)"},
               {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
               {"name": "since", "in": "query", "schema": DAY,
                "description": f"reports filed on or after this day ({DAYS})"},
               {"name": "until", "in": "query", "schema": DAY,
                "description": f"reports filed on or before this day ({DAYS})"},
               {"name": "limit", "in": "query", "schema": {
                   "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}},
               {"name": "offset", "in": "query", "schema": {
                   "type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
           ],
           responses={200: ("A page of reports", {"type": "object", "properties": {
               "items": {"type": "array"}, "total": {"type": "integer"}}}),
                      400: ("A parameter is not valid (field_errors names it)", ERROR),
                      403: ("Only officers list reports", ERROR)})
def list_complaints() -> Any:
    who = principal()
    return jsonify(domain().reports.list(
        who, status=request.args.get("status"), agency_code=request.args.get("agency"),
        overdue=_bool_arg("overdue"), since=_date_arg("since"), until=_date_arg("until"),
        limit=_int_arg("limit", 50), offset=_int_arg("offset", 0)))


def _date_arg(name: str) -> date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadParameter(f"{name} must be a date", {name: "write YYYY-MM-DD"}) from exc


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,30}", value.strip()):  # int() would take '1_000', '١٢'
        raise BadParameter(f"{name} must be a whole number", {name: "write a number"})
    return int(value)


def _choice_arg(name: str, choices: tuple[str, ...], default: str | None = None
                ) -> str | None:
    """A query parameter that is one of `choices` (BadParameter naming it otherwise)."""
    value = request.args.get(name)
    if value is None:
        return default
    if value not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}",
                           {name: f"one of {', '.join(choices)}"})
    return value


def _bool_arg(name: str) -> bool | None:
    """A boolean query parameter: true or false (BadParameter naming it otherwise)."""
    value = _choice_arg(name, ("true", "false"))
    return None if value is None else value == "true"


def path_id(value: str, what: str) -> int:
    """A row id in the path: digits only; beyond MAX_ID it names nothing (404)."""
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist")
    return int(value)


def _act(tracking_number: str, action: str) -> Any:
    who = principal_for_report(tracking_number)
    body = json_body()
    return jsonify(domain().reports.act(tracking_number, action, body, who, uploads(),
                                         document=True))


def _register_action(name: str) -> None:
    """One documented operation per verb, with the verb's own body: a document whose body
    does not depend on the path would accept one verb's payload for another (schemathesis
    sends `respond`'s answer to `verify`, which refuses it rightly)."""
    view = functools.partial(_act, action=name)
    view.__name__ = f"complaint_action_{name}"  # type: ignore[attr-defined]
    api.route("POST", f"/complaints/{{tracking_number}}/actions/{name}",
              operation_id=f"complaint_action_{name}", tag="complaints",
              summary=f"The domain verb {name!r} on a report",
              security=["bearer", "trackingSecret"], request=ACTION_SCHEMAS[name],
              multipart=True,
              responses={200: ("The report after the action", COMPLAINT),
                         403: ("Not allowed for the caller", None),
                         404: ("Unknown report, or not visible to the caller", None),
                         409: ("Not possible in the report's state, or someone acted first",
                               None)})(view)


for _name in ACTION_NAMES:
    _register_action(_name)


# --------------------------------------------------------------------------- worklists


@api.route("GET", "/tasks", operation_id="list_tasks", tag="tasks",
           summary="The caller's worklist: open tasks of their groups",
           responses={200: ("Open tasks", {"type": "array"})})
def list_tasks() -> Any:
    return jsonify(domain().tasks.worklist(principal()))


@api.route("GET", "/notifications", operation_id="list_notifications", tag="tasks",
           summary="The caller's in-app notifications (new tasks, reminders, escalations)",
           parameters=[{"name": "unread", "in": "query", "schema": {"type": "boolean"},
                        "description": "true: only those not yet read"}],
           responses={200: ("Notifications, newest first", {"type": "array"}),
                      400: ("A parameter is not valid (field_errors names it)", ERROR)})
def list_notifications() -> Any:
    who = principal()
    return jsonify(domain().accounts.notifications(who, unread_only=bool(_bool_arg("unread"))))


@api.route("POST", "/notifications/read", operation_id="mark_notifications_read",
           tag="tasks", summary="Mark in-app notifications as read",
           request={"type": "object", "required": ["ids"], "additionalProperties": False,
                    "properties": {"ids": {"type": "array", "items": ROW_ID,
                                           "maxItems": 500}}},
           responses={200: ("How many changed", _obj)})
def mark_notifications_read() -> Any:
    who = principal()
    ids = json_body().get("ids")
    if not isinstance(ids, list) or len(ids) > 500:
        raise Invalid("ids must be a list of at most 500 numbers", {"ids": "e.g. [12, 13]"})
    return jsonify(marked=domain().accounts.mark_read(who, ids))


@api.route("GET", "/agencies", operation_id="list_agencies", tag="agencies",
           summary="The agency tree (province > regency > OPD > unit)", security=[],
           responses={200: ("Agencies", {"type": "array"})})
def list_agencies() -> Any:
    return jsonify([{key: agency[key] for key in ("code", "name", "kind", "parent")}
                    for agency in domain().reports.agencies()])


ESCALATION_STATUSES = ("open", "acknowledged", "resolved", "all")


@api.route("GET", "/escalations", operation_id="list_escalations", tag="escalations",
           summary="The escalation inbox of the caller's agencies",
           parameters=[{"name": "status", "in": "query",
                        "schema": {"enum": list(ESCALATION_STATUSES), "default": "open"}}],
           responses={200: ("Escalations", {"type": "array"}),
                      400: ("A parameter is not valid (field_errors names it)", ERROR)})
def list_escalations() -> Any:
    who = principal()
    status = _choice_arg("status", ESCALATION_STATUSES, "open")
    return jsonify(domain().supervision.escalations(
        who, status=None if status == "all" else status))


@api.route("POST", "/escalations/{escalation_id}/acknowledge",
           operation_id="acknowledge_escalation", tag="escalations",
           summary="Acknowledge an escalation, with a comment",
           parameters=[{"name": "escalation_id", "in": "path", "schema": ROW_ID}],
           request={"type": "object", "additionalProperties": False,
                    "properties": {"comment": {"type": "string", "maxLength": 2000,
                                               "pattern": TEXT_PATTERN}}},
           responses={200: ("The escalation", _obj), 404: ("Not in your inbox", None),
                      409: ("Already acknowledged", None)})
def acknowledge_escalation(escalation_id: str) -> Any:
    who = principal()
    body = json_body()
    return jsonify(domain().supervision.acknowledge(path_id(escalation_id, "escalation"), who,
                                                    body.get("comment")))


@api.route("GET", "/calendar", operation_id="working_calendar", tag="calendar", security=[],
           summary="Weekday days off of a year (holidays, cuti bersama, decrees)",
           parameters=[{"name": "year", "in": "query", "schema": {
               "type": "integer", "minimum": CALENDAR_YEARS[0], "maximum": CALENDAR_YEARS[1]}}],
           parameter_status=422,
           responses={200: ("The year's days off", _obj),
                      422: ("year is not a whole number from 2000 to 2100", ERROR)})
def working_calendar() -> Any:
    year = request.args.get("year")
    return jsonify(domain().calendar.days_off(None if year is None else _int_arg("year", 0)))


# --------------------------------------------------------------------------- statistics

PERIOD_PARAMETERS = [
    {"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2000,
                                               "maximum": 2100},
     "description": "a calendar year (default: this year, to date)"},
    {"name": "from", "in": "query", "schema": DAY,
     "description": "first day of a range (with `to`, instead of `year`)"},
    {"name": "to", "in": "query", "schema": DAY,
     "description": "last day of the range, included"},
    {"name": "agency", "in": "query", "schema": {"type": "string", "pattern": TEXT_PATTERN},
     "description": "an agency code: that agency and its units"},
]
STATS = {"type": "object", "required": ["period", "totals", "followed_up", "breakdowns",
                                        "speed", "deadlines", "ranking"],
         "properties": {"period": _obj, "scope": _obj, "totals": _obj, "followed_up": _obj,
                        "breakdowns": _obj, "speed": _obj, "deadlines": _obj, "overdue": _obj,
                        "escalations": _obj, "ombudsman": _obj, "satisfaction": _obj,
                        "ranking": _obj}}
STATS_ERRORS = {403: ("Outside the caller's scope", None),
                422: ("A parameter is not valid", None)}


def _officer_figures() -> dict[str, Any]:
    who = principal()
    args = request.args
    return domain().figures.officer(who, year=args.get("year"), date_from=args.get("from"),
                                    date_to=args.get("to"), agency=args.get("agency"))


def _download(content: str | bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@api.route("GET", "/stats", operation_id="get_stats", tag="statistics",
           summary="The figures of the caller's scope: counts, follow-up, speed in working "
           "days, deadlines, escalations, satisfaction, OPD ranking (see docs/statistics.md)",
           description="Diskominfo and regency-level supervisors see the regency; other "
           "officers see their agency and its units.",
           parameters=PERIOD_PARAMETERS,
           parameter_status=422,
           responses={200: ("The figures", STATS), **STATS_ERRORS})
def get_stats() -> Any:
    return jsonify(_officer_figures())


@api.route("GET", "/stats/public", operation_id="get_public_stats", tag="statistics",
           security=[], summary="The public figures of the regency (Statistik): aggregates "
           "only, no personal data, no report named",
           parameters=PERIOD_PARAMETERS[:1],
           parameter_status=422,
           responses={200: ("The public figures", STATS),
                      422: ("A parameter is not valid", None)})
def get_public_stats() -> Any:
    return jsonify(domain().figures.public(request.args.get("year")))


@api.route("GET", "/stats/export.csv", operation_id="export_stats_csv", tag="statistics",
           summary="The figures of /stats as CSV rows (bagian, kunci, label, ukuran, "
           "keterangan, nilai)", parameters=PERIOD_PARAMETERS,
           parameter_status=422,
           responses={200: ("text/csv, UTF-8", None), **STATS_ERRORS})
def export_stats_csv() -> Any:
    figures = _officer_figures()
    return _download(stats_export.to_csv(figures), "text/csv",
                     stats_export.export_name(figures, "csv"))


@api.route("GET", "/stats/export.xlsx", operation_id="export_stats_xlsx", tag="statistics",
           summary="The same rows as the CSV, as an Excel workbook (sheet Statistik)",
           parameters=PERIOD_PARAMETERS,
           parameter_status=422,
           responses={200: ("An XLSX workbook", None), **STATS_ERRORS})
def export_stats_xlsx() -> Any:
    figures = _officer_figures()
    return _download(stats_export.to_xlsx(figures), "application/vnd.openxmlformats-officedocument."
                     "spreadsheetml.sheet", stats_export.export_name(figures, "xlsx"))


@api.route("GET", "/openapi.json", operation_id="openapi", tag="meta", security=[],
           summary="This document", responses={200: ("OpenAPI 3.1", _obj)})
def openapi() -> Any:
    return jsonify(api.document({"submit_complaint": domain().reports.submission_schema()}))


def unauthenticated_response(exc: Unauthenticated) -> Response:
    response = jsonify(error={"message": str(exc)})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="aduan"'
    return response
