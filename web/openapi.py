"""One registry of API operations: routes are declared through it and the document is built
from it, so the OpenAPI document cannot drift from the implementation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint

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
              parameters: list[dict[str, Any]] | None = None, description: str = ""
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        operation = Operation(method.upper(), path, operation_id, summary, tag,
                              security if security is not None else ["bearer"], request,
                              multipart, responses or {}, parameters or [], description)
        self.operations.append(operation)
        flask_path = re.sub(r"\{(\w+)\}", r"<\1>", path)

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            self.blueprint.add_url_rule(flask_path, operation_id, view, methods=[operation.method])
            return view

        return decorate

    def document(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            item: dict[str, Any] = {
                "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                "responses": {},
            }
            if op.description:
                item["description"] = op.description
            path_params = re.findall(r"\{(\w+)\}", op.path)
            params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in path_params] + op.parameters
            if params:
                item["parameters"] = params
            item["security"] = [{name: []} for name in op.security]
            if op.request is not None:
                content = {"application/json": {"schema": op.request}}
                if op.multipart:
                    content["multipart/form-data"] = {"schema": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "string",
                                     "description": "the JSON body, as one form field"},
                            "attachments": {"type": "array", "items": {
                                "type": "string", "format": "binary"}},
                        }}}
                item["requestBody"] = {"required": True, "content": content}
            for status, (description, schema) in sorted(op.responses.items()):
                response: dict[str, Any] = {"description": description}
                if schema is not None:
                    response["content"] = {"application/json": {"schema": schema}}
                item["responses"][str(status)] = response
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
