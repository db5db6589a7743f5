"""Flask application factory: the JSON API, error mapping, and the embedded scheduler."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import Engine
from web.api import api, unauthenticated_response
from web.config import Settings
from web.scheduler import start_embedded_scheduler
from workflows.complaints import Complaints
from workflows.config import RegencyConfig
from workflows.errors import DomainError, Invalid, Unauthenticated
from workflows.storage import Storage

log = logging.getLogger(__name__)


def build_domain(settings: Settings, engine: Engine | None = None) -> Complaints:
    """The engine and the complaint use cases over it, as configured."""
    if engine is None:
        settings.ensure_sqlite_directory()
        engine = Engine(settings.database_url,
                        script_time_limit_seconds=settings.script_time_limit_seconds)
    config = RegencyConfig(tracking_prefix=settings.tracking_prefix, ladder=settings.ladder,
                           rung_budget_days=settings.rung_budget_days)
    storage = Storage(Path(settings.upload_dir), config.max_attachment_bytes)
    return Complaints(engine, config, storage)


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               start_scheduler: bool = False, complaints: Complaints | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key or os.urandom(32).hex()
    # Attachments: at most five files of 10 MB each plus the form.
    app.config["MAX_CONTENT_LENGTH"] = 55 * 1024 * 1024
    app.json.ensure_ascii = False
    complaints = complaints or build_domain(settings, engine)
    app.extensions["aduan.complaints"] = complaints
    app.extensions["aduan.engine"] = complaints.engine
    app.extensions["aduan.settings"] = settings
    app.register_blueprint(api.blueprint)
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; frame-ancestors 'none'")
        return response

    if start_scheduler:
        app.extensions["aduan.scheduler"] = start_embedded_scheduler(complaints.engine, settings)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == (
        "application/json")


def register_error_handlers(app: Flask) -> None:
    """One place maps errors to HTTP: domain errors by kind, never a 500 for bad input."""

    @app.errorhandler(Unauthenticated)
    def unauthenticated(exc: Unauthenticated) -> Any:
        return unauthenticated_response(exc)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        body: dict[str, Any] = {"message": str(exc)}
        if isinstance(exc, Invalid) and exc.field_errors:
            body["field_errors"] = exc.field_errors
        return jsonify(error=body), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not _wants_json():
            return exc
        message = {404: "no such endpoint; see /api/v1/openapi.json",
                   405: f"{request.method} is not allowed here",
                   413: "the request is too large: at most 5 attachments of 10 MB"}.get(
            exc.code or 500, exc.description or exc.name)
        return jsonify(error={"message": message}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error={"message": "internal error; it has been logged"}), 500
