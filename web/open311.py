"""Open311 GeoReport v2 at /open311/v2/: thin views over workflows/open311.py, answering in
JSON or XML by the path's suffix (`services.json`, `requests.xml`), errors in the standard's
shape (`[{"code": 400, "description": "..."}]`)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, Response, current_app, json, request, url_for

from workflows.errors import DomainError, Invalid

blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = "<any(json, xml):fmt>"
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml; charset=utf-8"}
# XML element names of the lists' items, as the standard writes them.
ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
         "attributes": "attribute", "values": "value", "endpoints": "endpoint",
         "formats": "format"}


def _domain() -> Any:
    return current_app.extensions["aduan.domain"]


def _key() -> str | None:
    return request.form.get("api_key") or request.args.get("api_key")


def answer(document: Any, fmt: str, root: str, status: int = 200) -> Response:
    if fmt == "xml":
        element = _element(root, document)
        body = ElementTree.tostring(element, encoding="unicode", xml_declaration=False)
        text = '<?xml version="1.0" encoding="utf-8"?>' + body
    else:
        text = json.dumps(document, ensure_ascii=False)
    return Response(text, status=status, content_type=CONTENT_TYPES[fmt])


def _element(tag: str, value: Any) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(value, dict):
        for name, item in value.items():
            element.append(_element(name, item))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(ITEMS.get(tag, "item"), item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


@blueprint.errorhandler(DomainError)
def domain_error(exc: DomainError) -> Response:
    fmt = (request.view_args or {}).get("fmt", "json")
    status = 400 if isinstance(exc, Invalid) else exc.status
    if isinstance(exc, Invalid) and exc.field_errors:
        errors = [{"code": status, "description": f"{name}: {message}"}
                  for name, message in exc.field_errors.items()]
    else:
        errors = [{"code": status, "description": str(exc)}]
    return answer(errors, fmt, "errors", status)


@blueprint.get("/")
@blueprint.get(f"/discovery.{FORMATS}")
def discovery(fmt: str = "json") -> Response:
    url = url_for("open311.discovery", _external=True).rsplit("/", 1)[0] + "/"
    return answer({
        "changeset": "2026-12-06T00:00:00+08:00",
        "contact": _domain().config.name,
        "key_service": "Kunci API diberikan oleh admin instansi (aduan open311 keys create).",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": url,
                       "changeset": "2026-12-06T00:00:00+08:00", "type": "production",
                       "formats": ["application/json", "text/xml"]}],
    }, fmt, "discovery")


@blueprint.get(f"/services.{FORMATS}")
def services(fmt: str) -> Response:
    _domain().open311.admit(_key(), required=False)
    return answer(_domain().open311.services(), fmt, "services")


@blueprint.get(f"/services/<code>.{FORMATS}")
def service_definition(code: str, fmt: str) -> Response:
    _domain().open311.admit(_key(), required=False)
    return answer(_domain().open311.service_definition(code), fmt, "service_definition")


@blueprint.post(f"/requests.{FORMATS}")
def submit(fmt: str) -> Response:
    receipt = _domain().open311.submit(_key(), request.form)
    return answer([receipt], fmt, "service_requests", 201)


@blueprint.get(f"/requests.{FORMATS}")
def service_requests(fmt: str) -> Response:
    return answer(_domain().open311.requests(_key(), request.args), fmt, "service_requests")


@blueprint.get(f"/requests/<service_request_id>.{FORMATS}")
def service_request(service_request_id: str, fmt: str) -> Response:
    return answer(_domain().open311.request(_key(), service_request_id), fmt,
                  "service_requests")


@blueprint.get(f"/tokens/<token>.{FORMATS}")
def token(token: str, fmt: str) -> Response:
    return answer(_domain().open311.token(_key(), token), fmt, "service_requests")
