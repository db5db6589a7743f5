"""A demo regency behind the JSON API, for tests: app, tokens, a clock and a few helpers."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine import Engine, FrozenClock
from web.app import create_app
from web.config import Settings
from workflows.config import RegencyConfig
from workflows.domain import Domain
from workflows.storage import Storage
from workflows.users import Passwords

# argon2 at its cheapest: the demo's officers are hashed and signed in many times a test run
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}

# A 1x1 JPEG: enough for content sniffing ("a photo of the pothole").
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==")


@dataclass
class Regency:
    engine: Engine
    clock: FrozenClock
    domain: Domain
    client: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def transaction(self) -> Any:
        """A unit of work on the regency's database, for a test to arrange or inspect."""
        return self.domain.context.transaction()

    def reads(self) -> Any:
        return self.domain.context.reads()

    def headers(self, user: str | None = None, secret: str | None = None) -> dict[str, str]:
        if secret is not None:
            return {"X-Tracking-Secret": secret}
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}

    def submit(self, expect: int = 201, photo: bool = False, **fields: Any) -> dict[str, Any]:
        body = {"classification": "pengaduan", "category": "roads",
                "title": "Jalan berlubang", "body": "Lubang besar di jalan, berbahaya.",
                "reporter_name": "Budi", "reporter_email": "budi@example.org", **fields}
        if photo:
            import json as _json

            response = self.client.post("/api/v1/complaints", data={
                "data": _json.dumps(body),
                "attachments": [(__import__("io").BytesIO(PHOTO), "lubang.jpg")]},
                content_type="multipart/form-data")
        else:
            response = self.client.post("/api/v1/complaints", json=body)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def act(self, tracking: str, action: str, as_: str | None = None,
            secret: str | None = None, expect: int = 200, **payload: Any) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/complaints/{tracking}/actions/{action}",
                                    json=payload, headers=self.headers(as_, secret))
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def get(self, path: str, as_: str | None = None, secret: str | None = None,
            expect: int = 200) -> Any:
        response = self.client.get(path, headers=self.headers(as_, secret))
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def report(self, tracking: str, as_: str = "admin.kominfo") -> dict[str, Any]:
        return self.get(f"/api/v1/complaints/{tracking}", as_=as_)

    def advance(self, **delta: float) -> dict[str, Any]:
        """Move the clock and run the scheduler's sweep, as the scheduler would."""
        self.clock.advance(timedelta(**delta))
        fired = 0
        while True:
            report = self.engine.fire_due_timers(limit=500)
            assert report.failed == [], report.failed
            fired += len(report.fired)
            if not report.fired:
                return {"fired": fired}


def build(database_url: str, clock: FrozenClock, tmp_path: Path) -> Regency:
    """A new demo regency: the lifecycle deployed, demo agencies and officers loaded."""
    regency = attach(database_url, clock, tmp_path, {})
    accounts = regency.domain.install(demo_data=True)
    regency.tokens = {u["username"]: u["token"] for u in accounts["users"]}
    return regency


def attach(database_url: str, clock: FrozenClock, tmp_path: Path, tokens: dict[str, str],
           config: RegencyConfig | None = None, **settings: Any) -> Regency:
    """The app over a database that already holds a demo regency (a copied template)."""
    engine = Engine(database_url, clock=clock)
    config = config or RegencyConfig()
    domain = Domain(engine, config, Storage(tmp_path / "uploads", config.max_attachment_bytes),
                    Passwords.fast())
    app = create_app(settings=Settings(database_url=database_url,
                                       upload_dir=str(tmp_path / "uploads"),
                                       **{**FAST_HASHING, **settings}),
                     domain=domain)
    app.config["TESTING"] = True
    return Regency(engine, clock, domain, app.test_client(), dict(tokens))
