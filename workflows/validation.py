"""Input schemas of the complaint use cases (also published in the OpenAPI document)."""

from __future__ import annotations

from datetime import date
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import FIELD_REQUIRED, schema_message
from workflows.config import RegencyConfig
from workflows.errors import Invalid, Message

CLASSIFICATIONS = ("pengaduan", "aspirasi", "permintaan_informasi")
CATEGORIES = ("roads", "waste", "street_lights", "water", "civil_registration", "health",
              "education", "permits", "social_aid", "other")
SEVERITIES = ("low", "medium", "high")
ROAD_STATUSES = ("national", "provincial", "regency", "village")
CHANNELS = ("web", "qr", "whatsapp", "sms", "api")

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
        "category": {"enum": list(CATEGORIES)},
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
        "language": {"enum": ["id", "en"], "default": "id"},
    },
}

ACTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "verify": {"properties": {"note": _text}},
    "archive": {"required": ["reason"], "properties": {"reason": _text}},
    "request_info": {"required": ["reason"], "properties": {"reason": _text}},
    "provide_info": {"required": ["information"], "properties": {"information": _text}},
    "not_authority": {"required": ["reason"],
                      "properties": {"reason": _text, "refer_to": {"type": "string"}}},
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

_VALIDATORS = {name: Draft202012Validator(schema, format_checker=FormatChecker())
               for name, schema in {**ACTION_SCHEMAS, "_submit": SUBMISSION_SCHEMA}.items()}


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


def _joined(errors: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))


def check(name: str, data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Invalid("%(what)s must be a JSON object",
                      {"(body)": Message("send a JSON object")}, what=what)
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


def check_submission(payload: Any, config: RegencyConfig) -> dict[str, Any]:
    """The complaint's own fields from a submission, with defaults and cross-field rules."""
    data = dict(check("_submit", payload, "the report"))
    errors: dict[str, str] = {}
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
    }
    return fields
