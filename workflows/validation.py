"""Input schemas of the complaint use cases (also published in the OpenAPI document)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import FIELD_REQUIRED, schema_message
from workflows.config import RegencyConfig
from workflows.errors import BadParameter, Invalid, Message, NotFound

CLASSIFICATIONS = ("pengaduan", "aspirasi", "permintaan_informasi")
SEVERITIES = ("low", "medium", "high")
CONTACT_CHANNELS = ("sms", "whatsapp", "email")  # how a citizen is told (notify.py)
ROAD_STATUSES = ("national", "provincial", "regency", "village")
CHANNELS = ("web", "qr", "whatsapp", "sms", "api", "open311")

# Input limits (docs/security.md, "Input limits"): the same on SQLite and PostgreSQL.
MAX_DEPTH = 64  # levels of nesting of a JSON body; deeper is refused before it is read
MAX_ID = 2**63 - 1  # the largest row id the databases hold (BIGINT); beyond it: not found
MAX_OFFSET = 10_000_000  # how far a list may be paged (the officers' pages reach 2.5 million)
MAX_LIMIT = 200  # reports on one page of a list
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # dates a filter may name
# Neither database stores these in text: PostgreSQL refuses NUL, and a lone surrogate is not
# UTF-8 at all. Refused everywhere, so that both databases behave alike.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
TEXT_PATTERN = r"^[^\u0000\ud800-\udfff]*$"  # the same, as the published schemas say it

_text = {"type": "string", "minLength": 1, "maxLength": 5000}

SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["classification", "category", "title", "body"],
    "properties": {
        "classification": {"enum": list(CLASSIFICATIONS),
                           "description": "pengaduan, aspirasi or permintaan_informasi"},
        "misconduct": {"type": "boolean", "default": False,
                       "description": "berkadar pengawasan: alleges misconduct by an official"},
        "sub_classification": {"type": ["string", "null"], "maxLength": 60},
        # The active categories' codes: submission_schema() publishes them as an enum.
        "category": {"type": "string", "minLength": 1, "maxLength": 40,
                     "description": "the code of an active category (the table `category`, "
                                    "administered at /admin/categories)"},
        "severity": {"enum": list(SEVERITIES), "default": "medium"},
        "title": {"type": "string", "minLength": 5, "maxLength": 200},
        "body": {"type": "string", "minLength": 10, "maxLength": 5000},
        "incident_date": {"type": "string", "format": "date"},
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
        "address": {"type": ["string", "null"], "maxLength": 300},
        "kelurahan": {"type": ["string", "null"], "maxLength": 100},
        "kecamatan": {"type": ["string", "null"], "maxLength": 100},
        "road_status": {"enum": [*ROAD_STATUSES, ""]},
        "anonymous": {"type": "boolean", "default": False,
                      "description": "anonim: the reporter's identity is hidden from agencies"},
        "confidential": {"type": "boolean", "default": False,
                         "description": "rahasia: the content is shown only to those "
                                        "handling the report"},
        "reporter_name": {"type": ["string", "null"], "maxLength": 200},
        "reporter_email": {"type": ["string", "null"], "format": "email", "maxLength": 200},
        "reporter_phone": {"type": ["string", "null"], "pattern": r"^\+?[0-9 -]{6,20}$"},
        "contact_channel": {"enum": [*CONTACT_CHANNELS, None],
                            "description": "how the citizen is told of changes: sms or "
                                           "whatsapp (needs reporter_phone) or email (needs "
                                           "reporter_email); an e-mail address given is "
                                           "always written to. Default: the channel the "
                                           "report came by when it is sms or whatsapp, else "
                                           "sms when a phone is given"},
        "language": {"enum": ["id", "en"], "default": "id"},
    },
    # The rules across fields, for the published schema; check_submission keeps them in its
    # own words (the validator below leaves them to it): the reporter's name is required
    # unless the report is anonymous, only a complaint alleges misconduct, a location is
    # both latitude and longitude, and the contact channel chosen has its phone or address.
    "allOf": [
        {"if": {"not": {"required": ["anonymous"],
                        "properties": {"anonymous": {"const": True}}}},
         "then": {"required": ["reporter_name"],
                  "properties": {"reporter_name": {"type": "string", "pattern": r"\S"}}}},
        {"if": {"required": ["misconduct"], "properties": {"misconduct": {"const": True}}},
         "then": {"properties": {"classification": {"const": "pengaduan"}}}},
        {"if": {"required": ["contact_channel"],
                "properties": {"contact_channel": {"enum": ["sms", "whatsapp"]}}},
         "then": {"required": ["reporter_phone"],
                  "properties": {"reporter_phone": {"type": "string"}}}},
        {"if": {"required": ["contact_channel"],
                "properties": {"contact_channel": {"const": "email"}}},
         "then": {"required": ["reporter_email"],
                  "properties": {"reporter_email": {"type": "string", "minLength": 1}}}},
    ],
    "dependentRequired": {"latitude": ["longitude"], "longitude": ["latitude"]},
}
CROSS_FIELD_RULES = ("allOf", "dependentRequired")

ACTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "verify": {"properties": {"note": _text}},
    "archive": {"required": ["reason"], "properties": {"reason": _text}},
    "request_info": {"required": ["reason"], "properties": {"reason": _text}},
    "provide_info": {"required": ["information"], "properties": {"information": _text}},
    "not_authority": {"required": ["reason"],
                      "properties": {"reason": _text, "refer_to": {
                          "type": "string", "maxLength": 200,
                          "description": "where the complainant should take the matter "
                                         "(e.g. BPJN Kaltim for a national road); shown "
                                         "to them"}}},
    "postpone": {"required": ["reason"], "properties": {"reason": _text}},
    "resume": {"properties": {"note": _text}},
    "dispose": {"required": ["agency_code"], "properties": {
        "agency_code": {"type": "string", "minLength": 1},
        "handler": {"enum": ["opd", "unit"], "default": "opd"},
        "unit_code": {"type": "string"}, "note": _text}},
    "delegate": {"required": ["unit_code"], "properties": {
        "unit_code": {"type": "string", "minLength": 1}, "note": _text}},
    "respond": {"required": ["answer"], "properties": {
        "answer": _text, "final": {"type": "boolean", "default": True,
                                   "description": "false for an interim answer"}}},
    "reply": {"required": ["comment"], "properties": {"comment": _text}},
    "rate": {"required": ["rating"], "properties": {
        "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": _text}},
    "reopen": {"required": ["reason"], "properties": {"reason": _text}},
    "link_duplicate": {"required": ["duplicate_of"], "properties": {
        "duplicate_of": {"type": "string", "description": "tracking number of the original"}}},
    "reassign": {"required": ["agency_code", "reason"], "properties": {
        "agency_code": {"type": "string", "minLength": 1}, "reason": _text}},
}
for _schema in ACTION_SCHEMAS.values():
    _schema.setdefault("type", "object")
    _schema.setdefault("additionalProperties", False)


def storable_text(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every free text (a string without a pattern, format or choices)
    given TEXT_PATTERN, so that the published schemas say what unstorable_text refuses."""
    stack = [schema]
    while stack:
        node = stack.pop()
        kind = node.get("type")
        if (kind == "string" or (isinstance(kind, list) and "string" in kind)) and not (
                {"pattern", "format", "enum"} & set(node)):
            node["pattern"] = TEXT_PATTERN
        for key in ("properties", "then"):
            inner = node.get(key)
            if isinstance(inner, dict):
                stack.extend(v for v in (inner.values() if key == "properties" else [inner])
                             if isinstance(v, dict))
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])
    return schema


for _schema in (SUBMISSION_SCHEMA, *ACTION_SCHEMAS.values()):
    storable_text(_schema)

_VALIDATORS = {name: Draft202012Validator(schema, format_checker=FormatChecker())
               for name, schema in {**ACTION_SCHEMAS, "_submit": {
                   k: v for k, v in SUBMISSION_SCHEMA.items() if k not in CROSS_FIELD_RULES}
               }.items()}


def field_errors(validator: Draft202012Validator, data: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in validator.iter_errors(data):
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    errors.setdefault(name, Message(FIELD_REQUIRED))
        elif error.validator == "additionalProperties":
            for name in set(error.instance) - set(error.schema.get("properties", {})):
                errors.setdefault(str(name), Message("unknown field; remove it"))
        else:
            path = ".".join(map(str, error.absolute_path)) or "(body)"
            errors.setdefault(path, schema_message(error))
    return errors


def shown_name(name: Any) -> str:
    """A field name as an error message may repeat it (a lone surrogate escaped)."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


def unstorable_text(value: Any, path: str = "") -> dict[str, Message]:
    """Each string (value or key) in a JSON value that holds a NUL character or a lone
    surrogate, by the field's path (`title`, `ids[2]`, `(body)` for the value itself)."""
    errors: dict[str, Message] = {}
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            found = UNSTORABLE.search(item)
            if found and found.group() == "\x00":
                errors.setdefault(where or "(body)", Message(
                    "remove the NUL character (\\u0000)"))
            elif found:
                errors.setdefault(where or "(body)", Message(
                    "remove the lone surrogate (\\ud800-\\udfff); send the text as UTF-8"))
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and UNSTORABLE.search(key):
                    errors.setdefault(shown_name(name), Message(
                        "a field name holds a NUL character or a lone surrogate; rename it"))
                    continue
                stack.append((name, inner))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{index}]", inner) for index, inner in enumerate(item))
    return errors


def nesting_depth(value: Any) -> int:
    """How deeply a JSON value nests (a scalar: 0, [] or {}: 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:  # deep enough to refuse; no need to look further
                return depth
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in inner)
    return deepest


def check_text(fields: dict[str, Any], what: str = "the request") -> None:
    """Refuse (Invalid, by field) text that no database would store the same."""
    errors = unstorable_text(fields)
    if errors:
        raise Invalid("%(what)s has errors: %(errors)s", errors, what=what,
                      errors=_joined(errors))


def check_id(value: int, what: str) -> int:
    """A row id; beyond what a database row can have it names nothing: NotFound."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise NotFound("%(what)s %(id)s does not exist", what=what, id=value)
    return value


def check_window(*, limit: int, offset: int, since: date | None, until: date | None,
                 status: str | None = None, statuses: tuple[str, ...] = ()) -> None:
    """The paging and filters of a list, each in its range (BadParameter naming it)."""
    errors: dict[str, Message] = {}
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = Message("from 1 to %(n)s", n=MAX_LIMIT)
    if not 0 <= offset <= MAX_OFFSET:
        errors["offset"] = Message("from 0 to %(n)s", n=MAX_OFFSET)
    for name, day in (("since", since), ("until", until)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = Message("a date from %(first)s to %(last)s",
                                   first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
    if status is not None and status not in statuses:
        errors["status"] = Message("one of %(choices)s", choices=", ".join(statuses))
    if errors:
        raise BadParameter("the list's parameters have errors: %(errors)s", errors,
                           errors=_joined(errors))


def check_parameters(declared: dict[str, dict[str, Any]], given: dict[str, list[str]],
                     status: int = 400) -> None:
    """Query parameters against the JSON Schemas their operation declares (the OpenAPI
    document's): an unknown name, a repeated one or a value its schema refuses is a
    BadParameter naming it (Invalid with `status` 422, for operations whose parameters
    were always answered so). Integers and booleans are read from their text first."""
    errors: dict[str, Message] = {}
    for name, values in given.items():
        schema = declared.get(name)
        if schema is None:
            errors[shown_name(name)] = Message("unknown parameter; remove it")
            continue
        if len(values) != 1:
            errors[name] = Message("give this parameter once")
            continue
        value: Any = values[0]
        kind = schema.get("type")
        if kind == "integer" and re.fullmatch(r"-?[0-9]{1,30}", value):
            value = int(value)
        elif kind == "boolean" and value in ("true", "false"):
            value = value == "true"
        validator = _PARAMETER_VALIDATORS.get(id(schema))
        if validator is None:
            validator = Draft202012Validator(schema, format_checker=FormatChecker())
            _PARAMETER_VALIDATORS[id(schema)] = validator
        for error in validator.iter_errors(value):
            errors.setdefault(name, schema_message(error))
    if errors:
        kind = BadParameter if status == 400 else Invalid
        raise kind("the query has errors: %(errors)s", errors, errors=_joined(errors))


_PARAMETER_VALIDATORS: dict[int, Draft202012Validator] = {}


def _joined(errors: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))


def check(name: str, data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("%(what)s must be a JSON object",
                      {"(body)": Message("send a JSON object")}, what=what)
    if nesting_depth(data) > MAX_DEPTH:
        raise Invalid("%(what)s is nested too deeply",
                      {"(body)": Message("at most %(n)s levels of nesting", n=MAX_DEPTH)},
                      what=what)
    check_text(data, what)
    errors = field_errors(_VALIDATORS[name], data)
    if errors:
        raise Invalid("%(what)s has errors: %(errors)s", errors, what=what,
                      errors=_joined(errors))
    return data


def check_action(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    data = check(action, payload, f"the {action} request")
    defaults = {k: v["default"] for k, v in ACTION_SCHEMAS[action]["properties"].items()
                if "default" in v}
    return {**defaults, **data}


def submission_schema(categories: Sequence[str]) -> dict[str, Any]:
    """SUBMISSION_SCHEMA with the category's enum: the codes new reports may use now."""
    properties = {**SUBMISSION_SCHEMA["properties"]}
    properties["category"] = {**properties["category"], "enum": list(categories)}
    return {**SUBMISSION_SCHEMA, "properties": properties}


def check_submission(payload: Any, config: RegencyConfig,
                     category_refusal: Callable[[Any], Message | None]) -> dict[str, Any]:
    """The complaint's own fields from a submission, with defaults and cross-field rules;
    `category_refusal` says why a category may not be chosen (workflows.categories)."""
    data = dict(check("_submit", payload, "the report"))
    errors: dict[str, str] = {}
    refused = category_refusal(data["category"])
    if refused is not None:
        errors["category"] = refused
    incident: date | None = None
    if data.get("incident_date"):
        try:
            incident = date.fromisoformat(data["incident_date"])
        except ValueError:
            errors["incident_date"] = Message("write the date as YYYY-MM-DD")
    if ("latitude" in data) != ("longitude" in data):
        errors["latitude" if "latitude" not in data else "longitude"] = Message(
            "give both latitude and longitude, or neither")
    if data.get("misconduct") and data["classification"] != "pengaduan":
        errors["misconduct"] = Message("only a complaint (pengaduan) can allege misconduct")
    if not data.get("anonymous") and not (data.get("reporter_name") or "").strip():
        errors["reporter_name"] = Message("give your name, or choose to report anonymously")
    contact = data.get("contact_channel")
    if contact in ("sms", "whatsapp") and not data.get("reporter_phone"):
        errors["contact_channel"] = Message(
            "give a phone number (reporter_phone) to be told by %(channel)s, or choose "
            "another channel", channel=contact)
    elif contact == "email" and not data.get("reporter_email"):
        errors["contact_channel"] = Message(
            "give an e-mail address (reporter_email) to be told by e-mail, or choose "
            "another channel")
    if errors:
        raise Invalid("the report has errors: %(errors)s", errors, errors=_joined(errors))
    fields = {
        "classification": data["classification"],
        "misconduct": bool(data.get("misconduct", False)),
        "sub_classification": data.get("sub_classification"),
        "category": data["category"],
        "severity": data.get("severity", "medium"),
        "title": data["title"].strip(),
        "body": data["body"].strip(),
        "incident_date": incident,
        "latitude": data.get("latitude"),
        "longitude": data.get("longitude"),
        "address": data.get("address"),
        "kelurahan": data.get("kelurahan"),
        "kecamatan": data.get("kecamatan"),
        "road_status": data.get("road_status") or None,
        "anonymous": bool(data.get("anonymous", False)),
        "confidential": bool(data.get("confidential", False)),
        "reporter_name": (data.get("reporter_name") or "").strip() or None,
        "reporter_email": data.get("reporter_email"),
        "reporter_phone": data.get("reporter_phone"),
        "contact_channel": contact,
    }
    return fields
