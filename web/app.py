"""Flask application factory; for now the health probe, engine status and the embedded sweep."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, jsonify

from engine import Engine
from web.config import Settings
from web.scheduler import start_embedded_scheduler

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               start_scheduler: bool = False) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key or os.urandom(32).hex()
    if engine is None:
        settings.ensure_sqlite_directory()
        engine = Engine(settings.database_url,
                        script_time_limit_seconds=settings.script_time_limit_seconds)
    app.extensions["aduan.engine"] = engine
    app.extensions["aduan.settings"] = settings

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/api/v1/engine/status")
    def engine_status() -> Any:
        return jsonify(
            definitions=len(engine.definitions()),
            incidents=len(engine.incidents()),
            next_timers=engine.timers(limit=5),
        )

    if start_scheduler:
        app.extensions["aduan.scheduler"] = start_embedded_scheduler(engine, settings)
    return app
