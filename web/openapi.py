"""One registry of API operations: routes are declared through it and the document is built
from it, so the OpenAPI document cannot drift from the implementation."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Blueprint
from flask import request as current_request

from workflows.validation import check_parameters

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message"], "properties": {
        "message": {"type": "string"},
        "field_errors": {"type": "object", "additionalProperties": {"type": "string"}}}}},
}


@dataclass
class Operation:
    method: str
    path: str  # OpenAPI style: /complaints/{tracking_number}
    operation_id: str
    summary: str
    tag: str
    security: list[str]
    request: dict[str, Any] | None = None
    multipart: bool = False
    responses: dict[int, tuple[str, dict[str, Any] | None]] = field(default_factory=dict)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    parameter_status: int = 400  # the status of a query that its parameters' schemas refuse


class Api:
    """A blueprint whose routes are described as they are declared."""

    def __init__(self, name: str, prefix: str, title: str, version: str) -> None:
        self.blueprint = Blueprint(name, __name__, url_prefix=prefix)
        self.prefix = prefix
        self.title = title
        self.version = version
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, *, operation_id: str, summary: str, tag: str,
              security: list[str] | None = None, request: dict[str, Any] | None = None,
              multipart: bool = False,
              responses: dict[int, tuple[str, dict[str, Any] | None]] | None = None,
              parameters: list[dict[str, Any]] | None = None, description: str = "",
              parameter_status: int = 400
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        operation = Operation(method.upper(), path, operation_id, summary, tag,
                              security if security is not None else ["bearer"], request,
                              multipart, responses or {}, parameters or [], description,
                              parameter_status)
        self.operations.append(operation)
        flask_path = re.sub(r"\{(\w+)\}", r"<\1>", path)

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            declared = {p["name"]: p["schema"] for p in operation.parameters
                        if p["in"] == "query"}

            @functools.wraps(view)
            def checked(**kwargs: Any) -> Any:
                # The query as the document declares it: nothing else, each value valid.
                check_parameters(declared, current_request.args.to_dict(flat=False),
                                 operation.parameter_status)
                return view(**kwargs)

            self.blueprint.add_url_rule(flask_path, operation_id, checked,
                                        methods=[operation.method])
            return view

        return decorate

    def document(self, requests: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The OpenAPI document; `requests` replaces operations' request schemas by
        operation id with what holds now (the report's categories come from the database)."""
        paths: dict[str, dict[str, Any]] = {}
        for declared in self.operations:
            op = declared
            if requests and declared.operation_id in requests:
                op = replace(declared, request=requests[declared.operation_id])
            item: dict[str, Any] = {
                "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                "responses": {},
            }
            if op.description:
                item["description"] = op.description
            path_params = re.findall(r"\{(\w+)\}", op.path)
            declared = {p["name"] for p in op.parameters if p["in"] == "path"}
            params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in path_params if p not in declared] + [
                {**p, "required": True} if p["in"] == "path" else p for p in op.parameters]
            if params:
                item["parameters"] = params
            item["security"] = [{name: []} for name in op.security]
            if op.request is not None:
                content = {"application/json": {"schema": op.request}}
                if op.multipart:
                    content["multipart/form-data"] = {
                        "schema": {
                            "type": "object",
                            "required": ["data"] if op.request.get("required") else [],
                            "properties": {
                                "data": {**op.request, "description":
                                         "the JSON body, as one form field"},
                                "attachments": {"type": "array", "items": {
                                    "type": "string", "format": "binary"}},
                            }},
                        "encoding": {"data": {"contentType": "application/json"}}}
                item["requestBody"] = {"required": True, "content": content}
            for status, (description, schema) in sorted(op.responses.items()):
                response: dict[str, Any] = {"description": description}
                if schema is not None:
                    response["content"] = {"application/json": {"schema": schema}}
                item["responses"][str(status)] = response
            if any(p["in"] == "query" for p in op.parameters):
                item["responses"].setdefault(str(op.parameter_status), {
                    "description": "A query parameter is unknown, repeated or not valid "
                                   "(field_errors names it)",
                    "content": {"application/json": {"schema": ERROR_SCHEMA}}})
            for status, description in ((400, "Malformed request"),
                                        (422, "Invalid field values")):
                if op.request is not None:
                    item["responses"].setdefault(str(status), {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_SCHEMA}}})
            if op.security:
                item["responses"].setdefault("401", {"description": "Not authenticated",
                                                     "content": {"application/json": {
                                                         "schema": ERROR_SCHEMA}}})
            paths.setdefault(op.path, {})[op.method.lower()] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "servers": [{"url": self.prefix}],
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer",
                               "description": "a token from `aduan tokens create USER`"},
                    "trackingSecret": {"type": "apiKey", "in": "header",
                                       "name": "X-Tracking-Secret",
                                       "description": "the secret given with the tracking "
                                                      "number, for the complainant"},
                },
                "schemas": {"Error": ERROR_SCHEMA},
            },
        }
